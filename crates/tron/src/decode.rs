//! java-tron HTTP API responses → [`BlockData`]. Pure: JSON in, transfers out.
//!
//! Positions: a transaction's index in the block is its `tx_index`; within it, `sub` 0 is the
//! contract's own value (TRX of a `TransferContract` or of a call, TRC-10 of a
//! `TransferAssetContract`), 1 the TRC-10 a call carries, [`SUB_LOG`] + n the n-th TRC-20
//! `Transfer` log (or, without transaction info, the `transfer()` calldata), and
//! [`SUB_INTERNAL`] + n the n-th internal value transfer. Failed transactions move nothing.

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer, U256};
use serde_json::Value;

use crate::TronError;

/// `sub` of the first TRC-20 transfer of a transaction.
pub const SUB_LOG: u32 = 2;
/// `sub` of the first internal transfer of a transaction.
pub const SUB_INTERNAL: u32 = 100_000;
/// The most transactions, logs or internal transfers read from one block's answer.
const MAX_ITEMS: usize = 1_000_000;

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: &str = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// Where the TRC-20 transfers of a block came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trc20Source {
    /// `Transfer` logs of `/wallet/gettransactioninfobyblocknum` (what the chain executed).
    Logs,
    /// `transfer`/`transferFrom` calldata of successful calls (the endpoint has no transaction
    /// info): a call's own token movement only, not what a contract forwards.
    Calldata,
}

fn err(height: u64, message: impl Into<String>) -> TronError {
    TronError::Decode { height, message: message.into() }
}

fn addr(height: u64, v: Option<&Value>, what: &str) -> Result<Address, TronError> {
    let s = v.and_then(Value::as_str).ok_or_else(|| err(height, format!("{what} is missing")))?;
    Address::parse_tron(s).map_err(|e| err(height, format!("{what}: {e}")))
}

fn u64_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn word_addr(word: &[u8]) -> [u8; 20] {
    let mut a = [0u8; 20];
    a.copy_from_slice(&word[12..32]);
    a
}

/// The block height and identity of a `/wallet/getblockbynum` answer (`None`: `{}`, no block).
pub fn block_ref(block: &Value, height: u64) -> Result<Option<BlockRef>, TronError> {
    let Some(id) = block.get("blockID").and_then(Value::as_str) else {
        return Ok(None);
    };
    let raw = block.pointer("/block_header/raw_data").ok_or_else(|| err(height, "block_header.raw_data is missing"))?;
    let hash = Hash32::parse(id).ok_or_else(|| err(height, format!("blockID {id:?} is not a 32-byte hash")))?;
    let number = u64_of(raw.get("number")).unwrap_or(0);
    if number != height {
        return Err(err(height, format!("the node answered block {number}")));
    }
    let parent = match raw.get("parentHash").and_then(Value::as_str) {
        Some(p) => Hash32::parse(p).ok_or_else(|| err(height, format!("parentHash {p:?} is not a 32-byte hash")))?,
        None => Hash32::ZERO,
    };
    let time = u64_of(raw.get("timestamp")).unwrap_or(0) / 1000;
    Ok(Some(BlockRef { height, hash, parent, time }))
}

/// TRC-10 token id from `asset_name`/`token_id`: decimal digits, or their hex (`visible=false`).
fn trc10_id(height: u64, v: Option<&Value>, tx: &str) -> Result<u64, TronError> {
    let s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(err(height, format!("tx {tx}: TRC-10 asset id is missing"))),
    };
    if let Ok(id) = s.parse::<u64>() {
        // Hex of ASCII digits is all digits too ("31303034" = "1004"): prefer the hex reading
        // when it decodes to digits, as `visible=false` answers hex-encode every name.
        if let Some(text) = hex::decode(&s).ok().and_then(|b| String::from_utf8(b).ok()) {
            if let Ok(id2) = text.parse::<u64>() {
                return Ok(id2);
            }
        }
        return Ok(id);
    }
    let text = hex::decode(&s).ok().and_then(|b| String::from_utf8(b).ok());
    text.and_then(|t| t.parse().ok())
        .ok_or_else(|| err(height, format!("tx {tx}: TRC-10 asset id {s:?} is not a number")))
}

