//! Daily USD prices per asset, from a CSV the user points at, and exact USD valuation.
//!
//! The table is `date,<sym>_usd,…` (e.g. `date,btc_usd,eth_usd,usdt_usd,usdc_usd`), one row per
//! UTC day; an empty cell means no price is known that day. [`PriceTable::price`] values
//! stablecoins at 1.00 by rule, whatever the table says. Everything is exact decimal arithmetic
//! on integers: the price is read as an integer mantissa and a scale, never as a float.
//!
//! [`PriceBook`] is the valuation of SPEC version 2: a `--prices` table first, then on-chain feed
//! points (Chainlink `AnswerUpdated` of the chain's aggregator), then the daily table that ships
//! with the binary ([`SHIPPED_TABLE_SOURCE`]); a stablecoin takes a table or feed price when one
//! is known (so a depeg shows) and 1.00 otherwise, and every value says which source gave it
//! ([`PriceSource`]).

use std::collections::BTreeMap;

use chaintrace_model::U256;
use ruint::aliases::U512;

/// Price symbols valued at exactly 1.00 USD.
pub const STABLECOINS: &[&str] = &["USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "PYUSD", "FDUSD", "GUSD", "USDS"];

/// Why a price table could not be read; names the file and line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PriceError {
    /// The first line is not a `date,…` header.
    #[error("price table {file}: the first line must be a header starting with `date`")]
    Header {
        /// The table's file name.
        file: String,
    },
    /// A data row is malformed (`what` says how).
    #[error("price table {file} line {line}: {what}")]
    Row {
        /// The table's file name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the row.
        what: String,
    },
}

/// An exact non-negative decimal: `mantissa / 10^scale`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Decimal {
    /// The digits as an integer.
    pub mantissa: u128,
    /// Number of fraction digits.
    pub scale: u32,
}

impl Decimal {
    /// Exactly 1 (the price of a stablecoin).
    pub const ONE: Decimal = Decimal { mantissa: 1, scale: 0 };

    /// Parse `18562.35`, `1`, `0.9986`; rejects signs, exponents and more than 30 fraction digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty())
            || frac.len() > 30
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{int}{frac}");
        let mantissa = if digits.is_empty() { 0 } else { digits.parse::<u128>().ok()? };
        Some(Decimal { mantissa, scale: frac.len() as u32 })
    }
}

/// Daily USD prices keyed by price symbol (upper case, e.g. `BTC`, `ETH`).
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    /// symbol → date (`YYYY-MM-DD`) → price
    prices: BTreeMap<String, BTreeMap<String, Decimal>>,
    /// SHA-256 of the CSV text (recorded in the case file's provenance).
    sha256: Option<String>,
}

impl PriceTable {
    /// A table that knows only the stablecoins.
    pub fn empty() -> Self {
        PriceTable::default()
    }

