//! Any bytes as the `eth_getBlockReceipts` result of a fixed two-transaction block must give
//! the block's transfers or an error — never a panic (ERC-20 logs, statuses, log indexes).
#![no_main]

use chaintrace_evm::decode::block_from_json;
use libfuzzer_sys::fuzz_target;

include!("evm_common.rs");

fuzz_target!(|data: &[u8]| {
    let _ = block_from_json(BLOCK, data, None);
});
