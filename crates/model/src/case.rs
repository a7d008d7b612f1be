//! The case file (SPEC "Case file", version 2 of SPEC "Version 2"): what a trace found, in a
//! form that exporters and other tools read without the store.
//!
//! Version 2 adds the chain of every node, edge and deposit, and the kind of every edge
//! (`transfer`, `swap`, `bridge`) with a swap's `asset_in`/`asset_out` and amounts and a
//! bridge's `chain_from`/`chain_to`. Version 1 files still read: their one chain becomes every
//! node's, edge's and deposit's, and every edge is a transfer; a file read is always held (and
//! written back) as version 2.
//!
//! This module is the one codec for case files: [`CaseFile::from_json_bytes`] (and
//! [`CaseFile::from_json_str`]) read one, checking its version first, and
//! [`CaseFile::to_json`] writes the canonical text. `trace --out`, `deposits` and `export` all go
//! through it. No I/O happens here: callers read and write the bytes (atomically, with
//! `chaintrace_export::atomic`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a case file's pretty text ends when its three arrays are empty (they are its last
/// fields): the head [`CaseFile::write_json_with`] writes before them, and the rest of a head
/// read from a file's start ([`CaseFile::head_from_json_start`]).
const EMPTY_ARRAYS: &str = "\n  \"nodes\": [],\n  \"edges\": [],\n  \"deposits\": []\n}";

/// The case file version this code writes (it also reads version 1).
pub const CASE_VERSION: u32 = 2;

/// What kind of movement a case edge is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A transfer between two addresses (every edge of a version 1 file).
    #[default]
    Transfer,
    /// A conversion by one owner (`from` = `to`) of `asset_in` into `asset_out` in one
    /// transaction: a DEX swap, a wrap or an unwrap. Does not add a hop.
    Swap,
    /// A bridge deposit on `chain_from` released to `to` on `chain_to` (`chain_to` null: no
    /// release found; `to` is the bridge contract). Does not add a hop.
    Bridge,
}

impl EdgeKind {
    /// `transfer`, `swap` or `bridge`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EdgeKind::Transfer => "transfer",
            EdgeKind::Swap => "swap",
            EdgeKind::Bridge => "bridge",
        }
    }
}

/// What an address is in a trace; a labelled pooling address (exchange, service) is not expanded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An address the trace started from.
    Seed,
    /// An unlabelled address the traced funds passed through and that was expanded.
    Intermediate,
    /// An address labelled `exchange_deposit`: traced funds entering it are reported as deposits.
    ExchangeDeposit,
    /// An address labelled as an exchange's own wallet.
    Exchange,
    /// An address of another pooling category (service, mixer, bridge, DEX, OTC desk).
    Service,
    /// Not expanded: a hub, or a limit was reached (`stop_reason` says which).
    Stop,
    /// A bridge contract that received traced funds whose release on another chain the walk
    /// did not find (an unmatched deposit): the trail stops here.
    Bridge,
}

impl Role {
    /// The snake_case name used in the case file (`seed`, `exchange_deposit`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Seed => "seed",
            Role::Intermediate => "intermediate",
            Role::ExchangeDeposit => "exchange_deposit",
            Role::Exchange => "exchange",
            Role::Service => "service",
            Role::Stop => "stop",
            Role::Bridge => "bridge",
        }
    }
}

/// One label of a case node, as the store held it when the trace ran.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NodeLabel {
    /// The label category's snake_case name (`sanctioned`, `exchange`, …).
    pub category: String,
    /// Who the address belongs to, as the source names it.
    pub entity: String,
    /// Where the label came from (`ofac`, a TagPack, a CSV file's source).
    pub source: String,
}

/// An address the trace reached.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseNode {
    /// The address as the chain's users write it.
    pub address: String,
    /// The chain the address is on (the same EVM key on two chains is two nodes).
    #[serde(default)]
    pub chain: String,
    /// Fewest hops from a seed to this address (0 for a seed).
    pub hop: u32,
    /// What the address is in the trace.
    pub role: Role,
    /// Every label the store holds for the address.
    pub labels: Vec<NodeLabel>,
    /// Why a `stop` node was not expanded (`hops`, `hub`, `min_amount`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Bitcoin: the entity cluster the address belongs to, when clustering has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// A transfer that carried traced funds.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CaseEdge {
    /// Sending address, as the chain's users write it.
    pub from: String,
    /// Receiving address, as the chain's users write it.
    pub to: String,
    /// The chain of the transaction (a bridge edge: the source chain).
    #[serde(default)]
    pub chain: String,
    /// `transfer`, `swap` or `bridge`.
    #[serde(default)]
    pub kind: EdgeKind,
    /// Transaction hash (`0x`-prefixed on EVM chains).
    pub tx: String,
    /// Block height.
    pub block: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Native symbol (`BTC`, `ETH`) or the token contract in lower-case hex.
    pub asset: String,
    /// The asset's ticker when known (token metadata, or the native symbol).
    pub symbol: Option<String>,
    /// Exact decimal in the asset's units.
    pub amount: String,
    /// Integer base units, as a decimal string (256-bit values do not fit JSON numbers).
    pub amount_raw: String,
    /// The traced part of `amount`, exact decimal in the asset's units.
    pub traced_amount: String,
    /// USD value of `traced_amount` at the transfer's day; `null` when no price is known.
    #[serde(default)]
    pub usd: Option<String>,
    /// Where `usd` came from (SPEC v2 "USD"): `table:FILE` (the `--prices` table),
    /// `feed:0xAGGREGATOR:ROUND` (an on-chain Chainlink round), `shipped` (the daily table built
    /// into the binary) or `peg` (a stablecoin no source prices that day, at 1.00); `None` when
    /// `usd` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_source: Option<String>,
    /// Swap: what the owner gave (native symbol or token contract, as `asset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_in: Option<String>,
    /// Swap: what the owner received (the edge's `asset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_out: Option<String>,
    /// Swap: the ticker of `asset_in` when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_in: Option<String>,
    /// Swap: how much the owner gave, exact decimal in `asset_in`'s units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_in: Option<String>,
    /// Swap: how much the owner received (the edge's `amount`); bridge: how much was released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_out: Option<String>,
    /// Swap: the traced part of `amount_in`; bridge: of the released amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced_in: Option<String>,
    /// Swap: how the conversion was recognised (`uniswap_v2`, `net_flow`, `wrap` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Swap: the pool or wrapper contract; bridge: the bridge contract of the deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
    /// Bridge: the chain the funds left (the edge's `chain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_from: Option<String>,
    /// Bridge: the chain they were released on; absent for an unmatched deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_to: Option<String>,
    /// Bridge: the release transaction on `chain_to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_tx: Option<String>,
    /// Bridge: the asset released on `chain_to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_asset: Option<String>,
}

