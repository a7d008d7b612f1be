//! The HTTP API decoder over damaged real answers: TRON mainnet's recorded block 43811922
//! (tests/data/tron) with one to three values at a time replaced by hostile ones (wrong type,
//! negative, huge, bad hex, bad-checksum address), 3,000 times from a fixed seed. It never
//! panics; what it decodes keeps every transfer between TRON accounts at the asked height with
//! unique positions. (A stand-in for `cargo fuzz run tron_block` on machines without cargo-fuzz.)

use std::collections::BTreeSet;

use chaintrace_model::Address;
use chaintrace_testkit::rng::Rng;
use chaintrace_tron::decode::decode_block;
use serde_json::{json, Value};

/// Every JSON pointer to a scalar in `v`.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| leaves(x, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

#[test]
fn damaged_real_blocks_decode_or_fail_cleanly() {
    let path = chaintrace_testkit::test_data("tron/wallet-getblockbynum/43811922.json");
    let block: Value = serde_json::from_slice(&std::fs::read(path).expect("the recording")).expect("JSON");
    let mut paths = Vec::new();
    leaves(&block, String::new(), &mut paths);
    let hostile = [
        Value::Null,
        json!(-1),
        json!(u64::MAX),
        json!("zz"),
        json!("41a614f803b6fd780986a42c78ec9c7f77e6ded13c00"),
        json!("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"),
        json!("a9059cbb"),
        json!([]),
        json!({}),
        json!("99999999999999999999999999"),
        json!(""),
    ];
    let mut rng = Rng::new(14);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3_000 {
        let mut b = block.clone();
        for _ in 0..(1 + rng.below(3)) {
            let p = rng.pick(&paths);
            if let Some(slot) = b.pointer_mut(p) {
                *slot = rng.pick(&hostile).clone();
            }
        }
        match decode_block(&b, None, 43_811_922) {
            Ok(Some((d, _))) => {
                ok += 1;
                let mut seen = BTreeSet::new();
                for t in &d.transfers {
                    assert_eq!(t.height, 43_811_922);
                    assert!(matches!(t.from, Address::Tron(_)) && matches!(t.to, Address::Tron(_)));
                    assert!(seen.insert(t.pos), "duplicate position {:?}", t.pos);
                }
            }
            Ok(None) | Err(_) => err += 1,
        }
    }
    assert!(ok > 0 && err > 0, "both outcomes exercised: {ok} decoded, {err} refused");
}
