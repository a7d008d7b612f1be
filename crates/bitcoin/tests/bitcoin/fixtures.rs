//! The adapter against the real mainnet blocks in `tests/data/bitcoin-blocks`, checked
//! against the facts in its PROVENANCE.md and index.csv.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use chaintrace_bitcoin::{
    bitcoin::Network, blkfile::xor_in_place, parse_block, to_hash32, BlkError, BlockDecoder, BlocksDir, NoLookup,
    OutputMap,
};
use chaintrace_model::{Address, BlockData, Hash32, UtxoLookup, UtxoOutput, U256};

fn data() -> PathBuf {
    chaintrace_testkit::test_data("bitcoin-blocks")
}

struct Row {
    file: String,
    frame: usize,
    height: u64,
    hash: String,
    merkle: String,
    n_tx: usize,
    n_segwit: usize,
    n_outputs: usize,
    coinbase_value: u64,
    total_out: u64,
}

fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(data().join("index.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (f, fr, h, hs, mr, nt, ns, no, cv, to) = (
        col("file"),
        col("frame_index"),
        col("height"),
        col("hash"),
        col("merkle_root"),
        col("n_tx"),
        col("n_segwit_tx"),
        col("n_outputs"),
        col("coinbase_value_sat"),
        col("total_output_value_sat"),
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Row {
                file: c[f].to_string(),
                frame: c[fr].parse().unwrap_or(0),
                height: c[h].parse().unwrap(),
                hash: c[hs].to_string(),
                merkle: c[mr].to_string(),
                n_tx: c[nt].parse().unwrap(),
                n_segwit: c[ns].parse().unwrap(),
                n_outputs: c[no].parse().unwrap(),
                coinbase_value: c[cv].parse().unwrap(),
                total_out: c[to].parse().unwrap(),
            }
        })
        .collect()
}

/// A blocks dir holding `src` as `blk00000.dat`, optionally obfuscated with `key`.
fn blocks_dir(src: &Path, key: Option<[u8; 8]>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(src).unwrap();
    if let Some(k) = key {
        xor_in_place(&mut bytes, 0, &k);
        std::fs::write(dir.path().join("xor.dat"), k).unwrap();
    }
    std::fs::write(dir.path().join("blk00000.dat"), bytes).unwrap();
    dir
}

/// Framed records of a file: (offset of the record, block bytes).
fn frames(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[p + 4..p + 8].try_into().unwrap()) as usize;
        out.push((p, &bytes[p + 8..p + 8 + len]));
        p += 8 + len;
    }
    out
}

/// Answers every lookup with a 1-BTC output of an unknown owner, so blocks whose prevouts are
/// not in the fixtures can still be decoded end to end.
pub(crate) struct AnyOutput;
impl UtxoLookup for AnyOutput {
    type Error = std::convert::Infallible;
    fn output(&self, txid: &Hash32, vout: u32) -> Result<Option<UtxoOutput>, Self::Error> {
        Ok(Some(UtxoOutput {
            txid: *txid,
            vout,
            address: Some(Address::Bitcoin("unknown".into())),
            value: 100_000_000,
        }))
    }
}

fn ingest_dir(dir: &Path, network: Network) -> Result<Vec<BlockData>, BlkError> {
    let bd = BlocksDir::open(dir, network)?;
    let idx = bd.scan()?;
    let chain = idx.best_chain_from_genesis(network)?;
    let mut reader = bd.reader();
    let mut dec = BlockDecoder::new(network, NoLookup);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for cb in &chain {
        let block = reader.read_block(&cb.loc, &mut buf)?;
        out.push(dec.decode(&block, cb.height).unwrap());
    }
    Ok(out)
}

