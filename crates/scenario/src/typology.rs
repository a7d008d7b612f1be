//! The DPRK IT-worker revenue typology, run on a real anvil node.
//!
//! Modelled on the public record (U.S. Treasury/OFAC designations of DPRK IT-worker networks,
//! FBI/State advisories): North Korean IT workers are paid by unwitting employers in
//! stablecoins and ETH; their wallets, and those of front companies, consolidate the revenue;
//! facilitators launder it through peel chains, splits across fresh wallets and swap/aggregator
//! routers, and cash out at exchanges, whose per-customer deposit addresses sweep into the
//! exchanges' hot wallets. Around it runs ordinary activity: other users of the same exchanges,
//! transfers between bystanders, exchange withdrawals.
//!
//! The flows, in chain order (`S` = number of seed workers, amounts drawn from the seeded RNG):
//!
//! 1. **Setup**: a USDT-like 6-decimal token (`TetherLike`) and a router that pays out ETH through
//!    internal calls (`Forwarder`, the project's contract) are deployed; a treasury funds
//!    employers, a legitimate client of the front company, and bystanders.
//! 2. **Clean history first** (time-order decoy): the client pays the front company `F` in USDT;
//!    `F` cashes part of it out at Alpha through its deposit address `DF` *before* any
//!    sanctioned funds arrive. No policy may flag it.
//! 3. **Payroll**: employers pay the `S` seed workers (listed as sanctioned, like OFAC entries)
//!    in USDT and ETH, over several rounds.
//! 4. **Consolidation**: the seeds send all their USDT to `F`; unlisted workers (not seeds: their
//!    funds are clean for the trace) add clean USDT in a ratio chosen so that `F` holds exactly
//!    `t/b` traced under haircut. The FIFO queue at `F` is `[clean rest of the client payment]
//!    [traced] [clean]`.
//! 5. **Cash-out from F and a peel chain**: `F` sends most of it to `P1` and another part to `DF`;
//!    each `Pi` peels a slice off to the launderer's deposit addresses (`DA1` at Alpha, `DB1` at
//!    Bravo, alternating) and passes the rest to a fresh `Pi+1`.
//! 6. **Split across hops**: the end of the peel chain `Z` splits into fresh wallets; one goes
//!    through one more hop, one pays Bravo's hot wallet directly (a deposit into an `exchange`
//!    address), the others pay `DA1`/`DB1`.
//! 7. **ETH**: seeds and unlisted workers consolidate ETH in `G` (again an exact traced ratio;
//!    random order, so FIFO differs run to run). Twice, `G` calls `router.split` (two internal
//!    payouts to fresh wallets); one of them pays `DA2` at Alpha through `router.forward` (an
//!    internal payout into the deposit address), the other pays `DB2` at Bravo directly.
//! 8. **Poison over-reach**: a bystander pays its own Bravo deposit address through the same
//!    router, once before and twice after the traced ETH passed through it. Under `poison`
//!    the later two are flagged (the router was touched); under haircut and FIFO the router
//!    held no traced ETH by then, so they are not.
//! 9. **Other users of the exchanges** deposit clean funds into their own deposit addresses;
//!    exchanges sweep every deposit into their hot wallets and pay withdrawals; bystanders
//!    transfer among themselves.
//!
//! Every exchange deposit address is swept at least twice, soon after each deposit, so
//! `chaintrace labels infer-deposits` can find them from the hot wallets' labels alone.
//!
//! The ground truth ([`Truth`]) is kept by the [`Ledger`] while the transactions are sent: every
//! deposit transaction with its traced amount per policy, and every decoy (deposits into the
//! same exchanges that carry no traced funds under any policy).

use std::collections::BTreeMap;

use alloy_primitives::U256;
use chaintrace_testkit::{encode_call, Anvil, Contracts, Word};
use serde::{Deserialize, Serialize};

use crate::chain::Chain;
use crate::ledger::{DepositTruth, Ledger};
use crate::rng::Rng;

/// Genesis time of every scenario node: 2024-04-01T00:00:00Z.
pub const GENESIS_TIME: u64 = 1_711_929_600;
/// The label entity of the seeds.
pub const SANCTIONED_ENTITY: &str = "DPRK IT worker network (scenario)";
/// The first exchange of the scenario (fictional).
pub const ALPHA: &str = "Alpha Exchange";
/// The second exchange of the scenario (fictional).
pub const BRAVO: &str = "Bravo Exchange";

