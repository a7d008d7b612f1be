//! Pure decoding: JSON-RPC blocks, receipts and traces → normalised transfers.
//!
//! # What becomes a transfer
//!
//! - **Native top-level value** of a *successful* transaction with `value > 0`, from the sender
//!   to the recipient (for a contract creation: to the created contract). Reverted
//!   transactions move nothing; gas fees are never transfers; zero-value native calls are not
//!   transfers (they move nothing and would flood the graph with contract calls).
//! - **Internal value transfers** from traces: value-carrying `CALL`s, `CREATE`/`CREATE2` with
//!   value and `SELFDESTRUCT` balances, below the top-level frame, when neither the frame nor
//!   any ancestor failed. `DELEGATECALL`/`STATICCALL`/`CALLCODE` move no value between
//!   accounts and are skipped, as are zero-value frames. Block/uncle rewards and withdrawals
//!   are issuance, not transfers, and are not recorded.
//! - **ERC-20 `Transfer(address,address,uint256)` logs** of any contract: exactly three topics
//!   (ERC-721 puts the token id in a fourth) and a 32-byte data word; kept as logged, including
//!   zero amounts (they are real events, and address-poisoning scams use them). Logs marked
//!   `removed` are ignored.
//!
//! # Positions
//!
//! `Position { tx_index, sub }` with `sub` = 0 for the top-level value, `k` for the k-th frame
//! of the transaction's call tree in depth-first order (the root frame is 0, so internal calls
//! are 1, 2, …), and [`LOG_SUB_BASE`] + the block-wide log index for token transfers. Log
//! positions therefore do not depend on whether the node offers traces.

use std::collections::HashMap;

use alloy_primitives::{b256, Address as EvmAddr, B256, U256};
use chaintrace_model::{Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer};

use crate::types::{CallFrame, GethTxTrace, ParityTrace, RpcBlock, RpcLog, RpcReceipt};

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: B256 = b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Token-transfer positions start here (see the module docs).
pub const LOG_SUB_BASE: u32 = 0x8000_0000;

/// Which kind of frame a trace row is (the ethereum-etl `trace_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A call (including delegate/static calls, which move no value).
    Call,
    /// A contract creation.
    Create,
    /// A self-destruct sending the contract's balance away.
    Suicide,
}

impl TraceKind {
    /// The ethereum-etl `trace_type` text (`call`, `create`, `suicide`).
    pub fn as_str(&self) -> &'static str {
        match self {
            TraceKind::Call => "call",
            TraceKind::Create => "create",
            TraceKind::Suicide => "suicide",
        }
    }
}

/// One frame of a transaction's call tree, normalised from Geth or Parity format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// Position of the transaction in the block.
    pub tx_index: u32,
    /// Depth-first position in the transaction's call tree; the root frame is 0.
    pub ordinal: u32,
    /// Path from the root frame (`[]`) through child indexes, as Parity reports it.
    pub trace_address: Vec<u32>,
    /// Which kind of frame.
    pub kind: TraceKind,
    /// `call`, `delegatecall`, `staticcall`, `callcode` for calls.
    pub call_type: Option<String>,
    /// The sender (the self-destructed contract for a suicide).
    pub from: Option<EvmAddr>,
    /// The recipient (the created contract, the refund address).
    pub to: Option<EvmAddr>,
    /// Value moved, in wei.
    pub value: U256,
    /// The node's error text when this frame reverted.
    pub error: Option<String>,
    /// This frame or an ancestor failed, so none of its effects happened.
    pub failed: bool,
}

impl TraceRow {
    /// Whether this frame moved native value between accounts.
    pub fn is_internal_transfer(&self) -> bool {
        if self.trace_address.is_empty() || self.failed || self.value.is_zero() {
            return false;
        }
        match self.kind {
            TraceKind::Call => self.call_type.as_deref() == Some("call"),
            TraceKind::Create | TraceKind::Suicide => true,
        }
    }
}

/// Flatten Geth callTracer results (one per transaction, in block order).
pub fn geth_rows(traces: &[GethTxTrace]) -> Vec<TraceRow> {
    fn walk(f: &CallFrame, tx: u32, addr: &mut Vec<u32>, parent_failed: bool, ord: &mut u32, out: &mut Vec<TraceRow>) {
        let t = f.kind.to_ascii_uppercase();
        let (kind, call_type) = match t.as_str() {
            "CREATE" | "CREATE2" => (TraceKind::Create, None),
            "SELFDESTRUCT" | "SUICIDE" => (TraceKind::Suicide, None),
            other => (TraceKind::Call, Some(other.to_ascii_lowercase())),
        };
        let failed = parent_failed || f.error.is_some();
        out.push(TraceRow {
            tx_index: tx,
            ordinal: *ord,
            trace_address: addr.clone(),
            kind,
            call_type,
            from: f.from,
            to: f.to,
            value: f.value.unwrap_or_default(),
            error: f.error.clone(),
            failed,
        });
        *ord += 1;
        for (i, c) in f.calls.iter().enumerate() {
            addr.push(i as u32);
            walk(c, tx, addr, failed, ord, out);
            addr.pop();
        }
    }
    let mut out = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        if let Some(root) = &t.result {
            let mut ord = 0;
            walk(root, i as u32, &mut Vec::new(), false, &mut ord, &mut out);
        }
    }
    out
}

