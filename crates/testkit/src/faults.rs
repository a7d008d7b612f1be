//! A fault-injecting HTTP proxy for JSON-RPC: drops, delays, HTTP 429/503, provider
//! rate-limit errors and truncated JSON, for a deterministic pseudo-random share of requests,
//! with an optional bound on the faults any one call meets (so a client whose retry budget is
//! larger must get through, whatever the draw).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::http::{self, Reply, Server};
use crate::rng::Rng;

/// How a [`FaultProxy`] misbehaves.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// Share of requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    /// How long a delayed request waits before it is forwarded.
    pub delay: Duration,
    /// Seed of the proxy's deterministic choice of faults.
    pub seed: u64,
    /// At most this many faults for the same call (the same JSON-RPC method and parameters,
    /// request ids ignored; a batch counts as one call): once a call has met that many, its
    /// retries are forwarded untouched. `None`: no bound, each request draws on its own.
    pub max_faults_per_call: Option<u32>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig { rate: 0.3, delay: Duration::from_millis(1500), seed: 7, max_faults_per_call: None }
    }
}

/// What identifies one call across its retries: the request body without its JSON-RPC ids
/// (a client numbers each attempt anew); the raw bytes when the body is not JSON.
fn call_key(body: &[u8]) -> Vec<u8> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("id");
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            strip(&mut v);
            serde_json::to_vec(&v).expect("serialise JSON")
        }
        Err(_) => body.to_vec(),
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Connections closed without an answer.
    pub dropped: AtomicU64,
    /// Requests held back by `delay` before being forwarded.
    pub delayed: AtomicU64,
    /// Requests answered with HTTP 429.
    pub http_429: AtomicU64,
    /// Requests answered with HTTP 503.
    pub http_503: AtomicU64,
    /// Requests answered with a JSON-RPC rate-limit error.
    pub rpc_rate_limited: AtomicU64,
    /// Answers cut off mid-JSON.
    pub truncated: AtomicU64,
    /// Requests that drew a fault but were forwarded untouched, their call having met
    /// [`FaultConfig::max_faults_per_call`] (not counted in [`FaultStats::faults`]).
    pub spared: AtomicU64,
}