    /// Parse the CSV text of a price table; `file` names it in errors.
    pub fn parse_csv(text: &str, file: &str) -> Result<Self, PriceError> {
        let mut lines = text.lines().enumerate();
        let (header_line, header) = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((i, l)) => break (i + 1, l),
                None => return Err(PriceError::Header { file: file.to_string() }),
            }
        };
        let cols: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
        if !cols.first().is_some_and(|c| c.eq_ignore_ascii_case("date")) {
            return Err(PriceError::Header { file: file.to_string() });
        }
        let symbols: Vec<String> = cols[1..]
            .iter()
            .map(|c| {
                let lc = c.to_ascii_lowercase();
                lc.strip_suffix("_usd").unwrap_or(&lc).to_ascii_uppercase()
            })
            .collect();
        for (i, sym) in symbols.iter().enumerate() {
            if sym.is_empty() || symbols[..i].contains(sym) {
                return Err(PriceError::Row {
                    file: file.to_string(),
                    line: header_line,
                    what: format!("column {} is empty or names {sym} twice", i + 2),
                });
            }
        }
        let mut table = PriceTable {
            prices: BTreeMap::new(),
            sha256: Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))),
        };
        let mut seen_dates = std::collections::HashSet::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let row_err = |what: String| PriceError::Row { file: file.to_string(), line: i + 1, what };
            let cells: Vec<&str> = line.split(',').collect();
            let date = cells[0].trim();
            if !is_date(date) {
                return Err(row_err(format!("invalid date {date:?}, expected a calendar day YYYY-MM-DD")));
            }
            if cells.len() > cols.len() {
                return Err(row_err(format!("{} cells, the header has {} columns", cells.len(), cols.len())));
            }
            if !seen_dates.insert(date.to_string()) {
                return Err(row_err(format!("date {date} appears twice")));
            }
            for (sym, cell) in symbols.iter().zip(cells[1..].iter()) {
                let cell = cell.trim();
                if cell.is_empty() {
                    continue;
                }
                let price = Decimal::parse(cell).ok_or_else(|| row_err(format!("invalid price {cell:?} for {sym}")))?;
                if price.mantissa == 0 {
                    return Err(row_err(format!(
                        "price {cell} for {sym}: nothing trades at zero; leave the cell empty when the price is unknown"
                    )));
                }
                table.prices.entry(sym.clone()).or_default().insert(date.to_string(), price);
            }
        }
        Ok(table)
    }

    /// SHA-256 (hex) of the CSV the table was read from.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// The USD price of one unit of `symbol` on `date`; stablecoins are 1.00; `None` when the
    /// table has no price that day (no interpolation: an unknown price stays unknown).
    pub fn price(&self, symbol: &str, date: &str) -> Option<Decimal> {
        let sym = symbol.to_ascii_uppercase();
        if STABLECOINS.contains(&sym.as_str()) {
            return Some(Decimal::ONE);
        }
        self.prices.get(&sym)?.get(date).copied()
    }

    /// The price the table lists for `symbol` on `date`, stablecoins included (no 1.00 rule).
    pub fn listed(&self, symbol: &str, date: &str) -> Option<Decimal> {
        self.prices.get(&symbol.to_ascii_uppercase())?.get(date).copied()
    }

    /// USD value of `raw` base units (with `decimals`) of `symbol` on `date`, rounded half-up to
    /// cents, as a decimal string (`"185623.50"`); `None` when no price is known.
    pub fn usd(&self, symbol: &str, date: &str, raw: U256, decimals: u8) -> Option<String> {
        self.price(symbol, date).map(|p| usd_value(raw, decimals, p))
    }
}

/// `raw / 10^decimals * price`, rounded half-up to cents.
pub fn usd_value(raw: U256, decimals: u8, price: Decimal) -> String {
    // the same integers in 128 bits when they fit (a case file values every edge)
    let narrow = || {
        let den = 10u128.checked_pow(u32::from(decimals).checked_add(price.scale)?)?;
        let num = u128::try_from(raw).ok()?.checked_mul(price.mantissa)?.checked_mul(100)?;
        Some(num.checked_add(den / 2)? / den)
    };
    let s = match narrow() {
        Some(cents) => cents.to_string(),
        None => usd_cents_wide(raw, decimals, price).to_string(),
    };
    let s = format!("{s:0>3}");
    let (int, frac) = s.split_at(s.len() - 2);
    format!("{int}.{frac}")
}

/// `raw / 10^decimals * price` in cents, rounded half-up, in 512 bits.
fn usd_cents_wide(raw: U256, decimals: u8, price: Decimal) -> U512 {
    let ten = U512::from(10u8);
    let num = U512::from(raw) * U512::from(price.mantissa) * U512::from(100u8);
    let den = ten.pow(U512::from(decimals as u32 + price.scale));
    (num + den / U512::from(2u8)) / den
}

/// Where a USD value came from; a case file names it next to the value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PriceSource {
    /// The `--prices` table (its file name as given).
    UserTable(String),
    /// An on-chain price feed: the aggregator's address and the round used.
    Feed {
        /// The aggregator, as the config names it (`0x…`).
        feed: String,
        /// The round whose answer was used.
        round: u64,
    },
    /// The daily table built into the binary ([`SHIPPED_TABLE_SOURCE`]).
    Shipped,
    /// No price known for a stablecoin that day: valued at its 1.00 peg.
    Peg,
}

impl PriceSource {
    /// One line for a case file or report: `prices.csv`, `chainlink 0x… round 123`,
    /// `shipped daily table (…)`, `stablecoin peg 1.00`.
    pub fn describe(&self) -> String {
        match self {
            PriceSource::UserTable(f) => format!("price table {f}"),
            PriceSource::Feed { feed, round } => format!("chainlink feed {feed} round {round}"),
            PriceSource::Shipped => SHIPPED_TABLE_SOURCE.to_string(),
            PriceSource::Peg => "stablecoin peg 1.00 (no price known that day)".to_string(),
        }
    }
}

