//! `chaintrace trace` (walk from seeds, write the case file) and `chaintrace deposits` (the
//! off-ramp report of a case file).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use chaintrace_model::time_fmt::parse_rfc3339;
use chaintrace_model::{Address, Asset, ChainKind, ChainSpec, Label, PriceSourceRef, Provenance, TipRef};
use chaintrace_store::{ReadScope, Store};
use chaintrace_tracer::case::{case_out, CaseContext, CaseOut, ChainCase};
use chaintrace_tracer::{
    trace_chains, Bound, Policy, PriceBook, PriceTable, TraceDirection, TraceError, TraceOptions, WalkChain, MAX_HOPS,
};

use crate::adapters::snapshot;
use crate::adapters::source::StoreSource;
use clap::{Args, ValueEnum};

use crate::{context::Context, files, output};

/// `chaintrace trace`'s arguments. Field docs are `--help` text (clap prints them verbatim),
/// not Markdown: `[tracer]` names the config table.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Args, Debug)]
pub(crate) struct TraceArgs {
    /// Seed addresses to walk from.
    seeds: Vec<String>,
    /// Chain name from the config, several comma-separated (one walk across them: swaps and bridges are followed), or all (every config chain the store holds). Default: ethereum for 0x seeds, bitcoin otherwise.
    #[arg(long, value_name = "CHAIN[,CHAIN…]|all", help_heading = "What to trace")]
    chain: Option<String>,
    /// Also seed every address whose label entity, category or sanctions program is NAME (e.g. an OFAC entity, DPRK3).
    #[arg(long, value_name = "NAME", help_heading = "What to trace")]
    seeds_label: Option<String>,
    /// forward: where did the money go; backward: where did it come from.
    #[arg(long, default_value = "forward", value_parser = parse_direction, help_heading = "Walk")]
    direction: TraceDirection,
    /// Follow paths of at most N transfers (default from the config, 6).
    #[arg(long, value_name = "N", help_heading = "Walk")]
    hops: Option<u32>,
    /// Taint policy: poison, haircut or fifo (default from the config, haircut).
    #[arg(long, value_parser = parse_policy, help_heading = "Walk")]
    policy: Option<Policy>,
    /// Do not follow transfers whose traced amount is below X (in the asset's units).
    #[arg(long, value_name = "X", help_heading = "Filters")]
    min_amount: Option<String>,
    /// Only this asset: the native symbol (ETH, BTC), a token contract, or a price symbol from the config.
    #[arg(long, value_name = "A", help_heading = "Filters")]
    asset: Option<String>,
    /// Only transfers at or after T (RFC 3339 time or block height).
    #[arg(long, value_name = "T", help_heading = "Filters")]
    since: Option<String>,
    /// Only transfers at or before T (RFC 3339 time or block height).
    #[arg(long, value_name = "T", help_heading = "Filters")]
    until: Option<String>,
    /// Unlabelled addresses with more than N transfers in either direction are stops (default from the config, [tracer] hub_degree).
    #[arg(long, value_name = "N", help_heading = "Walk")]
    hub_degree: Option<u64>,
    /// Daily USD price table (CSV: date,btc_usd,eth_usd,…) valued first; then the chains' [[price_feeds]] rounds in the store, then the shipped daily table, then 1.00 for stablecoins. The case names each value's source.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    prices: Option<PathBuf>,
    /// Write the case file here (JSON); without it a summary is printed.
    #[arg(long, value_name = "CASE.json", help_heading = "Output")]
    out: Option<PathBuf>,
}

fn parse_direction(s: &str) -> Result<TraceDirection, String> {
    s.parse()
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse()
}

pub(crate) fn parse_bound(text: &str, flag: &str) -> Result<Bound> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map(Bound::Height).with_context(|| format!("{flag} {t:?}: block height out of range"));
    }
    parse_rfc3339(t).map(Bound::Time).with_context(|| {
        format!("invalid {flag} {t:?}: give an RFC 3339 time such as 2022-11-09T00:00:00Z or a block height")
    })
}

