//! Daily USD prices per asset, from a CSV the user points at, and exact USD valuation.
//!
//! The table is `date,<sym>_usd,…` (e.g. `date,btc_usd,eth_usd,usdt_usd,usdc_usd`), one row per
//! UTC day; an empty cell means no price is known that day. Stablecoins are valued at 1.00 by
//! rule, whatever the table says. Everything is exact decimal arithmetic on integers: the price
//! is read as an integer mantissa and a scale, never as a float.

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
        let header = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((_, l)) => break l,
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
        let mut table = PriceTable {
            prices: BTreeMap::new(),
            sha256: Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()))),
        };
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let row_err = |what: String| PriceError::Row { file: file.to_string(), line: i + 1, what };
            let cells: Vec<&str> = line.split(',').collect();
            let date = cells[0].trim();
            if !is_date(date) {
                return Err(row_err(format!("invalid date {date:?}, expected YYYY-MM-DD")));
            }
            for (sym, cell) in symbols.iter().zip(cells[1..].iter()) {
                let cell = cell.trim();
                if cell.is_empty() {
                    continue;
                }
                let price = Decimal::parse(cell).ok_or_else(|| row_err(format!("invalid price {cell:?} for {sym}")))?;
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

    /// USD value of `raw` base units (with `decimals`) of `symbol` on `date`, rounded half-up to
    /// cents, as a decimal string (`"185623.50"`); `None` when no price is known.
    pub fn usd(&self, symbol: &str, date: &str, raw: U256, decimals: u8) -> Option<String> {
        self.price(symbol, date).map(|p| usd_value(raw, decimals, p))
    }
}

/// `raw / 10^decimals * price`, rounded half-up to cents.
pub fn usd_value(raw: U256, decimals: u8, price: Decimal) -> String {
    let ten = U512::from(10u8);
    let num = U512::from(raw) * U512::from(price.mantissa) * U512::from(100u8);
    let den = ten.pow(U512::from(decimals as u32 + price.scale));
    let cents = (num + den / U512::from(2u8)) / den;
    let s = cents.to_string();
    let s = format!("{s:0>3}");
    let (int, frac) = s.split_at(s.len() - 2);
    format!("{int}.{frac}")
}

fn is_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
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
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/prices/daily_usd.csv");
        let text = std::fs::read_to_string(path).expect("price fixture in tests/data");
        let t = PriceTable::parse_csv(&text, path).unwrap();
        assert_eq!(t.usd("BTC", "2022-11-09", U256::from(100_000_000u64), 8).as_deref(), Some("18562.35"));
        assert_eq!(t.usd("ETH", "2022-11-09", U256::from(10u64).pow(U256::from(18)), 18).as_deref(), Some("1334.29"));
        assert_eq!(t.usd("BTC", "2016-06-17", U256::from(100_000_000u64), 8).as_deref(), Some("749.42"));
        assert_eq!(t.price("ETH", "2015-08-09"), None, "documented gap");
        assert_eq!(t.price("ETH", "2025-01-05"), None, "ETH ends 2024-12-20");
        assert!(t.price("ETH", "2024-12-20").is_some());
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
