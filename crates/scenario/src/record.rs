//! Recording the JSON-RPC responses the EVM adapter asks for, and the recording file format.
//!
//! The [`Recorder`] is an HTTP proxy in front of anvil: every call (single or inside a batch)
//! is forwarded, and its result is kept under a canonical key of method and parameters. The
//! file is gzip-compressed JSON:
//!
//! ```text
//! {"format": "chaintrace-rpc-recording", "version": 1, "chain_id": 1,
//!  "calls": [{"method": "...", "params": [...], "result": ...} | {..., "error": {...}}]}
//! ```
//!
//! `chaintrace demo` serves it on a loopback port and answers each call by the same key
//! (object keys sorted, so the order a client writes them in does not matter).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaintrace_testkit::http::{post, Reply, Server};
use serde_json::{json, Value};

/// The `format` field of a recording.
pub const FORMAT: &str = "chaintrace-rpc-recording";

pub use chaintrace_evm::rpc::canonical_key;

type Calls = Arc<Mutex<BTreeMap<String, Value>>>;

/// A recording proxy in front of a JSON-RPC node.
pub struct Recorder {
    server: Server,
    calls: Calls,
}

impl Recorder {
    /// Start recording, forwarding to the node at `upstream`, on a free loopback port.
    pub fn start(upstream: SocketAddr) -> Recorder {
        let calls: Calls = Arc::new(Mutex::new(BTreeMap::new()));
        let calls2 = calls.clone();
        let server = Server::start(move |body: &[u8]| {
            let resp = match post(upstream, body, Duration::from_secs(120)) {
                Ok(r) => r,
                Err(_) => return Reply::Drop,
            };
            if let (Ok(req), Ok(res)) =
                (serde_json::from_slice::<Value>(body), serde_json::from_slice::<Value>(&resp.body))
            {
                let reqs = match req {
                    Value::Array(a) => a,
                    one => vec![one],
                };
                let resps = match res {
                    Value::Array(a) => a,
                    one => vec![one],
                };
                let mut m = calls2.lock().expect("recorder lock");
                for r in &reqs {
                    let Some(method) = r["method"].as_str() else { continue };
                    let params = r.get("params").cloned().unwrap_or(json!([]));
                    if let Some(answer) = resps.iter().find(|x| x.get("id") == r.get("id")) {
                        let mut entry = json!({"method": method, "params": params});
                        if let Some(e) = answer.get("error") {
                            entry["error"] = e.clone();
                        } else {
                            entry["result"] = answer.get("result").cloned().unwrap_or(Value::Null);
                        }
                        m.insert(canonical_key(method, &entry["params"]), entry);
                    }
                }
            }
            Reply::Send { status: resp.status, body: resp.body, content_length: None }
        });
        Recorder { server, calls }
    }

    /// The proxy's URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The recorded calls, in key order (stable file contents).
    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().expect("recorder lock").values().cloned().collect()
    }
}

/// Write a gzip-compressed recording.
pub fn write_recording(path: &Path, chain_id: u64, calls: Vec<Value>) -> std::io::Result<u64> {
    let doc = json!({"format": FORMAT, "version": 1, "chain_id": chain_id, "calls": calls});
    let text = serde_json::to_vec(&doc)?;
    let tmp = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp)?;
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
    gz.write_all(&text)?;
    gz.finish()?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(std::fs::metadata(path)?.len())
}

/// Read a recording back (for checks).
pub fn read_recording(path: &Path) -> std::io::Result<Value> {
    let f = std::fs::File::open(path)?;
    let v: Value = serde_json::from_reader(flate2::read::GzDecoder::new(f))?;
    Ok(v)
}
