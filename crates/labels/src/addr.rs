//! Address validation for imported labels: EIP-55 checksums for EVM addresses, full
//! base58check / bech32(m) decoding (mainnet only) for Bitcoin, and the mapping of a list's
//! ticker to the chain family an address belongs to.

use std::str::FromStr;

use chaintrace_model::Address;
use tiny_keccak::{Hasher, Keccak};

/// Why an address from a list was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrProblem {
    /// Listed under an EVM ticker but not `0x` and 40 hex digits.
    #[error("not an EVM address (expected 0x and 40 hex digits)")]
    EvmSyntax,
    /// Mixed case that fails its EIP-55 checksum (a typo in the list).
    #[error("mixed-case EVM address fails its EIP-55 checksum")]
    EvmChecksum,
    /// Not a decodable Bitcoin address; carries the decoder's reason.
    #[error("invalid Bitcoin address: {0}")]
    Bitcoin(String),
    /// A valid Bitcoin address of another network (testnet, signet, regtest); carries the decoder's message.
    #[error("Bitcoin address is not for mainnet ({0})")]
    BitcoinNetwork(String),
    /// Listed under a ticker of a chain chaintrace does not read; carries the ticker.
    #[error("ticker {0} is not a supported chain (kept in the report, not stored)")]
    Unsupported(String),
    /// A TRON address that fails its base58check checksum or has the wrong shape.
    #[error("invalid TRON address: {0}")]
    Tron(String),
}

