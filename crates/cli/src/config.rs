//! One typed configuration: the embedded `configs/default.toml`, then `--config FILE` overlaid
//! section by section, then flags.
//!
//! A config file is read into [`ConfigFile`], whose sections are typed and reject unknown keys
//! (the error names the key and its line). Overlaying is per key: a user's `[tracer]` that sets
//! only `hops` keeps the default policy and hub degree; a user's `[chains.NAME]` table replaces
//! the default table of that name whole, and new names add chains. Defaults that the tracer
//! defines (hops, policy, hub degree) are its constants, never repeated here.

use std::{collections::BTreeMap, path::Path};

use anyhow::{bail, Context as _, Result};
use chaintrace_model::{ChainKind, ChainSpec};
use chaintrace_tracer::{Policy, DEFAULT_HOPS, DEFAULT_HUB_DEGREE, DEFAULT_POLICY, MAX_HOPS};
use serde::{Deserialize, Deserializer};

/// The embedded default configuration.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../../../configs/default.toml");

/// Defaults of `chaintrace trace`, after overlaying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TracerDefaults {
    /// `--hops` when not given.
    pub hops: u32,
    /// `--policy` when not given.
    pub policy: Policy,
    /// `--hub-degree` when not given.
    pub hub_degree: u64,
}

impl Default for TracerDefaults {
    fn default() -> Self {
        TracerDefaults { hops: DEFAULT_HOPS, policy: DEFAULT_POLICY, hub_degree: DEFAULT_HUB_DEGREE }
    }
}

/// The `[tracer]` section of a config file: each key optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TracerSection {
    /// Follow paths of at most this many transfers.
    pub hops: Option<u32>,
    /// Taint policy: poison, haircut or fifo.
    #[serde(default, deserialize_with = "policy_name")]
    pub policy: Option<Policy>,
    /// Unlabelled addresses with more transfers than this are reported as stops.
    pub hub_degree: Option<u64>,
}

fn policy_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Policy>, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map(Some).map_err(serde::de::Error::custom)
}

/// One `[[bridges]]` entry: a bridge contract on one chain (SPEC version 2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BridgeEntry {
    /// `cctp` (built in) or `event` (declared by its events below).
    pub kind: String,
    /// A chain name from the config.
    pub chain: String,
    /// CCTP: this chain's domain.
    #[serde(default)]
    pub domain: Option<u32>,
    /// CCTP: the TokenMessenger (emits `DepositForBurn`).
    #[serde(default)]
    pub token_messenger: Option<String>,
    /// CCTP: the MessageTransmitter (emits `MessageReceived`).
    #[serde(default)]
    pub message_transmitter: Option<String>,
    /// `event`: the bridge's name (the key's protocol; the same on both chains).
    #[serde(default)]
    pub name: Option<String>,
    /// `event`: the contract emitting both events on this chain.
    #[serde(default)]
    pub contract: Option<String>,
    /// `event`: the deposit event, e.g. `Locked(address indexed owner, address token, uint256
    /// amount, uint64 nonce)`; it must name `owner`, `token` and `amount` parameters.
    #[serde(default)]
    pub deposit_event: Option<String>,
    /// `event`: the release event; it must name `recipient`, `token` and `amount`.
    #[serde(default)]
    pub release_event: Option<String>,
    /// `event`: the parameters (present in both events) whose values make the key.
    #[serde(default)]
    pub key: Vec<String>,
}

impl BridgeEntry {
    /// The contract that identifies the entry on its chain (same chain and contract: a user's
    /// entry replaces the shipped one).
    fn contract_id(&self) -> Option<String> {
        self.token_messenger.as_ref().or(self.contract.as_ref()).map(|c| c.to_ascii_lowercase())
    }
}

/// One `[[price_feeds]]` entry: an on-chain aggregator whose `AnswerUpdated` values an asset.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceFeedEntry {
    /// A chain name from the config.
    pub chain: String,
    /// The aggregator contract (not the proxy: the proxy emits no events).
    pub aggregator: String,
    /// The price symbol it values (`ETH`, `BTC`, `USDC` …).
    pub symbol: String,
    /// Decimals of its answers (8 for Chainlink USD feeds).
    pub decimals: u8,
}

