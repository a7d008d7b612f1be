//! Reading a snapshot through `mmap`.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use chaintrace_model::{Address, Asset, ChainBlock, ChainEdge, DenseRow, Direction, Hash32, Position, Transfer, U256};
use memmap2::Mmap;

use crate::layout::{
    counts_in, decode_asset, hash_key, u32_at, u64_at, Counts, Entry, Layout, Rec, ASSET_LEN, BLOCK_LEN, CHAIN_LEN,
    ENTRY_LEN, FLAG_ZERO, HEADER_LEN, KEY_WIDTH_AT, MAGIC, REC_LEN,
};
use crate::tail::{FileIds, Tail};
use crate::{SnapshotError, SnapshotKey, FORMAT_VERSION};

/// One request of [`Snapshot::transfers_batch`]: the address, the chain-order key to read
/// strictly after, and the most transfers wanted (the store's `ListRequest`).
pub type ListRequest = (Address, Option<(u64, Position)>, usize);

/// One chain's snapshot, mapped read-only. `Send + Sync`: share one across threads.
///
/// Reads never touch more of the file than the addresses asked about: opening checks the header
/// and the section bounds; every index read from the file is bounds-checked when used, so a
/// damaged file gives [`SnapshotError::Corrupt`], never a panic or a wrong answer beyond the
/// damaged record.
pub struct Snapshot {
    pub(crate) map: Mmap,
    /// The same file, for the record lists [`Snapshot::records`] reads with `pread` (see there).
    #[cfg_attr(not(unix), allow(dead_code))]
    file: File,
    /// More descriptors of the same file, each its own open file: a `pread` takes a reference on
    /// its open file, and two threads reading through one share (and bounce between their
    /// cores) that counter's cache line. A read uses the descriptor of the CPU it runs on
    /// ([`Snapshot::read_at`]).
    #[cfg_attr(not(unix), allow(dead_code))]
    more: Vec<File>,
    pub(crate) path: String,
    pub(crate) key: SnapshotKey,
    pub(crate) c: Counts,
    pub(crate) l: Layout,
    /// Assets, decoded at open (a handful).
    pub(crate) assets: Vec<Asset>,
    /// Every address key's length when they are all equal, else 0 (see `KEY_WIDTH_AT`).
    pub(crate) key_width: usize,
    /// The transfers the store gained after the file was built ([`Snapshot::caught_up`]).
    pub(crate) tail: Option<Box<Tail>>,
    /// The page cache held little of the records and hashes when last sampled: reads are then
    /// asked for ahead, many at once ([`Snapshot::read_ahead`]). Sampled at open, by
    /// [`Snapshot::recache`], and again at most every [`RESAMPLE_MS`] as reads are asked for
    /// ([`Snapshot::reads_ahead`]): a long-lived process (the workbench) whose file the kernel
    /// paged out while it sat idle reads ahead again.
    cold: AtomicBool,
    /// When `cold` was sampled, milliseconds after `opened`.
    sampled: AtomicU64,
    opened: Instant,
    /// Reads go through the mapping, whose pages the process holds ([`Snapshot::hold_resident`]).
    resident: AtomicBool,
}

/// How old, at most, the sample of the page cache behind [`Snapshot::reads_ahead`] is when a
/// trace starts reading (256 `mincore` calls, ~0.2 ms, per sample).
const RESAMPLE_MS: u64 = 1000;

/// One read of a scan of the chain-order stream: the transfers `a..b` of the file's stream.
#[derive(Clone, Copy, Debug)]
enum ChainPart {
    /// Whole blocks `lo..hi`.
    Blocks { lo: u64, hi: u64, a: u64, b: u64 },
    /// A piece of one block larger than a read.
    Piece { block: ChainBlock, a: u64, b: u64 },
}

/// Transfers of the chain-order stream one read of [`Snapshot::scan_chain`] decodes (768 KiB).
const SCAN_CHUNK: u64 = 1 << 16;

/// What [`Snapshot::recache`] found and did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recache {
    /// How many of the file's pages the page cache held before, of how many (`None`: unknown
    /// here).
    pub pages: Option<(u64, u64)>,
    /// Whether the file was dropped from the cache and read back in order.
    pub reread: bool,
    /// The file is larger than half the machine's memory (or the memory is unknown here): it is
    /// never re-read whole.
    pub too_big: bool,
    /// Time taken.
    pub seconds: f64,
}

impl std::fmt::Display for Recache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.pages, self.reread) {
            (None, _) => write!(f, "page cache state unknown here; left as it is"),
            (Some((cached, all)), true) => write!(
                f,
                "{} of its {all} pages were not cached; re-read in order in {:.2} s",
                all - cached,
                self.seconds
            ),
            (Some((cached, all)), false) if cached < all && self.too_big => write!(
                f,
                "{} of its {all} pages were not cached; larger than half the machine's memory, left as it is",
                all - cached
            ),
            (Some((cached, all)), false) if cached < all => {
                write!(f, "{} of its {all} pages were not cached; could not re-read it", all - cached)
            }
            (Some(_), false) => write!(f, "cached whole; left as it is"),
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("path", &self.path).field("key", &self.key).finish_non_exhaustive()
    }
}

/// The file opened for reading without updating its access time where the process may ask that
/// (it owns the file, or has `CAP_FOWNER`): a trace reads its record lists and hashes with tens
/// of thousands of `pread`s, and on a `relatime` mount each one asks whether the access time is
/// due (about 2% of a warm poison trace's CPU on the 10M bench store). Elsewhere, a plain open.
fn open_noatime(path: &Path) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOATIME).open(path) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => return other,
        }
    }
    File::open(path)
}

/// Descriptors of `file`'s file besides `file` itself, one per further CPU (up to 7), each
/// opened anew (its own open file, read at random like `file`) through `/proc/self/fd`, which
/// names the very file `file` has open even when its path has been replaced since. None where
/// that cannot be done (not Linux, one CPU, no `/proc`): then every read uses `file`.
fn per_cpu(file: &File) -> Vec<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let mut more = Vec::new();
        for _ in 1..cpus {
            match open_noatime(Path::new(&path)) {
                Ok(f) => {
                    crate::cache::random_access(&f);
                    more.push(f);
                }
                Err(_) => break,
            }
        }
        more
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Vec::new()
    }
}

/// The largest address index [`index_ahead`] asks the kernel to read in one go.
const INDEX_AHEAD_MAX: usize = 512 << 20;