/// Normalise Parity-style `trace_block` output (already depth-first per transaction).
/// Rewards are skipped.
pub fn parity_rows(traces: &[ParityTrace]) -> Vec<TraceRow> {
    let mut out: Vec<TraceRow> = Vec::new();
    let mut failed_prefixes: Vec<Vec<u32>> = Vec::new();
    let mut cur_tx: Option<u64> = None;
    let mut ord = 0u32;
    for t in traces {
        let Some(pos) = t.transaction_position else { continue };
        if cur_tx != Some(pos) {
            cur_tx = Some(pos);
            failed_prefixes.clear();
            ord = 0;
        }
        let (kind, call_type, from, to, value) = match t.kind.as_str() {
            "call" => (TraceKind::Call, t.action.call_type.clone(), t.action.from, t.action.to, t.action.value),
            "create" => {
                (TraceKind::Create, None, t.action.from, t.result.as_ref().and_then(|r| r.address), t.action.value)
            }
            "suicide" | "selfdestruct" => {
                (TraceKind::Suicide, None, t.action.address, t.action.refund_address, t.action.balance)
            }
            _ => continue,
        };
        let ancestor_failed = failed_prefixes.iter().any(|p| t.trace_address.starts_with(p));
        if t.error.is_some() {
            failed_prefixes.push(t.trace_address.clone());
        }
        out.push(TraceRow {
            tx_index: pos as u32,
            ordinal: ord,
            trace_address: t.trace_address.clone(),
            kind,
            call_type,
            from,
            to,
            value: value.unwrap_or_default(),
            error: t.error.clone(),
            failed: ancestor_failed || t.error.is_some(),
        });
        ord += 1;
    }
    out
}

/// An alloy hash as the model's [`Hash32`] (same byte order).
pub fn hash32(h: &B256) -> Hash32 {
    Hash32(h.0)
}

/// An alloy address as the model's EVM [`Address`].
pub fn addr(a: &EvmAddr) -> Address {
    Address::Evm(a.0 .0)
}

/// Decode an ERC-20 `Transfer` log: `(token, from, to, amount)`, or `None` for any other log.
pub fn decode_transfer_log(log: &RpcLog) -> Option<(EvmAddr, EvmAddr, EvmAddr, U256)> {
    if log.removed || log.topics.len() != 3 || log.topics[0] != TRANSFER_TOPIC || log.data.len() != 32 {
        return None;
    }
    let word_addr = |t: &B256| -> Option<EvmAddr> {
        if t.0[..12].iter().any(|b| *b != 0) {
            return None;
        }
        Some(EvmAddr::from_slice(&t.0[12..]))
    };
    let from = word_addr(&log.topics[1])?;
    let to = word_addr(&log.topics[2])?;
    Some((log.address, from, to, U256::from_be_slice(&log.data)))
}

