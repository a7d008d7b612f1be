//! Bitcoin Core JSON-RPC: `getblockchaininfo`, `getblockhash`, `getblock <hash> 0` (raw), in
//! JSON-RPC batches, with cookie-file or user/password auth and retries with backoff on
//! transient faults. Credentials are never logged: the client only ever shows
//! `scheme://host:port`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use bitcoin::{BlockHash, Network};
use chaintrace_model::Sensitive;
use serde_json::{json, Value};

/// Why a Bitcoin Core RPC call failed. Messages show the node without credentials.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No HTTP answer (connection refused, reset, timed out).
    #[error("bitcoin rpc {endpoint}: cannot connect: {reason}")]
    Transport {
        /// The node, as `scheme://host:port` without credentials.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// HTTP 401: wrong user/password or a stale cookie.
    #[error("bitcoin rpc {endpoint}: authentication failed (HTTP 401)")]
    Unauthorized {
        /// The node, as `scheme://host:port` without credentials.
        endpoint: String,
    },
    /// Another non-success HTTP status.
    #[error("bitcoin rpc {endpoint}: HTTP {status}: {body}")]
    Http {
        /// The node, as `scheme://host:port` without credentials.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("bitcoin rpc {endpoint}: {method} failed with code {code}: {message}")]
    Rpc {
        /// The node, as `scheme://host:port` without credentials.
        endpoint: String,
        /// The RPC method called.
        method: String,
        /// The JSON-RPC error code (`-5` not found, `-28` warming up…).
        code: i64,
        /// The node's error message.
        message: String,
    },
    /// A result that does not have the expected shape.
    #[error("bitcoin rpc {endpoint}: unexpected answer to {method}: {detail}")]
    Decode {
        /// The node, as `scheme://host:port` without credentials.
        endpoint: String,
        /// The RPC method called.
        method: String,
        /// What was wrong with the result.
        detail: String,
    },
    /// The `.cookie` file could not be read or parsed.
    #[error("reading the rpc cookie file {path}: {reason}")]
    Cookie {
        /// The cookie file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The URL is not `http://[user:password@]host:port` (shown without credentials).
    #[error("invalid bitcoin rpc URL {0}: expected http://[user:password@]host:port")]
    Url(String),
}

impl RpcError {
    /// Faults worth retrying: connection problems, 5xx/429 answers without an RPC error, and
    /// the node still warming up (code -28).
    pub fn is_retryable(&self) -> bool {
        match self {
            RpcError::Transport { .. } => true,
            RpcError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            RpcError::Rpc { code, .. } => *code == -28,
            _ => false,
        }
    }
}

/// How to authenticate.
#[derive(Clone)]
pub enum RpcAuth {
    /// No credentials in the URL and no cookie: requests carry no `Authorization` header.
    None,
    /// User and password from the URL (Core's `rpcuser`/`rpcpassword` or `rpcauth`).
    UserPass {
        /// The user name.
        user: String,
        /// The password, redacted in `Debug`.
        password: Sensitive,
    },
    /// Core's `.cookie` file (`__cookie__:<random>`), re-read when the node answers 401.
    Cookie(PathBuf),
}

/// Retry policy: `attempts` tries in all, sleeping `base`, 2×`base`, 4×`base`… between them.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Sleep before the second try; doubled for each later one.
    pub base: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 6, base: Duration::from_millis(200) }
    }
}

