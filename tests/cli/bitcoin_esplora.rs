//! `chaintrace ingest bitcoin --esplora URL --address ADDR…` against a local HTTP server that
//! replays Esplora responses built from the real mainnet block 277647 and its spent outputs
//! (`btcd/277647.prevouts.csv`), in the JSON shape Blockstream's Esplora returns. The oracle is
//! the same block decoded from its raw bytes with the same prevouts.

use crate::common;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    sync::Arc,
};

use chaintrace_bitcoin::{
    bitcoin::{self, Network, Script},
    parse_block, BlockDecoder, OutputMap,
};
use chaintrace_model::{Address, Hash32, UtxoOutput};
use common::Workdir;
use serde_json::{json, Value};

/// Transactions per history page. Blockstream's servers use 25; a smaller page makes the
/// client walk several pages on this one-block history.
const PAGE: usize = 2;

struct Esplora {
    txs: HashMap<String, Value>,
    /// address → txids, newest first.
    history: HashMap<String, Vec<String>>,
    block: Value,
    block_hash: String,
    txids: Vec<String>,
}

fn script_type(s: &Script) -> &'static str {
    if s.is_p2pkh() {
        "p2pkh"
    } else if s.is_p2sh() {
        "p2sh"
    } else if s.is_p2wpkh() {
        "v0_p2wpkh"
    } else if s.is_p2wsh() {
        "v0_p2wsh"
    } else if s.is_p2tr() {
        "v1_p2tr"
    } else if s.is_p2pk() {
        "p2pk"
    } else if s.is_op_return() {
        "op_return"
    } else {
        "unknown"
    }
}

fn vout_json(script: &Script, value: u64) -> Value {
    let mut v = json!({
        "scriptpubkey": hex::encode(script.as_bytes()),
        "scriptpubkey_asm": script.to_asm_string(),
        "scriptpubkey_type": script_type(script),
        "value": value,
    });
    if let Ok(a) = bitcoin::Address::from_script(script, Network::Bitcoin) {
        v["scriptpubkey_address"] = json!(a.to_string());
    }
    v
}

fn build() -> (Esplora, OutputMap, bitcoin::Block) {
    let data = common::shared_data().join("bitcoin-blocks/btcd");
    let framed = std::fs::read(data.join("277647.dat")).unwrap();
    let len = u32::from_le_bytes(framed[4..8].try_into().unwrap()) as usize;
    let block = parse_block(&framed[8..8 + len]).unwrap();
    let csv = std::fs::read_to_string(data.join("277647.prevouts.csv")).unwrap();
    let mut prevouts: HashMap<(String, u32), (bitcoin::ScriptBuf, u64)> = HashMap::new();
    let mut map = OutputMap::default();
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let script = bitcoin::ScriptBuf::from_bytes(hex::decode(c[7]).unwrap());
        let value: u64 = c[4].parse().unwrap();
        let vout: u32 = c[3].parse().unwrap();
        map.insert(UtxoOutput {
            txid: Hash32::parse(c[2]).unwrap(),
            vout,
            address: chaintrace_bitcoin::script_address(&script, Network::Bitcoin),
            value,
        });
        prevouts.insert((c[2].to_string(), vout), (script, value));
    }
    let hash = block.block_hash().to_string();
    let height = 277647u64;
    let time = block.header.time;
    let mut txs = HashMap::new();
    let mut history: HashMap<String, Vec<String>> = HashMap::new();
    let mut txids = Vec::new();
    for tx in &block.txdata {
        let txid = tx.compute_txid().to_string();
        txids.push(txid.clone());
        let mut touched = Vec::new();
        let vin: Vec<Value> = tx
            .input
            .iter()
            .map(|i| {
                if tx.is_coinbase() {
                    return json!({
                        "txid": i.previous_output.txid.to_string(), "vout": i.previous_output.vout,
                        "prevout": null, "scriptsig": hex::encode(i.script_sig.as_bytes()),
                        "scriptsig_asm": i.script_sig.to_asm_string(), "is_coinbase": true, "sequence": i.sequence.0,
                    });
                }
                let (script, value) = &prevouts[&(i.previous_output.txid.to_string(), i.previous_output.vout)];
                let prevout = vout_json(script, *value);
                if let Some(a) = prevout["scriptpubkey_address"].as_str() {
                    touched.push(a.to_string());
                }
                json!({
                    "txid": i.previous_output.txid.to_string(), "vout": i.previous_output.vout, "prevout": prevout,
                    "scriptsig": hex::encode(i.script_sig.as_bytes()), "scriptsig_asm": i.script_sig.to_asm_string(),
                    "is_coinbase": false, "sequence": i.sequence.0,
                })
            })
            .collect();
        let vout: Vec<Value> = tx
            .output
            .iter()
            .map(|o| {
                let v = vout_json(&o.script_pubkey, o.value.to_sat());
                if let Some(a) = v["scriptpubkey_address"].as_str() {
                    touched.push(a.to_string());
                }
                v
            })
            .collect();
        let in_sum: u64 = vin.iter().filter_map(|v| v["prevout"]["value"].as_u64()).sum();
        let out_sum: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        let size = bitcoin::consensus::serialize(tx).len();
        txs.insert(
            txid.clone(),
            json!({
                "txid": txid, "version": tx.version.0, "locktime": tx.lock_time.to_consensus_u32(),
                "vin": vin, "vout": vout, "size": size, "weight": tx.weight().to_wu(),
                "fee": if tx.is_coinbase() { 0 } else { in_sum - out_sum },
                "status": {"confirmed": true, "block_height": height, "block_hash": hash, "block_time": time},
            }),
        );
        touched.sort();
        touched.dedup();
        for a in touched {
            history.entry(a).or_default().insert(0, txid.clone()); // newest (highest index) first
        }
    }
    let block_json = json!({
        "id": hash, "height": height, "version": block.header.version.to_consensus(), "timestamp": time,
        "tx_count": block.txdata.len(), "size": bitcoin::consensus::serialize(&block).len(),
        "weight": block.weight().to_wu(), "merkle_root": block.header.merkle_root.to_string(),
        "previousblockhash": block.header.prev_blockhash.to_string(), "mediantime": time,
        "nonce": block.header.nonce, "bits": block.header.bits.to_consensus(), "difficulty": 1.0,
    });
    (Esplora { txs, history, block: block_json, block_hash: hash, txids }, map, block)
}

