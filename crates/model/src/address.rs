//! Addresses: EVM accounts (20 bytes), Bitcoin destinations (as encoded), and the coinbase.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One side of a transfer.
///
/// Bitcoin outputs are keyed by their script, but shown and stored as the address that script
/// pays to: the Bitcoin adapter maps every script to one string (a bare-pubkey output becomes the
/// P2PKH address of its key, a non-standard script a stable `script-<hash>` key), so the same
/// wallet has one key whichever script form paid it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// An EVM account; the same 20 bytes are the same wallet on every EVM chain.
    Evm([u8; 20]),
    /// A Bitcoin destination as encoded (base58, bech32/bech32m, or `script-<hex>`).
    Bitcoin(String),
    /// The sender of newly minted coins.
    Coinbase,
}

/// Why text is not an address; carries the text as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// Not `0x` followed by 40 hex digits.
    #[error("invalid EVM address {0:?}: expected 0x followed by 40 hex digits")]
    Evm(String),
    /// Empty, longer than 100 characters, or not ASCII letters, digits and `-`.
    #[error("invalid Bitcoin address {0:?}")]
    Bitcoin(String),
}

/// Key tags: the first byte of [`Address::to_key`].
const TAG_EVM: u8 = 1;
const TAG_BITCOIN: u8 = 2;
const TAG_COINBASE: u8 = 3;

impl Address {
    /// Parse an EVM address, accepting any letter case.
    pub fn parse_evm(text: &str) -> Result<Self, AddressError> {
        let t = text.trim();
        let hex_part =
            t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).ok_or_else(|| AddressError::Evm(text.to_string()))?;
        if hex_part.len() != 40 {
            return Err(AddressError::Evm(text.to_string()));
        }
        let mut out = [0u8; 20];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| AddressError::Evm(text.to_string()))?;
        Ok(Address::Evm(out))
    }

    /// Accept a Bitcoin address string as given; the Bitcoin adapter validates encodings.
    pub fn parse_bitcoin(text: &str) -> Result<Self, AddressError> {
        let t = text.trim();
        if t == "coinbase" {
            return Ok(Address::Coinbase);
        }
        if t.is_empty() || t.len() > 100 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(AddressError::Bitcoin(text.to_string()));
        }
        Ok(Address::Bitcoin(t.to_string()))
    }

    /// Parse by shape: `0x` + 40 hex is EVM, `coinbase` the coinbase, anything else Bitcoin.
    pub fn parse_any(text: &str) -> Result<Self, AddressError> {
        let t = text.trim();
        if t.starts_with("0x") || t.starts_with("0X") {
            Self::parse_evm(t)
        } else {
            Self::parse_bitcoin(t)
        }
    }

    /// True for an EVM account.
    pub fn is_evm(&self) -> bool {
        matches!(self, Address::Evm(_))
    }

    /// A compact, self-describing byte key (tag byte + payload) that round-trips.
    pub fn to_key(&self) -> Vec<u8> {
        match self {
            Address::Evm(b) => {
                let mut k = Vec::with_capacity(21);
                k.push(TAG_EVM);
                k.extend_from_slice(b);
                k
            }
            Address::Bitcoin(s) => {
                let mut k = Vec::with_capacity(1 + s.len());
                k.push(TAG_BITCOIN);
                k.extend_from_slice(s.as_bytes());
                k
            }
            Address::Coinbase => vec![TAG_COINBASE],
        }
    }

    /// The inverse of [`Address::to_key`]; `None` for bytes no address encodes to.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        match key.split_first()? {
            (&TAG_EVM, rest) => Some(Address::Evm(rest.try_into().ok()?)),
            (&TAG_BITCOIN, rest) => Some(Address::Bitcoin(String::from_utf8(rest.to_vec()).ok()?)),
            (&TAG_COINBASE, []) => Some(Address::Coinbase),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Evm(b) => write!(f, "0x{}", hex::encode(b)),
            Address::Bitcoin(s) => f.write_str(s),
            Address::Coinbase => f.write_str("coinbase"),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_any(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse_any(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn evm_is_lowercased_and_case_insensitive() {
        let a = Address::parse_evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f96").unwrap();
        assert_eq!(a.to_string(), "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
        assert_eq!(a, "0x098b716b8aaf21512996dc57eb0615e2383e2f96".parse().unwrap());
        assert!(Address::parse_evm("0x1234").is_err());
        assert!(Address::parse_evm("098B716B8Aaf21512996dC57EB0615e2383E2f96").is_err());
        assert!(Address::parse_evm("0xzz8B716B8Aaf21512996dC57EB0615e2383E2f96").is_err());
    }

    proptest! {
        #[test]
        fn key_round_trips(bytes in any::<[u8; 20]>(), s in "[a-zA-Z0-9]{1,60}") {
            for a in [Address::Evm(bytes), Address::Bitcoin(s.clone()), Address::Coinbase] {
                prop_assert_eq!(Address::from_key(&a.to_key()), Some(a.clone()));
                let json = serde_json::to_string(&a).unwrap();
                let back: Address = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, a);
            }
        }
    }
}
