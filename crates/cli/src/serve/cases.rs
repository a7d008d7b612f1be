//! Saved cases: `<store>/workbench/cases/<id>.json`, each a case file written through
//! `chaintrace_export::atomic` (temp file, fsync, rename). Ids are made here and checked on
//! every request (`[a-z0-9-]`, at most 64 bytes), so no id can name a path outside the folder.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result};
use chaintrace_export::atomic::{self, Replace};
use chaintrace_model::CaseFile;
use serde::Serialize;

use super::labels::workbench_dir;

/// One row of `GET /api/cases`.
#[derive(Serialize)]
pub(crate) struct CaseSummary {
    pub id: String,
    pub chain: String,
    pub seeds: Vec<String>,
    /// RFC 3339 UTC, when the case was saved.
    pub created: String,
}

fn dir(store: &Path) -> PathBuf {
    workbench_dir(store).join("cases")
}

/// Whether `id` is one this module could have made.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Save a case file's text (`CaseOut::write_json`'s) under a new id: `<unix seconds>-<pid>-<counter>`
/// (unique per store, sortable).
pub(crate) fn save(store: &Path, text: &[u8], now: u64) -> Result<String> {
    let d = dir(store);
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{now}-{}-{n}", std::process::id());
        let path = d.join(format!("{id}.json"));
        match atomic::write_file(&path, text, Replace::No) {
            Ok(()) => return Ok(id),
            Err(atomic::WriteError::Exists(_)) => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot save case {}", path.display())),
        }
    }
}

/// Save `case` under a chosen `id` (`chaintrace demo` saves its case as `demo`), replacing one
/// saved under that id.
pub(crate) fn save_as(store: &Path, id: &str, case: &CaseFile) -> Result<()> {
    anyhow::ensure!(valid_id(id), "invalid case id {id:?}");
    let d = dir(store);
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let path = d.join(format!("{id}.json"));
    atomic::write_file(&path, case.to_json().as_bytes(), Replace::Yes)
        .with_context(|| format!("cannot save case {}", path.display()))
}

