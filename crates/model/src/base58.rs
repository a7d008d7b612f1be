//! Base58check, the text form of TRON addresses (`T…` = base58check of `0x41` ‖ 20 bytes).
//!
//! Only what the model needs: encode a short payload with its 4-byte double-SHA-256 checksum,
//! and decode one back, checking the checksum. Inputs are capped, so a hostile string cannot
//! make the decoder allocate much.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The longest text [`decode_check`] accepts (a TRON address is 34 characters).
const MAX_TEXT: usize = 64;

/// Why a base58check string did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base58Error {
    /// A character outside the base58 alphabet, or a string too long to be an address.
    Encoding,
    /// The last 4 bytes are not the double-SHA-256 checksum of the rest.
    Checksum,
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let h = Sha256::digest(Sha256::digest(payload));
    [h[0], h[1], h[2], h[3]]
}

/// Base58 of `payload ‖ checksum(payload)`.
pub(crate) fn encode_check(payload: &[u8]) -> String {
    let mut data = payload.to_vec();
    data.extend_from_slice(&checksum(payload));
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    // Base-58 digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(data.len() * 138 / 100 + 1);
    for &byte in &data[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char));
    out
}

/// The payload of a base58check string (the checksum checked and removed).
pub(crate) fn decode_check(text: &str) -> Result<Vec<u8>, Base58Error> {
    if text.len() > MAX_TEXT {
        return Err(Base58Error::Encoding);
    }
    let zeros = text.bytes().take_while(|&b| b == b'1').count();
    // Base-256 bytes, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let mut carry = ALPHABET.iter().position(|&a| a == c).ok_or(Base58Error::Encoding)? as u32;
        for b in bytes.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut data = vec![0u8; zeros];
    data.extend(bytes.iter().rev());
    if data.len() < 4 {
        return Err(Base58Error::Checksum);
    }
    let (payload, sum) = data.split_at(data.len() - 4);
    if checksum(payload) != sum {
        return Err(Base58Error::Checksum);
    }
    Ok(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bitcoin_vector() {
        // The P2PKH address of the genesis coinbase key (version 0x00 + hash160).
        let payload = hex::decode("0062e907b15cbf27d5425399ebf6f0fb50ebb88f18").expect("hex");
        assert_eq!(encode_check(&payload), "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
        assert_eq!(decode_check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), Ok(payload));
    }

    proptest! {
        #[test]
        fn round_trips(payload in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(decode_check(&encode_check(&payload)), Ok(payload));
        }
    }
}
