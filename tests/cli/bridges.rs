//! Circle CCTP across two real nodes, through the real binary: `chaintrace ingest` of an anvil
//! with chain id 1 (`ethereum`, CCTP domain 0) and one with chain id 42161 (`arbitrum`, domain
//! 3), with a config whose `[[bridges]]` name the contracts deployed there, and the stored bridge
//! rows checked against the ledger of what the test sent, matched by (source domain, nonce).
//!
//! What stands in for a real recording: no recording of a bridge crossing with both sides exists
//! in `tests/data` (nor in the workplace's shared data), so the two sides are made here. The
//! contracts are this project's reduced CCTP V1 TokenMessenger / MessageTransmitter and a
//! 6-decimal USDC-like token (`crates/testkit/contracts/Flows.sol`); what they emit is CCTP V1's
//! public event layout (`DepositForBurn`, `MessageReceived`, the burn and the mint as ERC-20
//! `Transfer` logs, the V1 message and burn-message byte layouts). The test plays Circle's
//! relayer: it builds each message from its own ledger (not from the logs) and submits it to the
//! destination's transmitter; attestations are not modelled.
//!
//! Decoys: a look-alike messenger/transmitter pair that emits the same events but is not in the
//! config (ignored on both sides), a deposit whose release goes to someone other than the
//! depositor, a deposit never released, and (bad input, issue 13) a deposit to a CCTP domain no
//! configured chain has and a release claiming to come from such a domain: both stored as they
//! are, with that domain, never matched and never a zero amount.

use crate::common::Workdir;

use chaintrace_model::{Address, Asset, BridgeEvent, BridgeKey, BridgeSide, U256};
use chaintrace_store::Store;
use chaintrace_testkit::{encode_call, erc20_transfer, Anvil, Contracts, Word};
use serde_json::{json, Value};

const GAS: u64 = 3_000_000;
/// A CCTP domain no chain in the default config or the test's config has.
const UNKNOWN_DOMAIN: u32 = 99;

pub(crate) fn with_args(mut code: Vec<u8>, words: &[Word]) -> Vec<u8> {
    code.extend_from_slice(&encode_call("x()", words)[4..]);
    code
}

pub(crate) fn raw20(a: &str) -> [u8; 20] {
    hex::decode(a.trim_start_matches("0x")).expect("hex").try_into().expect("20 bytes")
}

pub(crate) fn word32(a: &str) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&raw20(a));
    w
}

pub(crate) fn call_u256(anvil: &Anvil, to: &str, data: &[u8]) -> U256 {
    let r = anvil.rpc("eth_call", json!([{"to": to, "data": format!("0x{}", hex::encode(data))}, "latest"]));
    U256::from_str_radix(r.as_str().expect("hex").trim_start_matches("0x"), 16).expect("uint")
}

pub(crate) fn balance(anvil: &Anvil, token: &str, who: &str) -> U256 {
    call_u256(anvil, token, &encode_call("balanceOf(address)", &[Word::Address(who.into())]))
}

/// One chain's CCTP stand-in.
pub(crate) struct Side {
    pub(crate) name: &'static str,
    pub(crate) anvil: Anvil,
    pub(crate) domain: u32,
    pub(crate) usdc: String,
    pub(crate) transmitter: String,
    pub(crate) messenger: String,
}

/// Deploy token, transmitter and messenger (and wire them) on `anvil`; returns (transmitter,
/// messenger).
pub(crate) fn deploy_pair(anvil: &Anvil, c: &Contracts, owner: &str, usdc: &str, domain: u32) -> (String, String) {
    let t = anvil.deploy(owner, &with_args(c.bytecode("CctpTransmitter").to_vec(), &[Word::Uint(U256::from(domain))]));
    let m = anvil.deploy(
        owner,
        &with_args(c.bytecode("CctpMessenger").to_vec(), &[Word::Address(t.clone()), Word::Address(usdc.into())]),
    );
    anvil.send_confirmed(owner, Some(&t), 0, &encode_call("setMessenger(address)", &[Word::Address(m.clone())]), GAS);
    anvil.send_confirmed(owner, Some(usdc), 0, &encode_call("addMinter(address)", &[Word::Address(m.clone())]), GAS);
    (t, m)
}