impl CaseEdge {
    /// The chain of the receiving end: `chain_to` for a matched bridge, else `chain`.
    pub fn to_chain(&self) -> &str {
        match (&self.kind, &self.chain_to) {
            (EdgeKind::Bridge, Some(c)) => c,
            _ => &self.chain,
        }
    }
}

/// Traced funds entering an exchange deposit address: the report investigators subpoena from.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseDeposit {
    /// The deposit address.
    pub address: String,
    /// The chain of the deposit address.
    #[serde(default)]
    pub chain: String,
    /// The exchange the deposit address belongs to.
    pub exchange: String,
    /// Native symbol or the token contract in lower-case hex, as in [`CaseEdge::asset`].
    pub asset: String,
    /// The asset's ticker when known.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Traced amount that entered the deposit address, exact decimal.
    pub amount: String,
    /// USD value of `amount` at the transfer's day; `None` when no price is known.
    pub usd: Option<String>,
    /// Where `usd` came from, as [`CaseEdge::usd_source`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_source: Option<String>,
    /// Hash of the transaction that entered the deposit address (`0x`-prefixed on EVM chains).
    pub tx: String,
    /// Block height of that transaction.
    pub block: u64,
    /// Block time, RFC 3339 UTC.
    pub time: String,
    /// Hops from the seed to the deposit address.
    pub hops: u32,
    /// The seed the funds came from.
    pub seed: String,
    /// Addresses from the seed to the deposit address, both included.
    pub path: Vec<String>,
}

/// Every parameter of a trace, recorded so the case can be reproduced.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TraceParams {
    /// `forward` (where funds went) or `backward` (where they came from).
    pub direction: String,
    /// Largest number of hops followed from a seed.
    pub hops: u32,
    /// Taint policy: `poison`, `haircut` or `fifo`.
    pub policy: String,
    /// Smallest traced amount followed, exact decimal in the asset's units; `None` for no minimum.
    pub min_amount: Option<String>,
    /// The one asset traced (native symbol or token contract); `None` for every asset.
    pub asset: Option<String>,
    /// Lower time bound as given (`--since`: a height or a date); `None` when unbounded.
    pub since: Option<String>,
    /// Upper time bound as given (`--until`); `None` when unbounded.
    pub until: Option<String>,
    /// The label the seeds were selected by, when they were.
    pub seeds_label: Option<String>,
    /// Unlabelled addresses with more transfers than this are reported as stops.
    pub hub_degree: u64,
}

/// What makes a case reproducible: the state it was computed from.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// Version of the chaintrace that ran the trace.
    pub tool_version: String,
    /// Chain name → `{height, hash}` of the store's tip when the trace ran.
    pub store_tips: BTreeMap<String, TipRef>,
    /// Hash of the label set the trace saw.
    pub labels_hash: String,
    /// Price table file the USD values came from, if any.
    #[serde(default)]
    pub prices: Option<String>,
    /// Every price source the valuation could draw on (the `--prices` table, on-chain feeds,
    /// the shipped table), with what identifies it; empty in files written before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_sources: Vec<PriceSourceRef>,
}

/// One price source of a case's valuation, named so it can be checked.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PriceSourceRef {
    /// `table` (the `--prices` file), `feed` (an on-chain aggregator) or `shipped`.
    pub kind: String,
    /// The table's file name, the aggregator's address, or the shipped table's source.
    pub name: String,
    /// SHA-256 (hex) of a table's CSV text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A feed's chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// A feed's price symbol (`ETH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// How many rounds of a feed the store held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<u64>,
}

/// A block a store's tip pointed at.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TipRef {
    /// Block height.
    pub height: u64,
    /// Block hash in hex, as the chain displays it.
    pub hash: String,
}

/// What a trace found, version [`CASE_VERSION`]: read and written only with
/// [`CaseFile::from_json_bytes`] and [`CaseFile::to_json`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CaseFile {
    /// Always [`CASE_VERSION`].
    pub version: u32,
    /// The chain's name in the configuration; a walk over several chains names them all,
    /// comma-separated in the order of `chains`.
    pub chain: String,
    /// Every chain the walk covered, by name (one for a single-chain trace; version 1 files:
    /// `chain`).
    #[serde(default)]
    pub chains: Vec<String>,
    /// The addresses the trace started from.
    pub seeds: Vec<String>,
    /// The trace's parameters.
    pub params: TraceParams,
    /// The state the trace was computed from.
    pub provenance: Provenance,
    /// Every address reached, sorted by hop then address so reruns are byte-identical.
    pub nodes: Vec<CaseNode>,
    /// Every transfer that carried traced funds, in chain order.
    pub edges: Vec<CaseEdge>,
    /// Traced funds that entered exchange deposit addresses.
    pub deposits: Vec<CaseDeposit>,
}

