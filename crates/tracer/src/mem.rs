//! An in-memory [`GraphSource`]: the graph tests build by hand or at random.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::OnceLock;

use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, BridgeSide, ChainBlock, ChainEdge, Conversion, Direction, Hash32, Label,
    Position, TokenMeta, Transfer, UtxoOutput, UtxoSpend,
};

use crate::source::{DenseView, GraphSource, OwnerFlows, Row};

/// A small transaction graph held in memory. Transfers must have unique chain-order keys.
#[derive(Clone, Debug, Default)]
pub struct MemGraph {
    chain: String,
    transfers: Vec<Transfer>,
    out_idx: BTreeMap<Address, Vec<usize>>,
    in_idx: BTreeMap<Address, Vec<usize>>,
    labels: BTreeMap<Address, Vec<Label>>,
    tokens: BTreeMap<[u8; 20], TokenMeta>,
    outputs: BTreeMap<Hash32, Vec<UtxoOutput>>,
    inputs: BTreeMap<Hash32, Vec<UtxoSpend>>,
    /// Conversions by owner, in chain order.
    conversions: BTreeMap<Address, Vec<Conversion>>,
    /// Bridge deposits by depositor, in chain order.
    deposits: BTreeMap<Address, Vec<BridgeEvent>>,
    /// Bridge releases by key.
    releases: BTreeMap<BridgeKey, BridgeEvent>,
    /// Dense ids in order of first appearance, for the [`DenseView`].
    ids: BTreeMap<Address, u32>,
    addrs: Vec<Address>,
    assets: Vec<Asset>,
    labelled: OnceLock<Vec<(u32, Vec<Label>)>>,
    /// The graph offers its [`DenseView`] (on unless [`MemGraph::without_dense_view`]).
    no_dense: bool,
}

impl MemGraph {
    /// An empty graph of the chain named `chain` (the name labels are matched against).
    pub fn new(chain: impl Into<String>) -> Self {
        MemGraph { chain: chain.into(), ..Default::default() }
    }

    /// The chain's name.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The same graph without its [`DenseView`]: the walk runs over addresses (tests compare
    /// the two walks).
    pub fn without_dense_view(mut self) -> Self {
        self.no_dense = true;
        self
    }

    /// Add a transfer, keeping each address's lists in chain order; its `(height, pos)` must be
    /// unique.
    pub fn add_transfer(&mut self, t: Transfer) {
        for a in [&t.from, &t.to] {
            if !self.ids.contains_key(a) {
                self.ids.insert(a.clone(), self.addrs.len() as u32);
                self.addrs.push(a.clone());
            }
        }
        if !self.assets.contains(&t.asset) {
            self.assets.push(t.asset);
        }
        self.labelled = OnceLock::new();
        let i = self.transfers.len();
        let key = t.order();
        for (idx, addr) in [(&mut self.out_idx, &t.from), (&mut self.in_idx, &t.to)] {
            let list = idx.entry(addr.clone()).or_default();
            // keep each list in chain order
            let at = list.partition_point(|&j| self.transfers[j].order() < key);
            list.insert(at, i);
        }
        self.transfers.push(t);
    }

    /// Add a label to its address.
    pub fn add_label(&mut self, label: Label) {
        self.labelled = OnceLock::new();
        self.labels.entry(label.address.clone()).or_default().push(label);
    }

    /// Record a token contract's metadata.
    pub fn add_token(&mut self, token: [u8; 20], meta: TokenMeta) {
        self.tokens.insert(token, meta);
    }

    /// Record a Bitcoin transaction's UTXO structure (outputs in vout order, spends in vin order).
    pub fn add_utxo_tx(&mut self, txid: Hash32, spends: Vec<UtxoSpend>, outputs: Vec<UtxoOutput>) {
        self.inputs.insert(txid, spends);
        self.outputs.insert(txid, outputs);
    }

    /// Add a conversion (a swap or a wrap) owned by its `owner`. Its legs are ordinary
    /// transfers the caller adds as well (a wrap has no output leg).
    pub fn add_conversion(&mut self, c: Conversion) {
        let list = self.conversions.entry(c.owner.clone()).or_default();
        let at = list.partition_point(|x| (x.height, x.pos) <= (c.height, c.pos));
        list.insert(at, c);
    }

