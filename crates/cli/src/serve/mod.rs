//! `chaintrace serve`: the investigator's workbench, a JSON API and a web UI on one store.
//!
//! The server reads the store as a RocksDB secondary instance ([`Store::open_secondary`]) that
//! catches up with the writer every second, so `chaintrace ingest` keeps the store's lock and
//! follows the head in another process while the workbench answers. What the workbench writes
//! lives beside RocksDB's files under `<store>/workbench/`: saved cases ([`cases`]) and the
//! investigator's own labels ([`labels`]), which every trace merges in.
//!
//! HTTP: axum on tokio. Store reads are blocking RocksDB calls and run on tokio's blocking pool.
//! Every `/api` error is JSON `{"error": "..."}` with a 4xx status (5xx only for faults of the
//! server itself) and one line in the log. The UI (`/`) is static files compiled into the
//! binary, cytoscape.js among them (copied from its npm package at build time by `build.rs`).

pub(crate) mod cases;
mod handlers;
pub(crate) mod labels;
mod path;
mod query;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chaintrace_store::Store;
use chaintrace_tracer::PriceTable;
use clap::Args;

use crate::context::Context;

/// Largest request body (a trace request or a label is a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on; anything but loopback needs --token.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000", help_heading = "Server")]
    listen: String,
    /// Require `Authorization: Bearer T` on every API call.
    #[arg(long, value_name = "T", help_heading = "Server")]
    token: Option<String>,
    /// Daily USD price table (CSV: date,btc_usd,eth_usd,…) to value totals, transfers and traces.
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    prices: Option<PathBuf>,
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) ctx: Context,
    pub(crate) store: Store,
    pub(crate) prices: PriceTable,
    pub(crate) prices_note: Option<String>,
    token: Option<String>,
    /// Unix milliseconds of the last successful catch-up with the writer.
    pub(crate) caught_up_ms: AtomicU64,
}

/// An API error: a status and a one-line message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
    pub(crate) fn internal(e: anyhow::Error) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: crate::output::one_line(&e) }
    }
}

impl From<chaintrace_store::StoreError> for ApiError {
    fn from(e: chaintrace_store::StoreError) -> Self {
        ApiError::internal(anyhow::Error::new(e))
    }
}

/// The message of an error response, for the access log.
#[derive(Clone)]
struct ErrorLine(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        r.extensions_mut().insert(ErrorLine(self.message));
        r
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Run `f` on the blocking pool (RocksDB reads block).
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(anyhow::anyhow!("request task failed: {e}")))?
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Where to listen, refusing a non-loopback address without a token.
fn listen_addr(text: &str, token: Option<&str>) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .with_context(|| format!("invalid --listen {text:?}: give HOST:PORT such as 127.0.0.1:8000"))?
        .collect();
    let Some(first) = addrs.first().copied() else { bail!("--listen {text:?} resolves to no address") };
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    if let Some(t) = token {
        if t.trim().is_empty() {
            bail!("--token is empty: give a secret of at least 16 characters");
        }
        if t.len() < 16 {
            bail!("--token is too short ({} characters): give a secret of at least 16 characters", t.len());
        }
    } else if !loopback {
        bail!("refusing to serve on non-loopback address {text} without --token: pass --token SECRET or listen on 127.0.0.1");
    }
    Ok(first)
}

