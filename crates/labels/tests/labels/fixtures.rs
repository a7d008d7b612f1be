//! The parsers and the importer on the real public fixtures in `tests/data` (see its
//! PROVENANCE files for the facts checked here).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use chaintrace_labels::{
    detect, import, ofac, parse_file, parse_group, tagpack, Format, LabelStore, MemLabelStore, ParseOptions, Parsed,
};
use chaintrace_model::{Address, Category, Label};

fn data() -> PathBuf {
    chaintrace_testkit::test_data("")
}

fn ofac_dir() -> PathBuf {
    data().join("ofac")
}

fn labels_dir() -> PathBuf {
    data().join("labels")
}

fn parse(path: &Path) -> Parsed {
    let f = detect(path, None).unwrap_or_else(|e| panic!("{e}"));
    parse_file(path, f, &ParseOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn evm(a: &str) -> Address {
    Address::parse_evm(a).unwrap()
}

fn addrs(p: &Parsed) -> BTreeSet<Address> {
    p.labels.iter().map(|l| l.address.clone()).collect()
}

const LAZARUS: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
const SIM: &str = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";
const BINANCE_14: &str = "0x28c6c06298d514db089934071355e5743bf21d60";
const BINANCE: &str = "0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be";
const COINBASE_1: &str = "0x71660c4005ba85c37ccec55d0c4493e66fe775d3";

/// Rows of a derived CSV with a header, as maps.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

#[test]
fn per_asset_lists_have_their_documented_sizes() {
    let b = ofac_dir().join("0xB10C-lists");
    for (ticker, n) in [("ETH", 152), ("XBT", 435), ("USDT", 26), ("USDC", 2), ("ARB", 1), ("BSC", 1), ("ETC", 1)] {
        for ext in ["txt", "json"] {
            let p = parse(&b.join(format!("sanctioned_addresses_{ticker}.{ext}")));
            assert_eq!(p.format, Format::OfacList);
            // USDT lists TRON addresses too: those are TRON labels now (11 of the 26).
            assert_eq!(p.labels.len() + p.skipped.len(), n, "{ticker}.{ext}");
            if ticker != "XBT" {
                assert!(p.skipped.iter().all(|s| s.kind == "unsupported"), "{ticker}: {:?}", p.skipped);
            }
            if ticker == "USDT" {
                let tron = p.labels.iter().filter(|l| matches!(l.address, chaintrace_model::Address::Tron(_))).count();
                assert_eq!((tron, p.skipped.len()), (11, 7), "{ext}: 7 Omni (Bitcoin) USDT addresses stay unsupported");
            }
            assert!(p.labels.iter().all(|l| l.category == Category::Sanctioned && l.source == ofac::SOURCE));
        }
    }
    // TRX addresses are TRON labels, each checksum checked.
    let trx = parse(&b.join("sanctioned_addresses_TRX.txt"));
    assert_eq!(trx.labels.len(), 6);
    assert!(trx.skipped.is_empty());
    assert!(trx.labels.iter().all(|l| matches!(l.address, chaintrace_model::Address::Tron(_))));
    let bad = chaintrace_labels::parse_bytes(
        Path::new("sanctioned_addresses_TRX.txt"),
        b"TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLrf\n",
        Format::OfacList,
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!((bad.labels.len(), bad.skipped.len()), (0, 1));
    assert_eq!(bad.skipped[0].kind, "invalid", "{:?}", bad.skipped);
    let s = ofac_dir().join("sambacha-ofac-list-2025-03-10");
    let eth = parse(&s.join("sanctioned_addresses_ETH.txt"));
    assert_eq!(eth.list_date.as_deref(), Some("2025-03-10"));
    let xbt = parse(&s.join("sanctioned_addresses_XBT.txt"));
    assert_eq!(eth.labels.len() + eth.skipped.len(), 153);
    assert_eq!(xbt.labels.len() + xbt.skipped.len(), 483);
    // The one ETH address added between the two snapshots.
    let old = addrs(&parse(&b.join("sanctioned_addresses_ETH.txt")));
    let new = addrs(&eth);
    let added: Vec<_> = new.difference(&old).collect();
    assert_eq!(added, vec![&evm("0x1999ef52700c34de7ec2b68a28aafb37db0c5ade")]);
}

#[test]
fn checksums_of_listed_addresses() {
    // Every mixed-case ETH address OFAC lists must pass EIP-55 or be reported.
    let p = parse(&ofac_dir().join("0xB10C-lists/sanctioned_addresses_ETH.txt"));
    for s in &p.skipped {
        assert_eq!(s.kind, "invalid");
        assert!(s.reason.contains("EIP-55"), "{s:?}");
    }
    // The XBT list holds P2PKH, P2SH and bech32 mainnet addresses, and one TRON address that
    // OFAC filed under XBT: its base58check is TRON's (0x41), so it is a TRON label.
    let x = parse(&ofac_dir().join("0xB10C-lists/sanctioned_addresses_XBT.txt"));
    assert_eq!(x.labels.len(), 435);
    assert!(x.skipped.is_empty(), "{:?}", x.skipped);
    let tron: Vec<_> = x.labels.iter().filter(|l| matches!(l.address, Address::Tron(_))).collect();
    assert_eq!(tron.len(), 1);
    assert_eq!(tron[0].address.to_string(), "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq");
    assert!(x.labels.iter().any(|l| l.address.to_string().starts_with("bc1q")));
    assert!(x.labels.iter().any(|l| l.address.to_string().starts_with('3')));
}

#[test]
fn lazarus_is_sanctioned_in_every_snapshot() {
    for f in [
        "0xB10C-lists/sanctioned_addresses_ETH.txt",
        "sambacha-ofac-list-2025-03-10/sanctioned_addresses_ETH.txt",
        "ultrasoundmoney/data.csv",
        "ultrasoundmoney/ofac_sanction_list_2023-02-13.csv",
    ] {
        let p = parse(&ofac_dir().join(f));
        let l = p.labels.iter().find(|l| l.address == evm(LAZARUS)).unwrap_or_else(|| panic!("{f}"));
        assert_eq!(l.category, Category::Sanctioned);
    }
    let us = parse(&ofac_dir().join("ultrasoundmoney/data.csv"));
    assert_eq!(us.labels.iter().find(|l| l.address == evm(LAZARUS)).unwrap().entity, "LAZARUS GROUP");
    // The SDN CSV row of LAZARUS GROUP carries program DPRK3.
    let p = parse(&ofac_dir().join("sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv"));
    assert_eq!(p.format, Format::OfacSdnCsv);
    let rows =
        std::fs::read_to_string(ofac_dir().join("sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv")).unwrap();
    let laz_row = rows.lines().find(|l| l.starts_with("27307,")).unwrap();
    let rec: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(laz_row.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(rec[1], "LAZARUS GROUP");
    assert_eq!(ofac::parse_programs(&rec[3]), vec!["DPRK3"]);
}

#[test]
fn sdn_csv_remarks_give_the_dprk_bitcoin_addresses() {
    let p = parse(&ofac_dir().join("sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv"));
    let expected: BTreeSet<(String, String)> = csv_rows(&ofac_dir().join("xbt_dprk_addresses_from_sdn_excerpts.csv"))
        .into_iter()
        .filter(|r| r["source_file"] == "sdn_2021-07_digital_currency_rows.csv")
        .map(|r| (r["address"].clone(), r["entity"].clone()))
        .collect();
    assert_eq!(expected.len(), 20);
    let got: BTreeSet<(String, String)> = p
        .labels
        .iter()
        .filter(|l| l.attrs.get("programs").is_some_and(|p| p.contains("DPRK3")))
        .map(|l| (l.address.to_string(), l.entity.clone()))
        .collect();
    assert_eq!(got, expected);
    for l in p.labels.iter().filter(|l| l.entity.starts_with("TIAN") || l.entity.starts_with("LI, Jiadong")) {
        assert_eq!(l.attrs["programs"], "CYBER2,DPRK3");
        assert_eq!(l.attrs["tickers"], "XBT");
    }
    // The GraphSense Lazarus pack lists the same 20 BTC addresses.
    let pack = parse(&labels_dir().join("graphsense-tagpacks/packs/lazarus.yaml"));
    let pack_btc: BTreeSet<String> =
        pack.labels.iter().filter(|l| !l.address.is_evm()).map(|l| l.address.to_string()).collect();
    let sdn: BTreeSet<String> = expected.into_iter().map(|(a, _)| a).collect();
    assert_eq!(pack_btc, sdn);
}

#[test]
fn sdn_csv_with_comments_and_2025_sample() {
    let dir = ofac_dir().join("sdn-csv-excerpts");
    let sample = parse(&dir.join("sdn_2025-05_ofactest_sample.csv"));
    assert!(sample.labels.iter().any(|l| l.attrs.get("sdn_uid").map(String::as_str) == Some("33151")), "SUEX");
    // Comments alone are refused; together with an sdn.csv they extend its remarks.
    let comments = dir.join("sdn_comments_2025-02.csv");
    assert_eq!(detect(&comments, None).unwrap(), Format::OfacSdnComments);
    let err = parse_file(&comments, Format::OfacSdnComments, &ParseOptions::default()).unwrap_err().to_string();
    assert!(err.contains("together with the sdn.csv"), "{err}");
    let with = parse_group(
        &[(dir.join("sdn_2025-05_ofactest_sample.csv"), Format::OfacSdnCsv), (comments, Format::OfacSdnComments)],
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(with.labels.len() >= sample.labels.len());
    // SUEX's overflow lists more ETH addresses.
    let suex =
        |p: &Parsed| p.labels.iter().filter(|l| l.attrs.get("sdn_uid").map(String::as_str) == Some("33151")).count();
    assert!(suex(&with) > suex(&sample), "{} vs {}", suex(&with), suex(&sample));
}

#[test]
fn sim_hyon_sop_found_under_arb_and_bsc() {
    // Listed under ARB and BSC (the derived annotated CSV: other tickers "ARB|BSC"); each of
    // those lists alone yields the EVM address, valid on every EVM chain.
    let b = ofac_dir().join("0xB10C-lists");
    for t in ["ARB", "BSC"] {
        let p = parse(&b.join(format!("sanctioned_addresses_{t}.txt")));
        let l = p.labels.iter().find(|l| l.address == evm(SIM)).unwrap();
        assert_eq!(l.chain, None, "an EVM address is the same wallet on every EVM chain");
    }
    let us = parse(&ofac_dir().join("ultrasoundmoney/data.csv"));
    assert!(us.labels.iter().find(|l| l.address == evm(SIM)).unwrap().entity.contains("SIM"));
}

fn import_all(store: &MemLabelStore, files: &[PathBuf]) -> Vec<import::ImportReport> {
    files.iter().map(|f| import::import(store, &parse(f)).unwrap()).collect()
}

#[test]
fn tornado_cash_delisting_between_snapshots() {
    let store = MemLabelStore::new();
    let sam = ofac_dir().join("sambacha-ofac-list-2025-03-10");
    let files: Vec<PathBuf> =
        ["ETH", "XBT", "LTC", "XMR"].iter().map(|t| sam.join(format!("sanctioned_addresses_{t}.txt"))).collect();
    import_all(&store, &files);
    let annotated = csv_rows(&ofac_dir().join("eth_evm_addresses_annotated.csv"));
    let tornado: Vec<Address> = annotated
        .iter()
        .filter(|r| r["entity"] == "Tornado Cash" && r["in_sambacha_ETH_2025_03_10"] == "1")
        .map(|r| evm(&r["address"]))
        .collect();
    assert_eq!(tornado.len(), 90);
    for a in &tornado {
        assert!(store.labels_of(a).iter().any(|l| l.category == Category::Sanctioned), "{a}");
    }
    let btc_before = store.all_labels().unwrap().iter().filter(|l| !l.address.is_evm()).count();
    let r = import::import(&store, &parse(&ofac_dir().join("ultrasoundmoney/data.csv"))).unwrap();
    let change = &r.record.sources[0];
    let removed: BTreeSet<String> = change.removed.iter().map(|c| c.address.clone()).collect();
    let expected: BTreeSet<String> = tornado.iter().map(|a| a.to_string()).collect();
    assert_eq!(removed, expected, "the 2026 list drops exactly the Tornado Cash addresses");
    assert_eq!(change.added.len(), 34);
    for a in &tornado {
        assert!(store.labels_of(a).is_empty(), "{a} still labelled");
    }
    // Bitcoin addresses are outside an EVM-only list and stay.
    assert_eq!(store.all_labels().unwrap().iter().filter(|l| !l.address.is_evm()).count(), btc_before);
    // Lazarus stays, now with its name.
    let laz = store.labels_of(&evm(LAZARUS));
    assert_eq!(laz.len(), 1);
    assert_eq!(laz[0].entity, "LAZARUS GROUP");
    // The change is recorded for `labels list --changes`.
    let latest = import::latest_changes(&store).unwrap();
    let (_, ofac_change) = latest.iter().find(|(_, s)| s.source == ofac::SOURCE).unwrap();
    assert_eq!(ofac_change.removed.len(), 90);
}

#[test]
fn importing_twice_changes_nothing() {
    let store = MemLabelStore::new();
    let files = vec![
        ofac_dir().join("ultrasoundmoney/data.csv"),
        labels_dir().join("graphsense-tagpacks/packs/exchange-wallets-binance.yaml"),
        labels_dir().join("etherscan-labels-brianleect/etherscan/accounts/binance.csv"),
    ];
    import_all(&store, &files);
    let before = store.all_labels().unwrap();
    let imports = store.imports().unwrap().len();
    let again = import_all(&store, &files);
    for r in &again {
        for s in &r.record.sources {
            assert!(s.added.is_empty() && s.removed.is_empty(), "{s:?}");
        }
    }
    assert_eq!(store.all_labels().unwrap(), before);
    assert_eq!(store.imports().unwrap().len(), imports, "an import that changed nothing is not recorded");
}

#[test]
fn every_tagpack_validates_except_ofac_without_confidence() {
    let packs = labels_dir().join("graphsense-tagpacks/packs");
    let mut n = 0;
    for e in std::fs::read_dir(&packs).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(detect(&p, None).unwrap(), Format::Tagpack, "{}", p.display());
        let r = parse_file(&p, Format::Tagpack, &ParseOptions::default());
        if p.file_name().unwrap() == "ofac.yaml" {
            // The pack has no confidence in its header or tags: the schema makes it mandatory.
            let err = r.unwrap_err().to_string();
            assert!(err.contains("ofac.yaml") && err.contains("mandatory field confidence"), "{err}");
        } else {
            let parsed = r.unwrap_or_else(|e| panic!("{e}"));
            assert!(!parsed.labels.is_empty() || !parsed.skipped.is_empty(), "{}", p.display());
            n += 1;
        }
    }
    assert_eq!(n, 22);
    // 86 tags: BEP2 (25) is an unsupported chain; TRX (9) tags are TRON labels; ETH and BEP20
    // tags of one 0x address are one EVM label.
    let binance = parse(&packs.join("exchange-wallets-binance.yaml"));
    let unsupported: BTreeMap<String, usize> = binance.skipped.iter().fold(BTreeMap::new(), |mut m, s| {
        assert_eq!(s.kind, "unsupported");
        *m.entry(s.ticker.clone().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(unsupported, BTreeMap::from([("BEP2".to_string(), 25)]));
    // 9 TRX tags, 8 addresses (TV6MuMXfmLbBqPZvBHdwFsDnQeVfnmiuSi is tagged twice).
    assert_eq!(binance.labels.iter().filter(|l| matches!(l.address, Address::Tron(_))).count(), 8);
    let raw: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(packs.join("exchange-wallets-binance.yaml")).unwrap()).unwrap();
    let distinct: BTreeSet<String> = raw["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|t| ["BTC", "ETH", "BEP20", "TRX"].contains(&t["currency"].as_str().unwrap()))
        // Base58 (TRON) is case-sensitive; hex and bech32 are not.
        .map(|t| t["address"].as_str().unwrap())
        .map(|a| if a.starts_with('T') { a.to_string() } else { a.to_lowercase() })
        .collect();
    assert_eq!(binance.labels.len(), distinct.len());
    let l = binance.labels.iter().find(|l| l.address == evm(BINANCE_14)).unwrap();
    assert_eq!((l.category, l.entity.as_str(), l.confidence), (Category::Exchange, "binance", 50));
    let ronin = parse(&packs.join("ronin_bridge.yaml"));
    assert!(ronin.labels.iter().any(|l| l.address == evm(LAZARUS)));
    let laz = parse(&packs.join("lazarus.yaml"));
    let l = laz.labels.iter().find(|l| l.address == evm(LAZARUS)).unwrap();
    assert_eq!(l.category, Category::Sanctioned);
    let tc = parse(&packs.join("tornado_cash.yaml"));
    assert!(tc.labels.iter().all(|l| l.category == Category::Mixer));
}

/// The schema and taxonomies the validator embeds are graphsense-tagpack-tool's.
#[test]
fn embedded_schema_matches_the_tool() {
    let conf = labels_dir().join("graphsense-tagpack-tool");
    let schema: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(conf.join("conf/tagpack_schema.yaml")).unwrap()).unwrap();
    for (section, fields) in [("header", tagpack::HEADER_FIELDS), ("tag", tagpack::TAG_FIELDS)] {
        let map = schema[section].as_mapping().unwrap();
        assert_eq!(map.len(), fields.len(), "{section}");
        for (name, ty, mandatory) in fields {
            let f = &map[&serde_yaml::Value::from(*name)];
            assert_eq!(f["mandatory"].as_bool(), Some(*mandatory), "{section}.{name}");
            let t = f["type"].as_str().unwrap();
            assert_eq!(format!("{ty:?}").to_lowercase(), t, "{section}.{name}");
        }
    }
    let levels: Vec<(String, u8)> = csv_rows(&conf.join("db/confidence.csv"))
        .into_iter()
        .map(|r| (r["id"].clone(), r["level"].trim().parse().unwrap()))
        .collect();
    let embedded: Vec<(String, u8)> = tagpack::CONFIDENCE.iter().map(|(i, l)| (i.to_string(), *l)).collect();
    assert_eq!(levels, embedded);
    let concepts: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(conf.join("db/concepts.yaml")).unwrap()).unwrap();
    let mut from_file = BTreeMap::new();
    for (k, v) in concepts.as_mapping().unwrap() {
        let k = k.as_str().unwrap();
        if k == "scheme" {
            continue;
        }
        from_file.insert(k.to_string(), v["broader"].as_str().map(str::to_string));
    }
    let embedded: BTreeMap<String, Option<String>> =
        tagpack::CONCEPTS.iter().map(|(c, b)| (c.to_string(), b.map(str::to_string))).collect();
    assert_eq!(from_file, embedded);
    let types: Vec<String> = csv_rows(&conf.join("db/tag_types.csv")).into_iter().map(|r| r["id"].clone()).collect();
    assert_eq!(types, tagpack::TAG_TYPES);
}

#[test]
fn etherscan_exports() {
    let acc = labels_dir().join("etherscan-labels-brianleect/etherscan/accounts");
    let (mut total, mut files) = (0, 0);
    for e in std::fs::read_dir(&acc).unwrap() {
        let path = e.unwrap().path();
        let p = parse(&path);
        assert_eq!(p.format, Format::Etherscan);
        assert!(p.skipped.is_empty(), "{}: {:?}", path.display(), p.skipped);
        // One label per address (blocked.csv repeats 178 of its rows).
        let rows: BTreeSet<String> = csv_rows(&path).into_iter().map(|r| r["Address"].clone()).collect();
        assert_eq!(p.labels.len(), rows.len(), "{}", path.display());
        total += p.labels.len();
        files += 1;
    }
    assert_eq!((files, total), (34, 1275 - 178));
    let b = parse(&acc.join("binance.csv"));
    assert_eq!(b.labels[0].source, "etherscan-labels:binance");
    let l14 = b.labels.iter().find(|l| l.address == evm(BINANCE_14)).unwrap();
    assert_eq!((l14.category, l14.entity.as_str()), (Category::Exchange, "Binance"));
    assert_eq!(l14.attrs["name_tag"], "Binance 14");
    let dep = parse(&acc.join("binance-deposit.csv"));
    assert_eq!(dep.labels[0].category, Category::ExchangeDeposit);
    let daws = labels_dir().join("eth-labels-dawsbot/etherscan");
    let mut total = 0;
    for e in std::fs::read_dir(&daws).unwrap() {
        let path = e.unwrap().path().join("accounts.json");
        let p = parse(&path);
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(p.labels.len(), rows.len(), "{}", path.display());
        total += p.labels.len();
    }
    // The 14 files hold 394 entries (PROVENANCE's "434" does not match the files).
    assert_eq!(total, 394);
    let cb = parse(&daws.join("coinbase/accounts.json"));
    assert_eq!(cb.labels[0].source, "eth-labels:coinbase");
    let c1 = cb.labels.iter().find(|l| l.address == evm(COINBASE_1)).unwrap();
    assert_eq!((c1.category, c1.entity.as_str()), (Category::Exchange, "Coinbase"));
}

#[test]
fn exchange_sources_agree() {
    let store = MemLabelStore::new();
    let packs = labels_dir().join("graphsense-tagpacks/packs");
    let files = vec![
        packs.join("exchange-wallets-binance.yaml"),
        packs.join("etherscan-wordcloud-exchange.yaml"),
        labels_dir().join("etherscan-labels-brianleect/etherscan/accounts/binance.csv"),
        labels_dir().join("etherscan-labels-brianleect/etherscan/accounts/coinbase.csv"),
        labels_dir().join("eth-labels-dawsbot/etherscan/coinbase/accounts.json"),
    ];
    import_all(&store, &files);
    let check = |a: &str, min_sources: usize, name: &str| {
        let labels: Vec<Label> = store.labels_of(&evm(a));
        let sources: BTreeSet<&str> = labels.iter().map(|l| l.source.as_str()).collect();
        assert!(sources.len() >= min_sources, "{a}: {sources:?}");
        for l in &labels {
            assert_eq!(l.category, Category::Exchange, "{a} from {}", l.source);
            assert!(
                l.entity.to_lowercase().contains(name)
                    || l.attrs.get("label").is_some_and(|x| x.to_lowercase().contains(name)),
                "{a}: {l:?}"
            );
        }
    };
    check(BINANCE_14, 3, "binance");
    check(BINANCE, 2, "binance");
    check(COINBASE_1, 2, "coinbase");
}