#[test]
fn every_raw_block_matches_index() {
    let rows = index();
    let mut seen = 0;
    for r in rows.iter().filter(|r| !r.file.contains("first-100k") && !r.file.contains("blocks1-256")) {
        let bytes = std::fs::read(data().join(&r.file)).unwrap();
        let raw: &[u8] = if r.file.ends_with("277647.dat") { frames(&bytes)[0].1 } else { &bytes };
        let block = parse_block(raw).unwrap_or_else(|e| panic!("{}: {e}", r.file));
        assert_eq!(block.block_hash().to_string(), r.hash, "{}", r.file);
        assert_eq!(block.header.merkle_root.to_string(), r.merkle, "{}", r.file);
        assert_eq!(block.txdata.len(), r.n_tx, "{}", r.file);
        let segwit = block.txdata.iter().filter(|t| t.input.iter().any(|i| !i.witness.is_empty())).count();
        assert_eq!(segwit, r.n_segwit, "{}", r.file);
        // Decode end to end (inputs answered by a stand-in): every output is stored, every
        // edge sum per tx equals its non-OP_RETURN outputs, coinbase pays from `coinbase`.
        let mut dec = BlockDecoder::new(Network::Bitcoin, AnyOutput);
        let (d, totals) = dec.decode_with_totals(&block, r.height).unwrap();
        assert_eq!(d.block.hash.to_hex(), r.hash);
        assert_eq!(d.tx_count as usize, r.n_tx);
        assert_eq!(d.outputs.len(), r.n_outputs, "{}", r.file);
        assert_eq!(totals.outputs_value, r.total_out);
        assert_eq!(totals.coinbase_value, r.coinbase_value);
        let paid: u64 = d.outputs.iter().filter(|o| o.address.is_some()).map(|o| o.value).sum();
        let moved: U256 = d.transfers.iter().map(|t| t.amount).fold(U256::ZERO, |a, b| a + b);
        assert_eq!(moved, U256::from(paid), "{}", r.file);
        assert!(d.transfers.iter().filter(|t| t.pos.tx_index == 0).all(|t| t.from == Address::Coinbase));
        let n_inputs: usize = block.txdata.iter().skip(1).map(|t| t.input.len()).sum();
        assert_eq!(d.spends.len(), n_inputs);
        seen += 1;
    }
    assert_eq!(seen, 12);
}

/// The ingest's decoder (`decode_bytes`: the record's bytes, one transaction at a time) gives
/// what decoding the parsed block gives — rows, totals, and the overlay carried from block to
/// block — on every real block of the fixtures (P2PK, bare multisig, segwit, OP_RETURN).
#[test]
fn decoding_bytes_equals_decoding_the_parsed_block() {
    let rows = index();
    let mut files: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    let mut blocks = 0;
    for file in files {
        let bytes = std::fs::read(data().join(file)).unwrap();
        let framed = rows.iter().filter(|r| r.file == file).count() > 1 || file.ends_with("277647.dat");
        let raws: Vec<&[u8]> =
            if framed { frames(&bytes).into_iter().map(|(_, raw)| raw).collect() } else { vec![&bytes] };
        let (mut by_block, mut by_bytes) =
            (BlockDecoder::new(Network::Bitcoin, AnyOutput), BlockDecoder::new(Network::Bitcoin, AnyOutput));
        for (i, raw) in raws.into_iter().enumerate() {
            let height = i as u64 + 1;
            let block = parse_block(raw).unwrap();
            let want = by_block.decode_with_totals(&block, height).unwrap();
            assert_eq!(by_bytes.decode_bytes(raw, height).unwrap(), want, "{file}, block {i}");
            blocks += 1;
        }
        assert_eq!(by_bytes.overlay_total(), by_block.overlay_total(), "{file}");
    }
    assert_eq!(blocks, rows.len());
}

#[test]
fn segwit_blocks_have_bech32_outputs() {
    // 574200 (2019) has native segwit outputs; their keys are bech32 addresses.
    let bytes =
        std::fs::read(data().join("btcd/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk"))
            .unwrap();
    let block = parse_block(&bytes).unwrap();
    let mut dec = BlockDecoder::new(Network::Bitcoin, AnyOutput);
    let d = dec.decode(&block, 574200).unwrap();
    let count = |p: &str| {
        d.outputs.iter().filter(|o| matches!(&o.address, Some(Address::Bitcoin(s)) if s.starts_with(p))).count()
    };
    assert!(count("bc1q") > 0, "no P2WPKH/P2WSH outputs decoded");
    assert!(count("3") > 0 && count("1") > 0);
    // Witness commitments in the coinbase are OP_RETURN: no receiver.
    assert!(d.outputs.iter().any(|o| o.address.is_none()));
}

