//! Integration tests of the EVM adapter's library API (no `chaintrace` binary): recorded
//! mainnet JSON-RPC fixtures, a real anvil node with reorgs and injected faults, and on-demand
//! expansion of one address. One test binary with one module per area.

mod common;

mod anvil;
mod expand;
mod fixtures;
mod swaps;
