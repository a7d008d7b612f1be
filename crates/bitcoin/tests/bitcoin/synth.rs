//! The synthetic chain generator writes files the blk reader and decoder accept, with the
//! script mix, stale blocks, out-of-order blocks, padding and XOR it promises.

use chaintrace_bitcoin::{
    bitcoin::Network,
    synth::{generate, SynthParams},
    to_hash32, BlockDecoder, BlocksDir, NoLookup,
};
use chaintrace_model::{Address, U256};

#[test]
fn generated_chain_reads_back_completely() {
    let dir = tempfile::tempdir().unwrap();
    let p = SynthParams {
        txs: 6_000,
        txs_per_block: 150,
        entities: 300,
        seed: 7,
        xor: Some([9, 8, 7, 6, 5, 4, 3, 2]),
        max_file_bytes: 1 << 20,
        stale_every: 7,
        swap_every: 5,
        keep_truth: true,
        ..SynthParams::default()
    };
    let r = generate(dir.path(), &p).unwrap();
    assert!(
        r.txs >= 6_000 && r.files >= 2 && r.stale_blocks > 5 && r.coinjoins > 20,
        "{} txs, {} files, {} stale, {} coinjoins",
        r.txs,
        r.files,
        r.stale_blocks,
        r.coinjoins
    );

    let bd = BlocksDir::open(dir.path(), Network::Regtest).unwrap();
    assert!(bd.xor_key().is_some());
    let idx = bd.scan().unwrap();
    assert_eq!(idx.len() as u64, r.blocks + r.stale_blocks);
    let chain = idx.best_chain_from_genesis(Network::Regtest).unwrap();
    assert_eq!(chain.len() as u64, r.blocks);
    assert_eq!(chain.last().unwrap().hash, to_hash32(&r.tip.unwrap()));

    let mut dec = BlockDecoder::new(Network::Regtest, NoLookup);
    let mut reader = bd.reader();
    let mut buf = Vec::new();
    let (mut txs, mut kinds) = (0u64, std::collections::BTreeMap::<String, u64>::new());
    for cb in &chain {
        let block = reader.read_block(&cb.loc, &mut buf).unwrap();
        // Every input resolves from outputs decoded earlier: the chain is self-contained.
        let (d, totals) = dec.decode_with_totals(&block, cb.height).unwrap();
        txs += u64::from(d.tx_count) - 1;
        let paid: u64 = d.outputs.iter().filter(|o| o.address.is_some()).map(|o| o.value).sum();
        let moved = d.transfers.iter().fold(U256::ZERO, |a, t| a + t.amount);
        assert_eq!(moved, U256::from(paid));
        assert_eq!(totals.coinbase_value, totals.fees() + subsidy(cb.height));
        for o in &d.outputs {
            let k = match &o.address {
                None => "op_return",
                Some(Address::Bitcoin(s)) if s.starts_with("bcrt1q") && s.len() > 50 => "p2wsh",
                Some(Address::Bitcoin(s)) if s.starts_with("bcrt1q") => "p2wpkh",
                Some(Address::Bitcoin(s)) if s.starts_with("bcrt1p") => "p2tr",
                Some(Address::Bitcoin(s)) if s.starts_with('2') => "p2sh",
                Some(Address::Bitcoin(s)) if s.starts_with("script-") => "bare",
                Some(Address::Bitcoin(_)) => "p2pkh/p2pk",
                Some(a) => panic!("{a}"),
            };
            *kinds.entry(k.to_string()).or_default() += 1;
        }
    }
    assert_eq!(txs, r.txs);
    for k in ["op_return", "p2wsh", "p2wpkh", "p2tr", "p2sh", "bare", "p2pkh/p2pk"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 0, "no {k} outputs: {kinds:?}");
    }
    assert!(!r.owner.is_empty());
}

fn subsidy(h: u64) -> u64 {
    if h / 150 >= 64 {
        0
    } else {
        5_000_000_000u64 >> (h / 150)
    }
}
