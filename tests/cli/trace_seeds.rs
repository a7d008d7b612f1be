//! `trace --seeds-label` picks seeds by a label's entity, category or sanctions program.

use crate::common;

use common::Workdir;

#[test]
fn seeds_label_matches_an_ofac_program_entity_or_category() {
    let w = Workdir::new();
    let sdn = common::shared_data().join("ofac/sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv");
    w.ok(&["labels", "import", sdn.to_str().unwrap()]);
    let case_of = |label: &str| {
        let out = w.path().join(format!("{label}.json"));
        w.ok(&["trace", "--chain", "bitcoin", "--seeds-label", label, "--out", out.to_str().unwrap()]);
        let case: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let mut seeds: Vec<String> =
            case["seeds"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
        seeds.sort();
        (seeds, case)
    };
    // The 2021 excerpt lists 20 Bitcoin addresses of two DPRK-linked launderers (CYBER2, DPRK3).
    let (by_program, case) = case_of("DPRK3");
    assert_eq!(by_program.len(), 20, "{by_program:?}");
    assert_eq!(case["params"]["seeds_label"], "DPRK3");
    assert!(case["nodes"].as_array().unwrap().iter().all(|n| n["role"] == "seed"));
    assert_eq!(case_of("dprk3").0, by_program, "programs match case-insensitively");
    // The category takes every sanctioned Bitcoin address of the excerpt, other programs too.
    let by_category = case_of("sanctioned").0;
    assert!(by_category.len() > by_program.len(), "{by_category:?}");
    assert!(by_program.iter().all(|a| by_category.contains(a)));
    let e = w.fails(&["trace", "--chain", "bitcoin", "--seeds-label", "NO SUCH ENTITY"]);
    assert!(e.contains("NO SUCH ENTITY") && e.contains("labels"), "{e}");
    let e = w.fails(&["trace", "--chain", "ethereum", "--seeds-label", "DPRK3"]);
    assert!(e.contains("ethereum"), "no EVM address in that excerpt: {e}");
}

/// `trace --out` writes through the case-file codec (canonical bytes, atomically, replacing an
/// earlier file), `deposits` reads through it, a user's `[tracer]` overlays key by key, and the
/// binary names the flag when the tracer refuses an option.
#[test]
fn case_file_codec_config_overlay_and_flag_hints() {
    let w = Workdir::new();
    let sdn = common::shared_data().join("ofac/sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv");
    w.ok(&["labels", "import", sdn.to_str().unwrap()]);
    let out = w.path().join("case.json");
    let out_s = out.to_str().unwrap();
    let config = w.path().join("hops.toml");
    std::fs::write(&config, "# a [tracer] that sets one key keeps the other defaults\n[tracer]\nhops = 2\n").unwrap();
    let config_s = config.to_str().unwrap();
    for _ in 0..2 {
        w.ok(&["--config", config_s, "trace", "--chain", "bitcoin", "--seeds-label", "DPRK3", "--out", out_s]);
    }
    let bytes = std::fs::read(&out).unwrap();
    let case = chaintrace_model::CaseFile::from_json_bytes(&bytes).expect("trace writes a readable case file");
    assert_eq!(case.to_json().as_bytes(), &bytes[..], "the file is the codec's canonical text");
    assert_eq!((case.params.hops, case.params.policy.as_str()), (2, "haircut"));
    assert_eq!(case.params.hub_degree, chaintrace_tracer::DEFAULT_HUB_DEGREE);
    let leftovers: Vec<_> = std::fs::read_dir(w.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let csv = w.ok(&["deposits", out_s]);
    assert!(csv
        .starts_with("chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed,usd_source\n"));

    // A case file from a newer chaintrace, or a broken one, is refused with what was wrong.
    let newer = w.path().join("newer.json");
    std::fs::write(&newer, String::from_utf8(bytes).unwrap().replacen("\"version\": 2", "\"version\": 7", 1)).unwrap();
    let e = w.fails(&["deposits", newer.to_str().unwrap()]);
    assert!(e.contains("newer.json") && e.contains("unsupported case file version 7"), "{e}");
    let broken = w.path().join("broken.json");
    std::fs::write(&broken, "{\"version\": 1,\n \"chain\": \"bitcoin\",\n \"seeds\": [,]}").unwrap();
    let e = w.fails(&["deposits", broken.to_str().unwrap()]);
    assert!(e.contains("malformed JSON") && e.contains("line 3"), "{e}");

    // An unknown config key is named with its line.
    std::fs::write(&config, "[tracer]\nhops = 2\nhubdegree = 5\n").unwrap();
    let e = w.fails(&["--config", config_s, "trace", "--chain", "bitcoin", "--seeds-label", "DPRK3"]);
    assert!(e.contains("`hubdegree`") && e.contains("line 3"), "{e}");

    // The tracer states facts; the binary names the flag.
    let e = w.fails(&["trace", "--chain", "bitcoin", "--seeds-label", "DPRK3", "--hops", "0"]);
    assert!(e.contains("--hops 0"), "{e}");
    let e = w.fails(&["trace", "--chain", "bitcoin", "--seeds-label", "DPRK3", "--min-amount", "1e5"]);
    assert!(e.contains("--min-amount \"1e5\""), "{e}");
}

/// The README's "A real investigation" step 5, verbatim, against both OFAC XML formats: the
/// legacy SDN.XML names the person "SIM, Hyon Sop" (lastName, firstName) and the advanced
/// SDN_ADVANCED.XML "SIM" + "Hyon Sop" (DocumentedNameParts); `--seeds-label` matches either,
/// and the case starts from the listed address with its hop-1 transfer.
#[test]
fn the_readme_seeds_label_command_works_with_legacy_and_advanced_sdn_xml() {
    use chaintrace_testkit::Anvil;

    let anvil = Anvil::spawn();
    let a = anvil.accounts();
    let (sim, mule, next) = (&a[5], &a[6], &a[7]);
    // Mined before the next step reads the head.
    let hop1 = anvil.send_confirmed(sim, Some(mule), 3_000_000_000_000_000_000, &[], 21_000);
    let hop2 = anvil.send_confirmed(mule, Some(next), 1_000_000_000_000_000_000, &[], 21_000);
    let head = anvil.block_number();

    let legacy = format!(
        r#"<?xml version="1.0" standalone="yes"?>
<sdnList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://tempuri.org/sdnList.xsd">
  <publshInformation><Publish_Date>04/24/2023</Publish_Date><Record_Count>1</Record_Count></publshInformation>
  <sdnEntry>
    <uid>42498</uid><lastName>SIM</lastName><firstName>Hyon Sop</firstName><sdnType>Individual</sdnType>
    <programList><program>DPRK3</program></programList>
    <idList><id><uid>1</uid><idType>Digital Currency Address - ETH</idType><idNumber>{sim}</idNumber></id></idList>
  </sdnEntry>
</sdnList>"#
    );
    let advanced = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="http://www.un.org/sanctions/1.0">
  <DateOfIssue><Year>2023</Year><Month>4</Month><Day>24</Day></DateOfIssue>
  <ReferenceValueSets>
    <FeatureTypeValues><FeatureType ID="345" FeatureTypeGroupID="1">Digital Currency Address - ETH</FeatureType></FeatureTypeValues>
    <SanctionsTypeValues><SanctionsType ID="1">Program</SanctionsType></SanctionsTypeValues>
  </ReferenceValueSets>
  <DistinctParties>
    <DistinctParty FixedRef="42498">
      <Profile ID="42498" PartySubTypeID="4">
        <Identity ID="9001" FixedRef="42498" Primary="true" False="false">
          <Alias FixedRef="42498" AliasTypeID="1403" Primary="true" LowQuality="false">
            <DocumentedName ID="3" FixedRef="42498" DocNameStatusID="1"><DocumentedNamePart><NamePartValue NamePartGroupID="3" ScriptID="215">SIM</NamePartValue></DocumentedNamePart><DocumentedNamePart><NamePartValue NamePartGroupID="4" ScriptID="215">Hyon Sop</NamePartValue></DocumentedNamePart></DocumentedName>
          </Alias>
        </Identity>
        <Feature ID="50001" FeatureTypeID="345">
          <FeatureVersion ID="50002" ReliabilityID="1560"><VersionDetail DetailTypeID="1432">{sim}</VersionDetail></FeatureVersion>
        </Feature>
      </Profile>
    </DistinctParty>
  </DistinctParties>
  <SanctionsEntries>
    <SanctionsEntry ID="2" ProfileID="42498" ListID="1550">
      <SanctionsMeasure ID="12" SanctionsTypeID="1"><Comment>DPRK3</Comment></SanctionsMeasure>
    </SanctionsEntry>
  </SanctionsEntries>
</Sanctions>"#
    );

    for (file, xml, listed_as) in [("SDN.XML", legacy, "SIM, Hyon Sop"), ("SDN_ADVANCED.XML", advanced, "SIM Hyon Sop")]
    {
        let w = Workdir::new();
        // The README's commands run in a directory holding the list and the price table.
        std::fs::write(w.path().join(file), xml).unwrap();
        std::fs::copy(common::shared_data().join("prices/daily_usd.csv"), w.path().join("daily_usd.csv")).unwrap();
        w.ok(&["ingest", "ethereum", "--rpc", &anvil.url(), "--to", &head.to_string()]);
        // README step 1: `chaintrace labels import SDN_ADVANCED.XML` (or SDN.XML), in that directory.
        let out = w.cmd(&["labels", "import", file]).current_dir(w.path()).output().expect("run chaintrace");
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let listed = w.json(&["labels", "show", sim]);
        assert_eq!(listed[0]["entity"], listed_as, "{file}: {listed}");
        assert_eq!(listed[0]["category"], "sanctioned", "{file}: {listed}");

        // README, step 5, verbatim (the store comes from the harness's --store).
        let out = w
            .cmd(&[
                "trace",
                "--chain",
                "ethereum",
                "--seeds-label",
                "SIM, Hyon Sop",
                "--policy",
                "haircut",
                "--hops",
                "6",
                "--prices",
                "daily_usd.csv",
                "--out",
                "case.json",
            ])
            .current_dir(w.path())
            .output()
            .expect("run chaintrace");
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let case: serde_json::Value =
            serde_json::from_slice(&std::fs::read(w.path().join("case.json")).unwrap()).unwrap();
        assert_eq!(case["seeds"], serde_json::json!([sim]), "{file}: {case}");
        assert_eq!(case["params"]["seeds_label"], "SIM, Hyon Sop", "{file}");
        let node = |addr: &str| {
            case["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["address"] == addr)
                .unwrap_or_else(|| panic!("{file}: no node {addr} in {case}"))
                .clone()
        };
        assert_eq!(node(sim)["hop"], 0, "{file}");
        assert_eq!(node(mule)["hop"], 1, "{file}");
        assert_eq!(node(next)["hop"], 2, "{file}");
        let edge = |tx: &str| {
            case["edges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["tx"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(tx)))
                .unwrap_or_else(|| panic!("{file}: no edge of tx {tx} in {case}"))
                .clone()
        };
        let e1 = edge(&hop1);
        assert_eq!((e1["from"].as_str(), e1["to"].as_str()), (Some(sim.as_str()), Some(mule.as_str())), "{file}");
        assert_eq!((e1["asset"].as_str(), e1["amount"].as_str()), (Some("ETH"), Some("3")), "{file}: {e1}");
        // The seed's whole balance is listed money: the hop-1 transfer is traced in full.
        assert_eq!(e1["traced_amount"], "3", "{file}: {e1}");
        let e2 = edge(&hop2);
        assert_eq!((e2["from"].as_str(), e2["to"].as_str()), (Some(mule.as_str()), Some(next.as_str())), "{file}");
    }
}

/// `--chain A,B` walks several chains in one case and `--seeds-label` seeds every named chain
/// (a label set with no match on one chain is not an error when another chain matches);
/// unknown names and `--chain all` on a store that holds no chain are one-line errors.
#[test]
fn several_chains_in_one_case_and_chain_usage_errors() {
    let w = Workdir::new();
    let sdn = common::shared_data().join("ofac/sdn-csv-excerpts/sdn_2021-07_digital_currency_rows.csv");
    w.ok(&["labels", "import", sdn.to_str().unwrap()]);
    let out = w.path().join("multi.json");
    w.ok(&["trace", "--chain", "ethereum,bitcoin", "--seeds-label", "DPRK3", "--out", out.to_str().unwrap()]);
    let case = chaintrace_model::CaseFile::from_json_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(case.version, 2);
    assert_eq!(case.chains, ["bitcoin", "ethereum"], "chains in name order");
    assert_eq!(case.chain, "bitcoin,ethereum");
    assert_eq!(case.seeds.len(), 20, "the excerpt's 20 Bitcoin addresses of DPRK3");
    assert!(case.nodes.iter().all(|n| n.chain == "bitcoin" && n.role == chaintrace_model::Role::Seed));

    for bad in ["bitcoin,nosuch", "nosuch", "bitcoin,,ethereum"] {
        let e = w.fails(&["trace", "--chain", bad, "--seeds-label", "DPRK3"]);
        assert!(e.lines().count() == 1 && e.contains("chain"), "{bad}: {e}");
    }
    let e = w.fails(&["trace", "--chain", "nosuch,bitcoin", "--seeds-label", "DPRK3"]);
    assert!(e.contains("unknown chain \"nosuch\""), "{e}");
    let e = w.fails(&["trace", "--chain", "all", "--seeds-label", "DPRK3"]);
    assert!(e.contains("holds no chain"), "{e}");
}

/// A case file written by a chaintrace before version 2 (`"version": 1`, no chain on nodes,
/// edges or deposits) still reads: `deposits` reports its chain on every row and `export`
/// renders it.
#[test]
fn a_version_1_case_file_still_reads() {
    let w = Workdir::new();
    let v1 = r#"{
  "version": 1,
  "chain": "ethereum",
  "seeds": ["0x098b716b8aaf21512996dc57eb0615e2383e2f96"],
  "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": null, "asset": null,
             "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
  "provenance": {"tool_version": "chaintrace 0.1.0", "store_tips": {}, "labels_hash": ""},
  "nodes": [
    {"address": "0x098b716b8aaf21512996dc57eb0615e2383e2f96", "hop": 0, "role": "seed", "labels": []},
    {"address": "0x28c6c06298d514db089934071355e5743bf21d60", "hop": 1, "role": "exchange_deposit",
     "labels": [{"category": "exchange_deposit", "entity": "Binance", "source": "csv"}]}
  ],
  "edges": [
    {"from": "0x098b716b8aaf21512996dc57eb0615e2383e2f96", "to": "0x28c6c06298d514db089934071355e5743bf21d60",
     "tx": "0x0101010101010101010101010101010101010101010101010101010101010101", "block": 19000000,
     "time": "2024-01-01T00:00:00Z", "asset": "ETH", "symbol": "ETH", "amount": "1.5",
     "amount_raw": "1500000000000000000", "traced_amount": "1.5", "usd": "3000.00"}
  ],
  "deposits": [
    {"address": "0x28c6c06298d514db089934071355e5743bf21d60", "exchange": "Binance", "asset": "ETH", "symbol": "ETH",
     "amount": "1.5", "usd": "3000.00", "tx": "0x0101010101010101010101010101010101010101010101010101010101010101",
     "block": 19000000, "time": "2024-01-01T00:00:00Z", "hops": 1,
     "seed": "0x098b716b8aaf21512996dc57eb0615e2383e2f96",
     "path": ["0x098b716b8aaf21512996dc57eb0615e2383e2f96", "0x28c6c06298d514db089934071355e5743bf21d60"]}
  ]
}
"#;
    let path = w.path().join("old.json");
    std::fs::write(&path, v1).unwrap();
    let p = path.to_str().unwrap();
    let csv = w.ok(&["deposits", p]);
    assert_eq!(
        csv.lines().nth(1),
        Some("ethereum,0x28c6c06298d514db089934071355e5743bf21d60,Binance,ETH,1.5,3000.00,0x0101010101010101010101010101010101010101010101010101010101010101,19000000,2024-01-01T00:00:00Z,1,0x098b716b8aaf21512996dc57eb0615e2383e2f96,"),
        "a version 1 file has no usd_source: the last cell is empty\n{csv}"
    );
    let json = w.ok(&["deposits", p, "--format", "json"]);
    assert!(json.contains("\"chain\": \"ethereum\""), "{json}");
    let out = w.path().join("old.graphml");
    w.ok(&["export", p, "--format", "graphml", "--output", out.to_str().unwrap()]);
    let g = std::fs::read_to_string(&out).unwrap();
    assert!(g.contains(">transfer<") && g.contains(">ethereum<"), "{g}");
}
