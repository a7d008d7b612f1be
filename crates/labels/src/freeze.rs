//! Stablecoin issuers' freezes as labels.
//!
//! Tether's `AddedBlackList(address)` / `RemovedBlackList(address)` (the address in the data:
//! the parameter is not indexed) and Circle's `Blacklisted(address indexed)` /
//! `UnBlacklisted(address indexed)` are recognised by event signature, only on the issuers'
//! own token contracts ([`ISSUER_CONTRACTS`]), so a look-alike event elsewhere is ignored.
//! Replaying a chain's events in `(block, log index)` order gives the set of frozen addresses:
//! each a [`Category::Frozen`] label with the issuer as entity and the freezing transaction as
//! evidence; a removal ends the label.

use std::collections::BTreeMap;

use chaintrace_model::{Address, Category, Label};

use crate::addr::keccak256;

/// Who froze an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Issuer {
    /// Tether (USDT): `AddedBlackList` / `RemovedBlackList`.
    Tether,
    /// Circle (USDC): `Blacklisted` / `UnBlacklisted`.
    Circle,
}

impl Issuer {
    /// The label entity.
    pub fn name(&self) -> &'static str {
        match self {
            Issuer::Tether => "Tether",
            Issuer::Circle => "Circle",
        }
    }
}

/// The issuers' token contracts by chain name of the default config: `(chain, contract
/// as 20-byte hex, issuer)`. TRON's USDT is `TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t`.
pub const ISSUER_CONTRACTS: [(&str, &str, Issuer); 5] = [
    ("ethereum", "dac17f958d2ee523a2206206994597c13d831ec7", Issuer::Tether),
    ("ethereum", "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", Issuer::Circle),
    ("tron", "a614f803b6fd780986a42c78ec9c7f77e6ded13c", Issuer::Tether),
    ("tron", "3487b63d30b5b2c87fb7ffa8bcfade38eaac1abe", Issuer::Circle),
    ("arbitrum", "af88d065e77c8cc2239327c5edb3a432268e5831", Issuer::Circle),
];

/// The issuer whose token contract `contract` is on `chain`, if any.
pub fn issuer_of(chain: &str, contract: &[u8; 20]) -> Option<Issuer> {
    let hex = hex_lower(contract);
    ISSUER_CONTRACTS.iter().find(|(c, a, _)| *c == chain && *a == hex).map(|(_, _, i)| *i)
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The four event signatures' topics: `(topic0, issuer, added)`.
pub fn topics() -> [([u8; 32], Issuer, bool); 4] {
    [
        (keccak256(b"AddedBlackList(address)"), Issuer::Tether, true),
        (keccak256(b"RemovedBlackList(address)"), Issuer::Tether, false),
        (keccak256(b"Blacklisted(address)"), Issuer::Circle, true),
        (keccak256(b"UnBlacklisted(address)"), Issuer::Circle, false),
    ]
}

/// One freeze or unfreeze.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeEvent {
    /// Who.
    pub issuer: Issuer,
    /// The frozen (or released) account.
    pub address: Address,
    /// `true` for a freeze, `false` for its removal.
    pub added: bool,
    /// The transaction, as the chain displays it.
    pub tx: String,
    /// Block height.
    pub block: u64,
    /// Log index in the block (orders events of one block).
    pub log_index: u64,
}

/// Decode one log of an issuer's token contract (`topics`, `data`) as a freeze event of that
/// issuer: `Some((added, account))`, or `None` when it is none of the issuer's two events.
/// `account` turns the 20 bytes into the chain's address form (EVM or TRON).
pub fn decode_log(
    issuer: Issuer,
    topic_list: &[[u8; 32]],
    data: &[u8],
    account: impl Fn([u8; 20]) -> Address,
) -> Option<(bool, Address)> {
    let (_, event_issuer, added) = topics().into_iter().find(|(t, _, _)| Some(t) == topic_list.first())?;
    if event_issuer != issuer {
        return None;
    }
    let word: &[u8] = match issuer {
        // Tether: `AddedBlackList(address _user)`, not indexed.
        Issuer::Tether if topic_list.len() == 1 && data.len() >= 32 => &data[..32],
        // Circle: `Blacklisted(address indexed _account)`.
        Issuer::Circle if topic_list.len() == 2 => &topic_list[1],
        _ => return None,
    };
    let mut a = [0u8; 20];
    a.copy_from_slice(&word[12..32]);
    Some((added, account(a)))
}