fn respond(e: &Esplora, path: &str) -> (u16, &'static str, String) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let json_ok = |v: &Value| (200, "application/json", v.to_string());
    let page = |list: &[String]| {
        let v: Vec<Value> = list.iter().take(PAGE).map(|t| e.txs[t].clone()).collect();
        (200, "application/json", Value::Array(v).to_string())
    };
    match parts.as_slice() {
        ["block-height", "0"] => {
            (200, "text/plain", "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f".to_string())
        }
        ["address", a, "txs"] => page(e.history.get(*a).map(Vec::as_slice).unwrap_or(&[])),
        ["address", a, "txs", "chain", last] => {
            let list = e.history.get(*a).map(Vec::as_slice).unwrap_or(&[]);
            match list.iter().position(|t| t == last) {
                Some(i) => page(&list[i + 1..]),
                None => (400, "text/plain", "Invalid hex string".into()),
            }
        }
        ["tx", t] => match e.txs.get(*t) {
            Some(v) => json_ok(v),
            None => (404, "text/plain", "Transaction not found".into()),
        },
        ["block", h] if *h == e.block_hash => json_ok(&e.block),
        ["block", h, "txids"] if *h == e.block_hash => json_ok(&json!(e.txids)),
        _ => (404, "text/plain", "Not Found".into()),
    }
}

/// Serve `e` on a free loopback port (one thread per connection); returns the base URL.
fn serve(e: Esplora) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let e = Arc::new(e);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, ctype, body) = respond(&e, &path);
                let reason = if status == 200 { "OK" } else { "Error" };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

#[test]
fn address_histories_from_esplora_match_the_block() {
    let (esplora, prevouts, block) = build();
    // The addresses with the longest histories in the block (several pages each).
    let mut by_len: Vec<(&String, usize)> = esplora.history.iter().map(|(a, l)| (a, l.len())).collect();
    by_len.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let picked: Vec<String> = by_len.iter().take(3).map(|(a, _)| a.to_string()).collect();
    assert!(by_len[0].1 > PAGE, "need an address spanning several pages: {by_len:?}");
    let url = serve(esplora);

    let w = Workdir::new();
    let mut args = vec!["ingest", "bitcoin", "--esplora", &url, "--address"];
    args.extend(picked.iter().map(String::as_str));
    let s = w.json(&args);
    assert_eq!(s["blocks"], 1);

    // Oracle: the raw block decoded with the same prevouts.
    let mut dec = BlockDecoder::new(Network::Bitcoin, prevouts);
    let data = dec.decode(&block, 277647).unwrap();
    for a in &picked {
        let addr = Address::Bitcoin(a.clone());
        let mut expect: Vec<(String, String, String, String)> = data
            .transfers
            .iter()
            .filter(|t| t.from == addr || t.to == addr)
            .map(|t| (t.tx.to_hex(), t.from.to_string(), t.to.to_string(), t.amount.to_string()))
            .collect();
        expect.sort();
        let got = w.json(&["transfers", a]);
        let mut got: Vec<(String, String, String, String)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["block"], 277647);
                let s = |k: &str| e[k].as_str().unwrap().to_string();
                (s("tx"), s("from"), s("to"), s("amount_raw"))
            })
            .collect();
        got.sort();
        assert!(!expect.is_empty());
        assert_eq!(got, expect, "transfers of {a}");
    }
    // Idempotent: fetching again stores nothing new.
    let again = w.json(&args);
    assert_eq!(again["transfers"], 0);

    // Wrong-network and malformed addresses are refused before any request.
    let err = w.fails(&["ingest", "bitcoin", "--esplora", &url, "--address", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"]);
    assert!(err.contains("not a mainnet address"), "{err}");
    let err = w.fails(&["ingest", "bitcoin", "--esplora", &url, "--address", "not-an-address"]);
    assert!(err.contains("not a Bitcoin address"), "{err}");
}
