//! On-demand history of one account from TronGrid's account endpoints.
//!
//! - `GET /v1/accounts/{address}/transactions` lists the account's transactions (TRX, TRC-10,
//!   contract calls it made or received) with their `blockNumber`, and, with
//!   `search_internal`, the internal transactions that touched it (`tx_id`, no block number).
//! - `GET /v1/accounts/{address}/transactions/trc20` lists its TRC-20 transfers
//!   (`transaction_id`, no block number).
//!
//! Both are paged: `limit` (at most 200), `min_timestamp`/`max_timestamp` (ms), and the next
//! page's `fingerprint` from `meta.fingerprint` (or the `fingerprint` parameter of
//! `meta.links.next`). The next-page link itself is never followed: its host could be another
//! than the endpoint's, and the API key would go with the request.
//!
//! The listings only say *which* transactions and blocks hold the account's transfers. Their
//! blocks are then fetched whole (`/wallet/getblockbynum` and, where the endpoint has it,
//! `/wallet/gettransactioninfobyblocknum`) and decoded by the same code as a block-range ingest,
//! so positions (and the store's keys) are identical to a full ingest. A transaction without a
//! block number is placed with `/wallet/gettransactioninfobyid`.

use std::collections::{BTreeMap, BTreeSet};

use chaintrace_model::{Address, BlockData};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::decode::decode_block;
use crate::{HttpApi, TronError};

/// TronGrid's largest page.
pub const MAX_PAGE: u32 = 200;
/// Pages read per listing at most (a loop guard: 200 000 transactions at the largest page).
const MAX_PAGES: u32 = 1_000;

/// What [`account_history`] fetches.
#[derive(Clone, Debug)]
pub struct AccountOptions {
    /// First block height (inclusive).
    pub from: u64,
    /// Last block height (inclusive; `u64::MAX` for up to the head).
    pub to: u64,
    /// `limit` per page (1..=200).
    pub page_size: u32,
    /// Whether the endpoint has `/wallet/gettransactioninfobyblocknum` (TRC-20 logs, internal
    /// transfers); without it TRC-20 transfers come from calls' `transfer()` calldata.
    pub tx_info: bool,
    /// Blocks fetched at once.
    pub parallel: usize,
}

impl Default for AccountOptions {
    fn default() -> Self {
        AccountOptions { from: 0, to: u64::MAX, page_size: MAX_PAGE, tx_info: true, parallel: 8 }
    }
}

