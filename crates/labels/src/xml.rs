//! A small streaming XML walker over quick-xml: element starts with attributes, text with the
//! element path, element ends. No DTD is processed and no entity other than the five XML
//! predefined ones and character references is expanded, so a hostile file cannot make the
//! parser allocate more than one element's text (capped).

use std::{collections::BTreeMap, path::Path};

use quick_xml::{events::Event, Reader};

use crate::LabelsError;

/// Longest text of one element we accept (an address is < 200 bytes; names < 1 KB).
const MAX_TEXT: usize = 64 * 1024;
/// Deepest nesting we accept.
const MAX_DEPTH: usize = 64;

pub(crate) enum XmlEvent<'a> {
    Start { name: &'a str, attrs: &'a BTreeMap<String, String> },
    Text { path: &'a [String], text: &'a str },
    End { name: &'a str },
}

/// The 1-based line of byte `offset` of `bytes` (computed only when reporting an error).
fn line_of(bytes: &[u8], offset: u64) -> u64 {
    let end = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    1 + bytes[..end].iter().filter(|b| **b == b'\n').count() as u64
}

/// Walk the XML document `bytes` (named `path` in errors), calling `f` for each event. `f`
/// returns an error message to abort; the error then names the file, the line and the element
/// path.
pub(crate) fn walk(
    path: &Path,
    bytes: &[u8],
    mut f: impl FnMut(XmlEvent<'_>) -> Result<(), String>,
) -> Result<(), LabelsError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut attrs = BTreeMap::new();
    let fail = |reader: &Reader<&[u8]>, stack: &[String], msg: String| {
        let line = format!("line {}", line_of(bytes, reader.buffer_position()));
        let element = if stack.is_empty() { String::new() } else { format!(", element {}", stack.join("/")) };
        LabelsError::parse(path, format!("{line}{element}"), msg)
    };
    loop {
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => return Err(fail(&reader, &stack, format!("invalid XML: {e}"))),
        };
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                attrs.clear();
                for a in e.attributes() {
                    let a = a.map_err(|err| fail(&reader, &stack, format!("invalid attribute: {err}")))?;
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let value = a
                        .unescape_value()
                        .map_err(|err| fail(&reader, &stack, format!("invalid attribute value: {err}")))?;
                    attrs.insert(key, value.into_owned());
                }
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(fail(&reader, &stack, format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let name = stack.last().expect("just pushed").clone();
                f(XmlEvent::Start { name: &name, attrs: &attrs }).map_err(|m| fail(&reader, &stack, m))?;
                if is_empty {
                    f(XmlEvent::End { name: &name }).map_err(|m| fail(&reader, &stack, m))?;
                    stack.pop();
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                f(XmlEvent::End { name: &name }).map_err(|m| fail(&reader, &stack, m))?;
            }
            Event::Text(t) => {
                if t.len() > MAX_TEXT {
                    return Err(fail(&reader, &stack, format!("text longer than {MAX_TEXT} bytes")));
                }
                let text = t.unescape().map_err(|e| fail(&reader, &stack, format!("invalid text: {e}")))?;
                f(XmlEvent::Text { path: &stack, text: text.trim() }).map_err(|m| fail(&reader, &stack, m))?;
            }
            Event::CData(t) => {
                if t.len() > MAX_TEXT {
                    return Err(fail(&reader, &stack, format!("text longer than {MAX_TEXT} bytes")));
                }
                let text = String::from_utf8_lossy(&t).into_owned();
                f(XmlEvent::Text { path: &stack, text: text.trim() }).map_err(|m| fail(&reader, &stack, m))?;
            }
            Event::DocType(_) => {
                return Err(fail(
                    &reader,
                    &stack,
                    "a DOCTYPE is not allowed in an OFAC list (no DTD is processed)".into(),
                ));
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(fail(&reader, &stack, "file ends inside an element".into()));
                }
                return Ok(());
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
pub(crate) fn walk_str(text: &str, f: impl FnMut(XmlEvent<'_>) -> Result<(), String>) -> Result<(), LabelsError> {
    walk(Path::new("<memory>"), text.as_bytes(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_not_expanded() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<sdnList><x>&lol2;</x></sdnList>"#;
        let err = walk_str(bomb, |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("DOCTYPE"), "{err}");
        let undefined = "<sdnList><x>&lol2;</x></sdnList>";
        let err = walk_str(undefined, |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("sdnList/x"), "{err}");
    }

    #[test]
    fn mismatched_end_is_an_error_with_position() {
        let err = walk_str("<a>\n<b>\n</a>", |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("invalid XML"), "{err}");
    }
}
