//! A small client for TRON endpoints: POST JSON with retries (transport faults, 429, 5xx,
//! truncated JSON), a request rate limit, bounded concurrency, and the hosted-endpoint API key
//! header. The URL and the key are never logged or put in errors (only `scheme://host`).

use std::sync::Arc;
use std::time::Duration;

use chaintrace_model::{Sensitive, U256};
use serde_json::{json, Value};
use tokio::sync::{Mutex, Semaphore};

use crate::TronError;

/// The most blocks one `/wallet/getblockbylimitnext` request returns (java-tron's limit).
pub const RANGE_LIMIT: u64 = 100;

/// Client settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Attempts per request before the last error is returned.
    pub retries: u32,
    /// First retry delay; doubled per attempt (capped at 5 s).
    pub backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Requests per second; `None` for no limit.
    pub rate_per_sec: Option<f64>,
    /// `TRON-PRO-API-KEY` header for hosted endpoints (TronGrid).
    pub api_key: Option<Sensitive>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            retries: 8,
            backoff: Duration::from_millis(50),
            timeout: Duration::from_secs(30),
            max_in_flight: 8,
            rate_per_sec: None,
            api_key: None,
        }
    }
}

/// A TRON endpoint (base URL) spoken to over HTTP. Clones share the connection pool, the
/// in-flight limit and the rate limit.
#[derive(Clone)]
pub struct HttpApi {
    base: Sensitive,
    shown: String,
    client: reqwest::Client,
    cfg: HttpConfig,
    slots: Arc<Semaphore>,
    next_slot: Arc<Mutex<tokio::time::Instant>>,
}

impl HttpApi {
    /// A client for `base` (no request is made).
    pub fn new(base: &Sensitive, cfg: HttpConfig) -> Result<Self, TronError> {
        let shown = base.redacted_url();
        let client = reqwest::Client::builder().timeout(cfg.timeout).build().map_err(|e| TronError::Transport {
            url: shown.clone(),
            message: format!("cannot build an HTTP client: {e}"),
        })?;
        let base = Sensitive::new(base.expose().trim_end_matches('/'));
        Ok(HttpApi {
            base,
            shown,
            client,
            slots: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            next_slot: Arc::new(Mutex::new(tokio::time::Instant::now())),
            cfg,
        })
    }

