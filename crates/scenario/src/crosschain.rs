//! The cross-asset, cross-chain typology as data: stablecoin payroll → swap (Uniswap V2- and
//! V3-style) → ETH → bridge → second chain → exchange deposit, with decoys, and its ground truth
//! from the [`Ledger`].
//!
//! This generator writes the graph the way ingest stores it (transfers with their positions,
//! the conversions and bridge events recognised beside them, labels) for two EVM chains,
//! `ethereum` and `arbitrum`, so the tracer can be checked over in-memory graphs before real
//! ingest of swaps and bridges lands; the anvil end-to-end version drives real Uniswap pools.
//! The ground truth is the ledger's, computed from SPEC's rules as each movement is generated —
//! never from the tracer.
//!
//! Events are generated in the walk's total order: strictly increasing block time across both
//! chains (so the chain-name tiebreak never matters), heights increasing per chain, a decoy
//! swap sharing its block with a traced swap by transaction index.
//!
//! Decoys, none of which any policy may flag:
//! - an unrelated user swaps USDC for ETH through the same pool in the same block as a traced
//!   swap, then deposits the ETH;
//! - an unrelated user bridges ETH; its release goes to someone else on arbitrum, who deposits
//!   it;
//! - a wallet swaps its own clean USDC, receives traced USDC only after the swap, and deposits
//!   the swap's ETH.

use alloy_primitives::U256 as AU256;
use chaintrace_model::{
    Address, Asset, BridgeEvent, BridgeKey, BridgeSide, Category, Conversion, ConversionKind, Hash32, Label, Position,
    TokenMeta, Transfer, U256,
};

use crate::ledger::{Ledger, Traced};
use crate::rng::Rng;

/// One chain's part of the case, as the store would hold it.
#[derive(Clone, Debug, Default)]
pub struct ChainData {
    /// The chain's name in the config.
    pub name: String,
    /// Every transfer, each with a unique position.
    pub transfers: Vec<Transfer>,
    /// Conversions recognised in the chain's transactions.
    pub conversions: Vec<Conversion>,
    /// Bridge deposits and releases on this chain.
    pub bridge_events: Vec<BridgeEvent>,
    /// Labels (exchange deposit addresses).
    pub labels: Vec<Label>,
    /// Token metadata.
    pub tokens: Vec<([u8; 20], TokenMeta)>,
}

/// One transfer into an exchange deposit address, with what each policy must trace into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossDeposit {
    /// The chain it happened on.
    pub chain: String,
    /// The transaction.
    pub tx: Hash32,
    /// The deposit address.
    pub address: Address,
    /// The asset that entered it.
    pub asset: Asset,
    /// Traced base units per policy (poison, haircut, fifo).
    pub traced: [U256; 3],
    /// Why it is there.
    pub note: String,
}

/// The generated case.
#[derive(Clone, Debug)]
pub struct CrossChain {
    /// `ethereum` then `arbitrum`.
    pub chains: Vec<ChainData>,
    /// The seeds (the sanctioned workers' wallets; seeds on both chains).
    pub seeds: Vec<Address>,
    /// Every transfer into a deposit address, true deposits and decoys alike.
    pub deposits: Vec<CrossDeposit>,
    /// Most hops any traced funds travelled.
    pub max_hops: u32,
    /// Swaps that carried traced funds, per policy (poison, haircut, fifo).
    pub swaps: [usize; 3],
    /// Bridge crossings that carried traced funds, per policy.
    pub crossings: [usize; 3],
}

/// USDC on ethereum (6 decimals).
pub const USDC_ETH: [u8; 20] = [0xa0; 20];
/// USDC on arbitrum.
pub const USDC_ARB: [u8; 20] = [0xaf; 20];
const T0: u64 = 1_717_200_000;

fn addr(tag: u8, i: u32) -> Address {
    let mut b = [tag; 20];
    b[16..].copy_from_slice(&i.to_be_bytes());
    Address::Evm(b)
}

fn au(x: U256) -> AU256 {
    AU256::from_limbs(*x.as_limbs())
}

fn mu(x: AU256) -> U256 {
    U256::from_limbs(*x.as_limbs())
}

