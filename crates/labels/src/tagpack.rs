//! GraphSense TagPacks (YAML): a header whose tag fields every tag inherits, and a list of
//! tags. Validated like graphsense-tagpack-tool does: mandatory fields, field types, and the
//! confidence / concept / tag-type taxonomies. A pack that fails validation is not imported.
//!
//! The schema and taxonomies below mirror `tagpack_schema.yaml`, `confidence.csv`,
//! `concepts.yaml` and `tag_types.csv` of graphsense-tagpack-tool; a test checks them against
//! those files.

use std::{collections::BTreeMap, path::Path};

use chaintrace_model::{Category, Label};
use serde_yaml::Value;

use crate::{addr, stem, Format, LabelsError, Parsed, Skipped};

/// The type a TagPack field must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A string (numbers are accepted as text).
    Text,
    /// `true` or `false`.
    Boolean,
    /// A date or date-time.
    Datetime,
    /// A YAML sequence.
    List,
}

/// (field, type, mandatory) of the header.
pub const HEADER_FIELDS: &[(&str, FieldType, bool)] = &[
    ("title", FieldType::Text, true),
    ("creator", FieldType::Text, true),
    ("description", FieldType::Text, false),
    ("owner", FieldType::Text, false),
    ("is_public", FieldType::Boolean, false),
    ("tags", FieldType::List, true),
];

/// (field, type, mandatory) of a tag (after inheriting header fields).
pub const TAG_FIELDS: &[(&str, FieldType, bool)] = &[
    ("label", FieldType::Text, true),
    ("source", FieldType::Text, true),
    ("currency", FieldType::Text, true),
    ("network", FieldType::Text, true),
    ("context", FieldType::Text, false),
    ("confidence", FieldType::Text, true),
    ("is_cluster_definer", FieldType::Boolean, false),
    ("lastmod", FieldType::Datetime, false),
    ("category", FieldType::Text, false),
    ("abuse", FieldType::Text, false),
    ("address", FieldType::Text, false),
    ("tx_hash", FieldType::Text, false),
    ("actor", FieldType::Text, false),
    ("concepts", FieldType::List, false),
    ("tag_type", FieldType::Text, false),
];

/// The confidence taxonomy: id → level (0–100).
pub const CONFIDENCE: &[(&str, u8)] = &[
    ("override", 100),
    ("ownership", 100),
    ("ledger_immanent", 100),
    ("manual_transaction", 90),
    ("service_api", 70),
    ("forensic_investigation", 70),
    ("authority_data", 60),
    ("trusted_provider", 50),
    ("service_data", 50),
    ("forensic", 50),
    ("untrusted_transaction", 40),
    ("web_crawl", 20),
    ("heuristic", 10),
    ("unknown", 5),
];

/// Allowed values of a tag's `tag_type`.
pub const TAG_TYPES: &[&str] = &["actor", "event", "mention"];