const USDT_CENT: u64 = 10_000; // 0.01 USDT in base units
const MILLI_ETH: u64 = 1_000_000_000_000_000; // 0.001 ETH in wei

/// How big a scenario is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// `small`, `medium` or `large`.
    pub name: &'static str,
    /// Employers paying the workers.
    pub employers: usize,
    /// Seed workers (labelled sanctioned).
    pub seeds: usize,
    /// Unlisted workers (clean for the trace).
    pub unlisted: usize,
    /// Times each employer pays its workers.
    pub pay_rounds: usize,
    /// Peels in the USDT peel chain.
    pub peels: usize,
    /// Wallets the end of the peel chain splits into (at least 3).
    pub split: usize,
    /// Other users of the exchanges, each with a deposit address.
    pub exchange_users: usize,
    /// Bystander-to-bystander transfers.
    pub noise: usize,
}

/// The smallest scenario (two employers, two seeds), for quick tests.
pub const SMALL: Size = Size {
    name: "small",
    employers: 2,
    seeds: 2,
    unlisted: 1,
    pay_rounds: 1,
    peels: 2,
    split: 3,
    exchange_users: 2,
    noise: 6,
};
/// A middle-sized scenario (three employers, three seeds).
pub const MEDIUM: Size = Size {
    name: "medium",
    employers: 3,
    seeds: 3,
    unlisted: 2,
    pay_rounds: 2,
    peels: 4,
    split: 3,
    exchange_users: 3,
    noise: 14,
};
/// The largest scenario, with more noise and a longer peel chain.
pub const LARGE: Size = Size {
    name: "large",
    employers: 5,
    seeds: 4,
    unlisted: 3,
    pay_rounds: 3,
    peels: 7,
    split: 5,
    exchange_users: 6,
    noise: 40,
};

impl Size {
    /// Every size, smallest first.
    pub fn all() -> [Size; 3] {
        [SMALL, MEDIUM, LARGE]
    }

    /// The size called `name` (`small`, `medium`, `large`).
    pub fn by_name(name: &str) -> Option<Size> {
        Size::all().into_iter().find(|s| s.name == name)
    }
}

/// An exchange of the scenario: its labelled hot wallet and the deposit addresses it sweeps.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExchangeTruth {
    /// The exchange's labelled hot wallet.
    pub hot_wallet: String,
    /// Its users' deposit addresses, swept into the hot wallet.
    pub deposit_addresses: Vec<String>,
}

/// What the scenario put on chain and what a correct trace must find.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Truth {
    /// The typology's name.
    pub scenario: String,
    /// The [`Size`] name it was generated at.
    pub size: String,
    /// The RNG seed that reproduces it.
    pub rng_seed: u64,
    /// The chain name to ingest it under.
    pub chain: String,
    /// The anvil node's chain id.
    pub chain_id: u64,
    /// The USDT-like token's contract address.
    pub token: String,
    /// Its symbol.
    pub token_symbol: String,
    /// Its decimals (6).
    pub token_decimals: u8,
    /// The router contract that pays out ETH through internal calls.
    pub router: String,
    /// Blocks to ingest (all of them: the scenario starts at genesis).
    pub first_block: u64,
    /// Last block to ingest.
    pub last_block: u64,
    /// Time of the first scenario block, Unix seconds.
    pub start_time: u64,
    /// Time of the last scenario block, Unix seconds.
    pub end_time: u64,
    /// A `--hops` that cuts no traced flow (the longest traced path).
    pub hops: u32,
    /// The entity the seeds' labels name.
    pub sanctioned_entity: String,
    /// The seed workers' addresses (labelled sanctioned).
    pub seeds: Vec<String>,
    /// The exchanges by name.
    pub exchanges: BTreeMap<String, ExchangeTruth>,
    /// Every transfer into an exchange address that carries traced funds under some policy.
    pub deposits: Vec<DepositTruth>,
    /// Transfers into the same exchanges that carry nothing traced under any policy.
    pub decoys: Vec<DepositTruth>,
    /// Who is who (address → role), for reading a case file against the scenario.
    pub wallets: BTreeMap<String, String>,
    /// Transactions the scenario sent.
    pub transactions: usize,
    /// The demo's cross-chain trail on a second chain ([`crate::trail`]), when it was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail: Option<crate::trail::TrailTruth>,
}

