//! Hostile RPC and Esplora URLs (issue 12): credentials with multi-byte characters, a `%` next
//! to a multi-byte character, percent-encoded secrets, API keys in the path and the query
//! string, and delimiters left unencoded in a password, given to `ingest ethereum --rpc`,
//! `ingest bitcoin --rpc` and `ingest bitcoin --esplora`, against a port nobody listens on and
//! against local servers answering garbage or 401. Every run must fail with a one-line error
//! and no panic, and no form of the secret (raw, percent-encoded, decoded, or as the Basic auth
//! header) may reach stdout, stderr (with `-vv` debug logging on) or any file of the store.

use crate::common;

use chaintrace_testkit::http::{free_port, Reply, Server};
use common::Workdir;

const GENESIS_ADDRESS: &str = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";

/// A hostile URL for `host` (`127.0.0.1:PORT`) and the byte strings that must never be shown.
struct Hostile {
    name: &'static str,
    url: fn(&str) -> String,
    secrets: &'static [&'static str],
    /// user:password pairs whose Basic auth header must not be shown either.
    basic: &'static [&'static str],
}

const HOSTILE: &[Hostile] = &[
    Hostile {
        name: "multi-byte credentials",
        url: |h| format!("http://üser:pässwörd€S3CRET@{h}"),
        secrets: &["S3CRET", "pässwörd", "p%C3%A4ssw%C3%B6rd", "üser", "%C3%BCser"],
        basic: &["üser:pässwörd€S3CRET"],
    },
    Hostile {
        name: "a % next to a multi-byte character",
        url: |h| format!("http://user%:%é%S3CRET%4@{h}"),
        secrets: &["S3CRET", "%é%", "%C3%A9", "user%:"],
        basic: &["user%:%é%S3CRET%4"],
    },
    Hostile {
        name: "percent-encoded secret",
        url: |h| format!("http://us%65r:p%40ss%3AS3CRET%2F@{h}"),
        secrets: &["S3CRET", "p%40ss", "p@ss", "us%65r", "p%2540ss"],
        basic: &["user:p@ss:S3CRET/"],
    },
    Hostile {
        name: "API keys in the path and the query string",
        url: |h| format!("http://{h}/v3/S3CRETPATH?apikey=S3CRETQUERY&token=x"),
        secrets: &["S3CRET", "apikey", "/v3/"],
        basic: &[],
    },
    Hostile {
        name: "delimiters left unencoded in the password",
        url: |h| format!("http://admin:pa#ss/wo?rd S3CRET@{h}"),
        secrets: &["S3CRET", "admin", "pa#ss", "pa%23ss", "wo?rd"],
        basic: &["admin:pa#ss/wo?rd S3CRET"],
    },
];

/// Every form of `s` that a careless message could carry: as is, percent-encoded (upper and
/// lower-case hex), and, for `user:password`, the Basic auth token.
fn forbidden(h: &Hostile) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for s in h.secrets {
        out.push(s.as_bytes().to_vec());
        let enc = percent_encode(s);
        out.push(enc.clone().into_bytes());
        out.push(enc.to_ascii_lowercase().into_bytes());
    }
    for up in h.basic {
        out.push(base64(up.as_bytes()).into_bytes());
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Where `needle` occurs in `hay`, ASCII case-insensitively.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Run one hostile URL against one source, quiet and with `-vv`, and check both runs.
fn check(h: &Hostile, source: &str, host: &str, target: &str) {
    let url = (h.url)(host);
    let args: Vec<&str> = match source {
        "ethereum --rpc" => vec!["ingest", "ethereum", "--rpc", &url, "--to", "0"],
        "bitcoin --rpc" => vec!["ingest", "bitcoin", "--rpc", &url, "--to", "0"],
        _ => vec!["ingest", "bitcoin", "--esplora", &url, "--address", GENESIS_ADDRESS],
    };
    let what = format!("{} to {source} against {target}", h.name);
    let bad = forbidden(h);
    for verbose in [false, true] {
        let w = Workdir::new();
        let mut cmd = w.cmd(&args);
        if verbose {
            cmd = w.cmd(&[&["-vv"], &args[..]].concat());
        }
        let out = cmd.env("CHAINTRACE_EVM_TIMEOUT", "1").output().expect("run chaintrace");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if verbose {
            // Debug logging on: the error is still the one last line, and nothing panicked.
            assert_eq!(out.status.code(), Some(1), "{what}: exit status {:?}\n{stderr}", out.status);
            assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{what} panicked:\n{stderr}");
            let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
            assert_eq!(errors.len(), 1, "{what}: expected one error line, got:\n{stderr}");
            assert_eq!(stderr.lines().rfind(|l| !l.trim().is_empty()), Some(errors[0]), "{what}:\n{stderr}");
        } else {
            common::assert_clean_failure(&out, &args);
        }
        let mut shown: Vec<(String, Vec<u8>)> =
            vec![("stdout".into(), out.stdout.clone()), ("stderr".into(), out.stderr.clone())];
        for f in files(w.path()) {
            shown.push((f.display().to_string(), std::fs::read(&f).unwrap_or_default()));
        }
        for (place, bytes) in &shown {
            for b in &bad {
                assert!(
                    !contains(bytes, b),
                    "{what} (verbose {verbose}): {place} shows {:?}:\n{}",
                    String::from_utf8_lossy(b),
                    if place.starts_with("std") { String::from_utf8_lossy(bytes).into_owned() } else { String::new() }
                );
            }
        }
    }
}

#[test]
fn hostile_urls_fail_in_one_line_and_never_show_their_secret() {
    let garbage = Server::start(|_| Reply::Send {
        status: 200,
        body: b"<html>\xff\xfe not json {\"result\":".to_vec(),
        content_length: None,
    });
    let unauthorized =
        Server::start(|_| Reply::Send { status: 401, body: b"Unauthorized".to_vec(), content_length: None });
    let unreachable = format!("127.0.0.1:{}", free_port());
    let hosts = [
        ("a port nobody listens on", unreachable),
        ("a server answering garbage", garbage.addr().to_string()),
        ("a server answering 401", unauthorized.addr().to_string()),
    ];
    // The retries against unreachable and garbage-answering hosts back off for seconds: run
    // every combination at once.
    std::thread::scope(|s| {
        for h in HOSTILE {
            for source in ["ethereum --rpc", "bitcoin --rpc", "bitcoin --esplora"] {
                for (target, host) in &hosts {
                    s.spawn(move || check(h, source, host, target));
                }
            }
        }
    });
}