impl PriceSource {
    /// The compact form a case file keeps on every edge and deposit (`usd_source`):
    /// `table:FILE`, `feed:0xAGGREGATOR:ROUND`, `shipped` or `peg`.
    pub fn code(&self) -> String {
        match self {
            PriceSource::UserTable(f) => format!("table:{f}"),
            PriceSource::Feed { feed, round } => format!("feed:{feed}:{round}"),
            PriceSource::Shipped => "shipped".to_string(),
            PriceSource::Peg => "peg".to_string(),
        }
    }

    /// Read back a [`PriceSource::code`]; `None` for text that is not one.
    pub fn from_code(code: &str) -> Option<PriceSource> {
        match code {
            "shipped" => Some(PriceSource::Shipped),
            "peg" => Some(PriceSource::Peg),
            _ => {
                if let Some(f) = code.strip_prefix("table:") {
                    return Some(PriceSource::UserTable(f.to_string()));
                }
                let rest = code.strip_prefix("feed:")?;
                let (feed, round) = rest.rsplit_once(':')?;
                Some(PriceSource::Feed { feed: feed.to_string(), round: round.parse().ok()? })
            }
        }
    }
}

/// The daily table that ships with the binary: `date,btc_usd,eth_usd,usdt_usd,usdc_usd`,
/// 2015-01-01 … 2025-12-31 (`crates/tracer/data/PROVENANCE.md`).
pub const SHIPPED_TABLE_CSV: &str = include_str!("../data/daily_usd.csv");

/// How a case names the shipped table.
pub const SHIPPED_TABLE_SOURCE: &str =
    "shipped daily table (BTC, ETH: CoinGecko 00:00 UTC; USDT, USDC: Yahoo Finance daily close)";

/// A feed point older than this (seconds before the valued time) is not used: Chainlink's
/// ETH/USD heartbeat is one hour, so a day without an update means the feed is not serving.
pub const FEED_MAX_AGE: u64 = 86_400;

/// One on-chain feed's answers for a symbol.
#[derive(Clone, Debug)]
struct Feed {
    name: String,
    decimals: u8,
    /// (updated_at, round, answer), sorted.
    points: Vec<(u64, u64, i128)>,
}

/// Valuation in the order of SPEC version 2 (see the module docs). Build it with
/// [`PriceBook::new`], add on-chain feeds with [`PriceBook::add_feed`], value with
/// [`PriceBook::usd`].
#[derive(Clone, Debug)]
pub struct PriceBook {
    user: Option<(PriceTable, String)>,
    feeds: BTreeMap<String, Vec<Feed>>,
    shipped: PriceTable,
}

impl Default for PriceBook {
    fn default() -> Self {
        PriceBook::new(None)
    }
}

impl PriceBook {
    /// The shipped table, under `user` (a `--prices` table and its file name) when given.
    pub fn new(user: Option<(PriceTable, String)>) -> Self {
        let shipped = PriceTable::parse_csv(SHIPPED_TABLE_CSV, "shipped daily_usd.csv")
            .expect("the shipped table is checked by a test");
        PriceBook { user, feeds: BTreeMap::new(), shipped }
    }

    /// Value `symbol` also from an on-chain feed: `feed` names it (`0x…`), `decimals` is the
    /// answers' scale (8 for Chainlink USD feeds), `points` are (updated_at, round, answer).
    /// Non-positive answers are never used.
    pub fn add_feed(
        &mut self,
        symbol: &str,
        feed: &str,
        decimals: u8,
        points: impl IntoIterator<Item = (u64, u64, i128)>,
    ) {
        let mut points: Vec<_> = points.into_iter().collect();
        points.sort_unstable();
        self.feeds.entry(symbol.to_ascii_uppercase()).or_default().push(Feed {
            name: feed.to_string(),
            decimals,
            points,
        });
    }

    /// The `--prices` table and its file name, when one was given.
    pub fn user_table(&self) -> Option<(&PriceTable, &str)> {
        self.user.as_ref().map(|(t, n)| (t, n.as_str()))
    }

    /// SHA-256 (hex) of the shipped table's CSV text.
    pub fn shipped_sha256(&self) -> Option<&str> {
        self.shipped.sha256()
    }