pub(crate) fn set_remote(anvil: &Anvil, owner: &str, messenger: &str, remote: &str) {
    let mut data = chaintrace_testkit::selector("setRemoteMessenger(bytes32)").to_vec();
    data.extend_from_slice(&word32(remote));
    anvil.send_confirmed(owner, Some(messenger), 0, &data, GAS);
}

/// What the test knows of one crossing, independent of the adapter's log decoding.
#[derive(Clone, Debug)]
pub(crate) struct Crossing {
    pub(crate) source: u32,
    pub(crate) dest: u32,
    pub(crate) nonce: u64,
    pub(crate) depositor: String,
    pub(crate) recipient: String,
    pub(crate) amount: U256,
    pub(crate) deposit_tx: String,
    pub(crate) release_tx: Option<String>,
}

/// `depositForBurn(amount, destinationDomain, mintRecipient, burnToken)` from `who` through
/// `messenger`/`transmitter`; the nonce is read from the transmitter before the call, and the
/// depositor's balance must drop by exactly `amount`.
pub(crate) fn deposit(
    side: &Side,
    messenger: &str,
    transmitter: &str,
    who: &str,
    amount: U256,
    dest: u32,
    recipient: &str,
) -> Crossing {
    let a = &side.anvil;
    a.send_confirmed(
        who,
        Some(&side.usdc),
        0,
        &encode_call("approve(address,uint256)", &[Word::Address(messenger.into()), Word::Uint(amount)]),
        GAS,
    );
    let nonce = call_u256(a, transmitter, &encode_call("nextAvailableNonce()", &[]));
    let before = balance(a, &side.usdc, who);
    let mut data = chaintrace_testkit::selector("depositForBurn(uint256,uint32,bytes32,address)").to_vec();
    data.extend_from_slice(&amount.to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(dest).to_be_bytes::<32>());
    data.extend_from_slice(&word32(recipient));
    data.extend_from_slice(&word32(&side.usdc));
    let tx = a.send_confirmed(who, Some(messenger), 0, &data, GAS);
    assert_eq!(before - balance(a, &side.usdc, who), amount, "the depositor paid the amount");
    Crossing {
        source: side.domain,
        dest,
        nonce: u64::try_from(nonce).expect("nonce fits u64"),
        depositor: who.to_string(),
        recipient: recipient.to_string(),
        amount,
        deposit_tx: tx,
        release_tx: None,
    }
}

/// The CCTP V1 message for `x` (built from the ledger): version ‖ sourceDomain ‖ destination
/// ‖ nonce ‖ sender ‖ recipient ‖ destinationCaller ‖ burn message (version ‖ burnToken ‖
/// mintRecipient ‖ amount ‖ messageSender).
pub(crate) fn message(x: &Crossing, source_messenger: &str, dest_messenger: &str, burn_token: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&x.source.to_be_bytes());
    m.extend_from_slice(&x.dest.to_be_bytes());
    m.extend_from_slice(&x.nonce.to_be_bytes());
    m.extend_from_slice(&word32(source_messenger));
    m.extend_from_slice(&word32(dest_messenger));
    m.extend_from_slice(&[0u8; 32]);
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&word32(burn_token));
    m.extend_from_slice(&word32(&x.recipient));
    m.extend_from_slice(&x.amount.to_be_bytes::<32>());
    m.extend_from_slice(&word32(&x.depositor));
    m
}