/// Brings the sections a trace reads through the mapping — the address keys (and their offsets
/// when their lengths differ), the address hash table and the per-address entries, side by side
/// in the file — into the page cache in large sequential reads. A trace looks up most of them
/// at random: from a cold or paged-out cache each look-up would fault in one page at a time
/// (the mapping reads no neighbours, [`memmap2::Advice::Random`]). When the cache holds most
/// of them, the rest is asked for and not waited for; when it holds little (the first trace
/// after a reboot, or after the kernel paged the file out), they are read in before the open
/// returns (~60 MB at 10M transfers, ~45 ms from this machine's disk), so that no look-up
/// waits for a page of its own. Nothing is mapped into the process. An index over
/// [`INDEX_AHEAD_MAX`] (about 7 million addresses at ~76 bytes each) is left to the faults, so
/// that it does not push the rest of the page cache out.
fn index_ahead(map: &Mmap, file: &File, l: &Layout, fixed_width_keys: bool) {
    let start = if fixed_width_keys { l.blob } else { l.addr_off };
    let len = l.recs.saturating_sub(start);
    // hints: when they are refused the look-ups fault their pages in as before
    #[cfg(unix)]
    if len > 0 && len <= INDEX_AHEAD_MAX {
        if crate::cache::mostly_uncached(map, start..l.recs) {
            crate::cache::read_in(file, start..l.recs);
        } else {
            let _ = map.advise_range(memmap2::Advice::WillNeed, start, len);
        }
    }
    #[cfg(not(unix))]
    let _ = (map, file, len);
}

/// Whether the page cache holds little of the records and hashes (from the records to the end
/// of the file) of the snapshot mapped as `map` with layout `l`: what [`Snapshot::reads_ahead`]
/// samples, at open and again later.
fn records_uncached(map: &Mmap, l: &Layout) -> bool {
    crate::cache::mostly_uncached(map, l.recs..map.len())
}

