//! Watchlists and attribution: everything chaintrace knows about who owns an address.
//!
//! - Parsers turn one file's bytes into labels plus a per-item report of what was skipped
//!   (invalid or unsupported addresses): [`parse_bytes`] / [`parse_group_bytes`] and
//!   [`detect_bytes`] read no file; [`parse_file`] / [`parse_group`] / [`detect`] read the files
//!   and call them. A structural problem (bad XML, bad CSV row,
//!   a TagPack that violates the schema) fails the whole file with its line or element.
//!   Formats: the OFAC SDN list (`SDN_ADVANCED.XML`, legacy `SDN.XML`, `sdn.csv` with
//!   `sdn_comments.csv`/`add.csv`, and per-asset address lists), GraphSense TagPacks, the
//!   SPEC labels CSV and Etherscan label exports.
//! - [`import`] writes a parsed file into a [`LabelStore`] atomically per source, so importing the
//!   same file twice changes nothing and a newer OFAC snapshot replaces the older one; the
//!   added/removed addresses of every import are recorded.
//! - [`deposits`] infers exchange deposit addresses from their sweeps to known exchange
//!   wallets (Victor 2020), and lets Bitcoin cluster members inherit exchange labels.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod addr;
pub mod deposits;
pub mod etherscan;
pub mod freeze;
pub mod import;
#[cfg(test)]
mod mutations;
pub mod ofac;
pub mod speccsv;
pub mod store;
pub mod tagpack;
mod xml;

use std::{
    collections::BTreeSet,
    fmt,
    path::{Path, PathBuf},
};

use chaintrace_model::Label;
use serde::Serialize;

pub use addr::AddrProblem;
pub use store::{LabelStore, MemLabelStore};

/// The file formats the importer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// OFAC `SDN_ADVANCED.XML` (features "Digital Currency Address - T").
    OfacSdnAdvancedXml,
    /// OFAC legacy `SDN.XML` (`<id><idType>Digital Currency Address - T</idType>`).
    OfacSdnXml,
    /// OFAC `sdn.csv` (addresses in the Remarks column).
    OfacSdnCsv,
    /// OFAC `sdn_comments.csv` (Remarks overflow; only together with `sdn.csv`).
    OfacSdnComments,
    /// OFAC `add.csv` (addresses file; only together with `sdn.csv`).
    OfacSdnAdd,
    /// A per-asset list of sanctioned addresses (`sanctioned_addresses_<T>.txt|json`) or an
    /// `address,name` / `address,first_seen,label,source` extraction of the SDN list.
    OfacList,
    /// A GraphSense TagPack (YAML).
    Tagpack,
    /// SPEC's labels CSV (`chain,address,category,entity[,source][,confidence]`).
    Csv,
    /// An Etherscan label export: `,Address,Name Tag,Balance,Txn Count` CSV or
    /// `[{"address","nameTag"}]` JSON.
    Etherscan,
}

impl Format {
    /// The kebab-case name used by `--format` and in import records.
    pub fn name(&self) -> &'static str {
        match self {
            Format::OfacSdnAdvancedXml => "ofac-sdn-advanced-xml",
            Format::OfacSdnXml => "ofac-sdn-xml",
            Format::OfacSdnCsv => "ofac-sdn-csv",
            Format::OfacSdnComments => "ofac-sdn-comments",
            Format::OfacSdnAdd => "ofac-sdn-add",
            Format::OfacList => "ofac-list",
            Format::Tagpack => "tagpack",
            Format::Csv => "csv",
            Format::Etherscan => "etherscan",
        }
    }

    /// True for the formats of the OFAC SDN list (stored under the `ofac-sdn` source).
    pub fn is_ofac(&self) -> bool {
        matches!(
            self,
            Format::OfacSdnAdvancedXml
                | Format::OfacSdnXml
                | Format::OfacSdnCsv
                | Format::OfacSdnComments
                | Format::OfacSdnAdd
                | Format::OfacList
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the user asked for with `--format` (a family, or one exact format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatHint {
    /// Any OFAC SDN format (detected among them).
    OfacSdn,
    /// This format and no other.
    Exact(Format),
}

impl std::str::FromStr for FormatHint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "ofac-sdn" | "ofac" => FormatHint::OfacSdn,
            "ofac-sdn-advanced-xml" | "ofac-sdn-advanced" => FormatHint::Exact(Format::OfacSdnAdvancedXml),
            "ofac-sdn-xml" => FormatHint::Exact(Format::OfacSdnXml),
            "ofac-sdn-csv" => FormatHint::Exact(Format::OfacSdnCsv),
            "ofac-sdn-comments" => FormatHint::Exact(Format::OfacSdnComments),
            "ofac-sdn-add" => FormatHint::Exact(Format::OfacSdnAdd),
            "ofac-list" => FormatHint::Exact(Format::OfacList),
            "tagpack" | "graphsense" => FormatHint::Exact(Format::Tagpack),
            "csv" => FormatHint::Exact(Format::Csv),
            "etherscan" => FormatHint::Exact(Format::Etherscan),
            other => {
                return Err(format!(
                    "unknown label format {other:?}: expected ofac-sdn, ofac-sdn-xml, ofac-sdn-advanced-xml, \
                     ofac-sdn-csv, ofac-list, tagpack, csv or etherscan"
                ))
            }
        })
    }
}

