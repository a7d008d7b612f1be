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
        if let Some(h) = c.tracer.hops {
            if h == 0 || h > MAX_HOPS {
                bail!("config {origin}: [tracer] hops = {h} is out of range 1..={MAX_HOPS}");
            }
        }
        Ok(c)
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
}

impl Config {
    /// Overlay one config file: its chains replace or add tables, its `[tracer]` keys replace
    /// the keys they name.
    pub(crate) fn overlay(&mut self, file: ConfigFile) {
        self.chains.extend(file.chains);
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
