//! Any bytes as an `eth_getBlockByNumber` result (with full transactions), assembled with
//! fixed receipts, must give a block or an error — never a panic.
#![no_main]

use chaintrace_evm::decode::block_from_json;
use libfuzzer_sys::fuzz_target;

include!("evm_common.rs");

fuzz_target!(|data: &[u8]| {
    let _ = block_from_json(data, RECEIPTS, None);
    let _ = block_from_json(data, b"null", None);
});
