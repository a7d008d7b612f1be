//! Crash safety: a child process works on a store and is killed with SIGKILL at random moments,
//! again and again — while it ingests (with the WAL, and through `Store::open_bulk`, whose
//! batches' rows go in as ingested table files behind an undo record), while it rolls blocks
//! back and re-applies them, while it compacts the whole store (`Store::compact`, after batches
//! written either way), and while
//! it is still reopening (recovering the write-ahead log) after the previous kill. After every
//! kill the reopened store must pass `verify` (every figure recomputed from the rows agrees with
//! the checkpoint) and hold exactly the blocks up to its checkpoint: its recomputed digest equals
//! that of a clean store that ingested those blocks, nothing lost, nothing duplicated.
//!
//! The kill moments come from a fresh random seed each run, printed so a failure can be
//! replayed with `CHAINTRACE_CRASH_SEED=<seed>`. (A custom harness, so the child mode is not a
//! test of its own.)
// The custom harness prints the seed (for replay) and its figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use chaintrace_model::{BlockData, Hash32};
use chaintrace_store::Store;
// The kill moments.
use chaintrace_testkit::rng::Rng;

/// Kills per mode; five modes, so 350 SIGKILLs in all.
const KILLS_PER_MODE: usize = 70;
/// The synthetic chain's last height: the child keeps the store at most this long (rolling
/// back and re-applying beyond it), so every check stays cheap and the reference is fixed.
const TOP: u64 = 240;

/// What the child does until it is killed.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Ingest forever, in batches of 1 to 13 blocks.
    Ingest,
    /// Roll back 1 to 9 blocks and apply them again, forever (the stored chain stays a prefix
    /// of the same chain, so the clean store is known without asking the store).
    Rollback,
    /// Killed within milliseconds of starting: mostly while `Store::open` replays the WAL.
    Reopen,
    /// Ingest as `Ingest` through [`Store::open_bulk`] (each batch's rows as table files,
    /// ingested behind an undo record, then its checkpoint), dropping and reopening the handle
    /// every few batches, so kills land inside batches (between ingesting the files and
    /// writing the checkpoint: the next open undoes them), during flushes and during reopens.
    Bulk,
    /// Apply a batch, then compact the whole store, forever; every other child writes its
    /// batches through [`Store::open_bulk`] (table files). A marker file exists exactly while `compact` runs, so the parent knows
    /// which kills landed inside a compaction.
    Compact,
}

/// Bulk mode: batches written between two reopens of the handle.
const BULK_BATCHES_PER_OPEN: u64 = 3;

/// Blocks `from..from+n` of the synthetic chain, given the hash of block `from - 1`.
fn blocks_after(from: u64, parent: Hash32, n: u64) -> Vec<BlockData> {
    let mut out = Vec::new();
    let mut parent = parent;
    for h in from..from + n {
        let b = common::block(h, parent, 0);
        parent = b.block.hash;
        out.push(b);
    }
    out
}

fn tip_of(store: &Store) -> (u64, Hash32) {
    store.tip("ethereum").expect("tip").map_or((0, Hash32::ZERO), |t| (t.height + 1, t.hash))
}

