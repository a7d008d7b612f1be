//! Output scripts → the address (or stable key) they pay.

use bitcoin::{
    hashes::{hash160, sha256, Hash},
    Address as BtcAddress, Network, PubkeyHash, Script,
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
pub fn script_address_string(script: &Script, network: Network) -> String {
    if let Ok(a) = BtcAddress::from_script(script, network) {
        return display(&a);
    }
    if let Some(key) = p2pk_key_bytes(script.as_bytes()) {
        let pkh = PubkeyHash::from_raw_hash(hash160::Hash::hash(key));
        return display(&BtcAddress::p2pkh(pkh, network));
    }
    script_key(script.as_bytes())
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

    #[test]
    fn regtest_prefixes() {
        let bytes = hex::decode("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let a = script_address(Script::from_bytes(&bytes), Network::Regtest).unwrap();
        assert!(a.to_string().starts_with("bcrt1q"));
    }
}
