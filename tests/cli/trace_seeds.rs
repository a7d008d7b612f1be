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
    assert!(csv.starts_with("chain,deposit_address,exchange,asset,amount,usd,tx_hash,block,timestamp,hops,seed\n"));

    // A case file from a newer chaintrace, or a broken one, is refused with what was wrong.
    let newer = w.path().join("newer.json");
    std::fs::write(&newer, String::from_utf8(bytes).unwrap().replacen("\"version\": 1", "\"version\": 7", 1)).unwrap();
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
