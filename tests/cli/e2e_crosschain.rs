//! The whole v2 trail end to end, through the real binary: a 6-decimal USDC-like payroll on
//! chain 1 (`ethereum`) to a sanctioned worker's wallet, laundering hops, a swap to ETH on a real
//! Uniswap pool (V2 through the router's `swapExactTokensForETH`, or V3 to WETH and an unwrap —
//! chosen by the run's random seed), a swap back to USDC, a Circle CCTP burn to chain 42161
//! (`arbitrum`), hops there and a labelled exchange deposit; a second branch bridges USDC
//! directly. Both chains are ingested with `chaintrace ingest` (traces on, so the ETH the router
//! and WETH pay by internal calls is seen), and `trace --chain ethereum,arbitrum` from the
//! worker's wallet is compared under all three policies with an independent ledger
//! ([`chaintrace_scenario::Ledger`]) fed with what this test sent — amounts taken from the
//! node's balances before and after each step, never from the store.
//!
//! Real components: anvil twice (chain ids 1 and 42161), the compiled Uniswap V2 factory, pair,
//! router and WETH9 and the V3 factory and pool from their npm packages; the CCTP stand-ins of
//! `crates/testkit/contracts/Flows.sol` emitting CCTP V1's public events (the test relays the
//! message as Circle's attester would; no real recording of a bridge with both sides exists).
//!
//! Decoys: an unrelated user's swap in the same block as the launderer's (whose ETH goes to the
//! same exchange), a bridge deposit by someone else released to someone else who pays the same
//! exchange, and clean ETH arriving at the swapper after it forwarded its traced ETH (then paid
//! to an exchange: traced under poison only, as the ledger says).
//!
//! Replay a run with `CHAINTRACE_E2E_SEED=<seed printed>`.

use std::collections::{BTreeMap, BTreeSet};

use crate::bridges::{balance, deploy_pair, deposit, message, relay, set_remote, with_args, Crossing, Side};
use crate::common::{strip_ansi, Workdir};

use chaintrace_model::format_units;
use chaintrace_scenario::{Ledger, POLICIES};
use chaintrace_testkit::contracts::UniswapV3Pool;
use chaintrace_testkit::rng::Rng;
use chaintrace_testkit::tools::npm_bytecode;
use chaintrace_testkit::{encode_call, erc20_transfer, Anvil, Contracts, Word, U256};
use serde_json::{json, Value};

const GAS: u64 = 5_000_000;
const DEADLINE: u64 = 4_000_000_000;
const ETH: &str = "ethereum";
const ARB: &str = "arbitrum";

fn random_seed() -> u64 {
    if let Ok(s) = std::env::var("CHAINTRACE_E2E_SEED") {
        return s.trim().parse().expect("CHAINTRACE_E2E_SEED is a u64");
    }
    chaintrace_testkit::rng::fresh_seed()
}

use chaintrace_testkit::contracts::address_word as addr_word;

/// A Uniswap V2 router swap (see [`chaintrace_testkit::contracts::router_swap_call`]).
fn swap_call(sig: &str, amount_in: U256, path: &[&str], to: &str) -> Vec<u8> {
    chaintrace_testkit::contracts::router_swap_call(sig, amount_in, path, to, DEADLINE)
}

/// `swapExactETHForTokens(amountOutMin, path, to, deadline)`.
fn swap_eth_call(path: &[&str], to: &str) -> Vec<u8> {
    let mut call = chaintrace_testkit::selector("swapExactETHForTokens(uint256,address[],address,uint256)").to_vec();
    for w in [U256::ZERO, U256::from(4 * 32)] {
        call.extend_from_slice(&w.to_be_bytes::<32>());
    }
    call.extend_from_slice(&addr_word(to));
    call.extend_from_slice(&U256::from(DEADLINE).to_be_bytes::<32>());
    call.extend_from_slice(&U256::from(path.len()).to_be_bytes::<32>());
    for p in path {
        call.extend_from_slice(&addr_word(p));
    }
    call
}

