//! The write path's batch: operations are gathered, then handed to RocksDB sorted by column
//! family and key.
//!
//! Why: RocksDB inserts a `WriteBatch` into its memtables (skip lists) one operation at a time,
//! reusing the position of the previous insert. Ingest's rows come in chain order, which is
//! random order for the adjacency, UTXO and degree column families (keyed by address id or
//! txid), so every insert searched the skip list from the top: the profile of a Bitcoin ingest
//! spent over a third of its time in `InlineSkipList::FindSpliceForLevel`. In key order, each
//! insert starts next to the previous one.
//!
//! Operations on the same key keep their order (a put then a delete of
//! one key in one batch still ends deleted): the batch's effect is unchanged, and it is still
//! written as one atomic `WriteBatch`.

use chaintrace_model::hint::prefetch;
use rocksdb::{ColumnFamily, WriteBatch};

use crate::keys::cf;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Put,
    Delete,
    Merge,
}

#[derive(Clone, Copy)]
struct Op {
    /// Column family index and the key's first 15 bytes, big-endian: most comparisons end
    /// here (15 bytes cover an adjacency key's address id and most of its height, and enough
    /// of a txid to tell outpoints apart).
    prefix: u128,
    /// Position in the batch: the tie-break that keeps same-key operations in order.
    seq: u32,
    cf: u8,
    kind: Kind,
    key: (u32, u32),
    value: (u32, u32),
}

/// Operations of one atomic write, in one byte arena. The writer keeps one between batches
/// ([`SortedBatch::clear`] keeps the buffers): a block batch is tens of megabytes, and fresh
/// buffers of that size cost a page fault per 4 KiB every time.
#[derive(Default)]
pub(crate) struct SortedBatch {
    bytes: Vec<u8>,
    ops: Vec<Op>,
    /// The operations grouped by column family ([`SortedBatch::sorted`]), kept for its
    /// capacity.
    grouped: Vec<Op>,
    /// The encoded batch ([`SortedBatch::encode`]), kept for its capacity.
    rep: Vec<u8>,
    /// The operations [`SortedBatch::take_split`] leaves in the `WriteBatch`, kept for its
    /// capacity.
    rest: Vec<Op>,
}

/// The operations of one column family that [`SortedBatch::take_split`] left out of the
/// `WriteBatch`: all puts, sorted by key.
pub(crate) struct FileRun {
    /// The column family.
    pub(crate) cf: &'static str,
    /// Whether its keys sort after every key the family holds (see [`Split`]).
    pub(crate) above: bool,
    range: std::ops::Range<usize>,
}

/// Which operations [`SortedBatch::take_split`] leaves out of the `WriteBatch`.
pub(crate) struct Split<'s> {
    /// Families whose puts go to table files: a family's run when it is all puts.
    pub(crate) to_files: &'s [&'static str],
    /// Families whose rows sort after every stored key of theirs: their runs are `above`.
    pub(crate) above: &'s [&'static str],
    /// Families keyed by a key that starts with an address id, and the id bytes from which no
    /// row is stored yet (the ids this batch numbered): a family's puts from that key on are a
    /// run of their own, `above`, even where the rest of the family stays in the `WriteBatch`.
    pub(crate) fresh: (&'s [&'static str], &'s [u8]),
}

impl FileRun {
    /// Its operations (before same-key puts are merged).
    pub(crate) fn len(&self) -> usize {
        self.range.len()
    }
}

/// How many operations ahead of the one being read [`SortedBatch::prefetch`] is asked for.
const PREFETCH_AHEAD: usize = 12;

/// Buffers larger than this are not kept between batches.
const KEEP_BYTES: usize = 512 << 20;

fn cf_index(name: &str) -> u8 {
    cf::ALL.iter().position(|n| *n == name).expect("a column family of cf::ALL") as u8
}

impl SortedBatch {
    fn push(&mut self, cf: &str, kind: Kind, key: &[u8], value: &[u8]) {
        let k = (self.bytes.len() as u32, key.len() as u32);
        self.bytes.extend_from_slice(key);
        let v = (self.bytes.len() as u32, value.len() as u32);
        self.bytes.extend_from_slice(value);
        self.push_op(cf, kind, k, v);
    }

