//! Any bytes, read as any label file format (the first byte picks it), must give labels or an
//! error, never a panic or an unbounded allocation.
#![no_main]

use chaintrace_labels::{parse_file, Format, ParseOptions};
use libfuzzer_sys::fuzz_target;

const FORMATS: [(Format, &str); 8] = [
    (Format::OfacSdnAdvancedXml, "SDN_ADVANCED.XML"),
    (Format::OfacSdnXml, "SDN.XML"),
    (Format::OfacSdnCsv, "sdn.csv"),
    (Format::OfacList, "sanctioned_addresses_ETH.txt"),
    (Format::OfacList, "sanctioned_addresses_XBT.json"),
    (Format::Tagpack, "pack.yaml"),
    (Format::Csv, "labels.csv"),
    (Format::Etherscan, "binance.csv"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let (format, name) = FORMATS[pick as usize % FORMATS.len()];
    let dir = std::env::temp_dir().join(format!("chaintrace-fuzz-labels-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    if std::fs::write(&path, body).is_ok() {
        let _ = parse_file(&path, format, &ParseOptions::default());
    }
    // Detection must not panic either.
    let _ = chaintrace_labels::detect(&path, None);
});
