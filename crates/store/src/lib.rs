//! The chaintrace transaction graph on RocksDB: the only crate that knows key layouts
//! (documented with every column family and [`FORMAT_VERSION`] in `docs/schema.md`).
//!
//! Adapters write normalised [`BlockData`] into a [`Store`]; the tracer, the label importers and
//! the CLI read it back through the typed methods below. Amounts are exact base-unit integers
//! (sats, wei, token base units) as carried by [`Transfer`]. A [`Store`] is `Send + Sync`: share
//! one with `Arc`. Writes are serialised by an internal mutex; a second process opening the same
//! directory gets [`StoreError::Locked`].
//!
//! # Invariants
//!
//! - one block batch (its rows and the new checkpoint) is one atomic `WriteBatch`, WAL on (or,
//!   on a [`Store::open_bulk`] handle, its largest families as ingested table files behind an
//!   undo record, then the rest in one logged batch; the next writer open undoes a batch whose
//!   checkpoint a crash did not store), so a crash leaves either the whole batch or none of it;
//! - applying a block that is already stored with the same hash changes nothing (idempotent
//!   ingest);
//! - a block whose parent is not the stored tip is refused ([`StoreError::ParentMismatch`]): the
//!   caller rolls back to the fork point with [`Store::rollback_to`] and re-applies;
//! - the digest is a sum of per-transfer hashes, so it does not depend on ingest order: two
//!   stores holding the same transfers print the same [`Stats::digest`].
//!
//! # The API by task
//!
//! - **Open:** [`Store::open`] (creates an empty store; refuses files, foreign directories,
//!   other format versions), [`Store::open_secondary`] with [`Store::catch_up`] (a reader
//!   beside the writing process, as `chaintrace serve` runs), [`Store::open_bulk`] (an initial
//!   sync: block batches' largest families as ingested table files), [`Store::compact`]
//!   (the smallest size on disk), [`Store::path`].
//! - **Ingest:** [`Store::apply_blocks`] extends the checkpoint with contiguous blocks;
//!   [`Store::put_unlinked`] stores partial blocks (Esplora histories, on-demand EVM expansion)
//!   without moving it; [`Store::rollback_to`] removes blocks above a height. [`Store::tip`] and
//!   [`Store::block_hash`] tell an adapter where it stands and where a fork starts.
//! - **Graph queries:** [`Store::transfers`] (one address, one [`Direction`], chain order from a
//!   position on), [`Store::transfers_batch`] (many addresses' lists, their rows in one batched
//!   read), [`Store::has_transfers_after`] (from the adjacency key alone), [`Store::degree`] (a
//!   capped counter, one point read),
//!   [`Store::scan_transfers`] and [`Store::scan_addresses`] (whole-chain visits; the callback
//!   returns `false` to stop).
//! - **Bitcoin UTXO structure:** [`Store::output`], [`Store::tx_outputs`] (vout order),
//!   [`Store::tx_inputs`] (vin order), [`Store::spender`], [`Store::scan_spends`], and
//!   [`Store::utxo_lookup`], the [`chaintrace_model::UtxoLookup`] an adapter resolves inputs
//!   through.
//! - **Labels** (global, not per chain; a [`Label`] whose `chain` is `None` applies to every
//!   chain of its address's kind): [`Store::add_labels`], [`Store::replace_labels`],
//!   [`Store::replace_labels_many`], [`Store::labels_of`], [`Store::labels_by_source`],
//!   [`Store::all_labels`], [`Store::labels_hash`].
//! - **Typed rows of other parts** (their values are decoded only in this crate):
//!   token metadata ([`Store::put_token_meta`], [`Store::token_meta`]: the EVM adapter keeps
//!   what it read from a token contract as a [`TokenMeta`] `{ symbol, name, decimals }`, the
//!   CLI's renderer and the tracer's store adapter read it back), Bitcoin clusters
//!   ([`Store::replace_clusters`], [`Store::cluster_of`], [`Store::cluster_size`],
//!   [`Store::clusters`]), label import records ([`Store::record_label_import`],
//!   [`Store::label_imports`]) and node capabilities ([`Store::put_node_capability`],
//!   [`Store::node_capabilities`]).
//! - **Figures:** [`Store::stats`] (what `chaintrace stats --json` prints) and
//!   [`Store::verify`] (recomputes every figure from the rows).
//!
//! [`TokenMeta`]: chaintrace_model::TokenMeta
//! [`Label`]: chaintrace_model::Label

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod batch;
mod bulk;
mod error;
mod flows;
mod keys;
mod labels;
mod rows;
mod typed;
mod utxo;
mod verify;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Mutex, RwLock},
};

use chaintrace_model::{Address, BlockData, Direction, Hash32, Position, Transfer, U256};
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamily, ColumnFamilyDescriptor, CompactOptions,
    DBCompressionType, IteratorMode, Options, ReadOptions, WriteBatch, DB,
};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::StoreError;
pub use flows::OwnerFlows;
pub use labels::LabelDiff;
pub use utxo::StoreUtxoLookup;
pub use verify::{ChainFigures, ChainVerification, Verification};

use batch::{ColumnFamilyIds, SortedBatch};
use keys::{cf, meta, AddrId, AdjKey, BlockKey, ChainNo, TransferKey};
use rows::{BlockRow, ChainStateRow, OutpointRow, OutputRow, TipRow, TransferRow};

/// Version of the on-disk layout; bumped on any incompatible change to `docs/schema.md`.
pub const FORMAT_VERSION: u32 = 2;

/// The newest block of a chain's checkpoint (the last linked block applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tip {
    /// Block height.
    pub height: u64,
    /// Block hash, in the byte order the chain displays it.
    pub hash: Hash32,
    /// Block timestamp, Unix seconds.
    pub time: u64,
}

/// What one call of [`Store::apply_blocks`] or [`Store::put_unlinked`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    /// Blocks written (linked ingest) or partial blocks processed (unlinked).
    pub blocks: u64,
    /// Transfers newly stored (ones already stored are not counted).
    pub transfers: u64,
    /// Blocks (linked ingest) or rows (unlinked) that were already stored.
    pub skipped: u64,
}

/// One chain's figures as recorded in its checkpoint (part of [`Stats`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainStats {
    /// Height of the stored tip; `None` before the first linked block.
    pub tip_height: Option<u64>,
    /// Lower-case hex of the stored tip's hash (no `0x`); `None` before the first linked block.
    pub tip_hash: Option<String>,
    /// Linked blocks stored.
    pub blocks: u64,
    /// Transfers stored, linked and unlinked.
    pub transfers: u64,
    /// Addresses in the chain's dictionary (including ones seen only in rolled-back blocks).
    pub addresses: u64,
    /// EVM: stored blocks whose internal (call-trace) transfers were not read — tracing was
    /// off, or the node had no tracing API or no historical state for them. 0 when complete;
    /// `ingest --refill-traces` against an archive node fills them.
    pub blocks_without_internal_transfers: u64,
    /// Conversions (swaps, wraps) stored (omitted from JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub conversions: u64,
    /// Bridge deposits and releases stored (omitted from JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub bridge_events: u64,
    /// On-chain price points stored (omitted from JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub price_points: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the store holds; its JSON form is what `chaintrace stats --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Per-chain figures, by chain name.
    pub chains: BTreeMap<String, ChainStats>,
    /// Number of label rows (all sources, all chains).
    pub labels: u64,
    /// Hex SHA-256 over each chain's name and digest accumulator (the sum of its per-transfer
    /// hashes): equal for two stores holding the same transfers, whatever the ingest order.
    pub digest: String,
}

/// Per-address changes of the degree counters gathered over one batch: (out, in).
type DegreeDeltas = FxHashMap<AddrId, (i64, i64)>;

/// A key and its value, as read from a column family.
type KeyValue = (Vec<u8>, Vec<u8>);

/// One list of [`Store::transfers_batch`]: the address, the chain-order key to read strictly
/// after, and the most transfers wanted.
pub type ListRequest = (Address, Option<(u64, Position)>, usize);

/// An adjacency row as read: the transfer when the row carries it, else the key of its row.
type AdjRow = Result<Transfer, TransferKey>;

/// Writer-side state: one writer at a time (RocksDB's LOCK file keeps other processes out,
/// this mutex other threads).
struct WriterState {
    next_addr_id: AddrId,
    /// The first id no committed batch has given out: an id from here on has no `degree` row
    /// yet, so the batch that numbers it writes the row whole ([`Store::commit`]).
    fresh_from: AddrId,
    chains: HashMap<String, ChainStateRow>,
    /// Dictionary key (chain ‖ address key) → id, for addresses seen by this process whose
    /// dictionary row is committed.
    addr_cache: FxHashMap<Vec<u8>, AddrId>,
    /// Ids allocated by the batch being built: they join `addr_cache` only once the batch
    /// commits, so a failed batch leaves no cached id without its dictionary row.
    new_ids: FxHashMap<Vec<u8>, AddrId>,
    /// `addr_cache` holds every row of the `addresses` column family: the store's dictionary
    /// was empty when it was opened and the cache has not been cleared since. Then an address
    /// the cache lacks is new, and allocating its id reads nothing (the initial sync's case).
    dict_complete: bool,
    /// The buffers of the last batch, kept for the next ([`SortedBatch::clear`]).
    scratch: SortedBatch,
    /// A dictionary key being looked up, kept for its capacity.
    key_buf: Vec<u8>,
    /// A transfer's keys and row being encoded, kept for their capacity.
    row_bufs: RowBufs,
}