impl Snapshot {
    /// Map the snapshot file at `path` and check its header.
    ///
    /// Errors: [`SnapshotError::Io`] (missing, unreadable), [`SnapshotError::NotASnapshot`],
    /// [`SnapshotError::Version`], [`SnapshotError::Corrupt`] (sections out of the file).
    pub fn open(path: &Path) -> Result<Snapshot, SnapshotError> {
        let shown = path.display().to_string();
        let file = open_noatime(path).map_err(|source| SnapshotError::Io {
            action: "opening",
            path: shown.clone(),
            source,
        })?;
        // SAFETY: snapshot files are only ever written under a temp name and renamed into place,
        // never modified where they are; a rebuild replaces the directory entry, and this map
        // keeps the old inode alive.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| SnapshotError::Io {
            action: "mapping",
            path: shown.clone(),
            source,
        })?;
        // Traces jump between addresses: read-ahead of neighbouring pages is mostly waste. Set
        // before the header is read, or that first fault reads ahead the device's read-ahead
        // window (8 MiB here) of a file that may not be cached.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        crate::cache::random_access(&file);
        let corrupt = |what: &str| SnapshotError::Corrupt { path: shown.clone(), what: what.to_string() };
        if map.len() < HEADER_LEN || &map[0..8] != MAGIC {
            return Err(SnapshotError::NotASnapshot { path: shown });
        }
        let version = u32_at(&map, 8);
        if version != FORMAT_VERSION {
            return Err(SnapshotError::Version { path: shown, found: version, expected: FORMAT_VERSION });
        }
        let c = counts_in(&map);
        let l = Layout::of(&c).ok_or_else(|| corrupt("section sizes overflow"))?;
        if l.end > map.len() {
            return Err(corrupt("the file is shorter than its sections"));
        }
        if !c.hash_cap.is_power_of_two() || c.hash_cap <= c.addrs {
            return Err(corrupt("address table size"));
        }
        if c.addrs >= u64::from(u32::MAX) || c.txs > u64::from(u32::MAX) + 1 {
            return Err(corrupt("address or transaction count"));
        }
        let key_width = u64_at(&map, KEY_WIDTH_AT);
        if key_width > 0 && key_width.checked_mul(c.addrs) != Some(c.blob_len) {
            return Err(corrupt("address key width"));
        }
        index_ahead(&map, &file, &l, key_width > 0);
        let cold = AtomicBool::new(records_uncached(&map, &l));
        let key: SnapshotKey =
            serde_json::from_slice(&map[l.meta..l.meta + c.meta_len as usize]).map_err(|_| corrupt("key"))?;
        let mut assets = Vec::with_capacity(c.assets as usize);
        for i in 0..c.assets as usize {
            let at = l.assets + ASSET_LEN * i;
            assets.push(decode_asset(&map[at..at + ASSET_LEN]).ok_or_else(|| corrupt("asset table"))?);
        }
        let more = per_cpu(&file);
        Ok(Snapshot {
            map,
            file,
            more,
            path: shown,
            key,
            c,
            l,
            assets,
            key_width: key_width as usize,
            tail: None,
            cold,
            sampled: AtomicU64::new(0),
            opened: Instant::now(),
            resident: AtomicBool::new(false),
        })
    }

    /// This snapshot caught up with `later`, the transfers the store gained after the file was
    /// built, so that it answers every read for the store state `now`: each address's lists are
    /// the file's followed by its later transfers, held in memory (about 200 bytes a transfer);
    /// addresses, assets and transactions the file does not have are numbered after its own.
    ///
    /// `later` must come after every transfer of the file in chain order (the caller checks it
    /// against the store: `chaintrace` compares the store's digest without them with the
    /// file's), in strictly increasing chain order: a transfer out of order is
    /// [`SnapshotError::Invalid`]. Catching up again appends to what was caught up before.
    pub fn caught_up(mut self, now: SnapshotKey, later: Vec<Transfer>) -> Result<Snapshot, SnapshotError> {
        let mut tail = self.tail.take().unwrap_or_else(|| Box::new(Tail::new(self.key.clone())));
        let id_of = |a: &Address| self.file_id_of(a);
        let file = FileIds { addrs: self.c.addrs, txs: self.c.txs, id_of: &id_of };
        let mut assets = self.assets.clone();
        tail.extend(&file, &mut assets, later)?;
        self.assets = assets;
        self.tail = Some(tail);
        self.key = now;
        Ok(self)
    }

    /// The same snapshot again, to catch up further while this one stays shared: the file mapped
    /// anew, the transfers caught up so far copied. `None` when the file at its path is no longer
    /// the one it mapped (rebuilt since).
    pub fn reopened(&self) -> Result<Option<Snapshot>, SnapshotError> {
        let Some(mut s) = self.same_file()? else { return Ok(None) };
        s.key = self.key.clone();
        s.assets = self.assets.clone();
        s.tail = self.tail.clone();
        Ok(Some(s))
    }

    /// Whether the file at its path is still the one it maps (not rebuilt or folded since, nor
    /// removed).
    pub fn file_is_current(&self) -> bool {
        self.same_file().is_ok_and(|s| s.is_some())
    }

    /// The file at its path mapped anew, when it is the one this maps (the same key).
    fn same_file(&self) -> Result<Option<Snapshot>, SnapshotError> {
        let s = Snapshot::open(Path::new(&self.path))?;
        Ok((s.key == *self.built_key()).then_some(s))
    }

    /// The key of the file as built; [`Snapshot::key`] is the state it answers for, later when
    /// it was [caught up](Snapshot::caught_up).
    pub fn built_key(&self) -> &SnapshotKey {
        self.tail.as_ref().map_or(&self.key, |t| &t.built)
    }

    /// Transfers held in memory beside the file ([`Snapshot::caught_up`]); 0 for a snapshot as
    /// built.
    pub fn later_transfers(&self) -> u64 {
        self.tail.as_ref().map_or(0, |t| t.transfers)
    }

    /// Makes sure the page cache holds the whole file in read order, for a process that will
    /// trace many times over it (the workbench, the trace benchmark): when some of its pages
    /// were evicted, the traces' own random reads would bring them back as single 4 KiB pages,
    /// each `pread` then paying more (see `cache`), so the file is dropped from the cache and
    /// read back in order. A file the cache holds whole is left as it is. Costs one sequential
    /// read of the file when it acts (about 2.4 s for 1.4 GiB from this machine's disk). A file
    /// larger than half the machine's memory is never re-read (it could not stay cached whole).
    /// Never fails (a platform without `mincore` reports `pages: None` and does nothing).
    pub fn recache(&self) -> Recache {
        let started = std::time::Instant::now();
        let pages = crate::cache::resident_pages(&self.map);
        // a file of more than half the machine's memory cannot stay cached whole: reading it
        // all would only evict everything else (and take long), so it is left to the traces
        let (len, memory) = (self.map.len() as u64, crate::cache::total_memory());
        let too_big = !crate::cache::fits_in_memory(len, memory);
        let reread = crate::cache::should_reread(len, memory, pages) && crate::cache::reload_in_order(&self.file);
        if reread {
            crate::cache::random_access(&self.file);
        }
        if reread || pages.is_some_and(|(cached, all)| cached == all) {
            self.cold.store(false, Ordering::Relaxed);
            self.sampled.store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        Recache { pages, reread, too_big, seconds: started.elapsed().as_secs_f64() }
    }

    /// Holds the whole file in the process's memory from now on and reads through its mapping:
    /// every page is mapped now (the process's RSS grows by the file's size), and the reads that
    /// were `pread`s copy from memory instead. The trade the memory goal refuses for a trace at
    /// 10M transfers (a 1.3 GB file in RSS, growing with the store), offered to measure what it
    /// buys (`CHAINTRACE_BENCH_RESIDENT=1` in the trace bench) and for a process with memory to
    /// spare. Returns the bytes it mapped. Answers are the same either way.
    pub fn hold_resident(&self) -> u64 {
        // every page of the mapping read once: mapped into the process (a page the cache does
        // not hold is read from the disk here)
        let page = 4096;
        let mut sum = 0u8;
        for at in (0..self.map.len()).step_by(page) {
            sum = sum.wrapping_add(self.map[at]);
        }
        std::hint::black_box(sum);
        self.resident.store(true, Ordering::Relaxed);
        self.map.len() as u64
    }

    /// Whether reads go through the mapping ([`Snapshot::hold_resident`]).
    pub fn is_resident(&self) -> bool {
        self.resident.load(Ordering::Relaxed)
    }

    /// The store state it answers for: the one it was built from, or the one it was caught up
    /// with ([`Snapshot::caught_up`]).
    pub fn key(&self) -> &SnapshotKey {
        &self.key
    }

    /// The file it maps.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Transfers it holds (the file's and the later ones).
    pub fn transfer_count(&self) -> u64 {
        self.c.transfers + self.later_transfers()
    }

    /// Distinct addresses it holds (the file's and the later ones').
    pub fn address_count(&self) -> u64 {
        self.c.addrs + self.tail.as_ref().map_or(0, |t| t.new_addresses())
    }

    /// `id`'s later transfers in `dir` strictly after `after` (none for a snapshot as built).
    pub(crate) fn later(&self, id: u32, dir: Direction, after: Option<(u64, Position)>) -> &[DenseRow] {
        self.tail.as_ref().map_or(&[], |t| t.rows_after(id, dir, after))
    }

    /// Size of the mapped file, bytes.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    pub(crate) fn corrupt(&self, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Corrupt { path: self.path.clone(), what: what.into() }
    }

    /// Where [`Snapshot::addr_key`] first reads for address `i` of the file: its key when every
    /// key has one length (checked at open to fill the blob: no offsets to read), else its
    /// offsets.
    fn key_lookup_at(&self, i: usize) -> usize {
        match self.key_width {
            0 => self.l.addr_off + 8 * i,
            w => self.l.blob + w * i,
        }
    }

    fn addr_key(&self, id: u32) -> Result<&[u8], SnapshotError> {
        if u64::from(id) >= self.c.addrs {
            return Err(self.corrupt(format!("address id {id}")));
        }
        let at = self.key_lookup_at(id as usize);
        if self.key_width > 0 {
            return Ok(&self.map[at..at + self.key_width]);
        }
        let (a, b) = (u64_at(&self.map, at), u64_at(&self.map, at + 8));
        if a > b || b > self.c.blob_len {
            return Err(self.corrupt(format!("address {id} key bounds")));
        }
        Ok(&self.map[self.l.blob + a as usize..self.l.blob + b as usize])
    }

    /// The dense id of `addr`, when the chain has it.
    pub fn id_of(&self, addr: &Address) -> Option<u32> {
        self.file_id_of(addr).or_else(|| self.tail.as_ref()?.id_of(addr))
    }

    /// The id of `addr` in the file.
    fn file_id_of(&self, addr: &Address) -> Option<u32> {
        if self.c.addrs == 0 {
            return None;
        }
        let key = addr.to_key();
        let mask = self.c.hash_cap - 1;
        let mut s = hash_key(&key) & mask;
        // at most `hash_cap` probes even in a damaged table
        for _ in 0..self.c.hash_cap {
            let slot = u32_at(&self.map, self.l.hash + 4 * s as usize);
            if slot == 0 {
                return None;
            }
            if self.addr_key(slot - 1).ok()? == key.as_slice() {
                return Some(slot - 1);
            }
            s = (s + 1) & mask;
        }
        None
    }

    /// The address with id `id`.
    pub fn address(&self, id: u32) -> Result<Address, SnapshotError> {
        if let Some(i) = u64::from(id).checked_sub(self.c.addrs) {
            let later = self.tail.as_ref().and_then(|t| t.address(i));
            return later.cloned().ok_or_else(|| self.corrupt(format!("address id {id}")));
        }
        let k = self.addr_key(id)?;
        Address::from_key(k).ok_or_else(|| self.corrupt(format!("address {id} key")))
    }

    /// Byte range of `id`'s records in direction `dir`, and its entry.
    fn list(&self, id: u32, dir: Direction) -> Result<(usize, usize, Entry), SnapshotError> {
        let ([a, m, b], e) = self.lists(id)?;
        Ok(match dir {
            Direction::Out => (a, m, e),
            Direction::In => (m, b, e),
        })
    }

    /// Byte offsets of `id`'s sends `[0]..[1]` and receipts `[1]..[2]` (side by side), and its
    /// entry (one cache line's half: lists and last send together).
    pub(crate) fn lists(&self, id: u32) -> Result<([usize; 3], Entry), SnapshotError> {
        if u64::from(id) >= self.c.addrs {
            if u64::from(id) < self.address_count() {
                // an address the file does not have: its lists there are empty
                return Ok(([self.l.recs; 3], Entry { start: 0, n_out: 0, n_in: 0, last: (0, 0, 0) }));
            }
            return Err(self.corrupt(format!("address id {id}")));
        }
        let at = self.l.entries + ENTRY_LEN * id as usize;
        let e = Entry::decode(&self.map[at..at + ENTRY_LEN]);
        // saturating: a damaged start is caught by the bound below, not by an overflow
        let (a, m) = (e.start, e.start.saturating_add(u64::from(e.n_out)));
        let b = m.saturating_add(u64::from(e.n_in));
        if b > 2 * self.c.transfers {
            return Err(self.corrupt(format!("transfer lists of address {id}")));
        }
        Ok(([a, m, b].map(|x| self.l.recs + REC_LEN * x as usize), e))
    }

    /// Asks the CPU to bring in the entry of the address with id `id` (its lists' bounds and
    /// degrees) ahead of a read: a hint, nothing is read (an id out of range is ignored).
    pub fn prefetch(&self, id: u32) {
        if u64::from(id) >= self.c.addrs {
            return;
        }
        if let Some(entry) = self.map.get(self.l.entries + ENTRY_LEN * id as usize) {
            chaintrace_model::hint::prefetch(entry);
        }
    }

    /// Asks the CPU to bring in the address key of id `id` (a hint: [`Snapshot::address`] reads
    /// it soon; ids far apart have their keys far apart in the table).
    pub fn prefetch_address(&self, id: u32) {
        if u64::from(id) >= self.c.addrs {
            return;
        }
        if let Some(key) = self.map.get(self.key_lookup_at(id as usize)) {
            chaintrace_model::hint::prefetch(key);
        }
    }

    /// A hint that the lists of the addresses with ids `ids` are read soon. When the page cache
    /// holds little of the file ([`Snapshot::reads_ahead`]), their pages are asked for now, all
    /// at once and not waited for (`POSIX_FADV_WILLNEED`); the reads then find them cached or
    /// in flight. Otherwise (the usual warm cache) it does nothing, and `ids` is not walked.
    pub fn read_ahead(&self, ids: impl IntoIterator<Item = u32>) {
        if !self.reads_ahead() {
            return;
        }
        let mut ranges: Vec<(usize, usize)> =
            ids.into_iter().filter_map(|id| self.lists(id).ok()).map(|([a, _, b], _)| (a, b)).collect();
        ranges.sort_unstable();
        crate::cache::will_need(&self.file, &ranges);
    }

    /// [`Snapshot::read_ahead`] for the hashes of transactions `txs` ([`Snapshot::tx_hashes`]).
    pub fn hashes_ahead(&self, txs: &[u32]) {
        if !self.reads_ahead() {
            return;
        }
        // the ranges `file_tx_hashes` reads (gaps between neighbours read through)
        let mut sorted: Vec<u32> = txs.iter().copied().filter(|&t| u64::from(t) < self.c.txs).collect();
        sorted.sort_unstable();
        let at = |t: u32| self.l.tx + 32 * t as usize;
        let ranges: Vec<(usize, usize)> =
            hash_spans(&sorted).map(|(i, j)| (at(sorted[i]), at(sorted[j - 1]) + 32)).collect();
        crate::cache::will_need(&self.file, &ranges);
    }

    /// Whether reads are asked for ahead ([`Snapshot::read_ahead`]): the page cache held little
    /// of the file's records and hashes when last sampled, at most a second ago (one caller
    /// samples again when the last sample is older; the others use it meanwhile).
    pub fn reads_ahead(&self) -> bool {
        let now = self.opened.elapsed().as_millis() as u64;
        let last = self.sampled.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= RESAMPLE_MS
            && self.sampled.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.cold.store(records_uncached(&self.map, &self.l), Ordering::Relaxed);
        }
        self.cold.load(Ordering::Relaxed)
    }

    /// Number of transfers of `addr` in `dir` (0 for an address the chain does not have).
    pub fn degree(&self, addr: &Address, dir: Direction) -> Result<u64, SnapshotError> {
        let Some(id) = self.id_of(addr) else { return Ok(0) };
        let (a, b, _) = self.list(id, dir)?;
        Ok(((b - a) / REC_LEN + self.later(id, dir, None).len()) as u64)
    }

    /// Numbers of transfers of `addr` out and in (0 and 0 for an address the chain does not
    /// have), finding the address once.
    pub fn degrees(&self, addr: &Address) -> Result<(u64, u64), SnapshotError> {
        match self.id_of(addr) {
            Some(id) => self.degrees_of(id),
            None => Ok((0, 0)),
        }
    }

    /// Transfers out of / into `addr` in chain order, strictly after `after` when given, at most
    /// `limit`: the same answer as the store's `transfers` for the state the snapshot was built
    /// from.
    pub fn transfers(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, SnapshotError> {
        let mut lists = self.transfers_batch(&[(addr.clone(), after, limit)], dir)?;
        Ok(lists.pop().unwrap_or_default())
    }

    /// [`Snapshot::transfers`] for each request `(address, after, limit)`, in order: their
    /// transactions' hashes read together ([`Snapshot::tx_hashes`]: in ascending order,
    /// neighbours with one `pread`) instead of one `pread` per transfer.
    pub fn transfers_batch(&self, reqs: &[ListRequest], dir: Direction) -> Result<Vec<Vec<Transfer>>, SnapshotError> {
        let mut txs = Vec::new();
        let mut lists = reqs
            .iter()
            .map(|(a, after, limit)| self.transfers_unhashed(a, dir, *after, *limit, &mut txs))
            .collect::<Result<Vec<_>, _>>()?;
        let mut hashes = self.tx_hashes(&txs)?.into_iter();
        for t in lists.iter_mut().flatten() {
            t.tx = hashes.next().ok_or_else(|| self.corrupt("fewer transaction hashes than transfers"))?;
        }
        Ok(lists)
    }

    /// [`Snapshot::transfers`] with every transaction hash left zero, its transaction's number
    /// pushed onto `txs` in the transfers' order instead.
    fn transfers_unhashed(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
        txs: &mut Vec<u32>,
    ) -> Result<Vec<Transfer>, SnapshotError> {
        let Some(id) = self.id_of(addr) else { return Ok(Vec::new()) };
        let (a, b, _) = self.list(id, dir)?;
        let n = (b - a) / REC_LEN;
        let first = first_after_in(&self.map[a..], n, after);
        let take = (n - first).min(limit);
        let later = self.later(id, dir, after);
        let later = &later[..later.len().min(limit - take)];
        let mut out = Vec::with_capacity(take + later.len());
        let mut others: Vec<(u32, Address)> = Vec::new();
        for i in first..first + take {
            let at = a + REC_LEN * i;
            let r = Rec::decode(&self.map[at..at + REC_LEN]);
            // the same counterparty often repeats (sweeps, exchanges): decode its key once
            let other = match others.iter().find(|(o, _)| *o == r.other) {
                Some((_, x)) => x.clone(),
                None => {
                    let x = self.address(r.other)?;
                    if others.len() < 8 {
                        others.push((r.other, x.clone()));
                    }
                    x
                }
            };
            let (from, to) = match dir {
                Direction::Out => (addr.clone(), other),
                Direction::In => (other, addr.clone()),
            };
            txs.push(r.tx);
            out.push(Transfer {
                tx: Hash32::ZERO,
                height: u64::from(r.height),
                pos: Position { tx_index: r.tx_index, sub: r.sub },
                time: u64::from(r.time),
                from,
                to,
                asset: *self
                    .assets
                    .get(r.asset_index() as usize)
                    .ok_or_else(|| self.corrupt(format!("asset {}", r.asset_index())))?,
                amount: self.amount(&r)?,
            });
        }
        for r in later {
            let other = self.address(r.other)?;
            let (from, to) = match dir {
                Direction::Out => (addr.clone(), other),
                Direction::In => (other, addr.clone()),
            };
            txs.push(r.tx);
            out.push(Transfer {
                tx: Hash32::ZERO,
                height: r.height,
                pos: Position { tx_index: r.tx_index, sub: r.sub },
                time: r.time,
                from,
                to,
                asset: self.assets[r.asset as usize],
                amount: r.amount,
            });
        }
        Ok(out)
    }

    /// The assets records refer to, by index ([`DenseRow::asset`]).
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// Numbers of transfers out of and into the address with id `id`.
    pub fn degrees_of(&self, id: u32) -> Result<(u64, u64), SnapshotError> {
        let ([a, m, b], _) = self.lists(id)?;
        let later = |dir| self.later(id, dir, None).len();
        Ok((((m - a) / REC_LEN + later(Direction::Out)) as u64, ((b - m) / REC_LEN + later(Direction::In)) as u64))
    }

    /// Calls `f` with each transfer of the address with id `id` in `dir`, in chain order,
    /// strictly after `after` (all when `None`): the records [`Snapshot::transfers`] builds its
    /// transfers from, without decoding addresses or transaction hashes.
    pub fn records(
        &self,
        id: u32,
        dir: Direction,
        after: Option<(u64, Position)>,
        mut f: impl FnMut(DenseRow),
    ) -> Result<(), SnapshotError> {
        let (a, b, e) = self.list(id, dir)?;
        // no send (after `after`): its entry's last send says so without reading the list
        if dir == Direction::In || sent_after(&e, after) {
            self.with_bytes(a, b, |buf| self.decode_records(id, buf, after, &mut f))?;
        }
        self.later(id, dir, after).iter().for_each(|r| f(*r));
        Ok(())
    }

    /// Calls `f` with every transfer of the address with id `id`, its sends (`Direction::Out`)
    /// then its receipts (`Direction::In`), each in chain order: what two [`Snapshot::records`]
    /// give, from one read (the two lists are side by side in the file).
    pub fn records_both(&self, id: u32, mut f: impl FnMut(Direction, DenseRow)) -> Result<(), SnapshotError> {
        let ([a, m, b], _) = self.lists(id)?;
        self.with_bytes(a, b, |buf| {
            let (outs, ins) = buf.split_at(m - a);
            for (dir, list) in [(Direction::Out, outs), (Direction::In, ins)] {
                self.decode_records(id, list, None, &mut |r| f(dir, r))?;
                self.later(id, dir, None).iter().for_each(|r| f(dir, *r));
            }
            Ok(())
        })
    }

    /// `f` over bytes `a..b` of the file.
    fn with_bytes<T>(
        &self,
        a: usize,
        b: usize,
        f: impl FnOnce(&[u8]) -> Result<T, SnapshotError>,
    ) -> Result<T, SnapshotError> {
        // Read with `pread`, not through the mapping: a trace reads tens of thousands of small
        // lists at random, and a fault on the mapping maps the whole page-cache folio around it
        // (hundreds of KiB), which would count the file into the process's memory several times
        // over what it reads. One buffer per thread, reused (a fresh one when `f` itself reads).
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let read = |buf: &mut Vec<u8>| {
            buf.clear();
            buf.resize(b - a, 0);
            self.read_at(buf, a)?;
            f(buf)
        };
        BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => read(&mut buf),
            Err(_) => read(&mut Vec::new()),
        })
    }

    /// The records of `buf` (a list of address `id`) strictly after `after`, checked and decoded.
    fn decode_records(
        &self,
        id: u32,
        buf: &[u8],
        after: Option<(u64, Position)>,
        f: &mut impl FnMut(DenseRow),
    ) -> Result<(), SnapshotError> {
        let n = buf.len() / REC_LEN;
        for i in first_after_in(buf, n, after)..n {
            let at = REC_LEN * i;
            let r = Rec::decode(&buf[at..at + REC_LEN]);
            if u64::from(r.other) >= self.c.addrs
                || r.asset_index() as usize >= self.assets.len()
                || u64::from(r.tx) >= self.c.txs
            {
                return Err(self.corrupt(format!("a transfer record of address {id}")));
            }
            f(DenseRow {
                height: u64::from(r.height),
                time: u64::from(r.time),
                tx_index: r.tx_index,
                sub: r.sub,
                tx: r.tx,
                other: r.other,
                asset: r.asset_index(),
                amount: self.amount(&r)?,
            });
        }
        Ok(())
    }

    /// Whether the address with id `id` has a transfer in `dir` strictly after `after` (any
    /// when `None`).
    pub fn has_records_after(
        &self,
        id: u32,
        dir: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, SnapshotError> {
        if !self.later(id, dir, after).is_empty() {
            return Ok(true);
        }
        let (a, b, e) = self.list(id, dir)?;
        if dir == Direction::Out {
            // the last send's order is in the address's entry: no read of the list
            return Ok(sent_after(&e, after));
        }
        self.any_after(a, b, after)
    }

    /// The hash of the transaction a record names ([`DenseRow::tx`]).
    pub fn tx_hash(&self, tx: u32) -> Result<Hash32, SnapshotError> {
        self.tx(tx)
    }

    /// The hashes of transactions `txs`, in that order: taken in ascending order, and
    /// neighbours less than 4 KiB apart in the table read with one `pread` (a trace's edges name
    /// tens or hundreds of thousands of transactions; on a dense case most are neighbours).
    pub fn tx_hashes(&self, txs: &[u32]) -> Result<Vec<Hash32>, SnapshotError> {
        if self.tail.is_some() && txs.iter().any(|&t| u64::from(t) >= self.c.txs) {
            // the file's in one batch, the later ones from memory
            let in_file: Vec<u32> = txs.iter().copied().filter(|&t| u64::from(t) < self.c.txs).collect();
            let mut read = self.file_tx_hashes(&in_file)?.into_iter();
            return txs
                .iter()
                .map(|&t| match u64::from(t) < self.c.txs {
                    true => read.next().ok_or_else(|| self.corrupt(format!("transaction {t}"))),
                    false => self.tx(t),
                })
                .collect();
        }
        self.file_tx_hashes(txs)
    }

    /// [`Snapshot::tx_hashes`] of transactions the file holds.
    fn file_tx_hashes(&self, txs: &[u32]) -> Result<Vec<Hash32>, SnapshotError> {
        let mut order: Vec<u32> = (0..txs.len() as u32).collect();
        order.sort_unstable_by_key(|&i| txs[i as usize]);
        let sorted: Vec<u32> = order.iter().map(|&i| txs[i as usize]).collect();
        let mut out = vec![Hash32::ZERO; txs.len()];
        let mut buf = Vec::new();
        for (i, j) in hash_spans(&sorted) {
            let (first, last) = (sorted[i], sorted[j - 1]);
            if u64::from(last) >= self.c.txs {
                return Err(self.corrupt(format!("transaction {last}")));
            }
            buf.clear();
            buf.resize(32 * (last - first + 1) as usize, 0);
            self.read_at(&mut buf, self.l.tx + 32 * first as usize)?;
            for &k in &order[i..j] {
                let at = 32 * (txs[k as usize] - first) as usize;
                out[k as usize].0.copy_from_slice(&buf[at..at + 32]);
            }
        }
        Ok(out)
    }

    /// Calls `f` with every transfer it holds (the file's, then the later ones), block by block
    /// in chain order (`fwd`) or in reverse chain order: each call is one block, or a piece of
    /// one, with its transfers in chain order (a reverse scan reads each slice from its end).
    /// One sequential pass over the chain-order stream, 12 bytes a transfer: what a walk over
    /// the whole chain in time order reads instead of every address's lists.
    pub fn scan_chain(&self, fwd: bool, f: impl FnMut(ChainBlock, &[ChainEdge])) -> Result<(), SnapshotError> {
        self.scan_chain_by(fwd, SCAN_CHUNK, f)
    }

    /// [`Snapshot::scan_chain`] decoding at most `chunk` transfers (at least 1) per read of the
    /// file: a block of more comes in pieces of `chunk`.
    pub fn scan_chain_by(
        &self,
        fwd: bool,
        chunk: u64,
        mut f: impl FnMut(ChainBlock, &[ChainEdge]),
    ) -> Result<(), SnapshotError> {
        let chunk = chunk.max(1);
        let tail = |f: &mut dyn FnMut(ChainBlock, &[ChainEdge])| {
            let Some(t) = &self.tail else { return };
            let (chain, blocks) = (t.chain(), t.blocks());
            let range = |i: usize| {
                let end = blocks.get(i + 1).map_or(chain.len() as u64, |b| b.1);
                blocks[i].1 as usize..end as usize
            };
            if fwd {
                (0..blocks.len()).for_each(|i| f(blocks[i].0, &chain[range(i)]));
            } else {
                (0..blocks.len()).rev().for_each(|i| f(blocks[i].0, &chain[range(i)]));
            }
        };
        if fwd {
            self.scan_file_chain(true, chunk, &mut f)?;
            tail(&mut f);
        } else {
            tail(&mut f);
            self.scan_file_chain(false, chunk, &mut f)?;
        }
        Ok(())
    }

    /// The file's block `i` and the index of its first transfer.
    pub(crate) fn chain_block(&self, i: u64) -> Result<(ChainBlock, u64), SnapshotError> {
        let at = self.l.blocks + BLOCK_LEN * i as usize;
        let b = self.map.get(at..at + BLOCK_LEN).ok_or_else(|| self.corrupt("the chain-order blocks"))?;
        let block = ChainBlock { height: u64::from(u32_at(b, 0)), time: u64::from(u32_at(b, 4)) };
        Ok((block, u64_at(b, 8)))
    }

    /// [`Snapshot::scan_chain`] over the file's stream: blocks grouped so that one read decodes
    /// up to `chunk` transfers (a larger block in pieces of that many). A second thread reads
    /// and decodes each group while this one passes the one before it to `f`.
    fn scan_file_chain(
        &self,
        fwd: bool,
        chunk: u64,
        f: &mut dyn FnMut(ChainBlock, &[ChainEdge]),
    ) -> Result<(), SnapshotError> {
        let parts = self.chain_parts(fwd, chunk)?;
        // each part's blocks passed on: a group's in the scan's order, or a piece of one
        let mut pass = |part: &ChainPart, edges: &[ChainEdge]| -> Result<(), SnapshotError> {
            match *part {
                ChainPart::Piece { block, .. } => f(block, edges),
                ChainPart::Blocks { lo, hi, a, .. } => {
                    let mut run = |i: u64| -> Result<(), SnapshotError> {
                        let (block, first, end) = self.chain_bounds(i)?;
                        f(block, &edges[(first - a) as usize..(end - a) as usize]);
                        Ok(())
                    };
                    if fwd {
                        (lo..hi).try_for_each(&mut run)?;
                    } else {
                        (lo..hi).rev().try_for_each(&mut run)?;
                    }
                }
            }
            Ok(())
        };
        let span = |p: &ChainPart| match *p {
            ChainPart::Piece { a, b, .. } | ChainPart::Blocks { a, b, .. } => (a, b),
        };
        if parts.len() < 2 {
            let (mut buf, mut edges) = (Vec::new(), Vec::new());
            for p in &parts {
                let (a, b) = span(p);
                self.decode_chain(a, b, &mut buf, &mut edges)?;
                pass(p, &edges)?;
            }
            return Ok(());
        }
        std::thread::scope(|scope| {
            // decoded parts in order (two ahead at most), and their buffers back for reuse
            let (give, got) = std::sync::mpsc::sync_channel::<Result<Vec<ChainEdge>, SnapshotError>>(2);
            let (back, reuse) = std::sync::mpsc::channel::<Vec<ChainEdge>>();
            let parts = &parts;
            scope.spawn(move || {
                let mut buf = Vec::new();
                for p in parts {
                    let (a, b) = span(p);
                    let mut edges = reuse.try_recv().unwrap_or_default();
                    let r = self.decode_chain(a, b, &mut buf, &mut edges).map(|()| edges);
                    let failed = r.is_err();
                    // (a closed channel: the scan stopped)
                    if give.send(r).is_err() || failed {
                        return;
                    }
                }
            });
            for p in parts {
                let edges = got.recv().map_err(|_| self.corrupt("the chain-order stream's reader stopped"))??;
                pass(p, &edges)?;
                let _ = back.send(edges);
            }
            Ok(())
        })
    }

    /// The file's block `i`, the index of its first transfer and the end of its run, checked
    /// to tile the stream in order.
    fn chain_bounds(&self, i: u64) -> Result<(ChainBlock, u64, u64), SnapshotError> {
        let (nb, n) = (self.c.blocks, self.c.transfers);
        let (b, first) = self.chain_block(i)?;
        let end = if i + 1 < nb { self.chain_block(i + 1)?.1 } else { n };
        if first > end || end > n || (i == 0 && first != 0) {
            return Err(self.corrupt("the chain-order blocks"));
        }
        Ok((b, first, end))
    }

    /// The reads of a scan of the file's stream, in its order: groups of whole blocks of at
    /// most `chunk` transfers (greedy, from the scan's start), and each larger block in pieces
    /// of `chunk` (the last piece first, backward).
    fn chain_parts(&self, fwd: bool, chunk: u64) -> Result<Vec<ChainPart>, SnapshotError> {
        let (nb, n) = (self.c.blocks, self.c.transfers);
        if nb == 0 {
            return if n == 0 { Ok(Vec::new()) } else { Err(self.corrupt("the chain-order blocks")) };
        }
        let mut parts = Vec::new();
        let mut i = if fwd { 0 } else { nb };
        while if fwd { i < nb } else { i > 0 } {
            let (lo, hi) = if fwd { (i, i + 1) } else { (i - 1, i) };
            let (block, first, end) = self.chain_bounds(lo)?;
            if end - first > chunk {
                let starts: Vec<u64> = (first..end).step_by(chunk as usize).collect();
                let piece = |&a: &u64| ChainPart::Piece { block, a, b: (a + chunk).min(end) };
                if fwd {
                    parts.extend(starts.iter().map(piece));
                } else {
                    parts.extend(starts.iter().rev().map(piece));
                }
                i = if fwd { hi } else { lo };
                continue;
            }
            let (mut lo, mut hi, mut a, mut b) = (lo, hi, first, end);
            if fwd {
                while hi < nb {
                    let (_, _, e) = self.chain_bounds(hi)?;
                    if e - a > chunk {
                        break;
                    }
                    (hi, b) = (hi + 1, e);
                }
            } else {
                while lo > 0 {
                    let (_, s, _) = self.chain_bounds(lo - 1)?;
                    if b - s > chunk {
                        break;
                    }
                    (lo, a) = (lo - 1, s);
                }
            }
            parts.push(ChainPart::Blocks { lo, hi, a, b });
            i = if fwd { hi } else { lo };
        }
        Ok(parts)
    }

    /// The file's chain-order transfers `a..b`, read into `buf` and decoded into `edges`.
    fn decode_chain(&self, a: u64, b: u64, buf: &mut Vec<u8>, edges: &mut Vec<ChainEdge>) -> Result<(), SnapshotError> {
        buf.clear();
        buf.resize(CHAIN_LEN * (b - a) as usize, 0);
        self.read_at(buf, self.l.chain + CHAIN_LEN * a as usize)?;
        edges.clear();
        edges.reserve((b - a) as usize);
        let (addrs, assets) = (self.c.addrs, self.c.assets);
        let mut bad = false;
        edges.extend(buf.chunks_exact(CHAIN_LEN).map(|c| {
            let (from, to, word) = (u32_at(c, 0), u32_at(c, 4), u32_at(c, 8));
            let asset = word & !FLAG_ZERO;
            bad |= u64::from(from) >= addrs || u64::from(to) >= addrs || u64::from(asset) >= assets;
            ChainEdge { from, to, asset, moved: word & FLAG_ZERO == 0 }
        }));
        if bad {
            return Err(self.corrupt("a transfer of the chain-order stream"));
        }
        Ok(())
    }

    /// Whether `addr` has a transfer in `dir` strictly after `after` (any at all when `None`):
    /// the same answer as `!transfers(addr, dir, after, 1).is_empty()`, without building a
    /// transfer ([`Snapshot::has_records_after`]).
    pub fn has_transfers_after(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
    ) -> Result<bool, SnapshotError> {
        match self.id_of(addr) {
            Some(id) => self.has_records_after(id, dir, after),
            None => Ok(false),
        }
    }

    /// The descriptor for a read on this CPU ([`Snapshot::more`]).
    #[cfg(unix)]
    fn file_here(&self) -> &File {
        #[cfg(target_os = "linux")]
        if !self.more.is_empty() {
            // SAFETY: a query without arguments (the vDSO's, no system call)
            let cpu = unsafe { libc::sched_getcpu() };
            if let Ok(cpu) = usize::try_from(cpu) {
                return match cpu % (self.more.len() + 1) {
                    0 => &self.file,
                    k => &self.more[k - 1],
                };
            }
        }
        &self.file
    }

    /// Bytes `at..at + buf.len()` of the file, read without the mapping where the platform can
    /// (unless the file is held resident: then from the mapping).
    fn read_at(&self, buf: &mut [u8], at: usize) -> Result<(), SnapshotError> {
        #[cfg(unix)]
        if !self.resident.load(Ordering::Relaxed) {
            use std::os::unix::fs::FileExt;
            return self.file_here().read_exact_at(buf, at as u64).map_err(|source| SnapshotError::Io {
                action: "reading",
                path: self.path.clone(),
                source,
            });
        }
        // held resident, or no `pread` on this platform: copied from the mapping
        let bytes = at.checked_add(buf.len()).and_then(|end| self.map.get(at..end));
        let bytes = bytes.ok_or_else(|| self.corrupt(format!("a read at byte {at} past the file's end")))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// Whether the list `a..b` has a record strictly after `after`: the records are in chain
    /// order, so its last record's key answers, read with `pread` (as are the lists and the
    /// transaction hashes: a trace asks this of thousands of addresses at random, and each touch
    /// of the mapping would map a page-cache folio).
    fn any_after(&self, a: usize, b: usize, after: Option<(u64, Position)>) -> Result<bool, SnapshotError> {
        if b <= a {
            return Ok(false);
        }
        let Some((h, p)) = after else { return Ok(true) };
        let mut last = [0u8; REC_LEN];
        self.read_at(&mut last, b - REC_LEN)?;
        Ok(Rec::order_of(&last) > (h, p.tx_index, p.sub))
    }

    /// The hash of transaction `ord`, read with `pread` (the walk over addresses reads one per
    /// transfer it builds, at random over a table of 32 bytes per transaction; the walk over ids
    /// reads its edges' hashes in one batch, [`Snapshot::tx_hashes`]).
    fn tx(&self, ord: u32) -> Result<Hash32, SnapshotError> {
        if let Some(i) = u64::from(ord).checked_sub(self.c.txs) {
            let later = self.tail.as_ref().and_then(|t| t.tx(i));
            return later.ok_or_else(|| self.corrupt(format!("transaction {ord}")));
        }
        let mut h = [0u8; 32];
        self.read_at(&mut h, self.l.tx + 32 * ord as usize)?;
        Ok(Hash32(h))
    }

    fn amount(&self, r: &Rec) -> Result<U256, SnapshotError> {
        if !r.is_big() {
            return Ok(U256::from_limbs([r.amount_lo, r.amount_hi, 0, 0]));
        }
        if r.amount_lo >= self.c.bigs {
            return Err(self.corrupt(format!("big amount {}", r.amount_lo)));
        }
        let at = self.l.big + 32 * r.amount_lo as usize;
        let mut b = [0u8; 32];
        b.copy_from_slice(&self.map[at..at + 32]);
        Ok(U256::from_be_bytes(b))
    }
}

/// The reads of the hashes of transactions `sorted` (ascending): index ranges `i..j` of it, each
/// read from its first transaction's hash to its last. A gap of at most `GAP` entries is read
/// through rather than skipped (fewer, larger reads win: see docs/performance.md, "Tracing"); a
/// read spans at most `SPAN` entries (1 MiB).
fn hash_spans(sorted: &[u32]) -> impl Iterator<Item = (usize, usize)> + '_ {
    const GAP: u32 = 128;
    const SPAN: u32 = 1 << 15;
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = *sorted.get(i)?;
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] - sorted[j - 1] <= GAP && sorted[j] - first < SPAN {
            j += 1;
        }
        let span = (i, j);
        i = j;
        Some(span)
    })
}