/// Decode one block from `/wallet/getblockbynum` and, when given, the block's
/// `/wallet/gettransactioninfobyblocknum` entries. Returns `None` when the node has no block
/// (`{}`).
pub fn decode_block(
    block: &Value,
    infos: Option<&[Value]>,
    height: u64,
) -> Result<Option<(BlockData, Trc20Source)>, TronError> {
    let Some(bref) = block_ref(block, height)? else {
        return Ok(None);
    };
    let empty = Vec::new();
    let txs = match block.get("transactions") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err(height, "transactions is not an array")),
    };
    if txs.len() > MAX_ITEMS {
        return Err(err(height, format!("{} transactions is more than a block can hold", txs.len())));
    }
    let by_id: std::collections::HashMap<&str, &Value> =
        infos.unwrap_or(&[]).iter().filter_map(|i| Some((i.get("id")?.as_str()?, i))).collect();
    let source = if infos.is_some() { Trc20Source::Logs } else { Trc20Source::Calldata };
    let mut data = BlockData::new(bref);
    data.tx_count = txs.len() as u32;
    for (i, tx) in txs.iter().enumerate() {
        let tx_index = i as u32;
        let id = tx
            .get("txID")
            .and_then(Value::as_str)
            .ok_or_else(|| err(height, format!("transaction {i}: txID is missing")))?;
        let hash = Hash32::parse(id)
            .ok_or_else(|| err(height, format!("transaction {i}: txID {id:?} is not a 32-byte hash")))?;
        let ret = tx.pointer("/ret/0/contractRet").and_then(Value::as_str).unwrap_or("SUCCESS");
        let info = by_id.get(id).copied();
        let info_ok = info.is_none_or(|inf| {
            inf.get("result").and_then(Value::as_str) != Some("FAILED")
                && inf.pointer("/receipt/result").and_then(Value::as_str).is_none_or(|r| r == "SUCCESS")
        });
        if ret != "SUCCESS" || !info_ok {
            continue;
        }
        let mk = |sub: u32, from: Address, to: Address, asset: Asset, amount: U256| Transfer {
            tx: hash,
            height,
            pos: Position { tx_index, sub },
            time: bref.time,
            from,
            to,
            asset,
            amount,
        };
        let Some(contract) = tx.pointer("/raw_data/contract/0") else { continue };
        let kind = contract.get("type").and_then(Value::as_str).unwrap_or("");
        let value = contract.pointer("/parameter/value").unwrap_or(&Value::Null);
        match kind {
            "TransferContract" => {
                let amount = u64_of(value.get("amount")).unwrap_or(0);
                if amount > 0 {
                    let from = addr(height, value.get("owner_address"), &format!("tx {id}: owner_address"))?;
                    let to = addr(height, value.get("to_address"), &format!("tx {id}: to_address"))?;
                    data.transfers.push(mk(0, from, to, Asset::Native, U256::from(amount)));
                }
            }
            "TransferAssetContract" => {
                let amount = u64_of(value.get("amount")).unwrap_or(0);
                if amount > 0 {
                    let from = addr(height, value.get("owner_address"), &format!("tx {id}: owner_address"))?;
                    let to = addr(height, value.get("to_address"), &format!("tx {id}: to_address"))?;
                    let token = trc10_id(height, value.get("asset_name"), id)?;
                    data.transfers.push(mk(0, from, to, Asset::Trc10(token), U256::from(amount)));
                }
            }
            "TriggerSmartContract" => {
                let owner = addr(height, value.get("owner_address"), &format!("tx {id}: owner_address"))?;
                let target = addr(height, value.get("contract_address"), &format!("tx {id}: contract_address"))?;
                let call_value = u64_of(value.get("call_value")).unwrap_or(0);
                if call_value > 0 {
                    data.transfers.push(mk(0, owner.clone(), target.clone(), Asset::Native, U256::from(call_value)));
                }
                let token_value = u64_of(value.get("call_token_value")).unwrap_or(0);
                if token_value > 0 {
                    let token = trc10_id(height, value.get("token_id"), id)?;
                    data.transfers.push(mk(
                        1,
                        owner.clone(),
                        target.clone(),
                        Asset::Trc10(token),
                        U256::from(token_value),
                    ));
                }
                if source == Trc20Source::Calldata {
                    if let (Some(calldata), Address::Tron(contract)) =
                        (value.get("data").and_then(Value::as_str), &target)
                    {
                        if let Some((from, to, amount)) = calldata_transfer(&owner, calldata) {
                            data.transfers.push(mk(SUB_LOG, from, to, Asset::TronToken(*contract), amount));
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(inf) = info {
            decode_info(&mut data, inf, height, id, &mk)?;
        }
    }
    Ok(Some((data, source)))
}

/// `transfer(to, amount)` / `transferFrom(from, to, amount)` calldata → (from, to, amount).
/// An address word may carry TRON's `0x41` prefix in byte 11: the low 20 bytes are the account.
fn calldata_transfer(owner: &Address, hex_data: &str) -> Option<(Address, Address, U256)> {
    let data = hex::decode(hex_data.trim_start_matches("0x")).ok()?;
    let (sel, args) = data.split_at_checked(4)?;
    let word = |n: usize| args.get(n * 32..n * 32 + 32);
    match sel {
        [0xa9, 0x05, 0x9c, 0xbb] => {
            let to = Address::Tron(word_addr(word(0)?));
            Some((owner.clone(), to, U256::from_be_slice(word(1)?)))
        }
        [0x23, 0xb8, 0x72, 0xdd] => {
            let from = Address::Tron(word_addr(word(0)?));
            let to = Address::Tron(word_addr(word(1)?));
            Some((from, to, U256::from_be_slice(word(2)?)))
        }
        _ => None,
    }
}

/// TRC-20 `Transfer` logs and internal transfers of one transaction's info.
fn decode_info(
    data: &mut BlockData,
    info: &Value,
    height: u64,
    id: &str,
    mk: &dyn Fn(u32, Address, Address, Asset, U256) -> Transfer,
) -> Result<(), TronError> {
    let logs = info.get("log").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    // Logs number below SUB_INTERNAL - SUB_LOG, so their positions never meet the internal ones.
    for (n, log) in logs.iter().enumerate().take((SUB_INTERNAL - SUB_LOG) as usize) {
        let topics: Vec<&str> = log
            .get("topics")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if topics.len() != 3 || topics[0].trim_start_matches("0x") != TRANSFER_TOPIC {
            continue; // not an ERC-20-style Transfer (ERC-721 has 4 topics)
        }
        let contract = log.get("address").and_then(Value::as_str).unwrap_or("");
        let contract = contract.trim_start_matches("0x");
        let contract = if contract.len() == 42 { &contract[2..] } else { contract };
        let mut c = [0u8; 20];
        hex::decode_to_slice(contract, &mut c)
            .map_err(|_| err(height, format!("tx {id}: log address {contract:?}")))?;
        let word = |t: &str| -> Result<[u8; 32], TronError> {
            let mut w = [0u8; 32];
            hex::decode_to_slice(t.trim_start_matches("0x"), &mut w)
                .map_err(|_| err(height, format!("tx {id}: log topic {t:?}")))?;
            Ok(w)
        };
        let from = Address::Tron(word_addr(&word(topics[1])?));
        let to = Address::Tron(word_addr(&word(topics[2])?));
        let raw = hex::decode(log.get("data").and_then(Value::as_str).unwrap_or("").trim_start_matches("0x"))
            .map_err(|_| err(height, format!("tx {id}: log data is not hex")))?;
        if raw.len() != 32 {
            continue; // not a uint256 amount: not a token transfer we can read
        }
        data.transfers.push(mk(SUB_LOG + n as u32, from, to, Asset::TronToken(c), U256::from_be_slice(&raw)));
    }
    let internals = info.get("internal_transactions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let mut k = 0u32;
    for it in internals.iter().take(MAX_ITEMS) {
        if it.get("rejected").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let values = it.get("callValueInfo").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for v in values {
            let amount = u64_of(v.get("callValue")).unwrap_or(0);
            if amount == 0 {
                continue;
            }
            let from = addr(height, it.get("caller_address"), &format!("tx {id}: internal caller_address"))?;
            let to = addr(height, it.get("transferTo_address"), &format!("tx {id}: internal transferTo_address"))?;
            let asset = match v.get("tokenId") {
                Some(t) => Asset::Trc10(trc10_id(height, Some(t), id)?),
                None => Asset::Native,
            };
            data.transfers.push(mk(SUB_INTERNAL + k, from, to, asset, U256::from(amount)));
            k += 1;
        }
    }
    Ok(())
}

/// One event log of a block's transaction infos, for readers of events other than `Transfer`
/// (the binary's stablecoin freeze scan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLog {
    /// The transaction id (bare hex, as TRON shows it).
    pub tx: String,
    /// The log's index in the block: logs counted across the block's transaction infos in
    /// order.
    pub log_index: u64,
    /// The emitting contract (20 bytes; the HTTP API may prefix them with `41`).
    pub address: [u8; 20],
    /// The topics.
    pub topics: Vec<[u8; 32]>,
    /// The data.
    pub data: Vec<u8>,
}

/// Every well-formed log of a block's `/wallet/gettransactioninfobyblocknum` entries, in order;
/// failed transactions' logs are left out (a reverted call emits nothing), malformed ones are
/// skipped.
pub fn block_logs(infos: &[Value]) -> Vec<TxLog> {
    let mut out = Vec::new();
    let mut index = 0u64;
    for info in infos.iter().take(MAX_ITEMS) {
        let logs = info.get("log").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let failed = info.get("result").and_then(Value::as_str) == Some("FAILED")
            || info.pointer("/receipt/result").and_then(Value::as_str).is_some_and(|r| r != "SUCCESS");
        let tx = info.get("id").and_then(Value::as_str).unwrap_or("").trim_start_matches("0x").to_ascii_lowercase();
        for log in logs.iter().take(MAX_ITEMS) {
            let n = index;
            index += 1;
            if failed {
                continue;
            }
            let contract = log.get("address").and_then(Value::as_str).unwrap_or("").trim_start_matches("0x");
            let contract = if contract.len() == 42 { &contract[2..] } else { contract };
            let mut address = [0u8; 20];
            if hex::decode_to_slice(contract, &mut address).is_err() {
                continue;
            }
            let topics: Option<Vec<[u8; 32]>> = log
                .get("topics")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|t| {
                    let mut w = [0u8; 32];
                    hex::decode_to_slice(t.as_str()?.trim_start_matches("0x"), &mut w).ok()?;
                    Some(w)
                })
                .collect();
            let data = hex::decode(log.get("data").and_then(Value::as_str).unwrap_or("").trim_start_matches("0x"));
            if let (Some(topics), Ok(data)) = (topics, data) {
                out.push(TxLog { tx: tx.clone(), log_index: n, address, topics, data });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calldata_recipient_with_the_41_prefix_is_the_low_20_bytes() {
        let owner = Address::Tron([1; 20]);
        let data = format!("a9059cbb{:0>64}{:064x}", "41fa47e5aa00000000000000000000000000000001", 2_000_000_000u64);
        let (from, to, amount) = calldata_transfer(&owner, &data).unwrap();
        assert_eq!(from, owner);
        assert_eq!(to, Address::parse_tron("0xfa47e5aa00000000000000000000000000000001").unwrap());
        assert_eq!(amount, U256::from(2_000_000_000u64));
        assert!(calldata_transfer(&owner, "a9059cbb00").is_none());
    }

    #[test]
    fn block_logs_count_across_transactions_and_skip_failed_ones() {
        let log = |a: &str| json!({"address": a, "topics": ["00".repeat(32)], "data": "0a"});
        let infos = vec![
            json!({"id": "AA", "log": [log("41a614f803b6fd780986a42c78ec9c7f77e6ded13c"), log("zz")]}),
            json!({"id": "bb", "receipt": {"result": "REVERT"}, "log": [log("a614f803b6fd780986a42c78ec9c7f77e6ded13c")]}),
            json!({"id": "cc", "log": [log("a614f803b6fd780986a42c78ec9c7f77e6ded13c")]}),
        ];
        let got = block_logs(&infos);
        assert_eq!(got.iter().map(|l| (l.tx.as_str(), l.log_index)).collect::<Vec<_>>(), [("aa", 0), ("cc", 3)]);
        assert_eq!(got[0].address, got[1].address, "with or without the 41 prefix");
        assert_eq!(got[0].data, vec![10]);
    }

    #[test]
    fn no_block_is_none_and_a_wrong_height_is_an_error() {
        assert!(decode_block(&json!({}), None, 5).unwrap().is_none());
        let b = json!({"blockID": "00".repeat(32), "block_header": {"raw_data": {"number": 6}}});
        assert!(decode_block(&b, None, 5).unwrap_err().to_string().contains("answered block 6"));
    }
}
