//! The off-ramp report as CSV (SPEC "Deposits CSV"): one row per transfer of traced funds into
//! an exchange deposit address, SPEC's columns in SPEC's order, then `usd_source` (where the
//! `usd` figure came from, the case's code: `table:FILE`, `feed:0xAGGREGATOR:ROUND`, `shipped`,
//! `peg`; empty when `usd` is). Text cells go through [`text::csv_cell`] like every CSV export:
//! a cell a spreadsheet would run as a formula is neutralised.

use chaintrace_model::CaseFile;

use crate::{text, ExportError};

/// SPEC's deposits CSV columns, then the extra ones (`usd_source`).
pub const DEPOSITS_CSV_COLUMNS: [&str; 12] = [
    "chain",
    "deposit_address",
    "exchange",
    "asset",
    "amount",
    "usd",
    "tx_hash",
    "block",
    "timestamp",
    "hops",
    "seed",
    "usd_source",
];

/// The deposits CSV of `case`, header first. Fails only if the CSV encoder does.
pub fn deposits_csv(case: &CaseFile) -> Result<String, ExportError> {
    let mut w = ::csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(DEPOSITS_CSV_COLUMNS).map_err(ExportError::Csv)?;
    for d in &case.deposits {
        let chain = if d.chain.is_empty() { case.chain.as_str() } else { d.chain.as_str() };
        let (block, hops) = (d.block.to_string(), d.hops.to_string());
        let row = [
            chain,
            &d.address,
            &d.exchange,
            &d.asset,
            &d.amount,
            d.usd.as_deref().unwrap_or(""),
            &d.tx,
            &block,
            &d.time,
            &hops,
            &d.seed,
            d.usd_source.as_deref().unwrap_or(""),
        ];
        w.write_record(row.iter().map(|c| text::csv_cell(c).into_owned())).map_err(ExportError::Csv)?;
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok(String::from_utf8(bytes).expect("the CSV writer writes the UTF-8 it is given"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaintrace_model::CaseDeposit;

    fn deposit(exchange: &str, usd: Option<&str>, source: Option<&str>) -> CaseDeposit {
        CaseDeposit {
            address: "0xdep".into(),
            chain: String::new(),
            exchange: exchange.into(),
            asset: "ETH".into(),
            symbol: None,
            amount: "1.5".into(),
            usd: usd.map(Into::into),
            usd_source: source.map(Into::into),
            tx: "0xtx".into(),
            block: 7,
            time: "2024-01-02T03:04:05Z".into(),
            hops: 2,
            seed: "0xseed".into(),
            path: vec![],
        }
    }

    #[test]
    fn spec_columns_then_usd_source_one_row_per_deposit() {
        let case = CaseFile {
            deposits: vec![
                deposit("Binance", Some("3000.00"), Some("feed:0xabc:12")),
                deposit("Kraken, Ltd", None, None),
                deposit("=HYPERLINK(\"x\")", Some("1.00"), Some("table:prices.csv")),
            ],
            ..crate::test_case(2, "0xseed", "haircut", 2)
        };
        let csv = deposits_csv(&case).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source"
        );
        // SPEC's header is a prefix: its columns keep their places.
        assert!(
            lines[0].starts_with("chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,")
        );
        assert_eq!(
            lines[1],
            "ethereum,0xdep,Binance,ETH,1.5,3000.00,0xtx,7,2024-01-02T03:04:05Z,2,0xseed,feed:0xabc:12"
        );
        assert_eq!(lines[2], "ethereum,0xdep,\"Kraken, Ltd\",ETH,1.5,,0xtx,7,2024-01-02T03:04:05Z,2,0xseed,");
        assert_eq!(lines[3], "ethereum,0xdep,\"'=HYPERLINK(\"\"x\"\")\",ETH,1.5,1.00,0xtx,7,2024-01-02T03:04:05Z,2,0xseed,table:prices.csv");
        assert_eq!(lines.len(), 4);
    }
}
