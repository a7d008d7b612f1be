//! Chains as the configuration names them, and the secret wrapper for RPC URLs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which adapter a chain uses; it decides how addresses and hashes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainKind {
    /// Bitcoin (UTXO, sats).
    Bitcoin,
    /// An EVM chain (accounts, wei and ERC-20 tokens).
    Evm,
    /// TRON: its Ethereum-compatible JSON-RPC and/or its HTTP API (`/wallet/…`); accounts are
    /// [`crate::Address::Tron`], amounts in sun, tokens [`crate::Asset::TronToken`].
    Tron,
}

/// One chain entry of the configuration (`[chains.NAME]` in `configs/default.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// Filled from the table key when the config is loaded.
    #[serde(default)]
    pub name: String,
    /// Which adapter reads the chain.
    pub kind: ChainKind,
    /// Bitcoin network (`mainnet`, `testnet`, `signet`, `regtest`).
    #[serde(default)]
    pub network: Option<String>,
    /// EVM chain id the node must report (TRON: its JSON-RPC chain id, 728126428 on mainnet).
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// TRON: the genesis block id the node must report, checked only when given here.
    #[serde(default)]
    pub genesis: Option<String>,
    /// Ticker of the native coin (`BTC`, `ETH`, `TRX`).
    pub native_symbol: String,
    /// Decimal places of the native coin (8 for sats, 18 for wei).
    pub native_decimals: u8,
    /// Default RPC endpoint; may carry an API key, so it is never printed whole.
    #[serde(default)]
    pub rpc: Option<Sensitive>,
    /// Token contracts whose price follows a stablecoin column / a named asset in the price
    /// table, keyed by lower-case contract address → price symbol (e.g. `USDT`).
    #[serde(default)]
    pub price_symbols: std::collections::BTreeMap<String, String>,
    /// Stablecoin contracts whose freeze events become `frozen` labels, beyond the issuers'
    /// built-in mainnet contracts: contract address (`0x…`, or `T…` on TRON) → issuer
    /// (`Tether`: `AddedBlackList`/`RemovedBlackList`; `Circle`: `Blacklisted`/`UnBlacklisted`).
    #[serde(default)]
    pub freeze_contracts: std::collections::BTreeMap<String, String>,
}

/// A string that must never be logged whole (RPC URLs with API keys, passwords).
/// `Debug` and `Display` print `<redacted>`; [`Sensitive::redacted_url`] shows `scheme://host`,
/// and so does `Serialize` (a config or case echoed as JSON never carries the secret). It is
/// read from configs as a plain string.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Serialize for Sensitive {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted_url())
    }
}

impl Sensitive {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Sensitive(s.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `https://user:pw@host:8545/v2/KEY` → `https://host:8545`.
    ///
    /// When the text before the first `/`, `?` or `#` has no `@` but an `@` follows, the URL
    /// is ambiguous: a password pasted with a `/`, `?` or `#` left unencoded
    /// (`http://user:pa#ss@host`), or an `@` in the path or query. Either reading could put part
    /// of the secret where the host should be, so the host is shown as `<redacted>` too.
    pub fn redacted_url(&self) -> String {
        let s = self.0.as_str();
        let Some((scheme, rest)) = s.split_once("://") else {
            return "<redacted>".to_string();
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if !authority.contains('@') && rest.contains('@') {
            return format!("{scheme}://<redacted>");
        }
        let host = authority.rsplit('@').next().unwrap_or("");
        format!("{scheme}://{host}")
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_leak() {
        let s = Sensitive::new("https://user:pw@mainnet.example.com:8545/v2/SECRETKEY?x=1");
        assert_eq!(s.redacted_url(), "https://mainnet.example.com:8545");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert!(!s.redacted_url().contains("SECRET"));
        assert_eq!(Sensitive::new("no scheme SECRET").redacted_url(), "<redacted>");
    }

    #[test]
    fn a_password_with_unencoded_delimiters_does_not_leak_into_the_host() {
        for url in ["http://admin:pa#ss/wo?rd SECRET@127.0.0.1:8332", "http://user:pa/SECRET@h", "http://u:p?S@h"] {
            let r = Sensitive::new(url).redacted_url();
            assert_eq!(r, "http://<redacted>", "{url}");
        }
        // An encoded password is unambiguous.
        assert_eq!(Sensitive::new("http://admin:pa%23ss@127.0.0.1:8332/x").redacted_url(), "http://127.0.0.1:8332");
    }

    #[test]
    fn serialising_a_secret_writes_only_scheme_and_host() {
        let s = Sensitive::new("http://rpcuser:hunter2@127.0.0.1:8332/wallet/KEY");
        let json = serde_json::to_string(&s).expect("serialise");
        assert_eq!(json, "\"http://127.0.0.1:8332\"");
        let back: Sensitive = serde_json::from_str("\"http://u:p@h/KEY\"").expect("read from a config");
        assert_eq!(back.expose(), "http://u:p@h/KEY");
    }
}
