//! Bitcoin Core's block index (`blocks/index`, a LevelDB database) written for a generated
//! chain, so peers that read blocks through Core's index (rusty-blockparser) can parse the same
//! `blk*.dat` files the bench ingests.
//!
//! What is written, in Core's format: one row per best-chain block, key `'b' ‖ block hash`
//! (internal byte order), value `CDiskBlockIndex`: VARINT client version, VARINT height, VARINT
//! status (`BLOCK_VALID_SCRIPTS | BLOCK_HAVE_DATA`), VARINT tx count, VARINT file number,
//! VARINT data position (the offset of the block after magic and length), then the 80-byte
//! header (version, prev, merkle root, time, bits, nonce). VARINT is Core's MSB base-128 with
//! the +1 offset per continuation byte (`serialize.h`), not CompactSize. Stale blocks get no
//! row (rusty-blockparser keys its index by height, so a stale block with data would replace
//! the best chain's block at that height).
//!
//! The database is LevelDB in its simplest valid state: `CURRENT` → `MANIFEST-000001` (one
//! version edit: comparator, log number 2, next file 3, last sequence 0) and `000002.log`
//! holding the rows as write batches. Opening it replays the log, as after any LevelDB crash.
//! The log format (32 KiB blocks, records with a masked CRC-32C, length and type) is
//! LevelDB's `doc/log_format.md`; written here from that description.

use std::{io::Write, path::Path};

use chaintrace_bitcoin::{
    bitcoin::{consensus::Encodable, hashes::Hash as _, BlockHash},
    blkfile::BlockReader,
    ChainBlock,
};

/// Core's `BLOCK_VALID_SCRIPTS` (5) | `BLOCK_HAVE_DATA` (8).
const STATUS: u64 = 5 | 8;
/// The client version Core 27 writes into index rows.
const CLIENT_VERSION: u64 = 270_000;
const LOG_BLOCK: usize = 32 * 1024;
const LOG_HEADER: usize = 7;
/// Rows per write batch in the log.
const ROWS_PER_BATCH: usize = 1000;

/// Core's VARINT (`WriteVarInt`, mode default).
pub(crate) fn core_varint(mut n: u64, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 10];
    let mut len = 0;
    loop {
        tmp[len] = (n & 0x7f) as u8 | if len > 0 { 0x80 } else { 0 };
        if n <= 0x7f {
            break;
        }
        n = (n >> 7) - 1;
        len += 1;
    }
    out.extend(tmp[..=len].iter().rev());
}

fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82f6_3b78 } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// LevelDB's log writer (records split into FULL / FIRST / MIDDLE / LAST fragments).
struct LogWriter {
    out: Vec<u8>,
}

impl LogWriter {
    fn add_record(&mut self, mut data: &[u8]) {
        let mut first = true;
        loop {
            let left = LOG_BLOCK - self.out.len() % LOG_BLOCK;
            if left < LOG_HEADER {
                self.out.extend(std::iter::repeat_n(0u8, left));
                continue;
            }
            let avail = left - LOG_HEADER;
            let n = data.len().min(avail);
            let last = n == data.len();
            let kind: u8 = match (first, last) {
                (true, true) => 1,
                (true, false) => 2,
                (false, false) => 3,
                (false, true) => 4,
            };
            let mut crc_in = Vec::with_capacity(n + 1);
            crc_in.push(kind);
            crc_in.extend_from_slice(&data[..n]);
            self.out.extend_from_slice(&masked_crc(&crc_in).to_le_bytes());
            self.out.extend_from_slice(&(n as u16).to_le_bytes());
            self.out.push(kind);
            self.out.extend_from_slice(&data[..n]);
            data = &data[n..];
            first = false;
            if last {
                return;
            }
        }
    }
}

fn varint32(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn length_prefixed(b: &[u8], out: &mut Vec<u8>) {
    varint32(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// The number in a `blkNNNNN.dat` file name.
fn file_number(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("blk"))
        .and_then(|n| n.strip_suffix(".dat"))
        .and_then(|n| n.parse().ok())
        .expect("blkNNNNN.dat")
}

/// Write Core's block index for `chain` (the best chain, genesis first) into `dir/index`.
pub(crate) fn write(dir: &Path, chain: &[ChainBlock], reader: &mut BlockReader<'_>) -> std::io::Result<()> {
    let index = dir.join("index");
    let _ = std::fs::remove_dir_all(&index);
    std::fs::create_dir_all(&index)?;
    let mut log = LogWriter { out: Vec::new() };
    let mut seq = 1u64;
    let mut buf = Vec::new();
    for rows in chain.chunks(ROWS_PER_BATCH) {
        let mut batch = Vec::new();
        batch.extend_from_slice(&seq.to_le_bytes());
        batch.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        for cb in rows {
            let block = reader.read_block(&cb.loc, &mut buf).expect("read a generated block");
            let hash: BlockHash = block.block_hash();
            let mut key = vec![b'b'];
            key.extend_from_slice(&hash.to_byte_array());
            let mut val = Vec::new();
            core_varint(CLIENT_VERSION, &mut val);
            core_varint(cb.height, &mut val);
            core_varint(STATUS, &mut val);
            core_varint(block.txdata.len() as u64, &mut val);
            core_varint(file_number(reader.path(&cb.loc)), &mut val);
            core_varint(cb.loc.offset, &mut val);
            block.header.consensus_encode(&mut val).expect("header into a Vec");
            batch.push(1); // kTypeValue
            length_prefixed(&key, &mut batch);
            length_prefixed(&val, &mut batch);
        }
        log.add_record(&batch);
        seq += rows.len() as u64;
    }
    std::fs::write(index.join("000002.log"), &log.out)?;
    // The manifest: one version edit.
    let mut edit = Vec::new();
    varint32(1, &mut edit); // comparator
    length_prefixed(b"leveldb.BytewiseComparator", &mut edit);
    varint32(2, &mut edit); // log number
    varint32(2, &mut edit);
    varint32(3, &mut edit); // next file number
    varint32(3, &mut edit);
    varint32(4, &mut edit); // last sequence
    varint32(0, &mut edit);
    let mut manifest = LogWriter { out: Vec::new() };
    manifest.add_record(&edit);
    std::fs::write(index.join("MANIFEST-000001"), &manifest.out)?;
    let mut current = std::fs::File::create(index.join("CURRENT"))?;
    current.write_all(b"MANIFEST-000001\n")?;
    current.sync_all()
}

/// Checks against published values, run by the bench before it writes an index (a bench has no
/// test harness).
pub(crate) fn self_check() {
    {
        // Values from Core's serialize_tests (varint_tests): 0 → 00, 127 → 7f, 128 → 80 00,
        // 255 → 80 7f, 16511 → ff 7f, 16512 → 80 80 00.
        for (n, want) in [
            (0u64, vec![0x00]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x00]),
            (255, vec![0x80, 0x7f]),
            (16511, vec![0xff, 0x7f]),
            (16512, vec![0x80, 0x80, 0x00]),
        ] {
            let mut v = Vec::new();
            core_varint(n, &mut v);
            assert_eq!(v, want, "{n}");
        }
    }

    {
        // The CRC-32C check value of "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
