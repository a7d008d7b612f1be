//! Flow rows: conversions (swaps, wraps), bridge events and on-chain price points, written with
//! their block in the same batch, removed with it on rollback, and read back in the orders the
//! tracer and the valuation ask for (`docs/schema.md`, column families `flows` and
//! `flow_index`).
//!
//! Values are the model types as JSON (self-describing, so a field added later reads as its
//! default in older rows). The `flows` row is the primary copy, keyed by block so a rollback
//! finds it; each has exactly one `flow_index` row with the same value, keyed by what the
//! tracer asks for: a conversion by its owner, a bridge deposit by its owner, a release by its
//! [`BridgeKey`], a price point by its feed and `updated_at`.

use chaintrace_model::{Address, BlockData, BridgeEvent, BridgeKey, BridgeSide, Conversion, Position, PricePoint};
use rocksdb::{IteratorMode, ReadOptions};
use serde::{Deserialize, Serialize};

use crate::batch::SortedBatch;
use crate::keys::{cf, flow_index, BlockKey, ChainNo, FlowKey, FlowKind};
use crate::rows::FlowCounts;
use crate::{Store, StoreError};

/// One `flows` value: the flow as the adapter gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlowRow {
    Conversion(Conversion),
    Bridge(BridgeEvent),
    Price(PricePoint),
}

impl FlowRow {
    pub(crate) fn kind(&self) -> FlowKind {
        match self {
            FlowRow::Conversion(_) => FlowKind::Conversion,
            FlowRow::Bridge(_) => FlowKind::Bridge,
            FlowRow::Price(_) => FlowKind::Price,
        }
    }

    pub(crate) fn height(&self) -> u64 {
        match self {
            FlowRow::Conversion(c) => c.height,
            FlowRow::Bridge(e) => e.height,
            FlowRow::Price(p) => p.height,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("JSON serialisation of plain model types cannot fail")
    }

    pub(crate) fn decode(b: &[u8]) -> Option<FlowRow> {
        serde_json::from_slice(b).ok()
    }

    /// The `flow_index` key of this row (`seq`: its place in its block's list of its kind).
    pub(crate) fn index_key(&self, chain: ChainNo, seq: u32) -> Vec<u8> {
        match self {
            FlowRow::Conversion(c) => {
                let p = flow_index::prefix(chain, FlowKind::Conversion, &[&c.owner.to_key()]);
                flow_index::ordered(&p, c.height, c.pos, seq)
            }
            FlowRow::Bridge(e) => flow_index::ordered(&bridge_prefix(chain, e), e.height, e.pos, seq),
            FlowRow::Price(pp) => {
                let p = flow_index::prefix(chain, FlowKind::Price, &[&pp.feed.to_key()]);
                flow_index::price(&p, pp.updated_at, pp.round)
            }
        }
    }

    fn count(&self, counts: &mut FlowCounts, delta: i64) {
        let n = match self {
            FlowRow::Conversion(_) => &mut counts.conversions,
            FlowRow::Bridge(_) => &mut counts.bridge_events,
            FlowRow::Price(_) => &mut counts.price_points,
        };
        *n = n.saturating_add_signed(delta);
    }
}

/// An owner's conversions and its bridge deposits, as [`Store::flows_of_many`] gives them.
pub type OwnerFlows = (Vec<Conversion>, Vec<BridgeEvent>);

fn deposit_prefix(chain: ChainNo, owner: &Address) -> Vec<u8> {
    flow_index::prefix(chain, FlowKind::Bridge, &[b"d", &owner.to_key()])
}

fn release_prefix(chain: ChainNo, key: &BridgeKey) -> Vec<u8> {
    flow_index::prefix(chain, FlowKind::Bridge, &[b"r", key.protocol.as_bytes(), &key.id])
}

fn bridge_prefix(chain: ChainNo, e: &BridgeEvent) -> Vec<u8> {
    match &e.side {
        BridgeSide::Deposit { owner, .. } => deposit_prefix(chain, owner),
        BridgeSide::Release { .. } => release_prefix(chain, &e.key),
    }
}

/// The flow rows of one block, in the order they get their `seq`.
pub(crate) fn block_flows(data: &BlockData) -> impl Iterator<Item = (u32, FlowRow)> + '_ {
    let conv = data.conversions.iter().cloned().map(FlowRow::Conversion).enumerate();
    let bridge = data.bridge_events.iter().cloned().map(FlowRow::Bridge).enumerate();
    let price = data.price_points.iter().cloned().map(FlowRow::Price).enumerate();
    conv.chain(bridge).chain(price).map(|(i, r)| (u32::try_from(i).unwrap_or(u32::MAX), r))
}