pub(crate) fn parse_asset(text: &str, spec: &ChainSpec) -> Result<Asset> {
    if let Some(a) = Asset::parse_for(spec.kind, text, &spec.native_symbol) {
        if a != Asset::Native && spec.kind == ChainKind::Bitcoin {
            bail!("--asset {text}: chain {} has no tokens; use {}", spec.name, spec.native_symbol);
        }
        return Ok(a);
    }
    let by_symbol = spec.price_symbols.iter().find(|(_, sym)| sym.eq_ignore_ascii_case(text));
    if let Some((contract, _)) = by_symbol {
        if let Some(a) = Asset::parse_for(spec.kind, contract, &spec.native_symbol) {
            return Ok(a);
        }
    }
    bail!("unknown --asset {text:?}: give {} or a token contract address (0x…)", spec.native_symbol)
}

fn parse_seed(text: &str, spec: &ChainSpec) -> Result<Address> {
    let a = match spec.kind {
        ChainKind::Tron => Address::parse_tron(text),
        _ => Address::parse_any(text),
    }
    .with_context(|| format!("invalid seed address {text:?}"))?;
    if a == Address::Coinbase || !a.fits(spec.kind) {
        bail!(
            "seed {text} is not an address of chain {} (kind {:?}): check the seed or pass --chain",
            spec.name,
            spec.kind
        );
    }
    Ok(a)
}

fn seeds_by_label(store: &Store, user_labels: &[Label], spec: &ChainSpec, name: &str) -> Result<Vec<Address>> {
    let mut labels = store.all_labels().context("reading labels for --seeds-label")?;
    labels.extend(user_labels.iter().cloned());
    let mut out: BTreeSet<Address> = BTreeSet::new();
    for l in labels {
        // The entity (`LAZARUS GROUP`), the category (`sanctioned`) or a sanctions program the
        // list names (`DPRK3`, kept comma-separated in the label's `programs` attribute).
        let program =
            l.attrs.get("programs").is_some_and(|p| p.split(',').any(|x| x.trim().eq_ignore_ascii_case(name)));
        // Names compare normalised (case, punctuation, order of parts), so "SIM, Hyon Sop" from
        // the legacy SDN XML and "SIM Hyon Sop" from the advanced XML are one person.
        let matches =
            chaintrace_model::names_match(&l.entity, name) || l.category.as_str().eq_ignore_ascii_case(name) || program;
        if matches && l.applies_to(&spec.name) && l.address.fits(spec.kind) {
            out.insert(l.address);
        }
    }
    if out.is_empty() {
        return Err(InputError(format!(
            "--seeds-label {name:?} matches no address of chain {}: import labels first (chaintrace labels import) or check `chaintrace labels list`",
            spec.name
        ))
        .into());
    }
    Ok(out.into_iter().collect())
}

/// Bad input to a trace (a seed, a bound, an asset, an option out of range): the workbench
/// answers it with a 400, the CLI prints it like any other error.
#[derive(Debug)]
pub(crate) struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn input(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(InputError(crate::output::one_line(&e)))
}

/// What to trace, as `chaintrace trace` flags or the workbench's `POST /api/trace` give it.
#[derive(Clone, Debug)]
pub(crate) struct TraceSpec {
    /// Chain name from the config.
    pub chain: String,
    /// Seed addresses as text.
    pub seeds: Vec<String>,
    /// Also seed every address whose label matches.
    pub seeds_label: Option<String>,
    pub direction: TraceDirection,
    pub hops: Option<u32>,
    pub policy: Option<Policy>,
    pub min_amount: Option<String>,
    pub asset: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub hub_degree: Option<u64>,
}

/// The `--prices` table a case is valued with first, and how the provenance names it.
pub(crate) struct Valuation<'a> {
    /// The user's table (an empty table when none was given: then `note` is `None`).
    pub prices: &'a PriceTable,
    /// `FILE sha256:…` for the case's provenance, when a table was given.
    pub note: Option<String>,
}

