//! Any bytes, read as any label file format (the first byte picks it), must give labels or an
//! error, never a panic or an unbounded allocation. The parsers take bytes: no file is written.
#![no_main]

use std::path::Path;

use chaintrace_labels::{detect_bytes, parse_bytes, Format, ParseOptions};
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
    let name = Path::new(name);
    let _ = parse_bytes(name, body, format, &ParseOptions::default());
    // Detection must not panic either.
    let _ = detect_bytes(name, body, None);
});
