//! Output scripts → the address (or stable key) they pay.

use bitcoin::{
    constants::{
        PUBKEY_ADDRESS_PREFIX_MAIN, PUBKEY_ADDRESS_PREFIX_TEST, SCRIPT_ADDRESS_PREFIX_MAIN, SCRIPT_ADDRESS_PREFIX_TEST,
    },
    hashes::{hash160, sha256, sha256d, Hash},
    Address as BtcAddress, Network, NetworkKind, Script,
};
use chaintrace_model::Address;

/// The address an output script pays, per SPEC:
///
/// - P2PKH, P2SH, P2WPKH, P2WSH, P2TR (and future witness versions): the encoded address;
/// - P2PK: the P2PKH address of its key (hash160 of the key bytes as they appear, so a key that
///   is not a valid curve point still gets a stable address);
/// - OP_RETURN: `None` (the value is burned, nobody receives it);
/// - bare multisig and every other script: `script-<hex of sha256(script)[..20]>`.
pub fn script_address(script: &Script, network: Network) -> Option<Address> {
    if script.is_op_return() {
        return None;
    }
    Some(Address::Bitcoin(script_address_string(script, network)))
}

/// The string form of [`script_address`] for a script that is not OP_RETURN.
///
/// The base58 addresses (P2PKH, P2SH, and P2PK as P2PKH) are encoded here (see
/// `base58check`): through rust-bitcoin's `Display` they were about a seventh of a
/// blocks-dir ingest's decoding. Witness programs go through rust-bitcoin.
pub fn script_address_string(script: &Script, network: Network) -> String {
    let b = script.as_bytes();
    let (pubkey_prefix, script_prefix) = match NetworkKind::from(network) {
        NetworkKind::Main => (PUBKEY_ADDRESS_PREFIX_MAIN, SCRIPT_ADDRESS_PREFIX_MAIN),
        NetworkKind::Test => (PUBKEY_ADDRESS_PREFIX_TEST, SCRIPT_ADDRESS_PREFIX_TEST),
    };
    if script.is_p2pkh() {
        return base58check(pubkey_prefix, &b[3..23]);
    }
    if script.is_p2sh() {
        return base58check(script_prefix, &b[2..22]);
    }
    if let Ok(a) = BtcAddress::from_script(script, network) {
        return display(&a);
    }
    if let Some(key) = p2pk_key_bytes(b) {
        return base58check(pubkey_prefix, hash160::Hash::hash(key).as_byte_array());
    }
    script_key(b)
}

/// The base58 alphabet (Bitcoin's).
const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The base58check text of a version byte and a 20-byte hash: the 25 bytes `version, hash,
/// the first 4 bytes of sha256d(version, hash)` in base 58, a `1` for each leading zero byte.
///
/// The 200-bit number is held in seven 32-bit words and divided by 58^5 per pass (five digits
/// a pass, at most seven passes), where a byte-at-a-time conversion (`base58ck`'s) takes one
/// step per digit and byte, about 850 for an address.
fn base58check(version: u8, hash: &[u8]) -> String {
    const LIMBS: usize = 7;
    /// 58^5, below 2^32: a pass's remainder is five digits.
    const DIV: u64 = 58 * 58 * 58 * 58 * 58;
    let mut bytes = [0u8; 25];
    bytes[0] = version;
    bytes[1..21].copy_from_slice(hash);
    let check = sha256d::Hash::hash(&bytes[..21]);
    bytes[21..].copy_from_slice(&check.as_byte_array()[..4]);
    // big-endian words; the first holds the version byte alone
    let mut limbs = [0u32; LIMBS];
    limbs[0] = u32::from(bytes[0]);
    for (i, w) in bytes[1..].chunks_exact(4).enumerate() {
        limbs[i + 1] = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
    }
    // digits, least significant first; 58^35 > 2^200
    let mut digits = [0u8; 5 * LIMBS];
    let mut n = 0;
    let mut first = 0;
    while first < LIMBS {
        let mut rem = 0u64;
        for l in &mut limbs[first..] {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / DIV) as u32;
            rem = cur % DIV;
        }
        for _ in 0..5 {
            digits[n] = (rem % 58) as u8;
            rem /= 58;
            n += 1;
        }
        while first < LIMBS && limbs[first] == 0 {
            first += 1;
        }
    }
    while n > 0 && digits[n - 1] == 0 {
        n -= 1;
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let mut s = String::with_capacity(zeros + n);
    s.extend(std::iter::repeat_n('1', zeros));
    s.extend(digits[..n].iter().rev().map(|d| char::from(BASE58[usize::from(*d)])));
    s
}

/// An address's text, written into a string allocated once at a size that holds any address
/// (`to_string` grows it character by character: two or three reallocations per output).
fn display(a: &BtcAddress) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(ADDRESS_TEXT_CAPACITY);
    // Writing into a String cannot fail.
    let _ = write!(s, "{a}");
    s
}

/// Bytes that hold the text of any address: a witness program of 40 bytes (the longest) is 76
/// characters in bech32m with a 4-character prefix (`bcrt`).
const ADDRESS_TEXT_CAPACITY: usize = 80;

