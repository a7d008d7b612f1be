//! A small harness for end-to-end tests: run the real `chaintrace` binary against a temporary
//! store and check its output. Every module of the `cli` test binary uses it (`crate::common`).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The real public fixtures copied into the repository (`tests/data`, one PROVENANCE.md per folder).
pub(crate) fn shared_data() -> PathBuf {
    let p = chaintrace_testkit::test_data("");
    assert!(
        p.is_dir(),
        "the fixtures are missing at {}: the repository's tests/data folder is incomplete",
        p.display()
    );
    p
}

/// A temporary working directory with its own store.
pub(crate) struct Workdir {
    pub(crate) dir: tempfile::TempDir,
}

impl Workdir {
    pub(crate) fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `chaintrace --store <tmp>/store ARGS…` (not yet run).
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chaintrace"));
        c.arg("--store").arg(self.store()).args(args).env_remove("CHAINTRACE_STORE").env_remove("CHAINTRACE_CONFIG");
        c
    }

    /// Run and require success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run chaintrace");
        assert!(
            out.status.success(),
            "chaintrace {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Run and require failure with a one-line error (no panic, no backtrace); returns stderr.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run chaintrace");
        assert_clean_failure(&out, args);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let text = self.ok(&a);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("chaintrace {a:?} printed invalid JSON ({e}):\n{text}"))
    }
}

pub(crate) fn assert_clean_failure(out: &Output, args: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "chaintrace {args:?} should fail but succeeded");
    assert_eq!(out.status.code(), Some(1), "chaintrace {args:?}: exit status {:?}\n{stderr}", out.status);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "chaintrace {args:?}: expected a one-line error, got:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "chaintrace {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "chaintrace {args:?} panicked:\n{stderr}"
    );
}

/// What `chaintrace verify --json` recomputed from a store's rows: the store digest and, per
/// chain, the figures (`blocks`, `transfers`, `addresses`, `digest`, `tip_height`). Two stores
/// that hold the same data compare equal; no figure here comes from the checkpoint's counters.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) digest: String,
    pub(crate) chains: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Verified {
    /// The recomputed figures of one chain (panics if the store does not hold it).
    pub(crate) fn chain(&self, name: &str) -> &serde_json::Value {
        self.chains.get(name).unwrap_or_else(|| panic!("verify reported no chain {name}: {self:?}"))
    }

    /// The figures without the address-dictionary sizes. Address ids are never reused, so a
    /// store that rolled back a branch still counts the addresses only that branch had
    /// (docs/schema.md); compare a reorged store with a fresh one through this.
    pub(crate) fn without_dictionary(mut self) -> Verified {
        for figures in self.chains.values_mut() {
            if let Some(o) = figures.as_object_mut() {
                o.remove("addresses");
            }
        }
        self
    }
}

impl Workdir {
    /// Run `chaintrace verify --json`, require exit 0 and no problem on any chain, and return
    /// the recomputed figures.
    pub(crate) fn verified(&self) -> Verified {
        let out = self.cmd(&["verify", "--json"]).output().expect("run chaintrace verify");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "verify found the rows disagree with the checkpoint ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("verify --json printed invalid JSON ({e}):\n{stdout}"));
        let mut chains = std::collections::BTreeMap::new();
        for c in v["chains"].as_array().expect("verify --json has a chains array") {
            let name = c["chain"].as_str().expect("chain name").to_string();
            assert_eq!(c["problems"], serde_json::json!([]), "verify found problems in {name}: {c}");
            assert_eq!(c["recomputed"], c["checkpoint"], "verify: rows and checkpoint of {name} differ: {c}");
            chains.insert(name, c["recomputed"].clone());
        }
        Verified { digest: v["digest"].as_str().expect("verify digest").to_string(), chains }
    }
}

/// The fault proxy's bound on faults per call for tests that run `chaintrace ingest` through it:
/// half the binary's retry budget per call (`ingest` keeps the RPC client's default), so a call
/// can meet every injected fault the bound allows and still have attempts left for a real
/// timeout of a busy node. Without the bound, 8 faults in a row for one of ~10,000 calls at 20%
/// (0.2^8 per call) came about once in 50 runs and failed an otherwise correct ingest.
pub(crate) fn faults_per_call_within_the_retry_budget() -> Option<u32> {
    let budget = chaintrace_evm::RpcConfig::default().max_attempts;
    let bound = budget / 2;
    assert!(bound >= 1 && bound < budget, "retry budget {budget} leaves no room for a bounded fault");
    Some(bound)
}

/// The log without terminal colour codes.
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