    fn push_op(&mut self, cf: &str, kind: Kind, k: (u32, u32), v: (u32, u32)) {
        let cf = cf_index(cf);
        let mut head = [0u8; 16];
        head[0] = cf;
        let key = self.slice(k);
        let n = key.len().min(15);
        head[1..=n].copy_from_slice(&key[..n]);
        let seq = self.ops.len() as u32;
        self.ops.push(Op { prefix: u128::from_be_bytes(head), seq, cf, kind, key: k, value: v });
    }

    pub(crate) fn put_cf(&mut self, cf: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.push(cf, Kind::Put, key.as_ref(), value.as_ref());
    }

    pub(crate) fn delete_cf(&mut self, cf: &str, key: impl AsRef<[u8]>) {
        self.push(cf, Kind::Delete, key.as_ref(), &[]);
    }

    pub(crate) fn merge_cf(&mut self, cf: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.push(cf, Kind::Merge, key.as_ref(), value.as_ref());
    }

    /// Asks the CPU to bring in an operation's key and value ahead of reading them: in key
    /// order they are scattered over the arena (it holds them in the order they were added),
    /// and without it every operation waited for its cache misses — in a Bitcoin ingest's
    /// profile most of the copy and compare time of the table-file writer (and before it,
    /// the memtable inserts) was those misses.
    #[inline(always)]
    fn prefetch(&self, op: &Op) {
        // The key, then the value (which may be shared, elsewhere in the arena): each line
        // they touch.
        for (off, len) in [op.key, op.value] {
            let (start, end) = (off as usize, (off + len) as usize);
            let mut at = start;
            while at < end {
                if let Some(b) = self.bytes.get(at) {
                    prefetch(b);
                }
                at += 64;
            }
            if let Some(b) = self.bytes.get(end.saturating_sub(1)).filter(|_| end > start) {
                prefetch(b);
            }
        }
    }

    fn slice(&self, (off, len): (u32, u32)) -> &[u8] {
        &self.bytes[off as usize..(off + len) as usize]
    }

    /// Whether operations `a` and `b` (of one family) have the same key.
    fn same_key(&self, a: &Op, b: &Op) -> bool {
        a.prefix == b.prefix && self.slice(a.key) == self.slice(b.key)
    }

