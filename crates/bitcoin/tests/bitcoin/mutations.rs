//! A deterministic stand-in for the `fuzz/` targets that runs with the normal tests: real blocks
//! with random bit flips, truncations and length corruption must give errors, never panics.

use chaintrace_bitcoin::{bitcoin::Network, parse_block, BlockDecoder, BlocksDir, DecodeError, NoLookup};
use chaintrace_testkit::rng::Rng;

use crate::fixtures::AnyOutput;

fn data(p: &str) -> Vec<u8> {
    std::fs::read(chaintrace_testkit::test_data("bitcoin-blocks").join(p)).unwrap()
}

#[test]
fn mutated_blocks_never_panic() {
    let seeds = [
        data("bitcoinj/block481829.dat"),
        data("electrs/00000000000000001203c1ea455e38612bdf36e9967fdead11935c8e22283ecc"),
        data("bitcoinj/block169482.dat"),
    ];
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut parsed = 0;
    let mut outcomes = [0u32; 2];
    for i in 0..3000 {
        let mut b = seeds[i % seeds.len()].clone();
        match rng.next_u64() % 4 {
            0 => {
                for _ in 0..1 + rng.next_u64() % 8 {
                    let at = (rng.next_u64() as usize) % b.len();
                    b[at] ^= 1 << (rng.next_u64() % 8);
                }
            }
            1 => b.truncate((rng.next_u64() as usize) % b.len()),
            2 => {
                // Corrupt a varint-ish spot near the start of the transactions.
                let at = 80 + (rng.next_u64() as usize) % 200;
                b[at] = 0xff;
            }
            _ => {
                let at = (rng.next_u64() as usize) % b.len();
                b.insert(at, rng.next_u64() as u8);
            }
        }
        if let Ok(block) = parse_block(&b) {
            parsed += 1;
            // Prevouts are unknown here: decoding must fail cleanly or succeed.
            let _ = BlockDecoder::new(Network::Bitcoin, NoLookup).decode(&block, 1);
        }
        // The ingest's decoder of the record's bytes accepts and refuses what parsing then
        // decoding does, for the same reason (corrupt, or a merkle root that does not match),
        // and gives the same rows when it accepts.
        let kind = |e: DecodeError| std::mem::discriminant(&e);
        let by_block = parse_block(&b)
            .and_then(|block| BlockDecoder::new(Network::Bitcoin, AnyOutput).decode_with_totals(&block, 1))
            .map_err(kind);
        let by_bytes = BlockDecoder::new(Network::Bitcoin, AnyOutput).decode_bytes(&b, 1).map_err(kind);
        assert_eq!(by_bytes, by_block, "mutation {i}");
        outcomes[usize::from(by_block.is_ok())] += 1;
    }
    assert!(parsed < 3000);
    // both outcomes occur: some mutations keep a decodable block (a flipped bit in the
    // header's time or nonce), most do not
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn mutated_blk_files_never_panic() {
    let src = data("bitcoinj/first-100k-blocks.dat");
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..60 {
        let mut b = src.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() as usize) % b.len();
            b[at] = rng.next_u64() as u8;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blk00000.dat"), &b).unwrap();
        let Ok(bd) = BlocksDir::open(dir.path(), Network::Bitcoin) else { continue };
        let Ok(idx) = bd.scan() else { continue };
        let Ok(chain) = idx.best_chain_from_genesis(Network::Bitcoin) else { continue };
        let mut r = bd.reader();
        let mut buf = Vec::new();
        let mut dec = BlockDecoder::new(Network::Bitcoin, NoLookup);
        for cb in &chain {
            match r.read_block(&cb.loc, &mut buf) {
                Ok(block) => {
                    if dec.decode(&block, cb.height).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    assert!(e.to_string().contains("blk00000.dat"), "{e}");
                    break;
                }
            }
        }
    }
}