/// Which part of the OFAC list a file covers: a newer file replaces exactly that part of the
/// stored `ofac-sdn` source, so per-asset lists and whole-list files can be mixed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "tickers")]
pub enum Coverage {
    /// The whole list (SDN XML or CSV).
    All,
    /// Only the addresses listed under these tickers.
    Tickers(BTreeSet<String>),
    /// Every EVM-style address, under every ticker (an `address,name` extraction of all
    /// `0x` addresses).
    Evm,
}

/// A listed address that was not stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Line or element in the file.
    pub location: String,
    /// The ticker the file listed the address under, when it has one.
    pub ticker: Option<String>,
    /// The address as listed.
    pub address: String,
    /// `unsupported` or `invalid`.
    pub kind: &'static str,
    /// Why it was skipped, one sentence.
    pub reason: String,
}

impl Skipped {
    /// The skip record of `address` at `location`, kind and reason taken from `problem`.
    pub fn new(location: impl Into<String>, ticker: Option<&str>, address: &str, problem: &AddrProblem) -> Self {
        Skipped {
            location: location.into(),
            ticker: ticker.map(str::to_string),
            address: address.to_string(),
            kind: if problem.is_unsupported() { "unsupported" } else { "invalid" },
            reason: problem.to_string(),
        }
    }
}

/// One parsed file.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The file(s) read (an OFAC group reads `sdn.csv` with its companions).
    pub files: Vec<PathBuf>,
    /// The format they were read as.
    pub format: Format,
    /// Every label read.
    pub labels: Vec<Label>,
    /// Listed addresses that were not turned into labels.
    pub skipped: Vec<Skipped>,
    /// For OFAC files: which part of the list this file is.
    pub coverage: Option<Coverage>,
    /// The list's publication date (`YYYY-MM-DD`) when the file or its name gives one.
    pub list_date: Option<String>,
}

impl Parsed {
    /// The result of parsing one file that is not part of the OFAC list.
    pub(crate) fn single(path: &Path, format: Format, labels: Vec<Label>, skipped: Vec<Skipped>) -> Parsed {
        Parsed { files: vec![path.to_path_buf()], format, labels, skipped, coverage: None, list_date: None }
    }
}

/// A CSV reader error as a parse error naming the file and line.
pub(crate) fn csv_error(path: &Path, e: csv::Error) -> LabelsError {
    let line = e.position().map(|p| format!("line {}", p.line())).unwrap_or_else(|| "file".into());
    LabelsError::parse(path, line, format!("invalid CSV: {e}"))
}

/// Why a label file could not be read or imported; names the file.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// A file that cannot be imported; nothing of it is stored.
    #[error("{file}: {location}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// Where in it (`line 12`, an XML element, a TagPack key).
        location: String,
        /// What is wrong there.
        message: String,
    },
    /// The file could not be read.
    #[error("{file}: cannot read")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No known format (or none of the hinted family) matches the file's name and first bytes.
    #[error("{file}: cannot tell the label format ({reason})")]
    UnknownFormat {
        /// The file.
        file: String,
        /// What the detector saw.
        reason: String,
    },
    /// The request itself is wrong (no file given, …).
    #[error("{0}")]
    Invalid(String),
    /// The label store failed.
    #[error("label store")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl LabelsError {
    pub(crate) fn parse(file: &Path, location: impl Into<String>, message: impl Into<String>) -> Self {
        LabelsError::Parse { file: file.display().to_string(), location: location.into(), message: message.into() }
    }

    /// A failure of the [`LabelStore`], kept as the source.
    pub fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        LabelsError::Store(Box::new(e))
    }

    pub(crate) fn io(file: &Path, source: std::io::Error) -> Self {
        LabelsError::Io { file: file.display().to_string(), source }
    }
}