/// A blocking Bitcoin Core JSON-RPC client over HTTP, with retries and cookie re-reading.
pub struct RpcClient {
    url: String,
    endpoint: String,
    auth: RpcAuth,
    header: Option<Sensitive>,
    agent: ureq::Agent,
    retry: Retry,
    /// Requests per JSON-RPC batch.
    pub batch_size: usize,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

fn percent_decode(s: &str) -> String {
    // Works on bytes, never slices the text: a `%` next to a multi-byte character is kept as
    // it is (slicing the str there would panic, and the panic message would quote the secret).
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn basic(user: &str, password: &str) -> String {
    use base64_lite::encode;
    format!("Basic {}", encode(format!("{user}:{password}").as_bytes()))
}

/// A tiny standard base64 encoder (the only use is the Basic auth header).
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub(crate) fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

impl RpcClient {
    /// A client for `url` (`http://[user:password@]host:port[/path]`). Credentials in the URL
    /// win over `cookie`; with neither, no auth header is sent.
    pub fn new(url: &Sensitive, cookie: Option<&Path>) -> Result<Self, RpcError> {
        let raw = url.expose();
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| RpcError::Url(url.redacted_url()))?;
        if scheme != "http" && scheme != "https" {
            return Err(RpcError::Url(url.redacted_url()));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(RpcError::Url(url.redacted_url()));
        }
        let auth = match (userinfo, cookie) {
            (Some(u), _) => {
                let (user, pw) = u.split_once(':').unwrap_or((u, ""));
                RpcAuth::UserPass { user: percent_decode(user), password: Sensitive::new(percent_decode(pw)) }
            }
            (None, Some(c)) => RpcAuth::Cookie(c.to_path_buf()),
            (None, None) => RpcAuth::None,
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build();
        let mut c = RpcClient {
            url: format!("{scheme}://{host}{path}"),
            // The one redaction rule (it also hides a host that may be part of a password
            // pasted with `/`, `?` or `#` unencoded).
            endpoint: url.redacted_url(),
            auth,
            header: None,
            agent,
            retry: Retry::default(),
            batch_size: 50,
        };
        c.refresh_auth()?;
        Ok(c)
    }

    /// Use this retry policy instead of the default.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// `scheme://host:port`, safe to show.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn refresh_auth(&mut self) -> Result<(), RpcError> {
        self.header = match &self.auth {
            RpcAuth::None => None,
            RpcAuth::UserPass { user, password } => Some(Sensitive::new(basic(user, password.expose()))),
            RpcAuth::Cookie(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| RpcError::Cookie { path: path.clone(), reason: e.to_string() })?;
                let line = text.trim();
                let (user, pw) = line.split_once(':').ok_or_else(|| RpcError::Cookie {
                    path: path.clone(),
                    reason: "expected user:password on one line".into(),
                })?;
                Some(Sensitive::new(basic(user, pw)))
            }
        };
        Ok(())
    }

