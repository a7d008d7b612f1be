//! `verify`: recompute each chain's figures from the stored rows and compare them with the
//! checkpoint (the chain-state row that ingest writes in the same batch as the rows).
//!
//! The checkpoint's counters and digest accumulator are written by the same code, in the same
//! batch, as the rows they describe, so comparing two checkpoints proves only that the
//! bookkeeping agrees with itself. `verify` instead reads every row a chain owns and derives
//! the figures again, independently of the accumulator:
//!
//! - `transfers`: count and digest (the sum of per-row digest terms) of the transfer rows;
//! - `addr_out` / `addr_in`: each adjacency row must carry exactly the transfer row of its key,
//!   under the dictionary id of that row's sender (receiver); their digests must equal the
//!   transfers' digest, so no row is missing, extra or different;
//! - `degree`: each address's counters must equal its adjacency rows in each direction;
//! - `addresses`: the dictionary size must equal the checkpoint's count, and every address of a
//!   transfer must have a dictionary row (ids and keys one to one);
//! - `blocks`: the count, the tip, parent links between consecutive heights, each block's
//!   transfer count (chains fed only by linked ingest), and how many blocks lack their
//!   internal (trace) transfers;
//! - `outputs`, `spends`, `spent_by`: spends and spent-by rows must mirror each other, and every
//!   UTXO row must belong to a transaction that a stored block recorded (linked ingest only);
//! - `flows` / `flow_index`: the conversion, bridge-event and price-point rows are counted by
//!   kind, each must sit at a stored block's height and have exactly its index row (same
//!   value), and the index must hold no other rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use chaintrace_model::{Hash32, U256};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::keys::{self, cf, AddrId, AdjKey, BlockKey, TransferKey};
use crate::rows::{self, BlockRow, ChainStateRow, OutpointRow, TransferRow};
use crate::{Store, StoreError};

/// A chain's figures, either as recorded in its checkpoint or as recomputed from its rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChainFigures {
    /// Stored linked blocks.
    pub blocks: u64,
    /// Stored transfers.
    pub transfers: u64,
    /// Addresses in the chain's dictionary.
    pub addresses: u64,
    /// The chain's digest accumulator (hex of the 256-bit sum of per-transfer digest terms).
    pub digest: String,
    /// Height of the stored tip, if any.
    pub tip_height: Option<u64>,
    /// Stored blocks whose internal (call-trace) transfers were not read.
    pub blocks_without_internal_transfers: u64,
    /// Stored conversions (swaps, wraps).
    pub conversions: u64,
    /// Stored bridge deposits and releases.
    pub bridge_events: u64,
    /// Stored on-chain price points.
    pub price_points: u64,
}

/// The outcome of verifying one chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainVerification {
    /// The chain's name.
    pub chain: String,
    /// What the checkpoint says.
    pub checkpoint: ChainFigures,
    /// What the rows say.
    pub recomputed: ChainFigures,
    /// Every disagreement found, one sentence each; empty when the chain is consistent.
    pub problems: Vec<String>,
}

impl ChainVerification {
    /// True when the rows agree with the checkpoint and with each other.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The outcome of [`Store::verify`].
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// One entry per verified chain, by name.
    pub chains: Vec<ChainVerification>,
    /// The store digest recomputed from the rows of the verified chains (same formula as
    /// `stats`), comparable with another store's `stats` digest or `verify` digest.
    pub digest: String,
}

impl Verification {
    /// True when every verified chain is consistent.
    pub fn ok(&self) -> bool {
        self.chains.iter().all(ChainVerification::ok)
    }
}

/// How many problems of one kind are listed before the rest are only counted.
const MAX_LISTED: usize = 5;

/// Collects problems, listing the first few of each kind and counting the rest.
#[derive(Default)]
struct Problems {
    listed: Vec<String>,
    per_kind: BTreeMap<&'static str, u64>,
}

