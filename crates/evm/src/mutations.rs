//! Deterministic mutation runs of the JSON-RPC decoders (the `evm_*` fuzz targets' stand-in
//! inside `cargo test`): the recorded ethereum-etl responses in `tests/data`, mutated a few
//! thousand times (bit flips, truncations, splices, inserted bytes and JSON tokens) with a
//! seeded generator, must each decode to a value or an error — never a panic.

use chaintrace_testkit::mutate::Mutator;
use std::path::PathBuf;

use serde_json::Value;

use crate::decode::{block_from_json, TraceFormat};

/// JSON tokens that reach the decoders' edges: extreme quantities, wrong types, empty values.
const DICT: &[&[u8]] = &[
    b"\"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"",
    b"\"0xffffffffffffffff\"",
    b"\"0x100000000\"",
    b"\"0x\"",
    b"\"0x0\"",
    b"null",
    b"[]",
    b"{}",
    b"-1",
    b"18446744073709551616",
    b"\"\"",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\"calls\":[{\"type\":\"CALL\",\"value\":\"0x1\",\"calls\":[]}]",
    b"\"traceAddress\":[4294967295,0]",
    b"\"logIndex\":\"0xffffffff\"",
    b"\"transactionIndex\":\"0xffffffffff\"",
];

fn resources() -> PathBuf {
    chaintrace_testkit::test_data("ethereum-etl/tests/resources")
}

/// The `result` of a recorded JSON-RPC response, as compact JSON text.
fn result(rel: &str) -> Value {
    let path = resources().join(rel);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["result"].clone()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialise JSON")
}

struct Seeds {
    block: Vec<u8>,
    receipts: Vec<u8>,
    geth: Vec<Vec<u8>>,
    parity: Vec<Vec<u8>>,
}

fn seeds() -> Seeds {
    let dir = "test_stream/blocks_1755634_1755635/";
    let block = result(&format!("{dir}web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"));
    let mut receipts = Vec::new();
    for entry in std::fs::read_dir(resources().join(dir)).expect("read the fixture directory") {
        let name = entry.expect("dir entry").file_name().to_string_lossy().into_owned();
        if name.starts_with("web3_response.eth_getTransactionReceipt_") {
            let r = result(&format!("{dir}{name}"));
            let in_block = block["transactions"]
                .as_array()
                .is_some_and(|txs| txs.iter().any(|t| t["hash"] == r["transactionHash"]));
            if in_block {
                receipts.push(r);
            }
        }
    }
    let geth = [
        "block_with_suicide/web3_response.debug_traceBlockByNumber_0xf7105_tracer_calltracer.json",
        "block_with_create/web3_response.debug_traceBlockByNumber_0xf44f2_tracer_calltracer.json",
        "block_with_error/web3_response.debug_traceBlockByNumber_0xf45bf_tracer_calltracer.json",
        "block_with_subtraces/web3_response.debug_traceBlockByNumber_0xf4240_tracer_calltracer.json",
    ]
    .iter()
    .map(|p| bytes(&result(&format!("test_extract_geth_traces_job/{p}"))))
    .collect();
    let parity = [
        "test_stream/blocks_2112234_2112234/web3_response.trace_block_0x203aea.json",
        "test_stream/blocks_508110_508110/web3_response.trace_block_0x7c0ce.json",
        "test_export_traces_job/block_with_suicide/web3_response.trace_block_0xf7105.json",
    ]
    .iter()
    .map(|p| bytes(&result(p)))
    .collect();
    Seeds { block: bytes(&block), receipts: bytes(&Value::Array(receipts)), geth, parity }
}

#[test]
fn the_recorded_responses_decode() {
    let s = seeds();
    let b = block_from_json(&s.block, &s.receipts, None).expect("block 1755634").expect("not null");
    assert_eq!(b.block.height, 1_755_634);
    for g in &s.geth {
        // Traces of other blocks: decoding works, assembling may refuse the mismatch.
        let _ = block_from_json(&s.block, &s.receipts, Some((TraceFormat::Geth, g)));
        assert!(serde_json::from_slice::<Vec<crate::types::GethTxTrace>>(g).is_ok());
    }
    for p in &s.parity {
        assert!(serde_json::from_slice::<Vec<crate::types::ParityTrace>>(p).is_ok());
    }
}

#[test]
fn mutated_json_rpc_responses_never_panic() {
    let s = seeds();
    let mut all: Vec<Vec<u8>> = vec![s.block.clone(), s.receipts.clone()];
    all.extend(s.geth.iter().cloned());
    all.extend(s.parity.iter().cloned());
    let mut m = Mutator::new(0x5eed_e7a1_0000_0001);
    let mut decoded = 0;
    for i in 0..20_000 {
        let r = match i % 4 {
            0 => block_from_json(&m.mutate(&s.block, &all, DICT), &s.receipts, None),
            1 => block_from_json(&s.block, &m.mutate(&s.receipts, &all, DICT), None),
            2 => {
                let g = &s.geth[m.below(s.geth.len())];
                block_from_json(&s.block, &s.receipts, Some((TraceFormat::Geth, &m.mutate(g, &all, DICT))))
            }
            _ => {
                let p = &s.parity[m.below(s.parity.len())];
                block_from_json(&s.block, &s.receipts, Some((TraceFormat::Parity, &m.mutate(p, &all, DICT))))
            }
        };
        decoded += usize::from(r.is_ok());
    }
    // Some mutations must still decode, or the run tested only the JSON parser's errors.
    assert!(decoded > 100, "only {decoded} of 20000 mutations decoded");
}