impl std::str::FromStr for Issuer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tether" => Ok(Issuer::Tether),
            "circle" => Ok(Issuer::Circle),
            other => Err(format!("unknown stablecoin issuer {other:?}: expected Tether or Circle")),
        }
    }
}

/// The source name of a chain's freeze labels.
pub fn source(chain: &str) -> String {
    format!("freeze:{chain}")
}

/// Apply `events` (any order; sorted here by block and log index) to the current freeze labels
/// of `chain` and return the new set: a freeze adds (or keeps) the address's label with the
/// freezing tx as evidence, a removal ends it.
pub fn apply(chain: &str, current: Vec<Label>, events: &[FreezeEvent]) -> Vec<Label> {
    let mut state: BTreeMap<(Address, &'static str), Label> =
        current.into_iter().map(|l| ((l.address.clone(), entity_key(&l.entity)), l)).collect();
    let mut sorted: Vec<&FreezeEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.block, e.log_index));
    for e in sorted {
        let key = (e.address.clone(), e.issuer.name());
        if e.added {
            state.entry(key).or_insert_with(|| {
                let mut attrs = BTreeMap::new();
                attrs.insert("evidence".to_string(), e.tx.clone());
                attrs.insert("frozen_at_block".to_string(), e.block.to_string());
                Label {
                    chain: Some(chain.to_string()),
                    address: e.address.clone(),
                    category: Category::Frozen,
                    entity: e.issuer.name().to_string(),
                    source: source(chain),
                    confidence: 100,
                    attrs,
                }
            });
        } else {
            state.remove(&key);
        }
    }
    state.into_values().collect()
}

fn entity_key(entity: &str) -> &'static str {
    match entity {
        "Circle" => "Circle",
        _ => "Tether",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freeze_labels_and_a_removal_ends_it() {
        let a = Address::Evm([7; 20]);
        let ev = |added, block| FreezeEvent {
            issuer: Issuer::Tether,
            address: a.clone(),
            added,
            tx: format!("0x{block}"),
            block,
            log_index: 0,
        };
        let l = apply("ethereum", vec![], &[ev(true, 5)]);
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].category, l[0].entity.as_str(), l[0].attrs["evidence"].as_str()),
            (Category::Frozen, "Tether", "0x5")
        );
        assert!(apply("ethereum", l.clone(), &[ev(false, 9)]).is_empty());
        // Out of order in the input, in order when applied.
        assert_eq!(apply("ethereum", vec![], &[ev(false, 9), ev(true, 5)]), vec![]);
    }

    #[test]
    fn only_the_issuers_contracts_and_signatures_count() {
        let hex = "dac17f958d2ee523a2206206994597c13d831ec7";
        let mut usdt = [0u8; 20];
        for (i, b) in usdt.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let (added, _, _) = topics()[0];
        let mut data = [0u8; 32];
        data[12..].copy_from_slice(&[9; 20]);
        assert_eq!(issuer_of("ethereum", &usdt), Some(Issuer::Tether));
        assert_eq!(issuer_of("ethereum", &[1; 20]), None, "look-alike contract");
        assert_eq!(issuer_of("bsc", &usdt), None, "another chain");
        let got = decode_log(Issuer::Tether, &[added], &data, Address::Evm);
        assert_eq!(got, Some((true, Address::Evm([9; 20]))));
        let (circle, _, _) = topics()[2];
        assert_eq!(
            decode_log(Issuer::Tether, &[circle, data], &[], Address::Evm),
            None,
            "Circle's event on Tether's contract"
        );
        assert_eq!(decode_log(Issuer::Circle, &[circle, data], &[], Address::Evm), Some((true, Address::Evm([9; 20]))));
    }
}