fn mt(t: Traced) -> [U256; 3] {
    t.map(mu)
}

struct Builder {
    chains: Vec<ChainData>,
    heights: [u64; 2],
    next_tx: u32,
    time: u64,
    ledger: Ledger,
    deposit_addrs: Vec<(usize, Address)>,
    deposits: Vec<CrossDeposit>,
    swaps: [usize; 3],
    crossings: [usize; 3],
}

fn count(n: &mut [usize; 3], traced: [U256; 3]) {
    for (c, t) in n.iter_mut().zip(traced) {
        *c += usize::from(!t.is_zero());
    }
}

impl Builder {
    fn key(&self, c: usize, a: &Address) -> String {
        format!("{}:{a}", self.chains[c].name)
    }

    fn asset_text(c: usize, asset: Asset) -> String {
        let _ = c;
        asset.display("ETH")
    }

    /// A new block on chain `c`, later than everything so far.
    fn block(&mut self, c: usize, rng: &mut Rng) -> (u64, u64) {
        self.time += 1 + rng.below(30);
        self.heights[c] += 1 + rng.below(3);
        (self.heights[c], self.time)
    }

    fn tx(&mut self) -> (Hash32, u32) {
        self.next_tx += 1;
        let mut h = [0x77u8; 32];
        h[28..].copy_from_slice(&self.next_tx.to_be_bytes());
        (Hash32(h), self.next_tx)
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        c: usize,
        at: (u64, u64),
        tx: (Hash32, u32),
        sub: u32,
        from: &Address,
        to: &Address,
        asset: Asset,
        amount: U256,
    ) {
        self.chains[c].transfers.push(Transfer {
            tx: tx.0,
            height: at.0,
            pos: Position { tx_index: tx.1, sub },
            time: at.1,
            from: from.clone(),
            to: to.clone(),
            asset,
            amount,
        });
    }

    fn record_deposit(&mut self, c: usize, tx: Hash32, to: &Address, asset: Asset, traced: [U256; 3], note: &str) {
        if self.deposit_addrs.iter().any(|(dc, a)| *dc == c && a == to) {
            self.deposits.push(CrossDeposit {
                chain: self.chains[c].name.clone(),
                tx,
                address: to.clone(),
                asset,
                traced,
                note: note.to_string(),
            });
        }
    }

