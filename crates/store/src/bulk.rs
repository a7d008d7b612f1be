//! A bulk handle's block batches as table files ([`Store::open_bulk`](crate::Store::open_bulk)).
//!
//! Why: inserting a batch's rows into memtables (skip lists) and flushing them into table
//! files was over a third of a Bitcoin initial sync's CPU time. The append-only families a
//! batch writes the most rows to ([`FILE_FAMILIES`]: transfers, both adjacency families, the
//! three UTXO families, the new addresses' dictionary rows and their degree rows) are written
//! instead straight into sorted table files with RocksDB's `SstFileWriter` and ingested
//! (`IngestExternalFile`), one file per family and batch. The rest of the batch — the `degree`
//! merge operands of addresses numbered by earlier batches, the block rows, the id counter and
//! the chain's checkpoint — is one small `WriteBatch` written with the write-ahead log, synced.
//!
//! Crash safety. RocksDB ingests each family's file atomically, but not several families'
//! files together, and the checkpoint is written after them. So before any file of a batch is
//! ingested, an undo record is written and synced (`bulk-load/undo` in the store directory,
//! written as `undo.tmp` and renamed, so it is whole or absent): the chain, the checkpoint row
//! the batch will write, and every key of every file. Then:
//!
//! 1. the files are ingested, family by family;
//! 2. the checkpoint batch is written (WAL, synced): from here on the batch is stored;
//! 3. the undo record is deleted.
//!
//! When a writer opens the store ([`recover`]) and finds an undo record, it compares the
//! chain's stored checkpoint row with the one recorded: equal, the batch was stored (a crash
//! after step 2) and the record is dropped; different, the checkpoint is still the one before
//! the batch, and every recorded key is deleted (one synced `WriteBatch`) before the record
//! is dropped — whichever of the batch's files had been ingested. The store is then exactly as
//! of the checkpoint: `verify` holds, and ingest resumes from the checkpoint. Re-ingesting a
//! batch after such a crash writes the same keys and values (address ids are given in chain
//! order from the stored id counter), so the outcome equals an uninterrupted run.
//!
//! Only batches that extend a chain without unlinked rows take this path (an initial sync):
//! their keys are new, so deleting them on recovery removes nothing stored before. (The one
//! exception known is Bitcoin mainnet's two duplicate coinbase transactions of 2010, BIP30:
//! a crash inside the batch holding block 91,842 or 91,880 deletes the outputs of the earlier
//! coinbase with the same txid, which the later one overwrites when ingest resumes.) Other
//! writes of a bulk handle (rollbacks, unlinked rows, labels) are ordinary logged batches.
//! A read-only or secondary open does not recover (it cannot write): until a writer opens the
//! store, an interrupted batch's rows may be visible to it.

use std::{
    collections::HashMap,
    fs,
    io::{BufWriter, Read, Write},
    path::{Path, PathBuf},
};

use rocksdb::{
    ColumnFamily, DBCompressionType, IngestExternalFileOptions, Options, SstFileWriter, WriteBatch, WriteOptions, DB,
};

use crate::{
    batch::{FileRun, SortedBatch, Split},
    keys::cf,
    rows::{self, ChainStateRow},
    StoreError,
};

/// Families whose rows a bulk handle's block batches write as table files.
pub(crate) const FILE_FAMILIES: [&str; 7] =
    [cf::TRANSFERS, cf::ADDR_OUT, cf::ADDR_IN, cf::OUTPUTS, cf::SPENDS, cf::SPENT_BY, cf::ADDRESSES];

/// Families keyed by address id whose rows of the ids a batch numbered are a file of their own.
/// Ids only grow, so those rows sort after every stored row of the family, and RocksDB puts the
/// file straight into the bottom level, as it does the transfers' files (keyed by height). For
/// `degree` these are the rows written whole (the other addresses' are merges, with the WAL):
/// no memtable insert, flush or compaction handles them. (The adjacency families' rows of new
/// ids, filed the same way, cost more than they saved — about 1 s more CPU on the benchmark's
/// 1M-transaction chain: every compaction of a later batch's level-0 file, which spans the known
/// ids, rewrites those bottom files anyway, now LZ4-compressed once more.)
const ID_FAMILIES: [&str; 1] = [cf::DEGREE];