    fn post_once(&self, body: &Value, method: &str) -> Result<Value, RpcError> {
        let mut req = self.agent.post(&self.url).set("Content-Type", "application/json");
        if let Some(h) = &self.header {
            req = req.set("Authorization", h.expose());
        }
        let resp = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(401, _)) => return Err(RpcError::Unauthorized { endpoint: self.endpoint.clone() }),
            Err(ureq::Error::Status(status, r)) => {
                // Core answers RPC errors of single calls with HTTP 500/404 and a JSON body.
                let text = r.into_string().unwrap_or_default();
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    if !v.is_array() && !v["error"].is_null() {
                        return Ok(v);
                    }
                }
                let mut body: String = text.chars().take(200).collect();
                body = body.replace(['\n', '\r'], " ");
                return Err(RpcError::Http { endpoint: self.endpoint.clone(), status, body });
            }
            Err(e) => {
                return Err(RpcError::Transport { endpoint: self.endpoint.clone(), reason: transport_reason(&e) })
            }
        };
        resp.into_json::<Value>().map_err(|e| RpcError::Decode {
            endpoint: self.endpoint.clone(),
            method: method.to_string(),
            detail: e.to_string(),
        })
    }

    /// POST with retries on transient faults (and one cookie re-read on 401).
    fn post(&mut self, body: &Value, method: &str) -> Result<Value, RpcError> {
        let mut attempt = 0;
        let mut reread_cookie = matches!(self.auth, RpcAuth::Cookie(_));
        loop {
            attempt += 1;
            match self.post_once(body, method) {
                Err(RpcError::Unauthorized { .. }) if reread_cookie => {
                    reread_cookie = false;
                    self.refresh_auth()?;
                }
                Err(e) if e.is_retryable() && attempt < self.retry.attempts => {
                    let wait = self.retry.base * 2u32.saturating_pow(attempt - 1);
                    tracing::info!(endpoint = %self.endpoint, method, attempt, error = %e, "rpc fault, retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                other => return other,
            }
        }
    }

    fn check(&self, method: &str, v: Value) -> Result<Value, RpcError> {
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(RpcError::Rpc {
                endpoint: self.endpoint.clone(),
                method: method.to_string(),
                code: err["code"].as_i64().unwrap_or(0),
                message: err["message"].as_str().unwrap_or("").to_string(),
            });
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// One call.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "1.0", "id": 0, "method": method, "params": params});
        let mut attempt = 0;
        loop {
            attempt += 1;
            let v = self.post(&body, method)?;
            match self.check(method, v) {
                Err(e) if e.is_retryable() && attempt < self.retry.attempts => {
                    std::thread::sleep(self.retry.base * 2u32.saturating_pow(attempt - 1));
                }
                other => return other,
            }
        }
    }

    /// Many calls of one method, in batches of [`RpcClient::batch_size`]; results in order.
    pub fn batch(&mut self, method: &str, params: &[Value]) -> Result<Vec<Value>, RpcError> {
        let mut out = Vec::with_capacity(params.len());
        for chunk in params.chunks(self.batch_size.max(1)) {
            let body: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"jsonrpc": "1.0", "id": i, "method": method, "params": p}))
                .collect();
            let body = Value::Array(body);
            let mut attempt = 0;
            let answers = loop {
                attempt += 1;
                let v = self.post(&body, method)?;
                let Value::Array(items) = v else {
                    // A node that rejects batches answers with one error object.
                    let e = self.check(method, v).err().unwrap_or_else(|| RpcError::Decode {
                        endpoint: self.endpoint.clone(),
                        method: method.to_string(),
                        detail: "expected an array answer to a batch".into(),
                    });
                    return Err(e);
                };
                let mut slots: Vec<Option<Value>> = vec![None; chunk.len()];
                for item in items {
                    let id = item["id"].as_u64().map(|i| i as usize).filter(|i| *i < chunk.len());
                    if let Some(i) = id {
                        slots[i] = Some(item);
                    }
                }
                let mut results = Vec::with_capacity(chunk.len());
                let mut retry = None;
                for s in slots {
                    let item = s.ok_or_else(|| RpcError::Decode {
                        endpoint: self.endpoint.clone(),
                        method: method.to_string(),
                        detail: "batch answer misses an id".into(),
                    })?;
                    match self.check(method, item) {
                        Ok(r) => results.push(r),
                        Err(e) if e.is_retryable() => {
                            retry = Some(e);
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                match retry {
                    Some(e) if attempt >= self.retry.attempts => return Err(e),
                    Some(_) => std::thread::sleep(self.retry.base * 2u32.saturating_pow(attempt - 1)),
                    None => break results,
                }
            };
            out.extend(answers);
        }
        Ok(out)
    }

    /// The node's network (from `getblockchaininfo.chain`) and its best height.
    pub fn chain_info(&mut self) -> Result<(Option<Network>, u64), RpcError> {
        let v = self.call("getblockchaininfo", json!([]))?;
        let chain = v["chain"].as_str().unwrap_or("");
        let net = match chain {
            "main" => Some(Network::Bitcoin),
            "test" => Some(Network::Testnet),
            "testnet4" => Some(Network::Testnet4),
            "signet" => Some(Network::Signet),
            "regtest" => Some(Network::Regtest),
            _ => None,
        };
        let blocks = v["blocks"].as_u64().ok_or_else(|| self.decode_err("getblockchaininfo", "no blocks field"))?;
        Ok((net, blocks))
    }

    fn decode_err(&self, method: &str, detail: &str) -> RpcError {
        RpcError::Decode { endpoint: self.endpoint.clone(), method: method.to_string(), detail: detail.to_string() }
    }

    /// Block hashes at `heights`.
    pub fn block_hashes(&mut self, heights: &[u64]) -> Result<Vec<BlockHash>, RpcError> {
        let params: Vec<Value> = heights.iter().map(|h| json!([h])).collect();
        let res = self.batch("getblockhash", &params)?;
        res.into_iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| s.parse::<BlockHash>().ok())
                    .ok_or_else(|| self.decode_err("getblockhash", "expected a block hash"))
            })
            .collect()
    }

    /// A raw transaction (`getrawtransaction <txid> 0`; needs the node's `-txindex` unless the
    /// transaction is in the mempool or a wallet).
    pub fn raw_transaction(&mut self, txid: &bitcoin::Txid) -> Result<bitcoin::Transaction, RpcError> {
        let v = self.call("getrawtransaction", json!([txid.to_string(), 0]))?;
        let bytes = v
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(|| self.decode_err("getrawtransaction", "expected the transaction as hex"))?;
        bitcoin::consensus::deserialize(&bytes).map_err(|e| self.decode_err("getrawtransaction", &e.to_string()))
    }

    /// Raw serialized blocks (`getblock <hash> 0`).
    pub fn raw_blocks(&mut self, hashes: &[BlockHash]) -> Result<Vec<Vec<u8>>, RpcError> {
        let params: Vec<Value> = hashes.iter().map(|h| json!([h.to_string(), 0])).collect();
        let res = self.batch("getblock", &params)?;
        res.into_iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| hex::decode(s).ok())
                    .ok_or_else(|| self.decode_err("getblock", "expected the block as hex"))
            })
            .collect()
    }
}

