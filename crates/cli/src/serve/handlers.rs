//! The API's handlers: parse and check the request, read on the blocking pool, answer JSON.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaintrace_export::Format;
use chaintrace_model::time_fmt::rfc3339;
use chaintrace_model::{Address, Category, ChainSpec, Direction, Label, U256};
use chaintrace_tracer::PriceBook;
use serde::Deserialize;
use serde_json::{json, Value};

use super::query::{self, Filter, Key, Side, Valuer, MAX_LIMIT};
use super::{blocking, cases, labels, now_ms, ApiError, ApiResult, AppState};
use crate::commands::trace::{build_case, InputError, TraceSpec, Valuation};

type St = State<Arc<AppState>>;
type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

// --- static UI ---------------------------------------------------------------------------

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const CYTOSCAPE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cytoscape.min.js"));

pub(super) async fn asset_index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}
pub(super) async fn asset_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS).into_response()
}
pub(super) async fn asset_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}
pub(super) async fn asset_cytoscape() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], CYTOSCAPE).into_response()
}

// --- helpers -------------------------------------------------------------------------------

fn params(q: Params, allowed: &[&str]) -> ApiResult<HashMap<String, String>> {
    let Query(map) = q.map_err(|e| ApiError::bad(format!("invalid query string: {}", e.body_text())))?;
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad(format!("unknown parameter {k:?}: expected one of {}", allowed.join(", "))));
    }
    Ok(map)
}

fn path_params<T>(p: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    p.map(|Path(t)| t).map_err(|e| ApiError::bad(format!("invalid path: {}", e.body_text())))
}

fn chain_spec(state: &AppState, chain: &str) -> ApiResult<ChainSpec> {
    state.ctx.config.chains.get(chain).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown chain {chain:?}: this workbench knows {}",
            state.ctx.config.chains.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn body_json<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let body =
        body.map_err(|e| ApiError { status: e.status(), message: format!("cannot read the body: {}", e.body_text()) })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad(format!("malformed JSON body: {e}")))
}

/// The store's labels of `addr` on `chain` plus the user's.
fn labels_of(state: &AppState, chain: &str, addr: &Address) -> ApiResult<Vec<Label>> {
    let mut out: Vec<Label> = state.store.labels_of(addr)?.into_iter().filter(|l| l.applies_to(chain)).collect();
    let user = labels::read(&state.ctx.store_path).map_err(ApiError::internal)?;
    out.extend(user.into_iter().filter(|l| &l.address == addr && l.applies_to(chain)));
    Ok(out)
}

fn label_json(l: &Label) -> Value {
    json!({
        "chain": l.chain,
        "address": l.address.to_string(),
        "category": l.category.as_str(),
        "entity": l.entity,
        "source": l.source,
        "confidence": l.confidence,
    })
}

// --- /api/stats ----------------------------------------------------------------------------

pub(super) async fn stats(State(state): St) -> ApiResult<Json<Value>> {
    blocking(move || {
        let stats = state.store.stats()?;
        let mut tips = BTreeMap::new();
        for name in stats.chains.keys() {
            if let Some(t) = state.store.tip(name)? {
                tips.insert(
                    name.clone(),
                    json!({"height": t.height, "hash": t.hash.to_hex(), "time": rfc3339(t.time)}),
                );
            }
        }
        let caught = state.caught_up_ms.load(Ordering::Relaxed);
        let mut v = serde_json::to_value(&stats).map_err(|e| ApiError::internal(e.into()))?;
        v["tips"] = json!(tips);
        v["view"] = json!({
            "mode": "secondary",
            "caught_up_at": rfc3339(caught / 1000),
            "age_ms": now_ms().saturating_sub(caught),
        });
        v["user_labels"] = json!(labels::read(&state.ctx.store_path).map_err(ApiError::internal)?.len());
        Ok(Json(v))
    })
    .await
}

// --- /api/address --------------------------------------------------------------------------

/// One asset's totals: (symbol, decimals, in, out, micro-USD in, micro-USD out, every transfer
/// priced).
type Total = (Option<String>, u8, U256, U256, u128, u128, bool);

/// Rows per direction the totals read at most.
const TOTALS_CAP: usize = 200_000;

