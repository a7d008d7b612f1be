//! Crash safety: a child process ingests synthetic blocks and is killed with SIGKILL at random
//! moments, again and again. After every kill the reopened store must hold exactly the blocks up
//! to its checkpoint: its digest equals a clean store that ingested those blocks, nothing lost,
//! nothing duplicated. (A custom harness, so the child mode is not a test of its own.)

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use chaintrace_model::Hash32;
use chaintrace_store::Store;

const KILLS: usize = 24;

/// Blocks `from..from+n` of the synthetic chain, given the hash of block `from - 1`.
fn blocks_after(from: u64, parent: Hash32, n: u64) -> Vec<chaintrace_model::BlockData> {
    let mut out = Vec::new();
    let mut parent = parent;
    for h in from..from + n {
        let b = common::block(h, parent, 0);
        parent = b.block.hash;
        out.push(b);
    }
    out
}

/// Ingest forever, in batches of 1 to 13 blocks, until killed.
fn child(dir: &str) -> ! {
    let store = Store::open(std::path::Path::new(dir)).expect("child opens the store");
    let mut batch = 1u64;
    loop {
        let (next, parent) = store.tip("ethereum").unwrap().map_or((0, Hash32::ZERO), |t| (t.height + 1, t.hash));
        store.apply_blocks("ethereum", &blocks_after(next, parent, batch)).unwrap();
        batch = batch % 13 + 1;
    }
}

fn main() {
    if let Ok(dir) = std::env::var("CHAINTRACE_CRASH_CHILD") {
        child(&dir);
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let clean_dir = tmp.path().join("clean");
    let clean = Store::open(&clean_dir).unwrap();
    let mut clean_tip: Option<u64> = None;
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut last_tip = None;
    let mut advanced = 0;
    let started = Instant::now();
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .env("CHAINTRACE_CRASH_CHILD", &db)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(20 + rng % 200));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = Store::open(&db).expect("store reopens after SIGKILL");
        let tip = store.tip("ethereum").unwrap().map(|t| t.height);
        if let Some(h) = tip {
            let from = clean_tip.map_or(0, |t| t + 1);
            let parent = clean.tip("ethereum").unwrap().map_or(Hash32::ZERO, |t| t.hash);
            clean.apply_blocks("ethereum", &blocks_after(from, parent, h + 1 - from)).unwrap();
            clean_tip = Some(h);
            assert_eq!(store.tip("ethereum").unwrap(), clean.tip("ethereum").unwrap(), "kill {kill}");
        }
        let (got, want) = (store.stats().unwrap(), clean.stats().unwrap());
        assert_eq!(got.digest, want.digest, "kill {kill}: digest after reopen at tip {tip:?}");
        assert_eq!(
            got.chains.get("ethereum").map(|c| (c.blocks, c.transfers)),
            want.chains.get("ethereum").map(|c| (c.blocks, c.transfers)),
            "kill {kill}"
        );
        assert!(tip >= last_tip, "kill {kill}: checkpoint went backwards");
        if tip > last_tip {
            advanced += 1;
        }
        last_tip = tip;
        println!("kill {kill:>2}: tip {tip:?}, digest matches a clean store");
    }
    assert!(advanced >= KILLS / 2, "only {advanced} of {KILLS} kills interrupted an ingest in progress");
    println!("crash: {KILLS} SIGKILLs survived in {:.1}s", started.elapsed().as_secs_f64());
}
