//! OFAC's Specially Designated Nationals list, in every form it is published or extracted:
//! `SDN_ADVANCED.XML`, the legacy `SDN.XML`, `sdn.csv` (+ `sdn_comments.csv`, `add.csv`), and
//! per-asset address lists (`sanctioned_addresses_<TICKER>.txt|json`, `address,name` CSVs).
//!
//! Every OFAC label has source [`SOURCE`] (`ofac-sdn`): the list is one source, and a newer
//! snapshot replaces the part of it its file covers (see [`crate::Coverage`]). Labels keep the
//! entity name, the programs (DPRK3, CYBER2 …), the tickers the address is listed under, the
//! SDN uid and the list's publication date in `attrs`. One address listed under several
//! tickers (ETH, USDT, ARB …) is one EVM label.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
};

use chaintrace_model::{Address, Category, Label};

use crate::{
    addr, date_in_path,
    xml::{walk, XmlEvent},
    Coverage, Format, LabelsError, ParseOptions, Parsed, Skipped,
};

/// The store source of every OFAC SDN label.
pub const SOURCE: &str = "ofac-sdn";
/// Entity of addresses from lists that carry no names.
pub const UNNAMED: &str = "OFAC SDN";
const MARKER: &str = "Digital Currency Address - ";
/// Confidence of labels read from OFAC's own files.
const CONF_OFFICIAL: u8 = 100;
/// Confidence of third-party extractions of the list (per-asset lists, address,name CSVs).
const CONF_EXTRACT: u8 = 95;

/// One listed address before validation.
#[derive(Clone, Debug, Default)]
struct Entry {
    location: String,
    ticker: String,
    address: String,
    entity: Option<String>,
    programs: Vec<String>,
    uid: Option<String>,
    extra: BTreeMap<String, String>,
}

/// `sanctioned_addresses_ETH.txt` → `ETH`.
pub fn ticker_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".txt").or_else(|| name.strip_suffix(".json"))?;
    let t = stem.strip_prefix("sanctioned_addresses_")?;
    (!t.is_empty() && t.len() <= 10 && t.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| t.to_ascii_uppercase())
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Validate and merge entries into one label per address.
fn build(
    path: &Path,
    format: Format,
    entries: Vec<Entry>,
    coverage: Coverage,
    list_date: Option<String>,
    confidence: u8,
) -> Parsed {
    let mut by_addr: BTreeMap<Address, Label> = BTreeMap::new();
    let mut skipped = Vec::new();
    for e in entries {
        let address = match addr::classify(&e.ticker, &e.address) {
            Ok(a) => a,
            Err(p) => {
                skipped.push(Skipped::new(e.location, Some(&e.ticker), &e.address, &p));
                continue;
            }
        };
        let label = by_addr.entry(address.clone()).or_insert_with(|| {
            let mut attrs = BTreeMap::new();
            attrs.insert("list".to_string(), "OFAC SDN".to_string());
            if let Some(d) = &list_date {
                attrs.insert("list_date".to_string(), d.clone());
            }
            Label {
                chain: None,
                address,
                category: Category::Sanctioned,
                entity: UNNAMED.to_string(),
                source: SOURCE.to_string(),
                confidence,
                attrs,
            }
        });
        if let Some(name) = e.entity.filter(|n| !n.trim().is_empty()) {
            if label.entity == UNNAMED {
                label.entity = name.trim().to_string();
            }
        }
        merge_set(&mut label.attrs, "tickers", std::iter::once(e.ticker.as_str()).filter(|t| !t.is_empty()));
        merge_set(&mut label.attrs, "programs", e.programs.iter().map(String::as_str));
        if let Some(uid) = e.uid {
            label.attrs.entry("sdn_uid".to_string()).or_insert(uid);
        }
        for (k, v) in e.extra {
            label.attrs.entry(k).or_insert(v);
        }
    }
    Parsed {
        files: vec![path.to_path_buf()],
        format,
        labels: by_addr.into_values().collect(),
        skipped,
        coverage: Some(coverage),
        list_date,
    }
}