fn child(dir: &str, mode: &str) -> ! {
    let path = std::path::Path::new(dir);
    let open = |bulk: bool| if bulk { Store::open_bulk(path) } else { Store::open(path) };
    let bulk = mode == "bulk" || mode == "compact-bulk";
    let compacting = mode.starts_with("compact");
    let mut store = open(bulk).expect("child opens the store");
    // Tell the parent the store is open, so its kill timer measures work, not process start-up
    // (which on a loaded machine can take longer than the whole timer).
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "open");
        let _ = out.flush();
    }
    let mut batch = 1u64;
    let mut written = 0u64;
    loop {
        if bulk && written > 0 && written.is_multiple_of(BULK_BATCHES_PER_OPEN) {
            // Dropping the handle flushes its memtables.
            drop(store);
            store = open(true).expect("child reopens the store");
        }
        written += 1;
        let (next, parent) = tip_of(&store);
        match mode {
            "ingest" | "bulk" | "compact" | "compact-bulk" if next + batch > TOP => {
                store.rollback_to("ethereum", batch * 13).expect("rollback at the top");
            }
            "rollback" if next > 12 => {
                let back = batch % 9 + 1;
                store.rollback_to("ethereum", next - 1 - back).expect("rollback");
                let (from, parent) = tip_of(&store);
                store.apply_blocks("ethereum", &blocks_after(from, parent, back)).expect("re-apply");
                // One byte per completed cycle, so the parent sees that the child was working.
                let cycles = format!("{dir}.cycles");
                let n = std::fs::metadata(&cycles).map_or(0, |m| m.len());
                std::fs::write(&cycles, vec![b'.'; n as usize + 1]).expect("cycle counter");
            }
            _ => {
                store.apply_blocks("ethereum", &blocks_after(next, parent, batch)).expect("apply");
            }
        }
        if compacting {
            let marker = format!("{dir}.compacting");
            std::fs::write(&marker, b"").expect("compaction marker");
            store.compact().expect("compact");
            std::fs::remove_file(&marker).expect("remove the compaction marker");
            let done = format!("{dir}.compactions");
            let n = std::fs::metadata(&done).map_or(0, |m| m.len());
            std::fs::write(&done, vec![b'.'; n as usize + 1]).expect("compaction counter");
        }
        batch = batch % 13 + 1;
    }
}

