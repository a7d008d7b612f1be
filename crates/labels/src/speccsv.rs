//! SPEC's labels CSV: header `chain,address,category,entity,source,confidence` (the last two
//! optional). A row's `source` is its label's source; rows without one get `csv:<file stem>`.
//! Each source in the file is replaced as a whole when the file is imported again.

use std::{collections::BTreeMap, path::Path};

use chaintrace_model::{Category, Label};

use crate::{addr, stem, Format, LabelsError, Parsed, Skipped};

/// Confidence of a row that gives none.
pub const DEFAULT_CONFIDENCE: u8 = 50;

/// Parse SPEC's labels CSV (`chain,address,category,entity[,source][,confidence]`) read from
/// `path`; a bad row fails the file with its line.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, LabelsError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| LabelsError::parse(path, "line 1", format!("invalid CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_chain), Some(c_addr), Some(c_cat), Some(c_ent)) =
        (col("chain"), col("address"), col("category"), col("entity"))
    else {
        return Err(LabelsError::parse(
            path,
            "line 1",
            "expected header chain,address,category,entity[,source][,confidence]",
        ));
    };
    let (c_src, c_conf) = (col("source"), col("confidence"));
    let default_source = format!("csv:{}", stem(path));
    let mut labels: BTreeMap<Vec<u8>, Label> = BTreeMap::new();
    let mut skipped = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| crate::csv_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let loc = format!("line {line}");
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let chain = get(c_chain).to_ascii_lowercase();
        if chain.is_empty() {
            return Err(LabelsError::parse(path, &loc, "chain is empty"));
        }
        let category: Category = get(c_cat).parse().map_err(|e: String| LabelsError::parse(path, &loc, e))?;
        let entity = get(c_ent).to_string();
        if entity.is_empty() {
            return Err(LabelsError::parse(path, &loc, "entity is empty"));
        }
        let source =
            c_src.map(get).filter(|s| !s.is_empty()).map(str::to_string).unwrap_or_else(|| default_source.clone());
        let confidence = match c_conf.map(get).filter(|s| !s.is_empty()) {
            None => DEFAULT_CONFIDENCE,
            Some(s) => s.parse::<u8>().ok().filter(|c| *c <= 100).ok_or_else(|| {
                LabelsError::parse(path, &loc, format!("confidence {s:?} is not a whole number from 0 to 100"))
            })?,
        };
        let text = get(c_addr);
        let ticker = if chain == "bitcoin" { "BTC" } else { "ETH" };
        let parsed = if chain == "tron" {
            addr::parse_tron_checked(text)
        } else if chain == "bitcoin" || addr::looks_evm(text) || text.starts_with("0x") {
            addr::classify(ticker, text)
        } else {
            Err(addr::AddrProblem::Unsupported(chain.clone()))
        };
        let address = match parsed {
            Ok(a) if chain == "bitcoin" && a.is_evm() => {
                skipped.push(Skipped::new(
                    &loc,
                    Some(&chain),
                    text,
                    &addr::AddrProblem::Bitcoin("an EVM address on chain bitcoin".into()),
                ));
                continue;
            }
            Ok(a) => a,
            Err(p) => {
                skipped.push(Skipped::new(&loc, Some(&chain), text, &p));
                continue;
            }
        };
        // `evm`, `*` or an empty scope mean every EVM chain; a named chain is kept.
        let scope = match chain.as_str() {
            "evm" | "*" | "any" => None,
            c => Some(c.to_string()),
        };
        let label = Label { chain: scope, address, category, entity, source, confidence, attrs: BTreeMap::new() };
        let key = format!("{:?}|{}|{}|{}|{}", label.chain, label.address, label.source, label.category, label.entity)
            .into_bytes();
        labels.insert(key, label);
    }
    Ok(Parsed::single(path, Format::Csv, labels.into_values().collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_errors() {
        let p = Path::new("mine.csv");
        let text: &str = "chain,address,category,entity,source,confidence\n\
             ethereum,0x28C6c06298d514Db089934071355E5743bf21d60,exchange,Binance,etherscan,80\n\
             bitcoin,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,other,Satoshi,,\n\
             ethereum,0x28C6c06298d514Db089934071355E5743bf21d61,exchange,Binance,,\n\
             tron,TXn8LKyqVpR8o9vAuDUHhqbKFKQD7zGvPL,exchange,Binance,,\n\
             tron,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,service,Tether,,\n\
             litecoin,LWnbjLYUfqeokfbWM4FcU7uk2FP2DSxuWS,exchange,X,,\n";
        let parsed = parse(p, text.as_bytes()).unwrap();
        assert_eq!(parsed.labels.len(), 3, "{:?}", parsed.labels);
        let usdt = parsed.labels.iter().find(|l| l.entity == "Tether").unwrap();
        assert_eq!(
            (usdt.address.to_string().as_str(), usdt.chain.as_deref()),
            ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", Some("tron"))
        );
        let bn = parsed.labels.iter().find(|l| l.address.is_evm()).unwrap();
        assert_eq!((bn.source.as_str(), bn.confidence, bn.chain.as_deref()), ("etherscan", 80, Some("ethereum")));
        let sat = parsed.labels.iter().find(|l| l.entity == "Satoshi").unwrap();
        assert_eq!((sat.source.as_str(), sat.confidence), ("csv:mine", DEFAULT_CONFIDENCE));
        // Line 4: bad EIP-55 checksum; line 5: bad base58check checksum; line 7: no such chain kind.
        assert_eq!(parsed.skipped.len(), 3);
        assert_eq!(parsed.skipped[0].location, "line 4");
        assert_eq!(parsed.skipped[0].kind, "invalid");
        assert_eq!((parsed.skipped[1].location.as_str(), parsed.skipped[1].kind), ("line 5", "invalid"));
        assert_eq!(parsed.skipped[2].kind, "unsupported");

        let text: &str = "chain,address,category,entity\nethereum,0x28c6c06298d514db089934071355e5743bf21d60,bank,X\n";
        let err = parse(p, text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("mine.csv: line 2: unknown label category \"bank\""), "{err}");
        let text: &str = "address,entity\n";
        assert!(parse(p, text.as_bytes()).unwrap_err().to_string().contains("line 1"));
    }
}