/// Buffers [`Store::put_transfer`] encodes a transfer's keys and row into.
#[derive(Default)]
struct RowBufs {
    from_key: Vec<u8>,
    to_key: Vec<u8>,
    row: Vec<u8>,
    /// The sender of the last transfer and its id (valid within one batch: cleared when a
    /// batch starts, as a failed batch's ids are given again).
    last_from: Option<(Vec<u8>, AddrId)>,
}

/// The transaction-graph store: one RocksDB directory holding every chain's blocks, transfers,
/// address adjacency, Bitcoin UTXO rows, labels and typed side rows. See the crate docs for the
/// API by task and its invariants.
pub struct Store {
    db: DB,
    path: PathBuf,
    writer: Mutex<WriterState>,
    /// Chain name → number, for the chains [`Store::chain_no`] has answered (numbers never
    /// change).
    chain_nos: RwLock<HashMap<String, ChainNo>>,
    /// Opened with [`Store::open_secondary`]: degrees are counted from the adjacency rows, not
    /// read from the merge counters (a secondary's catch-up can replay a merge operand that it
    /// already applied, so a counter read there may count a transfer twice).
    secondary: bool,
    /// Opened with [`Store::open_read_only`]: nothing is written, and nothing is flushed when
    /// it closes.
    read_only: bool,
    /// [`Store::open_read_only`]'s shared lock on the store's `LOCK` file, held while the store
    /// is open (declared after `db`, so it is released after RocksDB closes).
    _shared_lock: Option<std::fs::File>,
    /// Opened with [`Store::open_bulk`]: block batches that extend a chain are written as
    /// table files (the `bulk` module), with these writer options.
    bulk: Option<bulk::FileOptions>,
    /// The column families' RocksDB ids, when batches can be encoded directly.
    cf_ids: Option<ColumnFamilyIds>,
}

const ADDR_CACHE_MAX: usize = 4_000_000;
/// Largest total size of write-ahead logs before the oldest column families are flushed.
const MAX_TOTAL_WAL_BYTES: u64 = 256 << 20;
/// RocksDB info logs (`LOG`, `LOG.old.*`) kept in the store directory.
const KEEP_INFO_LOGS: usize = 4;
/// RocksDB block cache shared by all column families.
const BLOCK_CACHE_BYTES: usize = 256 << 20;
/// Table files a [`ReadScope::Graph`] open keeps open at once (RocksDB's table cache; each
/// open table holds its index and bloom filter in memory). RocksDB opens up to 16 of them
/// while opening the store (their filters are most of a 10M-transfer store's open time).
const READ_ONLY_MAX_OPEN_FILES: i32 = 256;
/// The same for a [`ReadScope::Rows`] open: RocksDB's minimum (20, of which 10 are table
/// files), so opening loads two tables.
const ROWS_MAX_OPEN_FILES: i32 = 20;

/// What a [`Store::open_read_only`] will read, which sizes its table cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadScope {
    /// The transfer graph (a trace without a graph snapshot): up to 256 table files stay open,
    /// 16 of them are opened (their index and filter read) while the store opens.
    Graph,
    /// Checkpoints, labels and side rows only (a trace whose transfers come from a fresh graph
    /// snapshot): 10 table files stay open and 2 are opened with the store, which then opens in
    /// a few milliseconds whatever its size. Graph reads still work, slower.
    Rows,
}
/// Memtable size of a bulk load ([`Store::open_bulk`]), per column family. A bulk batch's largest
/// families go in as table files; the memtables hold the rest of it (the degree merges of
/// addresses earlier batches numbered: a few megabytes per batch, the block rows and the
/// checkpoint), so each batch's degree rows mostly fill
/// memtables of their own — empty skip lists, into which its sorted rows go one after another — and
/// are flushed as sorted files while the next batch is built. (When every row still went through
/// the memtables, 4 MiB beat 16 MiB by 12% of the CPU outside compaction on the 1M-transaction
/// benchmark chain.)
const BULK_WRITE_BUFFER_BYTES: usize = 4 << 20;
/// Level-0 files of a column family that start a compaction during a bulk load (RocksDB's
/// default is 4), and the counts at which writes are slowed down and stopped until compaction
/// catches up. A bulk load flushes a small file per family and batch; compacting them into
/// the level below in larger runs rewrites that level fewer times (level 0's files overlap it
/// whole: adjacency and UTXO rows are keyed by address id and txid, not in chain order).
/// Reads during the load (the decoder's look-ups of older outputs) check at most this many
/// more files, each behind its bloom filter.
const BULK_L0_COMPACTION_TRIGGER: i32 = 16;
const BULK_L0_SLOWDOWN_WRITES: i32 = 40;
const BULK_L0_STOP_WRITES: i32 = 72;
/// A column family below this size fits one table file of the bottom level (RocksDB's target
/// file size is 64 MiB): [`Store::compact`] leaves it in one.
const SMALL_FAMILY_BYTES: u64 = 32 << 20;
/// Zstd level of the bottom level's table files.
const ZSTD_LEVEL: i32 = 6;
/// Column families read by prefix scans (an address's history) whose point reads are rare:
/// larger blocks compress better there, and they have no bloom filters. Not `transfers`: an
/// address's history reads its rows there one by one (the adjacency rows are keys only), and
/// each read decompresses a whole block.
const SCANNED_CFS: [&str; 2] = [cf::ADDR_OUT, cf::ADDR_IN];

impl Drop for Store {
    /// A writing store flushes its memtables when it closes: the last batches' rows are then in
    /// table files, not only in the write-ahead log, and the log is deleted. Without it the next
    /// open replays the log (up to `MAX_TOTAL_WAL_BYTES`) — a read-only open, which cannot
    /// write the replayed rows out, on every open. Durability does not depend on it: every
    /// batch was already in the log when it was acknowledged.
    fn drop(&mut self) {
        if self.read_only || self.secondary {
            return;
        }
        for name in cf::ALL {
            let Some(handle) = self.db.cf_handle(name) else { continue };
            if let Err(e) = self.db.flush_cf(handle) {
                tracing::warn!(error = %e, column_family = name, "flushing the store at close failed; the next open replays its log");
                return;
            }
        }
    }
}

/// A shared (read) lock on the store's `LOCK` file, held as long as the returned file is open.
///
/// RocksDB's writer takes an exclusive POSIX record lock (`fcntl(F_SETLK)`) on that file; an
/// open-file-description lock (`F_OFD_SETLK`) conflicts with it whichever process holds either,
/// stays with this file handle only (closing another handle of the file does not drop it),
/// and is shared with other readers.
#[cfg(unix)]
fn shared_lock(lock: &Path, shown: &str) -> Result<std::fs::File, StoreError> {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::File::open(lock).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            StoreError::Unreadable { path: shown.to_string(), reason: "permission denied".into() }
        }
        _ => StoreError::Open { path: shown.to_string(), reason: format!("opening its LOCK file: {e}") },
    })?;
    let try_lock = |cmd: libc::c_int| {
        // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value; the
        // fields that matter are set below, and `fcntl` reads it only during the call.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_RDLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = 0;
        fl.l_len = 0;
        // SAFETY: the descriptor is open for the duration of the call and `fl` outlives it.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let locked = match try_lock(libc::F_OFD_SETLK) {
        // a kernel without open-file-description locks (before Linux 3.15)
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => try_lock(libc::F_SETLK),
        other => other,
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let locked = try_lock(libc::F_SETLK);
    match locked {
        Ok(()) => Ok(file),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => {
            Err(StoreError::Locked { path: shown.to_string() })
        }
        Err(e) => Err(StoreError::Open { path: shown.to_string(), reason: format!("locking its LOCK file: {e}") }),
    }
}

/// Elsewhere the store is opened without a shared lock (RocksDB's writer lock is not visible).
#[cfg(not(unix))]
fn shared_lock(lock: &Path, shown: &str) -> Result<std::fs::File, StoreError> {
    std::fs::File::open(lock)
        .map_err(|e| StoreError::Open { path: shown.to_string(), reason: format!("opening its LOCK file: {e}") })
}

/// Whether opening failed because the linked RocksDB lacks a compression library.
fn compression_unsupported(e: &rocksdb::Error) -> bool {
    let m = e.to_string();
    m.contains("ompression") && (m.contains("not linked") || m.contains("not supported"))
}

