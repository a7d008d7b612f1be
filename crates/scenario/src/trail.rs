//! The demo's cross-chain trail on two real anvil nodes: payroll in a 6-decimal stablecoin on
//! chain 1 (`ethereum`) to a new sanctioned wallet, a CCTP-style bridge of the stablecoin to
//! chain 42161 (`arbitrum`), a swap of it to ETH through a real Uniswap V2 pool there (the
//! `@uniswap/v2-core` factory and pair, `@uniswap/v2-periphery` router and WETH9), and the cash
//! out at a labelled exchange deposit address, which sweeps to the exchange's hot wallet.
//!
//! CCTP moves USDC only, so the stablecoin crosses and the swap to ETH happens on the second
//! chain. The bridge contracts are the project's reduced CCTP V1 stand-ins
//! (`crates/testkit/contracts/Flows.sol`: Circle's real `DepositForBurn` / `MessageReceived`
//! layouts; attestations are not checked, the message is relayed as Circle's relayers do).
//!
//! Decoy: an unrelated user swaps its own USDC for ETH through the same pool in the same block
//! as the traced swap and pays the same deposit address; no policy may flag it.
//!
//! The ground truth is the scenario [`Ledger`]'s (SPEC's rules for transfers, bridges and
//! swaps), fed with the amounts the nodes report — never with a trace's output.

use std::collections::BTreeMap;

use alloy_primitives::{keccak256, U256};
use chaintrace_testkit::tools::npm_bytecode;
use chaintrace_testkit::{encode_call, Anvil, Contracts, Word};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::chain::Chain;
use crate::ledger::{DepositTruth, Ledger};
use crate::typology::Truth;

/// The second chain's name in the config.
pub const SECOND_CHAIN: &str = "arbitrum";
/// Its chain id.
pub const SECOND_CHAIN_ID: u64 = 42_161;
/// CCTP domains of the two chains (Ethereum 0, Arbitrum 3, as Circle numbers them).
pub const DOMAINS: (u32, u32) = (0, 3);
/// The exchange the trail cashes out at.
pub const EXCHANGE: &str = "Charlie Exchange";

/// What the trail put on the two chains.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrailTruth {
    /// The second chain's name and id.
    pub chain: String,
    /// Its chain id.
    pub chain_id: u64,
    /// Last block of the second chain to ingest (it starts at genesis).
    pub last_block: u64,
    /// The USDC-like token on chain 1 and on the second chain.
    pub usdc: (String, String),
    /// CCTP token messengers on chain 1 and on the second chain.
    pub messengers: (String, String),
    /// CCTP message transmitters on chain 1 and on the second chain.
    pub transmitters: (String, String),
    /// The second chain's WETH9 and Uniswap V2 router and pair.
    pub weth: String,
    /// Uniswap V2 router.
    pub router: String,
    /// The USDC/WETH pair.
    pub pair: String,
    /// The sanctioned wallet paid in USDC on chain 1 (a seed).
    pub seed: String,
    /// Who the bridge releases to on the second chain.
    pub recipient: String,
    /// The exchange deposit address on the second chain.
    pub deposit_address: String,
    /// The exchange's hot wallet on the second chain.
    pub hot_wallet: String,
    /// Payroll, bridge, swap and cash-out transactions: (what, chain, tx).
    pub steps: Vec<(String, String, String)>,
    /// USDC bridged (base units, 6 decimals) and ETH received for it (wei).
    pub bridged: String,
    /// ETH the swap paid the recipient (wei).
    pub swapped_eth: String,
}

impl TrailTruth {
    /// Labels of the second chain: the deposit address and the hot wallet.
    pub fn labels_rows(&self) -> String {
        format!(
            "{c},{d},exchange_deposit,{EXCHANGE},scenario:exchange-wallets,90\n{c},{h},exchange,{EXCHANGE},scenario:exchange-wallets,100\n",
            c = self.chain,
            d = self.deposit_address,
            h = self.hot_wallet
        )
    }