    /// The operations by column family, then key; same-key operations in the order they were
    /// added.
    ///
    /// Grouping by family is a counting sort (one pass, into the kept `grouped` buffer); then
    /// each family's run is sorted by (key, position): a batch's rows are spread over a few
    /// families, and sorting each run alone saves the comparisons across them.
    fn sorted(&mut self) -> Vec<Op> {
        let ops = std::mem::take(&mut self.ops);
        let mut start = [0usize; cf::ALL.len() + 1];
        for op in &ops {
            start[op.cf as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut grouped = std::mem::take(&mut self.grouped);
        grouped.clear();
        grouped.resize(ops.len(), Op { prefix: 0, seq: 0, cf: 0, kind: Kind::Put, key: (0, 0), value: (0, 0) });
        let mut next = start;
        for op in &ops {
            let at = &mut next[op.cf as usize];
            grouped[*at] = *op;
            *at += 1;
        }
        self.grouped = ops;
        for c in 0..cf::ALL.len() {
            // (key, position): a total order, so an unstable sort is exact.
            grouped[start[c]..start[c + 1]].sort_unstable_by(|a, b| {
                a.prefix
                    .cmp(&b.prefix)
                    .then_with(|| self.slice(a.key).cmp(self.slice(b.key)))
                    .then_with(|| a.seq.cmp(&b.seq))
            });
        }
        grouped
    }

    /// The RocksDB batch, in [`SortedBatch::sorted`] order. With the column families' ids
    /// (`ids`, see [`ColumnFamilyIds`]) the batch's bytes are encoded here in one buffer of the
    /// exact size and handed over in one copy; without them, operation by operation.
    pub(crate) fn take_write_batch<'a>(
        &mut self,
        handle: impl Fn(&str) -> &'a ColumnFamily,
        ids: Option<&ColumnFamilyIds>,
    ) -> WriteBatch {
        let ops = self.sorted();
        let batch = self.write_batch_of(&ops, handle, ids);
        self.ops = ops;
        batch
    }

    /// [`SortedBatch::take_write_batch`] without the operations `split` sends to table files:
    /// those are returned as runs of the sorted operations, to be written as table files
    /// ([`SortedBatch::puts`]), and left out of the `WriteBatch`. Per family: its rows from the
    /// fresh key on (`split.fresh`) are one run when they are all puts; the rest of it is one
    /// run when the family is in `split.to_files` and they are all puts. (So the degree rows a
    /// batch writes whole for the addresses it numbered go to a file, and the merges of the
    /// others' stay in the `WriteBatch`.)
    pub(crate) fn take_split<'a>(
        &mut self,
        handle: impl Fn(&str) -> &'a ColumnFamily,
        ids: Option<&ColumnFamilyIds>,
        split: &Split<'_>,
    ) -> (WriteBatch, Vec<FileRun>) {
        let ops = self.sorted();
        let mut runs = Vec::new();
        let mut rest = std::mem::take(&mut self.rest);
        rest.clear();
        let all_puts = |ops: &[Op]| ops.iter().all(|o| o.kind == Kind::Put);
        let (fresh_families, fresh) = split.fresh;
        let mut i = 0;
        while i < ops.len() {
            let c = ops[i].cf;
            let name = cf::ALL[c as usize];
            let end = i + ops[i..].iter().take_while(|o| o.cf == c).count();
            // (keys are in order within a family: the fresh ones are its last)
            let cut = match fresh_families.contains(&name) {
                true => i + ops[i..end].partition_point(|o| self.slice(o.key) < fresh),
                false => end,
            };
            let mut upper = cut..end;
            if upper.is_empty() || !all_puts(&ops[upper.clone()]) {
                upper = end..end;
            }
            let lower = i..upper.start;
            if !lower.is_empty() && split.to_files.contains(&name) && all_puts(&ops[lower.clone()]) {
                runs.push(FileRun { cf: name, above: split.above.contains(&name), range: lower });
            } else {
                rest.extend_from_slice(&ops[lower]);
            }
            if !upper.is_empty() {
                runs.push(FileRun { cf: name, above: true, range: upper });
            }
            i = end;
        }
        let batch = self.write_batch_of(&rest, handle, ids);
        self.rest = rest;
        self.ops = ops;
        (batch, runs)
    }