/// The file of the case saved as `id`, open, and its path; `None` when there is none (or the
/// id is not one of ours).
fn open(store: &Path, id: &str) -> Result<Option<(PathBuf, std::fs::File)>> {
    if !valid_id(id) {
        return Ok(None);
    }
    let path = dir(store).join(format!("{id}.json"));
    match std::fs::File::open(&path) {
        Ok(f) => Ok(Some((path, f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read case {}", path.display())),
    }
}

/// The bytes of the case saved as `id` and its path; `None` when there is none.
fn read(store: &Path, id: &str) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let Some((path, mut file)) = open(store, id)? else { return Ok(None) };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).with_context(|| format!("cannot read case {}", path.display()))?;
    Ok(Some((path, bytes)))
}

/// The case saved as `id`; `None` when there is none (or the id is not one of ours).
pub(crate) fn load(store: &Path, id: &str) -> Result<Option<CaseFile>> {
    let Some((path, bytes)) = read(store, id)? else { return Ok(None) };
    whole(&path, &bytes).map(Some)
}

/// The text `GET /api/cases/<id>` sends for the case saved as `id`: the file's own bytes when
/// they are a case file as this chaintrace writes it (`CaseFile::has_current_layout`, checked in
/// one pass that builds nothing, and a head that reads as a case's), instead of parsing a wide
/// case and writing it again; else the file read whole and written as the current version
/// writes it (a version 1 case, another layout). `None` when there is none.
pub(crate) fn text(store: &Path, id: &str) -> Result<Option<Vec<u8>>> {
    let Some((path, bytes)) = read(store, id)? else { return Ok(None) };
    if CaseFile::has_current_layout(&bytes) && matches!(CaseFile::head_from_json_start(&bytes), Some(Ok(_))) {
        return Ok(Some(bytes));
    }
    // (a damaged file: its error)
    whole(&path, &bytes).map(|case| Some(case.to_json().into_bytes()))
}

/// The case file `bytes` read from `path`.
fn whole(path: &Path, bytes: &[u8]) -> Result<CaseFile> {
    CaseFile::from_json_bytes(bytes).with_context(|| format!("saved case {} is damaged", path.display()))
}

/// The saved case `id` without its nodes, edges and deposits (what the list shows): read from
/// the file's start up to its nodes, so a case of half a million edges is not read and parsed
/// whole to be listed; a file laid out otherwise is read on to its end and parsed whole. `None`
/// when there is none.
fn head(store: &Path, id: &str) -> Result<Option<CaseFile>> {
    // a head holds the seeds and the provenance's tips and price sources: far less than this
    const MOST: usize = 4 << 20;
    let Some((path, mut file)) = open(store, id)? else { return Ok(None) };
    let read = |e| anyhow::Error::new(e).context(format!("cannot read case {}", path.display()));
    // read 64 KiB, then twice as far each time the nodes have not begun
    let (mut start, mut limit) = (Vec::new(), 64 << 10);
    loop {
        let want = limit - start.len();
        let n = (&mut file).take(want as u64).read_to_end(&mut start).map_err(read)?;
        if let Some(head) = CaseFile::head_from_json_start(&start) {
            return head.map(Some).with_context(|| format!("saved case {} is damaged", path.display()));
        }
        if n < want || limit >= MOST {
            break;
        }
        limit *= 2;
    }
    file.read_to_end(&mut start).map_err(read)?;
    whole(&path, &start).map(Some)
}

/// Every saved case, newest first.
pub(crate) fn list(store: &Path) -> Result<Vec<CaseSummary>> {
    let d = dir(store);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", d.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", d.display()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix(".json").filter(|id| valid_id(id)) else { continue };
        let Some(case) = head(store, id)? else { continue };
        let created = id.split('-').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or_else(|| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs())
        });
        out.push((
            created,
            CaseSummary {
                id: id.to_string(),
                chain: case.chain,
                seeds: case.seeds,
                created: chaintrace_model::time_fmt::rfc3339(created),
            },
        ));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.id.cmp(&a.1.id)));
    Ok(out.into_iter().map(|(_, c)| c).collect())
}