/// Why bytes could not be read as a case file.
#[derive(Debug, thiserror::Error)]
pub enum CaseDecodeError {
    /// The bytes are not JSON at all (a syntax error or a truncated file). The source says
    /// what was found and where.
    #[error("malformed JSON")]
    Malformed {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON has no numeric top-level `version`.
    #[error("no numeric \"version\" field at the top level: not a chaintrace case file")]
    NoVersion,
    /// A version this code does not read.
    #[error("unsupported case file version {found} (this chaintrace reads versions 1 and {CASE_VERSION})")]
    UnsupportedVersion {
        /// The file's `version`.
        found: u64,
    },
    /// Valid JSON of the right version whose shape is not a case file's (a missing or
    /// mistyped field); the source names the field and where.
    #[error("not a version {version} case file")]
    Shape {
        /// The file's version.
        version: u32,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The JSON parser's error (names the field).
        #[source]
        source: serde_json::Error,
    },
}

impl CaseDecodeError {
    fn from_json(source: serde_json::Error, version: u32) -> Self {
        let (line, column) = (source.line(), source.column());
        if source.is_data() {
            CaseDecodeError::Shape { version, line, column, source }
        } else {
            CaseDecodeError::Malformed { line, column, source }
        }
    }
}

impl CaseFile {
    /// Read a case file from its bytes.
    ///
    /// Bytes that are not UTF-8 (a label file in Latin-1 that reached the case file, say) are
    /// decoded lossily to U+FFFD instead of rejecting the file, and a leading byte-order mark
    /// is skipped. The version is checked before the shape, so a file from a newer chaintrace
    /// says so instead of naming a field it does not know.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<CaseFile, CaseDecodeError> {
        CaseFile::from_json_str(&String::from_utf8_lossy(bytes))
    }

    /// Read a case file from text; see [`CaseFile::from_json_bytes`].
    pub fn from_json_str(text: &str) -> Result<CaseFile, CaseDecodeError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // the version alone first (the rest is skipped unread: a wide case file is hundreds of
        // MB, which a `serde_json::Value` would hold again beside the case)
        let probe: VersionProbe =
            serde_json::from_str(text).map_err(|e| CaseDecodeError::from_json(e, CASE_VERSION))?;
        let version = match probe.0 {
            Some(1) => 1,
            Some(v) if v == u64::from(CASE_VERSION) => CASE_VERSION,
            Some(found) => return Err(CaseDecodeError::UnsupportedVersion { found }),
            None => return Err(CaseDecodeError::NoVersion),
        };
        // Deserialising from the text again (not from `value`) keeps line and column in errors.
        let mut case: CaseFile = serde_json::from_str(text).map_err(|e| CaseDecodeError::from_json(e, version))?;
        if version == 1 {
            case.upgrade_v1();
        }
        Ok(case)
    }

    /// The head of a case file (everything but its nodes, edges and deposits, which come back
    /// empty) from the file's first bytes, `start`, when they hold all of it: a case file as
    /// [`CaseFile::write_json`] writes it has its three arrays last, each on a line of its own
    /// starting `  "nodes": [` and so on (a newline byte occurs nowhere inside a JSON string,
    /// so the first such line is the array's). `None` when `start` ends before the nodes begin
    /// or the text is laid out otherwise: read the whole file then.
    pub fn head_from_json_start(start: &[u8]) -> Option<Result<CaseFile, CaseDecodeError>> {
        const NODES: &[u8] = b"\n  \"nodes\": [";
        let at = start.windows(NODES.len()).position(|w| w == NODES)?;
        let head = String::from_utf8_lossy(&start[..at]);
        // the head ends with the comma after the field before the nodes
        head.trim_end().ends_with(',').then(|| CaseFile::from_json_str(&(head.into_owned() + EMPTY_ARRAYS)))
    }

    /// Whether `bytes` are laid out as [`CaseFile::write_json`] of this version writes a case
    /// file, checked without building anything: UTF-8, [`CASE_VERSION`] on its first line,
    /// well-formed JSON to its end, ending with the top-level object's `}` and a newline.
    /// (Its content is not checked; reading it checks that.)
    pub fn has_current_layout(bytes: &[u8]) -> bool {
        let first = format!("{{\n  \"version\": {CASE_VERSION},\n");
        bytes.starts_with(first.as_bytes())
            && bytes.ends_with(b"}\n")
            && std::str::from_utf8(bytes).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    }

    /// The case in `bytes` without its nodes and edges (both come back empty): its head and
    /// its deposits, for a reader that needs no more (`chaintrace deposits`). A case file of
    /// [`CaseFile::has_current_layout`] is read from its start up to its nodes
    /// ([`CaseFile::head_from_json_start`]) and from its last array, the deposits, to its end
    /// (a wide case's nodes and edges, 90% of its bytes, are checked as JSON and not built);
    /// any other text is read whole, with [`CaseFile::from_json_bytes`]'s errors.
    pub fn without_graph_from_json_bytes(bytes: &[u8]) -> Result<CaseFile, CaseDecodeError> {
        const DEPOSITS: &[u8] = b"\n  \"deposits\": [";
        let tail = || -> Option<Result<CaseFile, CaseDecodeError>> {
            if !CaseFile::has_current_layout(bytes) {
                return None;
            }
            let mut head = match CaseFile::head_from_json_start(bytes)? {
                Ok(head) => head,
                Err(e) => return Some(Err(e)),
            };
            // the last line of its kind: a newline byte occurs in no JSON string, and the
            // deposits are the top-level object's last field
            let at = bytes.windows(DEPOSITS.len()).rposition(|w| w == DEPOSITS)? + DEPOSITS.len() - 1;
            let mut de = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<Vec<CaseDeposit>>();
            // (damaged: read whole, for an error with the file's line and column)
            let deposits = de.next()?.ok()?;
            // only the top-level object's end after them
            let rest = &bytes[at + de.byte_offset()..];
            if rest.iter().filter(|b| !b.is_ascii_whitespace()).ne([b'}'].iter()) {
                return None;
            }
            head.deposits = deposits;
            Some(Ok(head))
        };
        match tail() {
            Some(case) => case,
            None => {
                let mut case = CaseFile::from_json_bytes(bytes)?;
                case.nodes = Vec::new();
                case.edges = Vec::new();
                Ok(case)
            }
        }
    }

    /// A version 1 case in version 2 terms: its one chain is every node's, edge's and
    /// deposit's, and every edge is a transfer (the default of `kind`).
    fn upgrade_v1(&mut self) {
        self.version = CASE_VERSION;
        let chain = self.chain.clone();
        if self.chains.is_empty() {
            self.chains = vec![chain.clone()];
        }
        for n in &mut self.nodes {
            if n.chain.is_empty() {
                n.chain = chain.clone();
            }
        }
        for e in &mut self.edges {
            if e.chain.is_empty() {
                e.chain = chain.clone();
            }
        }
        for d in &mut self.deposits {
            if d.chain.is_empty() {
                d.chain = chain.clone();
            }
        }
    }

    /// The canonical text of the case file: pretty JSON (two-space indent, fields in the
    /// order this module declares them, maps sorted by key) and a trailing newline. The same
    /// case always gives the same bytes, and reading them back and writing again changes
    /// nothing.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        // Writing into memory cannot fail, and every map in a case file has string keys and
        // every type derives `Serialize`, so serialisation cannot fail either.
        self.write_json(&mut out).expect("a case file always serialises to JSON");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// The bytes of [`CaseFile::to_json`], written to `w` as they are made (a case file of a
    /// wide trace is tens of MB: it need not be held in memory twice). Errors are `w`'s.
    pub fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_json_with(&self.edges, w)
    }

    /// The bytes of [`CaseFile::to_json`] of this case with its `edges` replaced by `edges`
    /// (its own are not written): the `trace` command renders a wide trace's edges where they
    /// are written, a chunk at a time, instead of holding them all as strings first.
    ///
    /// A wide case's nodes, edges and deposits (at 10M transfers a poison trace's case file is
    /// ~58 MB, 70% of it edges) are formatted on both cores, in chunks, each element at the
    /// depth the pretty printer would reach it; the rest of the file is serde_json's own
    /// pretty output with those three arrays empty, which ends with them.
    pub fn write_json_with(&self, edges: &dyn Elements<CaseEdge>, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        use std::io::Write as _;
        // serde_json writes a few bytes at a time; buffered here, in a writer of a concrete type,
        // each is a copy instead of a call through `dyn Write` (a 59 MB case file: ~6% of a
        // cold `chaintrace trace` was those calls)
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
        let wide = self.nodes.len() + edges.count() + self.deposits.len() >= pretty::WIDE;
        let head = CaseFile {
            version: self.version,
            chain: self.chain.clone(),
            chains: self.chains.clone(),
            seeds: self.seeds.clone(),
            params: self.params.clone(),
            provenance: self.provenance.clone(),
            nodes: Vec::new(),
            edges: Vec::new(),
            deposits: Vec::new(),
        };
        let mut text = serde_json::to_vec_pretty(&head).map_err(std::io::Error::from)?;
        // the three arrays are the struct's last fields: its text ends with them, empty
        if !text.ends_with(EMPTY_ARRAYS.as_bytes()) {
            return Err(std::io::Error::other("case file: the pretty printer's layout changed"));
        }
        text.truncate(text.len() - EMPTY_ARRAYS.len());
        buf.write_all(&text)?;
        pretty::write_arrays(&mut buf, &self.nodes, edges, &self.deposits, wide && pretty::cores() >= 2)?;
        buf.write_all(b"}\n")?;
        buf.flush()
    }
}