/// Largest label file read (the official `sdn.csv` is about 5 MB, `SDN_ADVANCED.XML` about
/// 100 MB; the XML parser walks the bytes without building a document tree).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, LabelsError> {
    let meta = std::fs::metadata(path).map_err(|e| LabelsError::io(path, e))?;
    if meta.is_dir() {
        return Err(LabelsError::io(path, std::io::Error::other("is a directory")));
    }
    if meta.len() > MAX_FILE_BYTES {
        let too_big = format!("file of {} bytes is larger than {MAX_FILE_BYTES}", meta.len());
        return Err(LabelsError::io(path, std::io::Error::other(too_big)));
    }
    std::fs::read(path).map_err(|e| LabelsError::io(path, e))
}

/// Options that are not in the files themselves.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// Publication date of an OFAC list when the file does not carry one (`YYYY-MM-DD`).
    pub list_date: Option<String>,
}

/// How much of a file [`detect_bytes`] looks at.
pub const DETECT_BYTES: usize = 8192;

/// Detect a file's format from its content (and, for per-asset lists, its name).
pub fn detect(path: &Path, hint: Option<FormatHint>) -> Result<Format, LabelsError> {
    if let Some(FormatHint::Exact(f)) = hint {
        return Ok(f);
    }
    let mut head = vec![0u8; DETECT_BYTES];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| LabelsError::io(path, e))?;
        let mut n = 0;
        while n < head.len() {
            let k = f.read(&mut head[n..]).map_err(|e| LabelsError::io(path, e))?;
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    };
    head.truncate(n);
    detect_bytes(path, &head, hint)
}

/// Detect the format of a file named `path` from its first bytes `head` (at most
/// [`DETECT_BYTES`] are looked at). Reads no file.
pub fn detect_bytes(path: &Path, head: &[u8], hint: Option<FormatHint>) -> Result<Format, LabelsError> {
    if let Some(FormatHint::Exact(f)) = hint {
        return Ok(f);
    }
    let head = &head[..head.len().min(DETECT_BYTES)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let ofac_only = matches!(hint, Some(FormatHint::OfacSdn));
    let unknown = |reason: &str| LabelsError::UnknownFormat { file: path.display().to_string(), reason: reason.into() };

    if trimmed.starts_with('<') {
        if text.contains("<sdnList") {
            return Ok(Format::OfacSdnXml);
        }
        if text.contains("<Sanctions") {
            return Ok(Format::OfacSdnAdvancedXml);
        }
        return Err(unknown("an XML file that is neither SDN.XML nor SDN_ADVANCED.XML"));
    }
    if ofac::ticker_from_file_name(path).is_some() {
        return Ok(Format::OfacList);
    }
    if trimmed.starts_with('[') {
        return if text.contains("\"nameTag\"") || text.contains("\"address\"") {
            if ofac_only {
                Err(unknown("a JSON label export, not an OFAC list"))
            } else {
                Ok(Format::Etherscan)
            }
        } else {
            Err(unknown("a JSON array of neither addresses nor {address, nameTag} objects"))
        };
    }
    let first_line = trimmed.lines().next().unwrap_or("").trim().to_ascii_lowercase();
    let header: Vec<&str> = first_line.split(',').map(|s| s.trim().trim_matches('"')).collect();
    if !ofac_only && header.len() >= 4 && header[..4] == ["chain", "address", "category", "entity"] {
        return Ok(Format::Csv);
    }
    if !ofac_only && header.len() >= 3 && header[0].is_empty() && header[1] == "address" && header[2] == "name tag" {
        return Ok(Format::Etherscan);
    }
    if header == ["address", "name"] || header == ["address", "first_seen", "label", "source"] {
        return Ok(Format::OfacList);
    }
    if (name.ends_with(".yaml")
        || name.ends_with(".yml")
        || trimmed.contains("\ntags:")
        || trimmed.starts_with("tags:"))
        && !ofac_only
    {
        return Ok(Format::Tagpack);
    }
    // OFAC's CSV files have no header: ent_num first.
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(head);
    if let Some(Ok(rec)) = rdr.records().next() {
        let numeric =
            |i: usize| rec.get(i).is_some_and(|s| !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()));
        if numeric(0) {
            if rec.len() >= 12 {
                return Ok(Format::OfacSdnCsv);
            }
            if rec.len() == 6 && numeric(1) {
                return Ok(Format::OfacSdnAdd);
            }
            if rec.len() == 2 {
                return Ok(Format::OfacSdnComments);
            }
        }
    }
    if looks_like_address_list(&text) {
        return Err(unknown(
            "a plain address list whose ticker is not in its name (sanctioned_addresses_<TICKER>.txt)",
        ));
    }
    Err(unknown("not an OFAC SDN file, TagPack, labels CSV or Etherscan export"))
}

