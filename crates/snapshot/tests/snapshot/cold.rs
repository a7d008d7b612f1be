//! A snapshot opened while the page cache holds little of it asks for its reads ahead, many at
//! once (`Snapshot::read_ahead`, `Snapshot::hashes_ahead`), and answers exactly as one opened
//! with the file cached. The page cache's state is measured with the test's own `mincore`.

use std::time::{Duration, Instant};

use chaintrace_model::{Direction, Hash32, U256};
use chaintrace_snapshot::Snapshot;

use crate::pages::{evict, resident, small_snapshot};

/// Every record of every address, both directions, and the hashes of their transactions.
type Answers = (Vec<(u32, Direction, u64, u32, U256, u32)>, Vec<Hash32>);

fn answers(s: &Snapshot) -> Answers {
    let mut rows = Vec::new();
    for id in 0..s.address_count() as u32 {
        s.records_both(id, |dir, r| rows.push((id, dir, r.height, r.other, r.amount, r.tx))).expect("records");
    }
    let txs: Vec<u32> = rows.iter().map(|r| r.5).collect();
    let hashes = s.tx_hashes(&txs).expect("hashes");
    (rows, hashes)
}

#[test]
fn a_snapshot_opened_from_a_cold_cache_reads_ahead_and_answers_the_same() {
    let (_dir, path, sent) = small_snapshot();
    let warm = Snapshot::open(&path).expect("open");
    assert!(!warm.reads_ahead(), "a file just built is cached (resident {}): nothing is read ahead", resident(&path));
    let expected = answers(&warm);
    let sends = expected.0.iter().filter(|r| r.1 == Direction::Out).count() as u64;
    assert_eq!(sends, sent.iter().sum::<u64>(), "every send read");
    drop(warm);

    evict(&path);
    let measured = resident(&path);
    let cold = Snapshot::open(&path).expect("open");
    if measured >= 0.9 {
        // a file system that keeps every page: nothing to read ahead
        assert!(!cold.reads_ahead(), "{measured} of the file cached");
        assert_eq!(answers(&cold), expected);
        return;
    }
    assert!(cold.reads_ahead(), "only {measured} of the file cached, yet no reads ahead");
    // the lists asked for arrive without a read of ours
    let before = resident(&path);
    cold.read_ahead(0..cold.address_count() as u32);
    let asked = Instant::now();
    while resident(&path) <= before && asked.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = resident(&path);
    assert!(
        after > before,
        "nothing arrived in 10 s after asking for every list ({before} cached before, {after} after)"
    );
    let txs: Vec<u32> = expected.0.iter().map(|r| r.5).collect();
    cold.hashes_ahead(&txs);
    assert_eq!(answers(&cold), expected, "the same answers from a cold cache");
    // once re-cached whole it reads nothing ahead again
    let r = cold.recache();
    assert!(!cold.reads_ahead(), "{r}");
    assert_eq!(answers(&cold), expected, "the same answers after re-caching");
    // paged out later while the process keeps it open (an idle workbench): once the last
    // sample is a second old it reads ahead again
    evict(&path);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(cold.reads_ahead(), "evicted again ({} cached), yet no reads ahead", resident(&path));
    assert_eq!(answers(&cold), expected, "the same answers after the second eviction");
}