/// Submit `message` to `transmitter` on `dest` as the relayer (`receiveMessage(bytes,bytes)`,
/// empty attestation); the recipient's balance must rise by exactly the amount.
pub(crate) fn relay(dest: &Side, transmitter: &str, relayer: &str, x: &mut Crossing, message: &[u8]) {
    let pad = |n: usize| n.div_ceil(32) * 32;
    let mut data = chaintrace_testkit::selector("receiveMessage(bytes,bytes)").to_vec();
    data.extend_from_slice(&U256::from(64).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(64 + 32 + pad(message.len())).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(message.len()).to_be_bytes::<32>());
    data.extend_from_slice(message);
    data.resize(data.len() + pad(message.len()) - message.len(), 0);
    data.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    let before = balance(&dest.anvil, &dest.usdc, &x.recipient);
    x.release_tx = Some(dest.anvil.send_confirmed(relayer, Some(transmitter), 0, &data, GAS));
    assert_eq!(
        balance(&dest.anvil, &dest.usdc, &x.recipient) - before,
        x.amount,
        "the recipient was minted the amount"
    );
}

fn evm(a: &str) -> Address {
    Address::Evm(raw20(a))
}

fn tx_hex(e: &BridgeEvent) -> String {
    format!("0x{}", e.tx)
}