impl FaultStats {
    /// All injected faults (everything but plain `requests`).
    pub fn faults(&self) -> u64 {
        [&self.dropped, &self.delayed, &self.http_429, &self.http_503, &self.rpc_rate_limited, &self.truncated]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// A JSON-RPC proxy on a free loopback port that forwards to an upstream node and injects
/// faults per [`FaultConfig`]; stops on drop.
pub struct FaultProxy {
    server: Server,
    stats: Arc<FaultStats>,
}

impl FaultProxy {
    /// Start proxying to `upstream`.
    pub fn start(upstream: SocketAddr, cfg: FaultConfig) -> FaultProxy {
        let stats = Arc::new(FaultStats::default());
        let st = stats.clone();
        // Faults met so far per call (only kept when they are bounded).
        let met: Mutex<HashMap<Vec<u8>, u32>> = Mutex::new(HashMap::new());
        let server = Server::start(move |body| {
            let n = st.requests.fetch_add(1, Ordering::Relaxed);
            // Deterministic per-request randomness: the first draw of a stream keyed by the request.
            let r = Rng::new(cfg.seed ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d)).next_u64();
            let roll = (r >> 11) as f64 / (1u64 << 53) as f64;
            let forward = || match http::post(upstream, body, Duration::from_secs(60)) {
                Ok(resp) => Reply::Send { status: resp.status, body: resp.body, content_length: None },
                Err(_) => Reply::Drop,
            };
            if roll >= cfg.rate {
                return forward();
            }
            if let Some(max) = cfg.max_faults_per_call {
                let mut met = met.lock().expect("fault counts lock");
                let count = met.entry(call_key(body)).or_insert(0);
                if *count >= max {
                    st.spared.fetch_add(1, Ordering::Relaxed);
                    return forward();
                }
                *count += 1;
            }
            match r % 6 {
                0 => {
                    st.dropped.fetch_add(1, Ordering::Relaxed);
                    Reply::Drop
                }
                1 => {
                    st.delayed.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(cfg.delay);
                    forward()
                }
                2 => {
                    st.http_429.fetch_add(1, Ordering::Relaxed);
                    Reply::Send { status: 429, body: b"rate limited".to_vec(), content_length: None }
                }
                3 => {
                    st.http_503.fetch_add(1, Ordering::Relaxed);
                    Reply::Send { status: 503, body: b"unavailable".to_vec(), content_length: None }
                }
                4 => {
                    st.rpc_rate_limited.fetch_add(1, Ordering::Relaxed);
                    // The shape hosted providers use (Infura -32005, "limit exceeded").
                    let err = |id: Value| json!({"jsonrpc":"2.0","id":id,"error":{"code":-32005,"message":"daily request count exceeded, request rate limited"}});
                    let resp = match serde_json::from_slice::<Value>(body) {
                        Ok(Value::Array(items)) => Value::Array(
                            items.iter().map(|i| err(i.get("id").cloned().unwrap_or(Value::Null))).collect(),
                        ),
                        Ok(v) => err(v.get("id").cloned().unwrap_or(Value::Null)),
                        Err(_) => err(Value::Null),
                    };
                    Reply::json(serde_json::to_vec(&resp).expect("serialise JSON"))
                }
                _ => {
                    st.truncated.fetch_add(1, Ordering::Relaxed);
                    match forward() {
                        Reply::Send { status, body, .. } => {
                            let cut = body.len() / 2;
                            Reply::Send { status, body: body[..cut].to_vec(), content_length: None }
                        }
                        Reply::Drop => Reply::Drop,
                    }
                }
            }
        });
        FaultProxy { server, stats }
    }

    /// The proxy's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// What it has injected so far.
    pub fn stats(&self) -> &FaultStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u64, block: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"jsonrpc":"2.0","id":id,"method":"eth_getBlockByNumber","params":[block,true]}))
            .expect("serialise JSON")
    }

    #[test]
    fn a_call_meets_at_most_max_faults_per_call_faults_then_goes_through() {
        let upstream = Server::start(|b| Reply::json(b.to_vec()));
        let cfg = FaultConfig { rate: 1.0, delay: Duration::from_millis(1), seed: 3, max_faults_per_call: Some(3) };
        let proxy = FaultProxy::start(upstream.addr(), cfg);
        let addr = proxy.server.addr();
        // Every request draws a fault (rate 1.0); the same call, renumbered on each attempt as
        // a client does, is faulted three times and then forwarded untouched.
        for attempt in 0..6u64 {
            let body = call(attempt, "0x10");
            let got = http::post(addr, &body, Duration::from_secs(5));
            if attempt >= 3 {
                let got = got.expect("a call past its fault bound is forwarded");
                assert_eq!((got.status, got.body), (200, body), "attempt {attempt}");
            }
            assert_eq!(proxy.stats().faults(), attempt.min(2) + 1, "attempt {attempt}");
        }
        // Another call has a bound of its own.
        let _ = http::post(addr, &call(9, "0x11"), Duration::from_secs(5));
        assert_eq!(proxy.stats().faults(), 4);
        assert_eq!(proxy.stats().requests.load(Ordering::Relaxed), 7);
        assert_eq!(proxy.stats().spared.load(Ordering::Relaxed), 3);
        // The key ignores ids, in batches too, and only ids.
        let batch = |a: u64, b: u64| format!(r#"[{{"id":{a},"method":"m","params":[]}},{{"id":{b},"method":"n"}}]"#);
        assert_eq!(call_key(batch(1, 2).as_bytes()), call_key(batch(7, 8).as_bytes()));
        assert_ne!(call_key(&call(1, "0x10")), call_key(&call(1, "0x11")));
    }
}
