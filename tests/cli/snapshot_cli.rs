//! `chaintrace snapshot`: traces over the graph snapshot write the same case files, byte for
//! byte, as traces over the store; a store that grew after the snapshot was built is caught up
//! (same bytes again) and `chaintrace snapshot` folds the later transfers into the file (the
//! bytes a build writes); one that changed below the snapshot's tip is never read through the
//! stale snapshot; `kill -9` during a build or a fold leaves the store and the next one fine.
//!
//! The graphs are random (seed printed; `CHAINTRACE_TEST_SEED` replays one), written straight
//! into a store through the store's API with labelled exchange deposits, unlabelled hubs, a
//! token, amounts beyond 128 bits and multi-transfer transactions, then read by the real binary.

use crate::common::{strip_ansi, Workdir};

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Category, Hash32, Label, Position, Transfer, U256};
use chaintrace_store::Store;
use chaintrace_testkit::rng::{fresh_seed, Rng};

const CHAIN: &str = "ethereum";
const TOKEN: [u8; 20] = [0x77; 20];

fn addr(kind: u8, i: u64) -> Address {
    let mut b = [0u8; 20];
    b[0] = kind;
    b[12..].copy_from_slice(&i.to_be_bytes());
    Address::Evm(b)
}

fn block_hash(h: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&h.to_be_bytes());
    b[8] = 0xbb;
    Hash32(b)
}