/// Index of the first of the `n` records in `buf` strictly after `after` (0 when `None`).
fn first_after_in(buf: &[u8], n: usize, after: Option<(u64, Position)>) -> usize {
    let Some((h, p)) = after else { return 0 };
    let key = (h, p.tx_index, p.sub);
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if Rec::order_of(&buf[REC_LEN * mid..]) <= key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Whether the address of entry `e` sent anything after `after` (anything at all when `None`),
/// from its last send: no read of the list.
fn sent_after(e: &Entry, after: Option<(u64, Position)>) -> bool {
    if e.n_out == 0 {
        return false;
    }
    let Some((h, p)) = after else { return true };
    (u64::from(e.last.0), e.last.1, e.last.2) > (h, p.tx_index, p.sub)
}

#[cfg(test)]
mod tests {
    use super::{hash_spans, per_cpu};

    #[cfg(target_os = "linux")]
    #[test]
    fn every_cpu_reads_the_file_the_snapshot_opened_even_once_its_path_is_replaced() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s");
        std::fs::write(&path, b"the file opened").expect("write");
        let file = std::fs::File::open(&path).expect("open");
        // a rebuild renames a new file into place
        std::fs::write(dir.path().join("t"), b"a newer build!!").expect("write");
        std::fs::rename(dir.path().join("t"), &path).expect("rename");
        let more = per_cpu(&file);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        assert_eq!(more.len(), cpus - 1, "one descriptor per further CPU");
        for f in &more {
            let mut buf = [0u8; 15];
            f.read_exact_at(&mut buf, 0).expect("read");
            assert_eq!(&buf, b"the file opened");
        }
    }

    #[test]
    fn hash_reads_join_neighbours_up_to_the_gap_and_the_span() {
        let spans = |s: &[u32]| hash_spans(s).collect::<Vec<_>>();
        assert_eq!(spans(&[]), vec![]);
        assert_eq!(spans(&[5]), vec![(0, 1)]);
        assert_eq!(spans(&[0, 128, 256]), vec![(0, 3)], "gaps of 128 entries read through");
        assert_eq!(spans(&[0, 129, 130]), vec![(0, 1), (1, 3)], "a gap of 129 skipped");
        assert_eq!(spans(&[7, 7, 8]), vec![(0, 3)], "the same transaction twice");
        // a read stops before 2^15 entries past its first
        let steps: Vec<u32> = (0..=300).map(|k| k * 120).collect();
        let s = spans(&steps);
        assert!(s.iter().all(|&(i, j)| steps[j - 1] - steps[i] < 1 << 15), "{s:?}");
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s.iter().map(|(i, j)| j - i).sum::<usize>(), steps.len(), "every entry in one span");
    }
}