/// One `[[wrapped_native]]` entry: a WETH9-style contract whose `Deposit`/`Withdrawal` are
/// conversions between the native coin and its token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrappedEntry {
    /// A chain name from the config.
    pub chain: String,
    /// The wrapper contract.
    pub contract: String,
}

/// What one config file says, section by section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// `[chains.NAME]` tables.
    #[serde(default)]
    pub chains: BTreeMap<String, ChainSpec>,
    /// `[tracer]`.
    #[serde(default)]
    pub tracer: TracerSection,
    /// `[[bridges]]` entries.
    #[serde(default)]
    pub bridges: Vec<BridgeEntry>,
    /// `[[price_feeds]]` entries.
    #[serde(default)]
    pub price_feeds: Vec<PriceFeedEntry>,
    /// `[[wrapped_native]]` entries.
    #[serde(default)]
    pub wrapped_native: Vec<WrappedEntry>,
}

impl ConfigFile {
    /// Parse and check one config file's text; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<ConfigFile> {
        let mut c: ConfigFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!(" at line {l}, column {c}"));
            anyhow::anyhow!("invalid config {origin}{}: {}", at.unwrap_or_default(), e.message().trim())
        })?;
        for (name, spec) in c.chains.iter_mut() {
            spec.name = name.clone();
            match spec.kind {
                ChainKind::Evm if spec.chain_id.is_none() => {
                    bail!("config {origin}: chain {name:?} is kind \"evm\" but has no chain_id")
                }
                ChainKind::Bitcoin if spec.network.is_none() => spec.network = Some("mainnet".into()),
                _ => {}
            }
        }
        for b in &c.bridges {
            match b.kind.as_str() {
                "cctp" => {
                    if b.domain.is_none() || b.token_messenger.is_none() || b.message_transmitter.is_none() {
                        bail!("config {origin}: a cctp bridge on {:?} needs domain, token_messenger and message_transmitter", b.chain);
                    }
                }
                "event" => {
                    if b.name.is_none()
                        || b.contract.is_none()
                        || b.deposit_event.is_none()
                        || b.release_event.is_none()
                        || b.key.is_empty()
                    {
                        bail!("config {origin}: an event bridge on {:?} needs name, contract, deposit_event, release_event and key", b.chain);
                    }
                }
                other => bail!("config {origin}: unknown bridge kind {other:?} (cctp or event)"),
            }
            for a in [&b.token_messenger, &b.message_transmitter, &b.contract].into_iter().flatten() {
                evm_address(a).with_context(|| format!("config {origin}: bridge on {:?}", b.chain))?;
            }
        }
        for f in &c.price_feeds {
            evm_address(&f.aggregator).with_context(|| format!("config {origin}: price feed on {:?}", f.chain))?;
        }
        for w in &c.wrapped_native {
            evm_address(&w.contract).with_context(|| format!("config {origin}: wrapped_native on {:?}", w.chain))?;
        }
        if let Some(h) = c.tracer.hops {
            if h == 0 || h > MAX_HOPS {
                bail!("config {origin}: [tracer] hops = {h} is out of range 1..={MAX_HOPS}");
            }
        }
        Ok(c)
    }
}