impl Truth {
    /// The deposits a trace under `policy` must flag: (tx, address, asset, traced base units).
    pub fn expected(&self, policy: &str) -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = self
            .deposits
            .iter()
            .filter_map(|d| {
                d.traced_raw.get(policy).map(|t| (d.tx.clone(), d.address.clone(), d.asset.clone(), t.clone()))
            })
            .collect();
        v.sort();
        v
    }

    /// The SPEC labels CSV of the scenario: the seeds as `sanctioned` (like an OFAC SDN entry)
    /// and the exchanges' hot wallets as `exchange`. Deposit addresses are left to
    /// `labels infer-deposits`.
    pub fn labels_csv(&self) -> String {
        let mut s = String::from("chain,address,category,entity,source,confidence\n");
        for a in &self.seeds {
            s.push_str(&format!("{},{a},sanctioned,{},scenario:ofac-style,100\n", self.chain, self.sanctioned_entity));
        }
        for (name, ex) in &self.exchanges {
            s.push_str(&format!("{},{},exchange,{name},scenario:exchange-wallets,100\n", self.chain, ex.hot_wallet));
        }
        if let Some(t) = &self.trail {
            s.push_str(&t.labels_rows());
        }
        s
    }

    /// `price_symbols` for the chain config, so the token is valued as USDT (1.00); with the
    /// trail, its USDC and the second chain's tables, bridges and WETH too.
    pub fn config_toml(&self) -> String {
        let mut s = self.chain_toml();
        if let Some(t) = &self.trail {
            s.push_str(&format!("\"{}\" = \"USDC\"\n", t.usdc.0));
            s.push_str(&t.config_toml());
        }
        s
    }

    fn chain_toml(&self) -> String {
        format!(
            "# chaintrace config for the scenario chain (anvil, chain id 1, standing in for ethereum)\n\
             [chains.{chain}]\nkind = \"evm\"\nchain_id = {id}\nnative_symbol = \"ETH\"\nnative_decimals = 18\n\n\
             [chains.{chain}.price_symbols]\n\"{token}\" = \"{sym}\"\n",
            chain = self.chain,
            id = self.chain_id,
            token = self.token,
            sym = self.token_symbol
        )
    }
}

struct Gen<'a> {
    rng: Rng,
    chain: Chain<'a>,
    ledger: Ledger,
    token: String,
    router: String,
    treasury: String,
    wallets: BTreeMap<String, String>,
    /// what each exchange address holds on chain: (address, asset) → amount
    pool_bal: BTreeMap<(String, String), U256>,
    /// deposit address → hot wallet
    hot_of: BTreeMap<String, String>,
    bystanders: Vec<String>,
    /// addresses that received something in the block being built: anvil checks balances
    /// against the last mined block, so they do not send in it (noise only; the case's own
    /// steps always mine between receiving and sending)
    received_pending: std::collections::BTreeSet<String>,
    txs: usize,
}

fn u(x: u64) -> U256 {
    U256::from(x)
}