/// A zip archive (stored, not compressed) of `files`: the CSV export's `nodes.csv` and
/// `edges.csv` as one download that Neo4j's importer and spreadsheets open after unzipping.
pub(crate) fn zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let crc = crc.sum();
        let offset = out.len() as u32;
        let size = data.len() as u32;
        let name = name.as_bytes();
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&20u16.to_le_bytes()); // version needed
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        // Extra field and comment lengths, disk number, internal and external attributes.
        central.extend_from_slice(&[0u8; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // disk numbers
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_the_cases_folder() {
        assert!(valid_id("1700000000-42-0"));
        for bad in ["", "../x", "a/b", "A", "x.json", "-x", "..", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    /// A poison case on ethereum from `seeds` with `nodes` copies of one node.
    fn ethereum_case(seeds: &[&str], nodes: usize) -> CaseFile {
        let mut case = CaseFile::from_json_str(
            r#"{"version": 2, "chain": "ethereum", "chains": ["ethereum"], "seeds": [],
                "params": {"direction": "forward", "hops": 6, "policy": "poison", "min_amount": null, "asset": null,
                           "since": null, "until": null, "seeds_label": null, "hub_degree": 1000},
                "provenance": {"tool_version": "t", "store_tips": {}, "labels_hash": ""},
                "nodes": [], "edges": [], "deposits": []}"#,
        )
        .unwrap();
        case.seeds = seeds.iter().map(|s| s.to_string()).collect();
        let node = chaintrace_model::CaseNode {
            address: "0xcc".into(),
            chain: "ethereum".into(),
            hop: 1,
            role: chaintrace_model::Role::Intermediate,
            labels: Vec::new(),
            stop_reason: None,
            cluster: None,
        };
        case.nodes = vec![node; nodes];
        case
    }

    /// The list reads each case's head from the start of its file: a wide case (its head far
    /// before the end of a multi-megabyte file, which is never read), a case laid out otherwise
    /// (compact JSON: read whole) and a damaged head (an error naming the case).
    #[test]
    fn the_list_reads_heads_and_other_layouts_whole() {
        let store = std::env::temp_dir().join(format!("chaintrace-cases-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let mut case = ethereum_case(&["0xaa", "0xbb"], 40_000);
        // cut short after its head: the list reads no further (opening it reports the damage)
        let text = case.to_json();
        assert!(text.len() > (4 << 20), "wider than the most the list reads of a head");
        let wide = save(&store, &text.as_bytes()[..1 << 20], 1_700_000_000).unwrap();
        assert!(load(&store, &wide).is_err());
        case.chain = "bitcoin".into();
        case.seeds = vec!["bc1q".into()];
        case.nodes.truncate(3);
        let compact = save(&store, serde_json::to_string(&case).unwrap().as_bytes(), 1_700_000_001).unwrap();
        let listed: Vec<(String, String, Vec<String>)> =
            list(&store).unwrap().into_iter().map(|c| (c.id, c.chain, c.seeds)).collect();
        assert_eq!(
            listed,
            vec![
                (compact, "bitcoin".into(), vec!["bc1q".into()]),
                (wide, "ethereum".into(), vec!["0xaa".into(), "0xbb".into()])
            ]
        );
        // a damaged head: the list says which case
        let damaged = save(&store, case.to_json().replacen("\"seeds\"", "\"seeds", 1).as_bytes(), 1).unwrap();
        let Err(err) = list(&store) else { panic!("a damaged case was listed") };
        let err = format!("{err:#}");
        assert!(err.contains(&damaged) && err.contains("damaged"), "{err}");
        std::fs::remove_dir_all(&store).unwrap();
    }

    /// A saved case is sent as its file's bytes when this chaintrace wrote it; otherwise (another
    /// layout, bytes that are not UTF-8) as its parsed case written again; a damaged tail behind
    /// a good head is an error naming the case, as a damaged head is.
    #[test]
    fn a_case_is_sent_as_saved_or_written_again() {
        let store = std::env::temp_dir().join(format!("chaintrace-cases-text-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let case = ethereum_case(&["0xaa"], 3);
        let canonical = case.to_json();
        let id = save(&store, canonical.as_bytes(), 1).unwrap();
        assert_eq!(text(&store, &id).unwrap().unwrap(), canonical.as_bytes());
        let compact = save(&store, serde_json::to_string(&case).unwrap().as_bytes(), 2).unwrap();
        assert_eq!(text(&store, &compact).unwrap().unwrap(), canonical.as_bytes());
        // a byte that is not UTF-8 in an address: decoded lossily, as opening the file does
        let mut latin = canonical.clone().into_bytes();
        let at = latin.windows(4).rposition(|w| w == b"0xcc").unwrap();
        latin[at + 3] = 0xe9;
        let latin = save(&store, &latin, 3).unwrap();
        let sent = String::from_utf8(text(&store, &latin).unwrap().unwrap()).unwrap();
        assert_eq!(sent, load(&store, &latin).unwrap().unwrap().to_json());
        assert!(sent.contains("0xc\u{fffd}"), "{sent}");
        // the head is good, the nodes are not
        let damaged = save(&store, canonical.replacen("\"hop\": 1,", "\"hop\": 1", 1).as_bytes(), 4).unwrap();
        let err = format!("{:#}", text(&store, &damaged).unwrap_err());
        assert!(err.contains(&damaged) && err.contains("damaged"), "{err}");
        assert!(text(&store, "1-2-3").unwrap().is_none());
        std::fs::remove_dir_all(&store).unwrap();
    }

    #[test]
    fn zip_has_its_entries_and_end_record() {
        let z = zip(&[("nodes.csv", b"a\n".to_vec()), ("edges.csv", b"b\n".to_vec())]);
        assert_eq!(&z[..4], b"PK\x03\x04");
        assert_eq!(&z[z.len() - 22..z.len() - 18], b"PK\x05\x06");
        assert!(z.windows(9).any(|w| w == b"nodes.csv"));
    }
}
