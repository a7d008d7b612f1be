//! Text made safe for each output syntax.
//!
//! Every exporter passes free text (addresses, label entities and sources, stop reasons,
//! symbols) through one of these functions. The rules, shared by all formats so a label
//! looks the same everywhere:
//!
//! - **C0 control characters** other than tab, line feed and carriage return (U+0000–U+001F)
//!   and DEL (U+007F) cannot be carried by XML 1.0 (and confuse Graphviz and spreadsheets). They
//!   are replaced, deterministically, by their visible stand-ins from Unicode's *Control
//!   Pictures* block: U+0000 becomes `␀` (U+2400), U+001B becomes `␛` (U+241B), DEL becomes `␡`
//!   (U+2421). The replacement is one-way: the picture characters themselves pass through
//!   unchanged, so an exported file never holds a raw control byte.
//! - The non-characters U+FFFE and U+FFFF (also not XML 1.0 characters) become U+FFFD.
//! - Tab, line feed and carriage return are kept, written as character references where the
//!   syntax would otherwise normalise them away (XML attribute values, XML text for CR).
//! - Bytes that were not UTF-8 in a case file arrive as U+FFFD (the reader decodes lossily)
//!   and are ordinary characters from here on.
//!
//! JSON carries any text exactly (controls as `\u` escapes), so the Cytoscape export is not
//! cleaned; and every format's `labels` attribute holds the node's label list as JSON text,
//! so the exact original label text is recoverable even from GraphML, GEXF and CSV.

use std::borrow::Cow;

/// The visible stand-in for a character that no export may carry raw, if `c` is one.
pub fn stand_in(c: char) -> Option<char> {
    match c {
        '\t' | '\n' | '\r' => None,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32),
        '\u{7f}' => Some('\u{2421}'),
        '\u{fffe}' | '\u{ffff}' => Some('\u{fffd}'),
        _ => None,
    }
}

/// `text` with every control character (other than tab, LF, CR) replaced by its stand-in.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| stand_in(c).is_some()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| stand_in(c).unwrap_or(c)).collect())
}

/// How one output syntax writes text: the characters it writes otherwise than as themselves
/// (`rule`: their replacement, `""` for one it drops), and among printable ASCII exactly those
/// (`special`), so that text of printable ASCII without them — addresses, hashes, amounts and
/// most labels — is copied whole instead of a character at a time. Every other character is
/// written as itself, or as its [`stand_in`].
struct Syntax {
    special: &'static [u8],
    rule: fn(char) -> Option<&'static str>,
}

impl Syntax {
    fn escape(&self, text: &str) -> String {
        if text.bytes().all(|b| (0x20..0x7f).contains(&b) && !self.special.contains(&b)) {
            return text.to_owned();
        }
        self.by_char(text)
    }

    fn by_char(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            match (self.rule)(c) {
                Some(r) => out.push_str(r),
                None => out.push(stand_in(c).unwrap_or(c)),
            }
        }
        out
    }
}

/// The entities XML and HTML share: `&`, `<`, `>` and `"` (each syntax writes `'` its own way).
fn markup(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    }
}

/// XML: the five predefined entities, and tab/LF/CR as character references so that
/// attribute-value normalisation and end-of-line handling give them back unchanged.
const XML: Syntax = Syntax {
    special: b"&<>\"'",
    rule: |c| match c {
        '\'' => Some("&apos;"),
        '\t' => Some("&#9;"),
        '\n' => Some("&#10;"),
        '\r' => Some("&#13;"),
        c => markup(c),
    },
};

/// HTML: the entities, and CR as a reference; newlines stay newlines (CSS decides how they
/// show).
const HTML: Syntax = Syntax {
    special: b"&<>\"'",
    rule: |c| match c {
        '\'' => Some("&#39;"),
        '\r' => Some("&#13;"),
        c => markup(c),
    },
};

/// The inside of a double-quoted DOT string: Graphviz reads `\"` as a quote and gives other
/// backslash sequences meaning in labels (`\n`, `\l`, `\N`, …), so a literal backslash is
/// doubled; a newline becomes `\n` (a centred line break), CR is dropped and tab becomes a
/// space.
const DOT: Syntax = Syntax {
    special: b"\"\\",
    rule: |c| match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\n' => Some("\\n"),
        '\r' => Some(""),
        '\t' => Some(" "),
        _ => None,
    },
};

/// Escape for an XML attribute value (either quote style) or XML text content: the five
/// predefined entities, tab/LF/CR as character references so attribute-value normalisation
/// and end-of-line handling give them back unchanged, and controls replaced as by [`clean`].
pub fn xml(text: &str) -> String {
    XML.escape(text)
}

/// Escape for HTML text and attribute values (double-quoted). Newlines stay newlines (CSS
/// decides how they show); controls are replaced as by [`clean`].
pub fn html(text: &str) -> String {
    HTML.escape(text)
}