/// What went wrong, without `e.to_string()`: ureq's `Display` quotes the whole URL, with its
/// credentials percent-encoded and any API key in the path or query.
pub(crate) fn transport_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Transport(t) => {
            let mut s = t.kind().to_string();
            if let Some(m) = t.message() {
                s.push_str(": ");
                s.push_str(m);
            }
            // The underlying I/O or URL-parse error ("connection refused", "invalid port").
            if let Some(c) = std::error::Error::source(t) {
                s.push_str(": ");
                s.push_str(&c.to_string());
            }
            s
        }
        ureq::Error::Status(code, _) => format!("HTTP {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_of_a_multi_byte_character_does_not_panic() {
        assert_eq!(percent_decode("p%é"), "p%é");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(percent_decode("%%41%4"), "%A%4");
        assert_eq!(percent_decode("p%C3%A4ss"), "päss");
        assert_eq!(percent_decode("%zz%c3"), "%zz\u{fffd}");
        for s in ["€%€", "%€€", "ü%ü%", "%", "%%", "%1€"] {
            let _ = percent_decode(s);
        }
    }

    #[test]
    fn base64_and_url_parsing_never_leak() {
        assert_eq!(base64_lite::encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_lite::encode(b"a"), "YQ==");
        assert_eq!(base64_lite::encode(b"ab"), "YWI=");
        let c = RpcClient::new(&Sensitive::new("http://alice:s%40cret@127.0.0.1:8332/wallet/x"), None).unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:8332");
        assert_eq!(c.url, "http://127.0.0.1:8332/wallet/x");
        assert!(!format!("{c:?}").contains("cret"));
        match &c.auth {
            RpcAuth::UserPass { user, password } => {
                assert_eq!(user, "alice");
                assert_eq!(password.expose(), "s@cret");
            }
            _ => panic!("expected user/password"),
        }
        assert!(RpcClient::new(&Sensitive::new("127.0.0.1:8332"), None).is_err());
        let err = RpcClient::new(&Sensitive::new("http://127.0.0.1:1"), Some(Path::new("/nonexistent/.cookie")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cookie"), "{err}");
    }

    #[test]
    fn classifies_retryable_faults() {
        let t = RpcError::Transport { endpoint: "e".into(), reason: "refused".into() };
        assert!(t.is_retryable());
        assert!(RpcError::Rpc { endpoint: "e".into(), method: "m".into(), code: -28, message: "warming".into() }
            .is_retryable());
        assert!(
            !RpcError::Rpc { endpoint: "e".into(), method: "m".into(), code: -8, message: "bad".into() }.is_retryable()
        );
        assert!(!RpcError::Unauthorized { endpoint: "e".into() }.is_retryable());
    }
}

/// Resolves spent outputs first from `inner` (the store), then from the node
/// (`getrawtransaction`), so a block range can be ingested without the blocks before it.
/// Fetched transactions are cached (a transaction often funds several inputs).
pub struct NodeFallbackLookup<'a, L> {
    /// The first lookup (the store).
    pub inner: L,
    client: std::cell::RefCell<&'a mut RpcClient>,
    network: Network,
    cache: std::cell::RefCell<std::collections::HashMap<chaintrace_model::Hash32, bitcoin::Transaction>>,
    /// Outputs that had to be fetched from the node.
    pub fetched: std::cell::Cell<u64>,
}

impl<'a, L> NodeFallbackLookup<'a, L> {
    /// A lookup over `inner` that falls back to `client`, decoding addresses for `network`.
    pub fn new(inner: L, client: &'a mut RpcClient, network: Network) -> Self {
        NodeFallbackLookup {
            inner,
            client: std::cell::RefCell::new(client),
            network,
            cache: Default::default(),
            fetched: std::cell::Cell::new(0),
        }
    }
}

/// Why a fallback lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum FallbackError<E: std::error::Error + 'static> {
    /// The inner lookup failed.
    #[error(transparent)]
    Inner(E),
    /// The node could not provide the transaction.
    #[error("fetching a spent output from the node (it needs -txindex, unless the range starts at height 0): {0}")]
    Node(#[source] RpcError),
}

impl<L: chaintrace_model::UtxoLookup> chaintrace_model::UtxoLookup for NodeFallbackLookup<'_, L> {
    type Error = FallbackError<L::Error>;
    fn output(
        &self,
        txid: &chaintrace_model::Hash32,
        vout: u32,
    ) -> Result<Option<chaintrace_model::UtxoOutput>, Self::Error> {
        if let Some(o) = self.inner.output(txid, vout).map_err(FallbackError::Inner)? {
            return Ok(Some(o));
        }
        let mut cache = self.cache.borrow_mut();
        if !cache.contains_key(txid) {
            if cache.len() > 100_000 {
                cache.clear();
            }
            let tx =
                self.client.borrow_mut().raw_transaction(&crate::from_hash32(txid)).map_err(FallbackError::Node)?;
            cache.insert(*txid, tx);
        }
        let tx = &cache[txid];
        self.fetched.set(self.fetched.get() + 1);
        Ok(tx.output.get(vout as usize).map(|o| chaintrace_model::UtxoOutput {
            txid: *txid,
            vout,
            address: crate::script::script_address(&o.script_pubkey, self.network),
            value: o.value.to_sat(),
        }))
    }
}
