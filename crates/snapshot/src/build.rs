//! Writing a snapshot: transfers in chain order in, a complete file renamed into place out.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chaintrace_model::{Address, Asset, Transfer};

use crate::layout::{
    address_id, asset_index, encode_asset, encode_block, encode_chain, hash_key, header_fields, height_and_time,
    is_big, tx_ordinal, Counts, Entry, Layout, Rec, BLOCKS_AT, BLOCK_LEN, CHAIN_LEN, ENTRY_LEN, FLAG_BIG, HEADER_LEN,
    KEY_WIDTH_AT, MAGIC, REC_LEN,
};
use crate::{SnapshotError, SnapshotKey, FORMAT_VERSION};

/// A spooled transfer: sender id, receiver id and its record (with `other` unset).
const SPOOL_LEN: usize = 8 + REC_LEN;

/// Address key → id while building: open addressing (linear probing) over `(hash, id)` pairs,
/// the keys themselves only in the builder's key blob. A look-up hashes the key once
/// ([`hash_key`], the file's own hash) and compares key bytes only where the 64-bit hashes are
/// equal; growing moves the pairs without touching a key. (A `HashMap<Vec<u8>, u32>` spent
/// 57% of a 10M build's CPU: SipHash, an allocation per look-up and a cache miss into each
/// stored key's heap block.)
#[derive(Default)]
struct Ids {
    /// `(hash, id)`; `id == EMPTY`: a free slot. Length a power of two, at most half full.
    slots: Vec<(u64, u32)>,
    len: usize,
}

const EMPTY: u32 = u32::MAX;

impl Ids {
    /// The id whose key `same` accepts among those of hash `h`, or the free slot to insert it.
    fn find(&mut self, h: u64, same: impl Fn(u32) -> bool) -> Result<u32, usize> {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        loop {
            let (sh, id) = self.slots[s];
            if id == EMPTY {
                return Err(s);
            }
            if sh == h && same(id) {
                return Ok(id);
            }
            s = (s + 1) & mask;
        }
    }

    /// Fills the free `slot` [`Ids::find`] returned (nothing was inserted since).
    fn insert(&mut self, slot: usize, h: u64, id: u32) {
        self.slots[slot] = (h, id);
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(1 << 10);
        let old = std::mem::replace(&mut self.slots, vec![(0, EMPTY); cap]);
        let mask = cap - 1;
        for (h, id) in old.into_iter().filter(|&(_, id)| id != EMPTY) {
            let mut s = h as usize & mask;
            while self.slots[s].1 != EMPTY {
                s = (s + 1) & mask;
            }
            self.slots[s] = (h, id);
        }
    }
}

/// What a build wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Transfers in the snapshot.
    pub transfers: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// Distinct transactions.
    pub transactions: u64,
    /// Amounts above `u128::MAX` (kept in the side table).
    pub big_amounts: u64,
    /// Size of the file, bytes.
    pub bytes: u64,
}

