//! Untrusted HTTP API answers → `chaintrace_tron::decode::decode_block`: never panics; a decoded
//! block's transfers are all between TRON accounts, at the asked height, with positions unique;
//! and any text → `Address::parse_tron` never panics and what it accepts prints back as a
//! `T…` address that parses to the same account.
#![no_main]

use chaintrace_model::Address;
use chaintrace_tron::decode::decode_block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(a) = Address::parse_tron(text) {
            assert_eq!(Address::parse_tron(&a.to_string()), Ok(a));
        }
    }
    // First half the block, second half the transaction infos.
    let cut = data.len() / 2;
    let Ok(block) = serde_json::from_slice::<serde_json::Value>(&data[..cut]) else { return };
    let infos = serde_json::from_slice::<Vec<serde_json::Value>>(&data[cut..]).ok();
    let height = block.pointer("/block_header/raw_data/number").and_then(|n| n.as_u64()).unwrap_or(0);
    if let Ok(Some((b, _))) = decode_block(&block, infos.as_deref(), height) {
        let mut seen = std::collections::BTreeSet::new();
        for t in &b.transfers {
            assert_eq!(t.height, height);
            assert!(matches!(t.from, Address::Tron(_)) && matches!(t.to, Address::Tron(_)));
            assert!(seen.insert(t.pos), "duplicate position {:?}", t.pos);
        }
    }
});
