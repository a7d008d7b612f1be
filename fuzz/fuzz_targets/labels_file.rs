//! Any bytes, read as any label file format (the first byte picks it), must give labels or an
//! error, never a panic or an unbounded allocation. The parsers take bytes: no file is written.
#![no_main]

use std::path::Path;

use chaintrace_labels::{detect_bytes, parse_bytes, ParseOptions, FORMAT_FILE_NAMES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let (format, name) = FORMAT_FILE_NAMES[pick as usize % FORMAT_FILE_NAMES.len()];
    let name = Path::new(name);
    let _ = parse_bytes(name, body, format, &ParseOptions::default());
    // Detection must not panic either.
    let _ = detect_bytes(name, body, None);
});