fn looks_like_address_list(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).peekable();
    lines.peek().is_some() && lines.take(5).all(|l| !l.contains(',') && !l.contains(' ') && l.len() >= 26)
}

/// Parse one file (or an `sdn.csv` with its companions, see [`parse_group`]).
pub fn parse_file(path: &Path, format: Format, opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    parse_group(&[(path.to_path_buf(), format)], opts)
}

/// Parse a group of files that form one import unit: an `sdn.csv` with its `sdn_comments.csv`
/// and `add.csv`, or a single file of any other format. Reads each file (at most
/// [`MAX_FILE_BYTES`]) and parses it with [`parse_group_bytes`].
pub fn parse_group(files: &[(PathBuf, Format)], opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    let mut contents = Vec::with_capacity(files.len());
    for (p, _) in files {
        contents.push(read_capped(p)?);
    }
    let inputs: Vec<FileBytes<'_>> =
        files.iter().zip(&contents).map(|((name, format), bytes)| FileBytes { name, format: *format, bytes }).collect();
    parse_group_bytes(&inputs, opts)
}

/// One file's content, with the name it is known by (its path: errors name it, and per-asset
/// lists, source names and list dates are read from it).
#[derive(Clone, Copy, Debug)]
pub struct FileBytes<'a> {
    /// The file's name or path.
    pub name: &'a Path,
    /// Its format.
    pub format: Format,
    /// Its content.
    pub bytes: &'a [u8],
}

/// Every format with a file name it is known by (the OFAC per-ticker list twice: its `.txt` and
/// `.json` forms), for the fuzz target and the tests that feed bytes to every parser.
pub const FORMAT_FILE_NAMES: [(Format, &str); 8] = [
    (Format::OfacSdnAdvancedXml, "SDN_ADVANCED.XML"),
    (Format::OfacSdnXml, "SDN.XML"),
    (Format::OfacSdnCsv, "sdn.csv"),
    (Format::OfacList, "sanctioned_addresses_ETH.txt"),
    (Format::OfacList, "sanctioned_addresses_XBT.json"),
    (Format::Tagpack, "pack.yaml"),
    (Format::Csv, "labels.csv"),
    (Format::Etherscan, "binance.csv"),
];

/// Parse one file's content: bytes in, labels out; no file is read.
pub fn parse_bytes(name: &Path, bytes: &[u8], format: Format, opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    parse_group_bytes(&[FileBytes { name, format, bytes }], opts)
}