/// The elements of one of a case file's arrays, by index: a vector's, or ones made when they
/// are written ([`CaseFile::write_json_with`]).
pub trait Elements<T>: Sync {
    /// How many elements.
    fn count(&self) -> usize;
    /// Calls `f` with each of the elements `range`, in order; stops at `f`'s first error.
    fn each(&self, range: std::ops::Range<usize>, f: &mut dyn FnMut(&T) -> std::io::Result<()>) -> std::io::Result<()>;
}

impl<T: Sync> Elements<T> for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }

    fn each(&self, range: std::ops::Range<usize>, f: &mut dyn FnMut(&T) -> std::io::Result<()>) -> std::io::Result<()> {
        self[range].iter().try_for_each(f)
    }
}

/// Append `value`'s JSON as `serde_json::to_writer_pretty` writes it when it is `depth` levels
/// inside a document (two spaces a level): its inner lines indented that much deeper, its first
/// line left for the caller to begin (after a key, or a newline and the indent). Case files
/// write their elements this way, a chunk at a time; so do exports that write one element at a
/// time into a larger pretty document.
pub fn pretty_json_at<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, depth: usize) -> std::io::Result<()> {
    pretty::element(out, value, depth)
}

/// The top-level `version` of a JSON text when it is an object whose `version` is an unsigned
/// integer; `None` for any other JSON value. Everything else is read past without being kept.
struct VersionProbe(Option<u64>);

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VersionProbe;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VersionProbe, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "version" {
                        // the last one counts, as in a `serde_json::Value`
                        version = map.next_value::<serde_json::Value>()?.as_u64();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(VersionProbe(version))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VersionProbe, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(VersionProbe(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }

            fn visit_str<E>(self, _: &str) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }

            fn visit_unit<E>(self) -> Result<VersionProbe, E> {
                Ok(VersionProbe(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A case file's arrays formatted as `serde_json::to_writer_pretty` formats them inside the
/// file (two-space indent), on two threads.
mod pretty {
    use std::collections::BTreeMap;
    use std::io::{self, Write};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use serde::Serialize;
    use serde_json::ser::{CompactFormatter, Formatter};

    use super::Elements;
    use std::ops::Range;

    /// Below this many elements in all, one thread formats the whole file.
    pub(super) const WIDE: usize = 4096;
    /// Elements per chunk a thread takes at a time.
    const CHUNK: usize = 2048;

    pub(super) fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    /// serde_json's `PrettyFormatter` (two spaces), starting at `depth` levels in.
    struct Indented {
        depth: usize,
        has_value: bool,
    }

    impl Indented {
        fn indent<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
            for _ in 0..self.depth {
                w.write_all(b"  ")?;
            }
            Ok(())
        }

        /// `[` or `{`: one level in, nothing in it yet.
        fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
            self.depth += 1;
            self.has_value = false;
            w.write_all(bracket)
        }

        /// `]` or `}`: on a line of its own after any content.
        fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
            self.depth -= 1;
            if self.has_value {
                w.write_all(b"\n")?;
                self.indent(w)?;
            }
            w.write_all(bracket)
        }

        /// An element or key on a new line, after a comma but for the first.
        fn next<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
            w.write_all(if first { b"\n" } else { b",\n" })?;
            self.indent(w)
        }
    }

    impl Formatter for Indented {
        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.open(w, b"[")
        }

        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.close(w, b"]")
        }

        fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
            self.next(w, first)
        }

        fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
            self.has_value = true;
            Ok(())
        }

        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.open(w, b"{")
        }

        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.close(w, b"}")
        }

        fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
            self.next(w, first)
        }

        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            w.write_all(b": ")
        }

        fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
            self.has_value = true;
            Ok(())
        }

        fn write_byte_array<W: ?Sized + Write>(&mut self, w: &mut W, value: &[u8]) -> io::Result<()> {
            // (not used by a case file; as serde_json's pretty printer writes one)
            CompactFormatter.write_byte_array(w, value)
        }
    }

    /// One chunk of an array's elements, `range`, as they appear inside the file's top-level
    /// object (each element on a new line at depth 2, after a comma but for the array's first).
    fn chunk<T: Serialize>(items: &dyn Elements<T>, range: Range<usize>) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(range.len() * 256);
        let mut first = range.start == 0;
        items.each(range, &mut |x| {
            out.extend_from_slice(if first { b"\n    " } else { b",\n    " });
            first = false;
            element(&mut out, x, 2)
        })?;
        Ok(out)
    }

    /// `x`'s pretty text as the pretty printer writes it `depth` levels into a document (its
    /// inner lines indented `depth` levels deeper; its first line is the caller's to begin).
    pub(super) fn element<T: Serialize + ?Sized>(out: &mut Vec<u8>, x: &T, depth: usize) -> io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(out, Indented { depth, has_value: false });
        x.serialize(&mut ser).map_err(io::Error::from)
    }

    /// The three arrays as the last fields of the file's top-level object (`"nodes": [...],`
    /// and so on, each element on its own line at depth 2), written to `out` in order, in
    /// chunks. With `two_threads` both format chunks, taken in turn; the second hands its chunks
    /// over a bounded channel and this one writes every chunk as soon as those before it are
    /// written, so only a few chunks' text is held at a time, not the file's.
    pub(super) fn write_arrays<W: Write, A: Serialize, B: Serialize, C: Serialize>(
        out: &mut W,
        a: &dyn Elements<A>,
        b: &dyn Elements<B>,
        c: &dyn Elements<C>,
        two_threads: bool,
    ) -> io::Result<()> {
        const NAMES: [&str; 3] = ["nodes", "edges", "deposits"];
        let lens = [a.count(), b.count(), c.count()];
        // (array, first element) of every chunk, in the file's order
        let jobs: Vec<(usize, usize)> =
            lens.iter().enumerate().flat_map(|(k, &n)| (0..n.div_ceil(CHUNK)).map(move |j| (k, j * CHUNK))).collect();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let format = |j: usize| -> io::Result<Vec<u8>> {
            let (k, from) = jobs[j];
            let range = from..lens[k].min(from + CHUNK);
            match k {
                0 => chunk(a, range),
                1 => chunk(b, range),
                _ => chunk(c, range),
            }
        };
        // array `k`'s key and opening bracket; an empty one's closing bracket too
        let begin = |out: &mut W, k: usize| -> io::Result<()> {
            write!(out, "\n  \"{}\": [", NAMES[k])?;
            if lens[k] == 0 {
                out.write_all(if k == 2 { b"]\n" } else { b"]," })?;
            }
            Ok(())
        };
        // arrays begun: job `want`'s text goes after every array's start up to its own, and
        // ends its array when it is the last chunk
        let mut begun = 0;
        let mut put = |out: &mut W, want: usize, text: &[u8]| -> io::Result<()> {
            let (k, from) = jobs[want];
            // the arrays before this one that have no elements, then this one's start
            while begun <= k {
                begin(out, begun)?;
                begun += 1;
            }
            out.write_all(text)?;
            if from + CHUNK >= lens[k] {
                out.write_all(if k == 2 { b"\n  ]\n" } else { b"\n  ]," })?;
            }
            Ok(())
        };
        if !two_threads {
            for j in 0..jobs.len() {
                put(out, j, &format(j)?)?;
            }
        } else {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, io::Result<Vec<u8>>)>(4);
            std::thread::scope(|s| {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= jobs.len() || tx.send((j, format(j))).is_err() {
                            break;
                        }
                    }
                });
                let written = (|| -> io::Result<()> {
                    // chunks formatted and not yet written, by job
                    let mut ready: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
                    for want in 0..jobs.len() {
                        let text = loop {
                            if let Some(t) = ready.remove(&want) {
                                break t;
                            }
                            // the helper's finished chunks first, then one more of our own, else wait
                            if let Ok((j, t)) = rx.try_recv() {
                                ready.insert(j, t?);
                                continue;
                            }
                            let j = next.fetch_add(1, Ordering::Relaxed);
                            if j < jobs.len() {
                                let t = format(j)?;
                                ready.insert(j, t);
                            } else {
                                let (j, t) = rx.recv().map_err(|_| io::Error::other("case file: a chunk was lost"))?;
                                ready.insert(j, t?);
                            }
                        };
                        put(out, want, &text)?;
                    }
                    Ok(())
                })();
                stop.store(true, Ordering::Relaxed);
                drop(rx);
                written
            })?;
        }
        // the empty arrays after the last element
        while begun < 3 {
            begin(out, begun)?;
            begun += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = r#"{"version": 1, "chain": "bitcoin", "seeds": [],
        "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": null,
                   "asset": null, "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
        "provenance": {"tool_version": "0", "store_tips": {}, "labels_hash": ""},
        "nodes": [], "edges": [], "deposits": []}"#;

    fn sample() -> CaseFile {
        let mut c = CaseFile::from_json_str(EMPTY).unwrap();
        c.seeds = vec!["bc1qseed".into()];
        c.provenance.store_tips.insert("zeta".into(), TipRef { height: 9, hash: "ff".into() });
        c.provenance.store_tips.insert("alpha".into(), TipRef { height: 1, hash: "00".into() });
        c.nodes.push(CaseNode {
            address: "bc1qseed".into(),
            chain: "bitcoin".into(),
            hop: 0,
            role: Role::Seed,
            labels: vec![NodeLabel { category: "sanctioned".into(), entity: "X \"Y\"".into(), source: "ofac".into() }],
            stop_reason: None,
            cluster: Some("c1".into()),
        });
        c.edges.push(CaseEdge {
            from: "bc1qseed".into(),
            to: "bc1qnext".into(),
            chain: "bitcoin".into(),
            kind: EdgeKind::Transfer,
            tx: "aa".into(),
            block: 7,
            time: "2024-01-01T00:00:00Z".into(),
            asset: "BTC".into(),
            symbol: Some("BTC".into()),
            amount: "1.5".into(),
            amount_raw: "150000000".into(),
            traced_amount: "1.5".into(),
            usd: None,
            ..Default::default()
        });
        c
    }

    #[test]
    fn writing_is_canonical_and_round_trips_byte_for_byte() {
        let c = sample();
        let text = c.to_json();
        assert!(text.ends_with("}\n") && text.starts_with("{\n  \"version\": 2,\n"), "{text}");
        let back = CaseFile::from_json_str(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.to_json(), text, "read then write changes nothing");
        assert!(text.find("\"alpha\"").unwrap() < text.find("\"zeta\"").unwrap(), "maps are sorted");
        // Optional node fields are omitted when absent, so old files stay byte-stable.
        assert!(!text.contains("stop_reason"));
    }

    #[test]
    fn the_streamed_bytes_are_the_pretty_json_of_the_case() {
        let c = sample();
        // the oracle: serde_json's pretty string and a newline, as case files were always written
        let want = serde_json::to_string_pretty(&c).unwrap() + "\n";
        let mut streamed = Vec::new();
        c.write_json(&mut streamed).unwrap();
        assert_eq!(String::from_utf8(streamed).unwrap(), want);
        assert_eq!(c.to_json(), want);
    }

    /// A wide case (formatted in chunks on two threads) writes the same bytes as serde_json's
    /// pretty printer: chunk boundaries, nested objects and arrays (empty ones too), escapes,
    /// optional fields, and an empty array beside full ones.
    #[test]
    fn a_wide_case_formatted_on_two_threads_is_the_pretty_json_of_the_case() {
        let base = sample();
        let mut c = base.clone();
        let (node, edge) = (base.nodes[0].clone(), base.edges[0].clone());
        c.nodes = (0..5000)
            .map(|i| CaseNode {
                address: format!("bc1q{i:05}"),
                hop: i % 7,
                labels: if i % 3 == 0 { Vec::new() } else { node.labels.clone() },
                stop_reason: (i % 5 == 0).then(|| "hops".to_string()),
                cluster: (i % 2 == 0).then(|| format!("c{i}")),
                ..node.clone()
            })
            .collect();
        c.edges = (0..4500)
            .map(|i| CaseEdge {
                block: i,
                usd: (i % 4 == 0).then(|| format!("{i}.25")),
                usd_source: (i % 4 == 0).then(|| "peg".to_string()),
                kind: if i % 9 == 0 { EdgeKind::Swap } else { EdgeKind::Transfer },
                via: (i % 9 == 0).then(|| "uniswap-v2 \u{1F984}\n".to_string()),
                ..edge.clone()
            })
            .collect();
        let oracle = |c: &CaseFile| serde_json::to_string_pretty(c).unwrap() + "\n";
        // no deposits: an empty array after two full ones
        assert!(c.deposits.is_empty());
        assert_eq!(c.to_json(), oracle(&c));
        // deposits too, one with an empty path
        let deposit = |i: u64, path: Vec<String>| CaseDeposit {
            address: format!("0xdep{i}"),
            chain: "ethereum".into(),
            exchange: "Ex \"A\"".into(),
            asset: "0xdac17f958d2ee523a2206206994597c13d831ec7".into(),
            symbol: Some("USDT".into()),
            amount: "12.5".into(),
            usd: None,
            usd_source: None,
            tx: "0xaa".into(),
            block: i,
            time: "2024-01-01T00:00:00Z".into(),
            hops: 3,
            seed: "0xseed".into(),
            path,
        };
        c.deposits = vec![deposit(1, vec!["0xa".into(), "0xb".into()]), deposit(2, Vec::new())];
        assert_eq!(c.to_json(), oracle(&c));
        // and with no nodes: the first array empty
        c.nodes.clear();
        assert_eq!(c.to_json(), oracle(&c));
    }

    /// Edges made as they are written (`write_json_with`, as `chaintrace trace --out` writes
    /// a trace's) give the bytes of the case holding those edges, narrow (one thread) and wide
    /// (two threads, chunk boundaries inside the edges), and the case's own edges are not written.
    #[test]
    fn edges_made_where_they_are_written_are_the_pretty_json_of_the_case_holding_them() {
        struct Made(Vec<CaseEdge>, std::sync::atomic::AtomicUsize);
        impl Elements<CaseEdge> for Made {
            fn count(&self) -> usize {
                self.0.len()
            }
            fn each(
                &self,
                range: std::ops::Range<usize>,
                f: &mut dyn FnMut(&CaseEdge) -> std::io::Result<()>,
            ) -> std::io::Result<()> {
                for i in range {
                    // a fresh value each time, as the trace command renders one
                    let e = self.0[i].clone();
                    self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    f(&e)?;
                }
                Ok(())
            }
        }
        let base = sample();
        let edge = base.edges[0].clone();
        for (nodes, edges) in [(1, 3), (0, 0), (10, 4097), (5000, 2049)] {
            let made: Vec<CaseEdge> = (0..edges)
                .map(|i| CaseEdge {
                    block: i as u64,
                    tx: format!("0x{i:064x}"),
                    usd: (i % 4 == 0).then(|| format!("{i}.25")),
                    via: (i % 9 == 0).then(|| "tab\there".to_string()),
                    ..edge.clone()
                })
                .collect();
            let mut head = base.clone();
            head.nodes =
                (0..nodes).map(|i| CaseNode { address: format!("bc1q{i:05}"), ..base.nodes[0].clone() }).collect();
            let mut full = head.clone();
            full.edges = made.clone();
            // the head's own edges (the sample's one) must not appear
            let source = Made(made, Default::default());
            let mut out = Vec::new();
            head.write_json_with(&source, &mut out).unwrap();
            let want = serde_json::to_string_pretty(&full).unwrap() + "\n";
            assert_eq!(String::from_utf8(out).unwrap(), want, "{nodes} nodes, {edges} edges");
            assert_eq!(source.1.into_inner(), edges, "each edge made once");
        }
    }

    /// A case's head reads from the file's first bytes once they reach its nodes (a long
    /// file need not be read whole to list it), and not before; other layouts read whole.
    #[test]
    fn the_head_reads_from_the_start_of_the_file() {
        let mut c = sample();
        // a string in the head that looks like the marker, escaped as JSON escapes newlines
        c.params.seeds_label = Some("x\n  \"nodes\": [".into());
        let text = c.to_json();
        let at = text.find("\n  \"nodes\": [").unwrap();
        let head = CaseFile { nodes: Vec::new(), edges: Vec::new(), deposits: Vec::new(), ..c.clone() };
        for end in [at + 13, at + 100, text.len()] {
            let got = CaseFile::head_from_json_start(&text.as_bytes()[..end]).expect("the nodes begin in it");
            assert_eq!(got.unwrap(), head, "{end} bytes");
        }
        assert!(CaseFile::head_from_json_start(&text.as_bytes()[..at]).is_none());
        // compact JSON (not as chaintrace writes it): no head from the start
        assert!(CaseFile::head_from_json_start(serde_json::to_string(&c).unwrap().as_bytes()).is_none());
        // a damaged head is an error, not a head
        let damaged = text.replacen("\"chain\"", "\"chain", 1);
        assert!(CaseFile::head_from_json_start(damaged.as_bytes()).unwrap().is_err());
    }

    /// Without its graph, a case reads as the whole case with its nodes and edges left out:
    /// from the start and the end of the file as chaintrace writes it (a string that looks like
    /// the deposits' line among them), whole in another layout or version; a damaged middle,
    /// which that read skips, is still an error.
    #[test]
    fn a_case_without_its_graph_is_the_case_less_nodes_and_edges() {
        let mut c = sample();
        c.params.seeds_label = Some("x\n  \"deposits\": [".into());
        c.deposits.push(CaseDeposit {
            address: "bc1qnext".into(),
            chain: "bitcoin".into(),
            exchange: "Ex \"1\"".into(),
            asset: "BTC".into(),
            symbol: Some("BTC".into()),
            amount: "1.5".into(),
            usd: Some("100.00".into()),
            usd_source: Some("shipped".into()),
            tx: "aa".into(),
            block: 7,
            time: "2024-01-01T00:00:00Z".into(),
            hops: 1,
            seed: "bc1qseed".into(),
            path: vec!["bc1qseed".into(), "bc1qnext".into()],
        });
        let want = CaseFile { nodes: Vec::new(), edges: Vec::new(), ..c.clone() };
        let text = c.to_json();
        assert!(CaseFile::has_current_layout(text.as_bytes()));
        assert_eq!(CaseFile::without_graph_from_json_bytes(text.as_bytes()).unwrap(), want);
        let compact = serde_json::to_string(&c).unwrap();
        assert!(!CaseFile::has_current_layout(compact.as_bytes()));
        assert_eq!(CaseFile::without_graph_from_json_bytes(compact.as_bytes()).unwrap(), want);
        let v1 = text.replacen("\"version\": 2", "\"version\": 1", 1);
        assert!(!CaseFile::has_current_layout(v1.as_bytes()));
        assert_eq!(CaseFile::without_graph_from_json_bytes(v1.as_bytes()).unwrap(), want);
        // read from its two ends: a node that is well-formed JSON but no node is not read
        let wizard = text.replacen("\"role\": \"seed\"", "\"role\": \"wizard\"", 1);
        assert!(CaseFile::from_json_str(&wizard).is_err());
        assert_eq!(CaseFile::without_graph_from_json_bytes(wizard.as_bytes()).unwrap(), want);
        // nodes and edges are not built, but still checked as JSON
        for damaged in [
            text.replacen("\"cluster\": \"c1\"", "\"cluster\": c1", 1),
            text.replacen("\"block\": 7,", "\"block\": 7", 1),
        ] {
            assert!(!CaseFile::has_current_layout(damaged.as_bytes()));
            assert!(CaseFile::without_graph_from_json_bytes(damaged.as_bytes()).is_err(), "{damaged}");
        }
        // a deposit that is not one: the error the whole read gives
        let odd = text.replacen("\"hops\": 1", "\"hops\": \"one\"", 1);
        let err = CaseFile::without_graph_from_json_bytes(odd.as_bytes()).unwrap_err().to_string();
        assert_eq!(err, CaseFile::from_json_str(&odd).unwrap_err().to_string());
    }

    /// A version 1 file (as chaintrace wrote them before version 2) reads: its chain becomes
    /// every node's, edge's and deposit's, every edge is a transfer, and it writes back as
    /// version 2.
    #[test]
    fn a_version_1_file_reads_as_version_2() {
        let v1 = r#"{"version": 1, "chain": "ethereum", "seeds": ["0xaa"],
            "params": {"direction": "forward", "hops": 6, "policy": "haircut", "min_amount": null,
                       "asset": null, "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
            "provenance": {"tool_version": "chaintrace 0.1.0", "store_tips": {}, "labels_hash": ""},
            "nodes": [{"address": "0xaa", "hop": 0, "role": "seed", "labels": []},
                      {"address": "0xbb", "hop": 1, "role": "exchange_deposit", "labels": []}],
            "edges": [{"from": "0xaa", "to": "0xbb", "tx": "0x01", "block": 5, "time": "2024-01-01T00:00:00Z",
                       "asset": "ETH", "symbol": "ETH", "amount": "1", "amount_raw": "1000000000000000000",
                       "traced_amount": "1", "usd": null}],
            "deposits": [{"address": "0xbb", "exchange": "Binance", "asset": "ETH", "symbol": "ETH", "amount": "1",
                          "usd": null, "tx": "0x01", "block": 5, "time": "2024-01-01T00:00:00Z", "hops": 1,
                          "seed": "0xaa", "path": ["0xaa", "0xbb"]}]}"#;
        let c = CaseFile::from_json_str(v1).unwrap();
        assert_eq!(c.version, 2);
        assert_eq!(c.chains, vec!["ethereum".to_string()]);
        assert!(c.nodes.iter().all(|n| n.chain == "ethereum"));
        assert_eq!((c.edges[0].chain.as_str(), c.edges[0].kind), ("ethereum", EdgeKind::Transfer));
        assert_eq!(c.deposits[0].chain, "ethereum");
        let text = c.to_json();
        assert!(text.contains("\"version\": 2") && text.contains("\"kind\": \"transfer\""), "{text}");
        assert_eq!(CaseFile::from_json_str(&text).unwrap(), c);
    }

    #[test]
    fn non_utf8_bytes_and_a_bom_are_tolerated() {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend_from_slice(EMPTY.replace("\"bitcoin\"", "\"caf\u{1}\"").as_bytes());
        let pos = bytes.iter().position(|&b| b == 1).unwrap();
        bytes[pos] = 0xe9;
        assert_eq!(CaseFile::from_json_bytes(&bytes).unwrap().chain, "caf\u{fffd}");
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = CaseFile::from_json_str("{\"version\": 1,\n \"chain\": }").unwrap_err();
        assert!(matches!(err, CaseDecodeError::Malformed { line: 2, .. }), "{err}");
        let source = std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default();
        assert!(source.contains("line 2"), "{source}");
        let err = CaseFile::from_json_str("{\"version\": 1, \"chain\": \"x\"").unwrap_err();
        assert!(matches!(err, CaseDecodeError::Malformed { .. }), "truncated: {err}");
    }

    #[test]
    fn unknown_or_missing_version_is_named() {
        let err = CaseFile::from_json_str("{\"version\": 3}").unwrap_err();
        assert!(matches!(err, CaseDecodeError::UnsupportedVersion { found: 3 }), "{err}");
        assert!(err.to_string().contains("version 3") && err.to_string().contains("versions 1 and 2"), "{err}");
        for text in ["{}", "[1, 2]", "{\"version\": \"1\"}"] {
            let err = CaseFile::from_json_str(text).unwrap_err();
            assert!(matches!(err, CaseDecodeError::NoVersion), "{text}: {err}");
        }
    }

    /// The version probe reads what a `serde_json::Value` would: an unsigned `version` of a
    /// top-level object (the last one where it repeats), nothing for any other value.
    #[test]
    fn the_version_probe_agrees_with_a_json_value() {
        for text in [
            "{\"version\": 2}",
            "{\"a\": [1, {\"version\": 9}], \"version\": 1, \"b\": \"x\"}",
            "{\"version\": 1, \"version\": 2}",
            "{\"version\": -2}",
            "{\"version\": 2.0}",
            "{\"version\": null}",
            "{\"ver\\u0073ion\": 2}",
            "[{\"version\": 2}]",
            "2",
            "\"version\"",
            "true",
            "null",
            "{}",
        ] {
            let want = serde_json::from_str::<serde_json::Value>(text).unwrap().get("version").and_then(|v| v.as_u64());
            assert_eq!(serde_json::from_str::<VersionProbe>(text).unwrap().0, want, "{text}");
        }
        assert!(serde_json::from_str::<VersionProbe>("{\"version\": 2").is_err());
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = EMPTY.replace("\"nodes\": [], ", "");
        let err = CaseFile::from_json_str(&text).unwrap_err();
        assert!(matches!(err, CaseDecodeError::Shape { .. }), "{err}");
        let source = std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default();
        assert!(source.contains("missing field `nodes`"), "{source}");
    }

    /// What the `case_file` fuzz target checks, over every truncation and many one-byte
    /// corruptions of a real case file: an error or a case, and a case writes canonical text.
    #[test]
    fn damaged_files_are_errors_or_round_trip() {
        let good = sample().to_json().into_bytes();
        let check = |bytes: &[u8]| {
            if let Ok(case) = CaseFile::from_json_bytes(bytes) {
                let text = case.to_json();
                assert_eq!(CaseFile::from_json_str(&text).unwrap(), case);
            }
        };
        // Everything short of the closing brace (the trailing newline is optional).
        for end in 0..good.len() - 1 {
            assert!(CaseFile::from_json_bytes(&good[..end]).is_err(), "a truncated file is an error");
        }
        for i in 0..good.len() {
            for b in [b'"', b'{', b'0', b'\\', 0xff, b' '] {
                let mut bytes = good.clone();
                bytes[i] = b;
                check(&bytes);
            }
        }
    }
}