impl Valuation<'_> {
    /// The price book of a walk over `specs` (SPEC v2 "USD"): the user's table, then the
    /// `[[price_feeds]]` of those chains with the rounds the store holds, then the shipped
    /// table, then the stablecoin peg. Also what the case's provenance lists of each source.
    pub(crate) fn book(
        &self,
        ctx: &Context,
        store: &Store,
        specs: &[ChainSpec],
    ) -> Result<(PriceBook, Vec<PriceSourceRef>)> {
        let mut refs = Vec::new();
        let user = self.note.as_ref().map(|note| {
            // the note is `FILE sha256:HEX` (see load_prices)
            let file = note.split(" sha256:").next().unwrap_or(note).to_string();
            refs.push(PriceSourceRef {
                kind: "table".into(),
                name: file.clone(),
                sha256: self.prices.sha256().map(str::to_string),
                ..Default::default()
            });
            (self.prices.clone(), file)
        });
        let mut book = PriceBook::new(user);
        for f in ctx.config.price_feeds.iter().filter(|f| specs.iter().any(|s| s.name == f.chain)) {
            let feed = Address::Evm(crate::config::evm_address(&f.aggregator)?);
            let points = store
                .price_points(&f.chain, &feed)
                .with_context(|| format!("reading price feed {} on {}", f.aggregator, f.chain))?;
            let name = feed.to_string();
            refs.push(PriceSourceRef {
                kind: "feed".into(),
                name: name.clone(),
                chain: Some(f.chain.clone()),
                symbol: Some(f.symbol.to_ascii_uppercase()),
                points: Some(points.len() as u64),
                ..Default::default()
            });
            book.add_feed(&f.symbol, &name, f.decimals, points.iter().map(|p| (p.updated_at, p.round, p.answer)));
        }
        refs.push(PriceSourceRef {
            kind: "shipped".into(),
            name: chaintrace_tracer::price::SHIPPED_TABLE_SOURCE.into(),
            sha256: book.shipped_sha256().map(str::to_string),
            ..Default::default()
        });
        Ok((book, refs))
    }
}