/// One account's history: partial blocks, ready for the sink's unlinked path.
#[derive(Clone, Debug, Default)]
pub struct AccountHistory {
    /// Partial blocks holding only this account's transfers, by height.
    pub blocks: Vec<BlockData>,
    /// Transactions the listings named (TRX and TRC-20, internal ones by their parent).
    pub listed_txs: usize,
    /// Pages read from the two listings.
    pub pages: u32,
    /// Listed TRC-20 transfers (transaction, from, to, value) that no decoded transfer of their
    /// block matches (e.g. a contract's forwarded transfer when TRC-20 come from calldata).
    pub unmatched_trc20: usize,
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo [`encode`] (and `+` as a space) for a value read from a next-page link.
fn decode_query(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The next page's fingerprint of a TronGrid answer, if there is a next page.
fn next_fingerprint(page: &Value) -> Option<String> {
    if let Some(f) = page.pointer("/meta/fingerprint").and_then(Value::as_str).filter(|f| !f.is_empty()) {
        return Some(f.to_string());
    }
    let next = page.pointer("/meta/links/next").and_then(Value::as_str)?;
    let query = next.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("fingerprint=")).map(decode_query).filter(|f| !f.is_empty())
}

/// Read every page of one listing; `visit` gets each item.
async fn listing(
    api: &HttpApi,
    path: &str,
    base_query: &str,
    pages: &mut u32,
    mut visit: impl FnMut(&Value) -> Result<(), TronError>,
) -> Result<(), TronError> {
    let mut fingerprint: Option<String> = None;
    let mut seen = BTreeSet::new();
    for _ in 0..MAX_PAGES {
        let mut q = base_query.to_string();
        if let Some(f) = &fingerprint {
            q.push_str(&format!("&fingerprint={}", encode(f)));
        }
        let page = match api.get(&format!("{path}?{q}")).await {
            Err(TronError::Status { status: 404 | 405, .. }) => {
                return Err(TronError::NoAccountApi { url: api.shown_url().to_string(), path: path_shape(path) });
            }
            other => other?,
        };
        if page.get("success").and_then(Value::as_bool) == Some(false) {
            let message = page.get("error").and_then(Value::as_str).unwrap_or("no reason given").to_string();
            return Err(TronError::Refused { url: api.shown_url().to_string(), path: path_shape(path), message });
        }
        let data = match page.get("data") {
            Some(Value::Array(a)) => a.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => {
                return Err(TronError::BadJson {
                    url: api.shown_url().to_string(),
                    path: path_shape(path),
                    message: "`data` is not an array".into(),
                })
            }
        };
        *pages += 1;
        for item in data {
            visit(item)?;
        }
        match next_fingerprint(&page) {
            Some(f) if !data.is_empty() && seen.insert(f.clone()) => fingerprint = Some(f),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// `/v1/accounts/{address}/…` with the address left out, for messages.
fn path_shape(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 3 {
        parts[3] = "{address}";
    }
    parts.join("/")
}

fn hex_id(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim_start_matches("0x").to_ascii_lowercase();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

/// The block timestamp (ms) of `height`, for the listings' time filters.
async fn block_time_ms(api: &HttpApi, height: u64) -> Result<Option<u64>, TronError> {
    let b = api.block(height).await?;
    Ok(b.pointer("/block_header/raw_data/timestamp").and_then(Value::as_u64))
}

/// Fetch the history of `addr` (a TRON account) in blocks `opts.from..=opts.to`.
pub async fn account_history(
    api: &HttpApi,
    addr: &Address,
    opts: &AccountOptions,
) -> Result<AccountHistory, TronError> {
    let Address::Tron(_) = addr else {
        return Err(TronError::NotTronAddress(addr.to_string()));
    };
    let t = addr.to_string();
    let limit = opts.page_size.clamp(1, MAX_PAGE);
    let mut base = format!("limit={limit}&order_by=block_timestamp%2Casc");
    if opts.from > 0 {
        if let Some(ms) = block_time_ms(api, opts.from).await? {
            base.push_str(&format!("&min_timestamp={ms}"));
        }
    }
    if opts.to != u64::MAX {
        if let Some(ms) = block_time_ms(api, opts.to).await? {
            base.push_str(&format!("&max_timestamp={ms}"));
        }
    }
    let mut hist = AccountHistory::default();
    // tx id → block height, where the listing gave it.
    let mut txs: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let mut trc20: Vec<(String, Value)> = Vec::new();
    let bad = |what: &str, item: &Value| TronError::BadJson {
        url: api.shown_url().to_string(),
        path: "/v1/accounts/{address}/transactions".into(),
        message: format!("an item without {what}: {}", truncate(item)),
    };
    let path = format!("/v1/accounts/{t}/transactions");
    listing(api, &path, &format!("{base}&search_internal=true"), &mut hist.pages, |item| {
        // A transaction (`txID`, `blockNumber`) or an internal transaction (`tx_id`).
        if let Some(id) = hex_id(item.get("txID")) {
            let height = item.get("blockNumber").and_then(Value::as_u64);
            let e = txs.entry(id).or_insert(None);
            *e = e.or(height);
            Ok(())
        } else if let Some(id) = hex_id(item.get("tx_id")) {
            txs.entry(id).or_insert(None);
            Ok(())
        } else {
            Err(bad("txID or tx_id", item))
        }
    })
    .await?;
    let path = format!("/v1/accounts/{t}/transactions/trc20");
    listing(api, &path, &base, &mut hist.pages, |item| {
        let id = hex_id(item.get("transaction_id")).ok_or_else(|| bad("transaction_id", item))?;
        txs.entry(id.clone()).or_insert(None);
        trc20.push((id, item.clone()));
        Ok(())
    })
    .await?;
    hist.listed_txs = txs.len();

    // Place the transactions the listings gave no block for.
    let unplaced: Vec<String> = txs.iter().filter(|(_, h)| h.is_none()).map(|(id, _)| id.clone()).collect();
    let placed: Vec<(String, u64)> = stream::iter(unplaced)
        .map(|id| async move {
            let info = api.post("/wallet/gettransactioninfobyid", &json!({ "value": id })).await?;
            let h = info.get("blockNumber").and_then(Value::as_u64).ok_or_else(|| TronError::BadJson {
                url: api.shown_url().to_string(),
                path: "/wallet/gettransactioninfobyid".into(),
                message: format!("no blockNumber for transaction {id}"),
            })?;
            Ok::<_, TronError>((id, h))
        })
        .buffer_unordered(opts.parallel.max(1))
        .try_collect()
        .await?;
    for (id, h) in placed {
        txs.insert(id, Some(h));
    }
    let tx_heights: BTreeMap<String, u64> = txs.into_iter().filter_map(|(id, h)| Some((id, h?))).collect();
    let heights: BTreeSet<u64> = tx_heights.values().copied().filter(|h| (opts.from..=opts.to).contains(h)).collect();

    // Fetch and decode the blocks; keep what touches the account.
    let tx_info = opts.tx_info;
    let blocks: Vec<BlockData> = stream::iter(heights)
        .map(|h| async move {
            let block = api.block(h).await?;
            let infos = if tx_info { Some(api.tx_infos(h).await?) } else { None };
            let (data, _) =
                decode_block(&block, infos.as_deref(), h)?.ok_or(TronError::Missing { height: h, head: h })?;
            Ok::<_, TronError>(data)
        })
        .buffered(opts.parallel.max(1))
        .try_collect()
        .await?;
    let mut out = Vec::with_capacity(blocks.len());
    for mut b in blocks {
        b.transfers.retain(|x| &x.from == addr || &x.to == addr);
        if !b.transfers.is_empty() {
            out.push(b);
        }
    }
    // Cross-check the TRC-20 listing against what the blocks hold.
    for (id, item) in &trc20 {
        let Some(h) = tx_heights.get(id) else { continue };
        if !(opts.from..=opts.to).contains(h) {
            continue;
        }
        let parse = |k: &str| item.get(k).and_then(Value::as_str).and_then(|s| Address::parse_tron(s).ok());
        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
        let found = out.iter().filter(|b| b.block.height == *h).flat_map(|b| &b.transfers).any(|x| {
            x.tx.to_hex().trim_start_matches("0x") == id
                && Some(&x.from) == parse("from").as_ref()
                && Some(&x.to) == parse("to").as_ref()
                && x.amount.to_string() == value
        });
        if !found {
            hist.unmatched_trc20 += 1;
        }
    }
    hist.blocks = out;
    Ok(hist)
}

fn truncate(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_from_meta_or_the_next_link() {
        assert_eq!(next_fingerprint(&json!({"meta": {"fingerprint": "ab+c/="}})).as_deref(), Some("ab+c/="));
        let link = json!({"meta": {"links": {"next": "https://x/v1/accounts/T/transactions?limit=2&fingerprint=ab%2Bc%2F%3D"}}});
        assert_eq!(next_fingerprint(&link).as_deref(), Some("ab+c/="));
        assert_eq!(next_fingerprint(&json!({"meta": {"page_size": 2}})), None);
        assert_eq!(encode("ab+c/="), "ab%2Bc%2F%3D");
        assert_eq!(decode_query(&encode("x y%z")), "x y%z");
        assert_eq!(path_shape("/v1/accounts/TXYZ/transactions/trc20"), "/v1/accounts/{address}/transactions/trc20");
    }
}
