//! The subset of the JSON-RPC wire format the adapter reads. Only the fields needed for
//! transfers are decoded, so node-specific extras (L2 fields, blob fields…) never break ingest.

use alloy_primitives::{Address, Bytes, B256, U256, U64};
use serde::Deserialize;

/// `eth_getBlockByNumber(n, true)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    /// Block height.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
    /// The parent block's hash (the reorg check compares it with the stored tip).
    pub parent_hash: B256,
    /// Block time, Unix seconds.
    pub timestamp: U64,
    /// Full transaction objects, in block order (empty when the node omits the field).
    #[serde(default)]
    pub transactions: Vec<RpcTx>,
}

/// A transaction inside [`RpcBlock`]: the fields a native value transfer needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTx {
    /// Transaction hash.
    pub hash: B256,
    /// Sender.
    pub from: Address,
    /// Recipient; `None` for a contract creation.
    #[serde(default)]
    pub to: Option<Address>,
    /// Native value sent, in wei.
    pub value: U256,
    /// Position in the block, when the node reports it.
    #[serde(default)]
    pub transaction_index: Option<U64>,
}

/// `eth_getBlockByNumber(n, false)`: just the identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcHeader {
    /// Block height.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
    /// The parent block's hash.
    pub parent_hash: B256,
    /// Block time, Unix seconds.
    pub timestamp: U64,
}

/// A transaction receipt (`eth_getBlockReceipts` or `eth_getTransactionReceipt`): success
/// status, created contract and logs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    /// The transaction this receipt belongs to.
    pub transaction_hash: B256,
    /// Its position in the block, when the node reports it.
    #[serde(default)]
    pub transaction_index: Option<U64>,
    /// Absent before Byzantium (those receipts carry a state `root` instead).
    #[serde(default)]
    pub status: Option<U64>,
    /// The contract a creation transaction deployed.
    #[serde(default)]
    pub contract_address: Option<Address>,
    /// Logs emitted by the transaction, in order.
    #[serde(default)]
    pub logs: Vec<RpcLog>,
}

/// An event log, from a receipt or from `eth_getLogs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    /// The contract that emitted it (for an ERC-20 `Transfer`, the token).
    pub address: Address,
    /// Indexed topics; `topics[0]` is the event signature hash.
    #[serde(default)]
    pub topics: Vec<B256>,
    /// Unindexed data (an ERC-20 `Transfer`'s amount in the token's base units).
    #[serde(default)]
    pub data: Bytes,
    /// Position among the block's logs.
    #[serde(default)]
    pub log_index: Option<U64>,
    /// The emitting transaction.
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    /// The emitting transaction's position in the block.
    #[serde(default)]
    pub transaction_index: Option<U64>,
    /// Height of the block holding it (`eth_getLogs`).
    #[serde(default)]
    pub block_number: Option<U64>,
    /// Hash of the block holding it (`eth_getLogs`).
    #[serde(default)]
    pub block_hash: Option<B256>,
    /// True when a reorg removed the log (`eth_getLogs` on some nodes); such logs are skipped.
    #[serde(default)]
    pub removed: bool,
}

/// Geth's callTracer frame.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallFrame {
    /// `CALL`, `CREATE`, `CREATE2`, `DELEGATECALL`, `STATICCALL`, `SELFDESTRUCT`…
    #[serde(rename = "type")]
    pub kind: String,
    /// The calling account.
    #[serde(default)]
    pub from: Option<Address>,
    /// The called (or created) account.
    #[serde(default)]
    pub to: Option<Address>,
    /// Value moved by the frame, in wei.
    #[serde(default)]
    pub value: Option<U256>,
    /// Set when the frame reverted (its value did not move, nor did its children's).
    #[serde(default)]
    pub error: Option<String>,
    /// Nested calls, in execution order.
    #[serde(default)]
    pub calls: Vec<CallFrame>,
}

/// One element of `debug_traceBlockByNumber`'s result (newer nodes add `txHash`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GethTxTrace {
    /// The traced transaction (absent on older nodes: matched by position instead).
    #[serde(default)]
    pub tx_hash: Option<B256>,
    /// The transaction's top-level call frame.
    #[serde(default)]
    pub result: Option<CallFrame>,
    /// Set when the node could not trace this transaction.
    #[serde(default)]
    pub error: Option<String>,
}

/// One element of Parity/OpenEthereum/Erigon/Reth `trace_block`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityTrace {
    /// What the trace did (call, create, suicide or reward).
    pub action: ParityAction,
    /// Its result (the created address for a create).
    #[serde(default)]
    pub result: Option<ParityResult>,
    /// Set when this trace reverted.
    #[serde(default)]
    pub error: Option<String>,
    /// Path from the transaction's top-level call (`[]`) to this one (`[0, 2]`…).
    #[serde(default)]
    pub trace_address: Vec<u32>,
    /// The transaction (absent for block rewards).
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    /// The transaction's position in the block (absent for block rewards).
    #[serde(default)]
    pub transaction_position: Option<u64>,
    /// `call`, `create`, `suicide` or `reward`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The `action` of a [`ParityTrace`]; which fields are set depends on its `type`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityAction {
    /// Call or create: the sender.
    #[serde(default)]
    pub from: Option<Address>,
    /// Call: the recipient.
    #[serde(default)]
    pub to: Option<Address>,
    /// Call or create: value moved, in wei (also a reward's amount).
    #[serde(default)]
    pub value: Option<U256>,
    /// Call: `call`, `delegatecall`, `staticcall` or `callcode`.
    #[serde(default)]
    pub call_type: Option<String>,
    /// Suicide: the self-destructed contract.
    #[serde(default)]
    pub address: Option<Address>,
    /// Suicide: who receives its balance.
    #[serde(default)]
    pub refund_address: Option<Address>,
    /// Suicide: the balance sent to `refund_address`, in wei.
    #[serde(default)]
    pub balance: Option<U256>,
    /// Reward: the block's miner or uncle.
    #[serde(default)]
    pub author: Option<Address>,
}

/// The `result` of a [`ParityTrace`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParityResult {
    /// Create: the new contract's address.
    #[serde(default)]
    pub address: Option<Address>,
}
