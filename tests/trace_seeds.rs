//! `trace --seeds-label` picks seeds by a label's entity, category or sanctions program.

mod common;

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
