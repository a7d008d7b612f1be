//! On-demand expansion of one address against anvil: token transfers from `eth_getLogs`
//! (split when the node refuses a range), native transfers via `trace_filter` or Otterscan.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chaintrace_evm::expand::{expand_address, ExpandOptions, NativeSource};
use chaintrace_evm::{EvmAdapter, EvmConfig};
use chaintrace_model::{Address, Asset, Sensitive};
use chaintrace_testkit::http::{self, Reply, Server};
use chaintrace_testkit::scenario::{self, ExpectedTransfer};
use chaintrace_testkit::{Anvil, Contracts};
use serde_json::{json, Value};

/// A proxy that refuses `eth_getLogs` over more than `max_range` blocks (like hosted nodes)
/// and, optionally, hides `trace_filter` (like an Erigon without the trace namespace).
fn picky_proxy(upstream: SocketAddr, max_range: u64, hide_trace_filter: bool, refused: Arc<AtomicU64>) -> Server {
    Server::start(move |body| {
        let req: Value = serde_json::from_slice(body).expect("JSON request");
        let single = |r: &Value| -> Option<Value> {
            let m = r["method"].as_str().unwrap_or("");
            if m == "eth_getLogs" {
                let q = |k: &str| {
                    u64::from_str_radix(r["params"][0][k].as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
                        .unwrap_or(0)
                };
                if q("toBlock") - q("fromBlock") + 1 > max_range {
                    refused.fetch_add(1, Ordering::Relaxed);
                    return Some(
                        json!({"jsonrpc":"2.0","id":r["id"],"error":{"code":-32005,"message":format!("query exceeds max block range {max_range}")}}),
                    );
                }
            }
            if hide_trace_filter && m == "trace_filter" {
                return Some(
                    json!({"jsonrpc":"2.0","id":r["id"],"error":{"code":-32601,"message":"the method trace_filter does not exist/is not available"}}),
                );
            }
            None
        };
        let answer = match &req {
            Value::Array(_) => None,
            r => single(r),
        };
        match answer {
            Some(v) => Reply::json(serde_json::to_vec(&v).unwrap()),
            None => match http::post(upstream, body, Duration::from_secs(30)) {
                Ok(r) => Reply::Send { status: r.status, body: r.body, content_length: None },
                Err(_) => Reply::Drop,
            },
        }
    })
}

fn as_expected(t: &chaintrace_model::Transfer) -> ExpectedTransfer {
    ExpectedTransfer {
        block: t.height,
        tx: format!("0x{}", t.tx),
        from: t.from.to_string(),
        to: t.to.to_string(),
        asset: match t.asset {
            Asset::Native => "ETH".into(),
            Asset::Token(c) => format!("0x{}", c.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            other @ (Asset::TronToken(_) | Asset::Trc10(_)) => panic!("the EVM adapter made a TRON asset {other:?}"),
        },
        amount: t.amount.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expansion_finds_exactly_the_transfers_of_an_address() {
    let anvil = Anvil::spawn();
    let sc = scenario::run(&anvil, &Contracts::compile());
    for (hide, source) in [(false, NativeSource::TraceFilter), (true, NativeSource::Otterscan)] {
        let refused = Arc::new(AtomicU64::new(0));
        let proxy = picky_proxy(anvil.addr(), 5, hide, refused.clone());
        let adapter = EvmAdapter::connect(&Sensitive::new(proxy.url()), EvmConfig::new("ethereum", Some(1)))
            .await
            .expect("connect");
        // Accounts with token, native, internal, self and zero-value transfers, and the forwarder.
        for who in [
            &sc.accounts[0],
            &sc.accounts[3],
            &sc.accounts[4],
            &sc.accounts[7],
            &sc.accounts[10],
            &sc.accounts[14],
            &sc.forwarder,
        ] {
            let addr = Address::parse_evm(who).unwrap();
            let opts = ExpandOptions { initial_range: 64, ..ExpandOptions::default() };
            let exp = expand_address(&adapter, &addr, &opts).await.unwrap_or_else(|e| panic!("expand {who}: {e}"));
            assert_eq!(exp.native, source);
            let mut got: Vec<_> = exp.blocks.iter().flat_map(|b| b.transfers.iter().map(as_expected)).collect();
            got.sort();
            let want: Vec<_> = sc.expected.iter().filter(|e| &e.from == who || &e.to == who).cloned().collect();
            assert_eq!(got, want, "{who} via {source:?}");
        }
        assert!(refused.load(Ordering::Relaxed) > 0, "the range splitting was exercised");
    }
}