/// What a bulk batch writes as table files, `fresh` being the first address id it numbered
/// (big-endian).
pub(crate) fn split(fresh: &[u8]) -> Split<'_> {
    Split { to_files: &FILE_FAMILIES, above: &[cf::TRANSFERS], fresh: (&ID_FAMILIES, fresh) }
}

/// The directory, inside the store, of a batch's files and its undo record.
const DIR: &str = "bulk-load";
const UNDO: &str = "undo";
const UNDO_TMP: &str = "undo.tmp";
const MAGIC: &[u8; 8] = b"CTUNDO1\n";

fn io_err(path: &Path, doing: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { path, doing, source }
}

/// The table-file writer's options of each family of [`FILE_FAMILIES`] and [`ID_FAMILIES`] (by
/// name), for files that go to level 0 and for files that sort above what is stored.
///
/// The files that sort above what is stored (the transfers', and the rows of the ids a batch
/// numbered: [`FileRun::above`]) go to the bottom level at once, so they are written with
/// the upper levels' codec (LZ4), as a memtable flush writes its files, and stay so until a full
/// compaction (`Store::compact`) rewrites them in Zstd.
/// (Written with Zstd level 6 instead, those files cost some 2 s of CPU more on the benchmark's
/// 1M-transaction chain.) The other families' files (keyed by address id or txid, each overlaps
/// what is stored) go to level 0 and are read once more by the compaction that merges them into
/// the bottom level's Zstd, within the next sixteen batches: they are written uncompressed,
/// since LZ4 there was work thrown away (on the
/// benchmark's chain, LZ4 in the writer took ~11% of the ingest's CPU; without it the ingest
/// took 19.5 instead of 22.5 s of CPU, alternating runs). Until that compaction they take more
/// disk: up to sixteen batches' rows per family, uncompressed (the 1M-transaction chain's store
/// is 840 instead of 710 MB when the ingest ends, the same once compacted).
pub(crate) struct FileOptions(Vec<(&'static str, Options, Options)>);

impl FileOptions {
    /// `options(name)`: the family's options (its table options and the upper levels' codec);
    /// the writer keeps that codec for files that sort above what is stored and writes the
    /// level-0 files uncompressed.
    pub(crate) fn new(options: impl Fn(&'static str) -> Options) -> FileOptions {
        let mut names: Vec<&'static str> = FILE_FAMILIES.to_vec();
        names.extend(ID_FAMILIES.iter().filter(|n| !FILE_FAMILIES.contains(n)));
        FileOptions(
            names
                .into_iter()
                .map(|n| {
                    let mut level0 = options(n);
                    level0.set_compression_type(DBCompressionType::None);
                    (n, level0, options(n))
                })
                .collect(),
        )
    }

    fn of(&self, run: &FileRun) -> Option<&Options> {
        let (_, level0, above) = self.0.iter().find(|(n, _, _)| *n == run.cf)?;
        Some(if run.above { above } else { level0 })
    }
}

/// Store one block batch: the runs of [`FILE_FAMILIES`] as table files, then `checkpoint` (the
/// rest of the batch, with the chain's new state row `after`) with the WAL, synced; see the
/// module docs for the order and the undo record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_batch<'a>(
    db: &'a DB,
    store_dir: &Path,
    options: &FileOptions,
    batch: &SortedBatch,
    runs: &[FileRun],
    chain: &str,
    after: &[u8],
    checkpoint: WriteBatch,
) -> Result<(), StoreError> {
    let handle = |name: &str| -> Result<&'a ColumnFamily, StoreError> {
        db.cf_handle(name).ok_or_else(|| StoreError::Invalid(format!("no column family {name}")))
    };
    if runs.is_empty() {
        return write_synced(db, checkpoint);
    }
    let dir = store_dir.join(DIR);
    fs::create_dir_all(&dir).map_err(io_err(&dir, "creating the bulk-load directory"))?;
    let files = write_files(&dir, options, batch, runs)?;
    write_undo(&dir, batch, runs, chain, after)?;
    let mut ingest = IngestExternalFileOptions::default();
    ingest.set_move_files(true);
    for (run, file) in runs.iter().zip(&files) {
        db.ingest_external_file_cf_opts(handle(run.cf)?, &ingest, vec![file])?;
    }
    #[cfg(test)]
    if tests::STOP.with(|s| s.get()) == Some(tests::Stop::AfterIngest) {
        return Err(StoreError::Invalid(tests::STOPPED.into()));
    }
    write_synced(db, checkpoint)?;
    #[cfg(test)]
    if tests::STOP.with(|s| s.get()) == Some(tests::Stop::AfterCheckpoint) {
        return Err(StoreError::Invalid(tests::STOPPED.into()));
    }
    let undo = dir.join(UNDO);
    fs::remove_file(&undo).map_err(io_err(&undo, "removing the undo record"))
}

fn write_synced(db: &DB, batch: WriteBatch) -> Result<(), StoreError> {
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts)?;
    Ok(())
}