    /// Config for both chains' stand-in contracts: tokens' price symbols, the CCTP deployments
    /// and the second chain's WETH (a `[chains.arbitrum]` table replaces the default's whole).
    pub fn config_toml(&self) -> String {
        format!(
            "\n[chains.{c}]\nkind = \"evm\"\nchain_id = {id}\nnative_symbol = \"ETH\"\nnative_decimals = 18\n\n\
             [chains.{c}.price_symbols]\n\"{u2}\" = \"USDC\"\n\"{weth}\" = \"ETH\"\n\n\
             [[bridges]]\nkind = \"cctp\"\nchain = \"ethereum\"\ndomain = {d1}\ntoken_messenger = \"{m1}\"\nmessage_transmitter = \"{t1}\"\n\n\
             [[bridges]]\nkind = \"cctp\"\nchain = \"{c}\"\ndomain = {d2}\ntoken_messenger = \"{m2}\"\nmessage_transmitter = \"{t2}\"\n\n\
             [[wrapped_native]]\nchain = \"{c}\"\ncontract = \"{weth}\"\n",
            c = self.chain,
            id = self.chain_id,
            u2 = self.usdc.1,
            weth = self.weth,
            d1 = DOMAINS.0,
            d2 = DOMAINS.1,
            m1 = self.messengers.0,
            t1 = self.transmitters.0,
            m2 = self.messengers.1,
            t2 = self.transmitters.1,
        )
    }
}

fn addr_word(a: &str) -> [u8; 32] {
    let mut w = [0u8; 32];
    let b = hex::decode(a.trim_start_matches("0x")).expect("address hex");
    w[12..].copy_from_slice(&b);
    w
}

fn with_args(mut code: Vec<u8>, args: &[Word]) -> Vec<u8> {
    code.extend_from_slice(&encode_call("x()", args)[4..]);
    code
}

/// A fresh address named by `tag` (no key: the nodes impersonate every sender).
fn wallet(tag: &str) -> String {
    format!("0x{}", hex::encode(&keccak256(format!("chaintrace demo trail {tag}").as_bytes())[12..]))
}

fn eth_balance(anvil: &Anvil, who: &str) -> U256 {
    let r = anvil.rpc("eth_getBalance", json!([who, "latest"]));
    U256::from_str_radix(r.as_str().expect("hex").trim_start_matches("0x"), 16).expect("balance")
}

fn deploy_big(anvil: &Anvil, from: &str, code: &[u8]) -> String {
    let tx = anvil.send_confirmed(from, None, 0, code, 25_000_000);
    let r = anvil.receipt(&tx);
    assert_eq!(r["status"].as_str(), Some("0x1"), "trail: a deployment reverted: {r}");
    r["contractAddress"].as_str().expect("contractAddress").to_ascii_lowercase()
}

/// The CCTP message the deposit's transmitter sent (`MessageSent(bytes)` of the receipt).
fn message_sent(anvil: &Anvil, tx: &str, transmitter: &str) -> Vec<u8> {
    let topic = format!("0x{}", hex::encode(keccak256(b"MessageSent(bytes)")));
    let r = anvil.receipt(tx);
    let log = r["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find(|l| {
            l["topics"][0] == topic.as_str()
                && l["address"].as_str().map(str::to_ascii_lowercase).as_deref() == Some(transmitter)
        })
        .unwrap_or_else(|| panic!("trail: the deposit {tx} sent no CCTP message"));
    let data = hex::decode(log["data"].as_str().expect("data").trim_start_matches("0x")).expect("data hex");
    let len = U256::from_be_slice(&data[32..64]).to::<usize>();
    data[64..64 + len].to_vec()
}

fn approve(c: &mut Chain<'_>, token: &str, owner: &str, spender: &str, what: &str) {
    let data = encode_call("approve(address,uint256)", &[Word::Address(spender.into()), Word::Uint(U256::MAX)]);
    c.call(owner, token, U256::ZERO, &data, what);
}

fn swap_to_eth(usdc: &str, weth: &str, amount: U256, to: &str) -> Vec<u8> {
    // swapExactTokensForETH(amountIn, amountOutMin, path, to, deadline): path is dynamic.
    let mut d =
        chaintrace_testkit::selector("swapExactTokensForETH(uint256,uint256,address[],address,uint256)").to_vec();
    for w in [amount, U256::ZERO, U256::from(160u32)] {
        d.extend_from_slice(&w.to_be_bytes::<32>());
    }
    d.extend_from_slice(&addr_word(to));
    d.extend_from_slice(&U256::from(u64::MAX).to_be_bytes::<32>());
    d.extend_from_slice(&U256::from(2u8).to_be_bytes::<32>());
    d.extend_from_slice(&addr_word(usdc));
    d.extend_from_slice(&addr_word(weth));
    d
}

