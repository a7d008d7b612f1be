//! End-to-end tests of the `chaintrace` binary: one test binary (registered by `chaintrace-cli`
//! as `[[test]] cli`) with one module per area. Each module runs the real executable against a
//! temporary store through the harness in [`common`] and checks its output against real
//! fixtures (`tests/data`) or real components (anvil, a Bitcoin node, networkx, Neo4j).
// The end-to-end tests report figures (scenario seeds and sizes) as they run.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

mod bitcoin_blk;
mod bitcoin_cluster;
mod bitcoin_esplora;
mod bitcoin_node;
mod bitcoin_pipeline;
mod bridges;
mod cli_help;
mod cli_store;
mod e2e_crosschain;
mod e2e_demo;
mod e2e_scenario;
mod evm_ingest_cli;
mod evm_refill;
mod export_formats;
mod hostile_urls;
mod labels_cli;
mod price_feeds;
mod price_tables;
mod serve;
mod snapshot_cli;
mod store_compact;
mod swaps_bad_input;
mod trace_bitcoin;
mod trace_evm_typologies;
mod trace_seeds;
mod tron_address;
mod tron_freezes;
mod tron_ingest;
mod tron_labels;
mod usd_sources;