/// One table file per run, written on two threads (a batch's families are independent).
fn write_files(
    dir: &Path,
    options: &FileOptions,
    batch: &SortedBatch,
    runs: &[FileRun],
) -> Result<Vec<PathBuf>, StoreError> {
    let files: Vec<PathBuf> =
        runs.iter().map(|r| dir.join(format!("{}{}.sst", r.cf, if r.above { "-above" } else { "" }))).collect();
    let write = |i: usize| -> Result<(), StoreError> {
        let run = &runs[i];
        let opts =
            options.of(run).ok_or_else(|| StoreError::Invalid(format!("{} is not written as table files", run.cf)))?;
        let mut w = SstFileWriter::create(opts);
        w.open(&files[i])?;
        for (k, v) in batch.puts(run) {
            w.put(k, v)?;
        }
        w.finish()?;
        Ok(())
    };
    // The largest runs first, alternating between the two threads.
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(runs[*i].len()));
    let mine: Vec<usize> = order.iter().copied().step_by(2).collect();
    let theirs: Vec<usize> = order.iter().copied().skip(1).step_by(2).collect();
    std::thread::scope(|s| {
        let other = s.spawn(|| theirs.iter().try_for_each(|i| write(*i)));
        let here = mine.iter().try_for_each(|i| write(*i));
        let there = other.join().unwrap_or_else(|_| Err(StoreError::Invalid("a table-file writer panicked".into())));
        here.and(there)
    })?;
    Ok(files)
}

/// The undo record of a batch, written whole (a temporary file, synced, renamed) before any
/// of its files is ingested.
fn write_undo(dir: &Path, batch: &SortedBatch, runs: &[FileRun], chain: &str, after: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(UNDO_TMP);
    let file = fs::File::create(&tmp).map_err(io_err(&tmp, "creating the undo record"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut put = |bytes: &[u8]| out.write_all(bytes);
    let r = (|| -> std::io::Result<()> {
        put(MAGIC)?;
        put(&(chain.len() as u32).to_le_bytes())?;
        put(chain.as_bytes())?;
        put(&(after.len() as u32).to_le_bytes())?;
        put(after)?;
        put(&(runs.len() as u32).to_le_bytes())?;
        for run in runs {
            put(&[run.cf.len() as u8])?;
            put(run.cf.as_bytes())?;
            put(&(batch.puts(run).count() as u64).to_le_bytes())?;
            for (k, _) in batch.puts(run) {
                put(&(k.len() as u32).to_le_bytes())?;
                put(k)?;
            }
        }
        Ok(())
    })();
    r.map_err(io_err(&tmp, "writing the undo record"))?;
    let file = out.into_inner().map_err(|e| e.into_error()).map_err(io_err(&tmp, "writing the undo record"))?;
    file.sync_all().map_err(io_err(&tmp, "syncing the undo record"))?;
    let undo = dir.join(UNDO);
    fs::rename(&tmp, &undo).map_err(io_err(&undo, "renaming the undo record"))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "syncing the bulk-load directory"))
}

/// A parsed undo record: the chain, its checkpoint row once the batch is stored, and the keys
/// of every family the batch wrote as files.
struct Undo {
    chain: String,
    after: Vec<u8>,
    keys: Vec<(String, Vec<Vec<u8>>)>,
}

