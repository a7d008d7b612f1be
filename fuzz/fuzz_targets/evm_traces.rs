//! Any bytes as the traces of a fixed two-transaction block — `debug_traceBlockByNumber`
//! (callTracer) or `trace_block` output, the first byte picks which — must give the block's
//! internal transfers or an error, never a panic.
#![no_main]

use chaintrace_evm::decode::{block_from_json, TraceFormat};
use libfuzzer_sys::fuzz_target;

include!("evm_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((&pick, traces)) = data.split_first() else { return };
    let format = if pick & 1 == 0 { TraceFormat::Geth } else { TraceFormat::Parity };
    let _ = block_from_json(BLOCK, RECEIPTS, Some((format, traces)));
});
