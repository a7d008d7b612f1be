//! `chaintrace labels import|list|show|infer-deposits`.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use chaintrace_labels::{
    addr, deposits,
    import::{self, ImportReport},
    Format, FormatHint, LabelsError, ParseOptions,
};
use chaintrace_model::{Address, Category, ChainKind, Label};
use clap::{Args, Subcommand};

use crate::{
    adapters::labels::{StoreGraph, StoreLabels},
    context::Context,
    output,
};

#[derive(Args, Debug)]
pub(crate) struct LabelsArgs {
    #[command(subcommand)]
    command: LabelsCommand,
}

#[derive(Subcommand, Debug)]
enum LabelsCommand {
    /// Load labels from files (format detected when not given); a folder imports every file in it.
    Import(ImportArgs),
    /// List stored labels; --changes shows what the latest import of each source added and removed.
    List(ListArgs),
    /// Every label on an address, with its source.
    Show(ShowArgs),
    /// Label exchange deposit addresses from their sweeps to known exchange wallets.
    InferDeposits(InferArgs),
}

// Field docs are `--help` text (clap prints them verbatim), not Markdown.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Args, Debug)]
struct ImportArgs {
    /// Label files: OFAC SDN (SDN_ADVANCED.XML, SDN.XML, sdn.csv [+ sdn_comments.csv, add.csv],
    /// sanctioned_addresses_<TICKER>.txt|json, address,name CSV), GraphSense TagPacks, labels CSV,
    /// Etherscan exports.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// ofac-sdn, ofac-sdn-xml, ofac-sdn-advanced-xml, ofac-sdn-csv, ofac-list, tagpack, csv, etherscan.
    #[arg(long)]
    format: Option<String>,
    /// Publication date of an OFAC list that does not carry one (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    list_date: Option<String>,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Only this category (sanctioned, exchange, exchange_deposit, mixer, bridge, dex, otc, service, scam, other).
    #[arg(long)]
    category: Option<String>,
    /// Only labels that apply on this chain (a name from the config).
    #[arg(long)]
    chain: Option<String>,
    /// Only this source (e.g. ofac-sdn, tagpack:lazarus, inferred:deposit-sweeps).
    #[arg(long)]
    source: Option<String>,
    /// Only this entity (case-insensitive).
    #[arg(long)]
    entity: Option<String>,
    /// Show the addresses the latest import of each source added and removed.
    #[arg(long)]
    changes: bool,
}

#[derive(Args, Debug)]
struct ShowArgs {
    address: String,
}

#[derive(Args, Debug)]
struct InferArgs {
    /// Chain name from the config.
    #[arg(long)]
    chain: String,
    /// Sweeps to one exchange needed to call an address its deposit address.
    #[arg(long, default_value_t = deposits::DepositParams::default().min_sweeps, help_heading = "Thresholds")]
    min_sweeps: usize,
    /// Least share of the received value a sweep forwards (0-1).
    #[arg(long, default_value_t = 0.9, help_heading = "Thresholds")]
    min_ratio: f64,
    /// Longest delay from arrival to sweep, in seconds.
    #[arg(long, default_value_t = deposits::DepositParams::default().max_delay_secs, help_heading = "Thresholds")]
    max_delay_secs: u64,
    /// Longest delay from arrival to sweep, in blocks (default: no block limit).
    #[arg(long, help_heading = "Thresholds")]
    max_delay_blocks: Option<u64>,
    /// Least share of the address's transfers out that are sweeps to the exchange (0-1).
    #[arg(long, default_value_t = 0.9, help_heading = "Thresholds")]
    min_exchange_share: f64,
}

pub(crate) fn run(ctx: &Context, args: LabelsArgs) -> Result<()> {
    match args.command {
        LabelsCommand::Import(a) => run_import(ctx, a),
        LabelsCommand::List(a) => run_list(ctx, a),
        LabelsCommand::Show(a) => run_show(ctx, a),
        LabelsCommand::InferDeposits(a) => run_infer(ctx, a),
    }
}

const EXTENSIONS: &[&str] = &["csv", "json", "yaml", "yml", "txt", "xml"];

