//! A fault-injecting HTTP proxy for JSON-RPC: drops, delays, HTTP 429/503, provider
//! rate-limit errors and truncated JSON, for a deterministic pseudo-random share of requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig { rate: 0.3, delay: Duration::from_millis(1500), seed: 7 }
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