impl Gen<'_> {
    fn wallet(&mut self, role: &str) -> String {
        let a = self.rng.address();
        self.wallets.insert(a.clone(), role.to_string());
        a
    }

    fn asset_name(&self, token: bool) -> String {
        if token {
            self.token.clone()
        } else {
            "ETH".to_string()
        }
    }

    fn usdt_amount(&mut self, lo: u64, hi: u64) -> U256 {
        u(self.rng.range(lo * 100, hi * 100) * USDT_CENT)
    }

    fn eth_amount(&mut self, lo_milli: u64, hi_milli: u64) -> U256 {
        u(self.rng.range(lo_milli, hi_milli)) * u(MILLI_ETH)
    }

    /// `approx` rounded down to a multiple of `step` (never zero).
    fn fit(&self, approx: U256, step: U256) -> U256 {
        let v = approx - approx % step;
        assert!(!v.is_zero(), "scenario bug: {approx} is smaller than the exact step {step}");
        v
    }

    /// `pct_lo..=pct_hi` percent of what `addr` holds, exact for haircut.
    fn share_of(&mut self, addr: &str, token: bool, pct_lo: u64, pct_hi: u64, extra_step: U256) -> U256 {
        let asset = self.asset_name(token);
        let bal = self.ledger.balance(addr, &asset);
        let pct = self.rng.range(pct_lo, pct_hi);
        let q = self.ledger.quantum(addr, &asset) * extra_step;
        self.fit(bal * u(pct) / u(100), q)
    }

    fn pay(&mut self, token: bool, from: &str, to: &str, amount: U256, note: &str) -> String {
        let asset = self.asset_name(token);
        let tx = if token {
            let t = self.token.clone();
            self.chain.send_token(&t, from, to, amount, note)
        } else {
            self.chain.send_eth(from, to, amount, note)
        };
        self.ledger.transfer(&tx, from, to, &asset, amount, note);
        self.after_transfer(from, to, &asset, amount);
        self.txs += 1;
        tx
    }

    fn after_transfer(&mut self, from: &str, to: &str, asset: &str, amount: U256) {
        self.received_pending.insert(to.to_string());
        if self.ledger.is_pool(from) {
            let e = self.pool_bal.entry((from.to_string(), asset.to_string())).or_default();
            *e -= amount;
        }
        if self.ledger.is_pool(to) {
            *self.pool_bal.entry((to.to_string(), asset.to_string())).or_default() += amount;
        }
    }

    /// `router.split(a, b)` with `value` from `from`: two internal payouts.
    fn router_split(&mut self, from: &str, a: &str, b: &str, value: U256, note: &str) {
        let data = encode_call("split(address,address)", &[Word::Address(a.into()), Word::Address(b.into())]);
        let router = self.router.clone();
        let tx = self.chain.call(from, &router, value, &data, note);
        let half = value / u(2);
        self.ledger.transfer(&tx, from, &router, "ETH", value, note);
        self.ledger.transfer(&tx, &router, a, "ETH", half, note);
        self.ledger.transfer(&tx, &router, b, "ETH", value - half, note);
        self.after_transfer(&router, a, "ETH", half);
        self.after_transfer(&router, b, "ETH", value - half);
        self.txs += 1;
    }

    /// `router.forward(to)` with `value`: an internal payout to `to`.
    fn router_forward(&mut self, from: &str, to: &str, value: U256, note: &str) {
        let data = encode_call("forward(address)", &[Word::Address(to.into())]);
        let router = self.router.clone();
        let tx = self.chain.call(from, &router, value, &data, note);
        self.ledger.transfer(&tx, from, &router, "ETH", value, note);
        self.ledger.transfer(&tx, &router, to, "ETH", value, note);
        self.after_transfer(&router, to, "ETH", value);
        self.txs += 1;
    }

    /// Sweep every deposit address that holds something into its hot wallet (next block).
    fn sweep(&mut self) {
        let full: Vec<((String, String), U256)> = self
            .pool_bal
            .iter()
            .filter(|((a, _), v)| self.hot_of.contains_key(a) && !v.is_zero())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for ((addr, asset), v) in full {
            let hot = self.hot_of[&addr].clone();
            let token = asset != "ETH";
            self.pay(token, &addr, &hot, v, "exchange sweep");
        }
    }

    fn mine(&mut self, lo: u64, hi: u64) {
        let dt = self.rng.range(lo, hi);
        self.chain.mine(dt);
        self.received_pending.clear();
    }

    /// Bystander activity: payments between bystanders, now and then an exchange withdrawal.
    fn noise(&mut self, n: usize, hots: &[String]) {
        for _ in 0..n {
            let a = self.rng.pick(&self.bystanders).clone();
            let b = self.rng.pick(&self.bystanders).clone();
            if a == b {
                continue;
            }
            if self.rng.chance(1, 5) {
                // an exchange withdrawal to a bystander
                let hot = self.rng.pick(hots).clone();
                if self.received_pending.contains(&hot) {
                    continue;
                }
                for (token, amount) in [(true, self.usdt_amount(50, 900)), (false, self.eth_amount(10, 400))] {
                    let asset = self.asset_name(token);
                    if self.pool_bal.get(&(hot.clone(), asset)).copied().unwrap_or_default() > amount {
                        self.pay(token, &hot, &b, amount, "exchange withdrawal to a bystander");
                        break;
                    }
                }
                continue;
            }
            let token = self.rng.chance(1, 2);
            let amount = if token { self.usdt_amount(20, 3000) } else { self.eth_amount(5, 800) };
            if !self.received_pending.contains(&a) && self.ledger.balance(&a, &self.asset_name(token)) > amount {
                self.pay(token, &a, &b, amount, "bystander payment");
            }
        }
    }
}