/// Files named on the command line, folders expanded (sorted, so imports are reproducible).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            let mut found = Vec::new();
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).with_context(|| format!("reading folder {}", d.display()))? {
                    let path = e?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path
                        .extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
                    {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else if !p.exists() {
            bail!("{}: no such file", p.display());
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Group files into import units: an sdn.csv takes the sdn_comments.csv / add.csv given with it
/// (or lying next to it under those names).
fn plan(files: &[PathBuf], hint: Option<FormatHint>) -> Result<Vec<Vec<(PathBuf, Format)>>> {
    let mut detected = Vec::new();
    for f in files {
        let format = chaintrace_labels::detect(f, hint).map_err(|e| match e {
            LabelsError::UnknownFormat { .. } => {
                let line = format!("{e}; pass --format ofac-sdn|tagpack|csv|etherscan");
                anyhow::Error::new(e).context(line)
            }
            e => e.into(),
        })?;
        detected.push((f.clone(), format));
    }
    let companions: Vec<(PathBuf, Format)> =
        detected.iter().filter(|(_, f)| matches!(f, Format::OfacSdnComments | Format::OfacSdnAdd)).cloned().collect();
    let sdn_csvs = detected.iter().filter(|(_, f)| *f == Format::OfacSdnCsv).count();
    if !companions.is_empty() && sdn_csvs != 1 {
        let (p, f) = &companions[0];
        bail!(
            "{}: {f} only continues an sdn.csv: import it together with exactly one sdn.csv (found {sdn_csvs})",
            p.display()
        );
    }
    let mut groups = Vec::new();
    for (p, f) in &detected {
        match f {
            Format::OfacSdnComments | Format::OfacSdnAdd => {}
            Format::OfacSdnCsv => {
                let mut g = vec![(p.clone(), *f)];
                g.extend(companions.iter().cloned());
                if companions.is_empty() && p.file_name().is_some_and(|n| n.eq_ignore_ascii_case("sdn.csv")) {
                    for (name, fmt) in [("sdn_comments.csv", Format::OfacSdnComments), ("add.csv", Format::OfacSdnAdd)]
                    {
                        let sib = p.with_file_name(name);
                        if sib.is_file() {
                            g.push((sib, fmt));
                        }
                    }
                }
                groups.push(g);
            }
            _ => groups.push(vec![(p.clone(), *f)]),
        }
    }
    Ok(groups)
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && d.chars().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn run_import(ctx: &Context, args: ImportArgs) -> Result<()> {
    let hint = args.format.as_deref().map(str::parse::<FormatHint>).transpose().map_err(anyhow::Error::msg)?;
    if let Some(d) = &args.list_date {
        if !valid_date(d) {
            bail!("--list-date {d:?} is not a date: use YYYY-MM-DD");
        }
    }
    let files = expand(&args.files)?;
    if files.is_empty() {
        bail!(
            "no label files found in {}",
            args.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let groups = plan(&files, hint)?;
    let opts = ParseOptions { list_date: args.list_date.clone() };
    // Parse everything first: a bad file stops the import before anything is written.
    let mut parsed = Vec::new();
    let bar = output::progress(Some(groups.len() as u64), "parsing label files");
    for g in &groups {
        parsed.push(chaintrace_labels::parse_group(g, &opts)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let store = ctx.open_store()?;
    let mut reports = Vec::new();
    for p in &parsed {
        let r =
            import::import(&StoreLabels(&store), p).with_context(|| format!("importing {}", p.files[0].display()))?;
        reports.push(r);
    }
    if ctx.json {
        return output::json(&reports);
    }
    for r in &reports {
        print_import(r)?;
    }
    Ok(())
}

fn print_import(r: &ImportReport) -> Result<()> {
    let rec = &r.record;
    let date = rec.list_date.as_deref().map(|d| format!(", list date {d}")).unwrap_or_default();
    output::line(format!("{} ({}{date}): {} labels", rec.files.join(" + "), rec.format, rec.labels))?;
    for s in &rec.sources {
        output::line(format!(
            "  source {}: {} added, {} removed, {} unchanged ({} labels now)",
            s.source,
            s.added.len(),
            s.removed.len(),
            s.unchanged,
            s.total
        ))?;
    }
    if rec.skipped_invalid + rec.skipped_unsupported > 0 {
        let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
        for s in r.skipped.iter().filter(|s| s.kind == "unsupported") {
            *unsupported.entry(s.ticker.clone().unwrap_or_default()).or_default() += 1;
        }
        let by_ticker: Vec<String> = unsupported.iter().map(|(t, n)| format!("{t} {n}")).collect();
        output::line(format!(
            "  skipped: {} invalid, {} unsupported{}",
            rec.skipped_invalid,
            rec.skipped_unsupported,
            if by_ticker.is_empty() { String::new() } else { format!(" ({})", by_ticker.join(", ")) }
        ))?;
        for s in r.skipped.iter().filter(|s| s.kind == "invalid") {
            output::line(format!(
                "  invalid: {}: {} {}: {}",
                s.location,
                s.ticker.as_deref().unwrap_or(""),
                s.address,
                s.reason
            ))?;
        }
    }
    Ok(())
}

fn chain_kind(ctx: &Context, chain: &str) -> Result<ChainKind> {
    Ok(ctx.config.chain(chain)?.kind)
}

fn run_list(ctx: &Context, args: ListArgs) -> Result<()> {
    let store = ctx.open_store()?;
    if args.changes {
        return list_changes(ctx, &store, args.source.as_deref());
    }
    let category: Option<Category> =
        args.category.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    let kind = args.chain.as_deref().map(|c| chain_kind(ctx, c)).transpose()?;
    let entity = args.entity.as_deref().map(str::to_lowercase);
    let labels: Vec<Label> = store
        .all_labels()?
        .into_iter()
        .filter(|l| category.is_none_or(|c| l.category == c))
        .filter(|l| args.source.as_deref().is_none_or(|s| l.source == s))
        .filter(|l| entity.as_deref().is_none_or(|e| l.entity.to_lowercase() == e))
        .filter(|l| match (&args.chain, kind) {
            (Some(c), Some(k)) => l.applies_to(c) && l.address.fits(k),
            _ => true,
        })
        .collect();
    if ctx.json {
        return output::json(&labels);
    }
    if labels.is_empty() {
        return output::line("no labels match");
    }
    for l in &labels {
        output::line(format_label(l))?;
    }
    Ok(())
}

fn format_label(l: &Label) -> String {
    let scope = l.chain.as_deref().unwrap_or(if l.address.is_evm() { "evm" } else { "bitcoin" });
    let mut extra = Vec::new();
    for k in ["programs", "tickers", "list_date", "name_tag", "sweeps"] {
        if let Some(v) = l.attrs.get(k) {
            extra.push(format!("{k}={v}"));
        }
    }
    format!(
        "{}  {:<8} {:<16} {:<30} source={} confidence={}{}",
        l.address,
        scope,
        l.category.as_str(),
        l.entity,
        l.source,
        l.confidence,
        if extra.is_empty() { String::new() } else { format!(" {}", extra.join(" ")) }
    )
}

fn list_changes(ctx: &Context, store: &chaintrace_store::Store, source: Option<&str>) -> Result<()> {
    let changes: Vec<_> = import::latest_changes(&StoreLabels(store))?
        .into_iter()
        .filter(|(_, s)| source.is_none_or(|want| s.source == want))
        .collect();
    if ctx.json {
        let v: Vec<serde_json::Value> = changes
            .iter()
            .map(|(r, s)| {
                serde_json::json!({
                    "source": s.source, "import": r.seq, "files": r.files, "format": r.format,
                    "list_date": r.list_date, "added": s.added, "removed": s.removed,
                    "unchanged": s.unchanged, "total": s.total,
                })
            })
            .collect();
        return output::json(&v);
    }
    if changes.is_empty() {
        return output::line("no recorded label changes");
    }
    for (r, s) in &changes {
        let date = r.list_date.as_deref().map(|d| format!(", list date {d}")).unwrap_or_default();
        output::line(format!(
            "{}: import #{} of {}{date}: {} added, {} removed, {} labels now",
            s.source,
            r.seq,
            r.files.join(" + "),
            s.added.len(),
            s.removed.len(),
            s.total
        ))?;
        for a in &s.added {
            output::line(format!("  + {} {} {}", a.address, a.category, a.entity))?;
        }
        for a in &s.removed {
            output::line(format!("  - {} {} {}", a.address, a.category, a.entity))?;
        }
    }
    Ok(())
}

/// Parse an address as a user types it: EVM any case, Bitcoin with bech32 in any case.
fn parse_user_address(text: &str) -> Result<Address> {
    let t = text.trim();
    if t.starts_with("0x") || t.starts_with("0X") {
        return Address::parse_evm(t).map_err(|e| anyhow::anyhow!("{e}"));
    }
    if let Ok(a) = addr::parse_bitcoin_checked(t) {
        return Ok(a);
    }
    Address::parse_any(t).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run_show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let address = parse_user_address(&args.address).context("check the address")?;
    let store = ctx.open_store()?;
    let labels = store.labels_of(&address)?;
    if ctx.json {
        return output::json(&labels);
    }
    if labels.is_empty() {
        return output::line(format!("no labels for {address}"));
    }
    output::line(format!("{address}: {} label(s)", labels.len()))?;
    for l in &labels {
        let scope = l.chain.as_deref().unwrap_or("all chains of its kind");
        output::line(format!(
            "  {:<16} {:<30} source={} confidence={} ({scope})",
            l.category.as_str(),
            l.entity,
            l.source,
            l.confidence
        ))?;
        for (k, v) in &l.attrs {
            let v = if v.len() > 200 {
                format!("{}…", &v[..v.char_indices().nth(200).map_or(v.len(), |(i, _)| i)])
            } else {
                v.clone()
            };
            output::line(format!("      {k}: {v}"))?;
        }
    }
    Ok(())
}

fn share_permille(x: f64, flag: &str) -> Result<u32> {
    if !(0.0..=1.0).contains(&x) {
        bail!("--{flag} {x} must be between 0 and 1");
    }
    Ok((x * 1000.0).round() as u32)
}

fn run_infer(ctx: &Context, args: InferArgs) -> Result<()> {
    let kind = chain_kind(ctx, &args.chain)?;
    if args.min_sweeps == 0 {
        bail!("--min-sweeps must be at least 1");
    }
    let params = deposits::DepositParams {
        min_sweeps: args.min_sweeps,
        min_ratio_permille: share_permille(args.min_ratio, "min-ratio")?,
        max_delay_secs: args.max_delay_secs,
        max_delay_blocks: args.max_delay_blocks,
        min_exchange_share_permille: share_permille(args.min_exchange_share, "min-exchange-share")?,
        ..Default::default()
    };
    let store = ctx.open_store()?;
    let evm = kind == ChainKind::Evm;
    // Bitcoin: the clusters `chaintrace cluster` stored for this chain (under its own name).
    let clusters = if evm { None } else { Some(store.clusters(&args.chain)?) };
    let graph = StoreGraph { store: &store, chain: &args.chain };
    let report = deposits::infer_and_store(&StoreLabels(&store), &graph, &args.chain, evm, clusters.as_ref(), &params)
        .with_context(|| format!("inferring deposit addresses on {}", args.chain))?;
    if ctx.json {
        return output::json(&report);
    }
    output::line(format!(
        "{}: {} known exchange wallets, {} deposit addresses inferred (source {})",
        report.chain,
        report.exchange_wallets,
        report.deposits.len(),
        deposits::SOURCE
    ))?;
    for d in &report.deposits {
        output::line(format!(
            "  {} -> {} ({} sweeps, confidence {}) evidence {}",
            d.address,
            d.exchange,
            d.sweeps,
            d.confidence,
            d.evidence.join(",")
        ))?;
    }
    if kind == ChainKind::Bitcoin {
        output::line(format!("  {} clustered addresses inherited an exchange label", report.cluster_inherited))?;
    }
    Ok(())
}
