//! Reading and writing the files users see, through the one case-file codec
//! ([`CaseFile::from_json_bytes`], [`CaseFile::to_json`]) and the one atomic writer
//! ([`chaintrace_export::atomic`]). The libraries state facts; the hints that name a flag are
//! added here.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use chaintrace_export::atomic::{self, Replace};
use chaintrace_model::{CaseDecodeError, CaseFile};

/// Read a case file written by `chaintrace trace --out`.
pub(crate) fn read_case(path: &Path) -> Result<CaseFile> {
    read_case_with(path, CaseFile::from_json_bytes)
}

/// [`read_case`] without the case's nodes and edges (`CaseFile::without_graph_from_json_bytes`):
/// for a command that needs only its head and deposits.
pub(crate) fn read_case_without_graph(path: &Path) -> Result<CaseFile> {
    read_case_with(path, CaseFile::without_graph_from_json_bytes)
}

fn read_case_with(path: &Path, parse: fn(&[u8]) -> Result<CaseFile, CaseDecodeError>) -> Result<CaseFile> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read case file {}: check the path", path.display()))?;
    parse(&bytes)
        .with_context(|| format!("cannot load case file {} (write one with `chaintrace trace --out`)", path.display()))
}

/// Write a case file atomically, replacing an earlier one: `write` writes its bytes (a
/// trace's `CaseOut::write_json`, or [`CaseFile::write_json`]).
pub(crate) fn write_case_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    // Streamed into the file: at 10M transfers a wide trace's case file is ~50 MB, which a
    // `String` would hold (and grow by copying) beside the case itself.
    atomic::write_file_with(path, Replace::Yes, write)
        .with_context(|| format!("cannot write case file {}", path.display()))
}

/// Write a user-visible file atomically, replacing an earlier one.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(atomic::write_file(path, bytes, Replace::Yes)?)
}
