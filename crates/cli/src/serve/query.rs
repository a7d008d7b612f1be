//! Address history for the API: both adjacency directions merged in chain order, filtered, and
//! paged with an opaque cursor that encodes the last position read, `(height, tx_index, sub,
//! direction)`, so a page boundary never moves when new blocks arrive and a huge address pages
//! instead of timing out (each request reads at most [`SCAN_BUDGET`] rows).

use std::collections::{HashMap, VecDeque};

use chaintrace_model::time_fmt::rfc3339;
use chaintrace_model::{
    format_units, Address, Asset, ChainKind, ChainSpec, Direction, Position, TokenMeta, Transfer, U256,
};
use chaintrace_store::{Store, StoreError};
use chaintrace_tracer::{Bound, PriceBook};
use serde_json::{json, Value};

use super::ApiError;

/// Largest page (`limit`).
pub(crate) const MAX_LIMIT: usize = 1000;
/// Rows one history request reads at most; a page that filters most rows out ends early with a
/// cursor.
pub(crate) const SCAN_BUDGET: usize = 50_000;
const BATCH: usize = 512;

/// Which side(s) of an address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    In,
    Out,
    Both,
}

/// A position in the merged history: chain order, then `in` before `out` at one position.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Key {
    height: u64,
    tx_index: u32,
    sub: u32,
    /// 0 in, 1 out.
    dir: u8,
}

impl Key {
    fn of(t: &Transfer, d: Direction) -> Key {
        Key { height: t.height, tx_index: t.pos.tx_index, sub: t.pos.sub, dir: u8::from(d == Direction::Out) }
    }

    pub(crate) fn encode(self) -> String {
        let mut b = Vec::with_capacity(17);
        b.extend_from_slice(&self.height.to_be_bytes());
        b.extend_from_slice(&self.tx_index.to_be_bytes());
        b.extend_from_slice(&self.sub.to_be_bytes());
        b.push(self.dir);
        hex::encode(b)
    }

    pub(crate) fn decode(text: &str) -> Option<Key> {
        let b = hex::decode(text).ok()?;
        if b.len() != 17 || b[16] > 1 {
            return None;
        }
        Some(Key {
            height: u64::from_be_bytes(b[0..8].try_into().ok()?),
            tx_index: u32::from_be_bytes(b[8..12].try_into().ok()?),
            sub: u32::from_be_bytes(b[12..16].try_into().ok()?),
            dir: b[16],
        })
    }

    fn pos(self) -> (u64, Position) {
        (self.height, Position { tx_index: self.tx_index, sub: self.sub })
    }
}

/// The position just before `(h, p)`, for a strictly-after scan that includes `(h, p)`.
fn before(h: u64, p: Position) -> Option<(u64, Position)> {
    if p.sub > 0 {
        Some((h, Position { tx_index: p.tx_index, sub: p.sub - 1 }))
    } else if p.tx_index > 0 {
        Some((h, Position { tx_index: p.tx_index - 1, sub: u32::MAX }))
    } else if h > 0 {
        Some((h - 1, Position { tx_index: u32::MAX, sub: u32::MAX }))
    } else {
        None
    }
}

/// One adjacency direction read in batches.
struct Stream {
    dir: Direction,
    after: Option<(u64, Position)>,
    buf: VecDeque<Transfer>,
    done: bool,
}

impl Stream {
    fn head(&mut self, store: &Store, chain: &str, addr: &Address) -> Result<Option<&Transfer>, StoreError> {
        if self.buf.is_empty() && !self.done {
            let got = store.transfers(chain, addr, self.dir, self.after, BATCH)?;
            if got.len() < BATCH {
                self.done = true;
            }
            if let Some(last) = got.last() {
                self.after = Some(last.order());
            }
            self.buf.extend(got);
        }
        Ok(self.buf.front())
    }
}

/// The filters of a history request.
pub(crate) struct Filter {
    pub(crate) side: Side,
    pub(crate) asset: Option<Asset>,
    pub(crate) since: Option<Bound>,
    pub(crate) until: Option<Bound>,
    pub(crate) limit: usize,
    pub(crate) cursor: Option<Key>,
}

/// One page: the transfers with their direction, and where the next page starts.
pub(crate) struct Page {
    pub(crate) transfers: Vec<(Direction, Transfer)>,
    pub(crate) next: Option<Key>,
}