#[test]
fn cctp_deposits_on_one_node_match_their_releases_on_the_other_by_domain_and_nonce() {
    let c = Contracts::compile();
    let mk = |name: &'static str, chain_id: u64, domain: u32, filler: bool| {
        let anvil = Anvil::builder().chain_id(chain_id).accounts(12).spawn();
        let owner = anvil.accounts()[0].clone();
        if filler {
            // One contract more first, so the two chains' contracts have different addresses.
            anvil.deploy(&owner, c.bytecode("UsdcLike"));
        }
        let usdc = anvil.deploy(&owner, c.bytecode("UsdcLike"));
        let (transmitter, messenger) = deploy_pair(&anvil, &c, &owner, &usdc, domain);
        Side { name, anvil, domain, usdc, transmitter, messenger }
    };
    let eth = mk("ethereum", 1, 0, false);
    let arb = mk("arbitrum", 42161, 3, true);
    assert_ne!(eth.messenger, arb.messenger);
    let acc = eth.anvil.accounts();
    let owner = acc[0].as_str();
    set_remote(&eth.anvil, owner, &eth.messenger, &arb.messenger);
    set_remote(&arb.anvil, owner, &arb.messenger, &eth.messenger);
    // The look-alikes: the same contracts, the same token, not in the config.
    let (fake_t_eth, fake_m_eth) = deploy_pair(&eth.anvil, &c, owner, &eth.usdc, 0);
    let (fake_t_arb, fake_m_arb) = deploy_pair(&arb.anvil, &c, owner, &arb.usdc, 3);
    let (alice, bob, carol, dave, erin, mallory, frank, grace, relayer) =
        (&acc[1], &acc[2], &acc[3], &acc[4], &acc[5], &acc[6], &acc[7], &acc[8], &acc[9]);
    let e6 = U256::from(1_000_000u64);
    for (side, who) in [(&eth, alice), (&eth, carol), (&eth, erin), (&eth, mallory), (&eth, frank), (&arb, bob)] {
        side.anvil.send_confirmed(owner, Some(&side.usdc), 0, &erc20_transfer(who, U256::from(10_000u64) * e6), GAS);
    }

    // 1. alice → bob, ethereum → arbitrum, relayed.
    let mut x1 = deposit(&eth, &eth.messenger, &eth.transmitter, alice, U256::from(1_234_567_891u64), 3, bob);
    let msg = message(&x1, &eth.messenger, &arb.messenger, &eth.usdc);
    relay(&arb, &arb.transmitter, relayer, &mut x1, &msg);
    // 2. carol's deposit is released to dave (someone other than the depositor).
    let mut x2 = deposit(&eth, &eth.messenger, &eth.transmitter, carol, U256::from(500u64) * e6, 3, dave);
    let msg = message(&x2, &eth.messenger, &arb.messenger, &eth.usdc);
    relay(&arb, &arb.transmitter, relayer, &mut x2, &msg);
    // 3. erin's deposit is never released.
    let x3 = deposit(&eth, &eth.messenger, &eth.transmitter, erin, U256::from(42u64) * e6, 3, erin);
    // 4. mallory through the look-alikes on both sides (its nonce is 0 again, like alice's).
    let mut fake = deposit(&eth, &fake_m_eth, &fake_t_eth, mallory, U256::from(77u64) * e6, 3, mallory);
    assert_eq!(fake.nonce, x1.nonce, "the look-alike's nonce collides with a real one on purpose");
    let msg = message(&fake, &fake_m_eth, &fake_m_arb, &eth.usdc);
    relay(&arb, &fake_t_arb, relayer, &mut fake, &msg);
    // 5. frank deposits to a domain no configured chain has.
    let x5 = deposit(&eth, &eth.messenger, &eth.transmitter, frank, U256::from(7u64) * e6, UNKNOWN_DOMAIN, frank);
    // 6. a message claiming to come from that domain is received on arbitrum (to grace).
    let mut x6 = Crossing {
        source: UNKNOWN_DOMAIN,
        dest: 3,
        nonce: 5,
        depositor: frank.clone(),
        recipient: grace.clone(),
        amount: U256::from(3u64) * e6,
        deposit_tx: String::new(),
        release_tx: None,
    };
    let msg = message(&x6, &eth.messenger, &arb.messenger, &eth.usdc);
    relay(&arb, &arb.transmitter, relayer, &mut x6, &msg);
    // 7. bob sends some back: arbitrum → ethereum, to alice.
    let mut x7 =
        deposit(&arb, &arb.messenger, &arb.transmitter, bob, U256::from(100u64) * e6 + U256::from(1u8), 0, alice);
    let msg = message(&x7, &arb.messenger, &eth.messenger, &arb.usdc);
    // Each anvil's block times run on their own (a busy node's run ahead of the wall clock): the
    // relayer acts later than the deposit, so move ethereum's clock past arbitrum's.
    eth.anvil.rpc("evm_increaseTime", json!([3600]));
    relay(&eth, &eth.transmitter, relayer, &mut x7, &msg);

    // Ingest both chains with the deployed contracts declared.
    let w = Workdir::new();
    let cfg = w.path().join("bridges.toml");
    let mut text = String::new();
    for s in [&eth, &arb] {
        text.push_str(&format!(
            "[[bridges]]\nkind = \"cctp\"\nchain = \"{}\"\ndomain = {}\ntoken_messenger = \"{}\"\nmessage_transmitter = \"{}\"\n\n",
            s.name, s.domain, s.messenger, s.transmitter
        ));
    }
    std::fs::write(&cfg, text).expect("write config");
    let cfg = cfg.to_str().expect("utf-8 path");
    let mut warnings = String::new();
    for s in [&eth, &arb] {
        let head = s.anvil.block_number().to_string();
        let args = ["--config", cfg, "ingest", s.name, "--rpc", &s.anvil.url(), "--to", &head];
        let out = w.cmd(&args).output().expect("run chaintrace");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        warnings.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    println!("ingest warnings:\n{warnings}");

    // The ledger of bridge events per chain, in the shape of the stored rows.
    let token = |a: &str| Asset::Token(raw20(a));
    let dep = |s: &Side, x: &Crossing| {
        (
            s.name,
            x.deposit_tx.clone(),
            BridgeKey::cctp(x.source, x.nonce),
            token(&s.usdc),
            x.amount,
            BridgeSide::Deposit {
                owner: evm(&x.depositor),
                recipient: word32(&x.recipient).to_vec(),
                dest_domain: Some(x.dest),
            },
            evm(&s.messenger),
        )
    };
    let rel = |s: &Side, x: &Crossing| {
        (
            s.name,
            x.release_tx.clone().expect("released"),
            BridgeKey::cctp(x.source, x.nonce),
            token(&s.usdc),
            x.amount,
            BridgeSide::Release { recipient: evm(&x.recipient) },
            evm(&s.transmitter),
        )
    };
    let ledger = vec![
        dep(&eth, &x1),
        rel(&arb, &x1),
        dep(&eth, &x2),
        rel(&arb, &x2),
        dep(&eth, &x3),
        dep(&eth, &x5),
        rel(&arb, &x6),
        dep(&arb, &x7),
        rel(&eth, &x7),
    ];

    // Counts first: the look-alikes left nothing on either chain.
    let st: Value = serde_json::from_str(&w.ok(&["stats", "--json"])).expect("stats JSON");
    for s in [&eth, &arb] {
        let n = ledger.iter().filter(|l| l.0 == s.name).count() as u64;
        assert_eq!(st["chains"][s.name]["bridge_events"].as_u64(), Some(n), "{} bridge rows: {st}", s.name);
    }
    let verified = w.verified();
    for s in [&eth, &arb] {
        assert!(verified.chain(s.name).is_object());
    }

    let store = Store::open(&w.store()).expect("open the store");
    let shape = |chain: &'static str, e: BridgeEvent| (chain, tx_hex(&e), e.key, e.asset, e.amount, e.side, e.contract);
    let mut got = Vec::new();
    for s in [&eth, &arb] {
        for who in [alice, bob, carol, dave, erin, mallory, frank, grace, relayer] {
            for e in store.bridge_deposits(s.name, &evm(who)).expect("deposits") {
                got.push(shape(s.name, e));
            }
        }
    }
    // Releases are found by the deposit's key on the other chain: the match the tracer makes.
    for x in [&x1, &x2, &x3, &x5, &x6, &x7] {
        for s in [&eth, &arb] {
            if let Some(e) = store.bridge_release(s.name, &BridgeKey::cctp(x.source, x.nonce)).expect("release") {
                got.push(shape(s.name, e));
            }
        }
    }
    type Row = (&'static str, String, BridgeKey, Asset, U256, BridgeSide, Address);
    let key = |l: &Row| (l.0, l.1.clone());
    got.sort_by_key(key);
    let mut want = ledger.clone();
    want.sort_by_key(key);
    assert_eq!(got, want, "the stored bridge rows are exactly the ledger's");

    // The joins the tracer relies on, spelled out.
    for (x, from, to) in [(&x1, &eth, &arb), (&x2, &eth, &arb), (&x7, &arb, &eth)] {
        let d = store.bridge_deposits(from.name, &evm(&x.depositor)).expect("deposits");
        let d = d.iter().find(|e| tx_hex(e) == x.deposit_tx).expect("the deposit is stored");
        let r = store.bridge_release(to.name, &d.key).expect("release").expect("its release is stored");
        assert_eq!(Some(tx_hex(&r)), x.release_tx, "the release of {:?}", d.key);
        assert_eq!(r.side, BridgeSide::Release { recipient: evm(&x.recipient) });
        assert!(r.time >= d.time, "a release comes after its deposit");
    }
    assert_eq!(
        store.bridge_release("arbitrum", &BridgeKey::cctp(0, x1.nonce)).expect("release").map(|e| tx_hex(&e)),
        x1.release_tx,
        "the look-alike's release with the same (domain, nonce) is not stored"
    );
    assert!(store.bridge_deposits("ethereum", &evm(mallory)).expect("deposits").is_empty(), "look-alike deposit");
    for x in [&x3, &x5] {
        for s in [&eth, &arb] {
            assert!(
                store.bridge_release(s.name, &BridgeKey::cctp(x.source, x.nonce)).expect("release").is_none(),
                "deposit {} nonce {} has no release",
                x.depositor,
                x.nonce
            );
        }
    }
    // The unknown domain is kept as it was given (never 0, never dropped), and said at ingest.
    let f = store.bridge_deposits("ethereum", &evm(frank)).expect("deposits");
    assert!(
        matches!(&f[..], [e] if matches!(e.side, BridgeSide::Deposit { dest_domain: Some(UNKNOWN_DOMAIN), .. }) && e.amount == x5.amount),
        "{f:?}"
    );
    assert!(store.bridge_deposits("ethereum", &evm(grace)).expect("deposits").is_empty());
    assert!(
        warnings.contains(&format!("domain {UNKNOWN_DOMAIN}")),
        "ingest says which messages name an unknown domain:\n{warnings}"
    );
}

/// A bridge the config declares by its events (`kind = "event"`): a lockbox on `ethereum`
/// (chain id 1) and one on `bsc` (chain id 56), `Locked(address indexed owner, address token,
/// uint256 amount, uint64 nonce)` and `Released(address indexed recipient, address token,
/// uint256 amount, uint64 nonce)` keyed by `nonce`. Stands in for any bridge of that shape (no
/// real recording of one with both sides exists in the data). A lock released to someone else,
/// one never released and a look-alike lockbox (not declared) on both chains.
#[test]
fn a_bridge_declared_by_its_events_matches_deposits_to_releases_by_the_declared_key() {
    let c = Contracts::compile();
    let eth = Anvil::builder().chain_id(1).accounts(8).spawn();
    let bsc = Anvil::builder().chain_id(56).accounts(8).spawn();
    let acc = eth.accounts();
    let (owner, alice, bob, carol, dave) = (&acc[0], &acc[1], &acc[2], &acc[3], &acc[4]);
    bsc.deploy(owner, c.bytecode("Lockbox")); // different addresses on the two chains
    let usdt_eth = eth.deploy(owner, c.bytecode("TetherLike"));
    let usdt_bsc = bsc.deploy(owner, c.bytecode("TetherLike"));
    let box_eth = eth.deploy(owner, c.bytecode("Lockbox"));
    let box_bsc = bsc.deploy(owner, c.bytecode("Lockbox"));
    let fake_eth = eth.deploy(owner, c.bytecode("Lockbox"));
    let fake_bsc = bsc.deploy(owner, c.bytecode("Lockbox"));
    let e6 = U256::from(1_000_000u64);
    for who in [alice, carol] {
        eth.send_confirmed(owner, Some(&usdt_eth), 0, &erc20_transfer(who, U256::from(1_000u64) * e6), GAS);
    }
    for b in [&box_bsc, &fake_bsc] {
        bsc.send_confirmed(owner, Some(&usdt_bsc), 0, &erc20_transfer(b, U256::from(10_000u64) * e6), GAS);
    }
    // (owner on ethereum, lockbox, amount, recipient on bsc or none) → (nonce, lock tx, release tx)
    let lock = |who: &str, bx: &str, amount: U256| {
        eth.send_confirmed(
            who,
            Some(&usdt_eth),
            0,
            &encode_call("approve(address,uint256)", &[Word::Address(bx.into()), Word::Uint(amount)]),
            GAS,
        );
        let nonce = call_u256(&eth, bx, &encode_call("nextNonce()", &[]));
        let before = balance(&eth, &usdt_eth, who);
        let tx = eth.send_confirmed(
            who,
            Some(bx),
            0,
            &encode_call("lock(address,uint256)", &[Word::Address(usdt_eth.clone()), Word::Uint(amount)]),
            GAS,
        );
        assert_eq!(before - balance(&eth, &usdt_eth, who), amount);
        (nonce, tx)
    };
    let release = |bx: &str, to: &str, amount: U256, nonce: U256| {
        let before = balance(&bsc, &usdt_bsc, to);
        let tx = bsc.send_confirmed(
            owner,
            Some(bx),
            0,
            &encode_call(
                "release(address,address,uint256,uint64)",
                &[Word::Address(to.into()), Word::Address(usdt_bsc.clone()), Word::Uint(amount), Word::Uint(nonce)],
            ),
            GAS,
        );
        assert_eq!(balance(&bsc, &usdt_bsc, to) - before, amount);
        tx
    };
    let a1 = U256::from(250u64) * e6 + U256::from(1u8);
    let (n1, lock1) = lock(alice, &box_eth, a1);
    let rel1 = release(&box_bsc, bob, a1, n1);
    let a2 = U256::from(40u64) * e6;
    let (n2, lock2) = lock(carol, &box_eth, a2);
    let rel2 = release(&box_bsc, dave, a2, n2);
    let a3 = U256::from(9u64) * e6;
    let (n3, lock3) = lock(alice, &box_eth, a3);
    // The look-alike, with nonce 0 like alice's first lock.
    let (nf, _) = lock(carol, &fake_eth, U256::from(5u64) * e6);
    assert_eq!(nf, n1);
    release(&fake_bsc, carol, U256::from(5u64) * e6, nf);

    let w = Workdir::new();
    let cfg = w.path().join("lockbox.toml");
    let mut text = String::new();
    for (chain, bx) in [("ethereum", &box_eth), ("bsc", &box_bsc)] {
        text.push_str(&format!(
            "[[bridges]]\nkind = \"event\"\nchain = \"{chain}\"\nname = \"lockbox\"\ncontract = \"{bx}\"\n\
             deposit_event = \"Locked(address indexed owner, address token, uint256 amount, uint64 nonce)\"\n\
             release_event = \"Released(address indexed recipient, address token, uint256 amount, uint64 nonce)\"\n\
             key = [\"nonce\"]\n\n"
        ));
    }
    std::fs::write(&cfg, text).expect("write config");
    let cfg = cfg.to_str().expect("utf-8 path");
    for (chain, a) in [("ethereum", &eth), ("bsc", &bsc)] {
        let head = a.block_number().to_string();
        w.ok(&["--config", cfg, "ingest", chain, "--rpc", &a.url(), "--to", &head]);
    }
    let st: Value = serde_json::from_str(&w.ok(&["stats", "--json"])).expect("stats JSON");
    assert_eq!(st["chains"]["ethereum"]["bridge_events"].as_u64(), Some(3), "three locks: {st}");
    assert_eq!(st["chains"]["bsc"]["bridge_events"].as_u64(), Some(2), "two releases: {st}");
    w.verified();

    let store = Store::open(&w.store()).expect("open the store");
    let key = |n: U256| BridgeKey { protocol: "lockbox".into(), id: n.to_be_bytes::<32>().to_vec() };
    let token = |a: &str| Asset::Token(raw20(a));
    let mut deposits: Vec<(String, BridgeKey, Asset, U256, BridgeSide, Address)> = Vec::new();
    for who in [alice, bob, carol, dave] {
        for e in store.bridge_deposits("ethereum", &evm(who)).expect("deposits") {
            deposits.push((tx_hex(&e), e.key, e.asset, e.amount, e.side, e.contract));
        }
        assert!(store.bridge_deposits("bsc", &evm(who)).expect("deposits").is_empty());
    }
    deposits.sort_by(|a, b| a.0.cmp(&b.0));
    let dep = |tx: &str, n: U256, who: &str, amount: U256| {
        let side = BridgeSide::Deposit { owner: evm(who), recipient: Vec::new(), dest_domain: None };
        (tx.to_string(), key(n), token(&usdt_eth), amount, side, evm(&box_eth))
    };
    let mut want = vec![dep(&lock1, n1, alice, a1), dep(&lock2, n2, carol, a2), dep(&lock3, n3, alice, a3)];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(deposits, want, "the stored locks are the ledger's (the look-alike's is not among them)");
    for (n, tx, to, amount) in [(n1, &rel1, bob, a1), (n2, &rel2, dave, a2)] {
        let r = store.bridge_release("bsc", &key(n)).expect("release").expect("released");
        assert_eq!(
            (tx_hex(&r), r.asset, r.amount, r.side, r.contract),
            (tx.clone(), token(&usdt_bsc), amount, BridgeSide::Release { recipient: evm(to) }, evm(&box_bsc)),
            "the release of nonce {n}"
        );
    }
    assert!(store.bridge_release("bsc", &key(n3)).expect("release").is_none(), "never released");
    assert!(store.bridge_release("ethereum", &key(n1)).expect("release").is_none());
}

/// A reorg on the node takes a bridge deposit and a price point away: `chaintrace ingest` again
/// removes their rows with the orphaned blocks (same batch as the block), the deposit made anew
/// on the new branch (same nonce, another amount) is the only one stored, and `verify` agrees
/// with a fresh ingest of the new chain.
#[test]
fn a_reorg_removes_the_bridge_and_price_rows_of_orphaned_blocks() {
    let c = Contracts::compile();
    let anvil = Anvil::builder().chain_id(1).accounts(12).spawn();
    let acc = anvil.accounts();
    let (owner, alice, bob) = (acc[0].as_str(), acc[1].as_str(), acc[2].as_str());
    let usdc = anvil.deploy(owner, c.bytecode("UsdcLike"));
    let (transmitter, messenger) = deploy_pair(&anvil, &c, owner, &usdc, 0);
    let feed = anvil.deploy(owner, &with_args(c.bytecode("AnswerFeed").to_vec(), &[Word::Uint(U256::from(8u8))]));
    let e6 = U256::from(1_000_000u64);
    anvil.send_confirmed(owner, Some(&usdc), 0, &erc20_transfer(alice, U256::from(1_000u64) * e6), GAS);
    let side = Side { name: "ethereum", anvil, domain: 0, usdc, transmitter, messenger };
    let (t, m) = (side.transmitter.clone(), side.messenger.clone());
    let first = deposit(&side, &m, &t, alice, U256::from(300u64) * e6, 3, bob);
    let transmit = encode_call(
        "transmit(uint256,int256,uint256)",
        &[
            Word::Uint(U256::from(7u8)),
            Word::Uint(U256::from(200_000_000_000u64)),
            Word::Uint(U256::from(1_700_000_000u64)),
        ],
    );
    side.anvil.send_confirmed(owner, Some(&feed), 0, &transmit, GAS);

    let w = Workdir::new();
    let cfg = w.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[bridges]]\nkind = \"cctp\"\nchain = \"ethereum\"\ndomain = 0\ntoken_messenger = \"{m}\"\nmessage_transmitter = \"{t}\"\n\n\
             [[price_feeds]]\nchain = \"ethereum\"\naggregator = \"{feed}\"\nsymbol = \"ETH\"\ndecimals = 8\n"
        ),
    )
    .expect("config");
    let cfg = cfg.to_str().expect("utf-8");
    let ingest = |w: &Workdir| {
        let head = side.anvil.block_number().to_string();
        w.ok(&["--config", cfg, "ingest", "ethereum", "--rpc", &side.anvil.url(), "--to", &head]);
        let st: Value = serde_json::from_str(&w.ok(&["stats", "--json"])).expect("stats JSON");
        // (A zero count is left out of the JSON.)
        let n = |k: &str| st["chains"]["ethereum"].get(k).map_or(0, |v| v.as_u64().expect(k));
        (n("bridge_events"), n("price_points"))
    };
    assert_eq!(ingest(&w), (1, 1));
    {
        let store = Store::open(&w.store()).expect("store");
        let d = store.bridge_deposits("ethereum", &evm(alice)).expect("deposits");
        assert_eq!(d.iter().map(tx_hex).collect::<Vec<_>>(), vec![first.deposit_tx.clone()]);
    }

    // Replace the last three blocks (approve, deposit, transmit) by plain payments,
    // then deposit again on the new branch.
    let txs: Vec<Value> =
        (0..3u64).map(|i| json!([{"from": acc[5], "to": acc[6], "value": format!("0x{:x}", 1000 + i)}, i])).collect();
    side.anvil.reorg(3, json!(txs));
    let second = deposit(&side, &m, &t, alice, U256::from(120u64) * e6, 3, bob);
    assert_eq!(second.nonce, first.nonce, "the transmitter's state went back with the reorg");
    assert_eq!(ingest(&w), (1, 0), "the orphaned deposit and price point are gone");
    let store = Store::open(&w.store()).expect("store");
    let d = store.bridge_deposits("ethereum", &evm(alice)).expect("deposits");
    assert_eq!(
        d.iter().map(|e| (tx_hex(e), e.key.clone(), e.amount)).collect::<Vec<_>>(),
        vec![(second.deposit_tx.clone(), BridgeKey::cctp(0, second.nonce), second.amount)]
    );
    assert!(store.price_points("ethereum", &evm(&feed)).expect("points").is_empty());
    drop(store);
    let fresh = Workdir::new();
    assert_eq!(ingest(&fresh), (1, 0));
    assert_eq!(w.verified().without_dictionary(), fresh.verified().without_dictionary());
}