/// [`parse_group`] over contents already in memory: no file is read.
pub fn parse_group_bytes(files: &[FileBytes<'_>], opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    let Some(main) = files.iter().find(|f| !matches!(f.format, Format::OfacSdnComments | Format::OfacSdnAdd)) else {
        let f = files.first().ok_or_else(|| LabelsError::Invalid("no file to parse".into()))?;
        return Err(LabelsError::parse(
            f.name,
            "file",
            format!("{} only continues an sdn.csv: import it together with the sdn.csv it belongs to", f.format),
        ));
    };
    let (path, bytes) = (main.name, main.bytes);
    let companions = |format: Format| -> Vec<(&Path, &[u8])> {
        files.iter().filter(|f| f.format == format).map(|f| (f.name, f.bytes)).collect()
    };
    let mut parsed = match main.format {
        Format::OfacSdnAdvancedXml => ofac::parse_advanced_xml(path, bytes, opts)?,
        Format::OfacSdnXml => ofac::parse_legacy_xml(path, bytes, opts)?,
        Format::OfacSdnCsv => ofac::parse_sdn_csv(
            path,
            bytes,
            &companions(Format::OfacSdnComments),
            &companions(Format::OfacSdnAdd),
            opts,
        )?,
        Format::OfacList => ofac::parse_list(path, bytes, opts)?,
        Format::Tagpack => tagpack::parse(path, bytes)?,
        Format::Csv => speccsv::parse(path, bytes)?,
        Format::Etherscan => etherscan::parse(path, bytes)?,
        Format::OfacSdnComments | Format::OfacSdnAdd => unreachable!("filtered above"),
    };
    parsed.files = files.iter().map(|f| f.name.to_path_buf()).collect();
    Ok(parsed)
}

/// A date (`YYYY-MM-DD`, or `YYYY-MM`) found in a file's path, used as the list date of
/// snapshots that carry none inside.
pub fn date_in_path(path: &Path) -> Option<String> {
    let s = path.to_string_lossy();
    let b = s.as_bytes();
    let mut best: Option<String> = None;
    let mut i = 0;
    while i + 7 <= b.len() {
        let digits = |r: std::ops::Range<usize>| r.clone().all(|k| k < b.len() && b[k].is_ascii_digit());
        let boundary_before = i == 0 || !b[i - 1].is_ascii_digit();
        if boundary_before && digits(i..i + 4) && b[i + 4] == b'-' && digits(i + 5..i + 7) {
            let year = &s[i..i + 4];
            if year.starts_with("19") || year.starts_with("20") {
                if i + 10 <= b.len()
                    && b[i + 7] == b'-'
                    && digits(i + 8..i + 10)
                    && (i + 10 == b.len() || !b[i + 10].is_ascii_digit())
                {
                    best = Some(s[i..i + 10].to_string());
                    i += 10;
                    continue;
                } else if i + 7 == b.len() || !b[i + 7].is_ascii_digit() {
                    best = Some(s[i..i + 7].to_string());
                }
            }
        }
        i += 1;
    }
    best
}

/// A file's stem, for source names (`binance.csv` → `binance`).
pub(crate) fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "labels".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_paths() {
        assert_eq!(date_in_path(Path::new("a/sambacha-ofac-list-2025-03-10/x_ETH.txt")).as_deref(), Some("2025-03-10"));
        assert_eq!(date_in_path(Path::new("sdn_2021-07_digital_currency_rows.csv")).as_deref(), Some("2021-07"));
        assert_eq!(date_in_path(Path::new("0xB10C-lists/sanctioned_addresses_ETH.txt")), None);
    }

    proptest::proptest! {
        /// What the `labels_file` fuzz target does, briefly: any bytes under any format's file
        /// name give labels or an error, never a panic; no file is read or written.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(pick in 0usize..8, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let (format, name) = crate::FORMAT_FILE_NAMES[pick];
            let _ = parse_bytes(Path::new(name), &body, format, &ParseOptions::default());
            let _ = detect_bytes(Path::new(name), &body, None);
        }
    }

    #[test]
    fn bytes_and_files_parse_alike() {
        let text =
            "chain,address,category,entity\nethereum,0x28c6c06298d514db089934071355e5743bf21d60,exchange,Binance\n";
        let name = Path::new("mine.csv");
        assert_eq!(detect_bytes(name, text.as_bytes(), None).unwrap(), Format::Csv);
        let parsed = parse_bytes(name, text.as_bytes(), Format::Csv, &ParseOptions::default()).unwrap();
        assert_eq!(parsed.labels.len(), 1);
        assert_eq!(parsed.labels[0].source, "csv:mine");
        assert_eq!(parsed.files, vec![name.to_path_buf()]);
    }

    #[test]
    fn format_hints_parse() {
        assert_eq!("ofac-sdn".parse::<FormatHint>(), Ok(FormatHint::OfacSdn));
        assert_eq!("tagpack".parse::<FormatHint>(), Ok(FormatHint::Exact(Format::Tagpack)));
        assert!("yaml".parse::<FormatHint>().is_err());
    }
}
