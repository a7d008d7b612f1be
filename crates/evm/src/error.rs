//! Errors of the EVM adapter, classified so callers can retry or give up.

/// A failed JSON-RPC exchange. Messages name the method and show the endpoint only as
/// `scheme://host` — RPC URLs carry API keys.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error object.
    #[error("{method}: the node at {endpoint} answered error {code}: {message}")]
    Node {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// The JSON-RPC error code (`-32601` method not found, `-32005` limit exceeded…).
        code: i64,
        /// The node's error message.
        message: String,
    },
    /// The HTTP exchange itself failed with a non-success status.
    #[error("{method}: HTTP status {status} from {endpoint}: {body}")]
    Http {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// No complete answer within the configured per-request timeout.
    #[error("{method}: no answer from {endpoint} within {secs} s")]
    Timeout {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// The timeout that expired, in whole seconds.
        secs: u64,
    },
    /// The connection could not be made or broke off.
    #[error("{method}: cannot reach {endpoint}: {message}")]
    Transport {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// What the HTTP client reported.
        message: String,
    },
    /// The response was not a JSON-RPC response (truncated, garbled, wrong id).
    #[error("{method}: malformed response from {endpoint}: {message}")]
    Malformed {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// What was wrong with it.
        message: String,
    },
    /// A well-formed response whose `result` does not have the expected shape.
    #[error("{method}: cannot decode the result from {endpoint}: {message}")]
    Decode {
        /// The JSON-RPC method called.
        method: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// The decoder's message.
        message: String,
    },
    /// Retryable failures until the retry budget ran out.
    #[error("{method}: gave up after {attempts} attempts; last error: {last}")]
    Exhausted {
        /// The JSON-RPC method called.
        method: String,
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<RpcError>,
    },
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

    /// Whether the node has the method but not the state the block needs: a full (pruned)
    /// node asked to trace an old block. Geth answers `required historical state unavailable
    /// (reexec=128)` (hash scheme) or `historical state … is not available` (path scheme),
    /// older Geth and Nethermind `missing trie node …`, Erigon and Reth that the state is
    /// pruned. Checked before [`is_unsupported`](Self::is_unsupported), which would match
    /// "not available" too.
    pub fn is_state_unavailable(&self) -> bool {
        match self {
            RpcError::Node { message, .. } => {
                let m = message.to_ascii_lowercase();
                m.contains("historical state")
                    || m.contains("missing trie node")
                    || m.contains("state is not available")
                    || m.contains("state not available")
                    || m.contains("state unavailable")
                    || m.contains("pruned")
            }
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

/// Why a node could not give a block's internal (call-trace) transfers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceUnavailable {
    /// Tracing was switched off (`--traces off`).
    Off,
    /// The node has neither `trace_block` nor `debug_traceBlockByNumber` ("method not found").
    NoTracingApi,
    /// The node has a tracing method but not the block's historical state: it is a full
    /// (pruned) node, not an archive node.
    NoHistoricalState,
}

impl TraceUnavailable {
    /// What happened, in words, for messages and the recorded node capability.
    pub fn describe(&self) -> &'static str {
        match self {
            TraceUnavailable::Off => "tracing is off (--traces off)",
            TraceUnavailable::NoTracingApi => {
                "the node offers neither trace_block nor debug_traceBlockByNumber (method not found)"
            }
            TraceUnavailable::NoHistoricalState => {
                "the node has no historical state for the block (historical state unavailable: not an archive node)"
            }
        }
    }
}

/// Where and why internal transfers were first found unavailable on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceGap {
    /// The first block height that could not be traced.
    pub height: u64,
    /// Why.
    pub reason: TraceUnavailable,
    /// The node's own answer (empty when tracing was off).
    pub message: String,
}

impl std::fmt::Display for TraceGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {}: {}", self.height, self.reason.describe())?;
        if !self.message.is_empty() {
            write!(f, " (the node said: {})", self.message)?;
        }
        Ok(())
    }
}

/// Why the adapter could not produce a block.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The RPC URL is not an http(s) URL (the text shown is redacted to `scheme://host`).
    #[error("invalid RPC URL {0}: expected http:// or https://")]
    BadUrl(String),
    /// `eth_chainId` disagrees with the configured chain.
    #[error("the node at {endpoint} serves chain id {got}, but chain {chain} is configured with chain id {expected}")]
    ChainIdMismatch {
        /// The configured chain name.
        chain: String,
        /// The endpoint as `scheme://host`.
        endpoint: String,
        /// The configured chain id.
        expected: u64,
        /// The chain id the node reported.
        got: u64,
    },
    /// A block at or below the reported head came back empty.
    #[error("block {height}: the node has no such block (head is {head})")]
    MissingBlock {
        /// The requested height.
        height: u64,
        /// The node's head height.
        head: u64,
    },
    /// The node's answers for one block disagree (receipts of another block, a count
    /// mismatch); retryable.
    #[error("block {height}: inconsistent node answers: {what}")]
    Inconsistent {
        /// The block height.
        height: u64,
        /// What disagreed.
        what: String,
    },
    /// The block's traces could not be turned into internal transfers.
    #[error("block {height}: {what}")]
    Trace {
        /// The block height.
        height: u64,
        /// What was wrong with the traces.
        what: String,
    },
    /// Internal transfers were required (a refill) but the node cannot give them.
    #[error("internal transfers unavailable: {0}")]
    TracesUnavailable(TraceGap),
    /// A block read again for a refill is not the stored block at its height.
    #[error("block {height}: the node's block {node} is not the stored block {stored}: the chain reorganised since it was ingested")]
    Reorged {
        /// The block height.
        height: u64,
        /// The stored block's hash.
        stored: chaintrace_model::Hash32,
        /// The node's block's hash.
        node: chaintrace_model::Hash32,
    },
    /// The sink (the store, in the binary) failed.
    #[error("writing ingested blocks to the sink")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The token metadata store failed.
    #[error("reading or writing token metadata")]
    TokenStore(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An address given for expansion is not a 20-byte EVM address.
    #[error("{0} is not an EVM address")]
    NotEvmAddress(String),
    /// The requested start is above the stored tip + 1.
    #[error("the stored chain {chain} ends at height {tip}; starting at {from} would leave a gap (the next height to ingest is {})", tip + 1)]
    Gap {
        /// The chain name.
        chain: String,
        /// The stored tip height.
        tip: u64,
        /// The requested start height.
        from: u64,
    },
    /// The fork-point search after a refused block failed.
    #[error("finding where the stored chain and the node diverge")]
    Fork(#[from] chaintrace_model::ForkError),
}

impl EvmError {
    /// Whether trying again can help: a retryable [`RpcError`] or inconsistent node answers.
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
        // A pruned node: the method exists, the state does not. Not retryable, not "unsupported".
        for m in [
            "required historical state unavailable (reexec=128)",
            "historical state 0x5e1c… is not available",
            "missing trie node 0d5f2c6ab4e5d2c2b (path ) state 0x0d5f is not available",
            "state at block #12 is pruned",
        ] {
            let e = node(-32000, m);
            assert!(e.is_state_unavailable() && !e.is_retryable(), "{m}");
        }
        assert!(!node(-32601, "the method trace_block does not exist/is not available").is_state_unavailable());
        assert!(!node(-32000, "execution reverted").is_retryable());
        let t = RpcError::Timeout { method: "m".into(), endpoint: "http://h".into(), secs: 1 };
        assert!(t.is_retryable());
    }
}
