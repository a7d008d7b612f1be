//! Bitcoin Core's block files (`blocks/blk*.dat`).
//!
//! Each record is `magic (4) | length (u32 LE) | block`. Core preallocates files in chunks, so
//! zero bytes pad the end of a file; blocks are written in the order they arrived, not in
//! height order, and stale blocks stay in the files. Since Core 28 every byte of the block
//! files is XORed with the 8-byte key in `xor.dat` (byte at file offset `o` with
//! `key[o % 8]`); an absent or all-zero key means plain files.
//!
//! Reading is two passes: [`BlocksDir::scan`] reads only the record headers and block headers
//! into a [`BlkIndex`]; [`BlkIndex::best_chain_from_genesis`] orders the blocks by their parent links and
//! keeps the chain with the most work; [`BlockReader`] then reads the blocks of that chain.
//! Nothing read from a file is trusted: magic, lengths and bounds are checked, and every error
//! names the file and the offset.

use std::{
    collections::HashMap,
    fs::File,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use bitcoin::{block::Header, consensus::Decodable, hashes::Hash, Block, BlockHash, Network};
use chaintrace_model::{Hash32, U256};

use crate::{
    decode::{parse_block, DecodeError, MAX_BLOCK_BYTES},
    from_hash32,
    network::{genesis_hash, network_name, network_of_magic},
    to_hash32,
};

/// Why the block files could not be read. Messages name the file and the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum BlkError {
    /// A block file or `xor.dat` could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The block file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The directory holds no `blk*.dat` files.
    #[error("no blk*.dat files in {0}")]
    NoFiles(PathBuf),
    /// `xor.dat` is not the 8-byte obfuscation key Core 28+ writes.
    #[error("{path}: expected an 8-byte XOR key, found {len} bytes")]
    BadXorKey {
        /// The block file.
        path: PathBuf,
        /// The key file's length in bytes.
        len: u64,
    },
    /// The files' magic bytes belong to another network than the one asked for.
    #[error("{path} at offset {offset}: the block files hold {found} blocks but the network is {expected}")]
    NetworkMismatch {
        /// The block file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// The network the magic bytes name.
        found: &'static str,
        /// The network asked for.
        expected: &'static str,
    },
    /// A record does not start with any known network's magic bytes.
    #[error("{path} at offset {offset}: unknown magic {magic} (not a block file of a known network, or an obfuscated file without its xor.dat)")]
    UnknownMagic {
        /// The block file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// The four bytes found, hex.
        magic: String,
    },
    /// A record's length field is below a header's 80 bytes or above [`MAX_BLOCK_BYTES`].
    #[error("{path} at offset {offset}: block length {len} is out of range (80..={max})")]
    BadLength {
        /// The block file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// The length field, in bytes.
        len: u64,
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// A record runs past the end of its file.
    #[error("{path} at offset {offset}: truncated record: {need} bytes needed, {have} left in the file")]
    Truncated {
        /// The block file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// Bytes the record needs.
        need: u64,
        /// Bytes left in the file.
        have: u64,
    },
    /// A record's bytes do not decode as a block.
    #[error("{path} at offset {offset}: {source}")]
    Corrupt {
        /// The block file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// The underlying error.
        source: Box<DecodeError>,
    },
    /// The first block of the best chain is not the network's genesis block.
    #[error("the block files start with block {found}, not the {network} genesis {expected}")]
    GenesisMismatch {
        /// The network asked for.
        network: &'static str,
        /// That network's genesis hash.
        expected: Hash32,
        /// The hash of the first block found.
        found: Hash32,
    },
}

impl BlkError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        BlkError::Io { path: path.to_path_buf(), source }
    }
}

/// Where a block's bytes are: file number (index into [`BlocksDir::files`]), the offset of the
/// block itself (after magic and length) and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLocation {
    /// Index into [`BlocksDir::files`].
    pub file: u32,
    /// Byte offset of the block itself, after the magic and length.
    pub offset: u64,
    /// The block's serialized length, in bytes.
    pub len: u32,
}

/// A block of the selected chain, in height order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    /// Height on the selected chain (genesis is 0).
    pub height: u64,
    /// Block hash, in display byte order.
    pub hash: Hash32,
    /// Where its bytes are.
    pub loc: BlockLocation,
}

