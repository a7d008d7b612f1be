//! The subset of the JSON-RPC wire format the adapter reads. Only the fields needed for
//! transfers are decoded, so node-specific extras (L2 fields, blob fields…) never break ingest.

use alloy_primitives::{Address, Bytes, B256, U256, U64};
use serde::Deserialize;

/// `eth_getBlockByNumber(n, true)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    pub number: U64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: U64,
    #[serde(default)]
    pub transactions: Vec<RpcTx>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTx {
    pub hash: B256,
    pub from: Address,
    #[serde(default)]
    pub to: Option<Address>,
    pub value: U256,
    #[serde(default)]
    pub transaction_index: Option<U64>,
}

/// `eth_getBlockByNumber(n, false)`: just the identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcHeader {
    pub number: U64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: U64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    pub transaction_hash: B256,
    #[serde(default)]
    pub transaction_index: Option<U64>,
    /// Absent before Byzantium (those receipts carry a state `root` instead).
    #[serde(default)]
    pub status: Option<U64>,
    #[serde(default)]
    pub contract_address: Option<Address>,
    #[serde(default)]
    pub logs: Vec<RpcLog>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    pub address: Address,
    #[serde(default)]
    pub topics: Vec<B256>,
    #[serde(default)]
    pub data: Bytes,
    #[serde(default)]
    pub log_index: Option<U64>,
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    #[serde(default)]
    pub transaction_index: Option<U64>,
    #[serde(default)]
    pub block_number: Option<U64>,
    #[serde(default)]
    pub block_hash: Option<B256>,
    #[serde(default)]
    pub removed: bool,
}

/// Geth's callTracer frame.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallFrame {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub from: Option<Address>,
    #[serde(default)]
    pub to: Option<Address>,
    #[serde(default)]
    pub value: Option<U256>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub calls: Vec<CallFrame>,
}

/// One element of `debug_traceBlockByNumber`'s result (newer nodes add `txHash`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GethTxTrace {
    #[serde(default)]
    pub tx_hash: Option<B256>,
    #[serde(default)]
    pub result: Option<CallFrame>,
    #[serde(default)]
    pub error: Option<String>,
}

/// One element of Parity/OpenEthereum/Erigon/Reth `trace_block`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityTrace {
    pub action: ParityAction,
    #[serde(default)]
    pub result: Option<ParityResult>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub trace_address: Vec<u32>,
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    #[serde(default)]
    pub transaction_position: Option<u64>,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityAction {
    #[serde(default)]
    pub from: Option<Address>,
    #[serde(default)]
    pub to: Option<Address>,
    #[serde(default)]
    pub value: Option<U256>,
    #[serde(default)]
    pub call_type: Option<String>,
    // suicide
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub refund_address: Option<Address>,
    #[serde(default)]
    pub balance: Option<U256>,
    // reward
    #[serde(default)]
    pub author: Option<Address>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityResult {
    #[serde(default)]
    pub address: Option<Address>,
}
