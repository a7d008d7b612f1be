//! Conversions recognised from real Uniswap V2 contracts on anvil: the compiled factory, pair,
//! router and WETH9 of the npm packages `@uniswap/v2-core` and `@uniswap/v2-periphery`
//! (installed by `scripts/setup`; a missing package fails the test). Real swaps are made through
//! the router; the ledger the stored conversions are compared with is independent of the
//! adapter's log decoding: the amounts the test sent, and balances read with `eth_call`
//! (tokens) and `eth_getBalance` plus the gas the receipt charged (ETH) before and after.

use std::sync::atomic::AtomicBool;

use chaintrace_evm::{ingest, EvmAdapter, EvmConfig, FlowConfig, IngestOptions, MemorySink, TraceSetting};
use chaintrace_model::{Address, Asset, Conversion, ConversionKind, Sensitive};
use chaintrace_testkit::contracts::UniswapV3Pool;
use chaintrace_testkit::tools::npm_bytecode;
use chaintrace_testkit::{encode_call, Anvil, Contracts, Word, U256};
use serde_json::json;

const DEADLINE: u64 = 4_000_000_000;

use chaintrace_testkit::contracts::address_word as addr_word;

/// A Uniswap V2 router swap (see [`chaintrace_testkit::contracts::router_swap_call`]).
fn swap_call(sig: &str, amount_in: U256, path: &[&str], to: &str) -> Vec<u8> {
    chaintrace_testkit::contracts::router_swap_call(sig, amount_in, path, to, DEADLINE)
}

fn with_args(mut code: Vec<u8>, words: &[Word]) -> Vec<u8> {
    code.extend_from_slice(&encode_call("x()", words)[4..]);
    code
}

fn token_balance(anvil: &Anvil, token: &str, who: &str) -> U256 {
    let data = encode_call("balanceOf(address)", &[Word::Address(who.into())]);
    let r = anvil.rpc("eth_call", json!([{"to": token, "data": format!("0x{}", hex::encode(data))}, "latest"]));
    U256::from_str_radix(r.as_str().expect("hex").trim_start_matches("0x"), 16).expect("uint")
}

fn evm(a: &str) -> Address {
    Address::parse_evm(a).expect("address")
}

fn token(a: &str) -> Asset {
    match evm(a) {
        Address::Evm(b) => Asset::Token(b),
        _ => unreachable!("an EVM address"),
    }
}

/// What the ledger says one conversion must be.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    tx: String,
    owner: Address,
    asset_in: Asset,
    amount_in: U256,
    asset_out: Asset,
    amount_out: U256,
    kind: ConversionKind,
}

fn as_expected(c: &Conversion) -> Expected {
    Expected {
        tx: format!("0x{}", c.tx),
        owner: c.owner.clone(),
        asset_in: c.asset_in,
        amount_in: c.amount_in,
        asset_out: c.asset_out,
        amount_out: c.amount_out,
        kind: c.kind,
    }
}