/// Assemble one block's transfers. `traces` is `None` when they were not read (tracing off, no
/// tracing API, no historical state); the block is then marked `internal_missing`.
pub fn block_data(block: &RpcBlock, receipts: &[RpcReceipt], traces: Option<&[TraceRow]>) -> Result<BlockData, String> {
    let height = block.number.to::<u64>();
    let time = block.timestamp.to::<u64>();
    let mut data =
        BlockData::new(BlockRef { height, hash: hash32(&block.hash), parent: hash32(&block.parent_hash), time });
    data.tx_count = block.transactions.len() as u32;
    // A block without transactions has no internal transfers to miss.
    data.internal_missing = traces.is_none() && !block.transactions.is_empty();
    if receipts.len() != block.transactions.len() {
        return Err(format!("{} receipts for {} transactions", receipts.len(), block.transactions.len()));
    }
    let by_hash: HashMap<B256, &RpcReceipt> = receipts.iter().map(|r| (r.transaction_hash, r)).collect();
    let mut trace_by_tx: HashMap<u32, Vec<&TraceRow>> = HashMap::new();
    if let Some(rows) = traces {
        for r in rows {
            trace_by_tx.entry(r.tx_index).or_default().push(r);
        }
    }
    let mut next_log_index = 0u64;
    for (i, tx) in block.transactions.iter().enumerate() {
        let tx_index = tx.transaction_index.map(|x| x.to::<u64>()).unwrap_or(i as u64) as u32;
        let receipt = by_hash.get(&tx.hash).ok_or_else(|| format!("no receipt for transaction {}", tx.hash))?;
        let frames = trace_by_tx.get(&tx_index);
        let success = match receipt.status.map(|s| s.to::<u64>()) {
            Some(1) => true,
            Some(_) => false,
            // Pre-Byzantium: no status; the trace's root frame says whether it failed.
            None => !frames.and_then(|f| f.first()).is_some_and(|root| root.failed),
        };
        let mk = |sub: u32, from: Address, to: Address, asset: Asset, amount: U256| Transfer {
            tx: hash32(&tx.hash),
            height,
            pos: Position { tx_index, sub },
            time,
            from,
            to,
            asset,
            amount,
        };
        if success && !tx.value.is_zero() {
            if let Some(to) = tx.to.or(receipt.contract_address) {
                data.transfers.push(mk(0, addr(&tx.from), addr(&to), Asset::Native, tx.value));
            }
        }
        if success {
            for f in frames.into_iter().flatten().filter(|f| f.is_internal_transfer()) {
                if let (Some(from), Some(to)) = (f.from, f.to) {
                    data.transfers.push(mk(f.ordinal, addr(&from), addr(&to), Asset::Native, f.value));
                }
            }
        }
        for log in &receipt.logs {
            let li = log.log_index.map(|x| x.to::<u64>()).unwrap_or(next_log_index);
            next_log_index = li + 1;
            if !success {
                continue;
            }
            if let Some((token, from, to, amount)) = decode_transfer_log(log) {
                let sub = LOG_SUB_BASE
                    .checked_add(u32::try_from(li).map_err(|_| format!("log index {li} out of range"))?)
                    .ok_or_else(|| format!("log index {li} out of range"))?;
                data.transfers.push(mk(sub, addr(&from), addr(&to), Asset::Token(token.0 .0), amount));
            }
        }
    }
    data.transfers.sort_by_key(|t| t.pos);
    Ok(data)
}

/// Which tracing API a raw trace result comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// `debug_traceBlockByNumber` with the call tracer: one `{result: frame}` per transaction.
    Geth,
    /// `trace_block`: a flat list of frames with `traceAddress`.
    Parity,
}

