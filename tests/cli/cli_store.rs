//! The workspace spine through the binary: `stats`, `transfers`, store errors.

use crate::common;

use common::Workdir;

#[test]
fn stats_on_a_new_store_prints_the_spec_shape() {
    let w = Workdir::new();
    let v = w.json(&["stats"]);
    assert!(v["chains"].as_object().is_some_and(|c| c.is_empty()), "{v}");
    assert_eq!(v["labels"], 0);
    let digest = v["digest"].as_str().expect("digest is a string");
    assert_eq!(digest.len(), 64);
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    // The same empty content gives the same digest in another store.
    assert_eq!(Workdir::new().json(&["stats"])["digest"], v["digest"]);
    let text = w.ok(&["stats"]);
    assert!(text.contains("digest"), "{text}");
}

#[test]
fn transfers_of_an_unknown_address_is_empty_not_an_error() {
    let w = Workdir::new();
    let v = w.json(&["transfers", "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"]);
    assert_eq!(v, serde_json::json!([]));
}

#[test]
fn bad_input_gets_one_line_errors() {
    let w = Workdir::new();
    let file = w.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let e = w.cmd(&["stats"]).arg("--store").arg(&file).output().unwrap();
    common::assert_clean_failure(&e, &["stats", "--store", "<file>"]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    // The store states the fact; the binary adds which flag to change.
    assert!(stderr.contains("not-a-dir") && stderr.contains("pass --store"), "{stderr}");

    let e = w.fails(&["transfers", "0x1234"]);
    assert!(e.contains("0x1234"), "{e}");
    let e = w.fails(&["transfers", "0x098B716B8Aaf21512996dC57EB0615e2383E2f96", "--chain", "dogecoin"]);
    assert!(e.contains("dogecoin") && e.contains("--config"), "{e}");
    let e = w.fails(&["transfers", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--chain", "ethereum"]);
    assert!(e.contains("--chain"), "{e}");
    let bad_config = w.path().join("bad.toml");
    std::fs::write(&bad_config, "[chains.x]\nkind = \"evm\"\n").unwrap();
    let e = w.cmd(&["stats", "--config"]).arg(&bad_config).output().unwrap();
    common::assert_clean_failure(&e, &["stats", "--config", "bad.toml"]);
}

#[test]
fn a_store_held_by_another_process_is_refused_clearly() {
    let w = Workdir::new();
    w.ok(&["stats"]);
    let _held = chaintrace_store_holder(&w);
    let e = w.fails(&["stats"]);
    assert!(e.contains("in use by another chaintrace process") && e.contains("store"), "{e}");
}

#[test]
fn a_trace_is_refused_clearly_while_a_writer_holds_the_store() {
    // `trace` opens the store read-only (a shared lock on LOCK): a writer's lock still keeps it out
    let w = Workdir::new();
    w.ok(&["stats"]);
    let _held = chaintrace_store_holder(&w);
    let e = w.fails(&["trace", "--chain", "ethereum", "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"]);
    assert!(e.contains("in use by another chaintrace process") && e.contains("store"), "{e}");
}

/// Hold the store open from a second process: RocksDB's LOCK file is taken with `flock`-style
/// locks, which `flock(1)` from util-linux takes too.
fn chaintrace_store_holder(w: &Workdir) -> ChildGuard {
    let lock = w.store().join("LOCK");
    assert!(lock.exists(), "store has a LOCK file");
    let child = std::process::Command::new("python3")
        .arg("-c")
        .arg("import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(60)")
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut child = ChildGuard(child);
    let mut buf = [0u8; 6];
    use std::io::Read;
    child.0.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"locked");
    child
}

struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    let w = Workdir::new();
    // More output than a pipe buffer (64 KiB) holds, in text and in JSON.
    for ticker in ["XBT", "ETH"] {
        let list = common::shared_data().join(format!("ofac/0xB10C-lists/sanctioned_addresses_{ticker}.txt"));
        w.ok(&["labels", "import", list.to_str().unwrap()]);
    }
    assert!(w.ok(&["labels", "list"]).len() > 64 * 1024);
    for args in [&["labels", "list"][..], &["labels", "list", "--json"][..]] {
        let mut child = w
            .cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run chaintrace");
        // Read one byte, then close the pipe like `| head -c 1` does.
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn usage_mistakes_are_one_line_with_exit_status_2() {
    let w = Workdir::new();
    for args in [
        &["trace", "--chain", "ethereum", "0x098B716B8Aaf21512996dC57EB0615e2383E2f96", "--policy", "magic"][..],
        &["labels", "infer-deposits"][..],
        &["frobnicate"][..],
        &["stats", "--hops", "3"][..],
    ] {
        let out = w.cmd(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains("--help"), "{args:?}: {stderr}");
    }
    let e = String::from_utf8_lossy(&w.cmd(&["trace", "--policy", "magic"]).output().unwrap().stderr).into_owned();
    assert!(e.contains("magic") && e.contains("poison, haircut or fifo"), "{e}");
    let help = w.cmd(&["--help"]).output().unwrap();
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("Usage:"));
}
