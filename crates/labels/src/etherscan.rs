//! Etherscan account-label exports: the `,Address,Name Tag,Balance,Txn Count` CSVs
//! (brianleect/etherscan-labels, source `etherscan-labels:<label>`) and the
//! `[{"address","nameTag"}]` JSON files (dawsbot/eth-labels, source `eth-labels:<label>`).
//! The Etherscan label (`binance`, `tornado-cash`, `hot-wallet` …) is the file stem, or the
//! folder name for `<label>/accounts.json`; it decides the category.

use std::{collections::BTreeMap, path::Path};

use chaintrace_model::{Category, Label};

use crate::{addr, stem, Format, LabelsError, Parsed, Skipped};

/// Etherscan labels come from web crawls (GraphSense's `web_crawl` level).
pub const CONFIDENCE: u8 = 20;

/// Exchanges with their own Etherscan label, and their display names.
const EXCHANGES: &[(&str, &str)] = &[
    ("binance", "Binance"),
    ("bitfinex", "Bitfinex"),
    ("bitget", "Bitget"),
    ("bithumb", "Bithumb"),
    ("bitmart", "BitMart"),
    ("bitmex", "BitMEX"),
    ("bitstamp", "Bitstamp"),
    ("bittrex", "Bittrex"),
    ("coinbase", "Coinbase"),
    ("coinone", "Coinone"),
    ("crypto-com", "Crypto.com"),
    ("deribit", "Deribit"),
    ("digifinex", "DigiFinex"),
    ("ftx", "FTX"),
    ("gate-io", "Gate.io"),
    ("gemini", "Gemini"),
    ("hitbtc", "HitBTC"),
    ("hotbit", "Hotbit"),
    ("huobi", "Huobi"),
    ("korbit", "Korbit"),
    ("kraken", "Kraken"),
    ("kucoin", "KuCoin"),
    ("nexo", "Nexo"),
    ("okx", "OKX"),
    ("poloniex", "Poloniex"),
    ("upbit", "Upbit"),
];

/// The category and default entity of an Etherscan label.
pub fn label_category(label: &str) -> (Category, Option<&'static str>) {
    if let Some((_, name)) = EXCHANGES.iter().find(|(l, _)| *l == label) {
        return (Category::Exchange, Some(name));
    }
    if let Some(ex) = label.strip_suffix("-deposit") {
        if let Some((_, name)) = EXCHANGES.iter().find(|(l, _)| *l == ex) {
            return (Category::ExchangeDeposit, Some(name));
        }
    }
    match label {
        "hot-wallet" | "cold-wallet" | "fiat-gateway" | "exchange" => (Category::Exchange, None),
        "ofac-sanctions-lists" => (Category::Sanctioned, Some("OFAC SDN")),
        "tornado-cash" => (Category::Mixer, Some("Tornado Cash")),
        "ethereum-mixer" | "mixer" => (Category::Mixer, None),
        "high-risk" | "phish-hack" | "heist" | "exploit" => (Category::Scam, None),
        "bridge" => (Category::Bridge, None),
        "dex" => (Category::Dex, None),
        _ => (Category::Other, None),
    }
}

/// `Binance 14` → `Binance`; `Bitkub: Hot Wallet 2` → `Bitkub`; `Tornado.Cash: 0.1 ETH` →
/// `Tornado.Cash`.
pub fn entity_of_name_tag(tag: &str) -> String {
    let base = tag.split(':').next().unwrap_or(tag).trim();
    let base = match base.rsplit_once(' ') {
        Some((head, tail)) if !head.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => base,
    };
    base.trim().to_string()
}

/// The Etherscan label of a file: `binance.csv` → `binance`, `coinbase/accounts.json` →
/// `coinbase`.
pub fn label_of_path(path: &Path) -> String {
    let s = stem(path);
    if s == "accounts" || s == "combined" {
        if let Some(parent) = path.parent().and_then(|p| p.file_name()) {
            return parent.to_string_lossy().into_owned();
        }
    }
    s
}

/// Parse an Etherscan label export read from `path` (JSON when it starts with `[`, else CSV).
/// The Etherscan label in the file or folder name decides the category and the source
/// (`etherscan-labels:<label>` or `eth-labels:<label>`); a malformed file fails with its line.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, LabelsError> {
    let label = label_of_path(path);
    let (category, default_entity) = label_category(&label);
    let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace()).map(|i| bytes[i]);
    let json = trimmed == Some(b'[');
    let (source, rows) = if json {
        #[derive(serde::Deserialize)]
        struct Row {
            address: String,
            #[serde(rename = "nameTag", default)]
            name_tag: Option<String>,
        }
        let rows: Vec<Row> = serde_json::from_slice(bytes).map_err(|e| {
            LabelsError::parse(
                path,
                format!("line {}", e.line()),
                format!("expected [{{\"address\", \"nameTag\"}}]: {e}"),
            )
        })?;
        let rows: Vec<(String, String, String)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("item {}", i + 1), r.address, r.name_tag.unwrap_or_default()))
            .collect();
        (format!("eth-labels:{label}"), rows)
    } else {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| LabelsError::parse(path, "line 1", format!("invalid CSV header: {e}")))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let (Some(c_addr), Some(c_tag)) =
            (headers.iter().position(|h| h == "address"), headers.iter().position(|h| h == "name tag"))
        else {
            return Err(LabelsError::parse(path, "line 1", "expected header ,Address,Name Tag,Balance,Txn Count"));
        };
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| crate::csv_error(path, e))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            rows.push((
                format!("line {line}"),
                rec.get(c_addr).unwrap_or("").trim().to_string(),
                rec.get(c_tag).unwrap_or("").trim().to_string(),
            ));
        }
        (format!("etherscan-labels:{label}"), rows)
    };
    let mut labels: BTreeMap<(chaintrace_model::Address, String), Label> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (loc, text, name_tag) in rows {
        if text.is_empty() {
            continue;
        }
        let address = match addr::classify("ETH", &text) {
            Ok(a) => a,
            Err(p) => {
                skipped.push(Skipped::new(loc, Some("ETH"), &text, &p));
                continue;
            }
        };
        let entity = match (default_entity, name_tag.is_empty()) {
            // An exchange's own label: the exchange, whatever the wallet's number.
            (Some(e), _) if category == Category::Exchange || category == Category::ExchangeDeposit => e.to_string(),
            (_, false) => entity_of_name_tag(&name_tag),
            (Some(e), true) => e.to_string(),
            (None, true) => format!("etherscan:{label}"),
        };
        let mut attrs = BTreeMap::new();
        attrs.insert("etherscan_label".to_string(), label.clone());
        if !name_tag.is_empty() {
            attrs.insert("name_tag".to_string(), name_tag);
        }
        labels.insert(
            (address.clone(), entity.clone()),
            Label { chain: None, address, category, entity, source: source.clone(), confidence: CONFIDENCE, attrs },
        );
    }
    Ok(Parsed::single(path, Format::Etherscan, labels.into_values().collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_tags() {
        assert_eq!(entity_of_name_tag("Binance 14"), "Binance");
        assert_eq!(entity_of_name_tag("Bitkub: Hot Wallet 2"), "Bitkub");
        assert_eq!(entity_of_name_tag("Tornado.Cash: 0.1 ETH"), "Tornado.Cash");
        assert_eq!(entity_of_name_tag("Crypto.com 2"), "Crypto.com");
        assert_eq!(label_category("binance-deposit").0, Category::ExchangeDeposit);
        assert_eq!(label_of_path(Path::new("x/coinbase/accounts.json")), "coinbase");
    }
}