fn passes(f: &Filter, t: &Transfer) -> bool {
    if f.asset.as_ref().is_some_and(|a| *a != t.asset) {
        return false;
    }
    let after_since = match f.since {
        None => true,
        Some(Bound::Height(h)) => t.height >= h,
        Some(Bound::Time(s)) => t.time >= s,
    };
    let before_until = match f.until {
        None => true,
        Some(Bound::Height(h)) => t.height <= h,
        Some(Bound::Time(u)) => t.time <= u,
    };
    after_since && before_until
}

/// Read one page of `addr`'s history.
pub(crate) fn history(store: &Store, chain: &str, addr: &Address, f: &Filter) -> Result<Page, StoreError> {
    let start_in = match f.cursor {
        // `in` at the cursor's position was read before anything at it.
        Some(k) => Some(k.pos()),
        None => match f.since {
            Some(Bound::Height(h)) => before(h, Position { tx_index: 0, sub: 0 }),
            _ => None,
        },
    };
    let start_out = match f.cursor {
        Some(k) if k.dir == 0 => before(k.height, Position { tx_index: k.tx_index, sub: k.sub }),
        Some(k) => Some(k.pos()),
        None => start_in,
    };
    let mut streams: Vec<Stream> = Vec::new();
    if f.side != Side::Out {
        streams.push(Stream { dir: Direction::In, after: start_in, buf: VecDeque::new(), done: false });
    }
    if f.side != Side::In {
        streams.push(Stream { dir: Direction::Out, after: start_out, buf: VecDeque::new(), done: false });
    }
    let until_height = match f.until {
        Some(Bound::Height(h)) => Some(h),
        _ => None,
    };
    let mut out = Vec::new();
    let mut scanned = 0usize;
    loop {
        // The stream whose head comes first (in before out at one position).
        let mut best: Option<(usize, Key)> = None;
        for (i, s) in streams.iter_mut().enumerate() {
            let dir = s.dir;
            if let Some(t) = s.head(store, chain, addr)? {
                let k = Key::of(t, dir);
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let Some((i, k)) = best else { return Ok(Page { transfers: out, next: None }) };
        if until_height.is_some_and(|u| k.height > u) {
            return Ok(Page { transfers: out, next: None });
        }
        let t = streams[i].buf.pop_front().expect("the head was just read");
        scanned += 1;
        if passes(f, &t) {
            out.push((streams[i].dir, t));
        }
        if out.len() >= f.limit || scanned >= SCAN_BUDGET {
            return Ok(Page { transfers: out, next: Some(k) });
        }
    }
}

/// Token metadata and prices, to show amounts in their units and in USD.
pub(crate) struct Valuer<'a> {
    pub(crate) store: &'a Store,
    pub(crate) chain: &'a str,
    pub(crate) spec: &'a ChainSpec,
    pub(crate) prices: &'a PriceBook,
    tokens: HashMap<[u8; 20], Option<TokenMeta>>,
}

impl<'a> Valuer<'a> {
    pub(crate) fn new(store: &'a Store, chain: &'a str, spec: &'a ChainSpec, prices: &'a PriceBook) -> Self {
        Valuer { store, chain, spec, prices, tokens: HashMap::new() }
    }

    /// (asset id, symbol, decimals) as case files write them.
    pub(crate) fn info(&mut self, asset: &Asset) -> Result<(String, Option<String>, u8), StoreError> {
        match asset {
            Asset::Native => {
                Ok((self.spec.native_symbol.clone(), Some(self.spec.native_symbol.clone()), self.spec.native_decimals))
            }
            Asset::Trc10(_) => Ok((asset.display(&self.spec.native_symbol), None, 0)),
            Asset::Token(c) | Asset::TronToken(c) => {
                if !self.tokens.contains_key(c) {
                    let meta = self.store.token_meta(self.chain, c)?;
                    self.tokens.insert(*c, meta);
                }
                let meta = self.tokens.get(c).cloned().flatten();
                let id = asset.display(&self.spec.native_symbol);
                let symbol = meta
                    .as_ref()
                    .and_then(|m| m.symbol.clone())
                    .or_else(|| self.spec.price_symbols.get(&id.to_ascii_lowercase()).cloned());
                Ok((id, symbol, meta.and_then(|m| m.decimals).unwrap_or(0)))
            }
        }
    }

    /// USD value of `raw` units of `asset` at `time` and the `usd_source` code of the price
    /// (as case files write it), when a price is known.
    pub(crate) fn usd(&mut self, asset: &Asset, time: u64, raw: U256) -> Result<Option<(String, String)>, StoreError> {
        let (id, _, decimals) = self.info(asset)?;
        let symbol = match asset {
            Asset::Native => Some(self.spec.native_symbol.clone()),
            _ => self.spec.price_symbols.get(&id.to_ascii_lowercase()).cloned(),
        };
        Ok(symbol.and_then(|s| self.prices.usd(&s, time, raw, decimals)).map(|(v, src)| (v, src.code())))
    }

    /// One transfer as the API shows it (a case file's edge fields plus direction and position).
    pub(crate) fn edge(&mut self, d: Direction, t: &Transfer) -> Result<Value, StoreError> {
        let (id, symbol, decimals) = self.info(&t.asset)?;
        let (usd, usd_source) = self.usd(&t.asset, t.time, t.amount)?.unzip();
        let tx = t.tx.display_for(self.spec.kind);
        Ok(json!({
            "direction": if d == Direction::Out { "out" } else { "in" },
            "from": t.from.to_string(),
            "to": t.to.to_string(),
            "tx": tx,
            "block": t.height,
            "position": { "tx_index": t.pos.tx_index, "sub": t.pos.sub },
            "time": rfc3339(t.time),
            "asset": id,
            "symbol": symbol,
            "amount": format_units(t.amount, decimals),
            "amount_raw": t.amount.to_string(),
            "usd": usd,
            "usd_source": usd_source,
        }))
    }
}

/// Micro-dollars of a decimal USD text (`"1234.5"`), for summing totals exactly.
pub(crate) fn usd_micros(text: &str) -> Option<u128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let int: u128 = int.parse().ok()?;
    let mut f = frac.chars().take(6).collect::<String>();
    while f.len() < 6 {
        f.push('0');
    }
    Some(int * 1_000_000 + f.parse::<u128>().ok()?)
}