pub(super) async fn address(
    State(state): St,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (chain, text) = path_params(p)?;
    let spec = chain_spec(&state, &chain)?;
    let addr = query::parse_address(&text, &spec)?;
    blocking(move || {
        let labels = labels_of(&state, &chain, &addr)?;
        let deg_in = state.store.degree(&chain, &addr, Direction::In, u64::MAX)?;
        let deg_out = state.store.degree(&chain, &addr, Direction::Out, u64::MAX)?;
        let book = price_book(&state, &spec)?;
        let mut valuer = Valuer::new(&state.store, &chain, &spec, &book);
        // asset id → (symbol, decimals, in, out, usd in, usd out, priced)
        let mut totals: BTreeMap<String, Total> = BTreeMap::new();
        let mut complete = true;
        for dir in [Direction::In, Direction::Out] {
            let mut after = None;
            let mut read = 0usize;
            loop {
                let batch = state.store.transfers(&chain, &addr, dir, after, 4096)?;
                let n = batch.len();
                for t in &batch {
                    let (id, symbol, decimals) = valuer.info(&t.asset)?;
                    let usd = valuer.usd(&t.asset, t.time, t.amount)?.and_then(|(u, _)| query::usd_micros(&u));
                    let e = totals.entry(id).or_insert((symbol, decimals, U256::ZERO, U256::ZERO, 0, 0, true));
                    match dir {
                        Direction::In => {
                            e.2 = e.2.saturating_add(t.amount);
                            e.4 += usd.unwrap_or(0);
                        }
                        Direction::Out => {
                            e.3 = e.3.saturating_add(t.amount);
                            e.5 += usd.unwrap_or(0);
                        }
                    }
                    e.6 &= usd.is_some();
                }
                read += n;
                after = batch.last().map(|t| t.order());
                if n < 4096 {
                    break;
                }
                if read >= TOTALS_CAP {
                    complete = false;
                    break;
                }
            }
        }
        let totals: BTreeMap<String, Value> = totals
            .into_iter()
            .map(|(id, (symbol, dec, i, o, ui, uo, priced))| {
                let v = json!({
                    "symbol": symbol,
                    "in": chaintrace_model::format_units(i, dec),
                    "out": chaintrace_model::format_units(o, dec),
                    "usd": if priced { json!({"in": query::usd_text(ui), "out": query::usd_text(uo)}) } else { Value::Null },
                });
                (id, v)
            })
            .collect();
        Ok(Json(json!({
            "chain": chain,
            "address": addr.to_string(),
            "labels": labels.iter().map(label_json).collect::<Vec<_>>(),
            "degree": {"in": deg_in, "out": deg_out},
            "totals": totals,
            "totals_complete": complete,
        })))
    })
    .await
}

pub(super) async fn transfers(
    State(state): St,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let (chain, text) = path_params(p)?;
    let q = params(q, &["direction", "asset", "since", "until", "limit", "cursor"])?;
    let spec = chain_spec(&state, &chain)?;
    let addr = query::parse_address(&text, &spec)?;
    let side = match q.get("direction").map(String::as_str) {
        None | Some("both") => Side::Both,
        Some("in") => Side::In,
        Some("out") => Side::Out,
        Some(d) => return Err(ApiError::bad(format!("invalid direction {d:?}: expected in, out or both"))),
    };
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Ok(_) | Err(_) if l.bytes().all(|b| b.is_ascii_digit()) && !l.is_empty() => {
                return Err(ApiError::bad(format!("limit {l} is out of range: use 1 to {MAX_LIMIT}")))
            }
            _ => return Err(ApiError::bad(format!("invalid limit {l:?}: give a number from 1 to {MAX_LIMIT}"))),
        },
    };
    let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            Key::decode(c)
                .ok_or_else(|| ApiError::bad(format!("invalid cursor {c:?}: pass a next_cursor this API returned")))?,
        ),
    };
    let bound = |name: &str| -> ApiResult<Option<chaintrace_tracer::Bound>> {
        q.get(name)
            .map(|t| {
                crate::commands::trace::parse_bound(t, name).map_err(|e| ApiError::bad(crate::output::one_line(&e)))
            })
            .transpose()
    };
    let since = bound("since")?;
    let until = bound("until")?;
    let asset = q
        .get("asset")
        .map(|a| crate::commands::trace::parse_asset(a, &spec).map_err(|e| ApiError::bad(crate::output::one_line(&e))))
        .transpose()?;
    blocking(move || {
        let f = Filter { side, asset, since, until, limit, cursor };
        let page = query::history(&state.store, &chain, &addr, &f)?;
        let book = price_book(&state, &spec)?;
        let mut valuer = Valuer::new(&state.store, &chain, &spec, &book);
        let transfers = page.transfers.iter().map(|(d, t)| valuer.edge(*d, t)).collect::<Result<Vec<_>, _>>()?;
        Ok(Json(json!({ "transfers": transfers, "next_cursor": page.next.map(Key::encode) })))
    })
    .await
}

// --- /api/trace and cases -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TraceBody {
    chain: String,
    #[serde(default)]
    seeds: Vec<String>,
    seeds_label: Option<String>,
    direction: Option<String>,
    hops: Option<u32>,
    policy: Option<String>,
    min_amount: Option<String>,
    asset: Option<String>,
    since: Option<String>,
    until: Option<String>,
    hub_degree: Option<u64>,
}