    /// The puts of a run [`SortedBatch::take_split`] returned, in key order, each key once
    /// (of puts of one key, the last added wins, as in a `WriteBatch`).
    pub(crate) fn puts<'s>(&'s self, run: &FileRun) -> impl Iterator<Item = (&'s [u8], &'s [u8])> + 's {
        let ops = &self.ops[run.range.clone()];
        ops.iter().enumerate().filter_map(move |(i, op)| {
            if let Some(ahead) = ops.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            let key = self.slice(op.key);
            // Same-key operations are sorted by position: only the last one stays.
            if ops.get(i + 1).is_some_and(|next| self.same_key(op, next)) {
                return None;
            }
            Some((key, self.slice(op.value)))
        })
    }

    fn write_batch_of<'a>(
        &mut self,
        ops: &[Op],
        handle: impl Fn(&str) -> &'a ColumnFamily,
        ids: Option<&ColumnFamilyIds>,
    ) -> WriteBatch {
        if let Some(ids) = ids {
            let mut rep = std::mem::take(&mut self.rep);
            self.encode(ops, ids, &mut rep);
            let batch = WriteBatch::from_data(&rep);
            self.rep = rep;
            return batch;
        }
        let mut batch = WriteBatch::default();
        let handles: Vec<&ColumnFamily> = cf::ALL.iter().map(|n| handle(n)).collect();
        for op in ops {
            let h = handles[op.cf as usize];
            let key = self.slice(op.key);
            match op.kind {
                Kind::Put => batch.put_cf(h, key, self.slice(op.value)),
                Kind::Delete => batch.delete_cf(h, key),
                Kind::Merge => batch.merge_cf(h, key, self.slice(op.value)),
            }
        }
        batch
    }

    /// Forget the operations, keeping the buffers (unless they grew very large).
    pub(crate) fn clear(&mut self) {
        for (cap, buf) in [(self.bytes.capacity(), &mut self.bytes), (self.rep.capacity(), &mut self.rep)] {
            buf.clear();
            if cap > KEEP_BYTES {
                *buf = Vec::new();
            }
        }
        for ops in [&mut self.ops, &mut self.grouped, &mut self.rest] {
            ops.clear();
            if ops.capacity() * std::mem::size_of::<Op>() > KEEP_BYTES {
                *ops = Vec::new();
            }
        }
    }

    /// The batch's bytes in RocksDB's `WriteBatch` layout (what `WriteBatch::data` returns and
    /// the WAL stores): a 12-byte header (sequence 0, fixed64; count, fixed32), then per
    /// operation a tag, the column family id (varint32; absent for id 0, which has its own
    /// tags), the key and, except for deletes, the value, each length-prefixed (varint32).
    fn encode(&self, ops: &[Op], ids: &ColumnFamilyIds, out: &mut Vec<u8>) {
        let size: usize = 12 + ops.iter().map(|o| 1 + 5 + 5 + o.key.1 as usize + 5 + o.value.1 as usize).sum::<usize>();
        out.clear();
        out.reserve(size);
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
        for (i, op) in ops.iter().enumerate() {
            if let Some(ahead) = ops.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            let id = ids.0[op.cf as usize];
            let tag = match (op.kind, id) {
                (Kind::Delete, 0) => TYPE_DELETION,
                (Kind::Put, 0) => TYPE_VALUE,
                (Kind::Merge, 0) => TYPE_MERGE,
                (Kind::Delete, _) => TYPE_CF_DELETION,
                (Kind::Put, _) => TYPE_CF_VALUE,
                (Kind::Merge, _) => TYPE_CF_MERGE,
            };
            out.push(tag);
            if id != 0 {
                put_varint32(out, id);
            }
            let key = self.slice(op.key);
            put_varint32(out, key.len() as u32);
            out.extend_from_slice(key);
            if op.kind != Kind::Delete {
                let value = self.slice(op.value);
                put_varint32(out, value.len() as u32);
                out.extend_from_slice(value);
            }
        }
    }
}

// Record tags of RocksDB's `WriteBatch` layout (`db/dbformat.h`, `ValueType`).
const TYPE_DELETION: u8 = 0x0;
const TYPE_VALUE: u8 = 0x1;
const TYPE_MERGE: u8 = 0x2;
const TYPE_CF_DELETION: u8 = 0x4;
const TYPE_CF_VALUE: u8 = 0x5;
const TYPE_CF_MERGE: u8 = 0x6;