    /// The on-chain feeds added: (symbol, feed name, number of points).
    pub fn feeds(&self) -> impl Iterator<Item = (&str, &str, usize)> + '_ {
        self.feeds.iter().flat_map(|(sym, fs)| fs.iter().map(move |f| (sym.as_str(), f.name.as_str(), f.points.len())))
    }

    /// The USD price of one unit of `symbol` at `time` (unix seconds UTC) and its source, or
    /// `None` when no source knows it (an unknown price stays unknown, never 0).
    pub fn price(&self, symbol: &str, time: u64) -> Option<(Decimal, PriceSource)> {
        let sym = symbol.to_ascii_uppercase();
        let date = chaintrace_model::time_fmt::utc_date(time);
        if let Some((t, name)) = &self.user {
            if let Some(p) = t.listed(&sym, &date) {
                return Some((p, PriceSource::UserTable(name.clone())));
            }
        }
        for f in self.feeds.get(&sym).into_iter().flatten() {
            let idx = f.points.partition_point(|p| p.0 <= time);
            if idx == 0 {
                continue;
            }
            let (at, round, answer) = f.points[idx - 1];
            if time - at > FEED_MAX_AGE || answer <= 0 {
                continue;
            }
            let mantissa = u128::try_from(answer).ok()?;
            return Some((
                Decimal { mantissa, scale: u32::from(f.decimals) },
                PriceSource::Feed { feed: f.name.clone(), round },
            ));
        }
        if let Some(p) = self.shipped.listed(&sym, &date) {
            return Some((p, PriceSource::Shipped));
        }
        STABLECOINS.contains(&sym.as_str()).then_some((Decimal::ONE, PriceSource::Peg))
    }

    /// USD value of `raw` base units (with `decimals`) of `symbol` at `time`, rounded half-up to
    /// cents (`"185623.50"`), with its source; `None` when no price is known.
    pub fn usd(&self, symbol: &str, time: u64, raw: U256, decimals: u8) -> Option<(String, PriceSource)> {
        self.price(symbol, time).map(|(p, src)| (usd_value(raw, decimals, p), src))
    }
}