fn seed() -> u64 {
    let s = std::env::var("CHAINTRACE_TEST_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(fresh_seed);
    println!("snapshot_cli seed {s} (replay with CHAINTRACE_TEST_SEED={s})");
    s
}

/// Blocks `from..to` of a random graph over `people` ordinary addresses: 2% deposits to 20
/// labelled exchange deposit addresses (which sweep to 2 hot wallets), 1% to 3 hubs, 20% token,
/// 1% of amounts above `u128::MAX`, some transactions with several transfers.
fn blocks(rng: &mut Rng, people: u64, from: u64, to: u64, per_block: u64) -> Vec<BlockData> {
    let mut out = Vec::new();
    for h in from..to {
        let parent = if h == 0 { Hash32::ZERO } else { block_hash(h - 1) };
        let time = 1_600_000_000 + h * 12;
        let mut d = BlockData::new(BlockRef { height: h, hash: block_hash(h), parent, time });
        let (mut tx_index, mut sub) = (0u32, 0u32);
        for i in 0..per_block {
            if i > 0 && rng.chance(1, 4) {
                sub += 1;
            } else if i > 0 {
                tx_index += 1;
                sub = 0;
            }
            let r = rng.below(100);
            let from = if r < 2 { addr(2, rng.below(20)) } else { addr(1, rng.below(people)) };
            let to = match r {
                0..2 => addr(3, rng.below(2)),
                2..4 => addr(2, rng.below(20)),
                4..5 => addr(4, rng.below(3)),
                _ => addr(1, rng.below(people)),
            };
            let mut amount = U256::from(1 + rng.below(1_000_000_000_000));
            if rng.chance(1, 100) {
                amount += U256::from(u128::MAX);
            }
            let mut tx = [0u8; 32];
            tx[..8].copy_from_slice(&h.to_be_bytes());
            tx[8..12].copy_from_slice(&tx_index.to_be_bytes());
            d.transfers.push(Transfer {
                tx: Hash32(tx),
                height: h,
                pos: Position { tx_index, sub },
                time,
                from,
                to,
                asset: if rng.chance(1, 5) { Asset::Token(TOKEN) } else { Asset::Native },
                amount,
            });
        }
        d.tx_count = tx_index + 1;
        out.push(d);
    }
    out
}

fn labels() -> Vec<Label> {
    let label = |a: Address, category: Category, ex: u64| Label {
        chain: Some(CHAIN.into()),
        address: a,
        category,
        entity: format!("Exchange{ex}"),
        source: "test".into(),
        confidence: 90,
        attrs: Default::default(),
    };
    let mut l: Vec<Label> = (0..20).map(|i| label(addr(2, i), Category::ExchangeDeposit, i % 2)).collect();
    l.extend((0..2).map(|i| label(addr(3, i), Category::Exchange, i)));
    l
}

/// Write blocks straight into the store at `w.store()` (the binary is not running).
fn put(w: &Workdir, blocks: &[BlockData], with_labels: bool) {
    let store = Store::open(&w.store()).expect("open store");
    for chunk in blocks.chunks(50) {
        store.apply_blocks(CHAIN, chunk).expect("apply blocks");
    }
    if with_labels {
        store.add_labels(&labels()).expect("labels");
    }
}

fn hex_of(a: &Address) -> String {
    a.to_string()
}

/// Trace `args` with the case written to `name`; returns the case file's bytes and whether the
/// snapshot was read (from the trace's info log).
fn trace(w: &Workdir, name: &str, args: &[String]) -> (Vec<u8>, bool) {
    let out = w.path().join(name);
    let mut a: Vec<&str> = vec!["-v", "trace", "--chain", CHAIN, "--out"];
    let out_s = out.display().to_string();
    a.push(&out_s);
    a.extend(args.iter().map(String::as_str));
    let run = w.cmd(&a).output().expect("run trace");
    let stderr = strip_ansi(&String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "trace {args:?} failed:\n{stderr}");
    let used = stderr.contains("source=\"snapshot\"");
    assert!(used || stderr.contains("source=\"store\""), "the trace log names its source:\n{stderr}");
    // over the snapshot the walk runs over its ids, over the store over addresses: the byte
    // comparisons below compare the two walks
    let walk = if used { "walk=\"ids\"" } else { "walk=\"addresses\"" };
    assert!(stderr.contains(walk), "expected {walk} in the trace log:\n{stderr}");
    (std::fs::read(&out).expect("case file"), used)
}

/// Traces of several shapes from random seeds.
fn trace_args(rng: &mut Rng, people: u64) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for policy in ["poison", "haircut", "fifo"] {
        for direction in ["forward", "backward"] {
            let mut a: Vec<String> = (0..3).map(|_| hex_of(&addr(1, rng.below(people)))).collect();
            a.extend(["--policy", policy, "--direction", direction, "--hops", "4"].map(String::from));
            all.push(a);
        }
    }
    // a wide case (thousands of edges: its file is formatted on two threads)
    let mut a: Vec<String> = (0..20).map(|_| hex_of(&addr(1, rng.below(people)))).collect();
    a.extend(["--policy", "poison", "--hops", "10", "--hub-degree", "1000000"].map(String::from));
    all.push(a);
    let s = || hex_of(&addr(1, 7));
    all.push(vec![s(), "--asset".into(), hex_of(&Address::Evm(TOKEN)), "--policy".into(), "haircut".into()]);
    all.push(vec![s(), "--min-amount".into(), "0.0000005".into(), "--hub-degree".into(), "30".into()]);
    all.push(vec![s(), "--since".into(), "20".into(), "--until".into(), "150".into(), "--hops".into(), "8".into()]);
    all
}

#[test]
fn traces_over_the_snapshot_write_the_same_case_files_as_over_the_store() {
    let mut rng = Rng::new(seed());
    let w = Workdir::new();
    let people = 400;
    put(&w, &blocks(&mut rng, people, 0, 200, 40), true);
    let cases = trace_args(&mut rng, people);
    let over_store: Vec<Vec<u8>> = cases
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (bytes, used) = trace(&w, &format!("store-{i}.json"), a);
            assert!(!used, "no snapshot was built yet");
            bytes
        })
        .collect();
    let built = w.json(&["snapshot"]);
    assert_eq!(built[0]["state"], "built", "{built}");
    assert_eq!(built[0]["transfers"], 200 * 40, "{built}");
    let mut wide = 0;
    for (i, a) in cases.iter().enumerate() {
        let (bytes, used) = trace(&w, &format!("snap-{i}.json"), a);
        assert!(used, "the fresh snapshot is read");
        assert!(bytes == over_store[i], "case file {i} ({a:?}) differs between the store and the snapshot");
        // `trace --out` renders the edges as it writes them (on two threads for a wide case):
        // the file is serde_json's pretty text of what it holds, byte for byte
        let case = chaintrace_model::CaseFile::from_json_bytes(&bytes).expect("case file reads");
        let canonical = serde_json::to_string_pretty(&case).expect("serialise") + "\n";
        assert!(
            canonical.as_bytes() == bytes.as_slice(),
            "case file {i} ({a:?}) is not the pretty JSON of its content"
        );
        wide += usize::from(case.nodes.len() + case.edges.len() + case.deposits.len() >= 4096);
    }
    assert!(wide > 0, "no case was wide enough to be written on two threads");
    // a fresh snapshot is left alone
    assert_eq!(w.json(&["snapshot"])[0]["state"], "fresh");
    w.verified();
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &std::path::Path) -> std::collections::BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("list").flatten() {
        let m = e.metadata().expect("metadata");
        let name = e.file_name().to_string_lossy().into_owned();
        if m.is_dir() {
            out.extend(listing(&e.path()).into_iter().map(|(k, v)| (format!("{name}/{k}"), v)));
        } else {
            out.insert(name, (m.len(), m.modified().expect("mtime")));
        }
    }
    out
}