/// A directory of Core block files.
#[derive(Clone, Debug)]
pub struct BlocksDir {
    dir: PathBuf,
    files: Vec<PathBuf>,
    xor: Option<[u8; 8]>,
    network: Network,
}

/// The index of every block record found: header facts and location.
#[derive(Clone, Debug, Default)]
pub struct BlkIndex {
    entries: Vec<Entry>,
    by_hash: HashMap<BlockHash, usize>,
    children: HashMap<BlockHash, Vec<usize>>,
    /// Records seen twice (the same block written again) are counted, not indexed twice.
    pub duplicates: u64,
    /// Total bytes of block data indexed.
    pub bytes: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    hash: BlockHash,
    prev: BlockHash,
    work: U256,
    loc: BlockLocation,
}

/// Apply Core's block-file obfuscation to `buf`, which was read at file offset `offset`.
pub fn xor_in_place(buf: &mut [u8], offset: u64, key: &[u8; 8]) {
    let mut k = (offset % 8) as usize;
    for b in buf {
        *b ^= key[k];
        k = (k + 1) & 7;
    }
}

impl BlocksDir {
    /// Open Core's `blocks` directory: list `blk*.dat` in file-number order and read `xor.dat`.
    pub fn open(dir: &Path, network: Network) -> Result<Self, BlkError> {
        let rd = std::fs::read_dir(dir).map_err(|e| BlkError::io(dir, e))?;
        let mut files: Vec<(u64, PathBuf)> = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| BlkError::io(dir, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(num) = name.strip_prefix("blk").and_then(|r| r.strip_suffix(".dat")) else { continue };
            // Core's names are blkNNNNN.dat; anything else with the same shape is ordered by name.
            let n = num.parse::<u64>().unwrap_or(u64::MAX);
            files.push((n, ent.path()));
        }
        if files.is_empty() {
            return Err(BlkError::NoFiles(dir.to_path_buf()));
        }
        files.sort();
        let xor_path = dir.join("xor.dat");
        let xor = match std::fs::read(&xor_path) {
            Ok(bytes) => {
                let key: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| BlkError::BadXorKey { path: xor_path.clone(), len: bytes.len() as u64 })?;
                (key != [0; 8]).then_some(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(BlkError::io(&xor_path, e)),
        };
        Ok(BlocksDir { dir: dir.to_path_buf(), files: files.into_iter().map(|(_, p)| p).collect(), xor, network })
    }

    /// The blocks directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `blk*.dat` files, in file-number order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The XOR obfuscation key from `xor.dat` (`None` when absent or all zero).
    pub fn xor_key(&self) -> Option<[u8; 8]> {
        self.xor
    }

    /// The network the files' magic bytes must match.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Index every block record in every file (reads record and block headers only).
    pub fn scan(&self) -> Result<BlkIndex, BlkError> {
        let mut index = BlkIndex::default();
        for (n, path) in self.files.iter().enumerate() {
            self.scan_file(n as u32, path, &mut index)?;
        }
        Ok(index)
    }

    fn read_at(&self, file: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<(), BlkError> {
        file.read_exact_at(buf, offset).map_err(|e| BlkError::io(path, e))?;
        if let Some(key) = &self.xor {
            xor_in_place(buf, offset, key);
        }
        Ok(())
    }

    fn scan_file(&self, n: u32, path: &Path, index: &mut BlkIndex) -> Result<(), BlkError> {
        let file = File::open(path).map_err(|e| BlkError::io(path, e))?;
        let size = file.metadata().map_err(|e| BlkError::io(path, e))?.len();
        let expected = self.network.magic().to_bytes();
        let mut pos = 0u64;
        let mut head = [0u8; 88];
        while pos < size {
            let have = size - pos;
            if have < 8 {
                let mut tail = vec![0u8; have as usize];
                self.read_at(&file, path, pos, &mut tail)?;
                if tail.iter().all(|b| *b == 0) {
                    break;
                }
                return Err(BlkError::Truncated { path: path.to_path_buf(), offset: pos, need: 8, have });
            }
            self.read_at(&file, path, pos, &mut head[..8])?;
            let magic: [u8; 4] = head[..4].try_into().expect("4 bytes");
            if magic == [0; 4] {
                // Preallocated zero padding: skip to the next non-zero byte, if any.
                match self.skip_zeros(&file, path, pos, size)? {
                    Some(next) => {
                        pos = next;
                        continue;
                    }
                    None => break,
                }
            }
            if magic != expected {
                return Err(match network_of_magic(magic) {
                    Some(found) => BlkError::NetworkMismatch {
                        path: path.to_path_buf(),
                        offset: pos,
                        found: network_name(found),
                        expected: network_name(self.network),
                    },
                    None => BlkError::UnknownMagic { path: path.to_path_buf(), offset: pos, magic: hex::encode(magic) },
                });
            }
            let len = u64::from(u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")));
            if !(80..=MAX_BLOCK_BYTES as u64).contains(&len) {
                return Err(BlkError::BadLength { path: path.to_path_buf(), offset: pos, len, max: MAX_BLOCK_BYTES });
            }
            if len > have - 8 {
                return Err(BlkError::Truncated { path: path.to_path_buf(), offset: pos, need: len + 8, have });
            }
            self.read_at(&file, path, pos + 8, &mut head[8..88])?;
            let header = Header::consensus_decode(&mut &head[8..88]).map_err(|e| BlkError::Corrupt {
                path: path.to_path_buf(),
                offset: pos,
                source: Box::new(DecodeError::Corrupt(e.to_string())),
            })?;
            let loc = BlockLocation { file: n, offset: pos + 8, len: len as u32 };
            index.insert(header, loc);
            pos += 8 + len;
        }
        Ok(())
    }

    fn skip_zeros(&self, file: &File, path: &Path, from: u64, size: u64) -> Result<Option<u64>, BlkError> {
        let mut buf = vec![0u8; 1 << 16];
        let mut pos = from;
        while pos < size {
            let n = ((size - pos) as usize).min(buf.len());
            self.read_at(file, path, pos, &mut buf[..n])?;
            if let Some(i) = buf[..n].iter().position(|b| *b != 0) {
                return Ok(Some(pos + i as u64));
            }
            pos += n as u64;
        }
        Ok(None)
    }

    /// A reader for blocks of this directory (keeps the current file open).
    pub fn reader(&self) -> BlockReader<'_> {
        BlockReader { dir: self, open: None }
    }
}

/// Reads blocks by location; keeps one file open between calls.
pub struct BlockReader<'a> {
    dir: &'a BlocksDir,
    open: Option<(u32, File)>,
}

impl BlockReader<'_> {
    /// The raw (de-obfuscated) bytes of a block.
    pub fn read_bytes(&mut self, loc: &BlockLocation, buf: &mut Vec<u8>) -> Result<(), BlkError> {
        let path = self.dir.files.get(loc.file as usize).ok_or_else(|| {
            BlkError::io(
                &self.dir.dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "block file index out of range"),
            )
        })?;
        if self.open.as_ref().map(|(n, _)| *n) != Some(loc.file) {
            let f = File::open(path).map_err(|e| BlkError::io(path, e))?;
            self.open = Some((loc.file, f));
        }
        let (_, file) = self.open.as_ref().expect("opened above");
        buf.clear();
        buf.resize(loc.len as usize, 0);
        self.dir.read_at(file, path, loc.offset, buf)
    }

    /// Read and parse a block.
    pub fn read_block(&mut self, loc: &BlockLocation, buf: &mut Vec<u8>) -> Result<Block, BlkError> {
        self.read_bytes(loc, buf)?;
        parse_block(buf).map_err(|e| self.corrupt(loc, e))
    }

    /// The error of a record at `loc` whose bytes are not a block: its file and the offset of
    /// the record (its magic).
    pub fn corrupt(&self, loc: &BlockLocation, source: DecodeError) -> BlkError {
        BlkError::Corrupt { path: self.path(loc).to_path_buf(), offset: loc.offset - 8, source: Box::new(source) }
    }

    /// The file path of a location, for error messages.
    pub fn path(&self, loc: &BlockLocation) -> &Path {
        &self.dir.files[loc.file as usize]
    }
}