fn put_varint32(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint32(b: &[u8]) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for (i, byte) in b.iter().enumerate().take(5) {
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The RocksDB ids of the column families of [`cf::ALL`] (by index), read once at open from
/// batches RocksDB itself encoded: one put per family, whose bytes must be exactly what
/// [`SortedBatch`] would write for it. Any other layout (a RocksDB that encodes batches
/// differently) gives `None`, and batches are then built operation by operation.
pub(crate) struct ColumnFamilyIds([u32; cf::ALL.len()]);

impl ColumnFamilyIds {
    pub(crate) fn learn<'a>(handle: impl Fn(&str) -> &'a ColumnFamily) -> Option<ColumnFamilyIds> {
        let mut ids = [0u32; cf::ALL.len()];
        for (i, name) in cf::ALL.iter().enumerate() {
            let mut wb = WriteBatch::default();
            wb.put_cf(handle(name), b"k", b"v");
            let d = wb.data();
            let (&tag, rest) = d.get(12..)?.split_first()?;
            let id = match tag {
                TYPE_VALUE => 0,
                TYPE_CF_VALUE => get_varint32(rest)?.0,
                _ => return None,
            };
            ids[i] = id;
            let mut mine = SortedBatch::default();
            mine.put_cf(name, b"k", b"v");
            let ops = mine.sorted();
            let mut rep = Vec::new();
            mine.encode(&ops, &ColumnFamilyIds(ids), &mut rep);
            if rep != d {
                return None;
            }
        }
        Some(ColumnFamilyIds(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rocksdb::{ColumnFamilyDescriptor, Options, DB};

    /// A database with every column family of [`cf::ALL`], created in a shuffled order so the
    /// ids are not simply the list's positions.
    fn db_with_families(dir: &std::path::Path) -> DB {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let mut names: Vec<&str> = cf::ALL.to_vec();
        names.reverse();
        names.swap(2, 7);
        let descs = names.iter().map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        DB::open_cf_descriptors(&opts, dir, descs).expect("open")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Against RocksDB's own encoder: the bytes encoded directly equal those of the same
        /// operations added one by one with `put_cf` / `merge_cf` / `delete_cf`.
        #[test]
        fn direct_encoding_equals_rocksdbs(
            ops in proptest::collection::vec(
                (0usize..cf::ALL.len(), proptest::collection::vec(any::<u8>(), 0..300),
                 proptest::collection::vec(any::<u8>(), 0..300), 0u8..3),
                0..60)
        ) {
            let tmp = tempfile::tempdir().expect("tmp");
            let db = db_with_families(tmp.path());
            let handle = |n: &str| db.cf_handle(n).expect("family");
            let ids = ColumnFamilyIds::learn(handle).expect("ids learnt from this RocksDB");
            let build = || {
                let mut b = SortedBatch::default();
                for (c, key, value, kind) in &ops {
                    match kind {
                        0 => b.put_cf(cf::ALL[*c], key, value),
                        1 => b.delete_cf(cf::ALL[*c], key),
                        _ => b.merge_cf(cf::ALL[*c], key, value),
                    }
                }
                b
            };
            let mut reused = build();
            let first = reused.take_write_batch(handle, Some(&ids));
            reused.clear();
            // A kept buffer holds nothing of the batch before.
            for (c, key, value, kind) in &ops {
                match kind {
                    0 => reused.put_cf(cf::ALL[*c], key, value),
                    1 => reused.delete_cf(cf::ALL[*c], key),
                    _ => reused.merge_cf(cf::ALL[*c], key, value),
                }
            }
            let direct = reused.take_write_batch(handle, Some(&ids));
            prop_assert_eq!(first.data(), direct.data());
            let by_ops = build().take_write_batch(handle, None);
            prop_assert_eq!(direct.len(), ops.len());
            prop_assert_eq!(direct.data(), by_ops.data());
        }
    }

    proptest! {
        /// Against a naive oracle: a stable sort by (column family, key) of the operations as
        /// added.
        #[test]
        fn sorted_is_a_stable_sort_by_family_and_key(
            ops in proptest::collection::vec((0usize..cf::ALL.len(), proptest::collection::vec(0u8..4, 0..10), 0u8..3), 0..200)
        ) {
            let mut b = SortedBatch::default();
            for round in 0..2 {
                // The second round reuses the kept buffers of the first.
                for (i, (c, key, kind)) in ops.iter().enumerate() {
                    let v = (i as u32).to_be_bytes();
                    match kind {
                        0 => b.put_cf(cf::ALL[*c], key, v),
                        1 => b.delete_cf(cf::ALL[*c], key),
                        _ => b.merge_cf(cf::ALL[*c], key, v),
                    }
                }
                let mut want: Vec<(usize, usize)> = ops.iter().enumerate().map(|(i, (c, _, _))| (*c, i)).collect();
                want.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| ops[a.1].1.cmp(&ops[b.1].1)));
                let sorted = b.sorted();
                let got: Vec<(usize, usize)> = sorted.iter().map(|o| (o.cf as usize, o.seq as usize)).collect();
                prop_assert_eq!(got, want, "round {}", round);
                b.ops = sorted;
                b.clear();
            }
        }
    }
}
