//! A JSON-RPC proxy that makes a node look like a full (pruned, non-archive) Geth node: it
//! answers `trace_block` and `debug_traceBlockByNumber` for blocks below a height with the
//! error Geth gives when the block's state is gone, and forwards everything else.
//!
//! anvil keeps every state, so it cannot produce that answer itself; the proxy stands in for
//! the node's pruning. The error is Geth's own: code -32000 with
//! `required historical state unavailable (reexec=128)` (`eth/state_accessor.go`, hash
//! scheme, default `reexec` 128).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::http::{self, Reply, Server};

/// The message Geth answers a trace of a block whose state it no longer has.
pub const GETH_STATE_UNAVAILABLE: &str = "required historical state unavailable (reexec=128)";

/// A proxy in front of `upstream` that refuses to trace blocks below `keep_from` the way a
/// pruned Geth node does; stops on drop.
pub struct PrunedNodeProxy {
    server: Server,
    refused: Arc<AtomicU64>,
}

/// The block height a trace call asks for (`"0x1f"` or a number as the first parameter).
fn traced_height(call: &Value) -> Option<u64> {
    let method = call.get("method")?.as_str()?;
    if method != "trace_block" && method != "debug_traceBlockByNumber" {
        return None;
    }
    match call.get("params")?.get(0)? {
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl PrunedNodeProxy {
    /// Start proxying to `upstream`; trace calls for heights below `keep_from` get Geth's
    /// "historical state unavailable" error.
    pub fn start(upstream: SocketAddr, keep_from: u64) -> PrunedNodeProxy {
        let refused = Arc::new(AtomicU64::new(0));
        let count = refused.clone();
        let server = Server::start(move |body| {
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return forward(upstream, body);
            };
            let refuse = |call: &Value| traced_height(call).is_some_and(|h| h < keep_from);
            let error = |call: &Value| {
                count.fetch_add(1, Ordering::Relaxed);
                json!({"jsonrpc": "2.0", "id": call.get("id").cloned().unwrap_or(Value::Null),
                       "error": {"code": -32000, "message": GETH_STATE_UNAVAILABLE}})
            };
            match &req {
                Value::Array(calls) if calls.iter().any(refuse) => {
                    // Forward the batch, then put the refusals in place of those answers.
                    let Reply::Send { status: 200, body: up, .. } = forward(upstream, body) else {
                        return Reply::Drop;
                    };
                    let Ok(Value::Array(mut answers)) = serde_json::from_slice::<Value>(&up) else {
                        return Reply::Drop;
                    };
                    for call in calls.iter().filter(|c| refuse(c)) {
                        let id = call.get("id");
                        if let Some(a) = answers.iter_mut().find(|a| a.get("id") == id) {
                            *a = error(call);
                        }
                    }
                    Reply::json(serde_json::to_vec(&answers).expect("serialise JSON"))
                }
                call if refuse(call) => Reply::json(serde_json::to_vec(&error(call)).expect("serialise JSON")),
                _ => forward(upstream, body),
            }
        });
        PrunedNodeProxy { server, refused }
    }

    /// The proxy's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// How many trace calls it has refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

fn forward(upstream: SocketAddr, body: &[u8]) -> Reply {
    match http::post(upstream, body, Duration::from_secs(60)) {
        Ok(resp) => Reply::Send { status: resp.status, body: resp.body, content_length: None },
        Err(_) => Reply::Drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trace_calls_carry_a_height() {
        let call = |m: &str, p: Value| json!({"jsonrpc": "2.0", "id": 1, "method": m, "params": p});
        assert_eq!(traced_height(&call("trace_block", json!(["0x1f"]))), Some(31));
        assert_eq!(traced_height(&call("debug_traceBlockByNumber", json!(["0x2", {"tracer": "callTracer"}]))), Some(2));
        assert_eq!(traced_height(&call("eth_getBlockByNumber", json!(["0x2", true]))), None);
    }
}