impl Store {
    /// Open the store at `path`, creating it when the path does not exist or is an empty
    /// directory.
    ///
    /// Errors: [`StoreError::NotADirectory`], [`StoreError::NotAStore`] (a non-empty directory
    /// without a RocksDB `CURRENT` file), [`StoreError::Locked`] (another process has it open),
    /// [`StoreError::FormatVersion`] (written by an incompatible chaintrace),
    /// [`StoreError::Unreadable`] or [`StoreError::Open`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_mode(path, false)
    }

    /// [`Store::open`] for a bulk load (the initial sync of a chain from block files): this
    /// handle writes the transfer, adjacency, UTXO, new dictionary and new addresses' degree rows
    /// of a block batch that extends a chain without unlinked rows as sorted table files, which
    /// RocksDB ingests, instead of inserting them into memtables and flushing them (the `bulk`
    /// module).
    ///
    /// Crash safety stays per batch: the rest of the batch (degree merges, block rows, the
    /// checkpoint) is one `WriteBatch` written with the write-ahead log, synced, after the files;
    /// an undo record naming every key of the files is synced before them. A crash (even `kill -9`)
    /// between the files and the checkpoint is finished by the next writer open: the record's keys
    /// are deleted unless the checkpoint was stored. The store is then as of its checkpoint — whole
    /// batches — and ingest resumes from it; the re-applied batch writes the same keys and values.
    /// Every other write of this handle is logged as on a [`Store::open`] handle. Same errors as
    /// [`Store::open`], and [`StoreError::Io`] when an interrupted batch's undo record cannot be
    /// read or removed.
    pub fn open_bulk(path: &Path) -> Result<Store, StoreError> {
        Self::open_mode(path, true)
    }

    fn open_mode(path: &Path, bulk: bool) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if path.exists() {
            if !path.is_dir() {
                return Err(StoreError::NotADirectory { path: shown });
            }
            let is_store = path.join("CURRENT").exists();
            let empty = std::fs::read_dir(path)
                .map_err(|e| StoreError::Unreadable { path: shown.clone(), reason: e.to_string() })?
                .next()
                .is_none();
            if !is_store && !empty {
                return Err(StoreError::NotAStore { path: shown });
            }
        }
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_open_files(512);
        // Column families written rarely (meta, blocks, labels) would otherwise pin every WAL
        // file until they flush; cap the WAL so they are flushed and old logs deleted.
        opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
        // Every open starts a new info log (`LOG`, the old one renamed `LOG.old.<time>`, some
        // 100–200 KB each); RocksDB keeps 1000 of them by default.
        opts.set_keep_log_file_num(KEEP_INFO_LOGS);
        opts.increase_parallelism(2);
        // Every flush persists all column families' memtables together (stores written by
        // earlier versions' bulk handles, without the WAL, relied on it; every write is logged
        // now, and it costs nothing).
        opts.set_atomic_flush(true);
        let mut compress = true;
        let db = match DB::open_cf_descriptors(&opts, path, Self::cf_descriptors(true, bulk)?) {
            Ok(db) => db,
            // A RocksDB built without LZ4/Zstd (the crate's bundled build has no compression
            // libraries): the same store, uncompressed.
            Err(e) if compression_unsupported(&e) => {
                tracing::warn!(error = %e, "this RocksDB lacks LZ4/Zstd: the store is written uncompressed");
                compress = false;
                DB::open_cf_descriptors(&opts, path, Self::cf_descriptors(false, bulk)?)
                    .map_err(|e| StoreError::from_open(&shown, e))?
            }
            Err(e) => return Err(StoreError::from_open(&shown, e)),
        };

        let version = db.get_cf(Self::cf_of(&db, cf::META), meta::FORMAT_VERSION)?;
        match version {
            None => {
                let mut b = WriteBatch::default();
                b.put_cf(Self::cf_of(&db, cf::META), meta::FORMAT_VERSION, FORMAT_VERSION.to_be_bytes());
                db.write(b)?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_slice()).map(u32::from_be_bytes).unwrap_or(0);
                if found != FORMAT_VERSION {
                    return Err(StoreError::FormatVersion { path: shown, found, expected: FORMAT_VERSION });
                }
            }
        }
        let mut store = Self::from_db(db, path, false)?;
        // A bulk batch interrupted by a crash: stored whole or undone, before anything else.
        bulk::recover(&store.db, path, &store.lock().chains)?;
        if bulk {
            let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES)?;
            store.bulk = Some(bulk::FileOptions::new(|name| Self::cf_options(name, compress, true, &cache, false)));
        }
        Ok(store)
    }

    /// Open the existing store at `path` as a RocksDB *secondary* instance: a reader that does
    /// not take the LOCK, so it runs beside the one writer (`chaintrace ingest` in another
    /// process). `secondary_dir` is the secondary's own directory (its info log); it must not be
    /// shared with another open secondary.
    ///
    /// The view is the primary's state when opened; [`Store::catch_up`] moves it to the
    /// primary's newest committed batch (call it before reads or on a timer). Every read method
    /// works on a secondary; the write methods fail with [`StoreError::Rocks`] (RocksDB refuses
    /// writes in secondary mode). [`Store::degree`] counts adjacency rows there instead of
    /// reading the merge counters, which a secondary's catch-up can over-count.
    ///
    /// Errors: [`StoreError::NotAStore`] when `path` holds no store (a secondary never
    /// creates one), [`StoreError::FormatVersion`], [`StoreError::Open`].
    pub fn open_secondary(path: &Path, secondary_dir: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if !path.join("CURRENT").is_file() {
            return Err(StoreError::NotAStore { path: shown });
        }
        let mut opts = Options::default();
        // A secondary keeps every table file open: the primary may delete files it compacted
        // away, and an open handle keeps them readable until the next catch-up.
        opts.set_max_open_files(-1);
        // A store written before the flow column families existed has not got them until a
        // primary opens it (which creates them); a secondary opens the ones that exist and
        // reads the others as empty.
        let db = Self::open_existing(path, &shown, |cfs| {
            DB::open_cf_descriptors_as_secondary(&opts, path, secondary_dir, cfs)
        })?;
        Self::from_db(db, path, true)
    }

    /// Open the existing store at `path` without writing to it (`open`: a secondary or a
    /// read-only RocksDB open of the given column families): the families it has, with this
    /// build's options (again without compression where the library lacks it), and only when
    /// it carries this build's format version.
    fn open_existing(
        path: &Path,
        shown: &str,
        open: impl Fn(Vec<ColumnFamilyDescriptor>) -> Result<DB, rocksdb::Error>,
    ) -> Result<DB, StoreError> {
        let existing = DB::list_cf(&Options::default(), path).unwrap_or_default();
        let present = |compress: bool| -> Result<Vec<_>, StoreError> {
            Ok(Self::cf_descriptors(compress, false)?
                .into_iter()
                .filter(|d| existing.is_empty() || existing.iter().any(|e| e == d.name()))
                .collect::<Vec<_>>())
        };
        let db = match open(present(true)?) {
            Ok(db) => db,
            Err(e) if compression_unsupported(&e) => {
                open(present(false)?).map_err(|e| StoreError::from_open(shown, e))?
            }
            Err(e) => return Err(StoreError::from_open(shown, e)),
        };
        let found = db
            .get_cf(Self::cf_of(&db, cf::META), meta::FORMAT_VERSION)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0);
        if found != FORMAT_VERSION {
            return Err(StoreError::FormatVersion { path: shown.to_string(), found, expected: FORMAT_VERSION });
        }
        Ok(db)
    }

    /// Open the existing store at `path` for reading only, as a trace does: nothing in the
    /// directory is written (no WAL replayed into new table files, no compaction, no new
    /// `MANIFEST` or `OPTIONS` file), and opening reads as little as it can: table files are
    /// opened when first read (RocksDB still opens some at open time, as many as `scope`
    /// says), on one thread, without loading table statistics.
    ///
    /// While it is open the store's `LOCK` file carries a shared lock, so it is refused, like
    /// [`Store::open`], while a writing process holds the store ([`StoreError::Locked`]), and a
    /// writer cannot open it meanwhile; several read-only opens may share it. Every read
    /// method works; the write methods fail with [`StoreError::Rocks`]. Rows still in the
    /// writer's write-ahead log (a writer that did not close cleanly) are read from it.
    ///
    /// Errors: [`StoreError::NotAStore`] when `path` holds no store (it is never created),
    /// [`StoreError::NotADirectory`], [`StoreError::Locked`], [`StoreError::Unreadable`],
    /// [`StoreError::FormatVersion`], [`StoreError::Open`].
    pub fn open_read_only(path: &Path, scope: ReadScope) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if path.exists() && !path.is_dir() {
            return Err(StoreError::NotADirectory { path: shown });
        }
        if !path.join("CURRENT").is_file() {
            return Err(StoreError::NotAStore { path: shown });
        }
        let lock = shared_lock(&path.join("LOCK"), &shown)?;
        let mut opts = Options::default();
        opts.set_max_open_files(match scope {
            ReadScope::Graph => READ_ONLY_MAX_OPEN_FILES,
            ReadScope::Rows => ROWS_MAX_OPEN_FILES,
        });
        // RocksDB starts this many threads per column family to open table files at open time
        // (16 by default: over 200 thread starts for a handful of files).
        opts.set_max_file_opening_threads(1);
        // Statistics for compaction decisions, which a read-only instance never makes.
        opts.set_skip_stats_update_on_db_open(true);
        opts.set_skip_checking_sst_file_sizes_on_db_open(true);
        let db = Self::open_existing(path, &shown, |cfs| DB::open_cf_descriptors_read_only(&opts, path, cfs, false))?;
        let mut store = Self::from_db(db, path, false)?;
        store.read_only = true;
        store._shared_lock = Some(lock);
        Ok(store)
    }

    /// On a store opened with [`Store::open_secondary`]: replay what the primary has committed
    /// since the last catch-up (whole batches only, so checkpoints and rows stay consistent)
    /// and reload the chains' checkpoints. On a primary it is a no-op that succeeds.
    pub fn catch_up(&self) -> Result<(), StoreError> {
        if self.db.try_catch_up_with_primary().is_err() {
            // A primary instance: it is always current.
            return Ok(());
        }
        let (next_addr_id, chains) = Self::load_chain_state(&self.db)?;
        let mut w = self.lock();
        w.next_addr_id = next_addr_id;
        w.fresh_from = next_addr_id;
        w.chains = chains;
        Ok(())
    }

    /// Column family descriptors, with one block cache shared by every column family and bloom
    /// filters that make the point lookups of ingest (address ids, existing rows) cheap.
    ///
    /// With `compress`: LZ4 on the upper levels (fast, written often) and Zstd on the bottom
    /// level, which holds most of the data once levels are sized from the bottom up
    /// (`level_compaction_dynamic_level_bytes`). Compression is a table-file property: RocksDB
    /// records each file's codec, so stores written with other settings read unchanged.
    ///
    /// `bulk` (a [`Store::open_bulk`] handle): memtables of [`BULK_WRITE_BUFFER_BYTES`].
    fn cf_descriptors(compress: bool, bulk: bool) -> Result<Vec<ColumnFamilyDescriptor>, StoreError> {
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES)?;
        Ok(cf::ALL
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Self::cf_options(name, compress, bulk, &cache, true)))
            .collect())
    }

    /// One column family's options (see [`Store::cf_descriptors`]). Without `bottom_codec`
    /// no codec is set for the bottom level: a table-file writer then uses the upper levels'
    /// (LZ4) for its file, where with one set it uses that (Zstd).
    fn cf_options(name: &str, compress: bool, bulk: bool, cache: &Cache, bottom_codec: bool) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        // Whole-key bloom filters serve point reads; the adjacency families are only scanned
        // (by address id; a seek reads no filter) and read by key in `verify`, where the row is
        // there: a filter there was ~1.25 bytes per row, built with every file and compaction.
        if !SCANNED_CFS.contains(&name) {
            table.set_bloom_filter(10.0, false);
        }
        let mut cf_opts = Options::default();
        cf_opts.set_level_compaction_dynamic_level_bytes(true);
        if compress {
            // Bigger blocks compress better; the point lookups are served by the bloom
            // filters and the block cache.
            table.set_block_size(if SCANNED_CFS.contains(&name) { 64 << 10 } else { 16 << 10 });
            // LZ4 for memtable flushes and the upper levels: Zstd level 1 there wrote a
            // fifth less (82 instead of 102 bytes per transfer at 10M) for 2–4% more
            // CPU, but reads of those files (an uncompacted store's newest rows, the
            // cold trace's row reads) were 30–100% slower; a full compaction
            // (`Store::compact`) brings everything into the bottom level's Zstd.
            cf_opts.set_compression_type(DBCompressionType::Lz4);
            if bottom_codec {
                cf_opts.set_bottommost_compression_type(DBCompressionType::Zstd);
                cf_opts.set_bottommost_compression_options(-14, ZSTD_LEVEL, 0, 0, true);
            }
        } else {
            cf_opts.set_compression_type(DBCompressionType::None);
        }
        cf_opts.set_block_based_table_factory(&table);
        if bulk {
            cf_opts.set_write_buffer_size(BULK_WRITE_BUFFER_BYTES);
            cf_opts.set_level_zero_file_num_compaction_trigger(BULK_L0_COMPACTION_TRIGGER);
            cf_opts.set_level_zero_slowdown_writes_trigger(BULK_L0_SLOWDOWN_WRITES);
            cf_opts.set_level_zero_stop_writes_trigger(BULK_L0_STOP_WRITES);
        }
        if name == cf::DEGREE {
            cf_opts.set_merge_operator_associative("chaintrace_degree_add", rows::degree_merge);
        }
        cf_opts
    }

    /// The next address id and every chain's checkpoint, as committed in the meta column family.
    /// The store over an opened database: its chain states and id counter loaded, no ids cached.
    fn from_db(db: DB, path: &Path, secondary: bool) -> Result<Store, StoreError> {
        let (next_addr_id, chains) = Self::load_chain_state(&db)?;
        let dict_complete = !secondary && Self::cf_is_empty(&db, cf::ADDRESSES)?;
        let cf_ids = ColumnFamilyIds::learn(|name| Self::cf_of(&db, name));
        if cf_ids.is_none() {
            tracing::debug!("this RocksDB encodes write batches otherwise: batches are built operation by operation");
        }
        Ok(Store {
            db,
            path: path.to_path_buf(),
            writer: Mutex::new(WriterState {
                next_addr_id,
                fresh_from: next_addr_id,
                chains,
                addr_cache: FxHashMap::default(),
                new_ids: FxHashMap::default(),
                dict_complete,
                scratch: SortedBatch::default(),
                key_buf: Vec::new(),
                row_bufs: RowBufs::default(),
            }),
            chain_nos: RwLock::new(HashMap::new()),
            secondary,
            read_only: false,
            _shared_lock: None,
            bulk: None,
            cf_ids,
        })
    }

    fn cf_is_empty(db: &DB, name: &str) -> Result<bool, StoreError> {
        match db.iterator_cf(Self::cf_of(db, name), IteratorMode::Start).next() {
            None => Ok(true),
            Some(item) => item.map(|_| false).map_err(StoreError::from),
        }
    }

    fn load_chain_state(db: &DB) -> Result<(AddrId, HashMap<String, ChainStateRow>), StoreError> {
        let next_addr_id = db
            .get_cf(Self::cf_of(db, cf::META), meta::NEXT_ADDR_ID)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(1);
        let mut chains = HashMap::new();
        let meta_cf = Self::cf_of(db, cf::META);
        for item in db.iterator_cf(meta_cf, IteratorMode::From(meta::CHAIN_PREFIX, rocksdb::Direction::Forward)) {
            let (k, v) = item?;
            let Some(name) = k.strip_prefix(meta::CHAIN_PREFIX) else { break };
            let name = String::from_utf8_lossy(name).into_owned();
            let row =
                ChainStateRow::decode(&v).ok_or_else(|| StoreError::Corrupt(format!("chain state of {name:?}")))?;
            chains.insert(name, row);
        }
        Ok((next_addr_id, chains))
    }

    /// Compact every column family fully: the memtables are flushed, then every level is
    /// rewritten into the bottom one, where table files are Zstd-compressed and merge operands
    /// and overwritten or deleted rows are gone — the smallest size on disk, whatever chain
    /// the store holds and however it was written. Reads and writes may go on meanwhile;
    /// nothing a reader sees changes. A compaction killed halfway (even `kill -9`) leaves the
    /// store as it was or partly compacted, with the same rows either way: RocksDB installs a
    /// compaction's output files and removes its inputs in one manifest record.
    ///
    /// Errors: [`StoreError::Invalid`] on a store opened read-only or as a secondary (they
    /// cannot write), [`StoreError::Rocks`] when flushing the memtables fails. (RocksDB reports
    /// no error of the compaction itself; one that fails leaves the files as they were.)
    pub fn compact(&self) -> Result<(), StoreError> {
        if self.read_only || self.secondary {
            return Err(StoreError::Invalid(format!(
                "store {} is open read-only: it cannot be compacted",
                self.path.display()
            )));
        }
        // One atomic flush of every family's memtable (the store is opened with atomic
        // flush) before the rewrite.
        self.db.flush()?;
        let mut opts = CompactOptions::default();
        // Rewrite the bottom level's files too (once each): without it a file that reached
        // the bottom by a trivial move (never rewritten) keeps the upper levels' LZ4.
        opts.set_bottommost_level_compaction(BottommostLevelCompaction::ForceOptimized);
        for name in cf::ALL {
            self.db.compact_range_cf_opt(self.cf(name), None::<&[u8]>, None::<&[u8]>, &opts);
        }
        // A bulk load ingests table files straight into the bottom level when they overlap
        // nothing there (a family's first files), and the pass above rewrites such a file on
        // its own, not merged with its neighbours. A family small enough for one file
        // (`SMALL_FAMILY_BYTES`) left in several is compacted once more, into one: the same
        // rows, without the extra files' index, filter and footer blocks.
        for name in cf::ALL {
            let h = self.cf(name);
            let files = self.db.property_int_value_cf(h, "rocksdb.num-files-at-level6")?.unwrap_or(0);
            let bytes = self.db.property_int_value_cf(h, "rocksdb.total-sst-files-size")?.unwrap_or(0);
            if files > 1 && bytes < SMALL_FAMILY_BYTES {
                self.db.compact_range_cf_opt(h, None::<&[u8]>, None::<&[u8]>, &opts);
            }
        }
        Ok(())
    }

    /// The directory this store was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf_of<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
        db.cf_handle(name).expect("every column family is created at open")
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        Self::cf_of(&self.db, name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriterState> {
        // A panic while holding the lock cannot leave the database inconsistent (all writes are
        // batches), so a poisoned lock is still usable.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain's number, when the chain has been seen. A chain's number never changes, so
    /// it is remembered outside the writer lock: readers on other threads (the Bitcoin
    /// decoder's output look-ups during a pipelined ingest) do not wait for a batch to commit.
    fn chain_no(&self, chain: &str) -> Option<ChainNo> {
        if let Some(no) = self.chain_nos.read().unwrap_or_else(|p| p.into_inner()).get(chain) {
            return Some(*no);
        }
        let no = self.lock().chains.get(chain).map(|c| c.no)?;
        self.chain_nos.write().unwrap_or_else(|p| p.into_inner()).insert(chain.to_string(), no);
        Some(no)
    }

    fn chain_state_mut<'a>(w: &'a mut WriterState, chain: &str) -> &'a mut ChainStateRow {
        if !w.chains.contains_key(chain) {
            let no = w.chains.values().map(|c| c.no).max().map_or(1, |m| m + 1);
            w.chains.insert(chain.to_string(), ChainStateRow { no, ..Default::default() });
        }
        w.chains.get_mut(chain).expect("inserted above")
    }

    /// The checkpoint's tip of `chain`: the newest linked block, or `None` when none is stored.
    /// Partial blocks from [`Store::put_unlinked`] never move it.
    pub fn tip(&self, chain: &str) -> Result<Option<Tip>, StoreError> {
        Ok(self.lock().chains.get(chain).and_then(|c| c.tip).map(|t| Tip {
            height: t.height,
            hash: t.hash,
            time: t.time,
        }))
    }

    /// The hash of the linked block stored at `height` on `chain`, if any; adapters compare it
    /// with the node's to find a fork point.
    pub fn block_hash(&self, chain: &str, height: u64) -> Result<Option<Hash32>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(None) };
        Ok(self.block_row(no, height)?.map(|r| r.hash))
    }

    fn block_row(&self, no: ChainNo, height: u64) -> Result<Option<BlockRow>, StoreError> {
        let key = BlockKey { chain: no, height }.encode();
        match self.db.get_cf(self.cf(cf::BLOCKS), key)? {
            None => Ok(None),
            Some(v) => BlockRow::decode(&v)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("block row at height {height}"))),
        }
    }

    /// Look up or allocate the id of the address whose key (`Address::to_key`) is `addr_key`,
    /// recording a new one in `batch` (the id counter is written once per batch, by
    /// [`Store::commit`]).
    fn addr_id_for_write(
        &self,
        w: &mut WriterState,
        state: &mut ChainStateRow,
        batch: &mut SortedBatch,
        addr_key: &[u8],
    ) -> Result<AddrId, StoreError> {
        let mut dict_key = std::mem::take(&mut w.key_buf);
        dict_key.clear();
        dict_key.extend_from_slice(&state.no.to_be_bytes());
        dict_key.extend_from_slice(addr_key);
        let r = self.addr_id_of_dict_key(w, state, batch, &dict_key);
        w.key_buf = dict_key;
        r
    }

    fn addr_id_of_dict_key(
        &self,
        w: &mut WriterState,
        state: &mut ChainStateRow,
        batch: &mut SortedBatch,
        dict_key: &[u8],
    ) -> Result<AddrId, StoreError> {
        if let Some(id) = w.addr_cache.get(dict_key).or_else(|| w.new_ids.get(dict_key)) {
            return Ok(*id);
        }
        let stored = if w.dict_complete { None } else { self.db.get_cf(self.cf(cf::ADDRESSES), dict_key)? };
        match stored {
            Some(v) => {
                let id = <[u8; 8]>::try_from(v.as_slice()).map(u64::from_be_bytes).map_err(|_| {
                    let shown =
                        Address::from_key(&dict_key[2..]).map_or_else(|| hex::encode(dict_key), |a| a.to_string());
                    StoreError::Corrupt(format!("address id of {shown}"))
                })?;
                Self::cache_id(w, dict_key.to_vec(), id);
                Ok(id)
            }
            None => {
                let id = w.next_addr_id;
                w.next_addr_id += 1;
                state.addresses += 1;
                batch.put_cf(cf::ADDRESSES, dict_key, id.to_be_bytes());
                w.new_ids.insert(dict_key.to_vec(), id);
                Ok(id)
            }
        }
    }

    fn cache_id(w: &mut WriterState, key: Vec<u8>, id: AddrId) {
        if w.addr_cache.len() >= ADDR_CACHE_MAX {
            w.addr_cache.clear();
            w.dict_complete = false;
        }
        w.addr_cache.insert(key, id);
    }

    /// Run one write batch under the writer lock, then settle the address ids it allocated
    /// (see [`Store::settle_new_ids`]).
    fn with_new_ids<T>(&self, f: impl FnOnce(&mut WriterState) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut w = self.lock();
        w.row_bufs.last_from = None;
        let counter_before = w.next_addr_id;
        let r = f(&mut w);
        Self::settle_new_ids(&mut w, counter_before, r.is_ok());
        r
    }

    /// After a batch: the ids it allocated become cached when it committed; when it failed they
    /// are forgotten and the id counter goes back to where the batch found it (nothing with
    /// those ids was written).
    fn settle_new_ids(w: &mut WriterState, counter_before: AddrId, committed: bool) {
        let new = std::mem::take(&mut w.new_ids);
        if committed {
            for (k, id) in new {
                Self::cache_id(w, k, id);
            }
        } else {
            w.next_addr_id = counter_before;
        }
        w.fresh_from = w.next_addr_id;
    }

    /// The id of an address, without allocating.
    fn addr_id(&self, no: ChainNo, addr: &Address) -> Result<Option<AddrId>, StoreError> {
        let dict_key = keys::address_key(no, &addr.to_key());
        Ok(self
            .db
            .get_cf(self.cf(cf::ADDRESSES), dict_key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// Write one transfer's rows; returns its digest term, or None when it was already stored.
    #[allow(clippy::too_many_arguments)]
    fn put_transfer(
        &self,
        w: &mut WriterState,
        state: &mut ChainStateRow,
        batch: &mut SortedBatch,
        t: &Transfer,
        check_existing: bool,
        pending: &mut FxHashSet<[u8; TransferKey::LEN]>,
        degrees: &mut DegreeDeltas,
    ) -> Result<Option<U256>, StoreError> {
        let key = TransferKey { chain: state.no, height: t.height, pos: t.pos };
        let kb = key.encode();
        if !pending.insert(kb) {
            return Err(StoreError::DuplicatePosition { height: t.height, tx_index: t.pos.tx_index, sub: t.pos.sub });
        }
        // The keys and the row in buffers kept between transfers (no allocation per row).
        let mut bufs = std::mem::take(&mut w.row_bufs);
        let r = self.put_transfer_rows(w, state, batch, t, check_existing, kb, &mut bufs, degrees);
        w.row_bufs = bufs;
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn put_transfer_rows(
        &self,
        w: &mut WriterState,
        state: &mut ChainStateRow,
        batch: &mut SortedBatch,
        t: &Transfer,
        check_existing: bool,
        kb: [u8; TransferKey::LEN],
        bufs: &mut RowBufs,
        degrees: &mut DegreeDeltas,
    ) -> Result<Option<U256>, StoreError> {
        let key = TransferKey { chain: state.no, height: t.height, pos: t.pos };
        let RowBufs { from_key, to_key, row, last_from } = bufs;
        from_key.clear();
        t.from.write_key(from_key);
        to_key.clear();
        t.to.write_key(to_key);
        TransferRow::encode_into(t, from_key, to_key, row);
        if check_existing {
            if let Some(old) = self.db.get_cf(self.cf(cf::TRANSFERS), kb)? {
                if old == *row {
                    return Ok(None);
                }
                return Err(StoreError::Conflict { height: t.height, tx_index: t.pos.tx_index, sub: t.pos.sub });
            }
        }
        // A transaction's transfers mostly share their sender (one input address, several
        // outputs): its id is looked up once.
        let from = match last_from {
            Some((k, id)) if k == from_key => *id,
            _ => {
                let id = self.addr_id_for_write(w, state, batch, from_key)?;
                match last_from {
                    Some((k, last)) => {
                        k.clear();
                        k.extend_from_slice(from_key);
                        *last = id;
                    }
                    None => *last_from = Some((from_key.clone(), id)),
                }
                id
            }
        };
        let to = self.addr_id_for_write(w, state, batch, to_key)?;
        // The adjacency rows are keys only: an address's history is one scan of its keys and
        // one batched read of the transfer rows they name (a trace reads whole histories from
        // the snapshot, which holds the rows by address). Rows written before carried the
        // transfer row as their value; both read the same ([`Store::transfers`]).
        batch.put_cf(cf::TRANSFERS, kb, &*row);
        batch.put_cf(cf::ADDR_OUT, AdjKey { addr: from, height: t.height, pos: t.pos }.encode(), []);
        batch.put_cf(cf::ADDR_IN, AdjKey { addr: to, height: t.height, pos: t.pos }.encode(), []);
        degrees.entry(from).or_default().0 += 1;
        degrees.entry(to).or_default().1 += 1;
        Ok(Some(TransferRow::digest_term(&key, row)))
    }

    fn put_utxo(&self, no: ChainNo, batch: &mut SortedBatch, block: &BlockData) -> Vec<Hash32> {
        let mut txids = Vec::new();
        for o in &block.outputs {
            batch.put_cf(cf::OUTPUTS, keys::outpoint_key(no, &o.txid, o.vout), OutputRow::encode_output(o));
            if txids.last() != Some(&o.txid) {
                txids.push(o.txid);
            }
        }
        for s in &block.spends {
            batch.put_cf(
                cf::SPENDS,
                keys::outpoint_key(no, &s.txid, s.vin),
                OutpointRow { txid: s.prev_txid, index: s.prev_vout }.encode(),
            );
            batch.put_cf(
                cf::SPENT_BY,
                keys::outpoint_key(no, &s.prev_txid, s.prev_vout),
                OutpointRow { txid: s.txid, index: s.vin }.encode(),
            );
            if txids.last() != Some(&s.txid) {
                txids.push(s.txid);
            }
        }
        txids.sort();
        txids.dedup();
        txids
    }

    /// Write `batch` together with the chain's new state row (the checkpoint) atomically, then
    /// make that state the one this process sees. With `to_files` on a bulk handle, the rows
    /// of the `bulk` module's families go in as table files, the rest with the WAL, synced;
    /// see that module for how the batch stays all or nothing.
    fn commit(
        &self,
        w: &mut WriterState,
        chain: &str,
        state: ChainStateRow,
        mut batch: SortedBatch,
        degrees: DegreeDeltas,
        to_files: bool,
    ) -> Result<(), StoreError> {
        // One row per address per batch, not one per transfer: a merge of the deltas, except
        // for the ids this batch gave out (from `fresh_from`), which have no degree row yet and
        // get theirs whole. A bulk handle writes those puts into a table file that sorts after
        // every stored degree row (ids only grow), so it goes straight to the bottom level and
        // no memtable, flush or compaction handles them.
        let fresh = w.fresh_from;
        let split_at = fresh.to_be_bytes();
        for (id, (out, inn)) in degrees {
            if (out, inn) == (0, 0) {
                continue;
            }
            let (key, delta) = (id.to_be_bytes(), rows::degree_delta(out, inn));
            if id >= fresh {
                batch.put_cf(cf::DEGREE, key, delta);
            } else {
                batch.merge_cf(cf::DEGREE, key, delta);
            }
        }
        // The id counter once per batch (ids allocated by this batch, or none: unchanged).
        batch.put_cf(cf::META, meta::NEXT_ADDR_ID, w.next_addr_id.to_be_bytes());
        let after = rows::encode(&state);
        batch.put_cf(cf::META, meta::chain(chain), &after);
        match self.bulk.as_ref().filter(|_| to_files) {
            Some(options) => {
                let (wb, runs) = batch.take_split(|name| self.cf(name), self.cf_ids.as_ref(), &bulk::split(&split_at));
                let stored = bulk::store_batch(&self.db, &self.path, options, &batch, &runs, chain, &after, wb);
                if let Err(e) = stored {
                    #[cfg(test)]
                    if matches!(&e, StoreError::Invalid(m) if m == bulk::tests::STOPPED) {
                        return Err(e);
                    }
                    // Undo whatever of the batch was ingested, now rather than at the next open.
                    if let Err(undo) = bulk::recover(&self.db, &self.path, &w.chains) {
                        tracing::warn!(error = %undo, "undoing the failed bulk batch failed; the next open of the store undoes it");
                    }
                    return Err(e);
                }
            }
            None => {
                let wb = batch.take_write_batch(|name| self.cf(name), self.cf_ids.as_ref());
                self.db.write(wb)?;
            }
        }
        batch.clear();
        w.scratch = batch;
        w.chains.insert(chain.to_string(), state);
        w.fresh_from = w.next_addr_id;
        Ok(())
    }

    /// Apply contiguous blocks, in height order, in one atomic `WriteBatch` together with the
    /// new checkpoint; returns what was written.
    ///
    /// The first block's parent must be the stored tip (or the chain is empty). Blocks already
    /// stored with the same hash are skipped (idempotent); transfers, Bitcoin `outputs` and
    /// `spends` are stored with their block. Errors: [`StoreError::ParentMismatch`] on a fork
    /// (the caller rolls back with [`Store::rollback_to`] and retries),
    /// [`StoreError::Gap`] when a height is skipped, [`StoreError::Invalid`] when a transfer's
    /// height is not its block's, [`StoreError::DuplicatePosition`] / [`StoreError::Conflict`]
    /// for clashing positions. On error nothing of the call is written.
    pub fn apply_blocks(&self, chain: &str, blocks: &[BlockData]) -> Result<ApplySummary, StoreError> {
        self.with_new_ids(|w| self.apply_blocks_locked(w, chain, blocks))
    }

    fn apply_blocks_locked(
        &self,
        w: &mut WriterState,
        chain: &str,
        blocks: &[BlockData],
    ) -> Result<ApplySummary, StoreError> {
        let mut state = Self::chain_state_mut(w, chain).clone();
        let mut batch = std::mem::take(&mut w.scratch);
        let mut degrees = DegreeDeltas::default();
        let mut summary = ApplySummary::default();
        let mut acc = U256::from_be_bytes(state.digest_acc);
        for data in blocks {
            let b = &data.block;
            if let Some(tip) = state.tip {
                if b.height <= tip.height {
                    // Already stored with this hash: nothing to do. Otherwise a fork.
                    match self.block_row(state.no, b.height)? {
                        Some(row) if row.hash == b.hash => {
                            summary.skipped += 1;
                            continue;
                        }
                        Some(row) => {
                            return Err(StoreError::ParentMismatch {
                                chain: chain.to_string(),
                                height: b.height,
                                expected: row.hash,
                                got: b.hash,
                            })
                        }
                        None => {}
                    }
                }
                if b.height != tip.height + 1 {
                    return Err(StoreError::Gap { chain: chain.to_string(), tip: tip.height, height: b.height });
                }
                if b.parent != tip.hash {
                    return Err(StoreError::ParentMismatch {
                        chain: chain.to_string(),
                        height: b.height,
                        expected: tip.hash,
                        got: b.parent,
                    });
                }
            }
            let mut pending = FxHashSet::with_capacity_and_hasher(data.transfers.len(), Default::default());
            let mut stored = 0u32;
            let check_existing = state.has_unlinked;
            for t in &data.transfers {
                if t.height != b.height {
                    return Err(StoreError::Invalid(format!(
                        "transfer in tx {} says height {} inside block {}",
                        t.tx, t.height, b.height
                    )));
                }
                if let Some(term) =
                    self.put_transfer(w, &mut state, &mut batch, t, check_existing, &mut pending, &mut degrees)?
                {
                    acc = acc.wrapping_add(term);
                    state.transfers += 1;
                    summary.transfers += 1;
                }
                stored += 1;
            }
            let utxo_txids = self.put_utxo(state.no, &mut batch, data);
            self.put_block_flows(state.no, data, &mut batch, &mut state.flows)?;
            let row = BlockRow {
                hash: b.hash,
                parent: b.parent,
                time: b.time,
                tx_count: data.tx_count,
                transfers: stored,
                utxo_txids,
                internal_missing: data.internal_missing,
            };
            if data.internal_missing {
                state.internal_missing_blocks += 1;
            }
            batch.put_cf(cf::BLOCKS, BlockKey { chain: state.no, height: b.height }.encode(), row.encode());
            state.tip = Some(TipRow { height: b.height, hash: b.hash, time: b.time });
            state.blocks += 1;
            summary.blocks += 1;
        }
        state.digest_acc = acc.to_be_bytes();
        // A bulk handle writes the rows of blocks that extend a chain without unlinked rows (an
        // initial sync: every key is new) as table files.
        let to_files = !state.has_unlinked && summary.blocks > 0;
        self.commit(w, chain, state, batch, degrees, to_files)?;
        Ok(summary)
    }

    /// Store partial blocks that do not extend the checkpoint (Esplora histories, on-demand EVM
    /// expansion): transfers, outputs and spends are stored idempotently per key, in one atomic
    /// batch; the tip does not move. `skipped` counts transfers already stored.
    pub fn put_unlinked(&self, chain: &str, blocks: &[BlockData]) -> Result<ApplySummary, StoreError> {
        self.with_new_ids(|w| self.put_unlinked_locked(w, chain, blocks))
    }

    fn put_unlinked_locked(
        &self,
        w: &mut WriterState,
        chain: &str,
        blocks: &[BlockData],
    ) -> Result<ApplySummary, StoreError> {
        let mut state = Self::chain_state_mut(w, chain).clone();
        state.has_unlinked = true;
        let mut batch = SortedBatch::default();
        let mut degrees = DegreeDeltas::default();
        let mut summary = ApplySummary::default();
        let mut acc = U256::from_be_bytes(state.digest_acc);
        for data in blocks {
            let mut pending = FxHashSet::default();
            for t in &data.transfers {
                match self.put_transfer(w, &mut state, &mut batch, t, true, &mut pending, &mut degrees)? {
                    Some(term) => {
                        acc = acc.wrapping_add(term);
                        state.transfers += 1;
                        summary.transfers += 1;
                    }
                    None => summary.skipped += 1,
                }
            }
            self.put_utxo(state.no, &mut batch, data);
            summary.blocks += 1;
        }
        state.digest_acc = acc.to_be_bytes();
        self.commit(w, chain, state, batch, degrees, false)?;
        Ok(summary)
    }

    /// Remove every linked block above `height` (their transfers, adjacency rows, outputs and
    /// spends), newest first, in one atomic batch; the tip becomes the block at `height`.
    /// Returns how many blocks were removed (0 when the tip is at or below `height`).
    pub fn rollback_to(&self, chain: &str, height: u64) -> Result<u64, StoreError> {
        let mut w = self.lock();
        let Some(mut state) = w.chains.get(chain).cloned() else { return Ok(0) };
        let Some(tip) = state.tip else { return Ok(0) };
        if tip.height <= height {
            return Ok(0);
        }
        let mut batch = SortedBatch::default();
        let mut degrees = DegreeDeltas::default();
        let mut acc = U256::from_be_bytes(state.digest_acc);
        let mut removed = 0;
        let mut new_tip = None;
        let mut h = tip.height;
        loop {
            if h <= height {
                new_tip = self.block_row(state.no, h)?.map(|r| TipRow { height: h, hash: r.hash, time: r.time });
                break;
            }
            if let Some(row) = self.block_row(state.no, h)? {
                let (n, sub) = self.delete_block_transfers(state.no, h, &mut batch, &mut degrees)?;
                acc = acc.wrapping_sub(sub);
                state.transfers = state.transfers.saturating_sub(n);
                for txid in &row.utxo_txids {
                    self.delete_utxo_tx(state.no, txid, &mut batch)?;
                }
                self.delete_block_flows(state.no, h, &mut batch, &mut state.flows)?;
                batch.delete_cf(cf::BLOCKS, BlockKey { chain: state.no, height: h }.encode());
                state.blocks = state.blocks.saturating_sub(1);
                if row.internal_missing {
                    state.internal_missing_blocks = state.internal_missing_blocks.saturating_sub(1);
                }
                removed += 1;
            }
            if h == 0 {
                break;
            }
            h -= 1;
        }
        state.tip = new_tip;
        state.digest_acc = acc.to_be_bytes();
        self.commit(&mut w, chain, state, batch, degrees, false)?;
        Ok(removed)
    }

    fn delete_block_transfers(
        &self,
        no: ChainNo,
        height: u64,
        batch: &mut SortedBatch,
        degrees: &mut DegreeDeltas,
    ) -> Result<(u64, U256), StoreError> {
        let prefix = BlockKey { chain: no, height }.encode();
        let mut n = 0u64;
        let mut sum = U256::ZERO;
        for (k, v) in self.prefix_scan(cf::TRANSFERS, &prefix)? {
            let key = TransferKey::decode(&k).ok_or_else(|| StoreError::Corrupt("transfer key".into()))?;
            let t = TransferRow::decode(&key, &v)
                .ok_or_else(|| StoreError::Corrupt(format!("transfer row at height {height}")))?;
            for (addr, cf_name, delta) in [(&t.from, cf::ADDR_OUT, (-1, 0)), (&t.to, cf::ADDR_IN, (0, -1))] {
                if let Some(id) = self.addr_id(no, addr)? {
                    batch.delete_cf(cf_name, AdjKey { addr: id, height, pos: key.pos }.encode());
                    let d = degrees.entry(id).or_default();
                    d.0 += delta.0;
                    d.1 += delta.1;
                }
            }
            batch.delete_cf(cf::TRANSFERS, &k);
            sum = sum.wrapping_add(TransferRow::digest_term(&key, &v));
            n += 1;
        }
        Ok((n, sum))
    }

    fn delete_utxo_tx(&self, no: ChainNo, txid: &Hash32, batch: &mut SortedBatch) -> Result<(), StoreError> {
        let prefix = keys::tx_prefix(no, txid);
        for (k, _) in self.prefix_scan(cf::OUTPUTS, &prefix)? {
            batch.delete_cf(cf::OUTPUTS, &k);
        }
        for (k, v) in self.prefix_scan(cf::SPENDS, &prefix)? {
            if let Some(prev) = OutpointRow::decode(&v) {
                batch.delete_cf(cf::SPENT_BY, keys::outpoint_key(no, &prev.txid, prev.index));
            }
            batch.delete_cf(cf::SPENDS, &k);
        }
        Ok(())
    }

    /// All (key, value) pairs of `cf_name` whose key starts with `prefix`.
    fn prefix_scan(&self, cf_name: &str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let mut out = Vec::new();
        self.prefix_for_each(cf_name, prefix, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// Visit keys of `cf_name` starting with `prefix`, from `start` (≥ prefix) on, until `f`
    /// returns false.
    fn prefix_for_each_from(
        &self,
        cf_name: &str,
        prefix: &[u8],
        start: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // Only a secondary over a store older than a column family lacks it: nothing to read.
        let Some(handle) = self.db.cf_handle(cf_name) else { return Ok(()) };
        let mut ro = ReadOptions::default();
        if let Some(end) = keys::prefix_end(prefix) {
            ro.set_iterate_upper_bound(end);
        }
        let it = self.db.iterator_cf_opt(handle, ro, IteratorMode::From(start, rocksdb::Direction::Forward));
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(prefix) || !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn prefix_for_each(
        &self,
        cf_name: &str,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.prefix_for_each_from(cf_name, prefix, prefix, f)
    }

    /// Transfers out of ([`Direction::Out`]) or into ([`Direction::In`]) `addr`, in chain order
    /// `(height, tx_index, sub)`, strictly after `after` when given, at most `limit`. One prefix
    /// scan of the adjacency column family and one batched read of the rows it names; an
    /// unknown chain or address gives an empty list.
    pub fn transfers(
        &self,
        chain: &str,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        let rows = self.adjacency(chain, addr, dir, after, limit)?;
        Ok(self.named_transfers(vec![rows])?.pop().unwrap_or_default())
    }

    /// [`Store::transfers`] of many addresses (`(address, after, limit)` each), one list per
    /// request in request order. Every list's rows are read in one batched read, in key order,
    /// so rows that share a table block (transfers of nearby heights) are read with it once.
    pub fn transfers_batch(
        &self,
        chain: &str,
        reqs: &[ListRequest],
        dir: Direction,
    ) -> Result<Vec<Vec<Transfer>>, StoreError> {
        let lists = reqs
            .iter()
            .map(|(addr, after, limit)| self.adjacency(chain, addr, dir, *after, *limit))
            .collect::<Result<Vec<_>, _>>()?;
        self.named_transfers(lists)
    }

    /// Whether `addr` has a transfer in `dir` strictly after `after` (any when `None`): what
    /// `!transfers(…, 1).is_empty()` answers, from the adjacency key alone.
    pub fn has_transfers_after(
        &self,
        chain: &str,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, StoreError> {
        Ok(!self.adjacency(chain, addr, dir, after, 1)?.is_empty())
    }

    /// The adjacency rows of `addr` in `dir` strictly after `after`, at most `limit`, in chain
    /// order: each the transfer when the row carries it (a store written before adjacency rows
    /// were keys only), or the key of the transfer row to read.
    fn adjacency(
        &self,
        chain: &str,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<AdjRow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        let Some(id) = self.addr_id(no, addr)? else { return Ok(Vec::new()) };
        let cf_name = match dir {
            Direction::Out => cf::ADDR_OUT,
            Direction::In => cf::ADDR_IN,
        };
        let prefix = id.to_be_bytes();
        let start = match after {
            Some((h, p)) => AdjKey { addr: id, height: h, pos: p }.encode().to_vec(),
            None => prefix.to_vec(),
        };
        let mut rows = Vec::new();
        let mut err = None;
        self.prefix_for_each_from(cf_name, &prefix, &start, |k, v| {
            let Some(adj) = AdjKey::decode(k) else {
                err = Some(StoreError::Corrupt("adjacency key".into()));
                return false;
            };
            if after.is_none_or(|a| (adj.height, adj.pos) > a) {
                let key = TransferKey { chain: no, height: adj.height, pos: adj.pos };
                if v.is_empty() {
                    rows.push(Err(key));
                } else {
                    match TransferRow::decode(&key, v) {
                        Some(t) => rows.push(Ok(t)),
                        None => {
                            err = Some(StoreError::Corrupt(format!("adjacency row at height {}", adj.height)));
                            return false;
                        }
                    }
                }
            }
            rows.len() < limit
        })?;
        err.map_or(Ok(rows), Err)
    }

    /// The transfers of `lists` (each from [`Store::adjacency`]), list by list in their order:
    /// each one given, or read by its key — every key of every list in one batched read, in key
    /// order.
    fn named_transfers(&self, mut lists: Vec<Vec<AdjRow>>) -> Result<Vec<Vec<Transfer>>, StoreError> {
        // (key, list, place): keys order as their encoding does (chain, height, position)
        let mut wanted: Vec<(TransferKey, usize, usize)> = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            for (j, row) in list.iter().enumerate() {
                if let Err(key) = row {
                    wanted.push((*key, i, j));
                }
            }
        }
        wanted.sort_unstable();
        let read = self.db.batched_multi_get_cf(self.cf(cf::TRANSFERS), wanted.iter().map(|w| w.0.encode()), true);
        for (&(key, i, j), value) in wanted.iter().zip(read) {
            let missing =
                || StoreError::Corrupt(format!("the transfer of an adjacency row at height {} is missing", key.height));
            let value = value?.ok_or_else(missing)?;
            let t = TransferRow::decode(&key, &value)
                .ok_or_else(|| StoreError::Corrupt(format!("transfer row at height {}", key.height)))?;
            lists[i][j] = Ok(t);
        }
        lists
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|row| {
                        row.map_err(|key| {
                            StoreError::Corrupt(format!(
                                "the transfer of an adjacency row at height {} was not read",
                                key.height
                            ))
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Number of transfers of `addr` in `dir`, at most `cap` (one point read of a counter kept
    /// by merge at write time; on a secondary instance, a count of at most `cap` adjacency rows).
    pub fn degree(&self, chain: &str, addr: &Address, dir: Direction, cap: u64) -> Result<u64, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(0) };
        let Some(id) = self.addr_id(no, addr)? else { return Ok(0) };
        if self.secondary {
            let cf_name = match dir {
                Direction::Out => cf::ADDR_OUT,
                Direction::In => cf::ADDR_IN,
            };
            let mut n = 0u64;
            self.prefix_for_each(cf_name, &id.to_be_bytes(), |_, _| {
                n += 1;
                n < cap
            })?;
            return Ok(n.min(cap));
        }
        let (out, inn) =
            self.db.get_cf(self.cf(cf::DEGREE), id.to_be_bytes())?.map_or((0, 0), |v| rows::degree_decode(&v));
        let n = match dir {
            Direction::Out => out,
            Direction::In => inn,
        };
        Ok(u64::try_from(n).unwrap_or(0).min(cap))
    }

    /// Visit every stored transfer of heights `from..=to` (linked and unlinked) in chain order;
    /// `f` returns false to stop.
    pub fn scan_transfers(
        &self,
        chain: &str,
        from: u64,
        to: u64,
        mut f: impl FnMut(Transfer) -> bool,
    ) -> Result<(), StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(()) };
        let start = BlockKey { chain: no, height: from }.encode();
        let mut err = None;
        self.prefix_for_each_from(cf::TRANSFERS, &no.to_be_bytes(), &start, |k, v| {
            let Some(key) = TransferKey::decode(k) else {
                err = Some(StoreError::Corrupt("transfer key".into()));
                return false;
            };
            if key.height > to {
                return false;
            }
            match TransferRow::decode(&key, v) {
                Some(t) => f(t),
                None => {
                    err = Some(StoreError::Corrupt(format!("transfer row at height {}", key.height)));
                    false
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    }

    /// Visit every address the chain has seen (including ones only in rolled-back blocks); `f`
    /// returns false to stop.
    pub fn scan_addresses(&self, chain: &str, mut f: impl FnMut(Address) -> bool) -> Result<(), StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(()) };
        self.prefix_for_each(cf::ADDRESSES, &no.to_be_bytes(), |k, _| match Address::from_key(&k[2..]) {
            Some(a) => f(a),
            None => true,
        })
    }

    // --- internal transfers filled in later -----------------------------------------------

    /// Heights of stored blocks of `chain` in `from..=to` whose internal (call-trace)
    /// transfers were not read ([`BlockData::internal_missing`]), ascending.
    pub fn blocks_without_internal_transfers(&self, chain: &str, from: u64, to: u64) -> Result<Vec<u64>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        if self.lock().chains.get(chain).is_none_or(|c| c.internal_missing_blocks == 0) {
            return Ok(Vec::new());
        }
        let start = BlockKey { chain: no, height: from }.encode();
        let mut out = Vec::new();
        let mut bad = None;
        self.prefix_for_each_from(cf::BLOCKS, &no.to_be_bytes(), &start, |k, v| {
            let Some(key) = BlockKey::decode(k) else {
                bad = Some("block key".to_string());
                return false;
            };
            if key.height > to {
                return false;
            }
            match BlockRow::decode(v) {
                Some(row) if row.internal_missing => out.push(key.height),
                Some(_) => {}
                None => {
                    bad = Some(format!("block row at height {}", key.height));
                    return false;
                }
            }
            true
        })?;
        bad.map_or(Ok(out), |what| Err(StoreError::Corrupt(what)))
    }

    /// Complete stored blocks whose internal transfers were missing with the same blocks read
    /// again with traces (`blocks`, each with `internal_missing` false), in one atomic batch.
    ///
    /// Every transfer of a block is stored under the key a full ingest would have given it, so
    /// afterwards the rows, counters and digest equal those of a store that ingested the blocks
    /// with traces from the start. Transfers already stored must be identical
    /// ([`StoreError::Conflict`] otherwise) and, on a chain fed only by linked ingest, must be
    /// all the block held ([`StoreError::Invalid`]); a block whose hash is not the stored
    /// one's is refused with [`StoreError::ParentMismatch`] (the chain reorganised: ingest it
    /// first). Blocks already complete are skipped (`skipped`). On error nothing is written.
    pub fn fill_internal_transfers(&self, chain: &str, blocks: &[BlockData]) -> Result<ApplySummary, StoreError> {
        self.with_new_ids(|w| self.fill_internal_locked(w, chain, blocks))
    }

    fn fill_internal_locked(
        &self,
        w: &mut WriterState,
        chain: &str,
        blocks: &[BlockData],
    ) -> Result<ApplySummary, StoreError> {
        let Some(mut state) = w.chains.get(chain).cloned() else {
            return Err(StoreError::Invalid(format!("the store holds no chain named {chain:?}")));
        };
        let mut batch = SortedBatch::default();
        let mut degrees = DegreeDeltas::default();
        let mut summary = ApplySummary::default();
        let mut acc = U256::from_be_bytes(state.digest_acc);
        for data in blocks {
            let b = &data.block;
            let Some(mut row) = self.block_row(state.no, b.height)? else {
                return Err(StoreError::Invalid(format!("{chain} block {} is not stored: ingest it first", b.height)));
            };
            if row.hash != b.hash {
                return Err(StoreError::ParentMismatch {
                    chain: chain.to_string(),
                    height: b.height,
                    expected: row.hash,
                    got: b.hash,
                });
            }
            if !row.internal_missing {
                summary.skipped += 1;
                continue;
            }
            if data.internal_missing {
                return Err(StoreError::Invalid(format!(
                    "{chain} block {}: the data to fill it with lacks internal transfers too",
                    b.height
                )));
            }
            let mut pending = FxHashSet::with_capacity_and_hasher(data.transfers.len(), Default::default());
            let mut existing = 0u32;
            for t in &data.transfers {
                if t.height != b.height {
                    return Err(StoreError::Invalid(format!(
                        "transfer in tx {} says height {} inside block {}",
                        t.tx, t.height, b.height
                    )));
                }
                match self.put_transfer(w, &mut state, &mut batch, t, true, &mut pending, &mut degrees)? {
                    Some(term) => {
                        acc = acc.wrapping_add(term);
                        state.transfers += 1;
                        summary.transfers += 1;
                    }
                    None => existing += 1,
                }
            }
            if !state.has_unlinked && existing != row.transfers {
                return Err(StoreError::Invalid(format!(
                    "{chain} block {}: {} transfers are stored, but only {existing} of them are in the block read again",
                    b.height, row.transfers
                )));
            }
            row.transfers = u32::try_from(data.transfers.len()).unwrap_or(u32::MAX);
            row.internal_missing = false;
            // The block read with traces may show conversions the first reading could not (an
            // unwrap paid to the user by an internal call): its flows replace the stored ones.
            self.delete_block_flows(state.no, b.height, &mut batch, &mut state.flows)?;
            self.put_block_flows(state.no, data, &mut batch, &mut state.flows)?;
            batch.put_cf(cf::BLOCKS, BlockKey { chain: state.no, height: b.height }.encode(), row.encode());
            state.internal_missing_blocks = state.internal_missing_blocks.saturating_sub(1);
            summary.blocks += 1;
        }
        state.digest_acc = acc.to_be_bytes();
        self.commit(w, chain, state, batch, degrees, false)?;
        Ok(summary)
    }

    /// Every stored transfer of `chain` at height `from` and above (linked and unlinked), in chain
    /// order, given to `f` (false stops the scan); and the chain's digest accumulator without
    /// them: [`Store::chain_digest`]'s value minus their per-transfer hashes (lower-case hex).
    /// A reader holding a copy of the chain's transfers below `from` (the tracer's snapshot)
    /// compares that with its copy's digest: equal, the store is the copy and these transfers.
    /// `None` when the store has no such chain or `f` stopped the scan.
    pub fn scan_transfers_since(
        &self,
        chain: &str,
        from: u64,
        mut f: impl FnMut(Transfer) -> bool,
    ) -> Result<Option<String>, StoreError> {
        let (Some(no), Some(acc)) = (self.chain_no(chain), self.lock().chains.get(chain).map(|c| c.digest_acc)) else {
            return Ok(None);
        };
        let mut sum = U256::ZERO;
        let mut err = None;
        let mut stopped = false;
        let start = BlockKey { chain: no, height: from }.encode();
        self.prefix_for_each_from(cf::TRANSFERS, &no.to_be_bytes(), &start, |k, v| {
            let Some(key) = TransferKey::decode(k) else {
                err = Some(StoreError::Corrupt("transfer key".into()));
                return false;
            };
            let Some(t) = TransferRow::decode(&key, v) else {
                err = Some(StoreError::Corrupt(format!("transfer row at height {}", key.height)));
                return false;
            };
            sum = sum.wrapping_add(TransferRow::digest_term(&key, v));
            stopped = !f(t);
            !stopped
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        Ok((!stopped).then(|| hex::encode(U256::from_be_bytes(acc).wrapping_sub(sum).to_be_bytes::<32>())))
    }

    // --- stats ---------------------------------------------------------------------------

    /// The chain's digest accumulator as its checkpoint records it (lower-case hex of the sum of
    /// its per-transfer hashes); `None` for a chain the store has not seen. Two states of one
    /// chain with the same value hold the same transfers: readers that keep a derived copy of a
    /// chain (the tracer's snapshot) key it by this. Reads no rows.
    pub fn chain_digest(&self, chain: &str) -> Option<String> {
        self.lock().chains.get(chain).map(|c| hex::encode(c.digest_acc))
    }

    /// What the store holds, with the order-independent digest of all stored transfers.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        let w = self.lock();
        let mut chains = BTreeMap::new();
        let mut digest_parts: Vec<(&String, [u8; 32])> = Vec::new();
        for (name, s) in &w.chains {
            chains.insert(
                name.clone(),
                ChainStats {
                    tip_height: s.tip.map(|t| t.height),
                    tip_hash: s.tip.map(|t| t.hash.to_hex()),
                    blocks: s.blocks,
                    transfers: s.transfers,
                    addresses: s.addresses,
                    blocks_without_internal_transfers: s.internal_missing_blocks,
                    conversions: s.flows.conversions,
                    bridge_events: s.flows.bridge_events,
                    price_points: s.flows.price_points,
                },
            );
            if s.transfers > 0 {
                digest_parts.push((name, s.digest_acc));
            }
        }
        digest_parts.sort();
        let mut h = Sha256::new();
        for (name, acc) in digest_parts {
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            h.update(acc);
        }
        drop(w);
        Ok(Stats { chains, labels: self.label_count()?, digest: hex::encode(h.finalize()) })
    }
}
