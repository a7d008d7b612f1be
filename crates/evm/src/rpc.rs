//! JSON-RPC over HTTP with alloy's client: batching, a bound on requests in flight, a request
//! rate, per-request timeouts and retries with exponential backoff on transient faults.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_json_rpc::RpcError as AlloyRpcError;
use alloy_rpc_client::RpcClient;
use alloy_transport::TransportErrorKind;
use chaintrace_model::Sensitive;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use crate::error::{EvmError, RpcError};

/// How hard the adapter may push a node.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// HTTP requests (single calls or batches) in flight at once.
    pub max_in_flight: usize,
    /// JSON-RPC calls per second (a batch of n counts n); `None` = unlimited.
    pub rate_per_sec: Option<f64>,
    /// Calls per JSON-RPC batch; 1 disables batching.
    pub batch_size: usize,
    /// Per HTTP request.
    pub timeout: Duration,
    /// Attempts per call before giving up on a retryable fault.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt (with jitter) up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest delay between two attempts.
    pub backoff_max: Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            max_in_flight: 8,
            rate_per_sec: None,
            batch_size: 50,
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// One call of a batch.
#[derive(Clone, Debug)]
pub struct Call {
    /// The JSON-RPC method.
    pub method: &'static str,
    /// Its positional parameters (a JSON array).
    pub params: Value,
}

impl Call {
    /// A call of `method` with `params`.
    pub fn new(method: &'static str, params: Value) -> Self {
        Call { method, params }
    }
}