    /// A plain transfer in its own transaction and block.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        c: usize,
        rng: &mut Rng,
        from: &Address,
        to: &Address,
        asset: Asset,
        amount: U256,
        note: &str,
    ) {
        let at = self.block(c, rng);
        let tx = self.tx();
        self.raw(c, at, tx, 0, from, to, asset, amount);
        let (kf, kt) = (self.key(c, from), self.key(c, to));
        let t = self.ledger.transfer(&tx.0.to_string(), &kf, &kt, &Self::asset_text(c, asset), au(amount), note);
        self.record_deposit(c, tx.0, to, asset, mt(t), note);
    }

    /// `owner` swaps `x` of `ain` for `y` of `aout` through `pool` at block `at` (V2: the pool
    /// pays the owner directly; V3-style through a router: the router pays it).
    #[allow(clippy::too_many_arguments)]
    fn swap(
        &mut self,
        c: usize,
        at: (u64, u64),
        owner: &Address,
        pool: &Address,
        router: Option<&Address>,
        ain: Asset,
        x: U256,
        aout: Asset,
        y: U256,
    ) -> [U256; 3] {
        let tx = self.tx();
        self.raw(c, at, tx, 0, owner, pool, ain, x);
        match router {
            Some(r) => {
                self.raw(c, at, tx, 1, pool, r, aout, y);
                self.raw(c, at, tx, 2, r, owner, aout, y);
            }
            None => self.raw(c, at, tx, 1, pool, owner, aout, y),
        }
        self.chains[c].conversions.push(Conversion {
            tx: tx.0,
            height: at.0,
            pos: Position { tx_index: tx.1, sub: 0 },
            time: at.1,
            owner: owner.clone(),
            asset_in: ain,
            amount_in: x,
            asset_out: aout,
            amount_out: y,
            venue: Some(pool.clone()),
            kind: if router.is_some() { ConversionKind::UniswapV3 } else { ConversionKind::UniswapV2 },
        });
        let k = self.key(c, owner);
        let (_, out) = self.ledger.carry(
            &tx.0.to_string(),
            &k,
            &Self::asset_text(c, ain),
            au(x),
            &k,
            &Self::asset_text(c, aout),
            au(y),
            "swap",
        );
        count(&mut self.swaps, mt(out));
        mt(out)
    }

    /// `owner` on chain `a` bridges `x` of `asset_a`; released `y` of `asset_b` to `to` on
    /// chain `b` later (`None`: no release).
    #[allow(clippy::too_many_arguments)]
    fn bridge(
        &mut self,
        rng: &mut Rng,
        key: BridgeKey,
        (a, owner, asset_a, x): (usize, &Address, Asset, U256),
        release: Option<(usize, &Address, Asset, U256)>,
        contracts: (&Address, &Address),
        note: &str,
    ) {
        let at = self.block(a, rng);
        let tx = self.tx();
        self.raw(a, at, tx, 0, owner, contracts.0, asset_a, x);
        self.chains[a].bridge_events.push(BridgeEvent {
            tx: tx.0,
            height: at.0,
            pos: Position { tx_index: tx.1, sub: 0 },
            time: at.1,
            key: key.clone(),
            asset: asset_a,
            amount: x,
            side: BridgeSide::Deposit {
                owner: owner.clone(),
                recipient: release.map(|r| r.1.to_key()).unwrap_or_default(),
                dest_domain: Some(3),
            },
            contract: contracts.0.clone(),
        });
        let Some((b, to, asset_b, y)) = release else {
            // funds locked with no release: the ledger sends them into the contract
            let (kf, kt) = (self.key(a, owner), self.key(a, contracts.0));
            self.ledger.transfer(&tx.0.to_string(), &kf, &kt, &Self::asset_text(a, asset_a), au(x), note);
            return;
        };
        let rat = self.block(b, rng);
        let rtx = self.tx();
        self.raw(b, rat, rtx, 0, contracts.1, to, asset_b, y);
        self.chains[b].bridge_events.push(BridgeEvent {
            tx: rtx.0,
            height: rat.0,
            pos: Position { tx_index: rtx.1, sub: 0 },
            time: rat.1,
            key,
            asset: asset_b,
            amount: y,
            side: BridgeSide::Release { recipient: to.clone() },
            contract: contracts.1.clone(),
        });
        let (kf, kt) = (self.key(a, owner), self.key(b, to));
        let (_, out) = self.ledger.carry(
            &rtx.0.to_string(),
            &kf,
            &Self::asset_text(a, asset_a),
            au(x),
            &kt,
            &Self::asset_text(b, asset_b),
            au(y),
            note,
        );
        count(&mut self.crossings, mt(out));
        self.record_deposit(b, rtx.0, to, asset_b, mt(out), note);
    }

    fn fund(&mut self, c: usize, rng: &mut Rng, source: &Address, to: &Address, asset: Asset, amount: U256) {
        self.transfer(c, rng, source, to, asset, amount, "funding");
    }
}