/// The 20 bytes of a `0x…` address in the config.
pub(crate) fn evm_address(text: &str) -> Result<[u8; 20]> {
    match chaintrace_model::Address::parse_evm(text) {
        Ok(chaintrace_model::Address::Evm(b)) => Ok(b),
        _ => bail!("{text:?} is not a 0x-prefixed 20-byte address"),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The configuration every command sees.
#[derive(Clone, Debug, Default)]
pub(crate) struct Config {
    /// Chains by name.
    pub chains: BTreeMap<String, ChainSpec>,
    /// Defaults of `chaintrace trace`.
    pub tracer: TracerDefaults,
    /// Bridge contracts, shipped and the user's.
    pub bridges: Vec<BridgeEntry>,
    /// On-chain price feeds.
    pub price_feeds: Vec<PriceFeedEntry>,
    /// Wrapped-native contracts.
    pub wrapped_native: Vec<WrappedEntry>,
}

impl Config {
    /// Overlay one config file: its chains replace or add tables, its `[tracer]` keys replace
    /// the keys they name.
    pub(crate) fn overlay(&mut self, file: ConfigFile) {
        self.chains.extend(file.chains);
        // A user's bridge on the same chain and contract replaces the shipped one; others add.
        for b in file.bridges {
            self.bridges.retain(|old| !(old.chain == b.chain && old.contract_id() == b.contract_id()));
            self.bridges.push(b);
        }
        for f in file.price_feeds {
            self.price_feeds
                .retain(|old| !(old.chain == f.chain && old.aggregator.eq_ignore_ascii_case(&f.aggregator)));
            self.price_feeds.push(f);
        }
        for w in file.wrapped_native {
            self.wrapped_native.retain(|old| !(old.chain == w.chain && old.contract.eq_ignore_ascii_case(&w.contract)));
            self.wrapped_native.push(w);
        }
        let t = file.tracer;
        self.tracer.hops = t.hops.unwrap_or(self.tracer.hops);
        self.tracer.policy = t.policy.unwrap_or(self.tracer.policy);
        self.tracer.hub_degree = t.hub_degree.unwrap_or(self.tracer.hub_degree);
    }

    /// The tracer's defaults overlaid by one file's text (no embedded chains).
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut c = Config::default();
        c.overlay(ConfigFile::parse(text, origin)?);
        Ok(c)
    }

    /// The embedded default, overlaid by `file` when given.
    pub(crate) fn load(file: Option<&Path>) -> Result<Config> {
        let mut base = Config::parse(DEFAULT_CONFIG, "(embedded default)")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}: check the --config path", path.display()))?;
            base.overlay(ConfigFile::parse(&text, &path.display().to_string())?);
        }
        Ok(base)
    }

    /// What the EVM adapter of chain `chain` recognises besides transfers: its wrappers, its
    /// bridges (every configured CCTP domain is known), its price feeds.
    pub(crate) fn flows(&self, chain: &str) -> Result<chaintrace_evm::FlowConfig> {
        use chaintrace_evm::{CctpDeployment, EventBridge, FlowConfig};
        let mut f = FlowConfig::default();
        for w in self.wrapped_native.iter().filter(|w| w.chain == chain) {
            f.wrapped_native.push(evm_address(&w.contract)?);
        }
        f.known_domains = self.bridges.iter().filter(|b| b.kind == "cctp").filter_map(|b| b.domain).collect();
        for b in self.bridges.iter().filter(|b| b.chain == chain) {
            if b.kind == "cctp" {
                let (Some(domain), Some(tm), Some(mt)) = (b.domain, &b.token_messenger, &b.message_transmitter) else {
                    continue;
                };
                f.cctp.push(CctpDeployment {
                    domain,
                    token_messenger: evm_address(tm)?,
                    message_transmitter: evm_address(mt)?,
                });
                continue;
            }
            let (Some(name), Some(contract), Some(dep), Some(rel)) =
                (&b.name, &b.contract, &b.deposit_event, &b.release_event)
            else {
                continue;
            };
            let bad = |e: String| anyhow::anyhow!("bridge {name:?} on {chain}: {e}");
            let (deposit_topic, dep_fields) = chaintrace_evm::flows::parse_event(dep).map_err(bad)?;
            let (release_topic, rel_fields) = chaintrace_evm::flows::parse_event(rel).map_err(bad)?;
            let pick = |fields: &[(String, chaintrace_evm::EventField)], n: &str, which: &str| {
                fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).ok_or_else(|| {
                    anyhow::anyhow!("bridge {name:?} on {chain}: the {which} event has no parameter named {n:?}")
                })
            };
            let keys = |fields: &[(String, chaintrace_evm::EventField)], which: &str| {
                b.key.iter().map(|k| pick(fields, k, which)).collect::<Result<Vec<_>>>()
            };
            f.event_bridges.push(EventBridge {
                name: name.clone(),
                contract: evm_address(contract)?,
                deposit_topic,
                release_topic,
                deposit_owner: pick(&dep_fields, "owner", "deposit")?,
                deposit_token: pick(&dep_fields, "token", "deposit")?,
                deposit_amount: pick(&dep_fields, "amount", "deposit")?,
                deposit_key: keys(&dep_fields, "deposit")?,
                release_recipient: pick(&rel_fields, "recipient", "release")?,
                release_token: pick(&rel_fields, "token", "release")?,
                release_amount: pick(&rel_fields, "amount", "release")?,
                release_key: keys(&rel_fields, "release")?,
            });
        }
        for p in self.price_feeds.iter().filter(|p| p.chain == chain) {
            f.price_feeds.push(evm_address(&p.aggregator)?);
        }
        Ok(f)
    }

    /// The chain called `name`, or an error listing the chains the config knows.
    pub(crate) fn chain(&self, name: &str) -> Result<&ChainSpec> {
        self.chains.get(name).with_context(|| {
            format!(
                "unknown chain {name:?}: the config knows {} (add a [chains.{name}] table with --config)",
                self.chains.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_has_bitcoin_and_ethereum() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.chain("bitcoin").unwrap().kind, ChainKind::Bitcoin);
        let eth = c.chain("ethereum").unwrap();
        assert_eq!((eth.kind, eth.chain_id, eth.native_decimals), (ChainKind::Evm, Some(1), 18));
        assert!(c.chain("dogecoin").unwrap_err().to_string().contains("bitcoin, bsc, ethereum"));
    }

    #[test]
    fn default_config_has_the_version_2_chains() {
        let c = Config::load(None).unwrap();
        for (name, kind, id, symbol, decimals) in [
            ("bsc", ChainKind::Evm, 56, "BNB", 18),
            ("arbitrum", ChainKind::Evm, 42161, "ETH", 18),
            ("base", ChainKind::Evm, 8453, "ETH", 18),
            ("polygon", ChainKind::Evm, 137, "POL", 18),
            ("optimism", ChainKind::Evm, 10, "ETH", 18),
            ("tron", ChainKind::Tron, 728_126_428, "TRX", 6),
        ] {
            let s = c.chain(name).unwrap();
            assert_eq!(
                (s.kind, s.chain_id, s.native_symbol.as_str(), s.native_decimals),
                (kind, Some(id), symbol, decimals)
            );
        }
    }

    #[test]
    fn another_evm_chain_is_one_table() {
        let c = Config::parse(
            "[chains.arbitrum]\nkind = \"evm\"\nchain_id = 42161\nnative_symbol = \"ETH\"\nnative_decimals = 18\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.chain("arbitrum").unwrap().chain_id, Some(42161));
        assert!(
            Config::parse("[chains.x]\nkind = \"evm\"\nnative_symbol = \"E\"\nnative_decimals = 18\n", "t").is_err()
        );
    }

    /// The tracer's constants are the defaults; the default config only documents them (in
    /// comments that must say the same values).
    #[test]
    fn tracer_defaults_are_the_tracer_constants() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.tracer, TracerDefaults { hops: 6, policy: Policy::Haircut, hub_degree: DEFAULT_HUB_DEGREE });
        for line in [
            format!("# hops = {DEFAULT_HOPS}"),
            format!("# policy = \"{}\"", DEFAULT_POLICY.as_str()),
            format!("# hub_degree = {DEFAULT_HUB_DEGREE}"),
        ] {
            assert!(DEFAULT_CONFIG.lines().any(|l| l.trim_start().starts_with(&line)), "default.toml lacks {line:?}");
        }
    }

    #[test]
    fn a_tracer_section_overlays_key_by_key() {
        let mut c = Config::load(None).unwrap();
        c.overlay(ConfigFile::parse("[tracer]\nhops = 3\n", "user").unwrap());
        assert_eq!(c.tracer, TracerDefaults { hops: 3, ..TracerDefaults::default() });
        c.overlay(ConfigFile::parse("[tracer]\npolicy = \"fifo\"\n", "user").unwrap());
        assert_eq!((c.tracer.hops, c.tracer.policy), (3, Policy::Fifo), "an earlier overlay's keys stay");
        // The old loader replaced the whole section when the text merely contained "[tracer]".
        c.overlay(ConfigFile::parse("# see [tracer] in the docs\n", "user").unwrap());
        assert_eq!((c.tracer.hops, c.tracer.policy), (3, Policy::Fifo));
        assert!(c.chain("ethereum").is_ok(), "chains of the default stay");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key_and_line() {
        for (text, key, line) in [
            ("[tracer]\nhops = 3\nhopz = 4\n", "hopz", 3),
            ("[tracr]\nhops = 3\n", "tracr", 1),
            ("[chains.ethereum]\nkind = \"evm\"\nchain_id = 1\nrcp = \"x\"\n", "rcp", 4),
        ] {
            let err = ConfigFile::parse(text, "my.toml").unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text:?}: {err}");
            assert!(err.contains("my.toml") && err.contains(&format!("line {line}")), "{text:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn shipped_bridges_cover_the_cctp_chains_and_a_users_entry_adds_or_replaces() {
        let mut c = Config::load(None).unwrap();
        let domains: Vec<(String, Option<u32>)> = c.bridges.iter().map(|b| (b.chain.clone(), b.domain)).collect();
        for (chain, d) in [("ethereum", 0), ("optimism", 2), ("arbitrum", 3), ("base", 6), ("polygon", 7)] {
            assert!(domains.contains(&(chain.to_string(), Some(d))), "{chain} domain {d}: {domains:?}");
        }
        let eth = c.flows("ethereum").unwrap();
        assert_eq!(eth.cctp.len(), 1);
        assert!(eth.known_domains.contains(&3));
        assert_eq!(eth.wrapped_native, vec![evm_address("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2").unwrap()]);
        let n = c.bridges.len();
        let user = "[[bridges]]\nkind = \"cctp\"\nchain = \"ethereum\"\ndomain = 0\ntoken_messenger = \"0xbd3fa81b58ba92a82136038b25adec7066af3155\"\nmessage_transmitter = \"0x1111111111111111111111111111111111111111\"\n\n[[bridges]]\nkind = \"event\"\nchain = \"bsc\"\nname = \"lockbox\"\ncontract = \"0x2222222222222222222222222222222222222222\"\ndeposit_event = \"Locked(address indexed owner, address token, uint256 amount, uint64 nonce)\"\nrelease_event = \"Released(address indexed recipient, address token, uint256 amount, uint64 nonce)\"\nkey = [\"nonce\"]\n";
        c.overlay(ConfigFile::parse(user, "user").unwrap());
        assert_eq!(c.bridges.len(), n + 1, "same chain and contract replaced, the other added");
        assert_eq!(c.flows("ethereum").unwrap().cctp[0].message_transmitter, [0x11; 20]);
        let bsc = c.flows("bsc").unwrap();
        assert_eq!(bsc.event_bridges.len(), 1);
        assert_eq!(bsc.event_bridges[0].deposit_key, vec![chaintrace_evm::EventField::Word(2)]);
    }

    #[test]
    fn bad_bridge_entries_are_errors() {
        for (text, want) in [
            ("[[bridges]]\nkind = \"wormhole\"\nchain = \"ethereum\"\n", "unknown bridge kind"),
            ("[[bridges]]\nkind = \"cctp\"\nchain = \"ethereum\"\ndomain = 0\n", "needs domain"),
            ("[[bridges]]\nkind = \"cctp\"\nchain = \"e\"\ndomain = 0\ntoken_messenger = \"0x12\"\nmessage_transmitter = \"0x12\"\n", "not a 0x-prefixed"),
            ("[[bridges]]\nkind = \"cctp\"\nchain = \"e\"\ndomian = 0\n", "`domian`"),
        ] {
            let err = format!("{:#}", ConfigFile::parse(text, "u.toml").unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let mut c = Config::default();
        c.overlay(ConfigFile::parse("[[bridges]]\nkind = \"event\"\nchain = \"bsc\"\nname = \"x\"\ncontract = \"0x2222222222222222222222222222222222222222\"\ndeposit_event = \"Locked(address owner, bytes data)\"\nrelease_event = \"R(address recipient)\"\nkey = [\"nonce\"]\n", "u").unwrap());
        let err = c.flows("bsc").unwrap_err().to_string();
        assert!(err.contains("only static types"), "{err}");
    }

    #[test]
    fn bad_tracer_values_are_errors() {
        let err = ConfigFile::parse("[tracer]\npolicy = \"taint\"\n", "t").unwrap_err().to_string();
        assert!(err.contains("taint") && err.contains("poison, haircut or fifo"), "{err}");
        let err = ConfigFile::parse("[tracer]\nhops = 0\n", "t").unwrap_err().to_string();
        assert!(err.contains("hops = 0") && err.contains("1..=62"), "{err}");
    }

    #[test]
    fn environment_variables_are_documented_in_the_default_config() {
        for (name, _) in crate::ENVIRONMENT {
            assert!(DEFAULT_CONFIG.contains(name), "configs/default.toml does not mention {name}");
        }
    }
}