/// Run the typology on `anvil` (started with [`crate::chain::spawn_anvil`]`(GENESIS_TIME)`).
pub fn generate(anvil: &Anvil, contracts: &Contracts, size: Size, rng_seed: u64) -> Truth {
    let accounts = anvil.accounts();
    let treasury = accounts[0].clone();
    let mut g = Gen {
        rng: Rng::new(rng_seed),
        chain: Chain::new(anvil, GENESIS_TIME),
        ledger: Ledger::new(),
        token: String::new(),
        router: String::new(),
        treasury: treasury.clone(),
        wallets: BTreeMap::new(),
        pool_bal: BTreeMap::new(),
        hot_of: BTreeMap::new(),
        bystanders: Vec::new(),
        received_pending: Default::default(),
        txs: 0,
    };
    g.ledger.add_source(&treasury);
    g.wallets.insert(treasury.clone(), "treasury (genesis account; mints the token)".into());

    // 1. setup
    g.token = g.chain.deploy(&treasury, contracts.bytecode("TetherLike"), "deploy USDT-like token");
    g.router = g.chain.deploy(&accounts[1], contracts.bytecode("Forwarder"), "deploy router");
    g.txs += 2;
    let (token, router) = (g.token.clone(), g.router.clone());
    g.wallets.insert(token.clone(), "USDT-like token contract (6 decimals)".into());
    g.wallets.insert(router.clone(), "router contract: pays out ETH through internal calls".into());

    let mut exchanges: BTreeMap<String, ExchangeTruth> = BTreeMap::new();
    let mut hots = Vec::new();
    for name in [ALPHA, BRAVO] {
        let hot = g.wallet(&format!("{name} hot wallet"));
        g.ledger.add_pool(&hot, name);
        exchanges.insert(name.to_string(), ExchangeTruth { hot_wallet: hot.clone(), ..Default::default() });
        hots.push(hot);
    }
    let mut deposit_address = |g: &mut Gen<'_>, ex: &str, whose: &str| -> String {
        let a = g.wallet(&format!("{ex} deposit address of {whose}"));
        g.ledger.add_pool(&a, ex);
        let e = exchanges.get_mut(ex).expect("known exchange");
        g.hot_of.insert(a.clone(), e.hot_wallet.clone());
        e.deposit_addresses.push(a.clone());
        a
    };

    let employers: Vec<String> = (0..size.employers).map(|i| g.wallet(&format!("employer {}", i + 1))).collect();
    let seeds: Vec<String> =
        (0..size.seeds).map(|i| g.wallet(&format!("IT worker {} (sanctioned seed)", i + 1))).collect();
    let unlisted: Vec<String> =
        (0..size.unlisted).map(|i| g.wallet(&format!("IT worker {} (not listed)", size.seeds + i + 1))).collect();
    for s in &seeds {
        g.ledger.add_seed(s);
    }
    let client = g.wallet("legitimate client of the front company");
    let front = g.wallet("front company F (USDT consolidation)");
    let eth_pool = g.wallet("facilitator G (ETH consolidation)");
    g.bystanders = (0..size.exchange_users + 4).map(|i| g.wallet(&format!("bystander {}", i + 1))).collect();

    let dep_front = deposit_address(&mut g, ALPHA, "the front company");
    let dep_a1 = deposit_address(&mut g, ALPHA, "the launderer (USDT)");
    let dep_b1 = deposit_address(&mut g, BRAVO, "the launderer (USDT)");
    let dep_a2 = deposit_address(&mut g, ALPHA, "the launderer (ETH)");
    let dep_b2 = deposit_address(&mut g, BRAVO, "the launderer (ETH)");
    let user_deps: Vec<(String, String)> = (0..size.exchange_users)
        .map(|i| {
            let ex = if i % 2 == 0 { ALPHA } else { BRAVO };
            let who = g.bystanders[i].clone();
            (who, deposit_address(&mut g, ex, &format!("bystander {}", i + 1)))
        })
        .collect();
    let router_user = g.wallet("router user (unrelated to the case)");
    let router_user_dep = deposit_address(&mut g, BRAVO, "the router user");

    // funding from the treasury
    for e in employers.clone() {
        let (a, b) = (g.usdt_amount(400_000, 900_000), g.eth_amount(300_000, 600_000));
        g.pay(true, &treasury, &e, a, "treasury funds an employer");
        g.pay(false, &treasury, &e, b, "treasury funds an employer");
    }
    let a = g.usdt_amount(5_000, 12_000);
    g.pay(true, &treasury, &client, a, "treasury funds the client");
    let a = g.eth_amount(5_000, 9_000);
    g.pay(false, &treasury, &router_user, a, "treasury funds the router user");
    for b in g.bystanders.clone() {
        let (x, y) = (g.usdt_amount(2_000, 20_000), g.eth_amount(2_000, 20_000));
        g.pay(true, &treasury, &b, x, "treasury funds a bystander");
        g.pay(false, &treasury, &b, y, "treasury funds a bystander");
    }
    g.mine(3600, 7200);

    // the router is used before any traced funds pass through it
    let v = g.eth_amount(100, 900);
    g.router_forward(
        &router_user,
        &router_user_dep,
        v,
        "bystander pays its Bravo deposit through the router before the case (clean)",
    );
    // other users of the exchanges, first deposits
    for (who, dep) in user_deps.clone() {
        let token = g.rng.chance(1, 2);
        let amount = if token { g.usdt_amount(100, 1500) } else { g.eth_amount(50, 1500) };
        g.pay(token, &who, &dep, amount, "another customer's deposit (clean)");
    }
    g.mine(1800, 5400);
    g.sweep();
    g.noise(size.noise / 3, &hots);
    g.mine(1800, 7200);

    // 2. the front company's clean history first
    let c1 = g.ledger.balance(&client, &token);
    g.pay(true, &client, &front, c1, "the client pays the front company (clean)");
    g.mine(3600, 14_400);
    let c1_out = g.share_of(&front, true, 70, 90, u(USDT_CENT));
    g.pay(
        true,
        &front,
        &dep_front,
        c1_out,
        "front company cashes out clean revenue before any sanctioned funds arrive",
    );
    g.mine(1800, 5400);
    g.sweep();
    g.mine(3600, 14_400);

    // 3. payroll of the seed workers
    for round in 0..size.pay_rounds {
        for (i, s) in seeds.clone().iter().enumerate() {
            let e = employers[(i + round) % employers.len()].clone();
            let salary = g.usdt_amount(2_000, 9_000);
            g.pay(true, &e, s, salary, "employer pays an IT worker (USDT)");
            if i % 2 == round % 2 || g.rng.chance(1, 2) {
                let eth = g.eth_amount(300, 2_500);
                g.pay(false, &e, s, eth, "employer pays an IT worker (ETH)");
            }
        }
        g.noise(size.noise / (3 * size.pay_rounds), &hots);
        g.mine(86_400, 3 * 86_400);
    }

    // 4. consolidation at the front company, with an exact traced share t/b
    for s in seeds.clone() {
        let all = g.ledger.balance(&s, &token);
        g.pay(true, &s, &front, all, "seed worker consolidates USDT at the front company");
    }
    g.mine(3600, 10_800);
    let tainted = g.ledger.tainted(&front, &token);
    let rest = g.ledger.balance(&front, &token) - tainted;
    let clean_needed = pick_ratio(&mut g.rng, tainted, rest);
    let parts = split_amount(&mut g.rng, clean_needed, unlisted.len(), u(1));
    for (w, part) in unlisted.iter().zip(&parts) {
        let e = g.rng.pick(&employers).clone();
        g.pay(true, &e, w, *part, "employer pays an unlisted worker (USDT)");
    }
    g.mine(3600, 10_800);
    for (w, part) in unlisted.clone().iter().zip(parts) {
        g.pay(true, w, &front, part, "unlisted worker consolidates at the front company (clean for the trace)");
    }
    g.mine(3600, 10_800);

    // 5. cash-out from the front company and the peel chain
    let mut peel = g.wallet("peel chain wallet 1");
    let x = g.share_of(&front, true, 55, 75, u(1));
    g.pay(true, &front, &peel, x, "front company moves funds to the head of a peel chain");
    let y = g.share_of(&front, true, 30, 60, u(1));
    g.pay(true, &front, &dep_front, y, "front company cashes out at Alpha after receiving sanctioned funds");
    g.mine(1800, 5400);
    g.sweep();
    g.mine(1800, 7200);
    for i in 0..size.peels {
        let slice = g.share_of(&peel, true, 8, 20, u(1));
        let dep = if i % 2 == 0 { dep_a1.clone() } else { dep_b1.clone() };
        g.pay(true, &peel, &dep, slice, "peel: a slice to the launderer's exchange deposit address");
        let next = if i + 1 == size.peels {
            g.wallet("end of the peel chain (splitter)")
        } else {
            g.wallet(&format!("peel chain wallet {}", i + 2))
        };
        let remaining = g.ledger.balance(&peel, &token);
        g.pay(true, &peel, &next, remaining, "peel: the rest to a fresh wallet");
        peel = next;
        g.mine(1800, 10_800);
        g.sweep();
        if i % 2 == 1 {
            g.noise(1, &hots);
        }
        g.mine(600, 3600);
    }

    // 6. split across hops
    let splitter = peel;
    let total = g.ledger.balance(&splitter, &token);
    let q = g.ledger.quantum(&splitter, &token);
    let parts = split_amount(&mut g.rng, total, size.split, q);
    let outs: Vec<String> = (0..size.split).map(|i| g.wallet(&format!("split wallet {}", i + 1))).collect();
    for (w, part) in outs.iter().zip(&parts) {
        g.pay(true, &splitter, w, *part, "split across fresh wallets");
    }
    g.mine(1800, 7200);
    let extra_hop = g.wallet("one more hop after the split");
    for (i, w) in outs.iter().enumerate() {
        let all = g.ledger.balance(w, &token);
        if i == 0 {
            g.pay(true, w, &extra_hop, all, "one more hop before cash-out");
        } else if i + 1 == outs.len() {
            let hot = exchanges[BRAVO].hot_wallet.clone();
            g.pay(true, w, &hot, all, "split wallet pays Bravo's hot wallet directly");
        } else {
            let dep = if i % 2 == 1 { dep_b1.clone() } else { dep_a1.clone() };
            g.pay(true, w, &dep, all, "split wallet cashes out at the launderer's deposit address");
        }
    }
    g.mine(1800, 7200);
    let all = g.ledger.balance(&extra_hop, &token);
    g.pay(true, &extra_hop, &dep_a1, all, "after one more hop, cash-out at Alpha");
    g.mine(1800, 7200);
    g.sweep();
    g.noise(size.noise / 3, &hots);
    g.mine(3600, 14_400);

    // 7. ETH: consolidation at G with an exact traced share, then router splits and payouts
    let eth_tainted: U256 = seeds.iter().map(|s| g.ledger.balance(s, "ETH")).fold(U256::ZERO, |a, b| a + b);
    let clean_needed = pick_ratio(&mut g.rng, eth_tainted, U256::ZERO);
    let parts = split_amount(&mut g.rng, clean_needed, unlisted.len(), u(1));
    for (w, part) in unlisted.iter().zip(&parts) {
        let e = g.rng.pick(&employers).clone();
        g.pay(false, &e, w, *part, "employer pays an unlisted worker (ETH)");
    }
    g.mine(3600, 10_800);
    let clean_first = g.rng.chance(1, 2);
    let seed_pays = |g: &mut Gen<'_>| {
        for s in &seeds {
            let all = g.ledger.balance(s, "ETH");
            if !all.is_zero() {
                g.pay(false, s, &eth_pool, all, "seed worker consolidates ETH at G");
            }
        }
    };
    if !clean_first {
        seed_pays(&mut g);
    }
    for (w, part) in unlisted.iter().zip(&parts) {
        g.pay(false, w, &eth_pool, *part, "unlisted worker consolidates ETH at G (clean for the trace)");
    }
    if clean_first {
        seed_pays(&mut g);
    }
    g.mine(3600, 10_800);
    for round in 0..2 {
        let v = g.share_of(&eth_pool, false, 30, 45, u(2));
        let a = g.wallet(&format!("ETH split wallet {}a", round + 1));
        let b = g.wallet(&format!("ETH split wallet {}b", round + 1));
        g.router_split(&eth_pool, &a, &b, v, "G splits ETH through the router (internal payouts)");
        g.mine(1800, 7200);
        let all = g.ledger.balance(&a, "ETH");
        g.router_forward(&a, &dep_a2, all, "ETH paid into the Alpha deposit address by the router (internal payout)");
        let all = g.ledger.balance(&b, "ETH");
        g.pay(false, &b, &dep_b2, all, "ETH cashed out at Bravo");
        g.mine(1800, 7200);
        g.sweep();
        g.mine(1800, 7200);
    }

    // 8. the router's later, unrelated user (flagged by poison only)
    for _ in 0..2 {
        let v = g.eth_amount(100, 900);
        g.router_forward(
            &router_user,
            &router_user_dep,
            v,
            "bystander pays its Bravo deposit through the router after traced ETH passed through it (poison over-reach)",
        );
        g.mine(1800, 7200);
        g.sweep();
        g.mine(1800, 7200);
    }

    // 9. other users' second deposits and the rest of the noise
    for (who, dep) in user_deps {
        let token = g.rng.chance(1, 2);
        let bal = g.ledger.balance(&who, &g.asset_name(token));
        let amount = if token { g.usdt_amount(100, 1500) } else { g.eth_amount(50, 1500) };
        if bal > amount {
            g.pay(token, &who, &dep, amount, "another customer's deposit (clean)");
        } else {
            let t = g.treasury.clone();
            g.pay(token, &t, &dep, amount, "another customer's deposit (clean)");
        }
    }
    g.mine(1800, 5400);
    g.sweep();
    g.noise(size.noise - 2 * (size.noise / 3), &hots);
    g.mine(1800, 5400);
    g.sweep();
    g.mine(600, 1800);

    let last_block = g.chain.head();
    let (deposits, decoys): (Vec<DepositTruth>, Vec<DepositTruth>) =
        g.ledger.deposits.iter().cloned().partition(|d| d.is_traced());
    Truth {
        scenario: "dprk-it-workers".into(),
        size: size.name.into(),
        rng_seed,
        chain: "ethereum".into(),
        chain_id: 1,
        token,
        token_symbol: "USDT".into(),
        token_decimals: 6,
        router,
        first_block: 0,
        last_block,
        start_time: GENESIS_TIME,
        end_time: g.chain.time,
        hops: g.ledger.max_hops,
        sanctioned_entity: SANCTIONED_ENTITY.into(),
        seeds,
        exchanges,
        deposits,
        decoys,
        wallets: g.wallets,
        transactions: g.txs,
        trail: None,
    }
}

