//! Deterministic synthetic blocks for store tests.
// Shared by the `store` and `crash` binaries; each uses only part of it.
#![allow(dead_code)]

use chaintrace_model::{Address, Asset, BlockData, BlockRef, Hash32, Position, Transfer, UtxoOutput, UtxoSpend, U256};
use sha2::{Digest, Sha256};

fn h(parts: &[&[u8]]) -> Hash32 {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    Hash32(d.finalize().into())
}

/// Block `height` of a synthetic chain; `fork` changes its content and hash (a competing
/// branch). Transfers move native and token value among 40 EVM-style addresses, and each
/// block carries a couple of UTXO outputs/spends so rollback of those is exercised too.
pub(crate) fn block(height: u64, parent: Hash32, fork: u8) -> BlockData {
    let hash = h(&[b"block", &height.to_be_bytes(), &parent.0, &[fork]]);
    let mut b = BlockData::new(BlockRef { height, hash, parent, time: 1_600_000_000 + height * 12 });
    let n = 1 + (height % 7) as u32;
    b.tx_count = n;
    for i in 0..n {
        let seed = h(&[&hash.0, &i.to_be_bytes()]).0;
        let from = Address::Evm([seed[0] % 40; 20]);
        let to = Address::Evm([seed[1] % 40; 20]);
        let asset = if seed[2].is_multiple_of(3) { Asset::Token([0xaa; 20]) } else { Asset::Native };
        b.transfers.push(Transfer {
            tx: Hash32(seed),
            height,
            pos: Position { tx_index: i, sub: 0 },
            time: b.block.time,
            from,
            to,
            asset,
            amount: U256::from(u64::from_be_bytes(seed[8..16].try_into().unwrap()) >> 8),
        });
        b.outputs.push(UtxoOutput {
            txid: Hash32(seed),
            vout: 0,
            address: Some(Address::Bitcoin(format!("a{}", seed[3]))),
            value: 1000 + i as u64,
        });
        if height > 0 {
            b.spends.push(UtxoSpend { txid: Hash32(seed), vin: 0, prev_txid: Hash32(seed), prev_vout: 1 });
        }
    }
    b
}

/// Blocks `0..n` of the main chain (fork 0).
pub(crate) fn chain(n: u64) -> Vec<BlockData> {
    let mut out = Vec::new();
    let mut parent = Hash32::ZERO;
    for height in 0..n {
        let b = block(height, parent, 0);
        parent = b.block.hash;
        out.push(b);
    }
    out
}