/// The chains a `--chain` value names, in the order given: one name, `A,B,…`, or `all` (every
/// chain of the config the store holds). Unknown names are an [`InputError`].
pub(crate) fn chain_names(ctx: &Context, store: Option<&Store>, text: &str) -> Result<Vec<String>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        let Some(store) = store else { return Ok(ctx.config.chains.keys().cloned().collect()) };
        let mut out = Vec::new();
        for name in ctx.config.chains.keys() {
            if store.tip(name)?.is_some() {
                out.push(name.clone());
            }
        }
        if out.is_empty() {
            return Err(InputError(
                "--chain all: the store holds no chain of the config yet; ingest one first (chaintrace ingest CHAIN …)"
                    .into(),
            )
            .into());
        }
        return Ok(out);
    }
    let mut out: Vec<String> = Vec::new();
    for name in t.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(InputError(format!("--chain {t:?}: an empty chain name; give NAME[,NAME…] or all")).into());
        }
        ctx.config.chain(name).map_err(input)?;
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// The addresses a seed text is on the named chains: parsed for each chain's kind (an EVM key
/// is the same wallet on every EVM chain; in a walk over several chains a TRON seed must be
/// written `T…` or `41…`, so a `0x` key is not also taken as a TRON account).
fn parse_seed_multi(text: &str, specs: &[ChainSpec]) -> Result<Vec<Address>> {
    let mut out: Vec<Address> = Vec::new();
    let mut first_err = None;
    for spec in specs {
        if specs.len() > 1 && spec.kind == ChainKind::Tron && text.trim().starts_with("0x") {
            continue;
        }
        match parse_seed(text, spec) {
            Ok(a) => {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match (out.is_empty(), first_err) {
        (false, _) => Ok(out),
        (true, Some(e)) if specs.len() == 1 => Err(e),
        _ => bail!(
            "seed {text} is not an address of any traced chain ({}): check the seed or --chain",
            specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Walk from the seeds and build the case file: the one code path of `chaintrace trace` and
/// the workbench. `req.chain` names one chain, several (`A,B`) or `all`. `user_labels` (the
/// workbench's own labels) join the store's labels for the walk and for `seeds_label`. Bad
/// input is an [`InputError`] in the chain. `then` gets the case with its edges still to
/// render ([`CaseOut`]): both write them as they are rendered, into the case file and the
/// workbench's reply.
pub(crate) fn build_case<R>(
    ctx: &Context,
    store: &Store,
    user_labels: &[Label],
    req: &TraceSpec,
    valuation: &Valuation<'_>,
    then: impl FnOnce(CaseOut<'_, '_>) -> Result<R>,
) -> Result<R> {
    let names = chain_names(ctx, Some(store), &req.chain)?;
    let specs: Vec<ChainSpec> =
        names.iter().map(|n| ctx.config.chain(n).cloned()).collect::<Result<_>>().map_err(input)?;
    let spec = &specs[0];
    let defaults = &ctx.config.tracer;
    let mut seeds: Vec<Address> = Vec::new();
    for s in &req.seeds {
        for a in parse_seed_multi(s, &specs).map_err(input)? {
            if !seeds.contains(&a) {
                seeds.push(a);
            }
        }
    }
    let since = req.since.as_deref().map(|t| parse_bound(t, "--since")).transpose().map_err(input)?;
    let until = req.until.as_deref().map(|t| parse_bound(t, "--until")).transpose().map_err(input)?;
    let asset = req.asset.as_deref().map(|a| parse_asset(a, spec)).transpose().map_err(input)?;
    if let Some(name) = &req.seeds_label {
        // every named chain is seeded; only when no chain has a match is it an error
        let mut found = false;
        let mut first_err = None;
        for sp in &specs {
            match seeds_by_label(store, user_labels, sp, name) {
                Ok(list) => {
                    found = true;
                    for a in list {
                        if !seeds.contains(&a) {
                            seeds.push(a);
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if !found {
            if let Some(e) = first_err {
                return Err(e);
            }
        }
    }
    if seeds.is_empty() {
        return Err(InputError("no seeds: give seed addresses or --seeds-label NAME".into()).into());
    }
    let mut opts = TraceOptions::new(seeds, &spec.native_symbol, spec.native_decimals);
    opts.direction = req.direction;
    opts.hops = req.hops.unwrap_or(defaults.hops);
    opts.policy = req.policy.unwrap_or(defaults.policy);
    opts.min_amount = req.min_amount.clone();
    opts.asset = asset;
    opts.since = since;
    opts.until = until;
    opts.hub_degree = req.hub_degree.unwrap_or(defaults.hub_degree);

    // Transfers and degrees from each chain's graph snapshot when it is fresh (same result, no
    // RocksDB reads per address); otherwise from the store.
    let snaps =
        specs.iter().map(|sp| crate::adapters::snapshot::open_fresh(store, &sp.name)).collect::<Result<Vec<_>, _>>()?;
    let chains: Vec<WalkChain<StoreSource<'_>>> = specs
        .iter()
        .zip(&snaps)
        .map(|(sp, snap)| WalkChain {
            name: sp.name.clone(),
            kind: Some(sp.kind),
            source: StoreSource::new(store, &sp.name, sp.kind == ChainKind::Bitcoin)
                .with_labels(user_labels.to_vec())
                .with_snapshot(snap.as_deref()),
            native_symbol: sp.native_symbol.clone(),
            native_decimals: sp.native_decimals,
        })
        .collect();
    let chain = names.join(",");
    let started = std::time::Instant::now();
    let result = trace_chains(&chains, &opts).map_err(|e| match e {
        // The tracer states the fact; the flag to change is ours to name.
        TraceError::NoSeeds => {
            InputError("no seeds: give seed addresses or a --seeds-label that matches labels".into()).into()
        }
        TraceError::Hops(h) => InputError(format!("--hops {h} is out of range: use 1 to {MAX_HOPS}")).into(),
        TraceError::MinAmount(m) => {
            InputError(format!("invalid --min-amount {m:?}: expected a non-negative decimal number such as 12.5"))
                .into()
        }
        e => anyhow::Error::new(e).context(format!("tracing on {chain}")),
    })?;
    tracing::info!(
        chain = %chain,
        source = if snaps.iter().all(Option::is_some) { "snapshot" } else if snaps.iter().any(Option::is_some) { "snapshot+store" } else { "store" },
        nodes = result.nodes.len(),
        edges = result.edges.len(),
        deposits = result.deposits.len(),
        walk = if result.stats.dense { "ids" } else { "addresses" },
        batches = result.stats.batches,
        transfers_read = result.stats.transfers_read,
        ms = started.elapsed().as_millis() as u64,
        "trace done"
    );
    let st = &result.stats;
    tracing::debug!(
        discover_ms = st.discover_us / 1000,
        list_reads_ms = st.discover_reads_us / 1000,
        passes_ms = st.discover_pass_us / 1000,
        replay_ms = st.replay_us / 1000,
        edges_ms = st.edges_us / 1000,
        nodes_ms = st.nodes_us / 1000,
        hash_reads_ms = st.hashes_us / 1000,
        assemble_ms = st.assemble_us / 1000,
        flow_reads = st.flow_reads,
        flow_reads_ms = st.flows_us / 1000,
        "trace phases"
    );

    let (book, price_sources) = valuation.book(ctx, store, &specs)?;
    let mut provenance = Provenance {
        tool_version: format!("chaintrace {}", env!("CARGO_PKG_VERSION")),
        labels_hash: store.labels_hash()?,
        prices: valuation.note.clone(),
        price_sources,
        ..Default::default()
    };
    for name in ctx.config.chains.keys() {
        if let Some(tip) = store.tip(name)? {
            provenance.store_tips.insert(name.clone(), TipRef { height: tip.height, hash: tip.hash.to_hex() });
        }
    }
    let cctx = CaseContext {
        chains: specs
            .iter()
            .map(|sp| ChainCase { name: &sp.name, evm: sp.kind == ChainKind::Evm, price_symbols: &sp.price_symbols })
            .collect(),
        prices: &book,
        provenance,
        seeds_label: req.seeds_label.clone(),
        since_text: req.since.clone(),
        until_text: req.until.clone(),
    };
    let t_case = std::time::Instant::now();
    let mut out = case_out(&result, &cctx);
    tracing::debug!(
        ms = t_case.elapsed().as_millis() as u64,
        "case built (its edges are rendered as they are written)"
    );
    for sp in specs.iter().filter(|sp| sp.kind == ChainKind::Bitcoin) {
        // The entity cluster of each address, when `chaintrace cluster` has run.
        for n in out.case.nodes.iter_mut().filter(|n| n.chain == sp.name) {
            if let Ok(a) = Address::parse_bitcoin(&n.address) {
                n.cluster = super::cluster::cluster_of(store, &sp.name, &a)?.map(|(id, _)| id);
            }
        }
    }
    then(out)
}

/// Read a `--prices` table; the note names it in a case's provenance.
pub(crate) fn load_prices(path: Option<&std::path::Path>) -> Result<(PriceTable, Option<String>)> {
    let Some(p) = path else { return Ok((PriceTable::empty(), None)) };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read price table {}: check the --prices path", p.display()))?;
    let prices = PriceTable::parse_csv(&text, &p.display().to_string())?;
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| p.display().to_string());
    let note = format!("{name} sha256:{}", prices.sha256().unwrap_or(""));
    Ok((prices, Some(note)))
}

/// Whether a trace of `chain` (a `--chain` value) reads more than rows from `store`: a chain
/// without a fresh graph snapshot (its transfers come from the store), a Bitcoin chain (UTXO
/// structure and clusters per node) or one with swaps or bridge events (read per address).
/// Errors answer yes: the trace itself reports them.
fn reads_graph(ctx: &Context, store: &Store, chain: &str) -> bool {
    let Ok(names) = chain_names(ctx, Some(store), chain) else { return true };
    let Ok(stats) = store.stats() else { return true };
    names.iter().any(|name| {
        let utxo = ctx.config.chain(name).map_or(true, |s| s.kind == ChainKind::Bitcoin);
        let flows = stats.chains.get(name).is_some_and(|c| c.conversions + c.bridge_events > 0);
        let fresh =
            matches!(snapshot::status(store, name), Ok(snapshot::Status::Fresh(_) | snapshot::Status::CaughtUp(_)));
        utxo || flows || !fresh
    })
}

pub(crate) fn run(ctx: &Context, args: TraceArgs) -> Result<()> {
    let chain = match &args.chain {
        Some(c) => c.clone(),
        None => match args.seeds.first() {
            Some(s) if s.trim().starts_with("0x") || s.trim().starts_with("0X") => "ethereum".to_string(),
            Some(_) => "bitcoin".to_string(),
            None => bail!("no seeds: give seed addresses and --chain, or --seeds-label NAME --chain CHAIN"),
        },
    };
    // Bad input (an unknown chain, a seed of the wrong kind, a bad bound or asset) is reported
    // before the store is opened or created.
    let specs: Vec<ChainSpec> =
        chain_names(ctx, None, &chain)?.iter().map(|n| ctx.config.chain(n).cloned()).collect::<Result<_>>()?;
    let spec = specs[0].clone();
    if !chain.trim().eq_ignore_ascii_case("all") {
        for s in &args.seeds {
            parse_seed_multi(s, &specs)?;
        }
    }
    for (t, flag) in [(&args.since, "--since"), (&args.until, "--until")] {
        if let Some(t) = t {
            parse_bound(t, flag)?;
        }
    }
    if let Some(a) = &args.asset {
        parse_asset(a, &spec)?;
    }
    let (prices, note) = load_prices(args.prices.as_deref())?;
    // A trace only reads: the read-only open writes nothing and opens faster; sized for row
    // reads when every chain's transfers come from a fresh snapshot, else for the graph.
    let mut store = ctx.open_store_read_only(ReadScope::Rows)?;
    if reads_graph(ctx, &store, &chain) {
        drop(store);
        store = ctx.open_store_read_only(ReadScope::Graph)?;
    }
    let user_labels = crate::serve::labels::read(&ctx.store_path)?;
    let req = TraceSpec {
        chain,
        seeds: args.seeds.clone(),
        seeds_label: args.seeds_label.clone(),
        direction: args.direction,
        hops: args.hops,
        policy: args.policy,
        min_amount: args.min_amount.clone(),
        asset: args.asset.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        hub_degree: args.hub_degree,
    };
    tracing::debug!("store opened");
    let valuation = Valuation { prices: &prices, note };
    build_case(ctx, &store, &user_labels, &req, &valuation, |out| {
        let case = &out.case;
        // Addresses the trace reached that a stablecoin issuer froze (labels of category frozen).
        let frozen: Vec<(String, String)> = case
            .nodes
            .iter()
            .flat_map(|n| {
                n.labels.iter().filter(|l| l.category == "frozen").map(|l| (n.address.clone(), l.entity.clone()))
            })
            .collect();
        let frozen_text = || -> Result<()> {
            for (address, issuer) in &frozen {
                output::line(format!("frozen: {address} (by {issuer})"))?;
            }
            Ok(())
        };
        let done = match &args.out {
            Some(path) => {
                let t_write = std::time::Instant::now();
                files::write_case_with(path, |w| out.write_json(w))?;
                tracing::debug!(ms = t_write.elapsed().as_millis() as u64, "case file written");
                if ctx.json {
                    output::json(&serde_json::json!({
                        "out": path.display().to_string(),
                        "nodes": case.nodes.len(),
                        "edges": out.edge_count(),
                        "deposits": case.deposits.len(),
                        "frozen": frozen.iter().map(|(a, i)| serde_json::json!({"address": a, "issuer": i})).collect::<Vec<_>>(),
                    }))
                } else {
                    output::line(out.summary_text().trim_end())?;
                    frozen_text()?;
                    output::line(format!("case file written to {}", path.display()))
                }
            }
            None if ctx.json => output::write_with(|w| out.write_json(w)),
            None => {
                output::line(out.summary_text().trim_end())?;
                frozen_text()
            }
        };
        // The process exits next: freeing the case (at 10M transfers a wide trace's is ~100k
        // nodes of small strings) is work nobody waits for. Leaked on purpose; the store is
        // closed normally.
        std::mem::forget(out);
        done
    })
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DepositsFormat {
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct DepositsArgs {
    /// A case file written by `chaintrace trace --out`.
    case: PathBuf,
    /// csv (SPEC's columns, then usd_source) or json; `--json` means json.
    #[arg(long, value_enum)]
    format: Option<DepositsFormat>,
}

pub(crate) fn run_deposits(ctx: &Context, args: DepositsArgs) -> Result<()> {
    // (its nodes and edges, most of a wide case's bytes, are not needed)
    let case = files::read_case_without_graph(&args.case)?;
    let format = args.format.unwrap_or(if ctx.json { DepositsFormat::Json } else { DepositsFormat::Csv });
    match format {
        DepositsFormat::Json => output::json(&case.deposits),
        DepositsFormat::Csv => {
            output::text(&chaintrace_export::deposits::deposits_csv(&case).context("encoding the deposits as CSV")?)
        }
    }
}
