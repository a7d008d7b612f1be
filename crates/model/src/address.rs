//! Addresses: EVM accounts (20 bytes), TRON accounts (20 bytes, shown as base58check `T…`),
//! Bitcoin destinations (as encoded), and the coinbase.

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
    /// A TRON account: the 20 bytes after TRON's `0x41` prefix. Shown as base58check `T…`
    /// (of `0x41` ‖ the 20 bytes); read from `T…`, `41…` hex or `0x…` hex. It has its own key
    /// tag, so a TRON wallet and the EVM account with the same 20 bytes never share a key.
    Tron([u8; 20]),
    /// The sender of newly minted coins.
    Coinbase,
}

/// Why a text is not an address; every variant carries the offending text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// Not `0x` followed by 40 hex digits.
    #[error("invalid EVM address {0:?}: expected 0x followed by 40 hex digits")]
    Evm(String),
    /// Empty, too long, or with characters no Bitcoin encoding uses.
    #[error("invalid Bitcoin address {0:?}")]
    Bitcoin(String),
    /// A `T…` address whose last 4 bytes are not the checksum of the rest (a typo).
    #[error("invalid TRON address {0:?}: bad base58check checksum (a mistyped character?)")]
    TronChecksum(String),
    /// Neither base58check `T…` (0x41 + 20 bytes), `41` + 40 hex digits, nor `0x` + 40 hex digits.
    #[error("invalid TRON address {0:?}: expected T… (base58check), 41 + 40 hex digits, or 0x + 40 hex digits")]
    Tron(String),
}

/// Key tags: the first byte of [`Address::to_key`].
const TAG_EVM: u8 = 1;
const TAG_BITCOIN: u8 = 2;
const TAG_COINBASE: u8 = 3;
const TAG_TRON: u8 = 4;