/// `"1234.56"` from micro-dollars (cents, rounded down).
pub(crate) fn usd_text(micros: u128) -> String {
    format!("{}.{:02}", micros / 1_000_000, (micros % 1_000_000) / 10_000)
}

/// Parse `text` as an address of `spec`'s kind.
pub(crate) fn parse_address(text: &str, spec: &ChainSpec) -> Result<Address, ApiError> {
    let parsed = if spec.kind == ChainKind::Evm { Address::parse_evm(text) } else { Address::parse_bitcoin(text) };
    match parsed {
        Ok(a) if a != Address::Coinbase => Ok(a),
        _ => Err(ApiError::bad(format!("invalid address {text:?} for chain {} ({:?})", spec.name, spec.kind))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_sort_in_chain_order() {
        let a = Key { height: 7, tx_index: 3, sub: 1, dir: 0 };
        let b = Key { height: 7, tx_index: 3, sub: 1, dir: 1 };
        assert!(a < b);
        assert_eq!(Key::decode(&a.encode()), Some(a));
        assert_eq!(Key::decode(&b.encode()), Some(b));
        assert_eq!(Key::decode("zz"), None);
        assert_eq!(Key::decode(&"00".repeat(16)), None);
        assert_eq!(Key::decode(&format!("{}02", "00".repeat(16))), None);
    }

    #[test]
    fn before_steps_back_one_position() {
        let p = |t, s| Position { tx_index: t, sub: s };
        assert_eq!(before(5, p(2, 1)), Some((5, p(2, 0))));
        assert_eq!(before(5, p(2, 0)), Some((5, p(1, u32::MAX))));
        assert_eq!(before(5, p(0, 0)), Some((4, p(u32::MAX, u32::MAX))));
        assert_eq!(before(0, p(0, 0)), None);
    }

    #[test]
    fn usd_sums_exactly() {
        assert_eq!(usd_micros("12.5"), Some(12_500_000));
        assert_eq!(usd_micros("3"), Some(3_000_000));
        assert_eq!(usd_text(12_500_000 + 3_000_000), "15.50");
    }
}