fn approve(anvil: &Anvil, who: &str, token: &str, spender: &str) {
    anvil.send_confirmed(
        who,
        Some(token),
        0,
        &encode_call("approve(address,uint256)", &[Word::Address(spender.into()), Word::Uint(U256::MAX)]),
        GAS,
    );
}

/// The ledger's name of an asset on a chain: `chain|ETH` or `chain|0x…token`.
fn asset(chain: &str, a: &str) -> String {
    format!("{chain}|{a}")
}

/// What the ledger says a swap or bridge edge carries: (chain, tx, kind) → (traced in, traced
/// out) per policy, and the decimals of the assets in and out.
type Carried = BTreeMap<(String, String, &'static str), ([U256; 3], [U256; 3], u8, u8)>;

/// The deployed world of one run.
struct World {
    eth: Side,
    arb: Side,
    weth: String,
    router: String,
    v3: UniswapV3Pool,
}

fn deploy(c: &Contracts) -> World {
    let e = Anvil::builder().chain_id(1).accounts(20).spawn();
    let a = Anvil::builder().chain_id(42161).accounts(20).spawn();
    let owner = e.accounts()[0].clone();
    let o = owner.as_str();
    // The same deployer on both chains: WETH on chain 1 and USDC on chain 42161 share an
    // address (assets are per chain).
    let weth = e.deploy(o, &npm_bytecode("@uniswap/v2-periphery", "build/WETH9.json"));
    let factory = e.deploy(
        o,
        &with_args(npm_bytecode("@uniswap/v2-core", "build/UniswapV2Factory.json"), &[Word::Address(owner.clone())]),
    );
    let router = e.deploy(
        o,
        &with_args(
            npm_bytecode("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
            &[Word::Address(factory), Word::Address(weth.clone())],
        ),
    );
    let usdc_e = e.deploy(o, c.bytecode("UsdcLike"));
    let usdc_a = a.deploy(o, c.bytecode("UsdcLike"));
    let (te, me) = deploy_pair(&e, c, o, &usdc_e, 0);
    let (ta, ma) = deploy_pair(&a, c, o, &usdc_a, 3);
    set_remote(&e, o, &me, &ma);
    set_remote(&a, o, &ma, &me);

    // V2 pool USDC/WETH: 1,000,000 USDC against 500 ETH.
    approve(&e, o, &usdc_e, &router);
    e.send_confirmed(
        o,
        Some(&router),
        500 * 10u128.pow(18),
        &encode_call(
            "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
            &[
                Word::Address(usdc_e.clone()),
                Word::Uint(U256::from(1_000_000_000_000u64)),
                Word::Uint(U256::ZERO),
                Word::Uint(U256::ZERO),
                Word::Address(owner.clone()),
                Word::Uint(U256::from(DEADLINE)),
            ],
        ),
        GAS,
    );
    // V3 pool USDC/WETH (fee 3000) at the same price (5·10^8 wei per base unit of USDC), full
    // range; L = 4·10^15 is about 200,000 USDC and 90 WETH here.
    e.send_confirmed(o, Some(&weth), 300 * 10u128.pow(18), &encode_call("deposit()", &[]), GAS);
    let v3 = UniswapV3Pool::deploy(
        &e,
        c,
        o,
        &usdc_e,
        &weth,
        |usdc_is_token0| {
            // sqrtPriceX96 = sqrt(token1 per token0) · 2^96, by integer square root.
            let q192: U256 = U256::from(1u8) << 192;
            let p: U256 = U256::from(500_000_000u64);
            if usdc_is_token0 {
                (q192 * p).root(2)
            } else {
                (q192 / p).root(2)
            }
        },
        U256::from(4_000_000_000_000_000u64),
    );
    World {
        eth: Side { name: ETH, anvil: e, domain: 0, usdc: usdc_e, transmitter: te, messenger: me },
        arb: Side { name: ARB, anvil: a, domain: 3, usdc: usdc_a, transmitter: ta, messenger: ma },
        weth,
        router,
        v3,
    }
}

/// A multiple of `ledger.quantum(addr, asset)` between a third and the whole of what `addr`
/// holds (the whole when the quantum is the balance), so every haircut share is exact.
fn portion(ledger: &Ledger, rng: &mut Rng, addr: &str, asset: &str) -> U256 {
    let bal = ledger.balance(addr, asset);
    let q = ledger.quantum(addr, asset);
    let k_max = bal / q;
    let k_max = u64::try_from(k_max).unwrap_or(u64::MAX);
    let k = if k_max <= 1 { 1 } else { rng.range(k_max.div_ceil(3), k_max) };
    q * U256::from(k)
}

#[test]
fn a_payroll_swapped_on_uniswap_v2_bridged_and_cashed_out_is_traced_across_both_chains_exactly() {
    payroll_swap_bridge_cash_out(false);
}

#[test]
fn a_payroll_swapped_on_uniswap_v3_unwrapped_bridged_and_cashed_out_is_traced_across_both_chains_exactly() {
    payroll_swap_bridge_cash_out(true);
}

/// The whole typology with the swap to ETH through the V2 router or (`use_v3`) the V3 pool and
/// an unwrap.
fn payroll_swap_bridge_cash_out(use_v3: bool) {
    let seed = random_seed();
    println!("e2e cross-chain seed {seed} (replay: CHAINTRACE_E2E_SEED={seed})");
    let mut rng = Rng::new(seed);
    println!("swap to ETH through Uniswap {}", if use_v3 { "V3 (then unwrap)" } else { "V2 router" });
    let c = Contracts::compile();
    let w = deploy(&c);
    let (e, a) = (&w.eth.anvil, &w.arb.anvil);
    let acc: Vec<String> = e.accounts().iter().map(|s| s.to_ascii_lowercase()).collect();
    let [owner, employer, worker, l1, l2, ls, lh, lr, lq, lr2, d1, d2, h2, mixer, du, dx, rx, relayer, late, _] =
        <[String; 20]>::try_from(acc).expect("20 accounts");
    let usdc = w.eth.usdc.clone();
    let usdc_arb = w.arb.usdc.clone();
    let (u_eth, u_arb, native) = (asset(ETH, &usdc), asset(ARB, &usdc_arb), asset(ETH, "ETH"));

    let mut ledger = Ledger::new();
    ledger.add_seed(&worker);
    for s in [&owner, &employer, &mixer, &du, &dx, &late] {
        ledger.add_source(s);
    }
    ledger.add_pool(&d1, "Binance");
    ledger.add_pool(&d2, "Kraken");
    ledger.add_pool(&h2, "Kraken");
    let mut carried: Carried = BTreeMap::new();
    let mut decoys: BTreeSet<String> = BTreeSet::new();
    // swap tx → (asset in, asset out) as the case names them; bridge deposit tx → release tx
    let mut swap_assets: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut releases: BTreeMap<String, String> = BTreeMap::new();

    let send_usdc = |ledger: &mut Ledger, from: &str, to: &str, amount: U256, note: &str| -> String {
        let tx = e.send_confirmed(from, Some(&usdc), 0, &erc20_transfer(to, amount), GAS);
        ledger.transfer(&tx, from, to, &u_eth, amount, note);
        tx
    };
    let send_eth = |ledger: &mut Ledger, from: &str, to: &str, amount: U256, note: &str| -> String {
        let v = u128::try_from(amount).expect("wei fits u128");
        let tx = e.send_confirmed(from, Some(to), v, &[], 21_000);
        ledger.transfer(&tx, from, to, &native, amount, note);
        tx
    };
    // Opening balances (from the owner: clean).
    for who in [&employer, &mixer, &du, &dx] {
        send_usdc(&mut ledger, &owner, who, U256::from(1_000_000_000_000u64), "funding");
    }

    // Payroll: 1–3 payments to the worker (the seed), at least the 500 units its two hops below
    // can send on (a single smaller payment made the second hop revert: seed 16865697386766886768).
    let unit = U256::from(rng.range(1_000_000, 9_999_999)); // about 1–10 USDC
    for _ in 0..rng.range(1, 3) {
        let pay = unit * U256::from(rng.range(500, 900));
        send_usdc(&mut ledger, &employer, &worker, pay, "payroll");
    }
    // Hop 1: the worker pays l1 (mixed with clean funds before or after) and l2.
    let to_l1 = unit * U256::from(rng.range(100, 300));
    let clean = unit * U256::from(rng.range(1, 200));
    let clean_first = rng.chance(1, 2);
    if clean_first {
        send_usdc(&mut ledger, &mixer, &l1, clean, "clean funds mixed in");
    }
    send_usdc(&mut ledger, &worker, &l1, to_l1, "hop");
    if !clean_first {
        send_usdc(&mut ledger, &mixer, &l1, clean, "clean funds mixed in");
    }
    let to_l2 = unit * U256::from(rng.range(50, 200));
    send_usdc(&mut ledger, &worker, &l2, to_l2, "hop");
    // Hop 2: l1 pays the swapper a share; the rest goes to an exchange on chain 1.
    let x = portion(&ledger, &mut rng, &l1, &u_eth);
    send_usdc(&mut ledger, &l1, &ls, x, "hop to the swapper");
    let rest = ledger.balance(&l1, &u_eth);
    if !rest.is_zero() {
        send_usdc(&mut ledger, &l1, &d1, rest, "the rest of l1 cashed out on chain 1");
    }

    // The swap USDC → ETH, and an unrelated user's swap in the same block.
    approve(e, &ls, &usdc, if use_v3 { &w.v3.caller } else { &w.router });
    approve(e, &du, &usdc, if use_v3 { &w.v3.caller } else { &w.router });
    let decoy_in = unit * U256::from(rng.range(10, 500));
    let eth_before = e.eth_balance(&ls);
    let (usdc_ls0, usdc_du0) = (balance(e, &usdc, &ls), balance(e, &usdc, &du));
    let weth_before = balance(e, &w.weth, &ls);
    e.set_automine(false);
    let swap_tx = |who: &str, amount: U256| {
        let h = if use_v3 {
            let amount = i128::try_from(amount).expect("fits");
            // USDC in: zero for one when USDC is the pool's token0.
            let usdc_is_token0 = w.v3.token0.eq_ignore_ascii_case(&w.eth.usdc);
            let data = w.v3.swap_call(usdc_is_token0, amount, who);
            e.send_with_gas(who, Some(&w.v3.caller), U256::ZERO, &data, GAS)
        } else {
            let data = swap_call(
                "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
                amount,
                &[&usdc, &w.weth],
                who,
            );
            e.send_with_gas(who, Some(&w.router), U256::ZERO, &data, GAS)
        };
        h.to_ascii_lowercase()
    };
    let decoy_first = rng.chance(1, 2);
    let (swap, decoy_swap) = if decoy_first {
        let d = swap_tx(&du, decoy_in);
        (swap_tx(&ls, x), d)
    } else {
        let s = swap_tx(&ls, x);
        (s, swap_tx(&du, decoy_in))
    };
    e.mine(1);
    e.set_automine(true);
    for t in [&swap, &decoy_swap] {
        assert!(e.succeeded(t), "swap {t} failed: {}", e.receipt(t));
    }
    assert_eq!(e.receipt(&swap)["blockNumber"], e.receipt(&decoy_swap)["blockNumber"], "the same block");
    assert_eq!(usdc_ls0 - balance(e, &usdc, &ls), x, "the swapper paid x");
    assert_eq!(usdc_du0 - balance(e, &usdc, &du), decoy_in, "the decoy paid its input");
    let y = if use_v3 {
        let got_weth = balance(e, &w.weth, &ls) - weth_before;
        let (tin, tout) = ledger.carry(&swap, &ls, &u_eth, x, &ls, &asset(ETH, &w.weth), got_weth, "V3 swap");
        carried.insert((ETH.into(), swap.clone(), "swap"), (tin, tout, 6, 18));
        swap_assets.insert(swap.clone(), (usdc.clone(), w.weth.clone()));
        let unwrap =
            e.send_confirmed(&ls, Some(&w.weth), 0, &encode_call("withdraw(uint256)", &[Word::Uint(got_weth)]), GAS);
        let (tin, tout) = ledger.carry(&unwrap, &ls, &asset(ETH, &w.weth), got_weth, &ls, &native, got_weth, "unwrap");
        swap_assets.insert(unwrap.clone(), (w.weth.clone(), "ETH".into()));
        carried.insert((ETH.into(), unwrap, "swap"), (tin, tout, 18, 18));
        got_weth
    } else {
        let y = e.eth_balance(&ls) + e.gas_paid(&swap) - eth_before;
        let (tin, tout) = ledger.carry(&swap, &ls, &u_eth, x, &ls, &native, y, "V2 swap to ETH");
        carried.insert((ETH.into(), swap.clone(), "swap"), (tin, tout, 6, 18));
        swap_assets.insert(swap.clone(), (usdc.clone(), "ETH".into()));
        y
    };
    assert!(!y.is_zero());
    println!("swap: {x} USDC base units → {y} wei");
    // The decoy pays what it got to the same exchange (it is a source: clean by construction).
    let decoy_pay = if use_v3 {
        let amount = balance(e, &w.weth, &du);
        let tx = e.send_confirmed(&du, Some(&w.weth), 0, &erc20_transfer(&d1, amount), GAS);
        ledger.transfer(&tx, &du, &d1, &asset(ETH, &w.weth), amount, "decoy swapper pays Binance");
        tx
    } else {
        send_eth(&mut ledger, &du, &d1, U256::from(10u64).pow(U256::from(15)), "decoy swapper pays Binance")
    };
    decoys.insert(decoy_pay);

    // Hop 3: the swapper forwards all its ETH; clean ETH arrives later and goes to Binance.
    send_eth(&mut ledger, &ls, &lh, y, "hop");
    let late_eth = U256::from(rng.range(1, 1000)) * U256::from(10u64).pow(U256::from(15));
    send_eth(&mut ledger, &late, &ls, late_eth, "clean ETH after the swap");
    let late_dep = send_eth(&mut ledger, &ls, &d1, late_eth, "clean ETH paid on after the swap");

    // lh swaps the ETH back to USDC (V2, ETH in) and bridges all of it to lr on arbitrum.
    let before = balance(e, &usdc, &lh);
    let back = e.send_confirmed(
        &lh,
        Some(&w.router),
        u128::try_from(y).expect("fits"),
        &swap_eth_call(&[&w.weth, &usdc], &lh),
        GAS,
    );
    let z = balance(e, &usdc, &lh) - before;
    let (tin, tout) = ledger.carry(&back, &lh, &native, y, &lh, &u_eth, z, "V2 swap ETH to USDC");
    swap_assets.insert(back.clone(), ("ETH".into(), usdc.clone()));
    carried.insert((ETH.into(), back, "swap"), (tin, tout, 18, 6));
    // Arbitrum's clock runs an hour ahead: every release comes after its deposit.
    a.rpc("evm_increaseTime", json!([3600]));
    let mut bridge = |ledger: &mut Ledger, carried: &mut Carried, from: &str, to: &str, amount: U256, note: &str| {
        let mut xing: Crossing = deposit(&w.eth, &w.eth.messenger, &w.eth.transmitter, from, amount, 3, to);
        let msg = message(&xing, &w.eth.messenger, &w.arb.messenger, &usdc);
        relay(&w.arb, &w.arb.transmitter, &relayer, &mut xing, &msg);
        let (tin, tout) = ledger.carry(&xing.deposit_tx, from, &u_eth, amount, to, &u_arb, amount, note);
        carried.insert((ETH.into(), xing.deposit_tx.clone(), "bridge"), (tin, tout, 6, 6));
        releases.insert(xing.deposit_tx.clone(), xing.release_tx.clone().expect("released"));
        xing
    };
    let x1 = bridge(&mut ledger, &mut carried, &lh, &lr, z, "CCTP to arbitrum");
    // The second branch: l2 bridges what it got straight to lr2.
    let x2 = bridge(&mut ledger, &mut carried, &l2, &lr2, to_l2, "CCTP to arbitrum");
    // The decoy bridge: dx's deposit is released to rx, who pays the same exchange.
    let dxa = unit * U256::from(rng.range(10, 300));
    let x3 = bridge(&mut ledger, &mut carried, &dx, &rx, dxa, "decoy bridge");
    carried.remove(&(ETH.to_string(), x3.deposit_tx.clone(), "bridge"));
    for xing in [&x1, &x2, &x3] {
        assert!(xing.release_tx.is_some());
    }

    // On arbitrum: lr → lq → Kraken; lr2 → Kraken; rx → Kraken (decoy); Kraken sweeps.
    let send_arb = |ledger: &mut Ledger, from: &str, to: &str, amount: U256, note: &str| -> String {
        let tx = a.send_confirmed(from, Some(&usdc_arb), 0, &erc20_transfer(to, amount), GAS);
        ledger.transfer(&tx, from, to, &u_arb, amount, note);
        tx
    };
    let p = portion(&ledger, &mut rng, &lr, &u_arb);
    send_arb(&mut ledger, &lr, &lq, p, "hop on arbitrum");
    send_arb(&mut ledger, &lq, &d2, p, "cash-out on arbitrum");
    let p2 = portion(&ledger, &mut rng, &lr2, &u_arb);
    send_arb(&mut ledger, &lr2, &d2, p2, "cash-out on arbitrum");
    decoys.insert(send_arb(&mut ledger, &rx, &d2, dxa, "the decoy bridge's recipient pays Kraken"));
    send_arb(&mut ledger, &d2, &h2, p + p2 + dxa, "sweep");
    println!("ledger: {} deposits, at most {} hops", ledger.deposits.len(), ledger.max_hops);

    // Ingest both chains through the binary.
    let wd = Workdir::new();
    let cfg = wd.path().join("e2e.toml");
    let mut text = format!("[[wrapped_native]]\nchain = \"{ETH}\"\ncontract = \"{}\"\n\n", w.weth);
    for s in [&w.eth, &w.arb] {
        text.push_str(&format!(
            "[[bridges]]\nkind = \"cctp\"\nchain = \"{}\"\ndomain = {}\ntoken_messenger = \"{}\"\nmessage_transmitter = \"{}\"\n\n",
            s.name, s.domain, s.messenger, s.transmitter
        ));
    }
    std::fs::write(&cfg, text).expect("write config");
    let cfg = cfg.to_str().expect("utf-8 path");
    for s in [&w.eth, &w.arb] {
        let head = s.anvil.block_number().to_string();
        let out = wd
            .cmd(&["--config", cfg, "ingest", s.name, "--rpc", &s.anvil.url(), "--to", &head])
            .output()
            .expect("run chaintrace");
        assert!(out.status.success(), "ingest {}: {}", s.name, String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let labels = wd.path().join("labels.csv");
    std::fs::write(
        &labels,
        format!(
            "chain,address,category,entity,source,confidence\n\
             {ETH},{d1},exchange_deposit,Binance,test,90\n\
             {ARB},{d2},exchange_deposit,Kraken,test,90\n{ARB},{h2},exchange,Kraken,test,100\n\
             {ETH},{worker},sanctioned,TEST DPRK IT WORKER,test,100\n"
        ),
    )
    .expect("labels");
    wd.ok(&["--config", cfg, "labels", "import", labels.to_str().expect("utf-8"), "--format", "csv"]);

    let weth_asset = asset(ETH, &w.weth);
    let decimals = |a: &str| if a == native || a == weth_asset { 18 } else { 6 };
    let case_asset = |asset: &str| asset.split_once('|').expect("chain|asset").1.to_string();
    for (pi, policy) in POLICIES.iter().enumerate() {
        let out = wd.path().join(format!("{policy}.json"));
        let args = [
            "--config",
            cfg,
            "trace",
            "--chain",
            "ethereum,arbitrum",
            &worker,
            "--policy",
            policy,
            "--hops",
            "12",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        wd.ok(&args);
        let case: Value = serde_json::from_slice(&std::fs::read(&out).expect("case")).expect("case JSON");
        // Deposits: (chain, address, asset, traced amount, tx).
        let got: BTreeSet<(String, String, String, String, String)> = case["deposits"]
            .as_array()
            .expect("deposits")
            .iter()
            .map(|d| {
                let s = |k: &str| d[k].as_str().unwrap_or_else(|| panic!("deposit {k}: {d}")).to_string();
                (s("chain"), s("address"), s("asset"), s("amount"), s("tx"))
            })
            .collect();
        let want: BTreeSet<(String, String, String, String, String)> = ledger
            .deposits
            .iter()
            .filter_map(|d| {
                let t = d.traced_raw.get(*policy)?;
                let chain = d.asset.split_once('|').expect("chain|asset").0.to_string();
                let raw = U256::from_str_radix(t, 10).expect("decimal");
                Some((
                    chain,
                    d.address.clone(),
                    case_asset(&d.asset),
                    format_units(raw, decimals(&d.asset)),
                    d.tx.clone(),
                ))
            })
            .collect();
        assert_eq!(got, want, "{policy} (seed {seed}): the deposits are the ledger's, exact to the base unit");
        let flagged: BTreeSet<&str> = got.iter().map(|d| d.4.as_str()).collect();
        for t in &decoys {
            assert!(!flagged.contains(t.as_str()), "{policy} (seed {seed}): decoy {t} flagged");
        }
        assert_eq!(
            flagged.contains(late_dep.as_str()),
            *policy == "poison",
            "{policy}: ETH that arrived after the swap"
        );
        assert!(want.iter().any(|d| d.0 == ARB), "the trail reaches arbitrum");
        for d in case["deposits"].as_array().expect("deposits") {
            let path = d["path"].as_array().expect("path");
            assert_eq!(path.first().and_then(Value::as_str), Some(worker.as_str()), "{policy}: {d}");
            assert_eq!(path.last(), Some(&d["address"]), "{policy}: {d}");
        }

        // Swap and bridge edges: present, with their assets/chains and the ledger's traced amounts.
        let edges = case["edges"].as_array().expect("edges");
        for ((chain, tx, kind), (tin, tout, dec_in, dec_out)) in &carried {
            if tin[pi].is_zero() && tout[pi].is_zero() {
                // Nothing traced went through it under this policy (e.g. fifo when the clean funds
                // came first): a case lists only edges that carried traced funds.
                assert!(
                    !edges.iter().any(|g| g["tx"] == tx.as_str() && g["kind"] == *kind),
                    "{policy} (seed {seed}): a {kind} edge for {tx}, which carried nothing traced"
                );
                continue;
            }
            let edge = edges
                .iter()
                .find(|g| g["tx"] == tx.as_str() && g["kind"] == *kind)
                .unwrap_or_else(|| panic!("{policy} (seed {seed}): no {kind} edge for {tx}"));
            assert_eq!(edge["chain"], chain.as_str(), "{edge}");
            if *kind == "swap" {
                let (i, o) = &swap_assets[tx];
                assert_eq!(
                    (edge["asset_in"].as_str(), edge["asset_out"].as_str()),
                    (Some(i.as_str()), Some(o.as_str())),
                    "{edge}"
                );
                assert_eq!(edge["from"], edge["to"], "a swap edge runs from its owner to itself: {edge}");
                assert!(edge["from"] == ls.as_str() || edge["from"] == lh.as_str(), "the swapper owns it: {edge}");
            } else {
                assert_eq!((edge["chain_from"].as_str(), edge["chain_to"].as_str()), (Some(ETH), Some(ARB)), "{edge}");
                assert_eq!(edge["release_tx"].as_str(), Some(releases[tx].as_str()), "{edge}");
                assert_eq!(edge["release_asset"].as_str(), Some(usdc_arb.as_str()), "{edge}");
            }
            // A swap edge shows the owner's output (traced part) and the traced input; a bridge
            // edge the deposit (traced part) and what its release carried on.
            let (shown, other) = if *kind == "swap" { (tout, tin) } else { (tin, tout) };
            let (dec_shown, dec_other) = if *kind == "swap" { (*dec_out, *dec_in) } else { (*dec_in, *dec_out) };
            assert_eq!(
                (edge["traced_amount"].as_str(), edge["traced_in"].as_str()),
                (Some(format_units(shown[pi], dec_shown).as_str()), Some(format_units(other[pi], dec_other).as_str())),
                "{policy} (seed {seed}): traced amounts of {edge}"
            );
        }
        // The decoys' swap and bridge are not in the case.
        for t in [&decoy_swap, &x3.deposit_tx] {
            assert!(!edges.iter().any(|g| g["tx"] == t.as_str()), "{policy}: decoy {t} in the case");
        }
        let nodes = case["nodes"].as_array().expect("nodes");
        for n in [&du, &dx, &rx, &h2] {
            assert!(!nodes.iter().any(|g| g["address"] == n.as_str()), "{policy}: {n} in the case");
        }
    }

    // Ethereum alone, over the store and then over its snapshot: the walk over ids follows the
    // swaps (their legs as this chain recorded them) and ends the bridge deposit at the contract
    // (its release is on arbitrum, which this walk does not cover), and writes the walk over
    // addresses' case file byte for byte.
    let ethereum_alone = |name: &str, policy: &str| -> (Vec<u8>, String) {
        let out = wd.path().join(format!("{name}-{policy}.json"));
        let path = out.to_str().expect("utf-8");
        let args = [
            "--config", cfg, "-v", "trace", "--chain", ETH, &worker, "--policy", policy, "--hops", "12", "--out", path,
        ];
        let run = wd.cmd(&args).output().expect("run chaintrace");
        let log = strip_ansi(&String::from_utf8_lossy(&run.stderr));
        assert!(run.status.success(), "trace {args:?}: {log}");
        (std::fs::read(&out).expect("case"), log)
    };
    let over_store: Vec<(Vec<u8>, String)> = POLICIES.iter().map(|p| ethereum_alone("store", p)).collect();
    wd.ok(&["--config", cfg, "snapshot", "--chain", ETH]);
    for (policy, (want, store_log)) in POLICIES.iter().zip(&over_store) {
        assert!(
            store_log.contains("walk=\"addresses\"") || store_log.contains("walk=addresses"),
            "{policy}: {store_log}"
        );
        let (got, log) = ethereum_alone("snapshot", policy);
        assert!(log.contains("source=\"snapshot\"") || log.contains("source=snapshot"), "{policy}: {log}");
        assert!(log.contains("walk=\"ids\"") || log.contains("walk=ids"), "{policy}: the walk over ids ran: {log}");
        assert!(
            got == *want,
            "{policy} (seed {seed}): ethereum's case file over the snapshot differs from the store's"
        );
        let case: Value = serde_json::from_slice(&got).expect("case JSON");
        let kinds: BTreeSet<&str> =
            case["edges"].as_array().expect("edges").iter().filter_map(|e| e["kind"].as_str()).collect();
        // (poison follows everything that reached the swapper; FIFO may send clean funds first)
        if *policy == "poison" {
            assert!(kinds.contains("swap") && kinds.contains("bridge"), "{policy}: swap and bridge edges ({kinds:?})");
        }
    }
}