/// Decode raw JSON-RPC `result` texts the way the adapter does: an `eth_getBlockByNumber`
/// block with full transactions, the `eth_getBlockReceipts` list, and optionally the block's
/// traces; then assemble the block's transfers. `Ok(None)` when the node answered `null` for
/// the block. Any bytes give a value or an error, never a panic (the `evm_*` fuzz targets and
/// the in-crate mutation tests feed it).
pub fn block_from_json(
    block: &[u8],
    receipts: &[u8],
    traces: Option<(TraceFormat, &[u8])>,
) -> Result<Option<BlockData>, String> {
    let Some(block) = serde_json::from_slice::<Option<RpcBlock>>(block).map_err(|e| format!("block: {e}"))? else {
        return Ok(None);
    };
    let receipts: Vec<RpcReceipt> = serde_json::from_slice::<Option<Vec<RpcReceipt>>>(receipts)
        .map_err(|e| format!("receipts: {e}"))?
        .unwrap_or_default();
    let rows = match traces {
        None => None,
        Some((TraceFormat::Geth, b)) => {
            let t: Option<Vec<GethTxTrace>> = serde_json::from_slice(b).map_err(|e| format!("traces: {e}"))?;
            Some(geth_rows(&t.unwrap_or_default()))
        }
        Some((TraceFormat::Parity, b)) => {
            let t: Option<Vec<ParityTrace>> = serde_json::from_slice(b).map_err(|e| format!("traces: {e}"))?;
            Some(parity_rows(&t.unwrap_or_default()))
        }
    };
    let mut data = block_data(&block, &receipts, rows.as_deref())?;
    crate::flows::recognise(&mut data, &block, &receipts, &crate::flows::FlowConfig::default());
    Ok(Some(data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{RpcBlock, RpcTx};
    use alloy_primitives::{Bytes, U64};

    fn word_addr(b: u8) -> B256 {
        let mut w = [0u8; 32];
        w[31] = b;
        B256::from(w)
    }

    fn log(topics: Vec<B256>, data: Vec<u8>, index: u64) -> RpcLog {
        log_from(0xaa, topics, data, index)
    }

    /// A log as a node returns it, emitted by the contract `0xEE…EE` (`emitter` repeated).
    pub(crate) fn log_from(emitter: u8, topics: Vec<B256>, data: Vec<u8>, index: u64) -> RpcLog {
        RpcLog {
            address: EvmAddr::repeat_byte(emitter),
            topics,
            data: Bytes::from(data),
            log_index: Some(U64::from(index)),
            transaction_hash: None,
            transaction_index: None,
            block_number: None,
            block_hash: None,
            removed: false,
        }
    }

    #[test]
    fn only_three_topic_transfer_logs_with_one_word_are_erc20_transfers() {
        let amount = U256::from(5u64).to_be_bytes::<32>().to_vec();
        let ok = log(vec![TRANSFER_TOPIC, word_addr(1), word_addr(2)], amount.clone(), 0);
        let (token, from, to, v) = decode_transfer_log(&ok).expect("an ERC-20 transfer");
        assert_eq!(
            (token, from, to, v),
            (EvmAddr::repeat_byte(0xaa), EvmAddr::with_last_byte(1), EvmAddr::with_last_byte(2), U256::from(5u64))
        );
        // ERC-721: the id is a fourth topic and there is no data.
        assert!(decode_transfer_log(&log(vec![TRANSFER_TOPIC, word_addr(1), word_addr(2), word_addr(3)], vec![], 0))
            .is_none());
        // Wrong data length, another event, dirty address padding, removed logs.
        assert!(decode_transfer_log(&log(vec![TRANSFER_TOPIC, word_addr(1), word_addr(2)], vec![0; 31], 0)).is_none());
        assert!(decode_transfer_log(&log(vec![word_addr(9), word_addr(1), word_addr(2)], amount.clone(), 0)).is_none());
        let mut dirty = word_addr(1);
        dirty.0[0] = 1;
        assert!(decode_transfer_log(&log(vec![TRANSFER_TOPIC, dirty, word_addr(2)], amount.clone(), 0)).is_none());
        let mut removed = ok.clone();
        removed.removed = true;
        assert!(decode_transfer_log(&removed).is_none());
    }

    fn tx(hash: u8, value: u64, to: Option<u8>) -> RpcTx {
        RpcTx {
            hash: B256::repeat_byte(hash),
            from: EvmAddr::with_last_byte(0x10),
            to: to.map(EvmAddr::with_last_byte),
            value: U256::from(value),
            transaction_index: None,
        }
    }

    fn receipt(hash: u8, status: Option<u64>, logs: Vec<RpcLog>) -> RpcReceipt {
        RpcReceipt {
            transaction_hash: B256::repeat_byte(hash),
            transaction_index: None,
            status: status.map(U64::from),
            contract_address: Some(EvmAddr::with_last_byte(0xcc)),
            logs,
        }
    }

    #[test]
    fn reverted_and_zero_value_transactions_move_nothing_and_positions_are_stable() {
        let amount = U256::from(7u64).to_be_bytes::<32>().to_vec();
        let block = RpcBlock {
            number: U64::from(9),
            hash: B256::repeat_byte(1),
            parent_hash: B256::repeat_byte(2),
            timestamp: U64::from(1000),
            transactions: vec![tx(0xa1, 5, Some(1)), tx(0xa2, 6, Some(2)), tx(0xa3, 0, Some(3)), tx(0xa4, 8, None)],
        };
        let receipts = vec![
            receipt(0xa1, Some(1), vec![log(vec![TRANSFER_TOPIC, word_addr(1), word_addr(2)], amount.clone(), 0)]),
            receipt(0xa2, Some(0), vec![]),
            receipt(0xa3, Some(1), vec![log(vec![TRANSFER_TOPIC, word_addr(3), word_addr(4)], amount.clone(), 1)]),
            receipt(0xa4, Some(1), vec![]),
        ];
        let b = block_data(&block, &receipts, None).expect("block");
        let got: Vec<(u32, u32, String)> =
            b.transfers.iter().map(|t| (t.pos.tx_index, t.pos.sub, t.amount.to_string())).collect();
        assert_eq!(
            got,
            vec![
                (0, 0, "5".into()),
                (0, LOG_SUB_BASE, "7".into()),
                (2, LOG_SUB_BASE + 1, "7".into()),
                (3, 0, "8".into()),
            ]
        );
        // A contract creation pays the new contract.
        assert_eq!(b.transfers[3].to, Address::Evm(EvmAddr::with_last_byte(0xcc).0 .0));
        // Receipts that do not match the transactions are refused.
        assert!(block_data(&block, &receipts[..3], None).is_err());
    }
}
