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
    /// Column family index and the key's first 7 bytes, big-endian: most comparisons end here.
    prefix: u64,
    /// Position in the batch: the tie-break that keeps same-key operations in order.
    seq: u32,
    cf: u8,
    kind: Kind,
    key: (u32, u32),
    value: (u32, u32),
}

/// Operations of one atomic write, in one byte arena.
#[derive(Default)]
pub(crate) struct SortedBatch {
    bytes: Vec<u8>,
    ops: Vec<Op>,
}

fn cf_index(name: &str) -> u8 {
    cf::ALL.iter().position(|n| *n == name).expect("a column family of cf::ALL") as u8
}

impl SortedBatch {
    fn push(&mut self, cf: &str, kind: Kind, key: &[u8], value: &[u8]) {
        let k = (self.bytes.len() as u32, key.len() as u32);
        self.bytes.extend_from_slice(key);
        let v = (self.bytes.len() as u32, value.len() as u32);
        self.bytes.extend_from_slice(value);
        let cf = cf_index(cf);
        let mut head = [0u8; 8];
        head[0] = cf;
        let n = key.len().min(7);
        head[1..=n].copy_from_slice(&key[..n]);
        let seq = self.ops.len() as u32;
        self.ops.push(Op { prefix: u64::from_be_bytes(head), seq, cf, kind, key: k, value: v });
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

    fn slice(&self, (off, len): (u32, u32)) -> &[u8] {
        &self.bytes[off as usize..(off + len) as usize]
    }

    /// The operations by column family, then key; same-key operations in the order they were
    /// added.
    fn sorted(&mut self) -> Vec<Op> {
        let mut ops = std::mem::take(&mut self.ops);
        // (column family, key, position): a total order, so an unstable sort is exact.
        ops.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| self.slice(a.key).cmp(self.slice(b.key)))
                .then_with(|| a.seq.cmp(&b.seq))
        });
        ops
    }

    /// The RocksDB batch, in [`SortedBatch::sorted`] order.
    pub(crate) fn into_write_batch<'a>(mut self, handle: impl Fn(&str) -> &'a ColumnFamily) -> WriteBatch {
        let ops = self.sorted();
        let mut batch = WriteBatch::default();
        let handles: Vec<&ColumnFamily> = cf::ALL.iter().map(|n| handle(n)).collect();
        for op in &ops {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a naive oracle: a stable sort by (column family, key) of the operations as
        /// added.
        #[test]
        fn sorted_is_a_stable_sort_by_family_and_key(
            ops in proptest::collection::vec((0usize..cf::ALL.len(), proptest::collection::vec(0u8..4, 0..10), 0u8..3), 0..200)
        ) {
            let mut b = SortedBatch::default();
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
            let got: Vec<(usize, usize)> = b.sorted().iter().map(|o| (o.cf as usize, o.seq as usize)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