#[test]
fn a_trace_writes_nothing_into_the_store() {
    let mut rng = Rng::new(seed());
    let w = Workdir::new();
    let people = 300;
    put(&w, &blocks(&mut rng, people, 0, 120, 30), true);
    let args = |p: &str| vec![hex_of(&addr(1, 3)), hex_of(&addr(1, 4)), "--policy".into(), p.into()];
    // over the store, then over its snapshot: the directory is left as it was, byte for byte
    let before = listing(&w.store());
    let (over_store, used) = trace(&w, "store.json", &args("haircut"));
    assert!(!used);
    assert_eq!(listing(&w.store()), before, "a trace over the store wrote into it");
    w.ok(&["snapshot"]);
    let before = listing(&w.store());
    for p in ["poison", "haircut", "fifo"] {
        let (bytes, used) = trace(&w, &format!("snap-{p}.json"), &args(p));
        assert!(used);
        if p == "haircut" {
            assert!(bytes == over_store, "the read-only trace over the snapshot differs from the one over the store");
        }
    }
    assert_eq!(listing(&w.store()), before, "a trace over the snapshot wrote into the store");
    // two traces at once share the store (each holds a shared lock)
    let reader =
        Store::open_read_only(&w.store(), chaintrace_store::ReadScope::Rows).expect("a reader beside the traces");
    let (again, _) = trace(&w, "again.json", &args("haircut"));
    assert!(again == over_store);
    drop(reader);
    w.verified();
}

/// The case file of `args` traced over the store alone (the snapshots moved aside meanwhile).
fn over_the_store(w: &Workdir, name: &str, args: &[String]) -> Vec<u8> {
    let aside = w.path().join("snapshots-aside");
    std::fs::rename(w.store().join("snapshots"), &aside).expect("move the snapshots aside");
    let (bytes, used) = trace(w, name, args);
    std::fs::rename(&aside, w.store().join("snapshots")).expect("move them back");
    assert!(!used);
    bytes
}