/// The concept taxonomy: id → broader concept.
pub const CONCEPTS: &[(&str, Option<&str>)] = &[
    ("concept", None),
    ("unknown", Some("concept")),
    ("behaviour", Some("concept")),
    ("source", Some("concept")),
    ("mention", Some("source")),
    ("website_mention", Some("mention")),
    ("forum_mention", Some("website_mention")),
    ("abuse", Some("behaviour")),
    ("gray_usage", Some("behaviour")),
    ("mixing", Some("gray_usage")),
    ("white_usage", Some("behaviour")),
    ("sexual_abuse", Some("abuse")),
    ("child_sexual_abuse", Some("sexual_abuse")),
    ("violence", Some("abuse")),
    ("human_trafficking", Some("abuse")),
    ("murder", Some("violence")),
    ("torture", Some("violence")),
    ("scam", Some("abuse")),
    ("financial_crime", Some("abuse")),
    ("investment_fraud", Some("financial_crime")),
    ("ponzi_scheme", Some("investment_fraud")),
    ("pyramid_scheme", Some("ponzi_scheme")),
    ("money_laundering", Some("financial_crime")),
    ("extortion", Some("abuse")),
    ("sextortion", Some("extortion")),
    ("phishing", Some("abuse")),
    ("hacking", Some("abuse")),
    ("service_hack", Some("hacking")),
    ("account_hack", Some("hacking")),
    ("exploit", Some("hacking")),
    ("data_breach", Some("hacking")),
    ("social_engineering", Some("hacking")),
    ("malware", Some("hacking")),
    ("drugs", Some("abuse")),
    ("weapons", Some("abuse")),
    ("payment_card_fraud", Some("financial_crime")),
    ("ransomware", Some("extortion")),
    ("sanction", Some("abuse")),
    ("counterfeit", Some("abuse")),
    ("extremism", Some("abuse")),
    ("terrorism", Some("extremism")),
    ("terrorism_financing", Some("extremism")),
    ("dark_web", Some("source")),
    ("entity", Some("concept")),
    ("organization", Some("entity")),
    ("user", Some("entity")),
    ("service", Some("entity")),
    ("victim", Some("user")),
    ("perpetrator", Some("user")),
    ("donation", Some("user")),
    ("exchange", Some("service")),
    ("wallet_service", Some("service")),
    ("escrow_wallet", Some("wallet_service")),
    ("ico_wallet", Some("wallet_service")),
    ("cold_wallet", Some("white_usage")),
    ("hot_wallet", Some("white_usage")),
    ("warm_wallet", Some("white_usage")),
    ("filesharing", Some("service")),
    ("index", Some("service")),
    ("market", Some("service")),
    ("messaging_service", Some("service")),
    ("mixing_service", Some("service")),
    ("coinjoin", Some("mixing")),
    ("miner", Some("user")),
    ("mining_service", Some("service")),
    ("gambling", Some("service")),
    ("search_engine", Some("service")),
    ("shop", Some("service")),
    ("faucet", Some("service")),
    ("payment_processor", Some("service")),
    ("atm", Some("service")),
    ("hosting", Some("service")),
    ("vpn", Some("service")),
    ("nameservice", Some("service")),
    ("defi", Some("service")),
    ("defi_token", Some("defi")),
    ("defi_lending", Some("defi")),
    ("defi_dex", Some("defi")),
    ("defi_dex_pair", Some("defi_dex")),
    ("defi_derivatives", Some("defi")),
    ("defi_bridge", Some("defi")),
    ("defi_dao", Some("defi")),
    ("defi_staking", Some("defi")),
    ("defi_custody", Some("defi")),
    ("item", Some("concept")),
    ("collectible", Some("item")),
];

fn broader(concept: &str) -> Option<&'static str> {
    CONCEPTS.iter().find(|(c, _)| *c == concept).and_then(|(_, b)| *b)
}

fn is_concept(concept: &str) -> bool {
    CONCEPTS.iter().any(|(c, _)| *c == concept)
}

/// Map a GraphSense concept to a SPEC category by walking up its broader concepts.
pub fn concept_category(concept: &str) -> Category {
    let mut cur = Some(concept);
    let mut steps = 0;
    while let Some(c) = cur {
        let hit = match c {
            "sanction" => Some(Category::Sanctioned),
            "exchange" => Some(Category::Exchange),
            "mixing_service" | "mixing" | "coinjoin" => Some(Category::Mixer),
            "defi_bridge" => Some(Category::Bridge),
            "defi_dex" => Some(Category::Dex),
            "scam" | "financial_crime" | "phishing" | "extortion" => Some(Category::Scam),
            "service" => Some(Category::Service),
            _ => None,
        };
        if hit.is_some() {
            return hit.unwrap_or(Category::Other);
        }
        steps += 1;
        if steps > 32 {
            break;
        }
        cur = broader(c);
    }
    Category::Other
}

fn type_ok(v: &Value, t: FieldType) -> bool {
    match t {
        FieldType::Text => matches!(v, Value::String(_) | Value::Number(_)),
        FieldType::Boolean => matches!(v, Value::Bool(_)),
        FieldType::List => matches!(v, Value::Sequence(_)),
        FieldType::Datetime => match v {
            Value::String(s) => is_datetime(s),
            _ => false,
        },
    }
}

fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field_type(name: &str, header: bool) -> Option<FieldType> {
    let list = if header { HEADER_FIELDS } else { TAG_FIELDS };
    list.iter().find(|(n, _, _)| *n == name).map(|(_, t, _)| *t)
}