/// Generate the cross-chain typology with `workers` seeds, from the RNG seed `seed`.
pub fn generate(seed: u64, workers: u32) -> CrossChain {
    let mut rng = Rng::new(seed);
    let names = ["ethereum", "arbitrum"];
    let mut b = Builder {
        chains: names.iter().map(|n| ChainData { name: n.to_string(), ..Default::default() }).collect(),
        heights: [19_000_000, 200_000_000],
        next_tx: 0,
        time: T0,
        ledger: Ledger::new(),
        deposit_addrs: Vec::new(),
        deposits: Vec::new(),
        swaps: [0; 3],
        crossings: [0; 3],
    };
    let (eth, arb) = (0usize, 1usize);
    let usdc = Asset::Token(USDC_ETH);
    let usdc_arb = Asset::Token(USDC_ARB);
    let native = Asset::Native;
    b.chains[eth].tokens.push((USDC_ETH, TokenMeta { symbol: Some("USDC".into()), name: None, decimals: Some(6) }));
    b.chains[arb].tokens.push((USDC_ARB, TokenMeta { symbol: Some("USDC".into()), name: None, decimals: Some(6) }));

    let employer = addr(0xe0, 0);
    let source_eth = addr(0x50, 0);
    let source_arb = addr(0x50, 1);
    let pool_v2 = addr(0x70, 2);
    let pool_v3 = addr(0x70, 3);
    let router = addr(0x70, 4);
    let messenger = addr(0xb0, 0); // token messenger / spoke pool on ethereum
    let transmitter = addr(0xb0, 1); // release contract on arbitrum
    for k in [&employer, &source_eth] {
        b.ledger.add_source(&b.key(eth, k));
    }
    for k in [&source_arb, &transmitter] {
        b.ledger.add_source(&b.key(arb, k));
    }
    let d_eth = addr(0xd0, 0);
    let d_arb = addr(0xd0, 1);
    for (c, d, ex) in [(eth, &d_eth, "Binance"), (arb, &d_arb, "OKX")] {
        let k = b.key(c, d);
        b.ledger.add_pool(&k, ex);
        b.deposit_addrs.push((c, d.clone()));
        b.chains[c].labels.push(Label {
            chain: Some(names[c].into()),
            address: d.clone(),
            category: Category::ExchangeDeposit,
            entity: ex.into(),
            source: "scenario".into(),
            confidence: 90,
            attrs: Default::default(),
        });
    }
    let mut seeds = Vec::new();
    let mut nonce = 0u64;
    let usd = |n: u64| U256::from(n) * U256::from(1_000_000u64);
    let wei = |milli: u64| U256::from(milli) * U256::from(1_000_000_000_000_000u64);
    for w in 0..workers {
        let worker = addr(0x5e, w);
        seeds.push(worker.clone());
        for c in [eth, arb] {
            let k = b.key(c, &worker);
            b.ledger.add_seed(&k);
        }
        // payroll in USDC to the worker
        let pay = usd(2_000 + rng.below(3_000));
        b.fund(eth, &mut rng, &employer, &worker, usdc, pay);
        // to a launderer who also holds clean USDC
        let l = addr(0x1a, w);
        let clean = usd(500 + rng.below(2_000));
        b.fund(eth, &mut rng, &source_eth, &l, usdc, clean);
        b.transfer(eth, &mut rng, &worker, &l, usdc, pay, "worker pays the launderer");
        // the launderer swaps a quantum-multiple of its USDC for ETH (V2 or V3 style)
        let q = b.ledger.quantum(&b.key(eth, &l), &Builder::asset_text(eth, usdc));
        let bal = mu(b.ledger.balance(&b.key(eth, &l), &Builder::asset_text(eth, usdc)));
        let q = mu(q);
        let steps = bal / q;
        let x = q * (steps / U256::from(2u8) + U256::from(1u8)).min(steps);
        let y = wei(300 + rng.below(2_000)) + U256::from(rng.below(1_000_000_007));
        let u = addr(0xdc, 1);
        if w == 0 {
            b.fund(eth, &mut rng, &source_eth, &u, usdc, usd(700));
        }
        let at = b.block(eth, &mut rng);
        let v3 = w % 2 == 1;
        b.swap(eth, at, &l, if v3 { &pool_v3 } else { &pool_v2 }, v3.then_some(&router), usdc, x, native, y);
        if w == 0 {
            // decoy: an unrelated user swaps through the same pool in the same block (a later
            // transaction of it), then deposits the ETH
            let uy = wei(350);
            b.swap(eth, at, &u, &pool_v2, None, usdc, usd(700), native, uy);
            b.transfer(eth, &mut rng, &u, &d_eth, native, uy, "decoy: unrelated swap in the same block");
        }
        // bridge the launderer's whole ETH to a recipient on arbitrum (an Across-style bridge
        // declared by the config)
        let r = if w % 3 == 0 { l.clone() } else { addr(0x2b, w) };
        let eth_bal = mu(b.ledger.balance(&b.key(eth, &l), "ETH"));
        nonce += 1;
        let fee = U256::from(rng.below(1_000_000));
        b.bridge(
            &mut rng,
            BridgeKey { protocol: "across".into(), id: nonce.to_be_bytes().to_vec() },
            (eth, &l, native, eth_bal),
            Some((arb, &r, native, eth_bal - fee)),
            (&messenger, &transmitter),
            "bridge to arbitrum",
        );
        // the recipient mixes in clean ETH, then cashes out part of it via one more hop
        let extra = wei(100 + rng.below(900));
        b.fund(arb, &mut rng, &source_arb, &r, native, extra);
        let f = addr(0x3f, w);
        let rk = b.key(arb, &r);
        let q = mu(b.ledger.quantum(&rk, "ETH"));
        let rb = mu(b.ledger.balance(&rk, "ETH"));
        let part = q * ((rb / q) * U256::from(3u8) / U256::from(4u8)).max(U256::from(1u8));
        b.transfer(arb, &mut rng, &r, &f, native, part, "recipient to cash-out wallet");
        let fb = mu(b.ledger.balance(&b.key(arb, &f), "ETH"));
        b.transfer(arb, &mut rng, &f, &d_arb, native, fb, "true deposit: payroll swapped, bridged, cashed out");
        // a USDC leg via CCTP: the worker's second payroll burned on ethereum, minted on
        // arbitrum to the worker's own key, deposited there
        if w % 2 == 0 {
            let pay2 = usd(1_000 + rng.below(1_000));
            b.fund(eth, &mut rng, &employer, &worker, usdc, pay2);
            nonce += 1;
            b.bridge(
                &mut rng,
                BridgeKey::cctp(0, nonce),
                (eth, &worker, usdc, pay2),
                Some((arb, &worker, usdc_arb, pay2)),
                (&messenger, &transmitter),
                "cctp to arbitrum",
            );
            b.transfer(arb, &mut rng, &worker, &d_arb, usdc_arb, pay2, "true deposit: USDC bridged by CCTP");
        }
    }
    // decoy: an unrelated user bridges ETH; the release goes to someone else, who deposits it
    let v = addr(0xdc, 2);
    let v2 = addr(0xdc, 3);
    b.fund(eth, &mut rng, &source_eth, &v, native, wei(900));
    nonce += 1;
    b.bridge(
        &mut rng,
        BridgeKey { protocol: "across".into(), id: nonce.to_be_bytes().to_vec() },
        (eth, &v, native, wei(900)),
        Some((arb, &v2, native, wei(899))),
        (&messenger, &transmitter),
        "decoy bridge",
    );
    b.transfer(arb, &mut rng, &v2, &d_arb, native, wei(899), "decoy: someone else's bridge release");
    // decoy: a wallet swaps its clean USDC, receives traced USDC only afterwards, and deposits
    // the swap's ETH
    let m = addr(0xdc, 4);
    b.fund(eth, &mut rng, &source_eth, &m, usdc, usd(400));
    let at = b.block(eth, &mut rng);
    b.swap(eth, at, &m, &pool_v2, None, usdc, usd(400), native, wei(200));
    let late = usd(50);
    b.fund(eth, &mut rng, &employer, &seeds[0], usdc, late);
    b.transfer(eth, &mut rng, &seeds[0], &m, usdc, late, "traced USDC arrives after the swap");
    b.transfer(eth, &mut rng, &m, &d_eth, native, wei(200), "decoy: ETH swapped before the traced funds came");
    // a traced deposit into the bridge with no release on the traced chains (a `bridge` stop)
    let l0 = addr(0x1a, 0);
    let left = mu(b.ledger.balance(&b.key(eth, &l0), &Builder::asset_text(eth, usdc)));
    if !left.is_zero() {
        nonce += 1;
        b.bridge(
            &mut rng,
            BridgeKey::cctp(0, nonce),
            (eth, &l0, usdc, left),
            None,
            (&messenger, &transmitter),
            "bridged to a chain the trace does not name",
        );
    }
    let max_hops = b.ledger.max_hops;
    CrossChain { chains: b.chains, seeds, deposits: b.deposits, max_hops, swaps: b.swaps, crossings: b.crossings }
}
