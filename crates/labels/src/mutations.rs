//! Deterministic mutation runs of every label parser (the `labels_file` fuzz target's stand-in
//! inside `cargo test`): the real label files in `tests/data` (OFAC lists and SDN excerpts,
//! TagPacks, Etherscan exports, the demo's spec CSV) and the SDN XML samples, mutated a few
//! thousand times each with a seeded generator (bit flips, truncations, splices, inserted
//! bytes and format tokens), must give labels or an error — never a panic — through both
//! detection and parsing.

use chaintrace_testkit::mutate::Mutator;
use std::path::Path;

use crate::{detect_bytes, parse_bytes, parse_group_bytes, FileBytes, Format, ParseOptions};

/// Tokens of the formats: quotes, separators, XML and YAML structure, multi-byte characters.
const DICT: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b";",
    b"\n",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xc3\xa9\xe2\x80\x94\xf0\x9f\x92\xb0",
    b"\xff\xfe",
    b"<",
    b"</",
    b"/>",
    b"<![CDATA[",
    b"&amp;",
    b"&#x10FFFF;",
    b"<idType>Digital Currency Address - ETH</idType>",
    b"Digital Currency Address - XBT 1",
    b"0x098b716b8aaf21512996dc57eb0615e2383e2f96",
    b"bc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz6",
    b"- address: ",
    b"tags:\n  - ",
    b": [",
    b"{",
    b"[",
    b"null",
    b"\t",
    b"\0",
];

fn data(rel: &str) -> Vec<u8> {
    let p = chaintrace_testkit::test_data(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

const LEGACY_XML: &str = r#"<?xml version="1.0" standalone="yes"?>
<sdnList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://tempuri.org/sdnList.xsd">
  <publshInformation><Publish_Date>09/26/2024</Publish_Date><Record_Count>2</Record_Count></publshInformation>
  <sdnEntry>
    <uid>27307</uid><lastName>LAZARUS GROUP</lastName><sdnType>Entity</sdnType>
    <programList><program>DPRK3</program></programList>
    <idList>
      <id><uid>1</uid><idType>Digital Currency Address - ETH</idType><idNumber>0x098B716B8Aaf21512996dC57EB0615e2383E2f96</idNumber></id>
      <id><uid>3</uid><idType>Website</idType><idNumber>x</idNumber></id>
    </idList>
  </sdnEntry>
  <sdnEntry>
    <uid>28263</uid><firstName>Yinyin</firstName><lastName>TIAN</lastName><sdnType>Individual</sdnType>
    <programList><program>DPRK3</program><program>CYBER2</program></programList>
    <idList><id><uid>4</uid><idType>Digital Currency Address - XBT</idType><idNumber>134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak</idNumber></id></idList>
  </sdnEntry>
</sdnList>"#;

/// (file name, content) of one file per format.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("SDN_ADVANCED.XML", crate::ofac::tests::ADVANCED.as_bytes().to_vec()),
        ("SDN.XML", LEGACY_XML.as_bytes().to_vec()),
        ("sdn.csv", data("ofac/sdn-csv-excerpts/sdn_2025-05_ofactest_sample.csv")),
        ("sdn.csv", data("ofac/sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv")),
        ("sanctioned_addresses_ETH.txt", data("ofac/sambacha-ofac-list-2025-03-10/sanctioned_addresses_ETH.txt")),
        ("sanctioned_addresses_USDT.json", data("ofac/0xB10C-lists/sanctioned_addresses_USDT.json")),
        ("data.csv", data("ofac/ultrasoundmoney/data.csv")),
        ("tornado_cash.yaml", data("labels/graphsense-tagpacks/packs/tornado_cash.yaml")),
        ("lazarus2.yaml", data("labels/graphsense-tagpacks/packs/lazarus2.yaml")),
        ("bitmex.csv", data("labels/etherscan-labels-brianleect/etherscan/accounts/bitmex.csv")),
        ("accounts.json", data("labels/eth-labels-dawsbot/etherscan/okx/accounts.json")),
        (
            "labels.csv",
            std::fs::read(chaintrace_testkit::checkout().join("crates/cli/demo/labels.csv")).expect("demo labels"),
        ),
    ]
}

#[test]
fn every_seed_is_detected_and_parses() {
    for (name, bytes) in seeds() {
        let f = detect_bytes(Path::new(name), &bytes, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let p =
            parse_bytes(Path::new(name), &bytes, f, &ParseOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.labels.is_empty(), "{name} ({f}) gave no labels");
    }
}

#[test]
fn mutated_label_files_never_panic() {
    let seeds = seeds();
    let formats: Vec<Format> =
        seeds.iter().map(|(n, b)| detect_bytes(Path::new(n), b, None).expect("the seeds are detected")).collect();
    let all: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
    let comments = data("ofac/sdn-csv-excerpts/sdn_comments_2025-02.csv");
    let mut m = Mutator::new(0x1abe_15ee_d000_0002);
    let mut parsed = 0;
    let rounds = 6000;
    for i in 0..rounds {
        let k = i % seeds.len();
        let (name, seed) = &seeds[k];
        let name = Path::new(name);
        let bytes = m.mutate(seed, &all, DICT);
        // Parsed as the seed's own format, and as a format picked at random.
        parsed += usize::from(parse_bytes(name, &bytes, formats[k], &ParseOptions::default()).is_ok());
        let other = formats[m.below(formats.len())];
        let _ = parse_bytes(name, &bytes, other, &ParseOptions::default());
        let _ = detect_bytes(name, &bytes, None);
        if i % 20 == 0 {
            // sdn.csv with a mutated sdn_comments.csv continuing it.
            let tail = m.mutate(&comments[..comments.len().min(4096)], &all, DICT);
            let _ = parse_group_bytes(
                &[
                    FileBytes { name: Path::new("sdn.csv"), format: Format::OfacSdnCsv, bytes: &all[2] },
                    FileBytes { name: Path::new("sdn_comments.csv"), format: Format::OfacSdnComments, bytes: &tail },
                ],
                &ParseOptions::default(),
            );
        }
    }
    assert!(parsed > rounds / 20, "only {parsed} of {rounds} mutations parsed");
}