/// Add `items` to the comma-separated set in `attrs[key]`.
pub(crate) fn merge_set<'a>(attrs: &mut BTreeMap<String, String>, key: &str, items: impl Iterator<Item = &'a str>) {
    let mut set: BTreeSet<String> =
        attrs.get(key).map(|v| split_list(v).map(str::to_string).collect()).unwrap_or_default();
    let before = set.len();
    set.extend(items.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
    if set.len() != before || !set.is_empty() {
        if set.is_empty() {
            attrs.remove(key);
        } else {
            attrs.insert(key.to_string(), set.into_iter().collect::<Vec<_>>().join(","));
        }
    }
}

/// The tickers a stored OFAC label is listed under.
pub fn tickers_of(label: &Label) -> BTreeSet<String> {
    label.attrs.get("tickers").map(|v| split_list(v).map(str::to_string).collect()).unwrap_or_default()
}

/// `DPRK3] [CYBER2` → `["DPRK3", "CYBER2"]`.
pub fn parse_programs(field: &str) -> Vec<String> {
    field
        .split("] [")
        .map(|p| p.trim().trim_matches(['[', ']']).trim().to_string())
        .filter(|p| !p.is_empty() && p != "-0-")
        .collect()
}

/// Every `Digital Currency Address - TICKER ADDRESS` in an SDN remarks text.
pub fn extract_currency_addresses(remarks: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = remarks;
    while let Some(i) = rest.find(MARKER) {
        rest = &rest[i + MARKER.len()..];
        let mut words = rest.splitn(2, char::is_whitespace);
        let ticker = words.next().unwrap_or("").trim();
        let after = words.next().unwrap_or("").trim_start();
        let address: String = after.chars().take_while(|c| !c.is_whitespace() && *c != ';').collect();
        let address = address.trim_end_matches(['.', ',']).to_string();
        if !ticker.is_empty() && !address.is_empty() {
            out.push((ticker.to_string(), address));
        }
    }
    out
}

fn null(field: &str) -> &str {
    let t = field.trim();
    if t == "-0-" {
        ""
    } else {
        t
    }
}

fn strip_eof(mut bytes: &[u8]) -> &[u8] {
    // OFAC's CSV files end with a DOS end-of-file byte (Ctrl-Z).
    while let [rest @ .., 0x1a | b'\r' | b'\n' | b' '] = bytes {
        bytes = rest;
    }
    bytes
}

fn csv_records(path: &Path, bytes: &[u8]) -> Result<Vec<(u64, csv::StringRecord)>, LabelsError> {
    let bytes = strip_eof(bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| crate::csv_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        out.push((line, rec));
    }
    Ok(out)
}

fn ent_num(path: &Path, line: u64, rec: &csv::StringRecord) -> Result<u64, LabelsError> {
    let f = rec.get(0).unwrap_or("").trim();
    f.parse::<u64>()
        .map_err(|_| LabelsError::parse(path, format!("line {line}"), format!("ent_num {f:?} is not a number")))
}

/// `sdn.csv` with its `sdn_comments.csv` (Remarks overflow, appended as is) and `add.csv`,
/// each given as (name, content).
pub fn parse_sdn_csv(
    path: &Path,
    bytes: &[u8],
    comments: &[(&Path, &[u8])],
    adds: &[(&Path, &[u8])],
    opts: &ParseOptions,
) -> Result<Parsed, LabelsError> {
    struct Row {
        line: u64,
        name: String,
        programs: Vec<String>,
        remarks: String,
    }
    let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
    for (line, rec) in csv_records(path, bytes)? {
        if rec.len() < 12 {
            return Err(LabelsError::parse(
                path,
                format!("line {line}"),
                format!("expected the 12 columns of sdn.csv, found {}", rec.len()),
            ));
        }
        let ent = ent_num(path, line, &rec)?;
        rows.insert(
            ent,
            Row {
                line,
                name: null(&rec[1]).to_string(),
                programs: parse_programs(null(&rec[3])),
                remarks: null(&rec[11]).to_string(),
            },
        );
    }
    let mut overflow: HashMap<u64, String> = HashMap::new();
    for &(c, c_bytes) in comments {
        for (line, rec) in csv_records(c, c_bytes)? {
            if rec.len() < 2 {
                return Err(LabelsError::parse(c, format!("line {line}"), "expected ent_num,remarks"));
            }
            let ent = ent_num(c, line, &rec)?;
            overflow.entry(ent).or_default().push_str(null(&rec[1]));
        }
    }
    let mut add_remarks: HashMap<u64, String> = HashMap::new();
    for &(a, a_bytes) in adds {
        for (line, rec) in csv_records(a, a_bytes)? {
            if rec.len() < 6 {
                return Err(LabelsError::parse(a, format!("line {line}"), "expected the 6 columns of add.csv"));
            }
            let ent = ent_num(a, line, &rec)?;
            let r = add_remarks.entry(ent).or_default();
            r.push_str("; ");
            r.push_str(null(&rec[5]));
        }
    }
    let mut entries = Vec::new();
    for (ent, row) in rows {
        let mut remarks = row.remarks.clone();
        if let Some(o) = overflow.get(&ent) {
            remarks.push_str(o);
        }
        if let Some(a) = add_remarks.get(&ent) {
            remarks.push_str(a);
        }
        for (ticker, address) in extract_currency_addresses(&remarks) {
            entries.push(Entry {
                location: format!("line {} (ent_num {ent})", row.line),
                ticker,
                address,
                entity: Some(row.name.clone()),
                programs: row.programs.clone(),
                uid: Some(ent.to_string()),
                extra: BTreeMap::new(),
            });
        }
    }
    let date = opts.list_date.clone().or_else(|| date_in_path(path));
    Ok(build(path, Format::OfacSdnCsv, entries, Coverage::All, date, CONF_OFFICIAL))
}

/// Per-asset lists (`sanctioned_addresses_<T>.txt|json`) and `address,name` /
/// `address,first_seen,label,source` extractions.
pub fn parse_list(path: &Path, bytes: &[u8], opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    let date = opts.list_date.clone().or_else(|| date_in_path(path));
    let text = std::str::from_utf8(bytes).map_err(|e| LabelsError::parse(path, "file", format!("not UTF-8: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    if let Some(ticker) = ticker_from_file_name(path) {
        let mut entries = Vec::new();
        if text.trim_start().starts_with('[') {
            let list: Vec<String> = serde_json::from_str(text).map_err(|e| {
                LabelsError::parse(
                    path,
                    format!("line {}", e.line()),
                    format!("expected a JSON array of addresses: {e}"),
                )
            })?;
            for (i, a) in list.into_iter().enumerate() {
                entries.push(Entry {
                    location: format!("item {}", i + 1),
                    ticker: ticker.clone(),
                    address: a,
                    ..Default::default()
                });
            }
        } else {
            for (i, line) in text.lines().enumerate() {
                let a = line.trim();
                if a.is_empty() || a.starts_with('#') {
                    continue;
                }
                if a.contains([',', ' ', '\t']) {
                    return Err(LabelsError::parse(
                        path,
                        format!("line {}", i + 1),
                        format!("expected one address per line, found {a:?}"),
                    ));
                }
                entries.push(Entry {
                    location: format!("line {}", i + 1),
                    ticker: ticker.clone(),
                    address: a.to_string(),
                    ..Default::default()
                });
            }
        }
        let cov = Coverage::Tickers(BTreeSet::from([ticker]));
        return Ok(build(path, Format::OfacList, entries, cov, date, CONF_EXTRACT));
    }
    // CSV extractions with a header.
    // `flexible`: the 2023 list has unquoted commas in its last column (source URLs).
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| LabelsError::parse(path, "line 1", format!("invalid CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let dated = headers == ["address", "first_seen", "label", "source"];
    if headers != ["address", "name"] && !dated {
        return Err(LabelsError::parse(
            path,
            "line 1",
            "expected header address,name or address,first_seen,label,source (or a file named sanctioned_addresses_<TICKER>.txt)",
        ));
    }
    let mut entries = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| crate::csv_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let address = rec.get(0).unwrap_or("").trim().to_string();
        if address.is_empty() {
            continue;
        }
        let mut extra = BTreeMap::new();
        let entity = if dated {
            if let Some(fs) = rec.get(1).map(str::trim).filter(|s| !s.is_empty()) {
                extra.insert("first_seen".to_string(), fs.to_string());
            }
            let reference = rec.iter().skip(3).collect::<Vec<_>>().join(",");
            if !reference.trim().is_empty() {
                extra.insert("reference".to_string(), reference.trim().to_string());
            }
            rec.get(2).map(str::to_string)
        } else {
            rec.get(1).map(str::to_string)
        };
        // An address,name extraction lists every 0x address of every ticker: the ticker is
        // unknown. The dated list is ETH only.
        let ticker = if dated { "ETH" } else { "" };
        entries.push(Entry {
            location: format!("line {line}"),
            ticker: ticker.to_string(),
            address,
            entity,
            extra,
            ..Default::default()
        });
    }
    // Only 0x addresses belong in these files: anything else is invalid, whatever the ticker.
    for e in &mut entries {
        if e.ticker.is_empty() && !e.address.trim_start().starts_with("0x") {
            e.ticker = "ETH".into();
        }
    }
    let cov = if dated { Coverage::Tickers(BTreeSet::from(["ETH".to_string()])) } else { Coverage::Evm };
    Ok(build(path, Format::OfacList, entries, cov, date, CONF_EXTRACT))
}

/// `MM/DD/YYYY` → `YYYY-MM-DD`.
fn us_date(s: &str) -> Option<String> {
    let mut it = s.trim().split('/');
    let (m, d, y) = (it.next()?, it.next()?, it.next()?);
    let (m, d, y): (u32, u32, u32) = (m.parse().ok()?, d.parse().ok()?, y.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// The legacy `SDN.XML`.
pub fn parse_legacy_xml(path: &Path, bytes: &[u8], opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    #[derive(Default)]
    struct Cur {
        uid: String,
        first: String,
        last: String,
        programs: Vec<String>,
        ids: Vec<(String, String)>,
        id_type: String,
        id_number: String,
    }
    let mut date = None;
    let mut cur: Option<Cur> = None;
    let mut entries = Vec::new();
    walk(path, bytes, |ev| {
        match ev {
            XmlEvent::Start { name, .. } => match name {
                "sdnEntry" => cur = Some(Cur::default()),
                "id" => {
                    if let Some(c) = cur.as_mut() {
                        c.id_type.clear();
                        c.id_number.clear();
                    }
                }
                _ => {}
            },
            XmlEvent::Text { path: p, text } => {
                let n = p.len();
                let last = p.last().map(String::as_str).unwrap_or("");
                let parent = if n >= 2 { p[n - 2].as_str() } else { "" };
                if last == "Publish_Date" {
                    date = us_date(text);
                }
                if let Some(c) = cur.as_mut() {
                    match (parent, last) {
                        ("sdnEntry", "uid") => c.uid = text.to_string(),
                        ("sdnEntry", "firstName") => c.first = text.to_string(),
                        ("sdnEntry", "lastName") => c.last = text.to_string(),
                        ("programList", "program") => c.programs.push(text.to_string()),
                        ("id", "idType") => c.id_type = text.to_string(),
                        ("id", "idNumber") => c.id_number = text.to_string(),
                        _ => {}
                    }
                }
            }
            XmlEvent::End { name } => match name {
                "id" => {
                    if let Some(c) = cur.as_mut() {
                        if let Some(t) = c.id_type.strip_prefix(MARKER) {
                            if c.id_number.is_empty() {
                                return Err(format!("{} without an idNumber", c.id_type));
                            }
                            let pair = (t.trim().to_string(), c.id_number.clone());
                            c.ids.push(pair);
                        }
                    }
                }
                "sdnEntry" => {
                    if let Some(c) = cur.take() {
                        let entity =
                            if c.first.is_empty() { c.last.clone() } else { format!("{}, {}", c.last, c.first) };
                        for (ticker, address) in c.ids {
                            entries.push(Entry {
                                location: format!("sdnEntry uid {}", c.uid),
                                ticker,
                                address,
                                entity: Some(entity.clone()),
                                programs: c.programs.clone(),
                                uid: Some(c.uid.clone()),
                                extra: BTreeMap::new(),
                            });
                        }
                    }
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    let date = opts.list_date.clone().or(date).or_else(|| date_in_path(path));
    Ok(build(path, Format::OfacSdnXml, entries, Coverage::All, date, CONF_OFFICIAL))
}

/// `SDN_ADVANCED.XML`: feature types from the reference value sets, names from each
/// profile's primary alias, programs from the sanctions entries' program measures.
pub fn parse_advanced_xml(path: &Path, bytes: &[u8], opts: &ParseOptions) -> Result<Parsed, LabelsError> {
    #[derive(Default)]
    struct St {
        feature_types: HashMap<String, String>,
        sanctions_types: HashMap<String, String>,
        cur_ref_id: String,
        year: String,
        month: String,
        day: String,
        profile: String,
        in_primary_alias: bool,
        name_taken: bool,
        collecting_name: bool,
        name_parts: Vec<String>,
        feature: Option<(String, String)>,
        /// (profile, feature id, feature type id, value)
        features: Vec<(String, String, String, String)>,
        names: HashMap<String, String>,
        entry_profile: String,
        measure_type: String,
        programs: HashMap<String, Vec<String>>,
        in_date_of_issue: bool,
    }
    let mut st = St::default();
    walk(path, bytes, |ev| {
        match ev {
            XmlEvent::Start { name, attrs } => match name {
                "FeatureType" | "SanctionsType" => st.cur_ref_id = attrs.get("ID").cloned().unwrap_or_default(),
                "DateOfIssue" => st.in_date_of_issue = true,
                "Profile" => {
                    st.profile = attrs.get("ID").cloned().unwrap_or_default();
                    st.name_taken = false;
                    st.name_parts.clear();
                }
                "Alias" => st.in_primary_alias = attrs.get("Primary").is_some_and(|v| v == "true"),
                "DocumentedName" if st.in_primary_alias && !st.name_taken => st.collecting_name = true,
                "Feature" => {
                    st.feature = Some((
                        attrs.get("ID").cloned().unwrap_or_default(),
                        attrs.get("FeatureTypeID").cloned().unwrap_or_default(),
                    ))
                }
                "SanctionsEntry" => st.entry_profile = attrs.get("ProfileID").cloned().unwrap_or_default(),
                "SanctionsMeasure" => st.measure_type = attrs.get("SanctionsTypeID").cloned().unwrap_or_default(),
                _ => {}
            },
            XmlEvent::Text { path: p, text } => {
                let n = p.len();
                let last = p.last().map(String::as_str).unwrap_or("");
                let parent = if n >= 2 { p[n - 2].as_str() } else { "" };
                match (parent, last) {
                    ("FeatureTypeValues", "FeatureType") => {
                        st.feature_types.insert(st.cur_ref_id.clone(), text.to_string());
                    }
                    ("SanctionsTypeValues", "SanctionsType") => {
                        st.sanctions_types.insert(st.cur_ref_id.clone(), text.to_string());
                    }
                    ("DateOfIssue", "Year") if st.in_date_of_issue => st.year = text.to_string(),
                    ("DateOfIssue", "Month") if st.in_date_of_issue => st.month = text.to_string(),
                    ("DateOfIssue", "Day") if st.in_date_of_issue => st.day = text.to_string(),
                    (_, "NamePartValue") if st.collecting_name => st.name_parts.push(text.to_string()),
                    ("FeatureVersion", "VersionDetail") => {
                        if let Some((fid, ftid)) = &st.feature {
                            let is_currency = st.feature_types.get(ftid).is_none_or(|t| t.starts_with(MARKER));
                            if is_currency {
                                st.features.push((st.profile.clone(), fid.clone(), ftid.clone(), text.to_string()));
                            }
                        }
                    }
                    ("SanctionsMeasure", "Comment") => {
                        let ty = st.sanctions_types.get(&st.measure_type).map(String::as_str);
                        if ty == Some("Program") || (ty.is_none() && st.measure_type == "1") {
                            st.programs.entry(st.entry_profile.clone()).or_default().push(text.to_string());
                        }
                    }
                    _ => {}
                }
            }
            XmlEvent::End { name } => match name {
                "DateOfIssue" => st.in_date_of_issue = false,
                "DocumentedName" if st.collecting_name => {
                    st.collecting_name = false;
                    st.name_taken = true;
                }
                "Alias" => st.in_primary_alias = false,
                "Feature" => st.feature = None,
                "Profile" if st.features.last().is_some_and(|f| f.0 == st.profile) && !st.name_parts.is_empty() => {
                    st.names.insert(st.profile.clone(), st.name_parts.join(" "));
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    let mut entries = Vec::new();
    for (profile, fid, ftid, value) in st.features {
        let Some(ticker) = st.feature_types.get(&ftid).and_then(|t| t.strip_prefix(MARKER)) else { continue };
        entries.push(Entry {
            location: format!("Feature ID {fid} (Profile {profile})"),
            ticker: ticker.trim().to_string(),
            address: value,
            entity: st.names.get(&profile).cloned(),
            programs: st.programs.get(&profile).cloned().unwrap_or_default(),
            uid: Some(profile),
            extra: BTreeMap::new(),
        });
    }
    let date = match (st.year.parse::<u32>(), st.month.parse::<u32>(), st.day.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(d)) => Some(format!("{y:04}-{m:02}-{d:02}")),
        _ => None,
    };
    let date = opts.list_date.clone().or(date).or_else(|| date_in_path(path));
    Ok(build(path, Format::OfacSdnAdvancedXml, entries, Coverage::All, date, CONF_OFFICIAL))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn remarks_and_programs() {
        let r = "DOB 1977; Digital Currency Address - XBT 12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h; alt. Digital Currency Address - ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96; Gender Male.";
        assert_eq!(
            extract_currency_addresses(r),
            vec![
                ("XBT".to_string(), "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h".to_string()),
                ("ETH".to_string(), "0x098B716B8Aaf21512996dC57EB0615e2383E2f96".to_string())
            ]
        );
        assert_eq!(parse_programs("DPRK3] [CYBER2"), vec!["DPRK3", "CYBER2"]);
        assert_eq!(parse_programs("SDNTK"), vec!["SDNTK"]);
        assert!(parse_programs("-0-").is_empty());
        assert_eq!(us_date("09/26/2024").as_deref(), Some("2024-09-26"));
    }

    #[test]
    fn ticker_from_names() {
        assert_eq!(ticker_from_file_name(Path::new("x/sanctioned_addresses_ETH.txt")).as_deref(), Some("ETH"));
        assert_eq!(ticker_from_file_name(Path::new("sanctioned_addresses_XBT.json")).as_deref(), Some("XBT"));
        assert_eq!(ticker_from_file_name(Path::new("data.csv")), None);
    }

    /// The structure documented in sambacha/ofac-list's README (real IDs), reduced.
    pub(crate) const ADVANCED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="http://www.un.org/sanctions/1.0">
  <DateOfIssue><Year>2024</Year><Month>9</Month><Day>26</Day></DateOfIssue>
  <ReferenceValueSets>
    <FeatureTypeValues>
      <FeatureType ID="344" FeatureTypeGroupID="1">Digital Currency Address - XBT</FeatureType>
      <FeatureType ID="345" FeatureTypeGroupID="1">Digital Currency Address - ETH</FeatureType>
      <FeatureType ID="887" FeatureTypeGroupID="1">Digital Currency Address - ARB</FeatureType>
      <FeatureType ID="25" FeatureTypeGroupID="1">Website</FeatureType>
      <FeatureType ID="900" FeatureTypeGroupID="1">Digital Currency Address - TRX</FeatureType>
    </FeatureTypeValues>
    <SanctionsTypeValues><SanctionsType ID="1">Program</SanctionsType><SanctionsType ID="2">Block</SanctionsType></SanctionsTypeValues>
  </ReferenceValueSets>
  <DistinctParties>
    <DistinctParty FixedRef="27307">
      <Profile ID="27307" PartySubTypeID="4">
        <Identity ID="9000" FixedRef="27307" Primary="true" False="false">
          <Alias FixedRef="27307" AliasTypeID="1400" Primary="false" LowQuality="false">
            <DocumentedName ID="1" FixedRef="27307" DocNameStatusID="2"><DocumentedNamePart><NamePartValue NamePartGroupID="1" ScriptID="215">HIDDEN COBRA</NamePartValue></DocumentedNamePart></DocumentedName>
          </Alias>
          <Alias FixedRef="27307" AliasTypeID="1403" Primary="true" LowQuality="false">
            <DocumentedName ID="2" FixedRef="27307" DocNameStatusID="1"><DocumentedNamePart><NamePartValue NamePartGroupID="2" ScriptID="215">LAZARUS GROUP</NamePartValue></DocumentedNamePart></DocumentedName>
          </Alias>
        </Identity>
        <Feature ID="36618" FeatureTypeID="345">
          <FeatureVersion ID="34337" ReliabilityID="1560"><Comment /><VersionDetail DetailTypeID="1432">0x098B716B8Aaf21512996dC57EB0615e2383E2f96</VersionDetail></FeatureVersion>
          <IdentityReference IdentityID="9000" IdentityFeatureLinkTypeID="1" />
        </Feature>
        <Feature ID="36619" FeatureTypeID="25">
          <FeatureVersion ID="34338" ReliabilityID="1560"><VersionDetail DetailTypeID="1432">www.example.com</VersionDetail></FeatureVersion>
        </Feature>
        <Feature ID="36620" FeatureTypeID="344">
          <FeatureVersion ID="34339" ReliabilityID="1560"><VersionDetail DetailTypeID="1432">1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb</VersionDetail></FeatureVersion>
        </Feature>
      </Profile>
    </DistinctParty>
    <DistinctParty FixedRef="42498">
      <Profile ID="42498" PartySubTypeID="4">
        <Identity ID="9001" FixedRef="42498" Primary="true" False="false">
          <Alias FixedRef="42498" AliasTypeID="1403" Primary="true" LowQuality="false">
            <DocumentedName ID="3" FixedRef="42498" DocNameStatusID="1"><DocumentedNamePart><NamePartValue NamePartGroupID="3" ScriptID="215">SIM</NamePartValue></DocumentedNamePart><DocumentedNamePart><NamePartValue NamePartGroupID="4" ScriptID="215">Hyon Sop</NamePartValue></DocumentedNamePart></DocumentedName>
          </Alias>
        </Identity>
        <Feature ID="50001" FeatureTypeID="887">
          <FeatureVersion ID="50002" ReliabilityID="1560"><VersionDetail DetailTypeID="1432">0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c</VersionDetail></FeatureVersion>
        </Feature>
        <Feature ID="50003" FeatureTypeID="900">
          <FeatureVersion ID="50004" ReliabilityID="1560"><VersionDetail DetailTypeID="1432">TXn8LKyqVpR8o9vAuDUHhqbKFKQD7zGvPL</VersionDetail></FeatureVersion>
        </Feature>
      </Profile>
    </DistinctParty>
  </DistinctParties>
  <SanctionsEntries>
    <SanctionsEntry ID="1" ProfileID="27307" ListID="1550">
      <SanctionsMeasure ID="10" SanctionsTypeID="1"><Comment>DPRK3</Comment></SanctionsMeasure>
      <SanctionsMeasure ID="11" SanctionsTypeID="2"><Comment /></SanctionsMeasure>
    </SanctionsEntry>
    <SanctionsEntry ID="2" ProfileID="42498" ListID="1550">
      <SanctionsMeasure ID="12" SanctionsTypeID="1"><Comment>NPWMD</Comment></SanctionsMeasure>
    </SanctionsEntry>
  </SanctionsEntries>
</Sanctions>"#;

    #[test]
    fn advanced_xml() {
        let (p, text) = (Path::new("SDN_ADVANCED.XML"), ADVANCED);
        assert_eq!(crate::detect_bytes(p, text.as_bytes(), None).unwrap(), Format::OfacSdnAdvancedXml);
        let parsed = parse_advanced_xml(p, text.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(parsed.list_date.as_deref(), Some("2024-09-26"));
        assert_eq!(parsed.labels.len(), 2, "{:?}", parsed.labels);
        let laz = parsed.labels.iter().find(|l| l.entity == "LAZARUS GROUP").unwrap();
        assert_eq!(laz.address.to_string(), "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
        assert_eq!(laz.attrs["programs"], "DPRK3");
        assert_eq!(laz.attrs["tickers"], "ETH");
        assert_eq!(laz.attrs["list_date"], "2024-09-26");
        let sim = parsed.labels.iter().find(|l| l.entity == "SIM Hyon Sop").unwrap();
        assert_eq!(sim.attrs["tickers"], "ARB");
        assert_eq!(sim.attrs["programs"], "NPWMD");
        // The bad-checksum XBT address is invalid, and so is the TRX one (its base58check
        // checksum fails: TRON addresses are checked like Bitcoin's).
        let kinds: Vec<_> = parsed.skipped.iter().map(|s| (s.kind, s.location.as_str())).collect();
        assert!(kinds.contains(&("invalid", "Feature ID 36620 (Profile 27307)")), "{kinds:?}");
        assert!(kinds.contains(&("invalid", "Feature ID 50003 (Profile 42498)")), "{kinds:?}");
    }

    #[test]
    fn legacy_xml() {
        let xml = r#"<?xml version="1.0" standalone="yes"?>
<sdnList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://tempuri.org/sdnList.xsd">
  <publshInformation><Publish_Date>09/26/2024</Publish_Date><Record_Count>2</Record_Count></publshInformation>
  <sdnEntry>
    <uid>27307</uid><lastName>LAZARUS GROUP</lastName><sdnType>Entity</sdnType>
    <programList><program>DPRK3</program></programList>
    <idList>
      <id><uid>1</uid><idType>Digital Currency Address - ETH</idType><idNumber>0x098B716B8Aaf21512996dC57EB0615e2383E2f96</idNumber></id>
      <id><uid>2</uid><idType>Digital Currency Address - USDT</idType><idNumber>0x098b716b8aaf21512996dc57eb0615e2383e2f96</idNumber></id>
      <id><uid>3</uid><idType>Website</idType><idNumber>x</idNumber></id>
    </idList>
  </sdnEntry>
  <sdnEntry>
    <uid>28263</uid><firstName>Yinyin</firstName><lastName>TIAN</lastName><sdnType>Individual</sdnType>
    <programList><program>DPRK3</program><program>CYBER2</program></programList>
    <idList><id><uid>4</uid><idType>Digital Currency Address - XBT</idType><idNumber>134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak</idNumber></id></idList>
  </sdnEntry>
</sdnList>"#;
        let (p, text) = (Path::new("SDN.XML"), xml);
        assert_eq!(crate::detect_bytes(p, text.as_bytes(), None).unwrap(), Format::OfacSdnXml);
        let parsed = parse_legacy_xml(p, text.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(parsed.list_date.as_deref(), Some("2024-09-26"));
        assert_eq!(parsed.labels.len(), 2);
        let laz = &parsed.labels.iter().find(|l| l.address.is_evm()).unwrap();
        assert_eq!(laz.attrs["tickers"], "ETH,USDT");
        assert_eq!(laz.attrs["sdn_uid"], "27307");
        let tian = parsed.labels.iter().find(|l| !l.address.is_evm()).unwrap();
        assert_eq!(tian.entity, "TIAN, Yinyin");
        assert_eq!(tian.attrs["programs"], "CYBER2,DPRK3");
    }

    #[test]
    fn truncated_xml_fails_with_element() {
        let (p, text) = (Path::new("SDN.XML"), "<sdnList>\n<sdnEntry>\n<uid>1</uid>\n");
        let err = parse_legacy_xml(p, text.as_bytes(), &ParseOptions::default()).unwrap_err().to_string();
        assert!(err.contains("SDN.XML") && err.contains("sdnList/sdnEntry"), "{err}");
    }
}
