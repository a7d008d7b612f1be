//! ERC-20 metadata (decimals, symbol), read once per contract and kept by the caller.

/// `decimals()` selector.
pub const DECIMALS: &str = "0x313ce567";
/// `symbol()` selector.
pub const SYMBOL: &str = "0x95d89b41";

/// What a token contract said about itself (the model's type). `decimals: None` means the
/// contract did not answer `decimals()`: its amounts stay in raw units.
pub use chaintrace_model::TokenMeta;

/// `name()` selector.
pub const NAME: &str = "0x06fdde03";

/// Whether amounts of this token must stay in raw units.
pub fn raw_units(m: &TokenMeta) -> bool {
    m.decimals.is_none()
}

/// Where token metadata lives between runs. The CLI implements it over the store's typed token
/// rows (`Store::token_meta` / `Store::put_token_meta`).
pub trait TokenMetaStore {
    /// The backing store's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The stored metadata of `token` (its 20-byte contract address), if read before.
    fn get(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, Self::Error>;
    /// Store the metadata of `token`.
    fn put(&self, token: &[u8; 20], meta: &TokenMeta) -> Result<(), Self::Error>;
}

/// An in-memory [`TokenMetaStore`] (tests, on-demand expansion).
#[derive(Default)]
pub struct MemoryTokenMeta(pub std::sync::Mutex<std::collections::HashMap<[u8; 20], TokenMeta>>);

impl TokenMetaStore for MemoryTokenMeta {
    type Error = std::convert::Infallible;
    fn get(&self, token: &[u8; 20]) -> Result<Option<TokenMeta>, Self::Error> {
        Ok(self.0.lock().expect("token meta lock").get(token).cloned())
    }
    fn put(&self, token: &[u8; 20], meta: &TokenMeta) -> Result<(), Self::Error> {
        self.0.lock().expect("token meta lock").insert(*token, meta.clone());
        Ok(())
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    hex::decode(s.trim().trim_start_matches("0x")).ok()
}

/// Decode a `decimals()` answer: one word holding a value that fits a `uint8`.
pub fn decode_decimals(ret: &str) -> Option<u8> {
    let b = hex_bytes(ret)?;
    if b.len() < 32 || b[..31].iter().any(|x| *x != 0) {
        return None;
    }
    Some(b[31])
}

/// Decode a `symbol()` answer: an ABI `string`, or a `bytes32` (older tokens such as EOS, MKR).
/// Trailing NULs are stripped; anything that is not short printable text is rejected.
pub fn decode_symbol(ret: &str) -> Option<String> {
    let b = hex_bytes(ret)?;
    let raw: Vec<u8> = if b.len() >= 64 && b[..31].iter().all(|x| *x == 0) && b[31] == 0x20 {
        let len = usize::try_from(u64::from_be_bytes(b[56..64].try_into().ok()?)).ok()?;
        if b[32..56].iter().any(|x| *x != 0) || len > 256 || b.len() < 64 + len {
            return None;
        }
        b[64..64 + len].to_vec()
    } else if b.len() == 32 {
        b
    } else {
        return None;
    };
    let trimmed: &[u8] = {
        let end = raw.iter().rposition(|x| *x != 0).map(|p| p + 1).unwrap_or(0);
        &raw[..end]
    };
    let s = std::str::from_utf8(trimmed).ok()?.trim();
    if s.is_empty() || s.chars().count() > 64 || s.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_string_and_bytes32_symbols() {
        // The EOS token returns bytes32 (ethereum-etl fixture token_with_alternative_return_type).
        assert_eq!(
            decode_symbol("0x454f530000000000000000000000000000000000000000000000000000000000").as_deref(),
            Some("EOS")
        );
        // A string padded with NULs inside its length (fixture token_with_invalid_data).
        assert_eq!(decode_symbol("0x000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000064554480000000000000000000000000000000000000000000000000000000000").as_deref(), Some("ETH"));
        assert_eq!(decode_symbol("0x"), None);
        assert_eq!(decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000012"), Some(18));
        assert_eq!(decode_decimals("0x"), None);
        assert_eq!(decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000112"), None);
    }
}