/// The 1-based line of the first occurrence of `needle` at or after line `from`.
fn find_line(src: &str, needle: &str, from: usize) -> Option<usize> {
    src.lines().enumerate().skip(from.saturating_sub(1)).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1)
}

/// Parse and validate one TagPack. Source: `tagpack:<file stem>`.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, LabelsError> {
    let src = std::str::from_utf8(bytes).map_err(|e| LabelsError::parse(path, "file", format!("not UTF-8: {e}")))?;
    let doc: Value = serde_yaml::from_str(src).map_err(|e| {
        let loc = e.location().map(|l| format!("line {}", l.line())).unwrap_or_else(|| "file".into());
        LabelsError::parse(path, loc, format!("invalid YAML: {e}"))
    })?;
    let Value::Mapping(map) = doc else {
        return Err(LabelsError::parse(path, "line 1", "a TagPack is a YAML mapping with a header and tags"));
    };
    let source = format!("tagpack:{}", stem(path));
    // Header: its own fields plus tag fields that every tag inherits.
    let mut inherited: BTreeMap<String, Value> = BTreeMap::new();
    let mut header: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in &map {
        let Some(k) = k.as_str() else {
            return Err(LabelsError::parse(path, "header", "header keys must be strings"));
        };
        let line = find_line(src, &format!("{k}:"), 1).map(|l| format!("line {l}")).unwrap_or_else(|| "header".into());
        if let Some(t) = field_type(k, true) {
            if !type_ok(v, t) {
                return Err(LabelsError::parse(path, line, format!("header field {k} must be {t:?}")));
            }
            header.insert(k.to_string(), v.clone());
        } else if let Some(t) = field_type(k, false) {
            if !type_ok(v, t) {
                return Err(LabelsError::parse(path, line, format!("field {k} must be {t:?}")));
            }
            inherited.insert(k.to_string(), v.clone());
        } else {
            return Err(LabelsError::parse(path, line, format!("field {k} is not allowed in a TagPack header")));
        }
    }
    for (name, _, mandatory) in HEADER_FIELDS {
        if *mandatory && !header.contains_key(*name) {
            return Err(LabelsError::parse(path, "header", format!("mandatory header field {name} is missing")));
        }
    }
    let title = header.get("title").and_then(text).unwrap_or_default();
    let Some(Value::Sequence(tags)) = header.get("tags") else {
        return Err(LabelsError::parse(path, "header", "tags must be a list"));
    };

    let mut labels: BTreeMap<(chaintrace_model::Address, Category, String), Label> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut search_from = find_line(src, "tags:", 1).unwrap_or(1);
    for (i, tag) in tags.iter().enumerate() {
        let n = i + 1;
        let Value::Mapping(tmap) = tag else {
            return Err(LabelsError::parse(path, format!("tag {n}"), "a tag must be a mapping"));
        };
        // Locate the tag in the text for messages: by its address when it has one.
        let addr_text = tmap.get("address").and_then(text);
        let line = addr_text.as_deref().and_then(|a| find_line(src, a, search_from));
        if let Some(l) = line {
            search_from = l;
        }
        let loc = match line {
            Some(l) => format!("line {l} (tag {n})"),
            None => format!("tag {n}"),
        };
        let mut fields = inherited.clone();
        for (k, v) in tmap {
            let Some(k) = k.as_str() else {
                return Err(LabelsError::parse(path, &loc, "tag keys must be strings"));
            };
            let Some(t) = field_type(k, false) else {
                return Err(LabelsError::parse(path, &loc, format!("field {k} is not allowed in a tag")));
            };
            if !type_ok(v, t) {
                return Err(LabelsError::parse(path, &loc, format!("field {k} must be {t:?}")));
            }
            fields.insert(k.to_string(), v.clone());
        }
        // Older packs give only `currency`; the tool derives `network` from it (and back).
        if !fields.contains_key("network") {
            if let Some(c) = fields.get("currency").cloned() {
                fields.insert("network".into(), c);
            }
        }
        if !fields.contains_key("currency") {
            if let Some(c) = fields.get("network").cloned() {
                fields.insert("currency".into(), c);
            }
        }
        for (name, _, mandatory) in TAG_FIELDS {
            if *mandatory && !fields.contains_key(*name) {
                return Err(LabelsError::parse(path, &loc, format!("mandatory field {name} is missing")));
            }
        }
        let get = |k: &str| fields.get(k).and_then(text);
        let confidence_id = get("confidence").unwrap_or_default();
        let Some(confidence) = CONFIDENCE.iter().find(|(c, _)| *c == confidence_id).map(|(_, l)| *l) else {
            return Err(LabelsError::parse(
                path,
                &loc,
                format!("confidence {confidence_id:?} is not in the confidence taxonomy"),
            ));
        };
        let mut concepts: Vec<String> = Vec::new();
        for k in ["category", "abuse"] {
            if let Some(c) = get(k) {
                if !is_concept(&c) {
                    return Err(LabelsError::parse(path, &loc, format!("{k} {c:?} is not in the concept taxonomy")));
                }
            }
        }
        if let Some(Value::Sequence(cs)) = fields.get("concepts") {
            for c in cs {
                let c = text(c).unwrap_or_default();
                if !is_concept(&c) {
                    return Err(LabelsError::parse(
                        path,
                        &loc,
                        format!("concept {c:?} is not in the concept taxonomy"),
                    ));
                }
                concepts.push(c);
            }
        }
        if let Some(t) = get("tag_type") {
            if !TAG_TYPES.contains(&t.as_str()) {
                return Err(LabelsError::parse(
                    path,
                    &loc,
                    format!("tag_type {t:?} is not one of actor, event, mention"),
                ));
            }
        }
        let currency = get("currency").unwrap_or_default();
        let network = get("network").unwrap_or_default();
        let Some(address_text) = get("address") else {
            if get("tx_hash").is_none() {
                return Err(LabelsError::parse(path, &loc, "a tag needs an address or a tx_hash"));
            }
            skipped.push(Skipped {
                location: loc,
                ticker: Some(currency),
                address: get("tx_hash").unwrap_or_default(),
                kind: "unsupported",
                reason: "transaction tags are not address labels".into(),
            });
            continue;
        };
        let ticker = if network.is_empty() { currency.clone() } else { network.clone() };
        let address = match addr::classify(&ticker, &address_text) {
            Ok(a) => a,
            Err(p) => {
                skipped.push(Skipped::new(loc, Some(&ticker), &address_text, &p));
                continue;
            }
        };
        // Category: a sanction anywhere wins, then the category, then the abuse, then concepts.
        let cat_of = |c: Option<String>| c.map(|c| concept_category(&c));
        let from_cat = cat_of(get("category"));
        let from_abuse = cat_of(get("abuse"));
        let from_concepts: Vec<Category> = concepts.iter().map(|c| concept_category(c)).collect();
        let all: Vec<Category> = from_cat.into_iter().chain(from_abuse).chain(from_concepts.iter().copied()).collect();
        let category = if all.contains(&Category::Sanctioned) {
            Category::Sanctioned
        } else {
            all.iter().copied().find(|c| *c != Category::Other).unwrap_or(Category::Other)
        };
        let label_text = get("label").unwrap_or_default();
        let entity = get("actor").filter(|a| !a.is_empty()).unwrap_or_else(|| label_text.clone());
        let mut attrs = BTreeMap::new();
        attrs.insert("label".to_string(), label_text);
        attrs.insert("reference".to_string(), get("source").unwrap_or_default());
        attrs.insert("currency".to_string(), currency);
        attrs.insert("network".to_string(), network);
        attrs.insert("tagpack".to_string(), title.clone());
        attrs.insert("confidence_id".to_string(), confidence_id);
        for k in ["category", "abuse", "actor", "lastmod", "context", "tag_type"] {
            if let Some(v) = get(k) {
                attrs.insert(if k == "category" { "concept".to_string() } else { k.to_string() }, v);
            }
        }
        if let Some(Value::Bool(b)) = fields.get("is_cluster_definer") {
            attrs.insert("is_cluster_definer".into(), b.to_string());
        }
        if !concepts.is_empty() {
            attrs.insert("concepts".into(), concepts.join(","));
        }
        // One address tagged for several currencies of one EVM space is one label.
        let key = (address.clone(), category, entity.clone());
        match labels.get_mut(&key) {
            Some(existing) => {
                crate::ofac::merge_set(&mut existing.attrs, "currency", std::iter::once(attrs["currency"].as_str()));
                existing.confidence = existing.confidence.max(confidence);
            }
            None => {
                labels.insert(
                    key,
                    Label { chain: None, address, category, entity, source: source.clone(), confidence, attrs },
                );
            }
        }
    }
    Ok(Parsed::single(path, Format::Tagpack, labels.into_values().collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pack's text, as a file named `pack.yaml` would give it.
    fn pack(text: &str) -> Result<Parsed, LabelsError> {
        parse(Path::new("pack.yaml"), text.as_bytes())
    }

    #[test]
    fn header_fields_are_inherited() {
        let p = "title: t\ncreator: c\nconfidence: service_data\ncategory: exchange\nsource: https://x\nactor: binance\nlabel: Binance\ntags:\n- address: '0x28c6c06298d514db089934071355e5743bf21d60'\n  currency: ETH\n- address: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n  currency: BTC\n  abuse: sanction\n- address: TXn8LKyqVpR8o9vAuDUHhqbKFKQD7zGvPL\n  currency: TRX\n";
        let parsed = pack(p).unwrap();
        assert_eq!(parsed.labels.len(), 2);
        let eth = parsed.labels.iter().find(|l| l.address.is_evm()).unwrap();
        assert_eq!((eth.category, eth.entity.as_str(), eth.confidence), (Category::Exchange, "binance", 50));
        assert_eq!(eth.source, "tagpack:pack");
        let btc = parsed.labels.iter().find(|l| !l.address.is_evm()).unwrap();
        assert_eq!(btc.category, Category::Sanctioned);
        // The TRX tag's address fails its base58check checksum.
        assert_eq!(parsed.skipped.len(), 1);
        assert_eq!(parsed.skipped[0].kind, "invalid");
    }

    #[test]
    fn schema_violations_fail_the_pack() {
        let p = "title: t\ncreator: c\nsource: s\nlabel: l\ntags:\n- address: '0x28c6c06298d514db089934071355e5743bf21d60'\n  currency: ETH\n";
        let err = pack(p).unwrap_err().to_string();
        assert!(err.contains("line 6 (tag 1)") && err.contains("confidence"), "{err}");
        let p = "title: t\ncreator: c\nconfidence: very_sure\nsource: s\nlabel: l\ntags:\n- address: '0x28c6c06298d514db089934071355e5743bf21d60'\n  currency: ETH\n";
        assert!(pack(p).unwrap_err().to_string().contains("confidence taxonomy"));
        let p = "title: t\ncreator: c\nconfidence: web_crawl\nsource: s\nlabel: l\ncategory: bank\ntags: []\n";
        // An empty pack with a bad inherited category is still only checked per tag.
        assert!(pack(p).is_ok());
        let p = "title: t\ncolour: red\ntags: []\n";
        assert!(pack(p).unwrap_err().to_string().contains("colour"));
        let p = "title: [t\n";
        assert!(pack(p).unwrap_err().to_string().contains("invalid YAML"));
    }

    #[test]
    fn concepts_map_to_categories() {
        assert_eq!(concept_category("exchange"), Category::Exchange);
        assert_eq!(concept_category("coinjoin"), Category::Mixer);
        assert_eq!(concept_category("mixing_service"), Category::Mixer);
        assert_eq!(concept_category("defi_dex_pair"), Category::Dex);
        assert_eq!(concept_category("defi_bridge"), Category::Bridge);
        assert_eq!(concept_category("pyramid_scheme"), Category::Scam);
        assert_eq!(concept_category("ransomware"), Category::Scam);
        assert_eq!(concept_category("gambling"), Category::Service);
        assert_eq!(concept_category("service_hack"), Category::Other);
        assert_eq!(concept_category("user"), Category::Other);
        assert_eq!(concept_category("sanction"), Category::Sanctioned);
    }
}
