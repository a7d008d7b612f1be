//! The freeze-label state machine against Tether's real USDT history on Ethereum
//! (tests/data/stablecoin-blacklists/usdt_configs.csv, decoded `eth_getLogs` rows): replaying
//! 834 `AddedBlackList` and 50 `RemovedBlackList` events leaves 780 addresses frozen of the 830
//! ever frozen (PROVENANCE.md), and agrees address by address with the derived state file.

use std::collections::BTreeSet;

use chaintrace_labels::freeze::{self, FreezeEvent, Issuer};
use chaintrace_model::{Address, Category};

fn data() -> std::path::PathBuf {
    chaintrace_testkit::test_data("stablecoin-blacklists")
}

#[test]
fn replaying_tethers_usdt_history_leaves_780_of_830_frozen() {
    let mut r = csv::Reader::from_path(data().join("usdt_configs.csv")).expect("read usdt_configs.csv");
    let h = r.headers().expect("header").clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap_or_else(|| panic!("column {name}"));
    let (c_ev, c_block, c_tx, c_log, c_user) =
        (col("event_name"), col("block_number"), col("txhash"), col("log_index"), col("_user"));
    let mut events = Vec::new();
    let (mut added, mut removed) = (0, 0);
    for rec in r.records() {
        let rec = rec.expect("row");
        let added_event = match &rec[c_ev] {
            "AddedBlackList" => true,
            "RemovedBlackList" => false,
            _ => continue,
        };
        if added_event {
            added += 1
        } else {
            removed += 1
        }
        events.push(FreezeEvent {
            issuer: Issuer::Tether,
            address: Address::parse_evm(&rec[c_user]).expect("an EVM address"),
            added: added_event,
            tx: rec[c_tx].to_lowercase(),
            block: rec[c_block].parse().expect("block"),
            log_index: rec[c_log].parse().expect("log index"),
        });
    }
    assert_eq!((added, removed), (834, 50));
    let ever: BTreeSet<&Address> = events.iter().filter(|e| e.added).map(|e| &e.address).collect();
    assert_eq!(ever.len(), 830);

    // Fed in one go (file order: unsorted), and fed in 7 slices in chain order (as ingest batches
    // would come), the state is the same.
    let labels = freeze::apply("ethereum", Vec::new(), &events);
    assert_eq!(labels.len(), 780);
    let mut ordered = events.clone();
    ordered.sort_by_key(|e| (e.block, e.log_index));
    let mut batched = Vec::new();
    for chunk in ordered.chunks(ordered.len() / 7 + 1) {
        batched = freeze::apply("ethereum", batched, chunk);
    }
    assert_eq!(batched, labels);
    assert!(labels
        .iter()
        .all(|l| l.category == Category::Frozen && l.entity == "Tether" && l.source == "freeze:ethereum"));

    // Address by address against the derived state file.
    let mut s =
        csv::Reader::from_path(data().join("usdt_blacklist_state_as_of_block_16670914.csv")).expect("read state");
    let sh = s.headers().expect("header").clone();
    let (a, b) = (
        sh.iter().position(|c| c == "address").expect("address column"),
        sh.iter().position(|c| c == "blacklisted_at_end").expect("blacklisted_at_end column"),
    );
    let expected: BTreeSet<Address> = s
        .records()
        .map(|r| r.expect("row"))
        .filter(|r| matches!(r[b].to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
        .map(|r| Address::parse_evm(&r[a]).expect("address"))
        .collect();
    let got: BTreeSet<Address> = labels.iter().map(|l| l.address.clone()).collect();
    assert_eq!(got, expected);
    // The first blacklisting was later removed: 0x9faf… ends not frozen.
    assert!(!got.contains(&Address::parse_evm("0x9faf5515f177F3A8a845D48C19032b33Cc54C09C").unwrap()));
    // Evidence: the first AddedBlackList tx of each still-frozen address, as in the state file.
    let first = Address::parse_evm("0x881d40237659c251811cec9c364ef91dc08d300c").unwrap();
    if let Some(l) = labels.iter().find(|l| l.address == first) {
        assert!(l.attrs["evidence"].starts_with("0x"), "{l:?}");
    }
}
