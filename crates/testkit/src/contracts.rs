//! The project's Solidity test contracts, compiled with solcjs, and ABI call encoding.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use alloy_primitives::{keccak256, U256};

use crate::anvil::Anvil;
use crate::tools::npm_bytecode;

/// Compiled creation bytecode by contract name (`TetherLike`, `Gold18`, `MuteToken`,
/// `NftLike`, `Forwarder`, `Rejecter`, `SimpleToken`, and for conversions, bridges and price
/// feeds `UsdcLike`, `CctpTransmitter`, `CctpMessenger`, `Lockbox`, `AnswerFeed`, `V3Caller`,
/// `HollowPool`).
pub struct Contracts {
    bins: BTreeMap<String, Vec<u8>>,
}

/// `contracts/` of this crate in the checkout under test ([`crate::checkout`]).
fn sources_dir() -> PathBuf {
    crate::checkout().join("crates/testkit/contracts")
}

impl Contracts {
    /// Compile `contracts/*.sol` (cached by a hash of the sources). Panics on failure.
    pub fn compile() -> Contracts {
        let dir = sources_dir();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sol"))
            .collect();
        files.sort();
        let mut all = Vec::new();
        for f in &files {
            all.extend_from_slice(f.file_name().expect("file name").as_encoded_bytes());
            all.extend(std::fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display())));
        }
        let key = hex::encode(&keccak256(&all)[..8]);
        let out = crate::tools::tools_dir().join("solc-out").join(key);
        if !out.join("done").is_file() {
            let solc = crate::tools::solcjs();
            let tmp = out.with_extension(format!("tmp{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("create {}: {e}", tmp.display()));
            let o = Command::new(&solc)
                .arg("--bin")
                .arg("--optimize")
                .arg("--base-path")
                .arg(&dir)
                .arg("-o")
                .arg(&tmp)
                .args(&files)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", solc.display()));
            assert!(
                o.status.success(),
                "solcjs failed: {}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            std::fs::write(tmp.join("done"), b"ok").expect("write marker");
            let _ = std::fs::remove_dir_all(&out);
            if std::fs::rename(&tmp, &out).is_err() {
                // Another test process finished first; use its output.
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        let mut bins = BTreeMap::new();
        for e in std::fs::read_dir(&out).unwrap_or_else(|e| panic!("read {}: {e}", out.display())).flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".bin") {
                let contract = stem.rsplit('_').next().expect("solcjs names files <file>_sol_<Contract>.bin");
                let text = std::fs::read_to_string(e.path()).expect("read .bin");
                let code = hex::decode(text.trim()).unwrap_or_else(|e| panic!("bad hex in {name}: {e}"));
                bins.insert(contract.to_string(), code);
            }
        }
        Contracts { bins }
    }

    /// The compiled creation bytecode of contract `name`; panics if there is none.
    pub fn bytecode(&self, name: &str) -> &[u8] {
        self.bins.get(name).unwrap_or_else(|| panic!("no compiled contract named {name}"))
    }
}

/// A static ABI word.
#[derive(Clone, Debug)]
pub enum Word {
    /// A `0x`-hex address, left-padded to 32 bytes.
    Address(String),
    /// An unsigned integer, big-endian in 32 bytes.
    Uint(U256),
}

/// The 4-byte selector of a signature such as `transfer(address,uint256)`.
pub fn selector(sig: &str) -> [u8; 4] {
    let h = keccak256(sig.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// The call data of ERC-20 `transfer(to, amount)` (`amount` in the token's base units).
pub fn erc20_transfer(to: &str, amount: U256) -> Vec<u8> {
    encode_call("transfer(address,uint256)", &[Word::Address(to.to_string()), Word::Uint(amount)])
}

/// `selector ++ words`, for functions with static arguments only.
pub fn encode_call(sig: &str, args: &[Word]) -> Vec<u8> {
    let mut out = selector(sig).to_vec();
    for a in args {
        let mut w = [0u8; 32];
        match a {
            Word::Address(s) => {
                let b = hex::decode(s.trim_start_matches("0x")).expect("address hex");
                assert_eq!(b.len(), 20, "address {s} is not 20 bytes");
                w[12..].copy_from_slice(&b);
            }
            Word::Uint(v) => w = v.to_be_bytes::<32>(),
        }
        out.extend_from_slice(&w);
    }
    out
}

/// A 20-byte address (`0x…` hex) as a left-padded ABI word. Panics on bad hex (test input).
pub fn address_word(a: &str) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&hex::decode(a.trim_start_matches("0x")).expect("an 0x-hex address"));
    w
}

/// Calldata of a Uniswap V2 router swap `f(uint256 amountIn, uint256 amountOutMin, address[]
/// path, address to, uint256 deadline)` with no minimum out and the given `deadline`.
pub fn router_swap_call(sig: &str, amount_in: U256, path: &[&str], to: &str, deadline: u64) -> Vec<u8> {
    let mut out = selector(sig).to_vec();
    out.extend_from_slice(&amount_in.to_be_bytes::<32>());
    out.extend_from_slice(&U256::ZERO.to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(5 * 32).to_be_bytes::<32>()); // offset of `path`
    out.extend_from_slice(&address_word(to));
    out.extend_from_slice(&U256::from(deadline).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(path.len()).to_be_bytes::<32>());
    for p in path {
        out.extend_from_slice(&address_word(p));
    }
    out
}

/// A signed integer as a two's-complement ABI word (`int24`, `int256` arguments).
pub fn int_word(v: i128) -> Word {
    let w = if v < 0 { U256::MAX - U256::from(v.unsigned_abs()) + U256::from(1u8) } else { U256::from(v as u128) };
    Word::Uint(w)
}

/// The address an `eth_call` of `data` on `to` returns (the last 20 bytes of its word).
pub fn call_address(anvil: &Anvil, to: &str, data: &[u8]) -> String {
    let r =
        anvil.rpc("eth_call", serde_json::json!([{"to": to, "data": format!("0x{}", hex::encode(data))}, "latest"]));
    let h = r.as_str().expect("eth_call returns hex").trim_start_matches("0x");
    assert!(h.len() >= 40, "eth_call on {to} returned {h:?}, not an address word");
    format!("0x{}", &h[h.len() - 40..])
}

/// A real Uniswap V3 pool on anvil: the factory of `@uniswap/v3-core` (which deploys the pool's
/// own code on `createPool`), one pool, and our `V3Caller` callback contract that pays the pool
/// from the payer directly and never holds tokens.
#[derive(Clone, Debug)]
pub struct UniswapV3Pool {
    /// The factory.
    pub factory: String,
    /// The pool.
    pub pool: String,
    /// The `V3Caller` to mint and swap through (approve it to spend the payer's tokens).
    pub caller: String,
    /// The pool's `token0` (the lower address of the two).
    pub token0: String,
    /// The pool's `token1`.
    pub token1: String,
}

/// The fee tier of [`UniswapV3Pool::deploy`]'s pool, 0.3%.
pub const UNISWAP_V3_FEE: u32 = 3000;

impl UniswapV3Pool {
    /// Deploy the factory, create the `token_a`/`token_b` pool at fee 3000 (tick spacing 60),
    /// initialise it at `sqrt_price_x96(token0 == token_a)` (the price as `sqrt(token1 per
    /// token0) · 2^96`), and mint `liquidity` over the full range from `owner`, who must hold
    /// enough of both tokens; `owner` approves the caller for both without limit. Panics on any
    /// failed step (a test's setup).
    pub fn deploy(
        anvil: &Anvil,
        contracts: &Contracts,
        owner: &str,
        token_a: &str,
        token_b: &str,
        sqrt_price_x96: impl FnOnce(bool) -> U256,
        liquidity: U256,
    ) -> UniswapV3Pool {
        const GAS: u64 = 5_000_000;
        // Too large for `Anvil::deploy`'s gas: the factory carries the pool's code.
        let code = npm_bytecode("@uniswap/v3-core", "artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json");
        let tx = anvil.send_confirmed(owner, None, 0, &code, 25_000_000);
        let factory = anvil.receipt(&tx)["contractAddress"].as_str().expect("contractAddress").to_ascii_lowercase();
        let fee = Word::Uint(U256::from(UNISWAP_V3_FEE));
        let pair = [Word::Address(token_a.to_string()), Word::Address(token_b.to_string()), fee];
        anvil.send_confirmed(
            owner,
            Some(&factory),
            0,
            &encode_call("createPool(address,address,uint24)", &pair),
            25_000_000,
        );
        let pool = call_address(anvil, &factory, &encode_call("getPool(address,address,uint24)", &pair));
        let token0 = call_address(anvil, &pool, &encode_call("token0()", &[]));
        let a_is_token0 = token0.eq_ignore_ascii_case(token_a);
        let token1 = if a_is_token0 { token_b } else { token_a }.to_ascii_lowercase();
        let price = Word::Uint(sqrt_price_x96(a_is_token0));
        anvil.send_confirmed(owner, Some(&pool), 0, &encode_call("initialize(uint160)", &[price]), GAS);
        let caller = anvil.deploy(owner, contracts.bytecode("V3Caller"));
        for t in [&token0, &token1] {
            let approve = [Word::Address(caller.clone()), Word::Uint(U256::MAX)];
            anvil.send_confirmed(owner, Some(t), 0, &encode_call("approve(address,uint256)", &approve), GAS);
        }
        // The full range for tick spacing 60.
        let mint = [Word::Address(pool.clone()), int_word(-887_220), int_word(887_220), Word::Uint(liquidity)];
        anvil.send_confirmed(owner, Some(&caller), 0, &encode_call("mint(address,int24,int24,uint128)", &mint), GAS);
        UniswapV3Pool { factory, pool, caller, token0, token1 }
    }

    /// Calldata for the caller's `swap(pool, zeroForOne, amountSpecified, recipient)`: a
    /// positive `amount` is an exact input, a negative one an exact output.
    pub fn swap_call(&self, zero_for_one: bool, amount: i128, to: &str) -> Vec<u8> {
        encode_call(
            "swap(address,bool,int256,address)",
            &[
                Word::Address(self.pool.clone()),
                Word::Uint(U256::from(zero_for_one as u8)),
                int_word(amount),
                Word::Address(to.to_string()),
            ],
        )
    }
}