fn parse_undo(b: &[u8]) -> Option<Undo> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = b.get(at..at.checked_add(n)?)?;
        at += n;
        Some(s)
    };
    let u32_of = |s: &[u8]| -> Option<usize> { Some(u32::from_le_bytes(s.try_into().ok()?) as usize) };
    if take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = u32_of(take(4)?)?;
    let chain = String::from_utf8(take(n)?.to_vec()).ok()?;
    let n = u32_of(take(4)?)?;
    let after = take(n)?.to_vec();
    let families = u32_of(take(4)?)?;
    let mut keys = Vec::with_capacity(families.min(FILE_FAMILIES.len()));
    for _ in 0..families {
        let n = usize::from(*take(1)?.first()?);
        let name = String::from_utf8(take(n)?.to_vec()).ok()?;
        let count = u64::from_le_bytes(take(8)?.try_into().ok()?);
        let mut list = Vec::new();
        for _ in 0..count {
            let n = u32_of(take(4)?)?;
            list.push(take(n)?.to_vec());
        }
        keys.push((name, list));
    }
    (at == b.len()).then_some(Undo { chain, after, keys })
}

/// What [`recover`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Recovered {
    /// No undo record: the last bulk batch (if any) finished.
    Nothing,
    /// The interrupted batch's checkpoint was stored: the record was dropped.
    Stored,
    /// The interrupted batch's checkpoint was not stored: its rows (this many keys) were
    /// deleted.
    Undone(u64),
}