/// Builds one chain's snapshot file. Push every transfer of the chain in chain order
/// `(height, tx_index, sub)` with [`SnapshotBuilder::push`], then [`SnapshotBuilder::finish`].
///
/// Nothing appears under the final name until `finish` has written, synced and renamed the
/// complete file: the transfers are spooled to `<path>.spool.tmp` and `<path>.tx.tmp`, the file
/// is written as `<path>.tmp`, and a crash at any point leaves at most those temp files, which
/// the next build removes. Memory: a hash map of the chain's addresses and two counters per
/// address; the transfers themselves go through the spool files.
pub struct SnapshotBuilder {
    path: PathBuf,
    key: SnapshotKey,
    spool: BufWriter<File>,
    spool_path: PathBuf,
    txs: BufWriter<File>,
    tx_path: PathBuf,
    ids: Ids,
    /// The key being looked up (reused: no allocation per transfer).
    key_buf: Vec<u8>,
    blob: Vec<u8>,
    addr_off: Vec<u64>,
    out_deg: Vec<u64>,
    in_deg: Vec<u64>,
    assets: Vec<Asset>,
    asset_ids: HashMap<Asset, u32>,
    bigs: Vec<[u8; 32]>,
    last_tx: Option<[u8; 32]>,
    n_tx: u64,
    last_order: Option<(u64, u32, u32)>,
    /// The chain-order stream's blocks: height, time and first transfer of each run of
    /// transfers sharing a height and time.
    blocks: Vec<(u32, u32, u64)>,
    transfers: u64,
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> SnapshotError + 'p {
    move |source| SnapshotError::Io { action, path: path.display().to_string(), source }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The temp files a build of `path` uses (left behind only by a crash).
pub(crate) fn temp_paths(path: &Path) -> [PathBuf; 3] {
    [with_suffix(path, ".tmp"), with_suffix(path, ".spool.tmp"), with_suffix(path, ".tx.tmp")]
}

impl SnapshotBuilder {
    /// Start building the snapshot file `path` of the store state `key`. Removes the temp files
    /// of an earlier build that did not finish; the file at `path`, if any, stays in place (and
    /// readable) until `finish` replaces it.
    pub fn create(path: &Path, key: SnapshotKey) -> Result<SnapshotBuilder, SnapshotError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("creating the directory of", path))?;
        }
        for t in temp_paths(path) {
            match std::fs::remove_file(&t) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("removing an unfinished", &t)(e)),
            }
        }
        let [_, spool_path, tx_path] = temp_paths(path);
        let spool = BufWriter::with_capacity(1 << 20, File::create(&spool_path).map_err(io("creating", &spool_path))?);
        let txs = BufWriter::with_capacity(1 << 20, File::create(&tx_path).map_err(io("creating", &tx_path))?);
        Ok(SnapshotBuilder {
            path: path.to_path_buf(),
            key,
            spool,
            spool_path,
            txs,
            tx_path,
            ids: Ids::default(),
            key_buf: Vec::new(),
            blob: Vec::new(),
            addr_off: vec![0],
            out_deg: Vec::new(),
            in_deg: Vec::new(),
            assets: Vec::new(),
            asset_ids: HashMap::new(),
            bigs: Vec::new(),
            last_tx: None,
            n_tx: 0,
            last_order: None,
            blocks: Vec::new(),
            transfers: 0,
        })
    }

    fn invalid(&self, what: String) -> SnapshotError {
        SnapshotError::Invalid { chain: self.key.chain.clone(), what }
    }

    /// The id of `addr`, a new one when it was not seen before.
    fn addr_id(&mut self, addr: &Address) -> Result<u32, SnapshotError> {
        self.key_buf.clear();
        addr.write_key(&mut self.key_buf);
        let key = &self.key_buf;
        let h = hash_key(key);
        let slot = match self.ids.find(h, |id| {
            let i = id as usize;
            &self.blob[self.addr_off[i] as usize..self.addr_off[i + 1] as usize] == key.as_slice()
        }) {
            Ok(id) => return Ok(id),
            Err(slot) => slot,
        };
        let id = address_id(self.out_deg.len() as u64).map_err(|e| self.invalid(e))?;
        self.blob.extend_from_slice(key);
        self.addr_off.push(self.blob.len() as u64);
        self.out_deg.push(0);
        self.in_deg.push(0);
        self.ids.insert(slot, h, id);
        Ok(id)
    }

    /// Add the next transfer; transfers must come in strictly increasing chain order.
    pub fn push(&mut self, t: &Transfer) -> Result<(), SnapshotError> {
        let order = (t.height, t.pos.tx_index, t.pos.sub);
        if self.last_order.is_some_and(|last| order <= last) {
            return Err(self.invalid(format!(
                "transfer at height {} position {}/{} is not after the one before it",
                t.height, t.pos.tx_index, t.pos.sub
            )));
        }
        // the record keeps heights and times in 32 bits
        let (height, time) = height_and_time(t.height, t.time).map_err(|e| self.invalid(e))?;
        self.last_order = Some(order);
        if self.blocks.last().is_none_or(|&(h, s, _)| (h, s) != (height, time)) {
            self.blocks.push((height, time, self.transfers));
        }
        let from = self.addr_id(&t.from)?;
        let to = self.addr_id(&t.to)?;
        self.out_deg[from as usize] += 1;
        self.in_deg[to as usize] += 1;
        if self.last_tx != Some(t.tx.0) {
            self.txs.write_all(&t.tx.0).map_err(io("writing", &self.tx_path))?;
            self.last_tx = Some(t.tx.0);
            self.n_tx += 1;
        }
        let tx = tx_ordinal(self.n_tx - 1).map_err(|e| self.invalid(e))?;
        let asset = match self.asset_ids.get(&t.asset) {
            Some(a) => *a,
            None => {
                let a = asset_index(self.assets.len()).map_err(|e| self.invalid(e))?;
                self.assets.push(t.asset);
                self.asset_ids.insert(t.asset, a);
                a
            }
        };
        let limbs = t.amount.as_limbs();
        let (amount_lo, amount_hi, big) = if !is_big(&t.amount) {
            (limbs[0], limbs[1], 0)
        } else {
            self.bigs.push(t.amount.to_be_bytes());
            (self.bigs.len() as u64 - 1, 0, FLAG_BIG)
        };
        let rec = Rec {
            amount_lo,
            amount_hi,
            height,
            time,
            tx_index: t.pos.tx_index,
            sub: t.pos.sub,
            tx,
            other: 0,
            asset: asset | big,
        };
        let mut buf = [0u8; SPOOL_LEN];
        buf[0..4].copy_from_slice(&from.to_le_bytes());
        buf[4..8].copy_from_slice(&to.to_le_bytes());
        rec.encode(&mut buf[8..]);
        self.spool.write_all(&buf).map_err(io("writing", &self.spool_path))?;
        self.transfers += 1;
        Ok(())
    }

    /// Transfers pushed so far.
    pub fn transfers(&self) -> u64 {
        self.transfers
    }

    /// Write the file and rename it into place (synced); removes the spool files.
    pub fn finish(self) -> Result<BuildStats, SnapshotError> {
        let SnapshotBuilder {
            path,
            key,
            spool,
            spool_path,
            txs,
            tx_path,
            ids,
            blob,
            addr_off,
            out_deg,
            in_deg,
            assets,
            bigs,
            n_tx,
            blocks,
            transfers,
            ..
        } = self;
        drop(ids);
        spool.into_inner().map_err(|e| io("writing", &spool_path)(e.into_error()))?;
        txs.into_inner().map_err(|e| io("writing", &tx_path)(e.into_error()))?;
        let meta = serde_json::to_vec(&key).map_err(|e| SnapshotError::Invalid {
            chain: key.chain.clone(),
            what: format!("the key does not serialize: {e}"),
        })?;
        let n_addr = out_deg.len() as u64;
        let hash_cap = (n_addr * 2).next_power_of_two().max(2);
        let counts = Counts {
            addrs: n_addr,
            transfers,
            txs: n_tx,
            assets: assets.len() as u64,
            bigs: bigs.len() as u64,
            hash_cap,
            blob_len: blob.len() as u64,
            meta_len: meta.len() as u64,
            blocks: blocks.len() as u64,
        };
        let too_big = || SnapshotError::Invalid {
            chain: key.chain.clone(),
            what: "the snapshot exceeds the address space".into(),
        };
        let l = Layout::of(&counts).ok_or_else(too_big)?;

        let [tmp, _, _] = temp_paths(&path);
        let (file, mut m) = create_mapped(&tmp, l.end)?;
        write_addresses(&mut m, &counts, &l, &addr_off, &blob);
        // each id's entry: its sends and receipts side by side; the cursors then walk each list
        // as the spool is read in order
        let mut out_cur = Vec::with_capacity(out_deg.len());
        let mut in_cur = Vec::with_capacity(in_deg.len());
        let mut entries = Vec::with_capacity(out_deg.len());
        let mut at = 0u64;
        for id in 0..n_addr as usize {
            let (Ok(n_out), Ok(n_in)) = (u32::try_from(out_deg[id]), u32::try_from(in_deg[id])) else {
                return Err(SnapshotError::Invalid {
                    chain: key.chain.clone(),
                    what: "an address with more than 2^32 transfers in one direction".into(),
                });
            };
            entries.push(Entry { start: at, n_out, n_in, last: (0, 0, 0) });
            out_cur.push(at);
            at += out_deg[id];
            in_cur.push(at);
            at += in_deg[id];
        }
        drop((out_deg, in_deg, addr_off, blob));

        let mut r = BufReader::with_capacity(1 << 20, File::open(&spool_path).map_err(io("reading", &spool_path))?);
        let mut buf = [0u8; SPOOL_LEN];
        for i in 0..transfers as usize {
            r.read_exact(&mut buf).map_err(io("reading", &spool_path))?;
            let from = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            let to = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
            let mut rec = Rec::decode(&buf[8..]);
            // the chain-order stream: the transfers in the order they come
            let at = l.chain + CHAIN_LEN * i;
            m[at..at + CHAIN_LEN].copy_from_slice(&encode_chain(from as u32, to, rec.asset_index(), rec.moved()));
            let from_id = from as u32;
            // out list of the sender: the other side is the receiver
            rec.other = to;
            let at = l.recs + REC_LEN * out_cur[from] as usize;
            rec.encode(&mut m[at..at + REC_LEN]);
            out_cur[from] += 1;
            // in chain order: the sender's last send so far is this one
            entries[from].last = (rec.height, rec.tx_index, rec.sub);
            rec.other = from_id;
            let at = l.recs + REC_LEN * in_cur[to as usize] as usize;
            rec.encode(&mut m[at..at + REC_LEN]);
            in_cur[to as usize] += 1;
        }
        drop(r);
        for (id, e) in entries.iter().enumerate() {
            let at = l.entries + ENTRY_LEN * id;
            e.encode(&mut m[at..at + ENTRY_LEN]);
        }
        drop(entries);
        for (i, &(height, time, first)) in blocks.iter().enumerate() {
            let at = l.blocks + BLOCK_LEN * i;
            m[at..at + BLOCK_LEN].copy_from_slice(&encode_block(height, time, first));
        }
        drop(blocks);
        let mut r = BufReader::with_capacity(1 << 20, File::open(&tx_path).map_err(io("reading", &tx_path))?);
        r.read_exact(&mut m[l.tx..l.tx + 32 * n_tx as usize]).map_err(io("reading", &tx_path))?;
        for (i, a) in assets.iter().enumerate() {
            let at = l.assets + crate::layout::ASSET_LEN * i;
            m[at..at + crate::layout::ASSET_LEN].copy_from_slice(&encode_asset(a));
        }
        for (i, b) in bigs.iter().enumerate() {
            m[l.big + 32 * i..l.big + 32 * i + 32].copy_from_slice(b);
        }
        m[l.meta..l.meta + meta.len()].copy_from_slice(&meta);
        put_in_place(file, m, &tmp, &path)?;
        let _ = std::fs::remove_file(&spool_path);
        let _ = std::fs::remove_file(&tx_path);
        Ok(BuildStats {
            transfers,
            addresses: n_addr,
            transactions: n_tx,
            big_amounts: counts.bigs,
            bytes: l.end as u64,
        })
    }
}