#[test]
fn framed_files_match_index_frame_by_frame() {
    let rows = index();
    for file in ["btcd/blocks1-256", "bitcoinj/first-100k-blocks.dat"] {
        let bytes = std::fs::read(data().join(file)).unwrap();
        let fr = frames(&bytes);
        let expect: Vec<&Row> = rows.iter().filter(|r| r.file == file).collect();
        assert_eq!(fr.len(), expect.len());
        for ((_, raw), r) in fr.iter().zip(&expect) {
            assert_eq!(r.frame, expect.iter().position(|x| x.hash == r.hash).unwrap());
            let b = parse_block(raw).unwrap();
            assert_eq!(b.block_hash().to_string(), r.hash);
            assert_eq!(b.header.merkle_root.to_string(), r.merkle);
        }
    }
}

#[test]
fn first_100k_blocks_as_blocks_dir() {
    let dir = blocks_dir(&data().join("bitcoinj/first-100k-blocks.dat"), None);
    let blocks = ingest_dir(dir.path(), Network::Bitcoin).unwrap();
    assert_eq!(blocks.len(), 439);
    assert_eq!(blocks.iter().map(|b| b.tx_count as u64).sum::<u64>(), 446);
    assert_eq!(blocks[0].block.hash.to_hex(), "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    let tip = blocks.last().unwrap();
    assert_eq!(tip.block.height, 438);
    assert_eq!(tip.block.hash.to_hex(), "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a");
    for w in blocks.windows(2) {
        assert_eq!(w[1].block.parent, w[0].block.hash);
        assert_eq!(w[1].block.height, w[0].block.height + 1);
    }

    // The same file obfuscated with a random key decodes to exactly the same data.
    let key: [u8; 8] = {
        // A fresh key per run.
        let mut k = chaintrace_testkit::rng::fresh_seed().to_le_bytes();
        k[0] |= 1; // never all zero
        k
    };
    let xdir = blocks_dir(&data().join("bitcoinj/first-100k-blocks.dat"), Some(key));
    assert_eq!(BlocksDir::open(xdir.path(), Network::Bitcoin).unwrap().xor_key(), Some(key));
    assert_eq!(ingest_dir(xdir.path(), Network::Bitcoin).unwrap(), blocks);
    // Without its key the obfuscated file is refused, naming file and offset.
    std::fs::remove_file(xdir.path().join("xor.dat")).unwrap();
    let err = ingest_dir(xdir.path(), Network::Bitcoin).unwrap_err().to_string();
    assert!(err.contains("blk00000.dat at offset 0") && err.contains("unknown magic"), "{err}");
    // An all-zero key means plain files.
    let zdir = blocks_dir(&data().join("bitcoinj/first-100k-blocks.dat"), None);
    std::fs::write(zdir.path().join("xor.dat"), [0u8; 8]).unwrap();
    assert_eq!(ingest_dir(zdir.path(), Network::Bitcoin).unwrap().len(), 439);
}

/// Every output of the chain in the oracle CSV, and the hop amounts.
#[test]
fn first_payment_chain_matches_oracle() {
    let dir = blocks_dir(&data().join("bitcoinj/first-100k-blocks.dat"), None);
    let blocks = ingest_dir(dir.path(), Network::Bitcoin).unwrap();
    let text = std::fs::read_to_string(data().join("early_spend_chain_heights_9_to_248.csv")).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (height, txid, vout, value, addr) =
            (c[0].parse::<usize>().unwrap(), c[2], c[5].parse::<u32>().unwrap(), c[6].parse::<u64>().unwrap(), c[8]);
        let b = &blocks[height];
        let o = b.outputs.iter().find(|o| o.txid.to_hex() == txid && o.vout == vout).unwrap();
        assert_eq!(o.value, value);
        assert_eq!(o.address, Some(Address::Bitcoin(addr.to_string())));
        // The transfer into this output's address from this tx carries exactly its value
        // (every tx of the chain has one input address).
        let t: Vec<_> =
            b.transfers.iter().filter(|t| t.tx.to_hex() == txid && t.to == Address::Bitcoin(addr.into())).collect();
        assert_eq!(t.len(), 1, "{line}");
        assert_eq!(t[0].amount, U256::from(value));
        n += 1;
    }
    assert_eq!(n, 13);
    // Hop 1: Satoshi → Hal Finney, 10 BTC at height 170.
    let hal = Address::Bitcoin("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3".into());
    let t = blocks[170].transfers.iter().find(|t| t.to == hal).unwrap();
    assert_eq!(t.from, Address::Bitcoin("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S".into()));
    assert_eq!(t.amount, U256::from(1_000_000_000u64));
    assert_eq!(t.tx.to_hex(), "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16");
}