/// The inside of a double-quoted DOT string: a literal backslash doubled (Graphviz gives
/// backslash sequences meaning in labels), newlines as `\n`, CR dropped, tab as a space, and
/// controls replaced as by [`clean`].
pub fn dot(text: &str) -> String {
    DOT.escape(text)
}

/// A CSV cell that no spreadsheet will evaluate: controls replaced by [`clean`], and a cell
/// that begins with `=`, `+`, `-`, `@`, tab or CR (which Excel, LibreOffice and Google Sheets
/// treat as the start of a formula) is prefixed with an apostrophe (OWASP's recommendation).
/// Quoting of commas, quotes and newlines is left to the CSV writer (RFC 4180).
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let cleaned = clean(text);
    match cleaned.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cleaned}")),
        _ => cleaned,
    }
}

/// A long address shortened for a picture: `0x1234…abcd`.
pub fn short_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 14 {
        return address.to_string();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        let mut cut: String = head.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        head
    }
}

/// A case's `usd_source` code in a few words: `price table FILE`, `chainlink feed 0x… round N`,
/// `shipped daily table`, `stablecoin peg 1.00`; an unknown code as it is.
pub fn usd_source_label(code: &str) -> String {
    match code.split_once(':') {
        Some(("table", file)) => format!("price table {file}"),
        Some(("feed", rest)) => match rest.rsplit_once(':') {
            Some((feed, round)) => format!("chainlink feed {feed} round {round}"),
            None => format!("chainlink feed {rest}"),
        },
        _ => match code {
            "shipped" => "shipped daily table".to_string(),
            "peg" => "stablecoin peg 1.00".to_string(),
            other => other.to_string(),
        },
    }
}

/// The kind of a `usd_source` code, to print beside a figure: `table`, `feed`, `shipped`, `peg`.
pub fn usd_source_kind(code: &str) -> &str {
    code.split(':').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_pictures() {
        assert_eq!(clean("a\u{0}b\u{1b}c\u{7f}"), "a\u{2400}b\u{241b}c\u{2421}");
        assert_eq!(clean("tab\tlf\ncr\r"), "tab\tlf\ncr\r");
        assert_eq!(clean("\u{fffe}"), "\u{fffd}");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn xml_escapes_everything_that_matters() {
        assert_eq!(xml(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
        assert_eq!(xml("l1\nl2\r\tx"), "l1&#10;l2&#13;&#9;x");
        assert_eq!(xml("\u{1}"), "\u{2401}");
    }

    #[test]
    fn csv_neutralises_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "'\rx");
        assert_eq!(csv_cell("Binance"), "Binance");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    proptest::proptest! {
        /// The whole-text fast path gives what the character loop gives, for any text.
        #[test]
        fn plain_text_is_copied_as_the_loop_would_write_it(text in "\\PC*|[\\x00-\\x7f]{0,40}|[a-z0-9&<>\"'\\\\ ]{0,20}") {
            for syntax in [&XML, &HTML, &DOT] {
                proptest::prop_assert_eq!(syntax.escape(&text), syntax.by_char(&text));
            }
        }
    }

    /// A syntax's `special` bytes are exactly the printable ASCII its rule writes otherwise
    /// than as themselves (a byte missing would be copied raw by the fast path).
    #[test]
    fn special_bytes_are_the_rules_printable_ascii() {
        for syntax in [&XML, &HTML, &DOT] {
            let ruled: Vec<u8> = (0x20u8..0x7f).filter(|&b| (syntax.rule)(b as char).is_some()).collect();
            let mut special = syntax.special.to_vec();
            special.sort_unstable();
            assert_eq!(ruled, special);
        }
    }

    #[test]
    fn dot_strings() {
        assert_eq!(dot(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(dot("l1\nl2"), "l1\\nl2");
    }

    #[test]
    fn shortening() {
        assert_eq!(short_address("0x00112233445566778899aabbccddeeff00112233"), "0x0011…2233");
        assert_eq!(short_address("bc1qshort"), "bc1qshort");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn usd_sources_read_as_words() {
        assert_eq!(usd_source_label("table:prices.csv"), "price table prices.csv");
        assert_eq!(usd_source_label("feed:0xabc:42"), "chainlink feed 0xabc round 42");
        assert_eq!(usd_source_label("shipped"), "shipped daily table");
        assert_eq!(usd_source_label("peg"), "stablecoin peg 1.00");
        assert_eq!(usd_source_label("other"), "other");
        assert_eq!(usd_source_kind("feed:0xabc:42"), "feed");
        assert_eq!(usd_source_kind("table:C:/p.csv"), "table");
        assert_eq!(usd_source_kind("peg"), "peg");
    }
}
