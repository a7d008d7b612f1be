//! Errors of the EVM adapter, classified so callers can retry or give up.

/// A failed JSON-RPC exchange. Messages name the method and show the endpoint only as
/// `scheme://host` — RPC URLs carry API keys.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{method}: the node at {endpoint} answered error {code}: {message}")]
    Node { method: String, endpoint: String, code: i64, message: String },
    #[error("{method}: HTTP status {status} from {endpoint}: {body}")]
    Http { method: String, endpoint: String, status: u16, body: String },
    #[error("{method}: no answer from {endpoint} within {secs} s")]
    Timeout { method: String, endpoint: String, secs: u64 },
    #[error("{method}: cannot reach {endpoint}: {message}")]
    Transport { method: String, endpoint: String, message: String },
    #[error("{method}: malformed response from {endpoint}: {message}")]
    Malformed { method: String, endpoint: String, message: String },
    #[error("{method}: cannot decode the result from {endpoint}: {message}")]
    Decode { method: String, endpoint: String, message: String },
    #[error("{method}: gave up after {attempts} attempts; last error: {last}")]
    Exhausted { method: String, attempts: u32, last: Box<RpcError> },
}

impl RpcError {
    /// Whether trying again later can help: timeouts, connection failures, truncated or
    /// garbled responses, HTTP 429/5xx and the providers' rate-limit / capacity codes.
    pub fn is_retryable(&self) -> bool {
        match self {
            RpcError::Timeout { .. } | RpcError::Transport { .. } | RpcError::Malformed { .. } => true,
            RpcError::Http { status, .. } => matches!(status, 408 | 425 | 429 | 500 | 502 | 503 | 504 | 520..=530),
            RpcError::Node { code, message, .. } => is_rate_limit(*code, message),
            RpcError::Decode { .. } | RpcError::Exhausted { .. } => false,
        }
    }

    /// Whether the node does not offer the method at all (so a fallback should be used).
    pub fn is_unsupported(&self) -> bool {
        match self {
            RpcError::Node { code, message, .. } => {
                let m = message.to_ascii_lowercase();
                *code == -32601
                    || m.contains("not supported")
                    || m.contains("unsupported")
                    || m.contains("does not exist")
                    || m.contains("not available")
                    || m.contains("method not found")
                    || m.contains("not found")
                    || m.contains("unknown method")
                    || m.contains("not implemented")
            }
            RpcError::Http { status, .. } => matches!(status, 404 | 405 | 501),
            _ => false,
        }
    }

    /// Whether the node refused the request for being too large (a block range, a result size).
    pub fn is_too_large(&self) -> bool {
        match self {
            RpcError::Node { code, message, .. } => {
                let m = message.to_ascii_lowercase();
                *code == -32005 && (m.contains("range") || m.contains("results") || m.contains("10000"))
                    || m.contains("block range")
                    || m.contains("too many")
                    || m.contains("query returned more than")
                    || m.contains("response size")
                    || m.contains("range is too large")
                    || m.contains("exceed")
                    || m.contains("limit")
            }
            RpcError::Http { status, .. } => *status == 413,
            _ => false,
        }
    }
}

/// JSON-RPC error codes and messages that hosted providers use for rate limits.
fn is_rate_limit(code: i64, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    // -32005 limit exceeded (Infura, EIP-1474), -32016 (Alchemy-style over rate), 429 (QuickNode/
    // Ankr put the HTTP status in the code), -32090 (Alchemy compute units), -33000/-33200 (drpc).
    matches!(code, -32005 | -32016 | -32090 | 429 | -33000 | -33200) && !m.contains("block range")
        || m.contains("rate limit")
        || m.contains("too many requests")
        || m.contains("request rate")
        || m.contains("capacity")
        || m.contains("try again")
        || m.contains("header not found")
        || m.contains("timeout")
        || m.contains("temporarily")
}

/// Why the adapter could not produce a block.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("invalid RPC URL {0}: expected http:// or https://")]
    BadUrl(String),
    #[error("the node at {endpoint} serves chain id {got}, but chain {chain} is configured with chain id {expected}")]
    ChainIdMismatch { chain: String, endpoint: String, expected: u64, got: u64 },
    #[error("block {height}: the node has no such block (head is {head})")]
    MissingBlock { height: u64, head: u64 },
    #[error("block {height}: inconsistent node answers: {what}")]
    Inconsistent { height: u64, what: String },
    #[error("block {height}: {what}")]
    Trace { height: u64, what: String },
    /// The sink (the store, in the binary) failed.
    #[error("writing ingested blocks to the sink")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The token metadata store failed.
    #[error("reading or writing token metadata")]
    TokenStore(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("{0} is not an EVM address")]
    NotEvmAddress(String),
    #[error("the stored chain {chain} ends at height {tip}; starting at {from} would leave a gap (the next height to ingest is {})", tip + 1)]
    Gap { chain: String, tip: u64, from: u64 },
    #[error("finding where the stored chain and the node diverge")]
    Fork(#[from] chaintrace_model::ForkError),
}

impl EvmError {
    pub fn is_retryable(&self) -> bool {
        match self {
            EvmError::Rpc(e) => e.is_retryable(),
            EvmError::Inconsistent { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(code: i64, message: &str) -> RpcError {
        RpcError::Node { method: "m".into(), endpoint: "http://h".into(), code, message: message.into() }
    }

    fn http(status: u16) -> RpcError {
        RpcError::Http { method: "m".into(), endpoint: "http://h".into(), status, body: String::new() }
    }

    #[test]
    fn rpc_faults_are_classified() {
        assert!(http(429).is_retryable() && http(503).is_retryable() && http(502).is_retryable());
        assert!(!http(401).is_retryable() && !http(400).is_retryable());
        assert!(node(-32005, "daily request count exceeded, request rate limited").is_retryable());
        assert!(node(429, "Too Many Requests").is_retryable());
        assert!(node(-32000, "header not found").is_retryable());
        // A refused range is not retried as is: the caller splits it.
        let range = node(-32005, "query exceeds max block range 2000");
        assert!(!range.is_retryable() && range.is_too_large());
        assert!(node(-32602, "query returned more than 10000 results").is_too_large());
        assert!(node(-32601, "the method eth_getBlockReceipts does not exist/is not available").is_unsupported());
        assert!(!node(-32000, "execution reverted").is_retryable());
        let t = RpcError::Timeout { method: "m".into(), endpoint: "http://h".into(), secs: 1 };
        assert!(t.is_retryable());
    }
}
