//! Bitcoin networks as the configuration and the CLI name them.

use bitcoin::{blockdata::constants::genesis_block, BlockHash, Network};

/// A network name that is not one chaintrace knows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    /// The name given.
    #[error("unknown bitcoin network {0:?}: expected mainnet, testnet, testnet4, signet or regtest")]
    Unknown(String),
}

/// Parse a network name (`mainnet`/`bitcoin`/`main`, `testnet`/`testnet3`, `testnet4`, `signet`,
/// `regtest`), case-insensitively.
pub fn parse_network(name: &str) -> Result<Network, NetworkError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "mainnet" | "main" | "bitcoin" => Ok(Network::Bitcoin),
        "testnet" | "testnet3" | "test" => Ok(Network::Testnet),
        "testnet4" => Ok(Network::Testnet4),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        _ => Err(NetworkError::Unknown(name.to_string())),
    }
}

/// The name chaintrace uses for a network (`mainnet`, `testnet`, …).
pub fn network_name(n: Network) -> &'static str {
    match n {
        Network::Bitcoin => "mainnet",
        Network::Testnet => "testnet",
        Network::Testnet4 => "testnet4",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    }
}

/// The genesis block hash of a network.
pub fn genesis_hash(n: Network) -> BlockHash {
    genesis_block(n).block_hash()
}

/// The networks whose block-file magic is known, for naming a mismatch.
pub const KNOWN: [Network; 5] =
    [Network::Bitcoin, Network::Testnet, Network::Testnet4, Network::Signet, Network::Regtest];

/// The network a 4-byte block-file magic belongs to.
pub fn network_of_magic(magic: [u8; 4]) -> Option<Network> {
    KNOWN.into_iter().find(|n| n.magic().to_bytes() == magic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_magics() {
        assert_eq!(parse_network("Mainnet").unwrap(), Network::Bitcoin);
        assert_eq!(parse_network("regtest").unwrap(), Network::Regtest);
        assert!(parse_network("litecoin").is_err());
        assert_eq!(network_of_magic([0xf9, 0xbe, 0xb4, 0xd9]), Some(Network::Bitcoin));
        assert_eq!(network_of_magic([0xfa, 0xbf, 0xb5, 0xda]), Some(Network::Regtest));
        assert_eq!(network_of_magic([0x0b, 0x11, 0x09, 0x07]), Some(Network::Testnet));
        assert_eq!(network_of_magic([0x0a, 0x03, 0xcf, 0x40]), Some(Network::Signet));
        assert_eq!(network_of_magic([1, 2, 3, 4]), None);
        assert_eq!(
            genesis_hash(Network::Bitcoin).to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        assert_eq!(
            genesis_hash(Network::Regtest).to_string(),
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
        );
    }
}