fn main() {
    if let (Ok(dir), Ok(mode)) = (std::env::var("CHAINTRACE_CRASH_CHILD"), std::env::var("CHAINTRACE_CRASH_MODE")) {
        child(&dir, &mode);
    }
    let seed = chaintrace_testkit::rng::seed_from_env("CHAINTRACE_CRASH_SEED");
    println!("crash: seed {seed} (replay with CHAINTRACE_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().expect("temp dir");
    let db = tmp.path().join("db");
    // The reference: a clean store fed block by block, its digest recomputed from its rows at
    // every height.
    let clean = Store::open(&tmp.path().join("clean")).expect("clean store");
    let chain = blocks_after(0, Hash32::ZERO, TOP + 1);
    let mut reference = Vec::new();
    for b in &chain {
        clean.apply_blocks("ethereum", std::slice::from_ref(b)).expect("clean apply");
        let v = clean.verify(None).expect("verify the reference");
        assert!(v.ok(), "the reference store verifies");
        reference.push((v.digest, b.block.hash));
    }
    let empty = Store::open(&tmp.path().join("empty")).expect("empty store").verify(None).expect("verify").digest;
    let exe = std::env::current_exe().expect("own path");
    let started = Instant::now();
    let mut kills = 0;
    let mut advanced = 0;
    let mut cycled = 0;
    let cycles_file = format!("{}.cycles", db.display());
    let cycles = || std::fs::metadata(&cycles_file).map_or(0, |m| m.len());
    let mut bulk_advanced = 0;
    let marker = std::path::PathBuf::from(format!("{}.compacting", db.display()));
    let compactions_file = format!("{}.compactions", db.display());
    let compactions = || std::fs::metadata(&compactions_file).map_or(0, |m| m.len());
    let (mut compacted, mut mid_compaction) = (0, 0);
    let mut mid_batch_files = 0;
    for mode in [
        Mode::Ingest,
        Mode::Rollback,
        Mode::Reopen,
        Mode::Bulk,
        Mode::Compact,
        Mode::Ingest,
        Mode::Rollback,
        Mode::Reopen,
        Mode::Bulk,
        Mode::Compact,
    ] {
        for _ in 0..KILLS_PER_MODE / 2 {
            let cycles_before = cycles();
            let compactions_before = compactions();
            let _ = std::fs::remove_file(&marker);
            let child_mode = match mode {
                Mode::Compact if kills % 2 == 1 => "compact-bulk".to_string(),
                _ => format!("{mode:?}").to_lowercase(),
            };
            let before =
                Store::open(&db).ok().and_then(|s| s.tip("ethereum").ok().flatten()).map(|t| (t.height, t.hash));
            let mut child = Command::new(&exe)
                .env("CHAINTRACE_CRASH_CHILD", &db)
                .env("CHAINTRACE_CRASH_MODE", &child_mode)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn the child");
            // Ingest and rollback kills are timed from the moment the child has the store open;
            // reopen kills from the spawn, so they land in `Store::open`'s recovery.
            if !matches!(mode, Mode::Reopen) {
                let mut line = String::new();
                let out = child.stdout.as_mut().expect("piped stdout");
                std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("child's ready line");
            }
            let wait = match mode {
                Mode::Ingest => 5 + rng.next_u64() % 100,
                // Each reopen flushes: give the child time for a few reopens on a loaded machine.
                Mode::Bulk => 10 + rng.next_u64() % 150,
                Mode::Rollback => 20 + rng.next_u64() % 120,
                // A whole-store compaction (every family flushed and rewritten, each file
                // synced) takes some 100 ms to a few hundred on a loaded machine.
                Mode::Compact => 20 + rng.next_u64() % 800,
                Mode::Reopen => rng.next_u64() % 12,
            };
            std::thread::sleep(Duration::from_millis(wait));
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            kills += 1;

            // A bulk batch's undo record: the kill landed while its files were being ingested
            // (or before its checkpoint was written); the open below finishes or undoes it.
            mid_batch_files += usize::from(db.join("bulk-load/undo").exists());
            let store = Store::open(&db).expect("store reopens after SIGKILL");
            let tip = store.tip("ethereum").expect("tip");
            let verified = store.verify(None).expect("verify runs");
            for c in &verified.chains {
                assert!(c.ok(), "kill {kills} ({mode:?}, seed {seed}): verify found {:?}", c.problems);
            }
            let (want, want_hash) = match tip {
                Some(t) => {
                    let (d, h) = &reference[t.height as usize];
                    (d.clone(), Some(*h))
                }
                None => (empty.clone(), None),
            };
            assert_eq!(tip.map(|t| t.hash), want_hash, "kill {kills} ({mode:?}, seed {seed}): tip hash");
            assert_eq!(
                verified.digest,
                want,
                "kill {kills} ({mode:?}, seed {seed}): digest at tip {:?} differs from a clean store",
                tip.map(|t| t.height)
            );
            let after = store.tip("ethereum").expect("tip").map(|t| (t.height, t.hash));
            match mode {
                Mode::Ingest if after != before => advanced += 1,
                Mode::Bulk if after != before => bulk_advanced += 1,
                Mode::Rollback if cycles() > cycles_before => cycled += 1,
                _ => {}
            }
            if matches!(mode, Mode::Compact) {
                compacted += usize::from(compactions() > compactions_before);
                mid_compaction += usize::from(marker.exists());
            }
        }
    }
    assert!(kills >= 350, "only {kills} kills");
    // The compaction kills: the child completed compactions between kills, and a good share of
    // the kills landed while `compact` was running.
    assert!(
        compacted >= KILLS_PER_MODE / 4 && mid_compaction >= KILLS_PER_MODE / 4,
        "of {KILLS_PER_MODE} compaction kills, {compacted} found a compaction completed and {mid_compaction} landed inside one"
    );
    assert!(bulk_advanced >= KILLS_PER_MODE / 4, "only {bulk_advanced} bulk kills found the tip moved");
    // Bulk batches write their rows as table files: some kills must land between a batch's
    // undo record and its checkpoint, and recovery must have left the store as checked above.
    assert!(mid_batch_files >= 1, "no bulk kill landed inside a batch's file ingestion");
    // Every ingest and rollback kill lands after the child reported the store open, i.e. inside
    // its work loop. That the loop really changes the store between kills is shown by the tip
    // moving (ingest) and by completed rollback cycles (rollback), on a good share of kills.
    assert!(advanced >= KILLS_PER_MODE / 4, "only {advanced} ingest kills found the tip moved");
    assert!(cycled >= KILLS_PER_MODE / 4, "only {cycled} rollback kills found a rollback cycle completed");
    println!(
        "crash: {kills} SIGKILLs survived (ingest {advanced} advancing, rollback {cycled} cycling, reopen {}, bulk {bulk_advanced} advancing and {mid_batch_files} inside a batch's file ingestion, compact {compacted} compacting and {mid_compaction} inside a compaction), in {:.1}s",
        KILLS_PER_MODE,
        started.elapsed().as_secs_f64()
    );
}
