//! Copies cytoscape.js (npm `cytoscape` 3.x, installed by `./scripts/setup` into the tools
//! folder) into `OUT_DIR`, where `chaintrace serve` embeds it with `include_bytes!`. The
//! library is not committed to this repository; a build without it stops with what to run.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=CHAINTRACE_TOOLS");
    println!("cargo:rerun-if-env-changed=CHAINTRACE_CYTOSCAPE");
    let candidates: Vec<PathBuf> = [
        std::env::var_os("CHAINTRACE_CYTOSCAPE").map(PathBuf::from),
        std::env::var_os("CHAINTRACE_TOOLS")
            .map(|t| PathBuf::from(t).join("node_modules/cytoscape/dist/cytoscape.min.js")),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/chaintrace-tools/node_modules/cytoscape/dist/cytoscape.min.js")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(found) = candidates.iter().find(|p| p.is_file()) else {
        panic!(
            "\n\ncytoscape.min.js not found (looked at {}).\nThe workbench UI (`chaintrace serve`) embeds cytoscape.js from its npm package.\nRun ./scripts/setup (it runs `npm install --prefix \"$CHAINTRACE_TOOLS\" cytoscape@3`), or set CHAINTRACE_CYTOSCAPE=/path/to/cytoscape.min.js.\n",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    };
    println!("cargo:rerun-if-changed={}", found.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("cytoscape.min.js");
    std::fs::copy(found, &out).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", found.display(), out.display()));
}