fn is_date(d: &str) -> bool {
    let b = d.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return false;
    }
    // A calendar day: month 1–12, day within the month (2023-02-29 and 2024-13-01 are not).
    let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let (y, m, day) = (n(0..4), n(5..7), n(8..10));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The 128-bit path gives the cents the 512-bit arithmetic gives.
        #[test]
        fn usd_value_narrow_equals_wide(
            limbs in any::<[u64; 4]>(),
            width in 0usize..4,
            mantissa in prop_oneof![0u128..1_000_000_000, any::<u128>()],
            scale in 0u32..30,
            decimals in 0u8..40,
        ) {
            let raw = U256::from_limbs(limbs) >> (64 * width);
            let price = Decimal { mantissa, scale };
            let s = usd_cents_wide(raw, decimals, price).to_string();
            let s = format!("{s:0>3}");
            let (int, frac) = s.split_at(s.len() - 2);
            prop_assert_eq!(usd_value(raw, decimals, price), format!("{int}.{frac}"));
        }
    }

    use super::*;

    const SAMPLE: &str = "date,btc_usd,eth_usd,usdt_usd,usdc_usd\n2015-08-08,261.0,3.0,,\n2015-08-09,265.1,,,\n2022-11-09,18562.35,1334.29,0.9986,1.00034\n";

    #[test]
    fn values_exactly_and_rounds_to_cents() {
        let t = PriceTable::parse_csv(SAMPLE, "sample").unwrap();
        let p = t.price("BTC", "2022-11-09").unwrap();
        assert_eq!(p, Decimal { mantissa: 1856235, scale: 2 });
        // 2.5 BTC at 18562.35 = 46405.875 -> 46405.88
        assert_eq!(t.usd("BTC", "2022-11-09", U256::from(250_000_000u64), 8).as_deref(), Some("46405.88"));
        // 1 wei of ETH rounds to 0.00
        assert_eq!(t.usd("eth", "2022-11-09", U256::from(1u8), 18).as_deref(), Some("0.00"));
        // stablecoins at 1.00 whatever the table says
        assert_eq!(t.usd("USDT", "2022-11-09", U256::from(1_234_565u64), 6).as_deref(), Some("1.23"));
        assert_eq!(t.usd("USDC", "1999-01-01", U256::from(5_000_000u64), 6).as_deref(), Some("5.00"));
        // missing day and unknown symbol are null
        assert_eq!(t.usd("ETH", "2015-08-09", U256::from(1u8), 0), None);
        assert_eq!(t.usd("DOGE", "2022-11-09", U256::from(1u8), 0), None);
    }

    #[test]
    fn real_table_samples() {
        let path = chaintrace_testkit::test_data("prices/daily_usd.csv");
        let text = std::fs::read_to_string(&path).expect("price fixture in tests/data");
        let t = PriceTable::parse_csv(&text, &path.display().to_string()).unwrap();
        assert_eq!(t.usd("BTC", "2022-11-09", U256::from(100_000_000u64), 8).as_deref(), Some("18562.35"));
        assert_eq!(t.usd("ETH", "2022-11-09", U256::from(10u64).pow(U256::from(18)), 18).as_deref(), Some("1334.29"));
        assert_eq!(t.usd("BTC", "2016-06-17", U256::from(100_000_000u64), 8).as_deref(), Some("749.42"));
        assert_eq!(t.price("ETH", "2015-08-09"), None, "documented gap");
        assert_eq!(t.price("ETH", "2025-01-05"), None, "ETH ends 2024-12-20");
        assert!(t.price("ETH", "2024-12-20").is_some());
    }

    /// The real Chainlink ETH/USD rounds (tests/data/chainlink-eth-usd) as feed points: the
    /// book values with the round current at the time, and the facts in that folder's
    /// PROVENANCE.md hold.
    #[test]
    fn feed_points_value_at_the_round_current_at_the_time() {
        let path = chaintrace_testkit::test_data("chainlink-eth-usd/0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419.csv");
        let text = std::fs::read_to_string(&path).expect("chainlink fixture in tests/data");
        let mut points = Vec::new();
        for line in text.lines().skip(1) {
            let c: Vec<&str> = line.split(',').collect();
            let round: u128 = c[1].parse().unwrap();
            let (answer, updated): (i128, u64) = (c[2].parse().unwrap(), c[4].parse().unwrap());
            if updated != 0 {
                points.push((updated, (round & u128::from(u64::MAX)) as u64, answer));
            }
        }
        assert_eq!(points.len(), 11_106);
        let mut book = PriceBook::new(None);
        book.add_feed("ETH", "0xfeed", 8, points);
        let tenth = U256::from(10u64).pow(U256::from(17));
        // Block 18000011 (1693067027): round …314589, $1,650.63643; 0.1 ETH = $165.06.
        let (usd, src) = book.usd("ETH", 1_693_067_027, tenth, 18).unwrap();
        assert_eq!(usd, "165.06");
        assert_eq!(src, PriceSource::Feed { feed: "0xfeed".into(), round: 314_589 - 309_696 });
        // The next round's time uses the next round.
        assert!(matches!(book.price("ETH", 1_693_068_983).unwrap().1, PriceSource::Feed { round: 4894, .. }));
        // Before the first round and long after the last: the shipped table.
        assert_eq!(book.price("ETH", 1_680_734_314).unwrap().1, PriceSource::Shipped);
        assert_eq!(book.price("ETH", 1_706_558_123 + FEED_MAX_AGE + 1).unwrap().1, PriceSource::Shipped);
        assert!(matches!(book.price("ETH", 1_706_558_123 + FEED_MAX_AGE).unwrap().1, PriceSource::Feed { .. }));
    }

    #[test]
    fn the_book_prefers_the_user_table_then_feeds_then_the_shipped_table_and_pegs_stablecoins_last() {
        let user = PriceTable::parse_csv("date,eth_usd,usdt_usd\n2022-11-09,1000.5,0.9\n", "mine.csv").unwrap();
        let mut book = PriceBook::new(Some((user, "mine.csv".into())));
        let t = 1_667_995_200; // 2022-11-09T12:00:00Z
        book.add_feed("ETH", "0xfeed", 8, [(t - 60, 7, 150_000_000_000i128)]);
        let one_eth = U256::from(10u64).pow(U256::from(18));
        assert_eq!(
            book.usd("ETH", t, one_eth, 18).unwrap(),
            ("1000.50".into(), PriceSource::UserTable("mine.csv".into()))
        );
        // A depeg in a table shows: USDT at 0.9 from the user's table, 0.9986 from the shipped one.
        assert_eq!(book.usd("USDT", t, U256::from(10_000_000u64), 6).unwrap().0, "9.00");
        let shipped = PriceBook::new(None);
        assert_eq!(
            shipped.usd("USDT", t, U256::from(10_000_000u64), 6).unwrap(),
            ("9.99".into(), PriceSource::Shipped)
        );
        // No table price: the feed.
        let mut feed_only = PriceBook::new(None);
        feed_only.add_feed("ETH", "0xfeed", 8, [(t - 60, 7, 150_000_000_000i128), (t - 30, 8, -1)]);
        assert_eq!(
            feed_only.usd("ETH", t, one_eth, 18).unwrap().1,
            PriceSource::Shipped,
            "a non-positive answer is never used"
        );
        // Stablecoin without any price: the peg, said so. Unknown asset: unknown, not zero.
        let (usd, src) = shipped.usd("USDC", 1_000_000_000, U256::from(2_000_000u64), 6).unwrap();
        assert_eq!((usd.as_str(), src.describe().contains("peg")), ("2.00", true));
        assert_eq!(shipped.usd("DOGE", t, one_eth, 18), None);
        assert_eq!(shipped.usd("ETH", 1_000_000_000, one_eth, 18), None, "ETH before 2015-08-07 is unknown");
    }

    #[test]
    fn source_codes_read_back() {
        for src in [
            PriceSource::UserTable("my prices:v2.csv".into()),
            PriceSource::Feed { feed: "0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419".into(), round: 4894 },
            PriceSource::Shipped,
            PriceSource::Peg,
        ] {
            assert_eq!(PriceSource::from_code(&src.code()), Some(src.clone()), "{}", src.code());
        }
        assert_eq!(PriceSource::from_code("feed:0xabc:notanumber"), None);
        assert_eq!(PriceSource::from_code("coingecko"), None);
    }

    #[test]
    fn the_shipped_table_parses_and_names_its_source() {
        let t = PriceTable::parse_csv(SHIPPED_TABLE_CSV, "shipped").unwrap();
        assert_eq!(t.listed("ETH", "2023-08-26"), Decimal::parse("1653.43"));
        assert!(SHIPPED_TABLE_SOURCE.contains("CoinGecko") && SHIPPED_TABLE_SOURCE.contains("Yahoo"));
    }

    #[test]
    fn garbage_rows_are_line_numbered_errors() {
        for (text, line, what) in [
            ("date,btc_usd\n2020-01-01,1\n2020-01-01,2\n", 3, "twice"),
            ("date,btc_usd\n2020-01-01,1,2\n", 2, "cells"),
            ("date,btc_usd\n2020-01-01,-5\n", 2, "invalid price"),
            ("date,btc_usd\n2020-01-01,NaN\n", 2, "invalid price"),
            ("date,btc_usd\n2020-13-01x,1\n", 2, "invalid date"),
            ("date,btc_usd\n2020-01-01,1\n2020-13-01,1\n", 3, "invalid date"),
            ("date,btc_usd\n2023-02-29,1\n", 2, "invalid date"),
            ("date,btc_usd\n2020-04-31,1\n", 2, "invalid date"),
            ("date,btc_usd\n2020-01-00,1\n", 2, "invalid date"),
            ("date,btc_usd\n2020-01-01,0\n", 2, "leave the cell empty"),
            ("date,btc_usd\n2020-01-01,0.000\n", 2, "leave the cell empty"),
            ("\ndate,btc_usd,btc_usd\n2020-01-01,1,2\n", 2, "twice"),
            ("date,btc_usd,,eth_usd\n", 1, "column 3"),
        ] {
            let err = PriceTable::parse_csv(text, "p.csv").unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, PriceError::Row { line: l, .. } if l == line), "{text:?}: {msg}");
            assert!(msg.contains(what) && msg.contains("p.csv") && !msg.contains('\n'), "{msg}");
        }
        // A gap (empty cell) is not an error: that day is unknown.
        let t = PriceTable::parse_csv("date,btc_usd,eth_usd\n2020-01-01,1,\n2024-02-29,2,3\n", "p.csv").unwrap();
        assert_eq!(t.listed("ETH", "2020-01-01"), None);
        assert_eq!(t.listed("ETH", "2024-02-29"), Some(Decimal { mantissa: 3, scale: 0 }), "a leap day");
    }

    #[test]
    fn rejects_bad_tables() {
        assert!(matches!(PriceTable::parse_csv("day,btc\n", "f"), Err(PriceError::Header { .. })));
        assert!(matches!(
            PriceTable::parse_csv("date,btc\n2020-01-01,1e5\n", "f"),
            Err(PriceError::Row { line: 2, .. })
        ));
        assert!(matches!(PriceTable::parse_csv("date,btc\n20200101,1\n", "f"), Err(PriceError::Row { .. })));
    }
}