/// The byte TRON puts before an account's 20 bytes (hex `41…`, base58check `T…`).
pub const TRON_PREFIX: u8 = 0x41;

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

    /// Parse a TRON address: base58check `T…`, `41` + 40 hex digits, or `0x` + 40 hex digits
    /// (the JSON-RPC form). A `T…` address with a wrong checksum is refused, naming it.
    pub fn parse_tron(text: &str) -> Result<Self, AddressError> {
        let t = text.trim();
        let bad = || AddressError::Tron(text.to_string());
        let hex20 = |h: &str| -> Result<Self, AddressError> {
            let mut out = [0u8; 20];
            if h.len() != 40 {
                return Err(bad());
            }
            hex::decode_to_slice(h, &mut out).map_err(|_| bad())?;
            Ok(Address::Tron(out))
        };
        if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            return hex20(h);
        }
        if t.len() == 42 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match t.strip_prefix("41") {
                Some(h) => hex20(h),
                None => Err(bad()),
            };
        }
        if !t.starts_with('T') {
            return Err(bad());
        }
        let payload = crate::base58::decode_check(t).map_err(|e| match e {
            crate::base58::Base58Error::Checksum => AddressError::TronChecksum(text.to_string()),
            crate::base58::Base58Error::Encoding => bad(),
        })?;
        match payload.split_first() {
            Some((&TRON_PREFIX, rest)) if rest.len() == 20 => {
                Ok(Address::Tron(rest.try_into().expect("length checked just above")))
            }
            _ => Err(bad()),
        }
    }

    /// Parse an address of a chain of `kind`: on TRON `0x…` and `41…` hex mean TRON accounts,
    /// on an EVM chain only `0x…` is accepted, on Bitcoin the encoded address or `coinbase`.
    pub fn parse_for(kind: crate::ChainKind, text: &str) -> Result<Self, AddressError> {
        match kind {
            crate::ChainKind::Evm => Self::parse_evm(text),
            crate::ChainKind::Tron => Self::parse_tron(text),
            crate::ChainKind::Bitcoin => Self::parse_bitcoin(text),
        }
    }

    /// Parse by shape: `0x` + 40 hex is EVM, `T` + 33 base58 characters or `41` + 40 hex digits
    /// TRON, `coinbase` the coinbase, anything else Bitcoin (no Bitcoin encoding starts with `T`).
    pub fn parse_any(text: &str) -> Result<Self, AddressError> {
        let t = text.trim();
        if t.starts_with("0x") || t.starts_with("0X") {
            Self::parse_evm(t)
        } else if (t.starts_with('T') && t.len() == 34)
            || (t.len() == 42 && t.starts_with("41") && t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            Self::parse_tron(t)
        } else {
            Self::parse_bitcoin(t)
        }
    }

    /// Whether this is an EVM account.
    pub fn is_evm(&self) -> bool {
        matches!(self, Address::Evm(_))
    }

    /// Whether an address of this form can appear on a chain of `kind` (the coinbase only on
    /// Bitcoin).
    pub fn fits(&self, kind: crate::ChainKind) -> bool {
        matches!(
            (self, kind),
            (Address::Evm(_), crate::ChainKind::Evm)
                | (Address::Tron(_), crate::ChainKind::Tron)
                | (Address::Bitcoin(_) | Address::Coinbase, crate::ChainKind::Bitcoin)
        )
    }

    /// The same 20 bytes as the other account form: EVM ↔ TRON (TRON's JSON-RPC speaks
    /// 20-byte `0x` hex; the store keys TRON accounts as [`Address::Tron`]). Others unchanged.
    pub fn to_tron(&self) -> Self {
        match self {
            Address::Evm(b) => Address::Tron(*b),
            other => other.clone(),
        }
    }

    /// TRON's own hex form, `41` + 40 hex digits, of a TRON account.
    pub fn tron_hex(&self) -> Option<String> {
        match self {
            Address::Tron(b) => Some(format!("41{}", hex::encode(b))),
            _ => None,
        }
    }

    /// A compact, self-describing byte key (tag byte + payload) that round-trips.
    pub fn to_key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(match self {
            Address::Bitcoin(s) => 1 + s.len(),
            _ => 21,
        });
        self.write_key(&mut k);
        k
    }

    /// Appends [`Address::to_key`]'s bytes to `out` (a caller that looks up many keys reuses one
    /// buffer instead of allocating one per key).
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match self {
            Address::Evm(b) => {
                out.push(TAG_EVM);
                out.extend_from_slice(b);
            }
            Address::Bitcoin(s) => {
                out.push(TAG_BITCOIN);
                out.extend_from_slice(s.as_bytes());
            }
            Address::Coinbase => out.push(TAG_COINBASE),
            Address::Tron(b) => {
                out.push(TAG_TRON);
                out.extend_from_slice(b);
            }
        }
    }

    /// The address a key of [`Address::to_key`] stands for; `None` for bytes no address encodes to.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        match key.split_first()? {
            (&TAG_EVM, rest) => Some(Address::Evm(rest.try_into().ok()?)),
            (&TAG_BITCOIN, rest) => Some(Address::Bitcoin(String::from_utf8(rest.to_vec()).ok()?)),
            (&TAG_COINBASE, []) => Some(Address::Coinbase),
            (&TAG_TRON, rest) => Some(Address::Tron(rest.try_into().ok()?)),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Evm(b) => {
                // written in one piece (a case file renders every address of a trace)
                let mut text = [0u8; 42];
                text[..2].copy_from_slice(b"0x");
                hex::encode_to_slice(b, &mut text[2..]).expect("40 hex digits fit 40 bytes");
                f.write_str(std::str::from_utf8(&text).expect("hex digits are ASCII"))
            }
            Address::Bitcoin(s) => f.write_str(s),
            Address::Coinbase => f.write_str("coinbase"),
            Address::Tron(b) => f.write_str(&tron_base58(b)),
        }
    }
}