impl Store {
    /// Write one block's flow rows (primary and index) into `batch`; counts go to `counts`.
    pub(crate) fn put_block_flows(
        &self,
        no: ChainNo,
        data: &BlockData,
        batch: &mut SortedBatch,
        counts: &mut FlowCounts,
    ) -> Result<(), StoreError> {
        let height = data.block.height;
        for (seq, row) in block_flows(data) {
            if row.height() != height {
                return Err(StoreError::Invalid(format!(
                    "a {:?} row says height {} inside block {height}",
                    row.kind(),
                    row.height()
                )));
            }
            let v = row.encode();
            batch.put_cf(cf::FLOWS, FlowKey { chain: no, height, kind: row.kind(), seq }.encode(), &v);
            batch.put_cf(cf::FLOW_INDEX, row.index_key(no, seq), &v);
            row.count(counts, 1);
        }
        Ok(())
    }

    /// Delete one block's flow rows (primary and index) in `batch`; counts go down in `counts`.
    pub(crate) fn delete_block_flows(
        &self,
        no: ChainNo,
        height: u64,
        batch: &mut SortedBatch,
        counts: &mut FlowCounts,
    ) -> Result<(), StoreError> {
        let prefix = BlockKey { chain: no, height }.encode();
        for (k, v) in self.prefix_scan(cf::FLOWS, &prefix)? {
            let key = FlowKey::decode(&k).ok_or_else(|| StoreError::Corrupt(format!("flow key at height {height}")))?;
            let row = FlowRow::decode(&v).ok_or_else(|| StoreError::Corrupt(format!("flow row at height {height}")))?;
            batch.delete_cf(cf::FLOW_INDEX, row.index_key(no, key.seq));
            batch.delete_cf(cf::FLOWS, &k);
            row.count(counts, -1);
        }
        Ok(())
    }

    /// Decode the index rows under `prefix` from `start` on until `take` says stop.
    fn index_rows(
        &self,
        prefix: &[u8],
        start: &[u8],
        mut take: impl FnMut(&[u8], FlowRow) -> bool,
    ) -> Result<(), StoreError> {
        let mut bad = false;
        self.prefix_for_each_from(cf::FLOW_INDEX, prefix, start, |k, v| match FlowRow::decode(v) {
            Some(row) => take(k, row),
            None => {
                bad = true;
                false
            }
        })?;
        if bad {
            return Err(StoreError::Corrupt("a flow_index row does not decode".into()));
        }
        Ok(())
    }

    /// The chain's flow row counts as its checkpoint records them (kept in memory): a chain
    /// with no row of a kind answers the tracer's per-address look-ups of that kind without a
    /// RocksDB iterator each (a trace asks for every address it expands).
    fn flow_counts(&self, chain: &str) -> FlowCounts {
        self.lock().chains.get(chain).map(|c| c.flows).unwrap_or_default()
    }

    /// Whether `chain` holds any conversion or bridge row (from its checkpoint; reads no rows).
    /// A reader can skip per-address flow look-ups on a chain without them.
    pub fn has_flows(&self, chain: &str) -> bool {
        let f = self.flow_counts(chain);
        f.conversions > 0 || f.bridge_events > 0
    }

