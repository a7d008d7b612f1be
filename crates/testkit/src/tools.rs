//! Locate (or install from npm) the external tools tests need.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where npm installs go: `$CHAINTRACE_TOOLS_DIR`, `$CHAINTRACE_TOOLS` (the name
/// `scripts/setup` uses) or `~/.cache/chaintrace-tools`.
pub fn tools_dir() -> PathBuf {
    for var in ["CHAINTRACE_TOOLS_DIR", "CHAINTRACE_TOOLS"] {
        if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("chaintrace-tools")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The native anvil binary inside the npm package (the `.bin/anvil` wrapper is a node script
/// that would outlive a kill of its child, so the native binary is preferred).
fn npm_anvil(dir: &Path) -> Option<PathBuf> {
    let scope = dir.join("node_modules").join("@foundry-rs");
    let entries = std::fs::read_dir(&scope).ok()?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("anvil-") {
            let bin = e.path().join("bin").join("anvil");
            if bin.is_file() {
                return Some(bin);
            }
        }
    }
    None
}

/// Serialise npm installs across concurrently running test binaries with a lock directory.
fn with_install_lock<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create tools dir {}: {e}", dir.display()));
    let lock = dir.join(".install-lock");
    let start = Instant::now();
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) if start.elapsed() > Duration::from_secs(300) => {
                // A crashed installer left it behind; take over.
                let _ = std::fs::remove_dir(&lock);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    let out = f();
    let _ = std::fs::remove_dir(&lock);
    out
}

fn npm_install(dir: &Path, packages: &[&str]) {
    let status = Command::new("npm")
        .arg("install")
        .arg("--no-audit")
        .arg("--no-fund")
        .arg("--prefix")
        .arg(dir)
        .args(packages)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm to install {packages:?} (is node/npm installed?): {e}"));
    assert!(status.success(), "npm install --prefix {} {packages:?} failed with {status}", dir.display());
}

/// The anvil binary: `$CHAINTRACE_ANVIL`, the npm package in [`tools_dir`], `anvil` on PATH,
/// or a fresh `npm install @foundry-rs/anvil`. Panics when none works.
pub fn anvil() -> PathBuf {
    if let Some(p) = std::env::var_os("CHAINTRACE_ANVIL") {
        return PathBuf::from(p);
    }
    let dir = tools_dir();
    if let Some(p) = npm_anvil(&dir) {
        return p;
    }
    if let Some(p) = on_path("anvil") {
        return p;
    }
    with_install_lock(&dir, || {
        if npm_anvil(&dir).is_none() {
            npm_install(&dir, &["@foundry-rs/anvil"]);
        }
    });
    npm_anvil(&dir).unwrap_or_else(|| {
        panic!("npm installed @foundry-rs/anvil into {} but no native anvil binary was found", dir.display())
    })
}

/// The solcjs compiler (npm `solc@0.8`). Panics when it cannot be found or installed.
pub fn solcjs() -> PathBuf {
    if let Some(p) = std::env::var_os("CHAINTRACE_SOLCJS") {
        return PathBuf::from(p);
    }
    let dir = tools_dir();
    let bin = dir.join("node_modules").join(".bin").join("solcjs");
    if bin.is_file() {
        return bin;
    }
    with_install_lock(&dir, || {
        if !bin.is_file() {
            npm_install(&dir, &["solc@0.8"]);
        }
    });
    assert!(bin.is_file(), "npm installed solc@0.8 but {} is missing", bin.display());
    bin
}

/// The creation bytecode in a compiled artifact of an npm package that `scripts/setup`
/// installs into [`tools_dir`] (e.g. `@uniswap/v2-core`, `build/UniswapV2Factory.json`).
/// Panics, naming the setup script, when the package or its bytecode is missing: tests that
/// need a real component fail, they never skip.
pub fn npm_bytecode(package: &str, artifact: &str) -> Vec<u8> {
    let path = tools_dir().join("node_modules").join(package).join(artifact);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}): run scripts/setup to install {package} from npm", path.display())
    });
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let code = v["bytecode"]
        .as_str()
        .or_else(|| v["bytecode"]["object"].as_str())
        .or_else(|| v["evm"]["bytecode"]["object"].as_str())
        .unwrap_or_else(|| panic!("{} has no bytecode", path.display()));
    let code = hex::decode(code.trim_start_matches("0x"))
        .unwrap_or_else(|e| panic!("{}: bytecode is not hex: {e}", path.display()));
    assert!(!code.is_empty(), "{} has an empty bytecode (an interface?)", path.display());
    code
}