/// Most seeds one trace request may name.
const MAX_SEEDS: usize = 1000;

pub(super) async fn trace(State(state): St, body: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let b: TraceBody = body_json(body)?;
    // One chain, several (`A,B`: one walk across them) or `all`, as `trace --chain` takes.
    if !b.chain.trim().eq_ignore_ascii_case("all") {
        for name in b.chain.split(',') {
            chain_spec(&state, name.trim())?;
        }
    }
    if b.seeds.len() > MAX_SEEDS {
        return Err(ApiError::bad(format!("{} seeds: give at most {MAX_SEEDS}", b.seeds.len())));
    }
    let direction = match b.direction.as_deref() {
        None => chaintrace_tracer::TraceDirection::Forward,
        Some(d) => d.parse().map_err(|e: String| ApiError::bad(e))?,
    };
    let policy = b.policy.as_deref().map(|p| p.parse()).transpose().map_err(|e: String| ApiError::bad(e))?;
    let spec = TraceSpec {
        chain: b.chain,
        seeds: b.seeds,
        seeds_label: b.seeds_label,
        direction,
        hops: b.hops,
        policy,
        min_amount: b.min_amount,
        asset: b.asset,
        since: b.since,
        until: b.until,
        hub_degree: b.hub_degree,
    };
    blocking(move || {
        let user = labels::read(&state.ctx.store_path).map_err(ApiError::internal)?;
        let valuation = Valuation { prices: &state.prices, note: state.prices_note.clone() };
        // The reply, `{"case": <the case file's text>, "id": "<id>"}`, made in one buffer: the
        // case file's text (its edges rendered as they are written) is saved as it is and sent
        // inside the reply as it is — no second serialisation, no parse into a `Value`, no copy.
        const BEFORE: &[u8] = b"{\"case\": ";
        let mut body = build_case(&state.ctx, &state.store, &user, &spec, &valuation, |out| {
            let mut body = BEFORE.to_vec();
            out.write_json(&mut body)?;
            Ok(body)
        })
        .map_err(|e| {
            if e.downcast_ref::<InputError>().is_some() {
                ApiError::bad(crate::output::one_line(&e))
            } else {
                ApiError::internal(e)
            }
        })?;
        let id =
            cases::save(&state.ctx.store_path, &body[BEFORE.len()..], now_ms() / 1000).map_err(ApiError::internal)?;
        // the file's last newline, then the id
        body.pop_if(|b| *b == b'\n');
        body.extend_from_slice(b", \"id\": ");
        serde_json::to_writer(&mut body, &id).map_err(|e| ApiError::internal(e.into()))?;
        body.extend_from_slice(b"}\n");
        Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

pub(super) async fn cases(State(state): St) -> ApiResult<Json<Value>> {
    blocking(move || {
        let list = cases::list(&state.ctx.store_path).map_err(ApiError::internal)?;
        Ok(Json(json!(list)))
    })
    .await
}

fn load_case(state: &AppState, id: &str) -> ApiResult<chaintrace_model::CaseFile> {
    check_id(id)?;
    cases::load(&state.ctx.store_path, id).map_err(ApiError::internal)?.ok_or_else(|| no_case(id))
}

/// A bad request unless `id` is one `cases` could have made.
fn check_id(id: &str) -> ApiResult<()> {
    if cases::valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad(format!("invalid case id {id:?}: ids are lower-case letters, digits and '-'")))
    }
}

fn no_case(id: &str) -> ApiError {
    ApiError::not_found(format!("no case {id:?}: see GET /api/cases"))
}

pub(super) async fn case(State(state): St, p: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let id = path_params(p)?;
    check_id(&id)?;
    blocking(move || {
        let text = cases::text(&state.ctx.store_path, &id).map_err(ApiError::internal)?.ok_or_else(|| no_case(&id))?;
        Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
    })
    .await
}

pub(super) async fn export(State(state): St, p: Result<Path<(String, String)>, PathRejection>) -> ApiResult<Response> {
    let (id, format) = path_params(p)?;
    let fmt: Format = format.parse().map_err(ApiError::bad)?;
    blocking(move || {
        let case = load_case(&state, &id)?;
        let files = chaintrace_export::render(&case, fmt).map_err(|e| ApiError::internal(e.into()))?;
        let (name, ctype, bytes) = match fmt {
            Format::Csv => (format!("case-{id}-neo4j.zip"), "application/zip", cases::zip(&files)),
            _ => {
                let (file, bytes) = files.into_iter().next().expect("single-file formats render one file");
                let ext = file.rsplit('.').next().unwrap_or("txt");
                let ctype = match fmt {
                    Format::Html => "text/html; charset=utf-8",
                    Format::Json => "application/json",
                    Format::Dot => "text/vnd.graphviz; charset=utf-8",
                    _ => "application/xml",
                };
                (format!("case-{id}.{ext}"), ctype, bytes)
            }
        };
        Ok((
            [
                (header::CONTENT_TYPE, ctype.to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

// --- /api/path -------------------------------------------------------------------------------

pub(super) async fn path(State(state): St, q: Params) -> ApiResult<Json<Value>> {
    let q = params(q, &["chain", "from", "to", "hops"])?;
    let get = |k: &str| q.get(k).ok_or_else(|| ApiError::bad(format!("missing parameter {k:?}")));
    let chain = get("chain")?.clone();
    let spec = chain_spec(&state, &chain)?;
    let from = query::parse_address(get("from")?, &spec)?;
    let to = query::parse_address(get("to")?, &spec)?;
    let max = super::path::MAX_PATH_HOPS;
    let hops = match q.get("hops") {
        None => 4,
        Some(h) => match h.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(ApiError::bad(format!("invalid hops {h:?}: use 1 to {max}"))),
        },
    };
    blocking(move || {
        let mut index: HashMap<Address, Vec<Label>> = HashMap::new();
        let user = labels::read(&state.ctx.store_path).map_err(ApiError::internal)?;
        for l in state.store.all_labels()?.into_iter().chain(user) {
            if l.applies_to(&chain) {
                index.entry(l.address.clone()).or_default().push(l);
            }
        }
        let search = super::path::PathSearch {
            store: &state.store,
            chain: &chain,
            labels: &index,
            hub_degree: state.ctx.config.tracer.hub_degree,
        };
        let found = search.find(&from, &to, hops)?;
        let paths: Vec<Vec<String>> = found.paths.iter().map(|p| p.iter().map(|a| a.to_string()).collect()).collect();
        Ok(Json(json!({ "paths": paths, "truncated": found.truncated })))
    })
    .await
}

// --- /api/labels -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LabelBody {
    chain: String,
    address: String,
    category: String,
    entity: String,
}

/// Longest entity name a user label may carry.
const MAX_ENTITY: usize = 200;

pub(super) async fn add_label(State(state): St, body: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let b: LabelBody = body_json(body)?;
    let spec = chain_spec(&state, &b.chain)?;
    let address = query::parse_address(&b.address, &spec)?;
    let category: Category = b.category.parse().map_err(ApiError::bad)?;
    let entity = b.entity.trim().to_string();
    if entity.is_empty() || entity.chars().count() > MAX_ENTITY {
        return Err(ApiError::bad(format!("entity must have 1 to {MAX_ENTITY} characters")));
    }
    let label = Label {
        chain: Some(b.chain),
        address,
        category,
        entity,
        source: labels::SOURCE.to_string(),
        confidence: 100,
        attrs: BTreeMap::from([("added".to_string(), rfc3339(now_ms() / 1000))]),
    };
    blocking(move || {
        labels::append(&state.ctx.store_path, &label).map_err(ApiError::internal)?;
        tracing::info!(chain = ?label.chain, address = %label.address, "user label added");
        Ok((StatusCode::CREATED, Json(label_json(&label))).into_response())
    })
    .await
}

/// `GET /api/labels?q=TEXT[&chain=C]`: labels whose entity or address contains TEXT (the UI's
/// search box), at most 50.
pub(super) async fn search_labels(State(state): St, q: Params) -> ApiResult<Json<Value>> {
    let q = params(q, &["q", "chain"])?;
    let text = q.get("q").map(|t| t.trim().to_lowercase()).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::bad("missing parameter \"q\""));
    }
    let chain = q.get("chain").cloned();
    if let Some(c) = &chain {
        chain_spec(&state, c)?;
    }
    blocking(move || {
        let user = labels::read(&state.ctx.store_path).map_err(ApiError::internal)?;
        let mut out = Vec::new();
        for l in state.store.all_labels()?.into_iter().chain(user) {
            if chain.as_deref().is_some_and(|c| !l.applies_to(c)) {
                continue;
            }
            if l.entity.to_lowercase().contains(&text) || l.address.to_string().to_lowercase().contains(&text) {
                out.push(label_json(&l));
                if out.len() >= 50 {
                    break;
                }
            }
        }
        Ok(Json(json!({ "labels": out })))
    })
    .await
}

/// The price book the workbench values an address's figures with: the same sources, in the same
/// order, as a trace over that chain (`--prices`, the chain's feeds, the shipped table, the peg).
fn price_book(state: &AppState, spec: &ChainSpec) -> ApiResult<PriceBook> {
    let valuation = Valuation { prices: &state.prices, note: state.prices_note.clone() };
    let (book, _) = valuation.book(&state.ctx, &state.store, std::slice::from_ref(spec)).map_err(ApiError::internal)?;
    Ok(book)
}