/// The stable key of a script that has no address: `script-` + the first 20 bytes of its
/// SHA-256, in hex.
pub fn script_key(script: &[u8]) -> String {
    let h = sha256::Hash::hash(script);
    format!("script-{}", hex::encode(&h.as_byte_array()[..20]))
}

fn p2pk_key_bytes(s: &[u8]) -> Option<&[u8]> {
    match s.len() {
        67 if s[0] == 65 && s[66] == 0xac => Some(&s[1..66]),
        35 if s[0] == 33 && s[34] == 0xac => Some(&s[1..34]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(hex_script: &str) -> Option<String> {
        let bytes = hex::decode(hex_script).unwrap();
        script_address(Script::from_bytes(&bytes), Network::Bitcoin).map(|a| a.to_string())
    }

    #[test]
    fn every_script_type() {
        // P2PK of block 9's coinbase (fixture early_spend_chain…csv).
        assert_eq!(
            addr("410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac").as_deref(),
            Some("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")
        );
        // P2PKH from 277647.prevouts.csv.
        assert_eq!(
            addr("76a9142c491e89cf644dfbbc0aa7d73bb2fd72eb7359a888ac").as_deref(),
            Some("153AKrkxfeGSaqAQZ78qcmtVeKzHJpn7T5")
        );
        // BIP173/BIP350 test vectors.
        assert_eq!(
            addr("0014751e76e8199196d454941c45d1b3a323f1433bd6").as_deref(),
            Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
        );
        assert_eq!(
            addr("00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262").as_deref(),
            Some("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3")
        );
        assert_eq!(
            addr("512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").as_deref(),
            Some("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
        );
        // P2SH.
        assert_eq!(
            addr("a914748284390f9e263a4b766a75d0633c50426eb87587").as_deref(),
            Some("3CK4fEwbMP7heJarmU4eqA3sMbVJyEnU3V")
        );
        // OP_RETURN burns.
        assert_eq!(addr("6a0568656c6c6f"), None);
        // Bare 1-of-1 multisig and junk get the script key, stable and distinct.
        let ms = addr("512102c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee551ae").unwrap();
        assert!(ms.starts_with("script-") && ms.len() == 7 + 40, "{ms}");
        assert_eq!(addr("51").unwrap(), script_key(&[0x51]));
        assert_ne!(addr("51"), addr("52"));
        assert!(chaintrace_model::Address::parse_bitcoin(&ms).is_ok());
    }

    /// The text rust-bitcoin gives the same script (the oracle of the base58 fast path).
    fn library_text(script: &[u8], network: Network) -> String {
        let script = Script::from_bytes(script);
        match p2pk_key_bytes(script.as_bytes()) {
            Some(key) => {
                let pkh = bitcoin::PubkeyHash::from_raw_hash(hash160::Hash::hash(key));
                BtcAddress::p2pkh(pkh, network).to_string()
            }
            None => BtcAddress::from_script(script, network).expect("a standard script").to_string(),
        }
    }

    fn network(i: u8) -> Network {
        [Network::Bitcoin, Network::Testnet, Network::Testnet4, Network::Signet, Network::Regtest][usize::from(i % 5)]
    }

    proptest::proptest! {
        /// P2PKH, P2SH and P2PK (both key sizes) through the base58 fast path give rust-bitcoin's
        /// text on every network; hashes with leading zero bytes (the `1`s) and all-zero ones
        /// included.
        #[test]
        fn base58_addresses_equal_the_library(
            mut hash in proptest::array::uniform20(proptest::prelude::any::<u8>()),
            zeros in 0usize..=20,
            kind in 0u8..4,
            net in 0u8..5,
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 65),
        ) {
            hash[..zeros].fill(0);
            let script: Vec<u8> = match kind {
                0 => [&[0x76, 0xa9, 0x14][..], &hash, &[0x88, 0xac]].concat(),
                1 => [&[0xa9, 0x14][..], &hash, &[0x87]].concat(),
                2 => [&[33u8][..], &key[..33], &[0xac]].concat(),
                _ => [&[65u8][..], &key, &[0xac]].concat(),
            };
            let net = network(net);
            let fast = script_address_string(Script::from_bytes(&script), net);
            proptest::prop_assert_eq!(fast, library_text(&script, net));
        }
    }

    #[test]
    fn base58_edge_values() {
        // version 0 and an all-zero hash: 25 bytes whose first 21 are zero
        let zero = [0u8; 20];
        let text = base58check(0, &zero);
        assert_eq!(text, "1111111111111111111114oLvT2");
        assert_eq!(text, bitcoin::base58::encode_check(&[0u8; 21]));
        // the largest hash under the largest test prefix
        let max = [0xffu8; 20];
        assert_eq!(base58check(0xc4, &max), bitcoin::base58::encode_check(&[&[0xc4u8][..], &max].concat()));
    }

    #[test]
    fn regtest_prefixes() {
        let bytes = hex::decode("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let a = script_address(Script::from_bytes(&bytes), Network::Regtest).unwrap();
        assert!(a.to_string().starts_with("bcrt1q"));
    }
}