impl AddrProblem {
    /// Unsupported tickers are expected in real lists; everything else is an invalid address.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, AddrProblem::Unsupported(_))
    }
}

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut k = Keccak::v256();
    k.update(data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// The EIP-55 mixed-case rendering of a 20-byte address.
pub fn eip55(bytes: &[u8; 20]) -> String {
    let lower = hex_lower(bytes);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse an EVM address; a mixed-case address must carry a valid EIP-55 checksum (all lower
/// or all upper case carries none and is accepted).
pub fn parse_evm_checked(text: &str) -> Result<Address, AddrProblem> {
    let t = text.trim();
    let addr = Address::parse_evm(t).map_err(|_| AddrProblem::EvmSyntax)?;
    let hex_part = &t[2..];
    let has_lower = hex_part.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex_part.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        let Address::Evm(bytes) = &addr else { return Err(AddrProblem::EvmSyntax) };
        if eip55(bytes)[2..] != *hex_part {
            return Err(AddrProblem::EvmChecksum);
        }
    }
    Ok(addr)
}

/// Parse a mainnet Bitcoin address with full checksum validation. The stored form is the
/// canonical encoding (bech32 in lower case), which is what the Bitcoin adapter produces.
pub fn parse_bitcoin_checked(text: &str) -> Result<Address, AddrProblem> {
    let t = text.trim();
    let unchecked = bitcoin::Address::from_str(t).map_err(|e| AddrProblem::Bitcoin(e.to_string()))?;
    let checked =
        unchecked.require_network(bitcoin::Network::Bitcoin).map_err(|e| AddrProblem::BitcoinNetwork(e.to_string()))?;
    Ok(Address::Bitcoin(checked.to_string()))
}

/// Parse a TRON address (`T…` base58check with its checksum checked, `41…` or `0x…` hex).
pub fn parse_tron_checked(text: &str) -> Result<Address, AddrProblem> {
    Address::parse_tron(text.trim()).map_err(|e| AddrProblem::Tron(e.to_string()))
}

/// Whether `text` has the shape of a TRON base58check address (`T` + 33 base58 characters).
pub fn looks_tron(text: &str) -> bool {
    let t = text.trim();
    t.len() == 34 && t.starts_with('T') && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `text` has the shape of an EVM address (`0x` + 40 hex digits), whatever its case.
pub fn looks_evm(text: &str) -> bool {
    let t = text.trim();
    t.len() == 42 && (t.starts_with("0x") || t.starts_with("0X")) && t[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Map one listed address to a chaintrace address by the address itself: anything shaped like
/// an EVM address is an EVM address whatever the ticker (ETH, USDT, USDC, ARB, BSC, ETC … are
/// one address space); a `T…` address is a TRON address whatever the ticker (TRX, and USDT or
/// USDC issued on TRON), its checksum checked; `XBT`/`BTC` is Bitcoin; every other ticker is
/// unsupported.
pub fn classify(ticker: &str, text: &str) -> Result<Address, AddrProblem> {
    let t = text.trim();
    if t.starts_with("0x") || t.starts_with("0X") {
        if looks_evm(t) {
            return parse_evm_checked(t);
        }
        // A 0x-prefixed string of the wrong shape under an EVM-style ticker is an invalid
        // address; under any other ticker it is just not ours.
        if is_evm_ticker(ticker) {
            return Err(AddrProblem::EvmSyntax);
        }
        return Err(AddrProblem::Unsupported(ticker.to_string()));
    }
    if looks_tron(t) {
        return parse_tron_checked(t);
    }
    match ticker.to_ascii_uppercase().as_str() {
        "XBT" | "BTC" => parse_bitcoin_checked(t),
        "TRX" | "TRC20" => parse_tron_checked(t),
        "ETH" | "ETC" | "ARB" | "BSC" | "BEP20" | "MATIC" | "POLYGON" | "AVAX" | "OP" | "BASE" => {
            Err(AddrProblem::EvmSyntax)
        }
        other => Err(AddrProblem::Unsupported(other.to_string())),
    }
}

fn is_evm_ticker(ticker: &str) -> bool {
    matches!(
        ticker.to_ascii_uppercase().as_str(),
        "ETH" | "ETC" | "ARB" | "BSC" | "BEP20" | "USDT" | "USDC" | "MATIC" | "POLYGON" | "AVAX" | "OP" | "BASE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors() {
        // The test vectors of EIP-55 itself.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let parsed = parse_evm_checked(a).unwrap();
            let Address::Evm(b) = parsed else { panic!() };
            assert_eq!(eip55(&b), a);
        }
        assert_eq!(parse_evm_checked("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), Err(AddrProblem::EvmChecksum));
        assert!(parse_evm_checked("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_ok());
        assert!(parse_evm_checked("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").is_ok());
        assert_eq!(parse_evm_checked("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"), Err(AddrProblem::EvmSyntax));
    }

    #[test]
    fn bitcoin_checks() {
        // Genesis coinbase address, a P2SH and a bech32 address (BIP-173 vector, upper case).
        assert_eq!(
            parse_bitcoin_checked("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap().to_string(),
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
        );
        assert!(parse_bitcoin_checked("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").is_ok());
        assert_eq!(
            parse_bitcoin_checked("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").unwrap().to_string(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        // One character changed: base58check and bech32 checksums catch it.
        assert!(matches!(parse_bitcoin_checked("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"), Err(AddrProblem::Bitcoin(_))));
        assert!(matches!(
            parse_bitcoin_checked("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),
            Err(AddrProblem::Bitcoin(_))
        ));
        // Testnet address for mainnet.
        assert!(matches!(
            parse_bitcoin_checked("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"),
            Err(AddrProblem::BitcoinNetwork(_) | AddrProblem::Bitcoin(_))
        ));
        assert!(matches!(
            parse_bitcoin_checked("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"),
            Err(AddrProblem::BitcoinNetwork(_) | AddrProblem::Bitcoin(_))
        ));
    }

    #[test]
    fn tickers_map_by_address() {
        let evm = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";
        for t in ["ETH", "ARB", "BSC", "USDT", "USDC", "ETC"] {
            assert!(classify(t, evm).unwrap().is_evm(), "{t}");
        }
        // USDT on TRON: a T-address is a TRON account, its checksum checked.
        let usdt = classify("USDT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap();
        assert!(matches!(usdt, Address::Tron(_)));
        assert!(matches!(classify("TRX", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"), Err(AddrProblem::Tron(_))));
        assert!(matches!(classify("LTC", "LWnbjLYUfqeokfbWM4FcU7uk2FP2DSxuWS"), Err(AddrProblem::Unsupported(_))));
        assert!(classify("XBT", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_ok());
    }
}
