//! Helpers shared by the modules of the `evm` test binary.

use chaintrace_model::{Asset, Transfer};
use chaintrace_testkit::scenario::ExpectedTransfer;

/// An adapter transfer in the scenario oracle's shape: `0x` hashes and token contracts, `ETH`
/// for the native coin, the amount in base units (wei or the token's smallest unit).
pub(crate) fn as_expected(t: &Transfer) -> ExpectedTransfer {
    ExpectedTransfer {
        block: t.height,
        tx: format!("0x{}", t.tx),
        from: t.from.to_string(),
        to: t.to.to_string(),
        asset: match t.asset {
            Asset::Native => "ETH".to_string(),
            Asset::Token(c) => format!("0x{}", hex::encode(c)),
            other @ (Asset::TronToken(_) | Asset::Trc10(_)) => panic!("the EVM adapter made a TRON asset {other:?}"),
        },
        amount: t.amount.to_string(),
    }
}