/// `tmp` created (replacing any file there), sized to `len` bytes and mapped for writing.
pub(crate) fn create_mapped(tmp: &Path, len: usize) -> Result<(File, memmap2::MmapMut), SnapshotError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(io("creating", tmp))?;
    file.set_len(len as u64).map_err(io("sizing", tmp))?;
    // SAFETY: the temp file was just created by this process under a name no reader opens;
    // nothing else maps or truncates it while the map lives.
    let m = unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(io("mapping", tmp))?;
    Ok((file, m))
}

/// The header (magic, version, counts, key width) and the address sections of a file of
/// `counts` laid out as `l`: the offsets, the key blob and the hash table (slot = id + 1, linear
/// probing, ids inserted in order).
pub(crate) fn write_addresses(m: &mut [u8], counts: &Counts, l: &Layout, addr_off: &[u64], blob: &[u8]) {
    m[0..8].copy_from_slice(MAGIC);
    m[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    for (i, v) in header_fields(counts).iter().enumerate() {
        m[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    const { assert!(16 + 8 * 8 <= KEY_WIDTH_AT && KEY_WIDTH_AT + 8 <= BLOCKS_AT && BLOCKS_AT + 8 <= HEADER_LEN) };
    m[BLOCKS_AT..BLOCKS_AT + 8].copy_from_slice(&counts.blocks.to_le_bytes());
    let width = addr_off.get(1).copied().unwrap_or(0);
    if width > 0 && addr_off.windows(2).all(|w| w[1] - w[0] == width) {
        m[KEY_WIDTH_AT..KEY_WIDTH_AT + 8].copy_from_slice(&width.to_le_bytes());
    }
    for (i, o) in addr_off.iter().enumerate() {
        m[l.addr_off + 8 * i..l.addr_off + 8 * i + 8].copy_from_slice(&o.to_le_bytes());
    }
    m[l.blob..l.blob + blob.len()].copy_from_slice(blob);
    let mask = counts.hash_cap - 1;
    for id in 0..counts.addrs as usize {
        let k = &blob[addr_off[id] as usize..addr_off[id + 1] as usize];
        let mut s = hash_key(k) & mask;
        loop {
            let at = l.hash + 4 * s as usize;
            if m[at..at + 4] == [0; 4] {
                m[at..at + 4].copy_from_slice(&(id as u32 + 1).to_le_bytes());
                break;
            }
            s = (s + 1) & mask;
        }
    }
}

/// The written map synced, the file cached in read order, and renamed from `tmp` to `path`
/// (durable once the directory is synced).
pub(crate) fn put_in_place(file: File, m: memmap2::MmapMut, tmp: &Path, path: &Path) -> Result<(), SnapshotError> {
    m.flush().map_err(io("syncing", tmp))?;
    drop(m);
    file.sync_all().map_err(io("syncing", tmp))?;
    crate::cache::reload_in_order(&file);
    drop(file);
    std::fs::rename(tmp, path).map_err(io("renaming into place", path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::u64_at;
    use chaintrace_model::{Address, Hash32, Position, U256};

    fn file_of(addrs: &[Address], dir: &Path) -> (PathBuf, Vec<u8>) {
        let path = dir.join(format!("{}.snap", addrs.len()));
        let key = SnapshotKey { chain: "t".into(), tip_height: None, tip_hash: None, transfers: 0, digest: "x".into() };
        let mut b = SnapshotBuilder::create(&path, key).expect("create");
        for (i, w) in addrs.windows(2).enumerate() {
            b.push(&Transfer {
                tx: Hash32([i as u8; 32]),
                height: i as u64,
                pos: Position { tx_index: 0, sub: 0 },
                time: 1_700_000_000,
                from: w[0].clone(),
                to: w[1].clone(),
                asset: Asset::Native,
                amount: U256::from(7u8),
            })
            .expect("push");
        }
        b.finish().expect("finish");
        let bytes = std::fs::read(&path).expect("read");
        (path, bytes)
    }

    #[test]
    fn keys_of_one_length_are_read_without_offsets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let evm: Vec<Address> = (1..=5u8).map(|i| Address::Evm([i; 20])).collect();
        let (path, bytes) = file_of(&evm, dir.path());
        assert_eq!(u64_at(&bytes, KEY_WIDTH_AT), 21, "EVM keys: a tag byte and 20 bytes");
        let snap = crate::Snapshot::open(&path).expect("open");
        for a in &evm {
            let id = snap.id_of(a).expect("id");
            assert_eq!(&snap.address(id).expect("address"), a);
        }
        // a width that does not fill the key blob is damage
        let mut bad = bytes.clone();
        bad[KEY_WIDTH_AT] = 20;
        std::fs::write(&path, &bad).expect("write");
        assert!(matches!(crate::Snapshot::open(&path), Err(SnapshotError::Corrupt { .. })));
        // a damaged entry (its records past the end) is an error when read, not a panic
        let l = Layout::of(&crate::layout::counts_in(&bytes)).expect("layout");
        let mut bad = bytes.clone();
        bad[l.entries..l.entries + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &bad).expect("write");
        let snap = crate::Snapshot::open(&path).expect("open: entries are checked when read");
        let read = snap.records(0, chaintrace_model::Direction::Out, None, |_| {});
        assert!(matches!(read, Err(SnapshotError::Corrupt { .. })), "{read:?}");
        assert!(snap.degrees_of(0).is_err());
        // keys of several lengths: offsets
        let mixed = vec![Address::Evm([1; 20]), Address::Bitcoin("bc1qxyz".into()), Address::Evm([2; 20])];
        let (path, bytes) = file_of(&mixed, dir.path());
        assert_eq!(u64_at(&bytes, KEY_WIDTH_AT), 0);
        let snap = crate::Snapshot::open(&path).expect("open");
        for a in &mixed {
            assert_eq!(&snap.address(snap.id_of(a).expect("id")).expect("address"), a);
        }
    }
}