impl Problems {
    fn add(&mut self, kind: &'static str, what: impl FnOnce() -> String) {
        let n = self.per_kind.entry(kind).or_default();
        *n += 1;
        if *n as usize <= MAX_LISTED {
            self.listed.push(what());
        }
    }

    fn finish(mut self) -> Vec<String> {
        for (kind, n) in &self.per_kind {
            if *n as usize > MAX_LISTED {
                self.listed.push(format!("… and {} more {kind} problems", *n as usize - MAX_LISTED));
            }
        }
        self.listed
    }
}

impl Store {
    /// Recompute the figures of `chain` (or of every chain) from the stored rows and compare
    /// them with the checkpoint. Reads every row the chain owns; never writes.
    pub fn verify(&self, chain: Option<&str>) -> Result<Verification, StoreError> {
        let states: Vec<(String, ChainStateRow)> = {
            let w = self.lock();
            let mut v: Vec<_> = w.chains.iter().map(|(n, s)| (n.clone(), s.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        if let Some(name) = chain {
            if !states.iter().any(|(n, _)| n == name) {
                return Err(StoreError::Invalid(format!("the store holds no chain named {name:?}")));
            }
        }
        let mut chains = Vec::new();
        let mut digest_parts = Vec::new();
        for (name, state) in &states {
            if chain.is_some_and(|c| c != name) {
                continue;
            }
            let (v, acc) = self.verify_chain(name, state)?;
            if v.recomputed.transfers > 0 {
                digest_parts.push((name.clone(), acc.to_be_bytes::<32>()));
            }
            chains.push(v);
        }
        let mut h = Sha256::new();
        for (name, acc) in digest_parts {
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            h.update(acc);
        }
        Ok(Verification { chains, digest: hex::encode(h.finalize()) })
    }

    fn verify_chain(&self, name: &str, state: &ChainStateRow) -> Result<(ChainVerification, U256), StoreError> {
        let no = state.no;
        let mut p = Problems::default();

        // The address dictionary: key ↔ id, one to one.
        let mut id_of: HashMap<Vec<u8>, AddrId> = HashMap::new();
        let mut ids: HashSet<AddrId> = HashSet::new();
        self.prefix_for_each(cf::ADDRESSES, &no.to_be_bytes(), |k, v| {
            match <[u8; 8]>::try_from(v).map(u64::from_be_bytes) {
                Ok(id) => {
                    if !ids.insert(id) {
                        p.add("dictionary", || format!("address id {id} is given to two addresses"));
                    }
                    id_of.insert(k[2..].to_vec(), id);
                }
                Err(_) => p.add("dictionary", || "an address dictionary row does not hold an 8-byte id".into()),
            }
            true
        })?;

        // Blocks: count, parent links, per-height transfer counts and recorded UTXO txids.
        let mut blocks: BTreeMap<u64, BlockRow> = BTreeMap::new();
        self.prefix_for_each(cf::BLOCKS, &no.to_be_bytes(), |k, v| {
            match (BlockKey::decode(k), BlockRow::decode(v)) {
                (Some(key), Some(row)) => {
                    blocks.insert(key.height, row);
                }
                _ => p.add("blocks", || "a block row does not decode".into()),
            }
            true
        })?;
        let mut prev: Option<(u64, Hash32)> = None;
        for (h, row) in &blocks {
            if let Some((ph, phash)) = prev {
                if ph + 1 == *h && row.parent != phash {
                    p.add("blocks", || format!("block {h}'s parent is not the stored block {ph}"));
                }
            }
            prev = Some((*h, row.hash));
        }
        let recorded_txids: HashSet<Hash32> = blocks.values().flat_map(|b| b.utxo_txids.iter().copied()).collect();

        // Transfers: count, digest, and the per-address expectations for the adjacency rows.
        let mut transfers = 0u64;
        let mut digest = U256::ZERO;
        let mut per_height: HashMap<u64, u32> = HashMap::new();
        let mut want_degree: HashMap<AddrId, (i64, i64)> = HashMap::new();
        let mut err = None;
        self.prefix_for_each(cf::TRANSFERS, &no.to_be_bytes(), |k, v| {
            let Some(key) = TransferKey::decode(k) else {
                p.add("transfers", || "a transfer key does not decode".into());
                return true;
            };
            let Some(t) = TransferRow::decode(&key, v) else {
                p.add("transfers", || format!("the transfer row at height {} does not decode", key.height));
                return true;
            };
            transfers += 1;
            digest = digest.wrapping_add(TransferRow::digest_term(&key, v));
            *per_height.entry(key.height).or_default() += 1;
            for (addr, out) in [(&t.from, true), (&t.to, false)] {
                match id_of.get(&addr.to_key()) {
                    Some(id) => {
                        let d = want_degree.entry(*id).or_default();
                        if out {
                            d.0 += 1;
                        } else {
                            d.1 += 1;
                        }
                    }
                    None => p.add("dictionary", || {
                        format!("address {addr} of the transfer at height {} has no dictionary row", key.height)
                    }),
                }
            }
            if err.is_none() {
                // Each adjacency row must be there, and be keys only or (a row written before
                // they were) carry this very transfer row.
                for (addr, cf_name) in [(&t.from, cf::ADDR_OUT), (&t.to, cf::ADDR_IN)] {
                    let Some(id) = id_of.get(&addr.to_key()) else { continue };
                    let adj = AdjKey { addr: *id, height: key.height, pos: key.pos }.encode();
                    match self.db.get_cf(self.cf(cf_name), adj) {
                        Ok(Some(row)) if row.is_empty() || row == v => {}
                        Ok(Some(_)) => p.add("adjacency", || {
                            format!("the {cf_name} row of {addr} at height {} differs from the transfer", key.height)
                        }),
                        Ok(None) => p.add("adjacency", || {
                            format!("the {cf_name} row of {addr} at height {} is missing", key.height)
                        }),
                        Err(e) => err = Some(e),
                    }
                }
            }
            true
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }

        // Adjacency rows of this chain's ids: no row without its transfer (counted both ways).
        let mut have_degree: HashMap<AddrId, (i64, i64)> = HashMap::new();
        for (cf_name, out) in [(cf::ADDR_OUT, true), (cf::ADDR_IN, false)] {
            let mut n = 0u64;
            let mut sum = U256::ZERO;
            self.prefix_for_each(cf_name, &[], |k, v| {
                let Some(adj) = AdjKey::decode(k) else {
                    return true;
                };
                if !ids.contains(&adj.addr) {
                    return true;
                }
                n += 1;
                let key = TransferKey { chain: no, height: adj.height, pos: adj.pos };
                // a row that is keys only counts the transfer row it names (none: no term, so
                // the sum shows it)
                let term = match v.is_empty() {
                    true => match self.db.get_cf(self.cf(cf::TRANSFERS), key.encode()) {
                        Ok(row) => row.map(|row| TransferRow::digest_term(&key, &row)),
                        Err(e) => {
                            err = Some(e);
                            return false;
                        }
                    },
                    false => Some(TransferRow::digest_term(&key, v)),
                };
                sum = sum.wrapping_add(term.unwrap_or(U256::ZERO));
                let d = have_degree.entry(adj.addr).or_default();
                if out {
                    d.0 += 1;
                } else {
                    d.1 += 1;
                }
                true
            })?;
            if let Some(e) = err.take() {
                return Err(e.into());
            }
            if n != transfers || sum != digest {
                p.add("adjacency", || {
                    format!("{cf_name} holds {n} rows of this chain (digest {}), the transfers {transfers}", short(sum))
                });
            }
        }

        // Degree counters: equal to the adjacency rows, per address and direction.
        for id in &ids {
            let stored =
                self.db.get_cf(self.cf(cf::DEGREE), id.to_be_bytes())?.map_or((0, 0), |v| rows::degree_decode(&v));
            let rows_say = have_degree.get(id).copied().unwrap_or_default();
            let transfers_say = want_degree.get(id).copied().unwrap_or_default();
            if stored != rows_say || stored != transfers_say {
                p.add("degree", || {
                    format!(
                        "address id {id}: degree counters say out {} / in {}, adjacency rows {} / {}, transfers {} / {}",
                        stored.0, stored.1, rows_say.0, rows_say.1, transfers_say.0, transfers_say.1
                    )
                });
            }
        }

        // UTXO rows: spends and spent_by mirror each other; rows belong to recorded txids.
        let linked_only = !state.has_unlinked;
        let mut spends = 0u64;
        self.prefix_for_each(cf::SPENDS, &no.to_be_bytes(), |k, v| {
            spends += 1;
            let (Some((_, txid, vin)), Some(prev)) = (keys::decode_outpoint_key(k), OutpointRow::decode(v)) else {
                p.add("utxo", || "a spends row does not decode".into());
                return true;
            };
            let back = self
                .db
                .get_cf(self.cf(cf::SPENT_BY), keys::outpoint_key(no, &prev.txid, prev.index))
                .ok()
                .flatten()
                .and_then(|b| OutpointRow::decode(&b));
            if back.is_none_or(|b| b.txid != txid || b.index != vin) {
                p.add("utxo", || {
                    format!("spent_by of {}:{} does not point back to {}:{vin}", prev.txid, prev.index, txid)
                });
            }
            if linked_only && !recorded_txids.contains(&txid) {
                p.add("utxo", || format!("spend {txid}:{vin} belongs to no stored block"));
            }
            true
        })?;
        let mut spent_by = 0u64;
        self.prefix_for_each(cf::SPENT_BY, &no.to_be_bytes(), |_, _| {
            spent_by += 1;
            true
        })?;
        if spends != spent_by {
            p.add("utxo", || format!("{spends} spends rows but {spent_by} spent_by rows"));
        }
        if linked_only {
            self.prefix_for_each(cf::OUTPUTS, &no.to_be_bytes(), |k, _| {
                if let Some((_, txid, vout)) = keys::decode_outpoint_key(k) {
                    if !recorded_txids.contains(&txid) {
                        p.add("utxo", || format!("output {txid}:{vout} belongs to no stored block"));
                    }
                }
                true
            })?;
            for (h, row) in &blocks {
                let n = per_height.get(h).copied().unwrap_or(0);
                if n != row.transfers {
                    p.add("blocks", || format!("block {h} records {} transfers, the rows hold {n}", row.transfers));
                }
            }
            if let Some(h) = per_height.keys().find(|h| !blocks.contains_key(h)) {
                let h = *h;
                p.add("blocks", || format!("transfers at height {h} belong to no stored block"));
            }
        }

        // Flow rows: counted by kind; each at a stored block with its one index row.
        let mut flow_counts = crate::rows::FlowCounts::default();
        let mut flow_rows = 0u64;
        let mut index_err = None;
        self.scan_flows(no, |_, decoded| {
            let Some((key, row)) = decoded else {
                p.add("flows", || "a flow row does not decode".into());
                return;
            };
            flow_rows += 1;
            match &row {
                crate::flows::FlowRow::Conversion(_) => flow_counts.conversions += 1,
                crate::flows::FlowRow::Bridge(_) => flow_counts.bridge_events += 1,
                crate::flows::FlowRow::Price(_) => flow_counts.price_points += 1,
            }
            if row.height() != key.height {
                p.add("flows", || format!("the flow row at height {} says height {}", key.height, row.height()));
            }
            if !blocks.contains_key(&key.height) {
                p.add("flows", || format!("flows at height {} belong to no stored block", key.height));
            }
            match self.db.get_cf(self.cf(cf::FLOW_INDEX), row.index_key(no, key.seq)) {
                Ok(Some(v)) if v == row.encode() => {}
                Ok(Some(_)) => p.add("flows", || format!("the index row of a flow at height {} differs", key.height)),
                Ok(None) => p.add("flows", || format!("the index row of a flow at height {} is missing", key.height)),
                Err(e) => index_err = Some(e),
            }
        })?;
        if let Some(e) = index_err {
            return Err(e.into());
        }
        let index_rows = self.count_flow_index(no)?;
        if index_rows != flow_rows {
            p.add("flows", || format!("flow_index holds {index_rows} rows of this chain, flows {flow_rows}"));
        }

        let recomputed = ChainFigures {
            blocks: blocks.len() as u64,
            transfers,
            addresses: id_of.len() as u64,
            digest: hex::encode(digest.to_be_bytes::<32>()),
            tip_height: blocks.keys().next_back().copied(),
            blocks_without_internal_transfers: blocks.values().filter(|b| b.internal_missing).count() as u64,
            conversions: flow_counts.conversions,
            bridge_events: flow_counts.bridge_events,
            price_points: flow_counts.price_points,
        };
        let checkpoint = ChainFigures {
            blocks: state.blocks,
            transfers: state.transfers,
            addresses: state.addresses,
            digest: hex::encode(state.digest_acc),
            tip_height: state.tip.map(|t| t.height),
            blocks_without_internal_transfers: state.internal_missing_blocks,
            conversions: state.flows.conversions,
            bridge_events: state.flows.bridge_events,
            price_points: state.flows.price_points,
        };
        for (what, cp, rc) in [
            ("blocks", checkpoint.blocks, recomputed.blocks),
            ("transfers", checkpoint.transfers, recomputed.transfers),
            ("addresses", checkpoint.addresses, recomputed.addresses),
            (
                "blocks without internal transfers",
                checkpoint.blocks_without_internal_transfers,
                recomputed.blocks_without_internal_transfers,
            ),
            ("conversions", checkpoint.conversions, recomputed.conversions),
            ("bridge events", checkpoint.bridge_events, recomputed.bridge_events),
            ("price points", checkpoint.price_points, recomputed.price_points),
        ] {
            if cp != rc {
                p.add("checkpoint", || format!("the checkpoint counts {cp} {what}, the rows hold {rc}"));
            }
        }
        if checkpoint.digest != recomputed.digest {
            p.add("checkpoint", || {
                format!(
                    "the checkpoint digest is {}…, the rows give {}…",
                    &checkpoint.digest[..16],
                    &recomputed.digest[..16]
                )
            });
        }
        if checkpoint.tip_height != recomputed.tip_height {
            p.add("checkpoint", || {
                format!(
                    "the checkpoint tip is {:?}, the highest block row {:?}",
                    checkpoint.tip_height, recomputed.tip_height
                )
            });
        } else if let (Some(t), Some(h)) = (state.tip, recomputed.tip_height) {
            if blocks.get(&h).is_some_and(|b| b.hash != t.hash) {
                p.add("checkpoint", || format!("the checkpoint tip hash differs from block {h}'s row"));
            }
        }
        Ok((ChainVerification { chain: name.to_string(), checkpoint, recomputed, problems: p.finish() }, digest))
    }
}

fn short(v: U256) -> String {
    hex::encode(&v.to_be_bytes::<32>()[..8])
}

#[cfg(test)]
pub(crate) mod tests {
    use chaintrace_model::{Address, Asset, BlockData, BlockRef, Direction, Position, Transfer, UtxoOutput, UtxoSpend};
    use rocksdb::WriteBatch;
    use std::collections::BTreeSet;

    use super::*;

    /// `n` linked blocks; block h moves value among 12 addresses and spends an output of h-1.
    pub(crate) fn chain(n: u64) -> Vec<BlockData> {
        let mut parent = Hash32::ZERO;
        (0..n)
            .map(|height| {
                let mut hash = [0u8; 32];
                hash[..8].copy_from_slice(&height.to_be_bytes());
                hash[31] = 0xb1;
                let hash = Hash32(hash);
                let mut b = BlockData::new(BlockRef { height, hash, parent, time: 1_700_000_000 + height });
                parent = hash;
                b.tx_count = 3;
                for i in 0..3u32 {
                    let mut tx = [0u8; 32];
                    tx[..8].copy_from_slice(&height.to_be_bytes());
                    tx[8] = i as u8;
                    b.transfers.push(Transfer {
                        tx: Hash32(tx),
                        height,
                        pos: Position { tx_index: i, sub: 0 },
                        time: b.block.time,
                        from: Address::Evm([(height as u8 + i as u8) % 12; 20]),
                        to: Address::Evm([(height as u8 * 5 + i as u8 + 1) % 12; 20]),
                        asset: if i == 2 { Asset::Token([0xee; 20]) } else { Asset::Native },
                        amount: U256::from(1_000 + height * 10 + u64::from(i)),
                    });
                    b.outputs.push(UtxoOutput {
                        txid: Hash32(tx),
                        vout: 0,
                        address: Some(Address::Bitcoin(format!("addr{i}"))),
                        value: 5_000,
                    });
                    if height > 0 {
                        let mut prev = [0u8; 32];
                        prev[..8].copy_from_slice(&(height - 1).to_be_bytes());
                        prev[8] = i as u8;
                        b.spends.push(UtxoSpend { txid: Hash32(tx), vin: 0, prev_txid: Hash32(prev), prev_vout: 0 });
                    }
                }
                b
            })
            .collect()
    }

    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        (dir, store)
    }

    fn problems(s: &Store) -> Vec<String> {
        s.verify(None).expect("verify").chains.into_iter().flat_map(|c| c.problems).collect()
    }

    #[test]
    fn a_consistent_store_verifies_with_figures_counted_from_the_blocks() {
        let blocks = chain(30);
        let (_d, s) = fresh();
        s.apply_blocks("eth", &blocks[..17]).expect("apply");
        s.apply_blocks("eth", &blocks[17..]).expect("apply");
        let v = s.verify(Some("eth")).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        let r = &v.chains[0].recomputed;
        let addresses: HashSet<_> =
            blocks.iter().flat_map(|b| b.transfers.iter()).flat_map(|t| [&t.from, &t.to]).collect();
        assert_eq!((r.blocks, r.transfers, r.addresses), (30, 90, addresses.len() as u64));
        assert_eq!(r.tip_height, Some(29));
        assert_eq!(v.digest, s.stats().expect("stats").digest);

        // After a rollback, the rows still agree, and equal a store that never saw the blocks.
        s.rollback_to("eth", 20).expect("rollback");
        let after = s.verify(None).expect("verify");
        assert!(after.ok(), "{:?}", after.chains[0].problems);
        let (_d2, clean) = fresh();
        clean.apply_blocks("eth", &blocks[..21]).expect("apply");
        assert_eq!(after.digest, clean.verify(None).expect("verify").digest);
        assert_eq!(after.chains[0].recomputed.transfers, 63);
    }

    #[test]
    fn verify_names_each_kind_of_damage() {
        let blocks = chain(12);
        type Damage = fn(&Store);
        let cases: [(&str, Damage); 7] = [
            ("addr_out row", |s| {
                let (k, _) = s.prefix_scan(cf::ADDR_OUT, &[]).expect("scan").remove(3);
                s.db.delete_cf(s.cf(cf::ADDR_OUT), k).expect("delete");
            }),
            ("addr_in row differs", |s| {
                // a row in the layout written before adjacency rows were keys only, carrying a
                // transfer row one bit off
                let (k, _) = s.prefix_scan(cf::ADDR_IN, &[]).expect("scan").remove(5);
                let mut v = transfer_row_of(s, &k);
                let last = v.len() - 1;
                v[last] ^= 1;
                s.db.put_cf(s.cf(cf::ADDR_IN), k, v).expect("put");
            }),
            ("addr_out row without its transfer", |s| {
                let (mut k, _) = s.prefix_scan(cf::ADDR_OUT, &[]).expect("scan").remove(2);
                let last = k.len() - 1;
                k[last] ^= 0x40;
                s.db.put_cf(s.cf(cf::ADDR_OUT), k, []).expect("put");
            }),
            ("degree counter", |s| {
                let mut b = WriteBatch::default();
                b.merge_cf(s.cf(cf::DEGREE), 1u64.to_be_bytes(), rows::degree_delta(1, 0));
                s.db.write(b).expect("merge");
            }),
            ("transfer row without its checkpoint", |s| {
                let (k, v) = s.prefix_scan(cf::TRANSFERS, &[]).expect("scan").remove(0);
                s.db.delete_cf(s.cf(cf::TRANSFERS), &k).expect("delete");
                let _ = v;
            }),
            ("spent_by row", |s| {
                let (k, _) = s.prefix_scan(cf::SPENT_BY, &[]).expect("scan").remove(2);
                s.db.delete_cf(s.cf(cf::SPENT_BY), k).expect("delete");
            }),
            ("dictionary row", |s| {
                let (k, _) = s.prefix_scan(cf::ADDRESSES, &[]).expect("scan").remove(4);
                s.db.delete_cf(s.cf(cf::ADDRESSES), k).expect("delete");
            }),
        ];
        for (what, damage) in cases {
            let (_d, s) = fresh();
            s.apply_blocks("eth", &blocks).expect("apply");
            assert!(problems(&s).is_empty(), "{what}: clean before the damage");
            damage(&s);
            let found = problems(&s);
            assert!(!found.is_empty(), "{what}: verify found nothing");
            assert!(!s.verify(None).expect("verify").ok(), "{what}");
        }
    }

    /// The transfer row an adjacency key names (the same height and position).
    fn transfer_row_of(s: &Store, adj: &[u8]) -> Vec<u8> {
        let rows = s.prefix_scan(cf::TRANSFERS, &[]).expect("scan");
        rows.into_iter().find(|(k, _)| k[2..] == adj[8..]).expect("the transfer of the row").1
    }

    #[test]
    fn adjacency_rows_carrying_the_transfer_row_read_and_verify_as_keys_only() {
        // Stores written before adjacency rows were keys only hold the transfer row in each;
        // such a store (here every other row rewritten that way) answers and verifies the same.
        let blocks = chain(12);
        let (_d, s) = fresh();
        s.apply_blocks("eth", &blocks).expect("apply");
        let addrs: BTreeSet<Address> =
            blocks.iter().flat_map(|b| &b.transfers).flat_map(|t| [t.from.clone(), t.to.clone()]).collect();
        let after = Some((3, Position { tx_index: 0, sub: 0 }));
        let reqs: Vec<_> = addrs.iter().flat_map(|a| [(a.clone(), None, usize::MAX), (a.clone(), after, 2)]).collect();
        // every list one by one; the batched read and the existence check must agree with them
        let histories = |s: &Store| -> Vec<Vec<Transfer>> {
            let mut all = Vec::new();
            for dir in [Direction::Out, Direction::In] {
                let one_by_one: Vec<Vec<Transfer>> =
                    reqs.iter().map(|(a, af, n)| s.transfers("eth", a, dir, *af, *n).expect("transfers")).collect();
                assert_eq!(s.transfers_batch("eth", &reqs, dir).expect("batch"), one_by_one);
                for ((a, af, _), list) in reqs.iter().zip(&one_by_one) {
                    assert_eq!(s.has_transfers_after("eth", a, dir, *af).expect("has"), !list.is_empty());
                }
                all.extend(one_by_one);
            }
            all
        };
        let keys_only = histories(&s);
        assert!(keys_only.iter().map(Vec::len).sum::<usize>() > 2 * blocks.len(), "the histories hold the transfers");
        let digest = s.verify(None).expect("verify").digest;
        let mut rewritten = 0;
        for name in [cf::ADDR_OUT, cf::ADDR_IN] {
            for (k, v) in s.prefix_scan(name, &[]).expect("scan").into_iter().step_by(2) {
                assert!(v.is_empty(), "a fresh store's adjacency rows are keys only");
                s.db.put_cf(s.cf(name), &k, transfer_row_of(&s, &k)).expect("put");
                rewritten += 1;
            }
        }
        assert!(rewritten > 10);
        assert_eq!(histories(&s), keys_only);
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        assert_eq!(v.digest, digest);
    }

    /// `chain(n)` with one internal (trace) transfer per block at sub 1; blocks in `missing`
    /// lack it and carry the flag, as an ingest without traces stores them.
    fn with_internal(n: u64, missing: Option<std::ops::RangeInclusive<u64>>) -> Vec<BlockData> {
        chain(n)
            .into_iter()
            .map(|mut b| {
                let first = b.transfers[0].clone();
                if missing.as_ref().is_some_and(|m| m.contains(&b.block.height)) {
                    b.internal_missing = true;
                } else {
                    b.transfers.insert(
                        1,
                        Transfer {
                            pos: Position { tx_index: 0, sub: 1 },
                            from: first.to,
                            to: Address::Evm([0x77; 20]),
                            amount: U256::from(3u64),
                            ..first
                        },
                    );
                }
                b
            })
            .collect()
    }

    #[test]
    fn filling_missing_internal_transfers_gives_the_store_a_full_ingest_gives() {
        let (_d, s) = fresh();
        s.apply_blocks("eth", &with_internal(10, Some(3..=6))).expect("apply");
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        assert_eq!(v.chains[0].recomputed.blocks_without_internal_transfers, 4);
        assert_eq!(s.stats().expect("stats").chains["eth"].blocks_without_internal_transfers, 4);
        assert_eq!(s.blocks_without_internal_transfers("eth", 0, 100).expect("gap"), vec![3, 4, 5, 6]);
        assert_eq!(s.blocks_without_internal_transfers("eth", 5, 5).expect("gap"), vec![5]);

        // A block read again from another branch is refused, and nothing is written.
        let full = with_internal(10, None);
        let mut other = full[4].clone();
        other.block.hash = Hash32([0xee; 32]);
        let before = s.verify(None).expect("verify").digest;
        assert!(matches!(
            s.fill_internal_transfers("eth", &[full[3].clone(), other]),
            Err(StoreError::ParentMismatch { height: 4, .. })
        ));
        assert_eq!(s.verify(None).expect("verify").digest, before);

        let sum = s.fill_internal_transfers("eth", &full[2..=7]).expect("fill");
        assert_eq!((sum.blocks, sum.transfers, sum.skipped), (4, 4, 2));
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        assert_eq!(v.chains[0].recomputed.blocks_without_internal_transfers, 0);
        let (_d2, clean) = fresh();
        clean.apply_blocks("eth", &full).expect("apply");
        let c = clean.verify(None).expect("verify");
        assert_eq!(v.digest, c.digest);
        assert_eq!(v.chains[0].recomputed, c.chains[0].recomputed);
        // Filling again changes nothing.
        assert_eq!(s.fill_internal_transfers("eth", &full[2..=7]).expect("fill").skipped, 6);
        assert!(s.blocks_without_internal_transfers("eth", 0, 100).expect("gap").is_empty());
    }

    #[test]
    fn a_rollback_forgets_the_missing_internal_transfers_of_the_removed_blocks() {
        let (_d, s) = fresh();
        s.apply_blocks("eth", &with_internal(10, Some(3..=6))).expect("apply");
        s.rollback_to("eth", 4).expect("rollback");
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        assert_eq!(v.chains[0].checkpoint.blocks_without_internal_transfers, 2);
        assert_eq!(s.blocks_without_internal_transfers("eth", 0, 100).expect("gap"), vec![3, 4]);
    }

    #[test]
    fn verify_of_an_unknown_chain_is_an_error() {
        let (_d, s) = fresh();
        s.apply_blocks("eth", &chain(2)).expect("apply");
        assert!(s.verify(Some("bitcoin")).is_err());
        assert!(s.verify(Some("eth")).expect("verify").ok());
    }
}
