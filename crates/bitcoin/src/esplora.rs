//! Esplora REST API source: the confirmed history of given addresses, turned into the same
//! [`BlockData`] rows as blocks from a node (per block, only the transactions fetched), so a
//! wallet can be traced without indexing the chain. The store keeps them with `put_unlinked`.
//!
//! Endpoints used (Blockstream's Esplora): `GET /address/:a/txs` (mempool first, then the
//! newest confirmed), `GET /address/:a/txs/chain/:last_seen_txid` (the next page),
//! `GET /block/:hash` and `GET /block/:hash/txids` (for the transaction's index in its block).

use std::{collections::HashMap, time::Duration};

use bitcoin::{Network, ScriptBuf};
use chaintrace_model::{BlockData, BlockRef, Hash32, Sensitive, UtxoOutput};
use serde::Deserialize;

use crate::{
    decode::{tx_rows, InputRef, TxRows},
    rpc::{self, Retry},
    script::script_address,
};

/// Why an Esplora request failed. Messages show the server without credentials.
#[derive(Debug, thiserror::Error)]
pub enum EsploraError {
    /// No HTTP answer (connection refused, reset, timed out).
    #[error("esplora {endpoint}{path}: cannot connect: {reason}")]
    Transport {
        /// The server, without credentials.
        endpoint: String,
        /// The API path requested.
        path: String,
        /// What the HTTP client reported.
        reason: String,
    },
    /// A non-success HTTP status.
    #[error("esplora {endpoint}{path}: HTTP {status}: {body}")]
    Http {
        /// The server, without credentials.
        endpoint: String,
        /// The API path requested.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// An answer that is not the expected JSON or block bytes.
    #[error("esplora {endpoint}{path}: unexpected answer: {detail}")]
    Decode {
        /// The server, without credentials.
        endpoint: String,
        /// The API path requested.
        path: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The base URL is not http(s) (shown without credentials).
    #[error("invalid esplora URL {0}: expected http(s)://host[:port][/path]")]
    Url(String),
    /// An address's history is longer than the client's page limit.
    #[error("esplora: address {address} has more than {max} pages of history; stopping")]
    TooManyPages {
        /// The address whose history was paged.
        address: String,
        /// The page limit.
        max: usize,
    },
    /// The server's transaction and block answers contradict each other.
    #[error("esplora: tx {txid} says block {block} but that block's txids do not list it")]
    NotInBlock {
        /// The transaction id, hex.
        txid: String,
        /// The block hash it claims, hex.
        block: String,
    },
}

impl EsploraError {
    /// Whether trying again can help: no connection, HTTP 5xx, 429 or 408.
    pub fn is_retryable(&self) -> bool {
        match self {
            EsploraError::Transport { .. } => true,
            EsploraError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }
}

/// Esplora's transaction JSON (the fields chaintrace reads).
#[derive(Clone, Debug, Deserialize)]
pub struct EsploraTx {
    /// Transaction id, hex.
    pub txid: String,
    /// Its inputs.
    pub vin: Vec<EsploraVin>,
    /// Its outputs.
    pub vout: Vec<EsploraVout>,
    /// Whether and where it is confirmed.
    pub status: EsploraStatus,
}

/// An input of an [`EsploraTx`].
#[derive(Clone, Debug, Deserialize)]
pub struct EsploraVin {
    /// The spent output's transaction id, hex.
    pub txid: String,
    /// The spent output's index.
    pub vout: u32,
    /// The spent output (absent for a coinbase input).
    #[serde(default)]
    pub prevout: Option<EsploraVout>,
    /// Whether this is a coinbase input.
    #[serde(default)]
    pub is_coinbase: bool,
}

/// An output of an [`EsploraTx`].
#[derive(Clone, Debug, Deserialize)]
pub struct EsploraVout {
    /// The output script, hex.
    pub scriptpubkey: String,
    /// Value in sats.
    pub value: u64,
}

/// Confirmation status of an [`EsploraTx`].
#[derive(Clone, Debug, Deserialize)]
pub struct EsploraStatus {
    /// Whether it is in a block.
    pub confirmed: bool,
    /// Height of that block.
    #[serde(default)]
    pub block_height: Option<u64>,
    /// Hash of that block, hex.
    #[serde(default)]
    pub block_hash: Option<String>,
    /// Time of that block, Unix seconds.
    #[serde(default)]
    pub block_time: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
struct EsploraBlock {
    id: String,
    height: u64,
    timestamp: u64,
    tx_count: u32,
    #[serde(default)]
    previousblockhash: Option<String>,
}

/// A blocking Esplora REST client (Blockstream, mempool.space or self-hosted), with retries.
pub struct EsploraClient {
    base: String,
    endpoint: String,
    agent: ureq::Agent,
    retry: Retry,
    /// Most history pages read per address (25 transactions a page on Blockstream's servers).
    pub max_pages: usize,
    blocks: HashMap<String, (EsploraBlock, Vec<String>)>,
}

impl EsploraClient {
    /// A client for the API base URL `url` (http or https, e.g. `https://blockstream.info/api`).
    pub fn new(url: &Sensitive) -> Result<Self, EsploraError> {
        let raw = url.expose().trim_end_matches('/');
        if !(raw.starts_with("http://") || raw.starts_with("https://")) {
            return Err(EsploraError::Url(url.redacted_url()));
        }
        let agent =
            ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).timeout(Duration::from_secs(60)).build();
        Ok(EsploraClient {
            base: raw.to_string(),
            endpoint: url.redacted_url(),
            agent,
            retry: Retry::default(),
            max_pages: 10_000,
            blocks: HashMap::new(),
        })
    }

    /// Use this retry policy instead of the default.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The server, without credentials (for messages).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn get_once<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, EsploraError> {
        let url = format!("{}{path}", self.base);
        let resp = match self.agent.get(&url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let body: String = r.into_string().unwrap_or_default().chars().take(200).collect();
                return Err(EsploraError::Http {
                    endpoint: self.endpoint.clone(),
                    path: path.to_string(),
                    status,
                    body: body.replace(['\n', '\r'], " "),
                });
            }
            Err(e) => {
                return Err(EsploraError::Transport {
                    endpoint: self.endpoint.clone(),
                    path: path.to_string(),
                    reason: rpc::transport_reason(&e),
                });
            }
        };
        resp.into_json::<T>().map_err(|e| EsploraError::Decode {
            endpoint: self.endpoint.clone(),
            path: path.to_string(),
            detail: e.to_string(),
        })
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, EsploraError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get_once(path) {
                Err(e) if e.is_retryable() && attempt < self.retry.attempts => {
                    let wait = self.retry.base * 2u32.saturating_pow(attempt - 1);
                    tracing::info!(endpoint = %self.endpoint, path, attempt, error = %e, "esplora fault, retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                other => return other,
            }
        }
    }

    /// The genesis block hash the server reports (`GET /block-height/0`, plain text).
    pub fn genesis(&self) -> Result<Hash32, EsploraError> {
        let path = "/block-height/0";
        let mut attempt = 0;
        let text = loop {
            attempt += 1;
            let r = match self.agent.get(&format!("{}{path}", self.base)).call() {
                Ok(r) => r.into_string().map_err(|e| EsploraError::Decode {
                    endpoint: self.endpoint.clone(),
                    path: path.into(),
                    detail: e.to_string(),
                }),
                Err(ureq::Error::Status(status, r)) => Err(EsploraError::Http {
                    endpoint: self.endpoint.clone(),
                    path: path.into(),
                    status,
                    body: r.into_string().unwrap_or_default().chars().take(200).collect(),
                }),
                Err(e) => Err(EsploraError::Transport {
                    endpoint: self.endpoint.clone(),
                    path: path.into(),
                    reason: rpc::transport_reason(&e),
                }),
            };
            match r {
                Err(e) if e.is_retryable() && attempt < self.retry.attempts => {
                    std::thread::sleep(self.retry.base * 2u32.saturating_pow(attempt - 1));
                }
                other => break other?,
            }
        };
        Hash32::parse(text.trim()).ok_or_else(|| EsploraError::Decode {
            endpoint: self.endpoint.clone(),
            path: path.into(),
            detail: "expected a block hash".into(),
        })
    }

    /// Every confirmed transaction of `address`, newest first, following the pages until an
    /// empty one.
    pub fn address_history(&self, address: &str) -> Result<Vec<EsploraTx>, EsploraError> {
        let mut out: Vec<EsploraTx> = Vec::new();
        let mut page: Vec<EsploraTx> = self.get(&format!("/address/{address}/txs"))?;
        let mut pages = 1;
        loop {
            let confirmed: Vec<EsploraTx> = page.into_iter().filter(|t| t.status.confirmed).collect();
            let Some(last) = confirmed.last().map(|t| t.txid.clone()) else { break };
            let before = out.len();
            for t in confirmed {
                if !out.iter().any(|o| o.txid == t.txid) {
                    out.push(t);
                }
            }
            if out.len() == before {
                break; // a server that repeats itself: nothing new
            }
            if pages >= self.max_pages {
                return Err(EsploraError::TooManyPages { address: address.to_string(), max: self.max_pages });
            }
            page = self.get(&format!("/address/{address}/txs/chain/{last}"))?;
            pages += 1;
        }
        Ok(out)
    }

    fn block(&mut self, hash: &str) -> Result<&(EsploraBlock, Vec<String>), EsploraError> {
        if !self.blocks.contains_key(hash) {
            let b: EsploraBlock = self.get(&format!("/block/{hash}"))?;
            let txids: Vec<String> = self.get(&format!("/block/{hash}/txids"))?;
            self.blocks.insert(hash.to_string(), (b, txids));
        }
        Ok(&self.blocks[hash])
    }

    /// Turn fetched transactions into per-block [`BlockData`] (only those transactions), in
    /// chain order. Unconfirmed transactions are skipped.
    pub fn to_block_data(&mut self, network: Network, txs: &[EsploraTx]) -> Result<Vec<BlockData>, EsploraError> {
        let mut by_block: std::collections::BTreeMap<(u64, String), Vec<&EsploraTx>> = Default::default();
        for t in txs.iter().filter(|t| t.status.confirmed) {
            let (Some(h), Some(hash)) = (t.status.block_height, t.status.block_hash.clone()) else { continue };
            let list = by_block.entry((h, hash)).or_default();
            if !list.iter().any(|x| x.txid == t.txid) {
                list.push(t);
            }
        }
        let endpoint = self.endpoint.clone();
        let bad = |path: String, detail: String| EsploraError::Decode { endpoint: endpoint.clone(), path, detail };
        let mut out = Vec::with_capacity(by_block.len());
        for ((height, hash), list) in by_block {
            let (b, txids) = self.block(&hash)?.clone();
            let block_hash = Hash32::parse(&b.id).ok_or_else(|| bad(format!("/block/{hash}"), "bad id".into()))?;
            let parent = match &b.previousblockhash {
                Some(p) => {
                    Hash32::parse(p).ok_or_else(|| bad(format!("/block/{hash}"), "bad previousblockhash".into()))?
                }
                None => Hash32::ZERO,
            };
            let mut data =
                BlockData::new(BlockRef { height: b.height.max(height), hash: block_hash, parent, time: b.timestamp });
            data.tx_count = b.tx_count;
            let mut indexed: Vec<(u32, &EsploraTx)> = Vec::with_capacity(list.len());
            for t in list {
                let i = txids
                    .iter()
                    .position(|x| *x == t.txid)
                    .ok_or_else(|| EsploraError::NotInBlock { txid: t.txid.clone(), block: hash.clone() })?;
                indexed.push((i as u32, t));
            }
            indexed.sort_by_key(|(i, _)| *i);
            for (tx_index, t) in indexed {
                let path = format!("/tx/{}", t.txid);
                let txid = Hash32::parse(&t.txid).ok_or_else(|| bad(path.clone(), "bad txid".into()))?;
                let coinbase = t.vin.iter().any(|v| v.is_coinbase);
                let mut inputs = Vec::with_capacity(t.vin.len());
                if !coinbase {
                    for v in &t.vin {
                        let prev =
                            v.prevout.as_ref().ok_or_else(|| bad(path.clone(), "input without prevout".into()))?;
                        let prev_txid =
                            Hash32::parse(&v.txid).ok_or_else(|| bad(path.clone(), "bad input txid".into()))?;
                        inputs.push(InputRef {
                            prev_txid,
                            prev_vout: v.vout,
                            prevout: Some(output_of(prev, prev_txid, v.vout, network, &path, &endpoint)?),
                        });
                    }
                }
                let outputs: Vec<UtxoOutput> = t
                    .vout
                    .iter()
                    .enumerate()
                    .map(|(i, o)| output_of(o, txid, i as u32, network, &path, &endpoint))
                    .collect::<Result<_, _>>()?;
                let rows = TxRows { txid, tx_index, height: data.block.height, time: data.block.time, coinbase };
                tx_rows(&rows, &inputs, outputs, &mut data);
            }
            out.push(data);
        }
        Ok(out)
    }
}

fn output_of(
    o: &EsploraVout,
    txid: Hash32,
    vout: u32,
    network: Network,
    path: &str,
    endpoint: &str,
) -> Result<UtxoOutput, EsploraError> {
    let script = hex::decode(&o.scriptpubkey).map_err(|e| EsploraError::Decode {
        endpoint: endpoint.to_string(),
        path: path.to_string(),
        detail: format!("scriptpubkey is not hex: {e}"),
    })?;
    let address = script_address(&ScriptBuf::from_bytes(script), network);
    Ok(UtxoOutput { txid, vout, address, value: o.value })
}