async fn ingest_all(anvil: &Anvil, traces: TraceSetting, flows: FlowConfig) -> MemorySink {
    let mut cfg = EvmConfig::new("ethereum", Some(anvil.chain_id()));
    cfg.traces = traces;
    let adapter = EvmAdapter::connect(&Sensitive::new(anvil.url()), cfg).await.expect("connect").with_flows(flows);
    let sink = MemorySink::default();
    let opts = IngestOptions { to: Some(anvil.block_number()), chunk_blocks: 8, ..IngestOptions::default() };
    ingest(&adapter, &sink, None::<&chaintrace_evm::MemoryTokenMeta>, &opts, &AtomicBool::new(false), |_| {})
        .await
        .expect("ingest");
    sink
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniswap_v2_swaps_and_weth_wraps_become_the_users_conversions() {
    let anvil = Anvil::builder().chain_id(1).accounts(4).spawn();
    let acc = anvil.accounts();
    let (lp, user, decoy) = (acc[0].as_str(), acc[1].as_str(), acc[2].as_str());
    let big = U256::from(10u64).pow(U256::from(30));
    let weth = anvil.deploy(lp, &npm_bytecode("@uniswap/v2-periphery", "build/WETH9.json"));
    let factory = anvil.deploy(
        lp,
        &with_args(npm_bytecode("@uniswap/v2-core", "build/UniswapV2Factory.json"), &[Word::Address(lp.into())]),
    );
    let router = anvil.deploy(
        lp,
        &with_args(
            npm_bytecode("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
            &[Word::Address(factory.clone()), Word::Address(weth.clone())],
        ),
    );
    let erc20 = npm_bytecode("@uniswap/v2-core", "build/ERC20.json");
    let usdc = anvil.deploy(lp, &with_args(erc20.clone(), &[Word::Uint(big)]));
    let dai = anvil.deploy(lp, &with_args(erc20, &[Word::Uint(big)]));
    let gas = 5_000_000;
    for t in [&usdc, &dai] {
        anvil.send_confirmed(
            lp,
            Some(t),
            0,
            &encode_call("approve(address,uint256)", &[Word::Address(router.clone()), Word::Uint(big)]),
            gas,
        );
    }
    let e18 = U256::from(10u64).pow(U256::from(18));
    // Pools: USDC/DAI and USDC/WETH, seeded by the liquidity provider.
    anvil.send_confirmed(
        lp,
        Some(&router),
        0,
        &encode_call(
            "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
            &[
                Word::Address(usdc.clone()),
                Word::Address(dai.clone()),
                Word::Uint(U256::from(1_000_000u64) * e18),
                Word::Uint(U256::from(1_000_500u64) * e18),
                Word::Uint(U256::ZERO),
                Word::Uint(U256::ZERO),
                Word::Address(lp.into()),
                Word::Uint(U256::from(DEADLINE)),
            ],
        ),
        gas,
    );
    anvil.send_confirmed(
        lp,
        Some(&router),
        500 * 10u128.pow(18),
        &encode_call(
            "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
            &[
                Word::Address(usdc.clone()),
                Word::Uint(U256::from(1_000_000u64) * e18),
                Word::Uint(U256::ZERO),
                Word::Uint(U256::ZERO),
                Word::Address(lp.into()),
                Word::Uint(U256::from(DEADLINE)),
            ],
        ),
        gas,
    );
    // The user and a decoy get USDC and approve the router.
    for who in [user, decoy] {
        anvil.send_confirmed(
            lp,
            Some(&usdc),
            0,
            &chaintrace_testkit::erc20_transfer(who, U256::from(50_000u64) * e18),
            gas,
        );
        anvil.send_confirmed(
            who,
            Some(&usdc),
            0,
            &encode_call("approve(address,uint256)", &[Word::Address(router.clone()), Word::Uint(big)]),
            gas,
        );
        anvil.send_confirmed(
            who,
            Some(&weth),
            0,
            &encode_call("approve(address,uint256)", &[Word::Address(router.clone()), Word::Uint(big)]),
            gas,
        );
    }
    let mut ledger = Vec::new();

    // 1. token → token: USDC → DAI.
    let amount = U256::from(1_234u64) * e18 + U256::from(567u64);
    let dai_before = token_balance(&anvil, &dai, user);
    let tx = anvil.send_confirmed(
        user,
        Some(&router),
        0,
        &swap_call("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)", amount, &[&usdc, &dai], user),
        gas,
    );
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: token(&usdc),
        amount_in: amount,
        asset_out: token(&dai),
        amount_out: token_balance(&anvil, &dai, user) - dai_before,
        kind: ConversionKind::UniswapV2,
    });
    // 2. token → ETH through the router: the pair's Swap names the router; the user converts.
    let amount = U256::from(2_000u64) * e18;
    let eth_before = anvil.eth_balance(user);
    let tx = anvil.send_confirmed(
        user,
        Some(&router),
        0,
        &swap_call("swapExactTokensForETH(uint256,uint256,address[],address,uint256)", amount, &[&usdc, &weth], user),
        gas,
    );
    let got_eth = anvil.eth_balance(user) + anvil.gas_paid(&tx) - eth_before;
    let swap_to_eth = tx.clone();
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: token(&usdc),
        amount_in: amount,
        asset_out: Asset::Native,
        amount_out: got_eth,
        kind: ConversionKind::UniswapV2,
    });
    // 3. ETH → token: the router wraps the ETH on the way.
    let value = 3 * 10u128.pow(17);
    let usdc_before = token_balance(&anvil, &usdc, user);
    // (amountOutMin, path, to, deadline): no amountIn, the path's offset is four words.
    let mut call = chaintrace_testkit::selector("swapExactETHForTokens(uint256,address[],address,uint256)").to_vec();
    for w in [
        U256::ZERO.to_be_bytes::<32>(),
        U256::from(4 * 32).to_be_bytes::<32>(),
        addr_word(user),
        U256::from(DEADLINE).to_be_bytes::<32>(),
        U256::from(2).to_be_bytes::<32>(),
        addr_word(&weth),
        addr_word(&usdc),
    ] {
        call.extend_from_slice(&w);
    }
    let tx = anvil.send_confirmed(user, Some(&router), value, &call, gas);
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: Asset::Native,
        amount_in: U256::from(value),
        asset_out: token(&usdc),
        amount_out: token_balance(&anvil, &usdc, user) - usdc_before,
        kind: ConversionKind::UniswapV2,
    });
    // 4. wrap and 5. unwrap, directly on WETH9.
    let wrap = 7 * 10u128.pow(17);
    let tx = anvil.send_confirmed(user, Some(&weth), wrap, &encode_call("deposit()", &[]), gas);
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: Asset::Native,
        amount_in: U256::from(wrap),
        asset_out: token(&weth),
        amount_out: U256::from(wrap),
        kind: ConversionKind::Wrap,
    });
    let unwrap = U256::from(25 * 10u128.pow(16));
    let tx = anvil.send_confirmed(user, Some(&weth), 0, &encode_call("withdraw(uint256)", &[Word::Uint(unwrap)]), gas);
    let unwrap_tx = tx.clone();
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: token(&weth),
        amount_in: unwrap,
        asset_out: Asset::Native,
        amount_out: unwrap,
        kind: ConversionKind::Unwrap,
    });
    // 6. A decoy's swap to another address: the decoy only gives, the receiver only gets, so
    // neither converted (the legs stay transfers).
    let tx_decoy = anvil.send_confirmed(
        decoy,
        Some(&router),
        0,
        &swap_call("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)", e18, &[&usdc, &dai], &acc[3]),
        gas,
    );

    let flows = FlowConfig {
        wrapped_native: vec![match evm(&weth) {
            Address::Evm(b) => b,
            _ => unreachable!(),
        }],
        ..FlowConfig::default()
    };
    let sink = ingest_all(&anvil, TraceSetting::Auto, flows.clone()).await;
    let mut got: Vec<Expected> = sink.snapshot().values().flat_map(|b| b.conversions.iter().map(as_expected)).collect();
    let venues: Vec<Option<Address>> =
        sink.snapshot().values().flat_map(|b| b.conversions.iter().map(|c| c.venue.clone())).collect();
    got.sort_by(|a, b| a.tx.cmp(&b.tx));
    ledger.sort_by(|a, b| a.tx.cmp(&b.tx));
    // Liquidity adds are not conversions: the provider gets LP tokens for two assets.
    assert_eq!(got, ledger, "with traces: exactly the ledger's conversions");
    assert!(!got.iter().any(|c| c.tx == tx_decoy), "a swap paid to a third party is nobody's conversion");
    assert!(
        venues.iter().all(|v| v.as_ref().is_some_and(|v| *v != evm(user) && *v != evm(&router))),
        "venues are pools or WETH"
    );

    // Without traces, ETH paid by an internal call is not seen: the swap to ETH and the unwrap
    // are left out (and noted), everything else is the same.
    let sink = ingest_all(&anvil, TraceSetting::Off, flows).await;
    let mut got: Vec<Expected> = sink.snapshot().values().flat_map(|b| b.conversions.iter().map(as_expected)).collect();
    got.sort_by(|a, b| a.tx.cmp(&b.tx));
    let without: Vec<&Expected> = ledger.iter().filter(|e| e.tx != swap_to_eth && e.tx != unwrap_tx).collect();
    assert_eq!(got.iter().collect::<Vec<_>>(), without);
}