#[test]
fn block_277647_fees_from_prevouts() {
    let bytes = std::fs::read(data().join("btcd/277647.dat")).unwrap();
    let block = parse_block(frames(&bytes)[0].1).unwrap();
    let text = std::fs::read_to_string(data().join("btcd/277647.prevouts.csv")).unwrap();
    let mut map = OutputMap::default();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let txid = Hash32::parse(c[2]).unwrap();
        let vout: u32 = c[3].parse().unwrap();
        let script = hex::decode(c[7]).unwrap();
        let addr = chaintrace_bitcoin::script_address(
            chaintrace_bitcoin::bitcoin::Script::from_bytes(&script),
            Network::Bitcoin,
        );
        assert_eq!(addr, Some(Address::Bitcoin(c[8].to_string())));
        map.insert(UtxoOutput { txid, vout, address: addr, value: c[4].parse().unwrap() });
    }
    assert_eq!(map.0.len(), 732);
    let mut dec = BlockDecoder::new(Network::Bitcoin, map);
    let (d, totals) = dec.decode_with_totals(&block, 277647).unwrap();
    assert_eq!(totals.fees(), 4_737_355);
    assert_eq!(totals.coinbase_value, 2_504_737_355);
    assert_eq!(totals.coinbase_value - 25 * 100_000_000, totals.fees());
    assert_eq!(d.spends.len(), 732);
    assert_eq!(d.block.hash.to_hex(), "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8");
    // Edges of non-coinbase txs sum to their outputs (fees are not an edge).
    let moved: U256 =
        d.transfers.iter().filter(|t| t.from != Address::Coinbase).map(|t| t.amount).fold(U256::ZERO, |a, b| a + b);
    assert_eq!(moved, U256::from(totals.outputs_value - totals.coinbase_value));
    // Without the prevouts the decoder refuses rather than guessing.
    let err = BlockDecoder::new(Network::Bitcoin, NoLookup).decode(&block, 277647).unwrap_err();
    assert!(err.to_string().contains("not known"), "{err}");
}

/// blocks1-256 written the way Core really leaves files: split over two files, blocks out of
/// order, a stale block on a side branch, zero padding; the best chain is still 1..255.
#[test]
fn out_of_order_stale_and_padding() {
    let src = std::fs::read(data().join("btcd/blocks1-256")).unwrap();
    let genesis = std::fs::read(data().join("bitcoinj/first-100k-blocks.dat")).unwrap();
    let mut recs: Vec<Vec<u8>> = vec![frames(&genesis)[0].1.to_vec()];
    recs.extend(frames(&src).iter().map(|(_, b)| b.to_vec()));
    assert_eq!(recs.len(), 256);
    // A stale sibling of block 100: same parent, different nonce (hash changes).
    let mut stale = recs[100].clone();
    stale[76] ^= 0xff;
    let stale_hash = to_hash32(&parse_block(&stale).unwrap().block_hash());
    let mut order: Vec<usize> = (0..256).collect();
    // Swap pairs so children often come before parents, as with parallel download.
    for i in (1..255).step_by(3) {
        order.swap(i, i + 1);
    }
    let frame = |b: &[u8]| {
        let mut v = vec![0xf9, 0xbe, 0xb4, 0xd9];
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(b);
        v
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut f0, mut f1) = (Vec::new(), Vec::new());
    for (k, &i) in order.iter().enumerate() {
        let out = if k < 128 { &mut f0 } else { &mut f1 };
        out.extend(frame(&recs[i]));
        if k == 50 {
            out.extend(frame(&stale));
        }
    }
    f0.extend(vec![0u8; 4096]);
    f1.extend(vec![0u8; 3]);
    std::fs::write(dir.path().join("blk00000.dat"), &f0).unwrap();
    std::fs::write(dir.path().join("blk00001.dat"), &f1).unwrap();
    std::fs::write(dir.path().join("rev00000.dat"), b"not a block file").unwrap();
    let blocks = ingest_dir(dir.path(), Network::Bitcoin).unwrap();
    assert_eq!(blocks.len(), 256);
    assert_eq!(blocks[255].block.hash.to_hex(), "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c");
    assert!(blocks.iter().all(|b| b.block.hash != stale_hash));
    // Resuming after block 200 yields exactly 201..=255.
    let bd = BlocksDir::open(dir.path(), Network::Bitcoin).unwrap();
    let idx = bd.scan().unwrap();
    assert_eq!(idx.len(), 257);
    let rest = idx.best_chain_after(&blocks[200].block.hash, 200);
    assert_eq!(rest.len(), 55);
    assert_eq!(rest[0].height, 201);
    assert_eq!(rest[0].hash, blocks[201].block.hash);
    assert!(idx.best_chain_after(&blocks[255].block.hash, 255).is_empty());
}

