//! Deterministic mutation run of the case-file codec (the `case_file` fuzz target's stand-in
//! inside `cargo test`): a case file in the canonical layout, mutated a few thousand times with
//! a seeded generator (bit flips, truncations, splices, inserted bytes and JSON tokens), must
//! read to a case or an error — never a panic — and a case that reads must write the
//! canonical text, which reads back to the same case.

use crate::CaseFile;
use chaintrace_testkit::mutate::Mutator;

const DICT: &[&[u8]] = &[
    b"null",
    b"[]",
    b"{}",
    b"\"\"",
    b"-1",
    b"18446744073709551616",
    b"1e400",
    b"\"\\ud800\"",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\"version\": 2",
    b"\"policy\": \"fifo\"",
    b"\"direction\": \"backward\"",
    b"\"role\": \"deposit\"",
    b"\"amount_raw\": \"115792089237316195423570985008687907853269984665640564039457584007913129639936\"",
];

/// A case file with every section filled, in the canonical layout `to_json` writes.
const SEED: &str = r#"{"version": 1, "chain": "ethereum", "seeds": ["0x098b716b8aaf21512996dc57eb0615e2383e2f96"],
    "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": "0.5",
               "asset": null, "since": "2024-01-01T00:00:00Z", "until": null, "seeds_label": null, "hub_degree": 1000},
    "provenance": {"tool_version": "0.1.0", "store_tips": {"ethereum": {"height": 19000000, "hash": "ab"}}, "labels_hash": "cd"},
    "nodes": [{"address": "0x098b716b8aaf21512996dc57eb0615e2383e2f96", "hop": 0, "role": "seed",
               "labels": [{"category": "sanctioned", "entity": "LAZARUS GROUP", "source": "ofac"}],
               "stop_reason": null, "cluster": null},
              {"address": "0x00000000000000000000000000000000000000aa", "hop": 1, "role": "intermediate",
               "labels": [], "stop_reason": "hops", "cluster": null}],
    "edges": [{"from": "0x098b716b8aaf21512996dc57eb0615e2383e2f96", "to": "0x00000000000000000000000000000000000000aa",
               "tx": "0x01", "block": 19000000, "time": "2024-01-02T03:04:05Z", "asset": "ETH", "symbol": "ETH",
               "amount": "1.5", "amount_raw": "1500000000000000000", "traced_amount": "1.5", "usd": "3000.00"}],
    "deposits": []}"#;

#[test]
fn mutated_case_files_never_panic_and_what_reads_round_trips() {
    let seed = CaseFile::from_json_str(SEED).expect("the seed case file reads").to_json().into_bytes();
    let mut m = Mutator::new(0xca5e_f11e_0000_0003);
    let mut read = 0;
    let rounds = 6000;
    for _ in 0..rounds {
        let bytes = m.mutate(&seed, &[], DICT);
        if let Ok(case) = CaseFile::from_json_bytes(&bytes) {
            read += 1;
            let text = case.to_json();
            let back = CaseFile::from_json_str(&text).expect("the canonical text reads back");
            assert_eq!(back, case);
            assert_eq!(back.to_json(), text);
        }
    }
    assert!(read > rounds / 50, "only {read} of {rounds} mutations read");
}