/// Run the trail after the main typology on `eth` (chain 1, its scenario already generated into
/// `truth`) and on `arb` (a fresh node started with chain id [`SECOND_CHAIN_ID`] and
/// [`crate::chain::anvil_args`] of a genesis after `truth.end_time`). Adds the trail's seed,
/// deposits, decoys and wallets to `truth` and moves its `last_block` and `end_time` on.
pub fn run(eth: &Anvil, arb: &Anvil, contracts: &Contracts, truth: &mut Truth) -> TrailTruth {
    let e6 = U256::from(1_000_000u64);
    let (owner1, owner2) = (wallet("usdc issuer ethereum"), wallet("usdc issuer arbitrum"));
    let (employer, seed, recipient) = (wallet("employer"), wallet("sanctioned worker"), wallet("bridge recipient"));
    let (decoy, deposit, hot) = (wallet("unrelated user"), wallet("charlie deposit"), wallet("charlie hot wallet"));
    let relayer = wallet("cctp relayer");
    let mut ledger = Ledger::new();
    let mut steps = Vec::new();

    // Chain 1: the USDC stand-in and its CCTP pair, after the scenario's last block.
    let mut c1 = Chain::new(eth, truth.end_time);
    let usdc1 = c1.deploy(&owner1, contracts.bytecode("UsdcLike"), "trail: USDC on ethereum");
    let t1 = c1.deploy(
        &owner1,
        &with_args(contracts.bytecode("CctpTransmitter").to_vec(), &[Word::Uint(U256::from(DOMAINS.0))]),
        "trail: CCTP transmitter on ethereum",
    );
    let m1 = c1.deploy(
        &owner1,
        &with_args(
            contracts.bytecode("CctpMessenger").to_vec(),
            &[Word::Address(t1.clone()), Word::Address(usdc1.clone())],
        ),
        "trail: CCTP messenger on ethereum",
    );

    // The second chain: USDC, CCTP pair, WETH9 and Uniswap V2 with a USDC/ETH pool.
    arb.rpc("anvil_autoImpersonateAccount", json!([true]));
    arb.rpc("anvil_setBalance", json!([owner2, "0xd3c21bcecceda1000000"])); // 1,000,000 ETH
    let usdc2 = arb.deploy(&owner2, contracts.bytecode("UsdcLike"));
    let t2 = arb.deploy(
        &owner2,
        &with_args(contracts.bytecode("CctpTransmitter").to_vec(), &[Word::Uint(U256::from(DOMAINS.1))]),
    );
    let m2 = arb.deploy(
        &owner2,
        &with_args(
            contracts.bytecode("CctpMessenger").to_vec(),
            &[Word::Address(t2.clone()), Word::Address(usdc2.clone())],
        ),
    );
    let gas = 1_000_000;
    arb.send_confirmed(&owner2, Some(&t2), 0, &encode_call("setMessenger(address)", &[Word::Address(m2.clone())]), gas);
    arb.send_confirmed(&owner2, Some(&usdc2), 0, &encode_call("addMinter(address)", &[Word::Address(m2.clone())]), gas);
    let mut remote = chaintrace_testkit::selector("setRemoteMessenger(bytes32)").to_vec();
    remote.extend_from_slice(&addr_word(&m1));
    arb.send_confirmed(&owner2, Some(&m2), 0, &remote, gas);
    let weth = deploy_big(arb, &owner2, &npm_bytecode("@uniswap/v2-periphery", "build/WETH9.json"));
    let factory = deploy_big(
        arb,
        &owner2,
        &with_args(npm_bytecode("@uniswap/v2-core", "build/UniswapV2Factory.json"), &[Word::Address(owner2.clone())]),
    );
    let router = deploy_big(
        arb,
        &owner2,
        &with_args(
            npm_bytecode("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
            &[Word::Address(factory.clone()), Word::Address(weth.clone())],
        ),
    );
    let approve_all = encode_call("approve(address,uint256)", &[Word::Address(router.clone()), Word::Uint(U256::MAX)]);
    arb.send_confirmed(&owner2, Some(&usdc2), 0, &approve_all, gas);
    // 3,000,000 USDC against 1,000 ETH: 3,000 USDC per ETH.
    let liquidity = encode_call(
        "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        &[
            Word::Address(usdc2.clone()),
            Word::Uint(U256::from(3_000_000u64) * e6),
            Word::Uint(U256::ZERO),
            Word::Uint(U256::ZERO),
            Word::Address(owner2.clone()),
            Word::Uint(U256::from(u64::MAX)),
        ],
    );
    let added = arb.send_confirmed(&owner2, Some(&router), 1_000 * 10u128.pow(18), &liquidity, 5_000_000);
    assert!(arb.succeeded(&added), "trail: adding liquidity failed");
    let pair_raw = arb.rpc(
        "eth_call",
        json!([{"to": factory, "data": format!("0x{}", hex::encode(encode_call("getPair(address,address)", &[Word::Address(usdc2.clone()), Word::Address(weth.clone())])))}, "latest"]),
    );
    let pair = format!("0x{}", &pair_raw.as_str().expect("pair")[26..]);

    // Chain 1: wire the CCTP pair to the second chain's messenger, then the payroll.
    c1.call(
        &owner1,
        &t1,
        U256::ZERO,
        &encode_call("setMessenger(address)", &[Word::Address(m1.clone())]),
        "trail: wire",
    );
    c1.call(
        &owner1,
        &usdc1,
        U256::ZERO,
        &encode_call("addMinter(address)", &[Word::Address(m1.clone())]),
        "trail: wire",
    );
    let mut remote = chaintrace_testkit::selector("setRemoteMessenger(bytes32)").to_vec();
    remote.extend_from_slice(&addr_word(&m2));
    c1.call(&owner1, &m1, U256::ZERO, &remote, "trail: wire");
    let funding = c1.send_token(&usdc1, &owner1, &employer, U256::from(1_000_000u64) * e6, "trail: employer funding");
    c1.mine(600);
    ledger.add_source(&owner1);
    ledger.add_seed(&seed);
    ledger.add_pool(&deposit, EXCHANGE);
    ledger.add_pool(&hot, EXCHANGE);
    ledger.transfer(&funding, &owner1, &employer, &usdc1, U256::from(1_000_000u64) * e6, "employer funding");
    let mut bridged = U256::ZERO;
    for (i, pay) in [4_250u64, 4_250, 3_875].into_iter().enumerate() {
        let amount = U256::from(pay) * e6 + U256::from(123_456u64 * (i as u64 + 1));
        let tx = c1.send_token(&usdc1, &employer, &seed, amount, "trail: payroll");
        c1.mine(86_400);
        ledger.transfer(&tx, &employer, &seed, &usdc1, amount, "payroll in USDC to the sanctioned worker");
        steps.push(("payroll (USDC)".to_string(), "ethereum".to_string(), tx));
        bridged += amount;
    }
    approve(&mut c1, &usdc1, &seed, &m1, "trail: approve the messenger");
    c1.mine(300);
    let mut burn = chaintrace_testkit::selector("depositForBurn(uint256,uint32,bytes32,address)").to_vec();
    burn.extend_from_slice(&bridged.to_be_bytes::<32>());
    burn.extend_from_slice(&U256::from(DOMAINS.1).to_be_bytes::<32>());
    burn.extend_from_slice(&addr_word(&recipient));
    burn.extend_from_slice(&addr_word(&usdc1));
    let burn_tx = c1.call(&seed, &m1, U256::ZERO, &burn, "trail: CCTP deposit for burn");
    c1.mine(3_600);
    steps.push(("bridge deposit (CCTP DepositForBurn)".to_string(), "ethereum".to_string(), burn_tx.clone()));
    ledger.carry(&burn_tx, &seed, &usdc1, bridged, &recipient, &usdc2, bridged, "CCTP bridge to arbitrum");
    let message = message_sent(eth, &burn_tx, &t1);

    // The second chain: the release, then a decoy and the traced swap in one block, cash-out.
    let mut c2 = Chain::new(arb, c1.time + 900);
    let decoy_usdc = U256::from(5_000u64) * e6;
    let fund = c2.send_token(&usdc2, &owner2, &decoy, decoy_usdc, "trail: decoy funding");
    let pad = |n: usize| n.div_ceil(32) * 32;
    let mut relay = chaintrace_testkit::selector("receiveMessage(bytes,bytes)").to_vec();
    relay.extend_from_slice(&U256::from(64u8).to_be_bytes::<32>());
    relay.extend_from_slice(&U256::from(64 + 32 + pad(message.len())).to_be_bytes::<32>());
    relay.extend_from_slice(&U256::from(message.len()).to_be_bytes::<32>());
    relay.extend_from_slice(&message);
    relay.resize(relay.len() + pad(message.len()) - message.len(), 0);
    relay.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    let release = c2.call(&relayer, &t2, U256::ZERO, &relay, "trail: CCTP release (receiveMessage)");
    c2.mine(60);
    ledger.add_source(&owner2);
    ledger.transfer(&fund, &owner2, &decoy, &usdc2, decoy_usdc, "an unrelated user's own USDC");
    steps.push(("bridge release (CCTP MessageReceived)".to_string(), SECOND_CHAIN.to_string(), release));
    approve(&mut c2, &usdc2, &recipient, &router, "trail: approve the router");
    approve(&mut c2, &usdc2, &decoy, &router, "trail: decoy approves the router");
    c2.mine(120);
    let decoy_swap =
        c2.call(&decoy, &router, U256::ZERO, &swap_to_eth(&usdc2, &weth, decoy_usdc, &decoy), "trail: decoy swap");
    let swap = c2.call(
        &recipient,
        &router,
        U256::ZERO,
        &swap_to_eth(&usdc2, &weth, bridged, &recipient),
        "trail: swap to ETH",
    );
    c2.mine(30);
    // No gas is paid on these nodes: the balances are exactly what the swaps paid.
    let (got, decoy_got) = (eth_balance(arb, &recipient), eth_balance(arb, &decoy));
    assert!(!got.is_zero() && !decoy_got.is_zero(), "trail: the swaps paid no ETH");
    ledger.carry(&decoy_swap, &decoy, &usdc2, decoy_usdc, &decoy, "ETH", decoy_got, "decoy swap in the same block");
    ledger.carry(&swap, &recipient, &usdc2, bridged, &recipient, "ETH", got, "swap to ETH on Uniswap V2");
    steps.push(("swap USDC → ETH (Uniswap V2)".to_string(), SECOND_CHAIN.to_string(), swap));
    let cash = c2.send_eth(&recipient, &deposit, got, "trail: cash-out");
    let decoy_cash = c2.send_eth(&decoy, &deposit, decoy_got, "trail: decoy cash-out");
    c2.mine(600);
    ledger.transfer(&cash, &recipient, &deposit, "ETH", got, "cross-chain cash-out: payroll bridged, swapped to ETH");
    ledger.transfer(
        &decoy_cash,
        &decoy,
        &deposit,
        "ETH",
        decoy_got,
        "decoy: an unrelated user's own swap, same block, same deposit address",
    );
    steps.push((format!("cash-out at {EXCHANGE}"), SECOND_CHAIN.to_string(), cash));
    let sweep = c2.send_eth(&deposit, &hot, got + decoy_got, "trail: sweep");
    c2.mine(600);
    ledger.transfer(&sweep, &deposit, &hot, "ETH", got + decoy_got, "sweep to the hot wallet");

    // Into the scenario's truth.
    let (deps, decoys): (Vec<DepositTruth>, Vec<DepositTruth>) =
        ledger.deposits.into_iter().partition(|d| d.is_traced());
    truth.deposits.extend(deps);
    truth.decoys.extend(decoys);
    truth.seeds.push(seed.clone());
    truth.hops = truth.hops.max(ledger.max_hops);
    truth.last_block = c1.head();
    truth.end_time = c2.time;
    truth.transactions += c1.mined.len() + c2.mined.len();
    let roles: BTreeMap<String, String> = [
        (&seed, "trail: sanctioned worker paid in USDC (seed)"),
        (&employer, "trail: employer"),
        (&recipient, "trail: bridge recipient on arbitrum, swaps to ETH"),
        (&decoy, "trail: unrelated user (decoy) on arbitrum"),
        (&deposit, "trail: Charlie Exchange deposit address on arbitrum"),
        (&hot, "trail: Charlie Exchange hot wallet on arbitrum"),
    ]
    .into_iter()
    .map(|(a, r)| (a.clone(), r.to_string()))
    .collect();
    truth.wallets.extend(roles);
    TrailTruth {
        chain: SECOND_CHAIN.into(),
        chain_id: SECOND_CHAIN_ID,
        last_block: c2.head(),
        usdc: (usdc1, usdc2),
        messengers: (m1, m2),
        transmitters: (t1, t2),
        weth,
        router,
        pair,
        seed,
        recipient,
        deposit_address: deposit,
        hot_wallet: hot,
        steps,
        bridged: bridged.to_string(),
        swapped_eth: got.to_string(),
    }
}
