//! Integration tests of the hop walker over in-memory graphs: property tests against naive
//! oracles, the stop rules and filters, and UTXO FIFO taint. One test binary with one module
//! per area.

mod dense;
mod flows;
mod props;
mod rules;
mod utxo_fifo;