    /// `scheme://host` of the endpoint, for messages.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    async fn pace(&self) {
        let Some(rate) = self.cfg.rate_per_sec.filter(|r| *r > 0.0) else { return };
        let wait = {
            let mut next = self.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let at = (*next).max(now);
            *next = at + Duration::from_secs_f64(1.0 / rate);
            at
        };
        tokio::time::sleep_until(wait).await;
    }

    /// One request without retries: a POST of `body`, or a GET when `body` is `None`.
    async fn request_once(&self, path: &str, body: Option<&Value>) -> Result<Value, TronError> {
        self.pace().await;
        let _slot = self.slots.acquire().await.expect("the semaphore is never closed");
        let url = format!("{}{path}", self.base.expose());
        let mut req = match body {
            Some(body) => self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).expect("a JSON value serialises")),
            None => self.client.get(url).header("accept", "application/json"),
        };
        if let Some(key) = &self.cfg.api_key {
            req = req.header("TRON-PRO-API-KEY", key.expose());
        }
        // The path of a message: without its query (a GET's query names the account, which is
        // fine, but keep messages short and stable).
        let shown_path = path.split('?').next().unwrap_or(path).to_string();
        let transport =
            |e: reqwest::Error| TronError::Transport { url: self.shown.clone(), message: e.without_url().to_string() };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        let text = String::from_utf8_lossy(&bytes);
        let head = text.trim_start();
        if head.starts_with('<') {
            return Err(TronError::Html { url: self.shown.clone(), path: shown_path });
        }
        if status != 200 {
            return Err(TronError::Status { url: self.shown.clone(), path: shown_path, status });
        }
        serde_json::from_slice(&bytes).map_err(|e| TronError::BadJson {
            url: self.shown.clone(),
            path: shown_path,
            message: e.to_string(),
        })
    }

    async fn with_retries(&self, path: &str, body: Option<&Value>) -> Result<Value, TronError> {
        let mut delay = self.cfg.backoff;
        let mut attempt = 0;
        loop {
            match self.request_once(path, body).await {
                Err(e) if e.is_retryable() && attempt + 1 < self.cfg.retries => {
                    tracing::debug!(attempt, error = %e, "retrying a TRON request");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// POST `body` to `path` (e.g. `/wallet/getblockbynum`), retrying retryable faults.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, TronError> {
        self.with_retries(path, Some(body)).await
    }

    /// GET `path_and_query` (TronGrid's `/v1/…` API), retrying retryable faults.
    pub async fn get(&self, path_and_query: &str) -> Result<Value, TronError> {
        self.with_retries(path_and_query, None).await
    }

    /// `/wallet/getblockbynum` (`{}` when the node has no such block).
    pub async fn block(&self, height: u64) -> Result<Value, TronError> {
        self.post("/wallet/getblockbynum", &json!({ "num": height, "visible": false })).await
    }

    /// `/wallet/getblockbylimitnext`: the blocks `start..end` (`end` exclusive, at most
    /// [`RANGE_LIMIT`]) in one request, or `None` when the endpoint does not offer it (HTTP
    /// 404/405/501, or an answer without `block`). An empty range answers `{}`: no blocks.
    pub async fn block_range(&self, start: u64, end: u64) -> Result<Option<Vec<Value>>, TronError> {
        let body = json!({ "startNum": start, "endNum": end, "visible": false });
        match self.post("/wallet/getblockbylimitnext", &body).await {
            Err(TronError::Status { status: 404 | 405 | 501, .. }) => Ok(None),
            Err(e) => Err(e),
            Ok(Value::Object(o)) if o.is_empty() => Ok(Some(Vec::new())),
            Ok(Value::Object(mut o)) => match o.remove("block") {
                Some(Value::Array(blocks)) => Ok(Some(blocks)),
                _ => Ok(None),
            },
            Ok(_) => Ok(None),
        }
    }

    /// `/wallet/gettransactioninfobyblocknum`: the block's transaction infos (logs, internal
    /// transfers, receipts).
    pub async fn tx_infos(&self, height: u64) -> Result<Vec<Value>, TronError> {
        match self.post("/wallet/gettransactioninfobyblocknum", &json!({ "num": height })).await? {
            Value::Array(a) => Ok(a),
            Value::Object(o) if o.is_empty() => Ok(Vec::new()),
            other => Err(TronError::Decode {
                height,
                message: format!("gettransactioninfobyblocknum answered {}, not an array", kind_of(&other)),
            }),
        }
    }

    /// The head height from `/wallet/getnowblock`.
    pub async fn head(&self) -> Result<u64, TronError> {
        let b = self.post("/wallet/getnowblock", &json!({})).await?;
        b.pointer("/block_header/raw_data/number").and_then(Value::as_u64).ok_or_else(|| TronError::Decode {
            height: 0,
            message: "getnowblock answered no block_header.raw_data.number".into(),
        })
    }

    /// A JSON-RPC call on `path` (`""` or `/jsonrpc`); the `result` or an error.
    pub async fn rpc(&self, path: &str, method: &str, params: Value) -> Result<Value, TronError> {
        let v = self.post(path, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).await?;
        v.get("result").cloned().filter(|r| !r.is_null()).ok_or_else(|| TronError::BadJson {
            url: self.shown.clone(),
            path: path.to_string(),
            message: format!("{method} answered no result"),
        })
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What an endpoint offers, found by [`probe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The path of the Ethereum-compatible JSON-RPC (`""` for the base URL, or `/jsonrpc`),
    /// when it answered `eth_chainId`.
    pub jsonrpc_path: Option<String>,
    /// The JSON-RPC's chain id.
    pub chain_id: Option<u64>,
    /// Whether `/wallet/getnowblock` answered a block.
    pub http_api: bool,
    /// Whether `/wallet/gettransactioninfobyblocknum` answered (logs, internal transfers).
    pub tx_info: bool,
}

impl Capabilities {
    /// The one-word summary recorded in the store (`http`, `jsonrpc`, `http+jsonrpc`).
    pub fn api(&self) -> &'static str {
        match (self.http_api, self.jsonrpc_path.is_some()) {
            (true, true) => "http+jsonrpc",
            (true, false) => "http",
            (false, true) => "jsonrpc",
            (false, false) => "none",
        }
    }

    /// The URL of the JSON-RPC under `base`, when offered.
    pub fn jsonrpc_url(&self, base: &Sensitive) -> Option<Sensitive> {
        let p = self.jsonrpc_path.as_deref()?;
        Some(Sensitive::new(format!("{}{p}", base.expose().trim_end_matches('/'))))
    }
}

/// Ask the endpoint once what it offers: the JSON-RPC at the base URL or `/jsonrpc`
/// (`eth_chainId`), and the HTTP API (`/wallet/getnowblock`, then
/// `/wallet/gettransactioninfobyblocknum` at the head). HTML or a non-TRON answer everywhere
/// is an error naming what was asked.
pub async fn probe(api: &HttpApi) -> Result<Capabilities, TronError> {
    let mut caps = Capabilities { jsonrpc_path: None, chain_id: None, http_api: false, tx_info: false };
    let mut last: Option<TronError> = None;
    for path in ["", "/jsonrpc"] {
        match api.rpc(path, "eth_chainId", json!([])).await {
            Ok(v) => {
                let id = v
                    .as_str()
                    .and_then(|s| U256::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                    .and_then(|n| u64::try_from(n).ok());
                if let Some(id) = id {
                    caps.jsonrpc_path = Some(path.to_string());
                    caps.chain_id = Some(id);
                    break;
                }
            }
            Err(e) => last = Some(e),
        }
    }
    match api.post("/wallet/getnowblock", &json!({})).await {
        Ok(b) if b.get("blockID").is_some() => {
            caps.http_api = true;
            let head = b.pointer("/block_header/raw_data/number").and_then(Value::as_u64).unwrap_or(0);
            caps.tx_info = api.tx_infos(head).await.is_ok();
        }
        Ok(_) => {}
        Err(e) => last = Some(e),
    }
    if caps.jsonrpc_path.is_none() && !caps.http_api {
        return Err(match last {
            Some(e @ TronError::Html { .. }) => e,
            Some(e) => TronError::NoApi { url: api.shown.clone(), last: e.to_string() },
            None => TronError::NoApi { url: api.shown.clone(), last: "no answer looked like TRON's".into() },
        });
    }
    Ok(caps)
}
