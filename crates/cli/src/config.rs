//! One typed configuration: the embedded `configs/default.toml`, then `--config FILE`
//! (whose tables replace or extend the defaults), then flags.

use std::{collections::BTreeMap, path::Path};

use anyhow::{bail, Context as _, Result};
use chaintrace_model::{ChainKind, ChainSpec};
use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/default.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracerDefaults {
    #[serde(default = "default_hops")]
    pub hops: u32,
    #[serde(default = "default_policy")]
    pub policy: String,
    #[serde(default = "default_hub_degree")]
    pub hub_degree: u64,
}

fn default_hops() -> u32 {
    6
}
fn default_policy() -> String {
    "haircut".into()
}
fn default_hub_degree() -> u64 {
    1000
}

impl Default for TracerDefaults {
    fn default() -> Self {
        TracerDefaults { hops: default_hops(), policy: default_policy(), hub_degree: default_hub_degree() }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub chains: BTreeMap<String, ChainSpec>,
    #[serde(default)]
    pub tracer: TracerDefaults,
}

impl Config {
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut c: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}", e.to_string().replace('\n', " ").trim()))
            .with_context(|| format!("invalid config {origin}"))?;
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
        Ok(c)
    }

    /// The embedded default, overlaid by `file` when given.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut base = Config::parse(DEFAULT_CONFIG, "(embedded default)")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}: check the --config path", path.display()))?;
            let user = Config::parse(&text, &path.display().to_string())?;
            base.chains.extend(user.chains);
            if text.contains("[tracer]") {
                base.tracer = user.tracer;
            }
        }
        Ok(base)
    }

    pub fn chain(&self, name: &str) -> Result<&ChainSpec> {
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
        assert!(c.chain("dogecoin").unwrap_err().to_string().contains("bitcoin, ethereum"));
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
}