#[test]
fn corrupt_inputs_give_clean_errors() {
    let src = std::fs::read(data().join("bitcoinj/first-100k-blocks.dat")).unwrap();
    let check = |bytes: &[u8], network: Network, want: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blk00000.dat"), bytes).unwrap();
        let err = ingest_dir(dir.path(), network).unwrap_err().to_string();
        for w in want {
            assert!(err.contains(w), "{err:?} lacks {w:?}");
        }
        assert!(err.contains("blk00000.dat"), "{err}");
    };
    // Truncated in the middle of the last block.
    let last_record = frames(&src).last().unwrap().0;
    check(&src[..src.len() - 100], Network::Bitcoin, &["truncated record", &format!("offset {last_record}")]);
    // Absurd length in the second record.
    let mut b = src.clone();
    let second = 8 + u32::from_le_bytes(src[4..8].try_into().unwrap()) as usize;
    b[second + 4..second + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    check(&b, Network::Bitcoin, &["block length 4294967295 is out of range", &format!("offset {second}")]);
    // Garbage magic.
    let mut b = src.clone();
    b[second..second + 4].copy_from_slice(b"junk");
    check(&b, Network::Bitcoin, &["unknown magic 6a756e6b", &format!("offset {second}")]);
    // Mainnet files read as regtest.
    check(&src, Network::Regtest, &["hold mainnet blocks but the network is regtest", "offset 0"]);
    // A corrupted transaction inside block 1 (its tx count byte): the block no longer parses
    // or no longer matches its merkle root.
    let mut b = src.clone();
    b[second + 8 + 80] = 0xfd;
    check(&b, Network::Bitcoin, &[&format!("offset {second}")]);
    let mut b = src.clone();
    let last = b.len() - 10;
    b[last] ^= 0x55;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blk00000.dat"), &b).unwrap();
    let bd = BlocksDir::open(dir.path(), Network::Bitcoin).unwrap();
    let idx = bd.scan().unwrap();
    let chain = idx.best_chain_from_genesis(Network::Bitcoin).unwrap();
    let mut reader = bd.reader();
    let mut buf = Vec::new();
    let mut dec = BlockDecoder::new(Network::Bitcoin, NoLookup);
    let mut failed = None;
    for cb in &chain {
        match reader.read_block(&cb.loc, &mut buf) {
            Ok(block) => {
                if let Err(e) = dec.decode(&block, cb.height) {
                    failed = Some(e.to_string());
                    break;
                }
            }
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    let failed = failed.expect("a flipped byte must be detected");
    assert!(failed.contains("merkle root") || failed.contains("corrupt"), "{failed}");
    // No blk files at all.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(BlocksDir::open(empty.path(), Network::Bitcoin), Err(BlkError::NoFiles(_))));
    let _ = HashMap::<u8, u8>::new();
}