/// Choose a traced share `t/b` for a wallet holding `tainted` traced and `rest` clean, and
/// return how much more clean value makes the share exact: `tainted × (b − t) / t − rest`.
fn pick_ratio(rng: &mut Rng, tainted: U256, rest: U256) -> U256 {
    const RATIOS: [(u64, u64); 6] = [(1, 2), (1, 3), (2, 3), (1, 4), (2, 5), (1, 5)];
    let start = rng.range(0, RATIOS.len() as u64 - 1) as usize;
    for k in 0..RATIOS.len() {
        let (t, b) = RATIOS[(start + k) % RATIOS.len()];
        if !(tainted % u(t)).is_zero() {
            continue;
        }
        let total_clean = tainted * u(b - t) / u(t);
        if total_clean > rest + u(100 * USDT_CENT) {
            return total_clean - rest;
        }
    }
    panic!("scenario bug: no traced share fits {tainted} traced and {rest} clean")
}

/// Cut `total` into `n` positive parts, each a multiple of `step`.
fn split_amount(rng: &mut Rng, total: U256, n: usize, step: U256) -> Vec<U256> {
    assert!(n > 0 && (total % step).is_zero(), "scenario bug: cannot split {total} by {step}");
    let units = total / step;
    assert!(units >= U256::from(n as u64), "scenario bug: {total} is too small to split in {n}");
    let mut out = Vec::with_capacity(n);
    let mut left = units;
    for i in 0..n {
        let remaining_parts = (n - i) as u64;
        if remaining_parts == 1 {
            out.push(left * step);
            break;
        }
        // between 1/(2k) and 3/(2k) of what is left, leaving at least one unit per later part
        let fair = left / U256::from(remaining_parts);
        let lo = (fair / U256::from(2u8)).max(U256::from(1u8));
        let hi = (fair + fair / U256::from(2u8)).min(left - U256::from(remaining_parts - 1)).max(lo);
        let span = hi - lo + U256::from(1u8);
        let r = U256::from(rng.next_u64()) % span;
        let part = lo + r;
        out.push(part * step);
        left -= part;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_amount_sums_and_respects_step() {
        let mut rng = Rng::new(3);
        for n in 1..6 {
            let parts = split_amount(&mut rng, u(7_000_000), n, u(7000));
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().fold(U256::ZERO, |a, b| a + *b), u(7_000_000));
            assert!(parts.iter().all(|p| !p.is_zero() && (*p % u(7000)).is_zero()));
        }
    }
}