    /// Add one end of a bridge crossing on this chain: a deposit (listed under its owner) or a
    /// release (found by its key). Its leg transfers are added by the caller.
    pub fn add_bridge_event(&mut self, e: BridgeEvent) {
        match &e.side {
            BridgeSide::Deposit { owner, .. } => {
                let list = self.deposits.entry(owner.clone()).or_default();
                let at = list.partition_point(|x| (x.height, x.pos) <= (e.height, e.pos));
                list.insert(at, e);
            }
            BridgeSide::Release { .. } => {
                self.releases.insert(e.key.clone(), e);
            }
        }
    }

    /// Every transfer in insertion order.
    pub fn all_transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    fn list(&self, addr: &Address, dir: Direction) -> &[usize] {
        let idx = match dir {
            Direction::Out => &self.out_idx,
            Direction::In => &self.in_idx,
        };
        idx.get(addr).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl GraphSource for MemGraph {
    type Error = Infallible;

    fn transfers(
        &self,
        addr: &Address,
        dir: Direction,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Transfer>, Infallible> {
        Ok(self
            .list(addr, dir)
            .iter()
            .map(|&i| &self.transfers[i])
            .filter(|t| after.is_none_or(|a| t.order() > a))
            .take(limit)
            .cloned()
            .collect())
    }

    fn labels(&self, addr: &Address) -> Result<Vec<Label>, Infallible> {
        Ok(self
            .labels
            .get(addr)
            .map(|ls| ls.iter().filter(|l| l.applies_to(&self.chain)).cloned().collect())
            .unwrap_or_default())
    }

    fn degree(&self, addr: &Address, dir: Direction, cap: u64) -> Result<u64, Infallible> {
        Ok((self.list(addr, dir).len() as u64).min(cap))
    }

    fn token_meta(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, Infallible> {
        Ok(self.tokens.get(token).cloned())
    }

    fn conversions(
        &self,
        addr: &Address,
        after: Option<(u64, Position)>,
        limit: usize,
    ) -> Result<Vec<Conversion>, Infallible> {
        Ok(self
            .conversions
            .get(addr)
            .map(|l| l.iter().filter(|c| after.is_none_or(|a| (c.height, c.pos) > a)).take(limit).cloned().collect())
            .unwrap_or_default())
    }

    fn bridge_deposits(&self, addr: &Address) -> Result<Vec<BridgeEvent>, Infallible> {
        Ok(self.deposits.get(addr).cloned().unwrap_or_default())
    }

    fn bridge_release(&self, key: &BridgeKey) -> Result<Option<BridgeEvent>, Infallible> {
        Ok(self.releases.get(key).cloned())
    }

    fn tx_inputs(&self, txid: &Hash32) -> Result<Option<Vec<(UtxoSpend, Option<UtxoOutput>)>>, Infallible> {
        if self.outputs.is_empty() {
            return Ok(None);
        }
        let spends = self.inputs.get(txid).cloned().unwrap_or_default();
        Ok(Some(
            spends
                .into_iter()
                .map(|s| {
                    let prev = self
                        .outputs
                        .get(&s.prev_txid)
                        .and_then(|outs| outs.iter().find(|o| o.vout == s.prev_vout))
                        .cloned();
                    (s, prev)
                })
                .collect(),
        ))
    }

    fn tx_outputs(&self, txid: &Hash32) -> Result<Option<Vec<UtxoOutput>>, Infallible> {
        if self.outputs.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.outputs.get(txid).cloned().unwrap_or_default()))
    }

    fn dense(&self) -> Option<&dyn DenseView<Error = Infallible>> {
        if self.no_dense {
            None
        } else {
            Some(self)
        }
    }
}

impl MemGraph {
    fn row(&self, i: usize, dir: Direction) -> Row {
        let t = &self.transfers[i];
        let other = match dir {
            Direction::Out => &t.to,
            Direction::In => &t.from,
        };
        Row {
            height: t.height,
            time: t.time,
            tx_index: t.pos.tx_index,
            sub: t.pos.sub,
            tx: i as u32,
            other: self.ids[other],
            asset: self.assets.iter().position(|a| *a == t.asset).unwrap_or(0) as u32,
            amount: t.amount,
        }
    }
}

impl DenseView for MemGraph {
    type Error = Infallible;

    fn id_of(&self, addr: &Address) -> Option<u32> {
        self.ids.get(addr).copied()
    }

    fn address(&self, id: u32) -> Result<Address, Infallible> {
        Ok(self.addrs[id as usize].clone())
    }

    fn assets(&self) -> &[Asset] {
        &self.assets
    }

    fn degrees(&self, id: u32) -> Result<(u64, u64), Infallible> {
        let a = &self.addrs[id as usize];
        Ok((self.list(a, Direction::Out).len() as u64, self.list(a, Direction::In).len() as u64))
    }

    fn rows(
        &self,
        id: u32,
        dir: Direction,
        after: Option<(u64, Position)>,
        out: &mut Vec<Row>,
    ) -> Result<(), Infallible> {
        let a = &self.addrs[id as usize];
        out.extend(
            self.list(a, dir)
                .iter()
                .filter(|&&i| after.is_none_or(|k| self.transfers[i].order() > k))
                .map(|&i| self.row(i, dir)),
        );
        Ok(())
    }

    fn has_rows_after(&self, id: u32, dir: Direction, after: Option<(u64, Position)>) -> Result<bool, Infallible> {
        let a = &self.addrs[id as usize];
        Ok(self.list(a, dir).iter().any(|&i| after.is_none_or(|k| self.transfers[i].order() > k)))
    }

    fn tx_hashes(&self, txs: &[u32]) -> Result<Vec<Hash32>, Infallible> {
        Ok(txs.iter().map(|&tx| self.transfers[tx as usize].tx).collect())
    }

    fn labelled(&self) -> Result<&[(u32, Vec<Label>)], Infallible> {
        Ok(self.labelled.get_or_init(|| {
            let mut v: Vec<(u32, Vec<Label>)> = self
                .labels
                .iter()
                .filter_map(|(a, ls)| {
                    let id = *self.ids.get(a)?;
                    let ls: Vec<Label> = ls.iter().filter(|l| l.applies_to(&self.chain)).cloned().collect();
                    (!ls.is_empty()).then_some((id, ls))
                })
                .collect();
            v.sort_by_key(|(id, _)| *id);
            v
        }))
    }

    fn flows_free(&self) -> bool {
        self.conversions.is_empty() && self.deposits.is_empty() && self.releases.is_empty()
    }

    fn chain_size(&self) -> Option<(u64, u64)> {
        Some((self.transfers.len() as u64, self.addrs.len() as u64))
    }

    fn scan_chain(&self, fwd: bool, f: &mut dyn FnMut(ChainBlock, &[ChainEdge])) -> Result<(), Infallible> {
        // the transfers in chain order, one call per block (a height and time)
        let mut order: Vec<usize> = (0..self.transfers.len()).collect();
        order.sort_by_key(|&i| self.transfers[i].order());
        let mut blocks: Vec<(ChainBlock, Vec<ChainEdge>)> = Vec::new();
        for i in order {
            let t = &self.transfers[i];
            let block = ChainBlock { height: t.height, time: t.time };
            if blocks.last().is_none_or(|(b, _)| *b != block) {
                blocks.push((block, Vec::new()));
            }
            let r = self.row(i, Direction::Out);
            let edge = ChainEdge { from: self.ids[&t.from], to: r.other, asset: r.asset, moved: !t.amount.is_zero() };
            if let Some((_, edges)) = blocks.last_mut() {
                edges.push(edge);
            }
        }
        if !fwd {
            blocks.reverse();
        }
        for (b, edges) in &blocks {
            f(*b, edges);
        }
        Ok(())
    }

    fn flows_of(&self, ids: &[u32]) -> Result<Vec<OwnerFlows>, Infallible> {
        let addrs: Vec<Address> = ids.iter().map(|&id| self.addrs[id as usize].clone()).collect();
        GraphSource::flows_batch(self, &addrs)
    }
}
