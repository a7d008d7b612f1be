//! The CLI surface is pinned: the full `--help` of `chaintrace` and of every subcommand is
//! compared with `tests/snapshots/help.txt`, and every subcommand and long flag in it must
//! appear in README.md, so a CLI change without a README change fails here.
//!
//! After changing the CLI on purpose, regenerate the snapshot (then update the README):
//!
//!     UPDATE_SNAPSHOTS=1 cargo test -p chaintrace-cli --test cli cli_help::

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    chaintrace_testkit::checkout()
}

/// `chaintrace ARGS… --help`, with no CHAINTRACE_* variable set (clap prints their values).
fn help(path: &[String]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chaintrace"));
    c.args(path).arg("--help");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CHAINTRACE_") {
            c.env_remove(k);
        }
    }
    let out = c.env_remove("COLUMNS").output().expect("run chaintrace --help");
    assert!(out.status.success(), "chaintrace {path:?} --help failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let mut lines = help.lines().skip_while(|l| l.trim_end() != "Commands:").skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if l.trim().is_empty() || !l.starts_with("  ") {
            break;
        }
        if let Some(name) = l.split_whitespace().next() {
            if name != "help" {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Every command path, depth first: `[]`, `["ingest"]`, `["labels"]`, `["labels", "import"]`, ….
fn all_helps() -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut stack = vec![Vec::<String>::new()];
    while let Some(path) = stack.pop() {
        let text = help(&path);
        for sub in subcommands(&text).into_iter().rev() {
            let mut p = path.clone();
            p.push(sub);
            stack.push(p);
        }
        out.push((path, text));
    }
    out
}

fn is_flag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// Long flags (`--name`) anywhere in a help text, except `--help` and `--version`.
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let bytes: Vec<char> = text.chars().collect();
    for i in 0..bytes.len().saturating_sub(2) {
        let starts = bytes[i] == '-' && bytes[i + 1] == '-' && bytes[i + 2].is_ascii_lowercase();
        if starts && (i == 0 || !is_flag_char(bytes[i - 1])) {
            let flag: String = bytes[i..].iter().take_while(|c| is_flag_char(**c)).collect();
            let flag = flag.trim_end_matches('-').to_string();
            if flag != "--help" && flag != "--version" {
                flags.insert(flag);
            }
        }
    }
    flags
}

/// Whether `text` has `word` with no flag character right after it.
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| !text[i + word.len()..].starts_with(is_flag_char))
}

#[test]
fn help_matches_snapshot_and_readme() {
    let helps = all_helps();
    let mut snapshot = String::new();
    for (path, text) in &helps {
        let shown = if path.is_empty() { String::new() } else { format!(" {}", path.join(" ")) };
        snapshot.push_str(&format!("==> chaintrace{shown} --help\n{}\n", text.trim_end()));
    }
    let file = repo().join("tests/snapshots/help.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&file, &snapshot).expect("write the help snapshot");
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed != snapshot {
        let diff = committed
            .lines()
            .zip(snapshot.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("first difference at line {}:\n  snapshot: {a}\n  now:      {b}", i + 1))
            .unwrap_or_else(|| "one is a prefix of the other".to_string());
        panic!(
            "the CLI's --help differs from {} ({diff})\nIf the change is intended, regenerate it with \
             `UPDATE_SNAPSHOTS=1 cargo test -p chaintrace-cli --test cli cli_help::` and update README.md.",
            file.display()
        );
    }

    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, text) in &helps {
        if !path.is_empty() && !mentions(&readme, &format!("chaintrace {}", path.join(" "))) {
            missing.push(format!("the command `chaintrace {}`", path.join(" ")));
        }
        for flag in long_flags(text) {
            if seen.insert(flag.clone()) && !mentions(&readme, &flag) {
                let shown = if path.is_empty() { String::new() } else { format!(" {}", path.join(" ")) };
                missing.push(format!("the flag {flag} (chaintrace{shown})"));
            }
        }
    }
    assert!(missing.is_empty(), "README.md does not mention:\n  {}", missing.join("\n  "));
}

#[test]
fn flag_scanner_finds_flags_and_only_flags() {
    let flags = long_flags("  --store <STORE>  x (--config) --hub-degree, a--b --x-- ---y --help -h");
    assert_eq!(flags.into_iter().collect::<Vec<_>>(), ["--config", "--hub-degree", "--store", "--x"]);
    assert!(mentions("use --to 5", "--to") && !mentions("use --tor 5", "--to"));
    assert_eq!(subcommands("x\n\nCommands:\n  a  b\n  help  h\n\nOptions:\n  --z\n"), ["a"]);
}
