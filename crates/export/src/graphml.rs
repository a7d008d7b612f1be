//! GraphML (<http://graphml.graphdrawing.org/>): a typed `<key>` per attribute, directed
//! edges with ids, graph-level keys for the case's provenance. Opens in yEd, Gephi,
//! Cytoscape desktop and networkx (`read_graphml`; parallel transfers make it a
//! `MultiDiGraph`).

use std::borrow::Cow;

use quick_xml::{
    events::{attributes::Attribute, BytesDecl, BytesEnd, BytesStart, BytesText, Event},
    name::QName,
    Writer,
};

use crate::{
    graph::{edge_values, node_values, Graph, EDGE_ATTRS, NODE_ATTRS},
    text,
};

/// An attribute whose value is escaped by [`text::xml`] (which, unlike quick-xml's own
/// escaping, also protects tab/LF/CR from attribute-value normalisation).
pub(crate) fn attr<'a>(key: &'a str, value: &str) -> Attribute<'a> {
    Attribute { key: QName(key.as_bytes()), value: Cow::Owned(text::xml(value).into_bytes()) }
}

pub(crate) fn xml_text(value: &str) -> BytesText<'static> {
    BytesText::from_escaped(text::xml(value))
}

pub(crate) struct Xml(pub(crate) Writer<Vec<u8>>);

impl Xml {
    pub(crate) fn new() -> Self {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect("write to memory");
        Xml(w)
    }

    pub(crate) fn event(&mut self, e: Event<'_>) {
        self.0.write_event(e).expect("write to memory");
    }

    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute(attr(k, v));
        }
        self.event(Event::Start(start));
    }

    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute(attr(k, v));
        }
        self.event(Event::Empty(start));
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    pub(crate) fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], value: &str) {
        self.open(name, attrs);
        self.event(Event::Text(xml_text(value)));
        self.close(name);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = self.0.into_inner();
        out.push(b'\n');
        out
    }
}

const GRAPH_KEYS: &[&str] = &["chain", "seeds", "case_version", "tool_version", "labels_hash", "params"];

/// The case as a GraphML document (UTF-8, ends with a newline).
pub fn render(graph: &Graph<'_>) -> Vec<u8> {
    let case = graph.case;
    let mut x = Xml::new();
    x.open(
        "graphml",
        &[
            ("xmlns", "http://graphml.graphdrawing.org/xmlns"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:schemaLocation",
                "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd",
            ),
        ],
    );
    for name in GRAPH_KEYS {
        let id = format!("g_{name}");
        x.empty("key", &[("id", &id), ("for", "graph"), ("attr.name", name), ("attr.type", "string")]);
    }
    for spec in NODE_ATTRS {
        let id = format!("n_{}", spec.name);
        x.empty("key", &[("id", &id), ("for", "node"), ("attr.name", spec.name), ("attr.type", spec.ty.graphml())]);
    }
    for spec in EDGE_ATTRS {
        let id = format!("e_{}", spec.name);
        x.empty("key", &[("id", &id), ("for", "edge"), ("attr.name", spec.name), ("attr.type", spec.ty.graphml())]);
    }
    x.open("graph", &[("id", "case"), ("edgedefault", "directed")]);
    let params = serde_json::to_string(&case.params).expect("params serialise: plain values");
    let graph_values = [
        ("chain", case.chain.clone()),
        ("seeds", case.seeds.join(" ")),
        ("case_version", case.version.to_string()),
        ("tool_version", case.provenance.tool_version.clone()),
        ("labels_hash", case.provenance.labels_hash.clone()),
        ("params", params),
    ];
    for (name, value) in &graph_values {
        if !value.is_empty() {
            x.text_element("data", &[("key", &format!("g_{name}"))], value);
        }
    }
    for (i, node) in graph.nodes().iter().enumerate() {
        x.open("node", &[("id", &graph.node_id(i))]);
        for (spec, value) in node_values(node) {
            x.text_element("data", &[("key", &format!("n_{}", spec.name))], &value.render());
        }
        x.close("node");
    }
    for (i, edge) in graph.edges().iter().enumerate() {
        let (source, target) = graph.edge_ids(edge);
        x.open("edge", &[("id", &format!("e{i}")), ("source", &source), ("target", &target)]);
        for (spec, value) in edge_values(edge) {
            x.text_element("data", &[("key", &format!("e_{}", spec.name))], &value.render());
        }
        x.close("edge");
    }
    x.close("graph");
    x.close("graphml");
    x.finish()
}

#[cfg(test)]
mod tests {
    use chaintrace_model::{CaseFile, CaseNode, NodeLabel, Role};
    use proptest::prelude::*;
    use quick_xml::{events::Event, Reader};

    use super::*;

    fn case_with_entity(entity: &str) -> CaseFile {
        CaseFile {
            nodes: vec![CaseNode {
                address: "a".into(),
                chain: String::new(),
                hop: 0,
                role: Role::Seed,
                labels: vec![NodeLabel { category: "other".into(), entity: entity.into(), source: entity.into() }],
                stop_reason: Some(entity.into()),
                cluster: None,
            }],
            ..crate::test_case(1, "a", "poison", 1)
        }
    }

    /// The text of `<data key="{key}">` in a GraphML document, unescaped by an XML reader.
    fn data_text(xml: &[u8], key: &str) -> Option<String> {
        let mut reader = Reader::from_reader(xml);
        let mut inside = false;
        let mut text = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) if e.name().as_ref() == b"data" => {
                    inside = e
                        .try_get_attribute("key")
                        .expect("attribute")
                        .is_some_and(|a| a.unescape_value().expect("unescape") == key);
                }
                Event::Text(t) if inside => text.push_str(&t.unescape().expect("unescape")),
                Event::End(e) if e.name().as_ref() == b"data" && inside => return Some(text),
                Event::Eof => return None,
                _ => {}
            }
        }
    }

    proptest! {
        #[test]
        fn any_label_text_round_trips_through_graphml(entity in "\\PC*|[\\x00-\\x7f\\u{fffe}\\u{ffff}]{0,40}") {
            let case = case_with_entity(&entity);
            let graph = Graph::new(&case).unwrap();
            let xml = render(&graph);
            let expected = text::clean(&entity).into_owned();
            if !expected.is_empty() {
                prop_assert_eq!(data_text(&xml, "n_stop_reason"), Some(expected.clone()));
                prop_assert_eq!(data_text(&xml, "n_entities"), Some(expected));
            }
        }
    }

    #[test]
    fn hostile_text_round_trips() {
        for entity in ["a\"b'c<d>&e", "line1\nline2\r\nx\ty", "\u{0}\u{1b}\u{7f}", "=cmd|' /C calc'!A0", "caf\u{fffd}"]
        {
            let case = case_with_entity(entity);
            let xml = render(&Graph::new(&case).unwrap());
            assert_eq!(data_text(&xml, "n_stop_reason").as_deref(), Some(&*text::clean(entity)), "{entity:?}");
        }
    }
}
