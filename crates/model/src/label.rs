//! Labels: what is known about an address, and from where.

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Address;

/// SPEC's label categories.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// On a sanctions list (OFAC SDN).
    Sanctioned,
    /// An exchange's own wallet (hot, cold).
    Exchange,
    /// A deposit address an exchange gave one customer; sweeps to the exchange.
    ExchangeDeposit,
    /// A mixer or tumbler.
    Mixer,
    /// A cross-chain bridge.
    Bridge,
    /// A decentralised exchange contract.
    Dex,
    /// An over-the-counter desk.
    Otc,
    /// Another service that pools users' funds (payment processor, custodian, …).
    Service,
    /// A known scam or theft address.
    Scam,
    /// Anything else a source says.
    Other,
    /// Frozen by a stablecoin issuer (Tether `AddedBlackList`, Circle `Blacklisted`); the entity
    /// is the issuer, the evidence the freezing transaction.
    Frozen,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 11] = [
        Category::Sanctioned,
        Category::Exchange,
        Category::ExchangeDeposit,
        Category::Mixer,
        Category::Bridge,
        Category::Dex,
        Category::Otc,
        Category::Service,
        Category::Scam,
        Category::Other,
        Category::Frozen,
    ];

    /// The snake_case name used in files, labels CSVs and case files.
    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Sanctioned => "sanctioned",
            Category::Exchange => "exchange",
            Category::ExchangeDeposit => "exchange_deposit",
            Category::Mixer => "mixer",
            Category::Bridge => "bridge",
            Category::Dex => "dex",
            Category::Otc => "otc",
            Category::Service => "service",
            Category::Scam => "scam",
            Category::Other => "other",
            Category::Frozen => "frozen",
        }
    }

    /// Funds that reach these pool with other users' funds: the walk does not pass through.
    pub fn is_pooling(&self) -> bool {
        matches!(
            self,
            Category::Exchange
                | Category::ExchangeDeposit
                | Category::Service
                | Category::Mixer
                | Category::Bridge
                | Category::Dex
                | Category::Otc
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Category::ALL.into_iter().find(|c| c.as_str() == norm).ok_or_else(|| {
            format!("unknown label category {s:?}: expected one of {}", Category::ALL.map(|c| c.as_str()).join(", "))
        })
    }
}

/// One fact about one address from one source.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Label {
    /// The chain the label is about; `None` means every chain of the address's kind
    /// (an EVM address is the same wallet on every EVM chain).
    pub chain: Option<String>,
    /// The labelled address.
    pub address: Address,
    /// What the source says the address is.
    pub category: Category,
    /// Who the address belongs to (`Binance`, `LAZARUS GROUP`, …).
    pub entity: String,
    /// Where the label comes from (file name, list and date, `inferred:deposit-sweeps`).
    pub source: String,
    /// 0–100.
    pub confidence: u8,
    /// Source-specific facts: sanctions programs, ticker, list date, evidence transactions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

impl Label {
    /// Whether this label applies on a chain named `chain` (of the address's kind).
    pub fn applies_to(&self, chain: &str) -> bool {
        self.chain.as_deref().is_none_or(|c| c == chain)
    }
}

/// One address added to or removed from a label source by an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrChange {
    /// The address as text.
    pub address: String,
    /// The label's category.
    pub category: Category,
    /// The label's entity.
    pub entity: String,
}

impl AddrChange {
    /// The change record of one label.
    pub fn of(l: &Label) -> Self {
        AddrChange { address: l.address.to_string(), category: l.category, entity: l.entity.clone() }
    }
}

/// What one import did to one label source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceChange {
    /// The source's name.
    pub source: String,
    /// Labels of the source after the import.
    pub total: usize,
    /// Labels the import added.
    pub added: Vec<AddrChange>,
    /// Labels the import removed.
    pub removed: Vec<AddrChange>,
    /// Labels the import confirmed.
    pub unchanged: usize,
}

/// The record of one label import (what `labels import --json` prints per file, and what the
/// store keeps of every import that changed something).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Sequence number given by the store when the record is kept (0 before).
    pub seq: u64,
    /// The file(s) read.
    pub files: Vec<String>,
    /// The format name of the file(s).
    pub format: String,
    /// The list's publication date, when known.
    pub list_date: Option<String>,
    /// Labels read from the file(s).
    pub labels: usize,
    /// What the import did to each source.
    pub sources: Vec<SourceChange>,
    /// Listed addresses that were invalid.
    pub skipped_invalid: usize,
    /// Listed addresses of unsupported chains.
    pub skipped_unsupported: usize,
}

/// The parts of a person's or entity's name, normalised so the spellings of different list
/// formats compare equal: lower-case, split at anything that is not a letter or digit, in sorted
/// order. OFAC's legacy SDN XML gives `SIM, Hyon Sop` (last name, first names) where the advanced
/// XML gives `SIM Hyon Sop`; both become `["hyon", "sim", "sop"]`.
pub fn name_parts(name: &str) -> Vec<String> {
    let mut parts: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()).map(str::to_lowercase).collect();
    parts.sort();
    parts
}

/// True when two names are the same once case, punctuation and the order of their parts are
/// ignored (see [`name_parts`]); an empty name matches nothing.
pub fn names_match(a: &str, b: &str) -> bool {
    let a = name_parts(a);
    !a.is_empty() && a == name_parts(b)
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn the_spellings_of_one_name_in_the_legacy_and_advanced_sdn_formats_match() {
        assert!(names_match("SIM, Hyon Sop", "SIM Hyon Sop"));
        assert!(names_match("sim hyon-sop", "Hyon Sop SIM"));
        assert!(names_match("LAZARUS GROUP", "Lazarus  Group."));
        assert!(!names_match("SIM, Hyon Sop", "SIM Hyon"));
        assert!(!names_match("", ""));
        assert!(!names_match("Korea Sobaeksu Trading Company", "Sobaeksu"));
        assert_eq!(name_parts("KIM, Sang Man"), ["kim", "man", "sang"]);
    }
}