/// Base58check `T…` of TRON's `0x41` ‖ the 20 bytes.
pub fn tron_base58(bytes: &[u8; 20]) -> String {
    let mut payload = [0u8; 21];
    payload[0] = TRON_PREFIX;
    payload[1..].copy_from_slice(bytes);
    crate::base58::encode_check(&payload)
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

    const USDT_T: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    const USDT_41: &str = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c";

    #[test]
    fn tron_known_pairs() {
        // Mainnet USDT-TRC20, and the all-zero address (mints and burns), from PROVENANCE.md.
        let usdt = Address::parse_tron(USDT_T).unwrap();
        assert_eq!(usdt, Address::parse_tron(USDT_41).unwrap());
        assert_eq!(usdt, Address::parse_tron("0xa614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap());
        assert_eq!(usdt.to_string(), USDT_T);
        assert_eq!(usdt.tron_hex().as_deref(), Some(USDT_41));
        assert_eq!(Address::parse_any(USDT_T).unwrap(), usdt);
        assert_eq!(Address::parse_any(USDT_41).unwrap(), usdt);
        assert_eq!(Address::Tron([0; 20]).to_string(), "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb");
        // The witness of block 43811922.
        assert_eq!(
            Address::parse_tron("41c81107148e5fa4b4a2edf3d5354db6c6be5b5549").unwrap().to_string(),
            "TUD4YXYdj2t1gP5th3A7t97mx1AUmrrQRt"
        );
        assert_ne!(usdt.to_key(), Address::parse_evm("0xa614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap().to_key());
    }

    #[test]
    fn tron_bad_checksum_names_the_address() {
        // Last character changed: still base58, wrong checksum.
        let bad = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u";
        let e = Address::parse_tron(bad).unwrap_err();
        assert_eq!(e, AddressError::TronChecksum(bad.to_string()));
        assert!(e.to_string().contains(bad) && e.to_string().contains("checksum"), "{e}");
        assert_eq!(Address::parse_any(bad).unwrap_err(), AddressError::TronChecksum(bad.to_string()));
        for text in
            ["T0000000000000000000000000000000000", "42a614f803b6fd780986a42c78ec9c7f77e6ded13c", "0x1234", "", "T"]
        {
            assert!(Address::parse_tron(text).is_err(), "{text}");
        }
        // A valid base58check string with another version byte is not a TRON address.
        assert!(Address::parse_tron("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_err());
    }

    proptest! {
        #[test]
        fn tron_text_forms_round_trip(bytes in any::<[u8; 20]>()) {
            let a = Address::Tron(bytes);
            let t = a.to_string();
            prop_assert!(t.starts_with('T') && t.len() == 34, "{}", t);
            prop_assert_eq!(Address::parse_tron(&t), Ok(a.clone()));
            prop_assert_eq!(Address::parse_any(&t), Ok(a.clone()));
            prop_assert_eq!(Address::parse_tron(&a.tron_hex().unwrap()), Ok(a.clone()));
            prop_assert_eq!(Address::parse_tron(&format!("0x{}", hex::encode(bytes))), Ok(a.clone()));
            prop_assert_eq!(Address::Evm(bytes).to_tron(), a);
        }

        #[test]
        fn tron_one_changed_character_is_refused(bytes in any::<[u8; 20]>(), at in 1usize..34, by in 1usize..58) {
            let t = Address::Tron(bytes).to_string();
            let alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
            let old = alphabet.find(t.as_bytes()[at] as char).unwrap();
            let new = alphabet.as_bytes()[(old + by) % 58] as char;
            let mut changed = t.clone();
            changed.replace_range(at..at + 1, &new.to_string());
            prop_assert!(Address::parse_tron(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        // A Bitcoin address never starts with `0` (base58 has none, bech32 starts with `bc1`), so
        // `0x…`/`0X…` strings, which read back as EVM addresses, are left out.
        fn key_round_trips(bytes in any::<[u8; 20]>(), s in "[a-zA-SU-Z1-9][a-zA-Z0-9]{0,59}") {
            for a in [Address::Evm(bytes), Address::Bitcoin(s.clone()), Address::Coinbase, Address::Tron(bytes)] {
                prop_assert_eq!(Address::from_key(&a.to_key()), Some(a.clone()));
                let json = serde_json::to_string(&a).unwrap();
                let back: Address = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, a);
            }
        }
    }
}