/// A spacing rate limiter: each call reserves 1/rate seconds of a shared timeline.
struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Limiter {
    async fn acquire(&self, n: usize) {
        let start = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + self.interval * n as u32;
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

/// The JSON-RPC client of one node.
#[derive(Clone)]
pub struct Rpc {
    inner: Arc<Inner>,
}

struct Inner {
    client: RpcClient,
    endpoint: String,
    secrets: Vec<String>,
    cfg: RpcConfig,
    in_flight: Semaphore,
    limiter: Option<Limiter>,
    calls: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
}

impl Rpc {
    /// A client for `url` (http or https; anything else is [`EvmError::BadUrl`]). No request is
    /// made yet.
    pub fn new(url: &Sensitive, cfg: RpcConfig) -> Result<Rpc, EvmError> {
        let endpoint = url.redacted_url();
        let parsed: reqwest::Url = url.expose().parse().map_err(|_| EvmError::BadUrl(endpoint.clone()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EvmError::BadUrl(endpoint));
        }
        let mut secrets = vec![url.expose().to_string(), parsed.as_str().to_string()];
        // Path, query and credentials are the parts that can hold keys.
        let tail = parsed.as_str().split_once(parsed.host_str().unwrap_or("\u{0}")).map(|x| x.1.to_string());
        if let Some(t) = tail.filter(|t| t.len() > 1) {
            secrets.push(t);
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let is_local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let client = RpcClient::new(crate::transport::QuietHttp::new(parsed), is_local);
        let limiter = cfg
            .rate_per_sec
            .filter(|r| *r > 0.0)
            .map(|r| Limiter { interval: Duration::from_secs_f64(1.0 / r), next: Mutex::new(Instant::now()) });
        Ok(Rpc {
            inner: Arc::new(Inner {
                client,
                endpoint,
                secrets,
                in_flight: Semaphore::new(cfg.max_in_flight.max(1)),
                cfg,
                limiter,
                calls: Default::default(),
                retries: Default::default(),
            }),
        })
    }

    /// `scheme://host` of the node, safe to print.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RpcConfig {
        &self.inner.cfg
    }

    /// (JSON-RPC calls sent, retries made) so far.
    pub fn counters(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.inner.calls.load(Relaxed), self.inner.retries.load(Relaxed))
    }

    fn scrub(&self, msg: &str) -> String {
        let mut m = msg.to_string();
        for s in &self.inner.secrets {
            if !s.is_empty() {
                m = m.replace(s.as_str(), &self.inner.endpoint);
            }
        }
        let mut m: String = m.chars().take(300).collect();
        if msg.len() > 300 {
            m.push('…');
        }
        m
    }

    fn convert(&self, method: &str, e: AlloyRpcError<TransportErrorKind>) -> RpcError {
        let method = method.to_string();
        let endpoint = self.inner.endpoint.clone();
        match e {
            AlloyRpcError::ErrorResp(p) => {
                RpcError::Node { method, endpoint, code: p.code, message: self.scrub(&p.message) }
            }
            AlloyRpcError::NullResp => RpcError::Malformed { method, endpoint, message: "null response".into() },
            AlloyRpcError::DeserError { err, .. } => {
                RpcError::Malformed { method, endpoint, message: self.scrub(&err.to_string()) }
            }
            AlloyRpcError::Transport(TransportErrorKind::HttpError(h)) => {
                RpcError::Http { method, endpoint, status: h.status, body: self.scrub(&h.body) }
            }
            AlloyRpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter { error, .. }) => {
                RpcError::Http { method, endpoint, status: error.status, body: self.scrub(&error.body) }
            }
            AlloyRpcError::Transport(TransportErrorKind::MissingBatchResponse(id)) => {
                RpcError::Malformed { method, endpoint, message: format!("batch response lacks id {id}") }
            }
            other => RpcError::Transport { method, endpoint, message: self.scrub(&other.to_string()) },
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cfg = &self.inner.cfg;
        let exp = cfg.backoff_base.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(cfg.backoff_max);
        // Jitter in [50%, 100%] so concurrent retries spread out instead of hitting the node
        // again in lockstep.
        capped.mul_f64(0.5 + jitter_unit() / 2.0)
    }

    /// Send one HTTP request holding `calls` (a single call or a batch), once.
    async fn send_once(&self, calls: &[&Call]) -> Result<Vec<Result<Box<RawValue>, RpcError>>, RpcError> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(l) = &self.inner.limiter {
            l.acquire(calls.len()).await;
        }
        let _permit = self.inner.in_flight.acquire().await.expect("semaphore is never closed");
        self.inner.calls.fetch_add(calls.len() as u64, Relaxed);
        let first = calls.first().map(|c| c.method).unwrap_or("batch");
        let timeout = self.inner.cfg.timeout;
        let timed_out = || RpcError::Timeout {
            method: first.to_string(),
            endpoint: self.inner.endpoint.clone(),
            secs: timeout.as_secs().max(1),
        };
        if calls.len() == 1 {
            let c = calls[0];
            let fut = self.inner.client.request::<_, Box<RawValue>>(Cow::Borrowed(c.method), c.params.clone());
            return match tokio::time::timeout(timeout, fut).await {
                Err(_) => Err(timed_out()),
                Ok(Ok(raw)) => Ok(vec![Ok(raw)]),
                Ok(Err(e)) => {
                    let e = self.convert(c.method, e);
                    // A node-level error answers this call; transport faults fail the request.
                    if matches!(e, RpcError::Node { .. }) {
                        Ok(vec![Err(e)])
                    } else {
                        Err(e)
                    }
                }
            };
        }
        let mut batch = self.inner.client.new_batch();
        let mut waiters = Vec::with_capacity(calls.len());
        for c in calls {
            let w = batch
                .add_call::<_, Box<RawValue>>(Cow::Borrowed(c.method), &c.params)
                .map_err(|e| self.convert(c.method, e))?;
            waiters.push(w);
        }
        match tokio::time::timeout(timeout, batch.send()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => return Err(self.convert(first, e)),
            Ok(Ok(())) => {}
        }
        let mut out = Vec::with_capacity(calls.len());
        for (c, w) in calls.iter().zip(waiters) {
            out.push(w.await.map_err(|e| self.convert(c.method, e)));
        }
        Ok(out)
    }

    /// Run `calls` (split into batches of `batch_size`, sent concurrently up to the in-flight
    /// bound) and return one result per call in order. Transient faults are retried with
    /// backoff, per call; other node errors are returned for the caller to judge.
    pub async fn batch(&self, calls: &[Call]) -> Vec<Result<Box<RawValue>, RpcError>> {
        let size = self.inner.cfg.batch_size.max(1);
        let chunks: Vec<&[Call]> = calls.chunks(size).collect();
        let futs = chunks.into_iter().map(|chunk| self.batch_with_retry(chunk));
        futures::future::join_all(futs).await.into_iter().flatten().collect()
    }

    async fn batch_with_retry(&self, calls: &[Call]) -> Vec<Result<Box<RawValue>, RpcError>> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut results: Vec<Option<Result<Box<RawValue>, RpcError>>> = (0..calls.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        let max = self.inner.cfg.max_attempts.max(1);
        for attempt in 0..max {
            let refs: Vec<&Call> = pending.iter().map(|&i| &calls[i]).collect();
            let mut still = Vec::new();
            match self.send_once(&refs).await {
                Ok(items) => {
                    for (&i, r) in pending.iter().zip(items) {
                        match r {
                            Err(e) if e.is_retryable() && attempt + 1 < max => {
                                still.push(i);
                                results[i] = Some(Err(e));
                            }
                            other => results[i] = Some(other),
                        }
                    }
                }
                Err(e) if e.is_retryable() && attempt + 1 < max => {
                    tracing::debug!(endpoint = %self.inner.endpoint, attempt, error = %e, "retrying");
                    still = pending.clone();
                    for &i in &pending {
                        results[i] = Some(Err(RpcError::Transport {
                            method: calls[i].method.to_string(),
                            endpoint: self.inner.endpoint.clone(),
                            message: e.to_string(),
                        }));
                    }
                }
                Err(e) => {
                    let exhausted = e.is_retryable();
                    for &i in &pending {
                        let err = clone_err(&e, calls[i].method);
                        results[i] = Some(Err(if exhausted {
                            RpcError::Exhausted {
                                method: calls[i].method.to_string(),
                                attempts: max,
                                last: Box::new(err),
                            }
                        } else {
                            err
                        }));
                    }
                    pending.clear();
                    break;
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            self.inner.retries.fetch_add(1, Relaxed);
            tokio::time::sleep(self.backoff(attempt)).await;
        }
        // Calls still failing after the last attempt are reported as exhausted.
        for i in pending {
            if let Some(Err(e)) = results[i].take() {
                results[i] = Some(Err(RpcError::Exhausted {
                    method: calls[i].method.to_string(),
                    attempts: max,
                    last: Box::new(e),
                }));
            }
        }
        results.into_iter().map(|r| r.expect("every call of a batch gets a result")).collect()
    }

    /// One call, decoded into `T` (`Option<T>` for calls that may return null).
    pub async fn call<T: DeserializeOwned>(&self, method: &'static str, params: Value) -> Result<T, RpcError> {
        let call = Call::new(method, params);
        let raw = self.batch(std::slice::from_ref(&call)).await.pop().expect("one result per call")?;
        self.decode(method, &raw)
    }

    /// Decode one raw `result` as `T`; a mismatch is [`RpcError::Decode`] naming `method`.
    pub fn decode<T: DeserializeOwned>(&self, method: &str, raw: &RawValue) -> Result<T, RpcError> {
        serde_json::from_str(raw.get()).map_err(|e| RpcError::Decode {
            method: method.to_string(),
            endpoint: self.inner.endpoint.clone(),
            message: e.to_string(),
        })
    }
}

fn clone_err(e: &RpcError, method: &str) -> RpcError {
    let m = method.to_string();
    match e {
        RpcError::Node { endpoint, code, message, .. } => {
            RpcError::Node { method: m, endpoint: endpoint.clone(), code: *code, message: message.clone() }
        }
        RpcError::Http { endpoint, status, body, .. } => {
            RpcError::Http { method: m, endpoint: endpoint.clone(), status: *status, body: body.clone() }
        }
        RpcError::Timeout { endpoint, secs, .. } => {
            RpcError::Timeout { method: m, endpoint: endpoint.clone(), secs: *secs }
        }
        RpcError::Transport { endpoint, message, .. } => {
            RpcError::Transport { method: m, endpoint: endpoint.clone(), message: message.clone() }
        }
        RpcError::Malformed { endpoint, message, .. } => {
            RpcError::Malformed { method: m, endpoint: endpoint.clone(), message: message.clone() }
        }
        RpcError::Decode { endpoint, message, .. } => {
            RpcError::Decode { method: m, endpoint: endpoint.clone(), message: message.clone() }
        }
        RpcError::Exhausted { attempts, last, .. } => {
            RpcError::Exhausted { method: m, attempts: *attempts, last: Box::new(clone_err(last, method)) }
        }
    }
}

/// A JSON-RPC call's identity for recording and replay: `method` + its parameters with object
/// keys sorted (so the same call matches however a client orders its fields).
pub fn canonical_key(method: &str, params: &serde_json::Value) -> String {
    fn canon(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    canon(&m[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canon(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::from(method);
    s.push(' ');
    canon(params, &mut s);
    s
}

/// A number in [0, 1) that differs from call to call and from process to process: a shared
/// counter mixed with the clock through splitmix64. (Retry jitter only; not for anything that
/// must be unpredictable.)
fn jitter_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut z = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed) ^ clock;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_jitter_spreads_over_half_to_all_of_the_backoff() {
        let v: Vec<f64> = (0..1000).map(|_| jitter_unit()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        let distinct: std::collections::BTreeSet<u64> = v.iter().map(|x| (x * 1e6) as u64).collect();
        assert!(distinct.len() > 990, "jitter repeats: {} distinct of 1000", distinct.len());
        let low = v.iter().filter(|x| **x < 0.5).count();
        assert!((350..650).contains(&low), "{low} of 1000 below the middle");
    }
}