pub(crate) fn run(ctx: Context, args: ServeArgs) -> Result<()> {
    // the workbench traces again and again: each reuses the pages the last one freed
    crate::memory::keep_freed_memory();
    let addr = listen_addr(&args.listen, args.token.as_deref())?;
    let (prices, prices_note) = crate::commands::trace::load_prices(args.prices.as_deref())?;
    let tmp = std::env::temp_dir();
    sweep_stale_secondaries(&tmp);
    let secondary = tmp.join(format!("{SECONDARY_PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&secondary)
        .with_context(|| format!("cannot create the secondary instance's directory {}", secondary.display()))?;
    let store = Store::open_secondary(&ctx.store_path, &secondary).map_err(|e| {
        let line = format!("{e}: pass --store with a store that `chaintrace ingest` (or `chaintrace demo`) made");
        anyhow::Error::new(e).context(line)
    })?;
    let state = Arc::new(AppState {
        ctx,
        store,
        prices,
        prices_note,
        token: args.token,
        caught_up_ms: AtomicU64::new(now_ms()),
    });
    // the snapshots the workbench traces over, cached in read order again where some of a file
    // was evicted; in the background, requests are answered meanwhile
    let warm = state.clone();
    let recache = match std::thread::Builder::new().name("recache".into()).spawn(move || recache_snapshots(&warm.store))
    {
        Ok(thread) => Some(thread),
        Err(e) => {
            tracing::warn!(error = %e, "could not start re-caching the graph snapshots (traces are only slower)");
            None
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let result = rt.block_on(serve(state, addr));
    // Stop the catch-up task and any read still running (a blocking read is not waited for
    // past the timeout), so the store is closed before its secondary directory goes.
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    // The re-caching thread reads the store too: it ends before the store closes and its
    // directory goes: a process that exits while a thread is inside RocksDB can crash in its
    // teardown (the likely cause of one SIGSEGV on a SIGTERM just after start, in a loaded test
    // run). The wait is at most the re-read of evicted snapshot files (none over half the memory).
    if let Some(thread) = recache {
        if thread.join().is_err() {
            tracing::warn!("re-caching the graph snapshots panicked");
        }
    }
    if let Err(e) = std::fs::remove_dir_all(&secondary) {
        tracing::warn!(dir = %secondary.display(), error = %e, "removing the secondary instance's directory failed");
    }
    result
}

/// `Snapshot::recache` for every chain with a fresh graph snapshot, logged.
fn recache_snapshots(store: &Store) {
    let Ok(stats) = store.stats() else { return };
    for chain in stats.chains.keys() {
        use crate::adapters::snapshot::{status, Status};
        if let Ok(Status::Fresh(s) | Status::CaughtUp(s)) = status(store, chain) {
            let r = s.recache();
            tracing::info!(chain = %chain, path = s.path(), "graph snapshot: {r}");
        }
    }
}

/// The name of a server's RocksDB secondary directory in the temp dir, before its process id.
const SECONDARY_PREFIX: &str = "chaintrace-serve-";

/// How long in-flight requests get to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Remove the secondary directories of servers that are gone (killed without a chance to clean
/// up): `chaintrace-serve-<pid>` in `tmp` whose process no longer exists. Only where the process
/// table can be read (Linux `/proc`); a directory of a live process, ours included, is kept (its
/// pid may be reused by an unrelated process: then it stays until that one ends).
fn sweep_stale_secondaries(tmp: &std::path::Path) {
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(SECONDARY_PREFIX)) else { continue };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || pid.starts_with('0') {
            continue;
        }
        // Not a symlink to elsewhere: only a real directory of ours is removed.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) || proc_root.join(pid).exists() {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(dir = %entry.path().display(), "removed a stale secondary directory"),
            Err(e) => {
                tracing::debug!(dir = %entry.path().display(), error = %e, "could not remove a stale secondary directory")
            }
        }
    }
}

/// A future that resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled, so a signal sent as soon as the
/// server has said where it listens is never met by the default action (which would leave the
/// secondary directory behind).
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn serve(state: Arc<AppState>, addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}: is the port in use?"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let stop = shutdown_signal()?;
    // The one line a script waits for (tests read the port from it).
    crate::output::line(format!("chaintrace serve: the workbench is at http://{local}/"))?;
    tracing::info!(%local, "listening");

    let catch_up = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let s = catch_up.clone();
            let done = tokio::task::spawn_blocking(move || {
                let r = s.store.catch_up();
                if r.is_ok() {
                    s.caught_up_ms.store(now_ms(), Ordering::Relaxed);
                }
                r
            })
            .await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "catching up with the writer failed");
            }
        }
    });

    let app = router(state);
    // On a signal, stop accepting and let in-flight requests finish, for at most SHUTDOWN_GRACE
    // (a client holding a connection open does not keep the server alive).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let grace = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r.context("serving HTTP"),
        () = grace => {
            tracing::warn!("requests still open after the shutdown grace period; stopping anyway");
            Ok(())
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/stats", get(handlers::stats))
        .route("/address/{chain}/{address}", get(handlers::address))
        .route("/address/{chain}/{address}/transfers", get(handlers::transfers))
        .route("/trace", post(handlers::trace))
        .route("/cases", get(handlers::cases))
        .route("/cases/{id}", get(handlers::case))
        .route("/cases/{id}/export/{format}", get(handlers::export))
        .route("/path", get(handlers::path))
        .route("/labels", post(handlers::add_label).get(handlers::search_labels))
        .fallback(|| async { ApiError::not_found("no such API endpoint: see SPEC.md for the workbench API") })
        .method_not_allowed_fallback(|| async {
            ApiError { status: StatusCode::METHOD_NOT_ALLOWED, message: "method not allowed on this endpoint".into() }
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/", get(handlers::asset_index))
        .route("/app.js", get(handlers::asset_js))
        .route("/app.css", get(handlers::asset_css))
        .route("/cytoscape.min.js", get(handlers::asset_cytoscape))
        .nest("/api", api)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(middleware::from_fn(access_log))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Compare without an early exit, so the time taken does not tell how much of a guess matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            None => {
                let mut r = ApiError {
                    status: StatusCode::UNAUTHORIZED,
                    message: "this workbench needs a token: send Authorization: Bearer TOKEN".into(),
                }
                .into_response();
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
            Some(t) if !same_secret(t.as_bytes(), token.as_bytes()) => {
                return ApiError { status: StatusCode::FORBIDDEN, message: "wrong token".into() }.into_response();
            }
            Some(_) => {}
        }
    }
    // A POST must say it is JSON: a cross-site form cannot, so it cannot write labels or cases.
    if req.method() == Method::POST {
        let json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "send the body as JSON with Content-Type: application/json".into(),
            }
            .into_response();
        }
    }
    next.run(req).await
}

/// One line per failed request: method, path, status and the error.
async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        let message = resp.extensions().get::<ErrorLine>().map(|e| e.0.clone()).unwrap_or_default();
        tracing::warn!(%method, path = %path, status = status.as_u16(), error = %message, "request failed");
    } else {
        tracing::debug!(%method, path = %path, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    }
    resp
}

/// The page may run only its own scripts (no inline or remote script) and talk only to its own
/// origin; nothing frames it. Inline styles are allowed: cytoscape.js sizes its canvases with
/// a `<style>` element.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token() {
        assert!(listen_addr("127.0.0.1:0", None).is_ok());
        assert!(listen_addr("[::1]:0", None).is_ok());
        let e = listen_addr("0.0.0.0:0", None).unwrap_err().to_string();
        assert!(e.contains("without --token"), "{e}");
        assert!(listen_addr("0.0.0.0:0", Some("0123456789abcdef")).is_ok());
        assert!(listen_addr("0.0.0.0:0", Some("short")).is_err());
        assert!(listen_addr("nonsense", None).is_err());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