/// Run `trace` with `args` and return its log.
fn trace_log(w: &Workdir, args: &[String]) -> String {
    let mut a: Vec<&str> = vec!["-v", "trace", "--chain", CHAIN];
    a.extend(args.iter().map(String::as_str));
    let out = w.cmd(&a).output().expect("run");
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// A branch replacing the store's blocks above `fork`, up to `to`: other block hashes, other
/// transfers.
fn replacement(rng: &mut Rng, people: u64, fork: u64, to: u64) -> Vec<BlockData> {
    let mut branch = blocks(rng, people, fork + 1, to, 30);
    for b in &mut branch {
        b.block.hash.0[9] = 0xee;
        if b.block.height > fork + 1 {
            b.block.parent.0[9] = 0xee;
        }
    }
    branch[0].block.parent = block_hash(fork);
    branch
}

#[test]
fn a_grown_store_is_caught_up_and_one_changed_below_the_snapshot_is_never_read_through_it() {
    let mut rng = Rng::new(seed());
    let w = Workdir::new();
    let people = 300;
    let all = blocks(&mut rng, people, 0, 160, 30);
    put(&w, &all[..100], true);
    w.ok(&["snapshot"]);
    let args = vec![hex_of(&addr(1, 5)), hex_of(&addr(1, 6)), "--policy".into(), "haircut".into()];
    // the store grows: the snapshot is caught up with the later blocks' transfers in memory and
    // answers as the store does
    put(&w, &all[100..], false);
    let later: usize = all[100..].iter().map(|b| b.transfers.len()).sum();
    let log = trace_log(&w, &args);
    assert!(log.contains("caught up") && log.contains(&format!("later_transfers={later}")), "{log}");
    assert!(!log.contains("older than the store"), "{log}");
    for (p, d) in [
        ("haircut", "forward"),
        ("poison", "forward"),
        ("fifo", "forward"),
        ("haircut", "backward"),
        ("poison", "backward"),
    ] {
        let (a, b) = (hex_of(&addr(1, 5)), hex_of(&addr(1, 6)));
        let args = vec![a, b, "--policy".into(), p.into(), "--direction".into(), d.into()];
        let p = format!("{p}-{d}");
        let (grown, used) = trace(&w, &format!("grown-{p}.json"), &args);
        assert!(used, "{p}: the caught-up snapshot is read");
        let reference = over_the_store(&w, &format!("grown-store-{p}.json"), &args);
        assert!(grown == reference, "{p}: the trace over the caught-up snapshot differs from the one over the store");
    }
    // a reorg above the snapshot's tip changes only what it was caught up with
    let store = Store::open(&w.store()).expect("open");
    store.rollback_to(CHAIN, 120).expect("rollback");
    store.apply_blocks(CHAIN, &replacement(&mut rng, people, 120, 160)).expect("replacement branch");
    drop(store);
    let (above, used) = trace(&w, "reorged-above.json", &args);
    assert!(used, "a snapshot below the fork is caught up with the new branch");
    assert!(above == over_the_store(&w, "reorged-above-store.json", &args));
    // a reorg below its tip: the store no longer holds the snapshot's transfers, though it is
    // higher than the snapshot's tip again; the trace reads the store and says so
    let store = Store::open(&w.store()).expect("open");
    store.rollback_to(CHAIN, 80).expect("rollback");
    store.apply_blocks(CHAIN, &replacement(&mut rng, people, 80, 160)).expect("replacement branch");
    drop(store);
    let log = trace_log(&w, &args);
    assert!(log.contains("older than the store") && log.contains("chaintrace snapshot"), "{log}");
    let (below, used) = trace(&w, "reorged-below.json", &args);
    assert!(!used, "a snapshot of the old branch is not read");
    assert!(below == over_the_store(&w, "reorged-below-store.json", &args));
    // rebuilt: read again as built, same bytes as the store's answer
    assert_eq!(w.json(&["snapshot"])[0]["state"], "built");
    let (rebuilt, used) = trace(&w, "rebuilt.json", &args);
    assert!(used && rebuilt == below);
    assert!(!trace_log(&w, &args).contains("caught up"));
    // grown again, `chaintrace snapshot` folds the later transfers into the file
    // (on the replacement branch's tip)
    let mut more = blocks(&mut rng, people, 160, 170, 30);
    for b in &mut more {
        b.block.hash.0[9] = 0xee;
        b.block.parent.0[9] = 0xee;
    }
    put(&w, &more, false);
    assert!(trace_log(&w, &args).contains("caught up"));
    assert_eq!(w.json(&["snapshot"])[0]["state"], "folded", "a caught-up snapshot is folded into one file");
    assert_eq!(w.json(&["snapshot"])[0]["state"], "fresh");
    assert!(!trace_log(&w, &args).contains("caught up"));
    // the folded file is the one a build from the store writes, byte for byte
    let file = w.store().join("snapshots/ethereum.snap");
    let folded = std::fs::read(&file).expect("read the folded file");
    assert_eq!(w.json(&["snapshot", "--rebuild"])[0]["state"], "built");
    assert!(std::fs::read(&file).expect("read the built file") == folded, "the folded file differs from a build");
    w.verified();
}

#[test]
fn kill_9_during_a_snapshot_build_or_fold_leaves_the_store_and_the_next_one_fine() {
    let mut rng = Rng::new(seed());
    let w = Workdir::new();
    let people = 20_000;
    put(&w, &blocks(&mut rng, people, 0, 250, 500), true);
    let args = vec![hex_of(&addr(1, 11)), "--policy".into(), "fifo".into(), "--hops".into(), "3".into()];
    let (reference, _) = trace(&w, "reference.json", &args);
    let before = w.verified();
    // how long a full build takes here, then kills spread over it
    let started = std::time::Instant::now();
    w.ok(&["snapshot"]);
    let full = started.elapsed();
    std::fs::remove_dir_all(w.store().join("snapshots")).expect("remove snapshots");
    println!("a full build takes {full:?}");
    let mut killed_mid_build = 0;
    for k in 0..8u32 {
        let mut child = w.cmd(&["snapshot", "--rebuild"]).spawn().expect("spawn snapshot");
        std::thread::sleep(full * k / 8 + std::time::Duration::from_millis(rng.below(20)));
        let finished = child.try_wait().expect("try_wait").is_some();
        child.kill().ok(); // SIGKILL
        child.wait().expect("wait");
        if !finished {
            killed_mid_build += 1;
        }
        // the store is intact and the trace answers as before (from a complete snapshot or the store)
        assert_eq!(w.verified(), before, "kill {k}: the store changed");
        let (bytes, _) = trace(&w, &format!("after-kill-{k}.json"), &args);
        assert!(bytes == reference, "kill {k}: the trace changed");
        // nothing half-written under the final name
        let snap = w.store().join("snapshots/ethereum.snap");
        if snap.exists() {
            assert_eq!(w.json(&["snapshot"])[0]["state"], "fresh", "kill {k}: the snapshot left behind is complete");
            std::fs::remove_file(&snap).expect("remove");
        }
    }
    println!("{killed_mid_build} of 8 kills landed during a build");
    assert!(killed_mid_build >= 3, "the kills must land during builds");
    let built = w.json(&["snapshot"]);
    assert_eq!(built[0]["state"], "built");
    let leftovers: Vec<_> = std::fs::read_dir(w.store().join("snapshots"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["ethereum.snap".to_string()], "the next build removes the temp files of killed ones");
    let (bytes, used) = trace(&w, "after.json", &args);
    assert!(used && bytes == reference);

    // the same for folds: the store grows, and `chaintrace snapshot` folds the caught-up
    // snapshot into one file; each kill starts again from the snapshot of before the growth
    let file = w.store().join("snapshots/ethereum.snap");
    let base = std::fs::read(&file).expect("read the snapshot");
    put(&w, &blocks(&mut rng, people, 250, 330, 500), false);
    let (reference, _) = trace(&w, "grown-reference.json", &args);
    let before = w.verified();
    let started = std::time::Instant::now();
    assert_eq!(w.json(&["snapshot"])[0]["state"], "folded");
    let full = started.elapsed();
    println!("a fold takes {full:?}");
    let mut killed_mid_fold = 0;
    for k in 0..8u32 {
        std::fs::write(&file, &base).expect("the snapshot of before the growth");
        let mut child = w.cmd(&["snapshot"]).spawn().expect("spawn snapshot");
        std::thread::sleep(full * k / 8 + std::time::Duration::from_millis(rng.below(20)));
        let finished = child.try_wait().expect("try_wait").is_some();
        child.kill().ok(); // SIGKILL
        child.wait().expect("wait");
        killed_mid_fold += usize::from(!finished);
        assert_eq!(w.verified(), before, "fold kill {k}: the store changed");
        // the file left is the old one (caught up again) or the whole folded one
        let state = w.json(&["snapshot"])[0]["state"].clone();
        assert!(state == "folded" || state == "fresh", "fold kill {k}: {state}");
        let (bytes, used) = trace(&w, &format!("after-fold-kill-{k}.json"), &args);
        assert!(used && bytes == reference, "fold kill {k}: the trace changed");
    }
    println!("{killed_mid_fold} of 8 kills landed during a fold");
    assert!(killed_mid_fold >= 3, "the kills must land during folds");
}