/// The real Uniswap V3 factory and pool of `@uniswap/v3-core` (the factory deploys the pool's
/// own code on `createPool`), initialised at price 1 with full-range liquidity minted through a
/// callback contract of ours (`V3Caller`, which makes the payer pay the pool directly and never
/// holds tokens), by [`UniswapV3Pool::deploy`]. Swaps in both directions, one exact-input and
/// one exact-output; the ledger is the balances read from the node before and after each swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniswap_v3_swaps_in_both_directions_become_the_users_conversions() {
    let anvil = Anvil::builder().chain_id(1).accounts(4).spawn();
    let acc = anvil.accounts();
    let (lp, user, decoy, third) = (acc[0].as_str(), acc[1].as_str(), acc[2].as_str(), acc[3].as_str());
    let big = U256::from(10u64).pow(U256::from(30));
    let e18 = U256::from(10u64).pow(U256::from(18));
    let gas = 5_000_000;
    let erc20 = npm_bytecode("@uniswap/v2-core", "build/ERC20.json");
    let a = anvil.deploy(lp, &with_args(erc20.clone(), &[Word::Uint(big)]));
    let b = anvil.deploy(lp, &with_args(erc20, &[Word::Uint(big)]));
    // sqrtPriceX96 = 2^96: price 1.
    let v3 = UniswapV3Pool::deploy(
        &anvil,
        &Contracts::compile(),
        lp,
        &a,
        &b,
        |_| U256::from(1u8) << 96,
        U256::from(10u64).pow(U256::from(24)),
    );
    let (pool, caller, token0, token1) = (&v3.pool, &v3.caller, &v3.token0, &v3.token1);
    for who in [user, decoy] {
        for t in [token0, token1] {
            anvil.send_confirmed(
                lp,
                Some(t),
                0,
                &chaintrace_testkit::erc20_transfer(who, U256::from(100_000u64) * e18),
                gas,
            );
            anvil.send_confirmed(
                who,
                Some(t),
                0,
                &encode_call("approve(address,uint256)", &[Word::Address(caller.clone()), Word::Uint(big)]),
                gas,
            );
        }
    }
    let swap = |from: &str, zero_for_one: bool, amount: i128, to: &str| {
        anvil.send_confirmed(from, Some(caller), 0, &v3.swap_call(zero_for_one, amount, to), gas)
    };
    let mut ledger = Vec::new();
    // 1. token0 → token1, exact input.
    let amount = 1_234 * 10i128.pow(18) + 7;
    let (b0, b1) = (token_balance(&anvil, token0, user), token_balance(&anvil, token1, user));
    let tx = swap(user, true, amount, user);
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: token(token0),
        amount_in: b0 - token_balance(&anvil, token0, user),
        asset_out: token(token1),
        amount_out: token_balance(&anvil, token1, user) - b1,
        kind: ConversionKind::UniswapV3,
    });
    assert_eq!(ledger[0].amount_in, U256::from(amount as u128), "an exact-input swap takes exactly the input");
    // 2. token1 → token0, exact output (a negative amountSpecified).
    let want = 500 * 10i128.pow(18);
    let (b0, b1) = (token_balance(&anvil, token0, user), token_balance(&anvil, token1, user));
    let tx = swap(user, false, -want, user);
    ledger.push(Expected {
        tx,
        owner: evm(user),
        asset_in: token(token1),
        amount_in: b1 - token_balance(&anvil, token1, user),
        asset_out: token(token0),
        amount_out: token_balance(&anvil, token0, user) - b0,
        kind: ConversionKind::UniswapV3,
    });
    assert_eq!(ledger[1].amount_out, U256::from(want as u128), "an exact-output swap pays exactly the output");
    // 3. The decoy pays, a third party receives: nobody converted.
    let tx_decoy = swap(decoy, true, 10i128.pow(18), third);

    let sink = ingest_all(&anvil, TraceSetting::Auto, FlowConfig::default()).await;
    let all: Vec<Conversion> = sink.snapshot().values().flat_map(|b| b.conversions.clone()).collect();
    let mut got: Vec<Expected> = all.iter().map(as_expected).collect();
    got.sort_by(|a, b| a.tx.cmp(&b.tx));
    ledger.sort_by(|a, b| a.tx.cmp(&b.tx));
    // Pool creation, initialisation and the liquidity mint are not conversions.
    assert_eq!(got, ledger, "exactly the ledger's conversions");
    assert!(!got.iter().any(|c| c.tx == tx_decoy), "a swap paid to a third party is nobody's conversion");
    assert!(all.iter().all(|c| c.venue == Some(evm(pool))), "the venue is the pool: {all:?}");
}