/// Finish what an interrupted bulk batch left (see the module docs): called by every writer
/// open with the chains' stored checkpoint rows.
pub(crate) fn recover(
    db: &DB,
    store_dir: &Path,
    chains: &HashMap<String, ChainStateRow>,
) -> Result<Recovered, StoreError> {
    let dir = store_dir.join(DIR);
    let undo = dir.join(UNDO);
    if !dir.exists() {
        return Ok(Recovered::Nothing);
    }
    let mut done = Recovered::Nothing;
    if undo.exists() {
        let mut bytes = Vec::new();
        fs::File::open(&undo)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_err(&undo, "reading the undo record"))?;
        let u = parse_undo(&bytes).ok_or_else(|| StoreError::Corrupt(format!("the undo record {}", undo.display())))?;
        let stored = chains.get(&u.chain).map(rows::encode);
        if stored.as_deref() == Some(u.after.as_slice()) {
            done = Recovered::Stored;
        } else {
            let mut wb = WriteBatch::default();
            let mut n = 0u64;
            for (name, keys) in &u.keys {
                let h = db.cf_handle(name).ok_or_else(|| {
                    StoreError::Corrupt(format!("the undo record {} names no column family {name:?}", undo.display()))
                })?;
                for k in keys {
                    wb.delete_cf(h, k);
                    n += 1;
                }
            }
            write_synced(db, wb)?;
            tracing::warn!(chain = %u.chain, keys = n, "an interrupted bulk batch was undone: ingest resumes from the stored checkpoint");
            done = Recovered::Undone(n);
        }
        fs::remove_file(&undo).map_err(io_err(&undo, "removing the undo record"))?;
    }
    // Files of a batch interrupted before its undo record was complete were never ingested.
    fs::remove_dir_all(&dir).map_err(io_err(&dir, "removing the bulk-load directory"))?;
    Ok(done)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    use super::*;
    use chaintrace_model::Address;

    use crate::{verify::tests::chain, Store};

    /// Where a test stops a bulk batch, as a crash there would (the store is then dropped
    /// without any recovery, as a killed process leaves it).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Stop {
        /// Every file ingested, the checkpoint not written.
        AfterIngest,
        /// The checkpoint written, the undo record not removed.
        AfterCheckpoint,
    }

    thread_local! {
        pub(crate) static STOP: Cell<Option<Stop>> = const { Cell::new(None) };
    }

    /// The error a stopped batch returns (no recovery follows it).
    pub(crate) const STOPPED: &str = "test: bulk batch stopped";

    fn digest_of(path: &Path) -> (String, Option<u64>) {
        let s = Store::open(path).expect("open");
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "verify: {:?}", v.chains.iter().flat_map(|c| c.problems.clone()).collect::<Vec<_>>());
        (v.digest, s.tip("btc").expect("tip").map(|t| t.height))
    }

    /// [`chain`]`(30)` whose blocks from `first` on each pay an address of their own: a batch
    /// starting there numbers addresses (their degree rows are puts, written to a file) beside
    /// those of earlier batches (merges, with the WAL).
    fn chain_paying_new_addresses_from(first: usize) -> Vec<chaintrace_model::BlockData> {
        let mut blocks = chain(30);
        for b in &mut blocks[first..] {
            b.transfers[1].to = Address::Evm([0x80 + b.block.height as u8; 20]);
        }
        blocks
    }

    /// A batch stopped at either point: the next writer open finishes it (rows deleted when
    /// its checkpoint was not stored, kept when it was), `verify` holds, and ingest resumed
    /// from the checkpoint ends with exactly the store of an uninterrupted run.
    #[test]
    fn an_interrupted_batch_is_undone_or_kept_and_resuming_gives_the_uninterrupted_store() {
        let blocks = chain_paying_new_addresses_from(12);
        let tmp = tempfile::tempdir().expect("tmp");
        // Uninterrupted: two bulk batches, and a store of the first only.
        let whole = tmp.path().join("whole");
        let half = tmp.path().join("half");
        {
            let s = Store::open_bulk(&whole).expect("open");
            s.apply_blocks("btc", &blocks[..12]).expect("apply");
            s.apply_blocks("btc", &blocks[12..]).expect("apply");
            let h = Store::open_bulk(&half).expect("open");
            h.apply_blocks("btc", &blocks[..12]).expect("apply");
        }
        let (whole_digest, whole_tip) = digest_of(&whole);
        let (half_digest, half_tip) = digest_of(&half);
        assert_eq!((whole_tip, half_tip), (Some(29), Some(11)));
        assert_ne!(whole_digest, half_digest);

        for stop in [Stop::AfterIngest, Stop::AfterCheckpoint] {
            let path = tmp.path().join(format!("{stop:?}"));
            {
                let s = Store::open_bulk(&path).expect("open");
                s.apply_blocks("btc", &blocks[..12]).expect("apply");
                STOP.with(|c| c.set(Some(stop)));
                let r = s.apply_blocks("btc", &blocks[12..]);
                STOP.with(|c| c.set(None));
                assert!(matches!(&r, Err(StoreError::Invalid(m)) if m == STOPPED), "{r:?}");
                assert!(path.join(DIR).join(UNDO).exists(), "the undo record stays after a stop");
            }
            // The rows of the stopped batch are in the files RocksDB ingested: a reader that
            // does not recover sees them beside the old checkpoint.
            if stop == Stop::AfterIngest {
                let r = Store::open_read_only(&path, crate::ReadScope::Rows).expect("read-only");
                assert!(!r.verify(None).expect("verify").ok(), "the stopped batch's rows are there before recovery");
            }
            let recovered = {
                let s = Store::open_bulk(&path).expect("reopen");
                assert!(!path.join(DIR).exists(), "recovery removes the bulk-load directory");
                // no degree row of an id the counter has not given out (the undone batch's)
                let next = s.lock().next_addr_id;
                let ids = degree_ids(&s);
                assert!(ids.iter().all(|&id| id < next), "{stop:?}: degree rows of ids {ids:?}, counter at {next}");
                s.tip("btc").expect("tip").map(|t| t.height)
            };
            match stop {
                Stop::AfterIngest => {
                    assert_eq!(recovered, Some(11), "{stop:?}: the checkpoint is the one before the batch");
                    assert_eq!(digest_of(&path), (half_digest.clone(), Some(11)), "{stop:?}: rows undone");
                    // Resume: the same batch again gives the same keys and values.
                    let s = Store::open_bulk(&path).expect("reopen");
                    s.apply_blocks("btc", &blocks[12..]).expect("resume");
                }
                Stop::AfterCheckpoint => {
                    assert_eq!(recovered, Some(29), "{stop:?}: the batch was stored");
                }
            }
            assert_eq!(digest_of(&path), (whole_digest.clone(), Some(29)), "{stop:?}: as if never interrupted");
        }
    }

    /// The address ids the `degree` family has rows of.
    fn degree_ids(s: &Store) -> Vec<u64> {
        s.db.iterator_cf(s.cf(cf::DEGREE), rocksdb::IteratorMode::Start)
            .map(|kv| u64::from_be_bytes(kv.expect("row").0.as_ref().try_into().expect("an 8-byte key")))
            .collect()
    }

    /// The degree rows of a bulk batch: the addresses it numbered have theirs in a table file,
    /// the others' stay merges in the logged batch; each address's counters are its transfers.
    #[test]
    fn new_addresses_degree_rows_go_to_a_file_and_known_ones_are_merged() {
        let blocks = chain_paying_new_addresses_from(12);
        let tmp = tempfile::tempdir().expect("tmp");
        let s = Store::open_bulk(tmp.path()).expect("open");
        s.apply_blocks("btc", &blocks[..12]).expect("apply");
        s.apply_blocks("btc", &blocks[12..]).expect("apply");
        // counted from the blocks themselves
        let mut want: HashMap<Address, (u64, u64)> = HashMap::new();
        for t in blocks.iter().flat_map(|b| &b.transfers) {
            want.entry(t.from.clone()).or_default().0 += 1;
            want.entry(t.to.clone()).or_default().1 += 1;
        }
        assert_eq!(want.len(), 12 + 18, "twelve addresses of the first batch, eighteen new ones");
        for (a, (out, inn)) in &want {
            let got = (
                s.degree("btc", a, chaintrace_model::Direction::Out, u64::MAX).expect("degree"),
                s.degree("btc", a, chaintrace_model::Direction::In, u64::MAX).expect("degree"),
            );
            assert_eq!(got, (*out, *inn), "{a}");
        }
        assert_eq!(degree_ids(&s).len(), 30, "one row per address");
        // the degree rows of the ids a batch numbered sort above the stored rows: at the bottom
        // level; a batch's adjacency file at level 0 unless it is the family's first
        let files = |family: &str, level: usize| {
            s.db.property_int_value_cf(s.cf(family), &format!("rocksdb.num-files-at-level{level}"))
                .expect("property")
                .unwrap_or(u64::MAX)
        };
        for (family, want) in [(cf::DEGREE, (0, 2)), (cf::ADDR_OUT, (1, 1)), (cf::ADDR_IN, (1, 1))] {
            assert_eq!((files(family, 0), files(family, 6)), want, "{family} files at levels 0 and 6");
        }
        drop(s);
        digest_of(tmp.path());
    }

    /// How a bulk batch is split: a family's rows of the ids the batch numbered are a file of
    /// their own when they are all puts (above what is stored); the rest of a file family is a
    /// level-0 file when it is all puts; everything else stays in the logged batch.
    #[test]
    fn a_batch_splits_into_level_0_files_files_above_what_is_stored_and_the_logged_rest() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = DB::open_cf(&opts, tmp.path().join("db"), cf::ALL).expect("db");
        #[derive(Clone, Copy)]
        enum Op {
            Put,
            Merge,
            Delete,
        }
        let id = |n: u64| n.to_be_bytes().to_vec();
        type Filed = Vec<(&'static str, bool, Vec<Vec<u8>>)>;
        let split_at_5 = |ops: &[(&str, u64, Op)]| -> (usize, Filed) {
            let mut b = SortedBatch::default();
            for &(family, n, op) in ops {
                match op {
                    Op::Put => b.put_cf(family, id(n), b"p"),
                    Op::Merge => b.merge_cf(family, id(n), b"m"),
                    Op::Delete => b.delete_cf(family, id(n)),
                }
            }
            let (wb, runs) = b.take_split(|n| db.cf_handle(n).expect("family"), None, &split(&id(5)));
            let filed = runs.iter().map(|r| (r.cf, r.above, b.puts(r).map(|(k, _)| k.to_vec()).collect())).collect();
            (wb.len(), filed)
        };
        use Op::*;
        // degree: merges of known ids logged, puts of the batch's own ids (added in any order) filed
        assert_eq!(
            split_at_5(&[(cf::DEGREE, 6, Put), (cf::DEGREE, 1, Merge), (cf::DEGREE, 5, Put), (cf::DEGREE, 2, Merge)]),
            (2, vec![(cf::DEGREE, true, vec![id(5), id(6)])])
        );
        // a merge among the batch's own ids: none of them filed
        assert_eq!(split_at_5(&[(cf::DEGREE, 5, Merge), (cf::DEGREE, 6, Put)]), (2, vec![]));
        // a delete of a known id: the known ids logged, the batch's own still filed
        assert_eq!(
            split_at_5(&[(cf::DEGREE, 1, Delete), (cf::DEGREE, 2, Put), (cf::DEGREE, 7, Put)]),
            (2, vec![(cf::DEGREE, true, vec![id(7)])])
        );
        // adjacency: one level-0 file, known ids and new ones
        assert_eq!(
            split_at_5(&[(cf::ADDR_IN, 6, Put), (cf::ADDR_IN, 1, Put), (cf::ADDR_IN, 5, Put)]),
            (0, vec![(cf::ADDR_IN, false, vec![id(1), id(5), id(6)])])
        );
        // transfers (keyed by height) sort above whatever their keys; other file families go to level 0
        assert_eq!(
            split_at_5(&[(cf::TRANSFERS, 1, Put), (cf::SPENDS, 9, Put), (cf::META, 9, Put)]),
            (1, vec![(cf::TRANSFERS, true, vec![id(1)]), (cf::SPENDS, false, vec![id(9)])])
        );
        // a file family with a delete is logged whole
        assert_eq!(split_at_5(&[(cf::SPENDS, 1, Put), (cf::SPENDS, 2, Delete)]), (2, vec![]));
    }

    /// The undo record reads back as written, and a truncated one is refused.
    #[test]
    fn undo_records_round_trip_and_truncation_is_refused() {
        let mut b = SortedBatch::default();
        b.put_cf(cf::ADDR_IN, b"k2", b"v");
        b.put_cf(cf::TRANSFERS, b"t1", b"v");
        b.put_cf(cf::ADDR_IN, b"k1", b"v");
        b.put_cf(cf::ADDR_IN, b"k1", b"w");
        b.put_cf(cf::META, b"m", b"v");
        let tmp = tempfile::tempdir().expect("tmp");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = DB::open_cf(&opts, tmp.path().join("db"), cf::ALL).expect("db");
        let (wb, runs) = b.take_split(|n| db.cf_handle(n).expect("family"), None, &split(&u64::MAX.to_be_bytes()));
        assert_eq!(wb.len(), 1, "only the meta put stays in the WriteBatch");
        assert_eq!(runs.iter().map(|r| r.cf).collect::<Vec<_>>(), vec![cf::TRANSFERS, cf::ADDR_IN]);
        let dir = tmp.path().join("bulk");
        fs::create_dir_all(&dir).expect("dir");
        write_undo(&dir, &b, &runs, "btc", b"state").expect("undo");
        let bytes = fs::read(dir.join(UNDO)).expect("read");
        let u = parse_undo(&bytes).expect("parses");
        assert_eq!((u.chain.as_str(), u.after.as_slice()), ("btc", b"state".as_slice()));
        let keys: Vec<(String, Vec<Vec<u8>>)> = vec![
            (cf::TRANSFERS.into(), vec![b"t1".to_vec()]),
            (cf::ADDR_IN.into(), vec![b"k1".to_vec(), b"k2".to_vec()]),
        ];
        assert_eq!(u.keys, keys, "each key once, in key order");
        let puts: Vec<(&[u8], &[u8])> = b.puts(&runs[1]).collect();
        assert_eq!(
            puts,
            vec![(b"k1".as_slice(), b"w".as_slice()), (b"k2".as_slice(), b"v".as_slice())],
            "the last put of a key wins"
        );
        for n in 0..bytes.len() {
            assert!(parse_undo(&bytes[..n]).is_none(), "a record cut at {n} bytes is refused");
        }
    }
}