fn work_of(header: &Header) -> U256 {
    U256::from_be_bytes(header.work().to_be_bytes())
}

impl BlkIndex {
    fn insert(&mut self, header: Header, loc: BlockLocation) {
        let hash = header.block_hash();
        self.bytes += u64::from(loc.len);
        if self.by_hash.contains_key(&hash) {
            self.duplicates += 1;
            return;
        }
        let idx = self.entries.len();
        self.entries.push(Entry { hash, prev: header.prev_blockhash, work: work_of(&header), loc });
        self.by_hash.insert(hash, idx);
        self.children.entry(header.prev_blockhash).or_default().push(idx);
    }

    /// Number of distinct blocks found.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no block was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a block with this hash was found (on any branch).
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.by_hash.contains_key(&from_hash32::<BlockHash>(hash))
    }

    /// The best chain from the network's genesis (height 0): the branch with the most
    /// cumulative work (ties: the branch whose tip was written first). Stale branches and blocks
    /// not connected to genesis are left out. Errors if the files start with another genesis.
    pub fn best_chain_from_genesis(&self, network: Network) -> Result<Vec<ChainBlock>, BlkError> {
        let genesis = genesis_hash(network);
        let roots = self.children.get(&BlockHash::all_zeros()).cloned().unwrap_or_default();
        if !roots.is_empty() && !roots.iter().any(|&i| self.entries[i].hash == genesis) {
            return Err(BlkError::GenesisMismatch {
                network: network_name(network),
                expected: to_hash32(&genesis),
                found: to_hash32(&self.entries[roots[0]].hash),
            });
        }
        if !self.by_hash.contains_key(&genesis) {
            return Ok(Vec::new());
        }
        let mut chain = vec![self.chain_block(self.by_hash[&genesis], 0)];
        chain.extend(self.best_chain_after(&to_hash32(&genesis), 0));
        Ok(chain)
    }

    /// The best chain of blocks descending from `root` (at `root_height`), not including `root`
    /// itself: what to ingest after a stored tip.
    pub fn best_chain_after(&self, root: &Hash32, root_height: u64) -> Vec<ChainBlock> {
        let root: BlockHash = from_hash32(root);
        // Iterative DFS over descendants, tracking cumulative work.
        let mut best: Option<(U256, usize, u64)> = None;
        let mut stack: Vec<(usize, U256, u64)> = Vec::new();
        for &c in self.children.get(&root).map(Vec::as_slice).unwrap_or(&[]) {
            stack.push((c, self.entries[c].work, root_height + 1));
        }
        while let Some((i, work, h)) = stack.pop() {
            let better = match best {
                None => true,
                Some((bw, bi, _)) => work > bw || (work == bw && i < bi),
            };
            if better {
                best = Some((work, i, h));
            }
            if let Some(kids) = self.children.get(&self.entries[i].hash) {
                for &c in kids {
                    stack.push((c, work.saturating_add(self.entries[c].work), h + 1));
                }
            }
        }
        let Some((_, tip, tip_height)) = best else { return Vec::new() };
        let mut out = Vec::with_capacity((tip_height - root_height) as usize);
        let mut i = tip;
        let mut h = tip_height;
        loop {
            out.push(self.chain_block(i, h));
            let prev = self.entries[i].prev;
            if prev == root {
                break;
            }
            i = self.by_hash[&prev];
            h -= 1;
        }
        out.reverse();
        out
    }

    fn chain_block(&self, i: usize, height: u64) -> ChainBlock {
        let e = &self.entries[i];
        ChainBlock { height, hash: to_hash32(&e.hash), loc: e.loc }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_is_offset_based_and_involutive() {
        let key = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut a = [0u8; 20];
        xor_in_place(&mut a[..], 0, &key);
        assert_eq!(&a[..10], &[1, 2, 3, 4, 5, 6, 7, 8, 1, 2]);
        let mut b = [0u8; 4];
        xor_in_place(&mut b, 6, &key);
        assert_eq!(b, [7, 8, 1, 2]);
        xor_in_place(&mut a[..], 0, &key);
        assert!(a.iter().all(|x| *x == 0));
    }
}
