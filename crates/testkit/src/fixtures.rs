//! Serve recorded JSON-RPC responses (blockchain-etl/ethereum-etl's `web3_response.*.json`
//! files) over HTTP, using the file-name rule documented in `tests/data/ethereum-etl/PROVENANCE.md`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::http::{Reply, Server};

/// `param_to_str` of the upstream mock provider.
pub fn param_to_str(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.iter().map(|k| format!("{k}_{}", param_to_str(&m[k.as_str()]))).collect::<Vec<_>>().join("_")
        }
        Value::Array(a) => a.iter().map(param_to_str).collect::<Vec<_>>().join("_"),
        Value::String(s) => s.to_lowercase(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Value::Null => "none".to_string(),
        Value::Number(n) => n.to_string().to_lowercase(),
    }
}

/// The file that answers `method(params)`.
pub fn file_name(method: &str, params: &Value) -> String {
    let p = match params {
        Value::Array(a) => a.iter().map(param_to_str).collect::<Vec<_>>().join("_"),
        Value::Null => String::new(),
        other => param_to_str(other),
    };
    format!("web3_response.{method}_{p}.json")
}

/// An HTTP JSON-RPC server answering from fixture directories. Calls with no file get a
/// JSON-RPC "method not found" error (-32601), as a node lacking the method would answer.
pub struct FixtureServer {
    server: Server,
    log: Arc<Mutex<Vec<String>>>,
}

impl FixtureServer {
    /// Serve the fixture files of `dirs` (searched in order) on a free loopback port.
    pub fn start(dirs: Vec<PathBuf>) -> FixtureServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let answer = move |req: &Value| -> Value {
            let id = req.get("id").cloned().unwrap_or(Value::Null);
            let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
            let params = req.get("params").cloned().unwrap_or(Value::Null);
            let name = file_name(method, &params);
            log2.lock().expect("log lock").push(name.clone());
            for d in &dirs {
                let p = d.join(&name);
                if let Ok(text) = std::fs::read_to_string(&p) {
                    let mut v: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", p.display()));
                    v["id"] = id;
                    v["jsonrpc"] = json!("2.0");
                    return v;
                }
            }
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("no fixture {name}")}})
        };
        let server = Server::start(move |body| {
            let req: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return Reply::Send { status: 400, body: e.to_string().into_bytes(), content_length: None },
            };
            let resp = match &req {
                Value::Array(items) => Value::Array(items.iter().map(&answer).collect()),
                single => answer(single),
            };
            Reply::json(serde_json::to_vec(&resp).expect("serialise JSON"))
        });
        FixtureServer { server, log }
    }

    /// The server's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fixture file names asked for so far (found or not).
    pub fn requested(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_upstream_rule() {
        assert_eq!(
            file_name("eth_getBlockByNumber", &json!(["0xb872", true])),
            "web3_response.eth_getBlockByNumber_0xb872_true.json"
        );
        assert_eq!(
            file_name("debug_traceBlockByNumber", &json!(["0xf44f2", {"tracer": "callTracer"}])),
            "web3_response.debug_traceBlockByNumber_0xf44f2_tracer_calltracer.json"
        );
        assert_eq!(file_name("eth_chainId", &json!([])), "web3_response.eth_chainId_.json");
        assert_eq!(
            file_name("eth_call", &json!([{"to": "0xAB", "data": "0x313ce567"}, "latest"])),
            "web3_response.eth_call_data_0x313ce567_to_0xab_latest.json"
        );
    }
}
