//! The TRON adapter's errors: facts with the offending value; the binary adds the hints.

use chaintrace_model::ForkError;

/// What went wrong talking to a TRON endpoint or decoding its answers.
#[derive(Debug, thiserror::Error)]
pub enum TronError {
    /// The endpoint could not be reached or the connection broke (retryable).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// `scheme://host` of the endpoint.
        url: String,
        /// What the HTTP client said.
        message: String,
    },
    /// An HTTP status other than 200.
    #[error("{url}{path} answered HTTP {status}")]
    Status {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The request path.
        path: String,
        /// The status code.
        status: u16,
    },
    /// The body is HTML (a web page, a login wall, a proxy's error page), not JSON.
    #[error("{url}{path} answered HTML, not JSON: is this a TRON node's API URL?")]
    Html {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The request path.
        path: String,
    },
    /// The body is not the JSON expected (truncated, or another shape).
    #[error("{url}{path} answered malformed JSON: {message}")]
    BadJson {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The request path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// Neither the JSON-RPC nor the HTTP API answered.
    #[error("{url} offers neither TRON's JSON-RPC (eth_chainId) nor its HTTP API (/wallet/getnowblock): {last}")]
    NoApi {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The last probe's failure.
        last: String,
    },
    /// The JSON-RPC reports another chain id than the config's.
    #[error("the node serves chain id {got}, not {expected} (chain {chain})")]
    ChainIdMismatch {
        /// The chain's config name.
        chain: String,
        /// The config's chain id.
        expected: u64,
        /// The node's chain id.
        got: u64,
    },
    /// The HTTP API's genesis block is not the config's.
    #[error("the node's genesis block is {got}, not {expected} (chain {chain})")]
    GenesisMismatch {
        /// The chain's config name.
        chain: String,
        /// The config's genesis block id.
        expected: String,
        /// The node's block 0 id.
        got: String,
    },
    /// A block or transaction info the node returned could not be decoded.
    #[error("block {height}: {message}")]
    Decode {
        /// The block height asked for.
        height: u64,
        /// What was wrong, naming the field and transaction.
        message: String,
    },
    /// The node has no block at a height inside the asked range.
    #[error("the node has no block {height} (its head is {head})")]
    Missing {
        /// The height asked for.
        height: u64,
        /// The node's head.
        head: u64,
    },
    /// `--from` lies above the stored tip + 1: ingesting would leave a hole.
    #[error("chain {chain}: --from {from} would leave a gap above the stored tip {tip}")]
    Gap {
        /// The chain's config name.
        chain: String,
        /// The stored tip.
        tip: u64,
        /// The asked start.
        from: u64,
    },
    /// The endpoint has no TronGrid account listing (`/v1/accounts/{address}/…`).
    #[error("{url} offers no account history ({path} answered HTTP 404)")]
    NoAccountApi {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The listing's path, address left out.
        path: String,
    },
    /// The endpoint answered `"success": false`.
    #[error("{url}{path} refused the request: {message}")]
    Refused {
        /// `scheme://host` of the endpoint.
        url: String,
        /// The request path, address left out.
        path: String,
        /// The endpoint's `error` text.
        message: String,
    },
    /// An account history was asked for an address that is not a TRON account.
    #[error("{0} is not a TRON address")]
    NotTronAddress(String),
    /// No fork point within the search bound.
    #[error(transparent)]
    Fork(#[from] ForkError),
    /// The sink (the store) failed.
    #[error("store: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl TronError {
    /// Whether retrying the same request may succeed (transport faults, 429, 5xx, truncated JSON).
    pub fn is_retryable(&self) -> bool {
        match self {
            TronError::Transport { .. } => true,
            TronError::Status { status, .. } => *status == 429 || *status >= 500,
            TronError::BadJson { .. } => true,
            _ => false,
        }
    }
}