    /// Conversions owned by `owner` on `chain`, in chain order, strictly after `after` when
    /// given, at most `limit`. None for an unknown chain or an owner without conversions.
    pub fn conversions(
        &self,
        chain: &str,
        owner: &Address,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Conversion>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        if self.flow_counts(chain).conversions == 0 {
            return Ok(Vec::new());
        }
        let prefix = flow_index::prefix(no, FlowKind::Conversion, &[&owner.to_key()]);
        let start = match after {
            Some((h, p)) => flow_index::ordered(&prefix, h, p, 0),
            None => prefix.clone(),
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.index_rows(&prefix, &start, |k, row| {
            if let FlowRow::Conversion(c) = row {
                if after.is_none_or(|a| flow_index::ordered_position(k).is_some_and(|p| p > a)) {
                    out.push(c);
                }
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Bridge deposits sent by `owner` on `chain`, in chain order.
    pub fn bridge_deposits(&self, chain: &str, owner: &Address) -> Result<Vec<BridgeEvent>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        if self.flow_counts(chain).bridge_events == 0 {
            return Ok(Vec::new());
        }
        let prefix = deposit_prefix(no, owner);
        let mut out = Vec::new();
        self.index_rows(&prefix, &prefix, |_, row| {
            if let FlowRow::Bridge(e) = row {
                out.push(e);
            }
            true
        })?;
        Ok(out)
    }

    /// The conversions and the bridge deposits of each of `owners` on `chain`, in the order of
    /// `owners`: for each, what [`Store::conversions`] (from the start, no limit) and
    /// [`Store::bridge_deposits`] give. One RocksDB iterator serves them all, each owner's rows a
    /// seek in key order: a walk asks this for every address a hop level expands, and an
    /// iterator per owner and kind cost more than the rows it read.
    pub fn flows_of_many(&self, chain: &str, owners: &[Address]) -> Result<Vec<OwnerFlows>, StoreError> {
        let mut out: Vec<OwnerFlows> = vec![(Vec::new(), Vec::new()); owners.len()];
        let Some(no) = self.chain_no(chain) else { return Ok(out) };
        let counts = self.flow_counts(chain);
        // (prefix, owner, whether it is the deposits') in key order
        let mut seeks: Vec<(Vec<u8>, usize, bool)> = Vec::new();
        for (i, owner) in owners.iter().enumerate() {
            if counts.conversions > 0 {
                seeks.push((flow_index::prefix(no, FlowKind::Conversion, &[&owner.to_key()]), i, false));
            }
            if counts.bridge_events > 0 {
                seeks.push((deposit_prefix(no, owner), i, true));
            }
        }
        if seeks.is_empty() {
            return Ok(out);
        }
        seeks.sort_unstable();
        let Some(handle) = self.db.cf_handle(cf::FLOW_INDEX) else { return Ok(out) };
        let mut ro = ReadOptions::default();
        if let Some(end) = crate::keys::prefix_end(&no.to_be_bytes()) {
            ro.set_iterate_upper_bound(end);
        }
        let mut it = self.db.raw_iterator_cf_opt(handle, ro);
        let corrupt = || StoreError::Corrupt("a flow_index row does not decode".into());
        for (prefix, i, deposits) in &seeks {
            it.seek(prefix);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if !k.starts_with(prefix) {
                    break;
                }
                match (FlowRow::decode(v).ok_or_else(corrupt)?, deposits) {
                    (FlowRow::Conversion(c), false) => out[*i].0.push(c),
                    (FlowRow::Bridge(e), true) => out[*i].1.push(e),
                    _ => {}
                }
                it.next();
            }
            it.status()?;
        }
        Ok(out)
    }

    /// The release on `chain` of the bridge crossing `key`, when `chain` holds one (the first in
    /// chain order should a bridge ever release one key twice).
    pub fn bridge_release(&self, chain: &str, key: &BridgeKey) -> Result<Option<BridgeEvent>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(None) };
        if self.flow_counts(chain).bridge_events == 0 {
            return Ok(None);
        }
        let prefix = release_prefix(no, key);
        let mut out = None;
        self.index_rows(&prefix, &prefix, |_, row| {
            if let FlowRow::Bridge(e) = row {
                out = Some(e);
            }
            false
        })?;
        Ok(out)
    }

    /// Every stored price point of `feed` on `chain`, by `updated_at` (then round).
    pub fn price_points(&self, chain: &str, feed: &Address) -> Result<Vec<PricePoint>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(Vec::new()) };
        let prefix = flow_index::prefix(no, FlowKind::Price, &[&feed.to_key()]);
        let mut out = Vec::new();
        self.index_rows(&prefix, &prefix, |_, row| {
            if let FlowRow::Price(p) = row {
                out.push(p);
            }
            true
        })?;
        Ok(out)
    }

    /// The newest price point of `feed` on `chain` updated at or before `time` (one reverse
    /// seek), or `None` when the feed has none that early.
    pub fn price_at(&self, chain: &str, feed: &Address, time: u64) -> Result<Option<PricePoint>, StoreError> {
        let Some(no) = self.chain_no(chain) else { return Ok(None) };
        let prefix = flow_index::prefix(no, FlowKind::Price, &[&feed.to_key()]);
        let seek = flow_index::price(&prefix, time, u64::MAX);
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(prefix.clone());
        let Some(handle) = self.db.cf_handle(cf::FLOW_INDEX) else { return Ok(None) };
        let mut it = self.db.iterator_cf_opt(handle, ro, IteratorMode::From(&seek, rocksdb::Direction::Reverse));
        match it.next() {
            Some(item) => {
                let (k, v) = item?;
                if !k.starts_with(&prefix) {
                    return Ok(None);
                }
                match FlowRow::decode(&v) {
                    Some(FlowRow::Price(p)) => Ok(Some(p)),
                    _ => Err(StoreError::Corrupt("a price point row does not decode".into())),
                }
            }
            None => Ok(None),
        }
    }

    /// Every flow row of chain `no`: (key, row), or the key of a row that does not decode.
    pub(crate) fn scan_flows(
        &self,
        no: ChainNo,
        mut f: impl FnMut(&[u8], Option<(FlowKey, FlowRow)>),
    ) -> Result<(), StoreError> {
        self.prefix_for_each(cf::FLOWS, &no.to_be_bytes(), |k, v| {
            f(k, FlowKey::decode(k).zip(FlowRow::decode(v)));
            true
        })
    }

    /// How many `flow_index` rows chain `no` holds.
    pub(crate) fn count_flow_index(&self, no: ChainNo) -> Result<u64, StoreError> {
        let mut n = 0u64;
        self.prefix_for_each(cf::FLOW_INDEX, &no.to_be_bytes(), |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use chaintrace_model::{Asset, BlockRef, ConversionKind, Hash32, Transfer, U256};

    use super::*;

    fn h(height: u64, fork: u8) -> Hash32 {
        let mut b = [fork; 32];
        b[..8].copy_from_slice(&height.to_be_bytes());
        Hash32(b)
    }

    fn owner(i: u64) -> Address {
        Address::Evm([u8::try_from(i % 5).unwrap() + 1; 20])
    }

    /// Block `height`: one transfer, one conversion by `owner(height)`, a bridge deposit on odd
    /// heights and a release of the deposit of `height - 1` on even ones, one price point.
    fn block(height: u64) -> BlockData {
        let parent = if height == 0 { Hash32::ZERO } else { h(height - 1, 0) };
        let time = 1_700_000_000 + height * 12;
        let mut b = BlockData::new(BlockRef { height, hash: h(height, 0), parent, time });
        b.tx_count = 1;
        let tx = h(height, 9);
        let pos = Position { tx_index: 0, sub: 0x8000_0000 };
        b.transfers.push(Transfer {
            tx,
            height,
            pos,
            time,
            from: owner(height),
            to: Address::Evm([0xee; 20]),
            asset: Asset::Token([0xaa; 20]),
            amount: U256::from(1000 + height),
        });
        b.conversions.push(Conversion {
            tx,
            height,
            pos,
            time,
            owner: owner(height),
            asset_in: Asset::Token([0xaa; 20]),
            amount_in: U256::from(1000 + height),
            asset_out: Asset::Native,
            amount_out: U256::from(7 * height),
            venue: Some(Address::Evm([0xee; 20])),
            kind: ConversionKind::UniswapV2,
        });
        let side = if height % 2 == 1 {
            BridgeSide::Deposit { owner: owner(height), recipient: vec![7; 32], dest_domain: Some(3) }
        } else {
            BridgeSide::Release { recipient: owner(height) }
        };
        let nonce = if height % 2 == 1 { height } else { height.saturating_sub(1) };
        b.bridge_events.push(BridgeEvent {
            tx,
            height,
            pos,
            time,
            key: BridgeKey::cctp(0, nonce),
            asset: Asset::Token([0xbb; 20]),
            amount: U256::from(5u64),
            side,
            contract: Address::Evm([0xcc; 20]),
        });
        b.price_points.push(PricePoint {
            feed: Address::Evm([0xfe; 20]),
            round: height + 1,
            answer: 200_000_000_000 + i128::from(height),
            updated_at: time - 3,
            height,
        });
        b
    }

    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        (dir, s)
    }

    /// `flows_of_many` gives each owner, in the order asked, what the per-owner look-ups give,
    /// and what the fixture put there: conversions at the heights `owner(h)` names, deposits at
    /// its odd ones (an owner asked twice, one without rows and a release's recipient, which
    /// owns no deposit, included; another chain has none), with a few rows of the owner not asked
    /// for between two that are (30 blocks) and with forty (200).
    #[test]
    fn many_owners_read_at_once_as_one_by_one() {
        many_owners_read_at_once(30);
        many_owners_read_at_once(200);
    }

    fn many_owners_read_at_once(heights: u64) {
        let blocks: Vec<BlockData> = (0..heights).map(block).collect();
        let (_d, s) = fresh();
        s.apply_blocks("eth", &blocks).expect("apply");
        let owners: Vec<Address> = vec![owner(3), owner(0), Address::Evm([0x42; 20]), owner(3), owner(1), owner(4)];
        let many = s.flows_of_many("eth", &owners).expect("many");
        assert_eq!(many.len(), owners.len());
        for (o, (convs, deps)) in owners.iter().zip(&many) {
            assert_eq!(*convs, s.conversions("eth", o, None, usize::MAX).expect("conversions"), "{o:?}");
            assert_eq!(*deps, s.bridge_deposits("eth", o).expect("deposits"), "{o:?}");
            let mine = |h: &u64| owner(*h) == *o;
            let want: Vec<u64> = (0..heights).filter(mine).collect();
            assert_eq!(convs.iter().map(|c| c.height).collect::<Vec<_>>(), want, "{o:?}");
            let want: Vec<u64> = (0..heights).filter(|h| h % 2 == 1).filter(mine).collect();
            assert_eq!(deps.iter().map(|e| e.height).collect::<Vec<_>>(), want, "{o:?}");
        }
        assert!(many[2].0.is_empty() && many[2].1.is_empty(), "an address without flows");
        let other = s.flows_of_many("ethereum", &owners).expect("other chain");
        assert!(other.iter().all(|(c, d)| c.is_empty() && d.is_empty()));
        assert!(s.flows_of_many("eth", &[]).expect("none").is_empty());
    }

    #[test]
    fn flows_are_stored_with_their_block_read_in_order_and_rolled_back() {
        let blocks: Vec<BlockData> = (0..20).map(block).collect();
        let (_d, s) = fresh();
        s.apply_blocks("eth", &blocks[..10]).expect("apply");
        s.apply_blocks("eth", &blocks[10..]).expect("apply");
        // Owner 1 converted at heights 0, 5, 10, 15 (owner(h) = h % 5 + 1).
        let o = owner(0);
        let all = s.conversions("eth", &o, None, 100).expect("conversions");
        assert_eq!(all.iter().map(|c| c.height).collect::<Vec<_>>(), vec![0, 5, 10, 15]);
        assert_eq!(all[1], blocks[5].conversions[0]);
        let after = s.conversions("eth", &o, Some((5, all[1].pos)), 1).expect("after");
        assert_eq!(after.iter().map(|c| c.height).collect::<Vec<_>>(), vec![10], "strictly after, limited");
        // Deposits by owner, releases by key.
        let deps = s.bridge_deposits("eth", &owner(1)).expect("deposits");
        assert_eq!(deps.iter().map(|e| e.height).collect::<Vec<_>>(), vec![1, 11]);
        let rel = s.bridge_release("eth", &BridgeKey::cctp(0, 11)).expect("release").expect("released");
        assert_eq!(rel, blocks[12].bridge_events[0]);
        assert_eq!(s.bridge_release("eth", &BridgeKey::cctp(1, 11)).expect("release"), None, "other domain");
        assert_eq!(s.bridge_release("ethereum", &BridgeKey::cctp(0, 11)).expect("release"), None, "other chain");
        // Price points: all in order, and the newest at or before a time.
        let feed = Address::Evm([0xfe; 20]);
        assert_eq!(s.price_points("eth", &feed).expect("points").len(), 20);
        let t7 = blocks[7].price_points[0].updated_at;
        assert_eq!(s.price_at("eth", &feed, t7).expect("at").map(|p| p.round), Some(8));
        assert_eq!(s.price_at("eth", &feed, t7 + 11).expect("at").map(|p| p.round), Some(8));
        assert_eq!(s.price_at("eth", &feed, t7 + 12).expect("at").map(|p| p.round), Some(9));
        assert_eq!(s.price_at("eth", &feed, 0).expect("at"), None);
        assert_eq!(s.price_at("eth", &feed, u64::MAX).expect("at").map(|p| p.round), Some(20));
        let st = s.stats().expect("stats");
        let c = &st.chains["eth"];
        assert_eq!((c.conversions, c.bridge_events, c.price_points), (20, 20, 20));
        assert!(s.verify(None).expect("verify").ok(), "{:?}", s.verify(None).expect("verify").chains[0].problems);

        // Rollback removes the rows of the removed blocks, and the store equals one that never
        // saw them.
        s.rollback_to("eth", 11).expect("rollback");
        assert_eq!(s.conversions("eth", &o, None, 100).expect("c").len(), 3);
        assert_eq!(s.bridge_release("eth", &BridgeKey::cctp(0, 11)).expect("release"), None);
        assert_eq!(s.price_at("eth", &feed, u64::MAX).expect("at").map(|p| p.round), Some(12));
        let v = s.verify(None).expect("verify");
        assert!(v.ok(), "{:?}", v.chains[0].problems);
        assert_eq!((v.chains[0].recomputed.conversions, v.chains[0].checkpoint.price_points), (12, 12));
        let (_d2, clean) = fresh();
        clean.apply_blocks("eth", &blocks[..12]).expect("apply");
        for cf_name in [cf::FLOWS, cf::FLOW_INDEX] {
            assert_eq!(s.prefix_scan(cf_name, &[]).expect("scan"), clean.prefix_scan(cf_name, &[]).expect("scan"));
        }
        // Applying the same blocks again changes nothing.
        s.apply_blocks("eth", &blocks[10..]).expect("apply again");
        s.apply_blocks("eth", &blocks[10..]).expect("apply again");
        assert_eq!(s.stats().expect("stats").chains["eth"].conversions, 20);
        assert!(s.verify(None).expect("verify").ok());
    }

    #[test]
    fn verify_finds_damaged_flow_rows() {
        let blocks: Vec<BlockData> = (0..6).map(block).collect();
        type Damage = fn(&Store);
        let cases: [(&str, Damage); 4] = [
            ("index row deleted", |s| {
                let (k, _) = s.prefix_scan(cf::FLOW_INDEX, &[]).expect("scan").remove(2);
                s.db.delete_cf(s.cf(cf::FLOW_INDEX), k).expect("delete");
            }),
            ("primary row deleted", |s| {
                let (k, _) = s.prefix_scan(cf::FLOWS, &[]).expect("scan").remove(4);
                s.db.delete_cf(s.cf(cf::FLOWS), k).expect("delete");
            }),
            ("index row changed", |s| {
                let (k, v) = s.prefix_scan(cf::FLOW_INDEX, &[]).expect("scan").remove(1);
                let text = String::from_utf8(v).expect("json").replacen("1", "2", 1);
                s.db.put_cf(s.cf(cf::FLOW_INDEX), k, text).expect("put");
            }),
            ("stray index row", |s| {
                let mut k = s.prefix_scan(cf::FLOW_INDEX, &[]).expect("scan").remove(0).0;
                k.push(0);
                s.db.put_cf(s.cf(cf::FLOW_INDEX), k, b"{}").expect("put");
            }),
        ];
        for (what, damage) in cases {
            let (_d, s) = fresh();
            s.apply_blocks("eth", &blocks).expect("apply");
            assert!(s.verify(None).expect("verify").ok(), "{what}: clean before");
            damage(&s);
            assert!(!s.verify(None).expect("verify").ok(), "{what}: verify found nothing");
        }
    }

    #[test]
    fn a_flow_row_at_another_height_is_refused_and_nothing_is_written() {
        let mut b = block(0);
        b.conversions[0].height = 3;
        let (_d, s) = fresh();
        let err = s.apply_blocks("eth", &[b]).expect_err("refused");
        assert!(err.to_string().contains("height 3 inside block 0"), "{err}");
        assert_eq!(s.tip("eth").expect("tip"), None);
        assert!(s.prefix_scan(cf::FLOWS, &[]).expect("scan").is_empty());
    }
}
