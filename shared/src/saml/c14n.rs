//! Exclusive XML Canonicalization 1.0, without comments (W3C `xml-exc-c14n#`), of one
//! element's subtree, optionally leaving out one descendant (the enveloped signature). It is
//! the only canonicalization the signature check accepts, so it is the only one here.

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Node, NodeId};

use super::xml::{prefix_of, qname};

/// The canonical bytes of `node`'s subtree without `exclude`; `inclusive` is the
/// transform's `InclusiveNamespaces PrefixList` (`#default` names the default namespace).
pub fn exclusive(node: Node<'_, '_>, exclude: Option<NodeId>, inclusive: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(node.range().len());
    let inclusive: Vec<&str> = inclusive.iter().map(|p| if p == "#default" { "" } else { p.as_str() }).collect();
    element(node, exclude, &inclusive, &BTreeMap::new(), &mut out);
    out
}

/// The namespace URI `prefix` is bound to at `node` (the default namespace for ""; none
/// bound is "").
fn binding<'a>(node: Node<'a, '_>, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        Some(node.default_namespace().unwrap_or(""))
    } else {
        node.lookup_namespace_uri(Some(prefix))
    }
}

fn element<'a>(
    node: Node<'a, '_>,
    exclude: Option<NodeId>,
    inclusive: &[&str],
    rendered: &BTreeMap<String, String>,
    out: &mut Vec<u8>,
) {
    let input = node.document().input_text();
    let name = qname(node);
    // The prefixes this element visibly uses (its own, its attributes'), and those the
    // transform asks to keep wherever they are in scope.
    let mut used: BTreeSet<&str> = BTreeSet::from([prefix_of(name)]);
    let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::new();
    for a in node.attributes() {
        let aq = input.get(a.range_qname()).unwrap_or(a.name());
        let p = if aq.contains(':') { prefix_of(aq) } else { "" };
        if !p.is_empty() {
            used.insert(p);
        }
        attrs.push((a.namespace().unwrap_or(""), a.name(), aq, a.value()));
    }
    for p in inclusive {
        if p.is_empty() || node.lookup_namespace_uri(Some(p)).is_some() {
            used.insert(p);
        }
    }
    let mut scope = rendered.clone();
    let mut decls: Vec<(&str, &str)> = Vec::new();
    for p in used {
        if p == "xml" {
            continue;
        }
        let Some(uri) = binding(node, p) else { continue };
        // Nothing rendered above reads as the empty binding: `xmlns=""` only undoes a
        // default an output ancestor declared.
        if scope.get(p).map(String::as_str).unwrap_or("") != uri {
            decls.push((p, uri));
            scope.insert(p.to_owned(), uri.to_owned());
        }
    }
    attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    for (p, uri) in decls {
        out.extend_from_slice(if p.is_empty() { b" xmlns=\"".as_slice() } else { b" xmlns:".as_slice() });
        if !p.is_empty() {
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attr(uri, out);
        out.push(b'"');
    }
    for (_, _, aq, value) in attrs {
        out.push(b' ');
        out.extend_from_slice(aq.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attr(value, out);
        out.push(b'"');
    }
    out.push(b'>');
    for child in node.children() {
        if Some(child.id()) == exclude {
            continue;
        }
        if child.is_element() {
            element(child, exclude, inclusive, &scope, out);
        } else if child.is_text() {
            escape_text(child.text().unwrap_or(""), out);
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn escape_text(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

fn escape_attr(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' => out.extend_from_slice(b"&#x9;"),
            '\n' => out.extend_from_slice(b"&#xA;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::xml::{Limits, parse};

    const L: Limits = Limits { max_bytes: 100_000, max_nodes: 10_000, max_depth: 20 };

    fn c14n(xml: &str, inclusive: &[&str]) -> String {
        let doc = parse(xml, L).unwrap();
        let incl: Vec<String> = inclusive.iter().map(|s| s.to_string()).collect();
        String::from_utf8(exclusive(doc.root_element(), None, &incl)).unwrap()
    }

    #[test]
    fn namespaces_only_where_used_attributes_sorted_escaped() {
        let xml = r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u" z="1" b:y="2" a="&lt;&#x9;&quot;">
  <a:child>x &amp; y &gt; z<!-- gone --></a:child><plain/><b:leaf/>
</a:root>"#;
        assert_eq!(
            c14n(xml, &[]),
            "<a:root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"&lt;&#x9;&quot;\" z=\"1\" b:y=\"2\">\n  \
             <a:child>x &amp; y &gt; z</a:child><plain></plain><b:leaf></b:leaf>\n</a:root>"
        );
    }

    #[test]
    fn default_namespace_and_inclusive_prefixes() {
        let xml = r#"<r xmlns="urn:d" xmlns:xs="urn:xs"><e xmlns=""/><f/></r>"#;
        assert_eq!(c14n(xml, &[]), r#"<r xmlns="urn:d"><e xmlns=""></e><f></f></r>"#);
        assert_eq!(c14n(xml, &["xs"]), r#"<r xmlns="urn:d" xmlns:xs="urn:xs"><e xmlns=""></e><f></f></r>"#);
        // An inherited binding is declared on the subtree's top element.
        let doc = parse(r#"<o xmlns:p="urn:p"><p:in p:a="1"><p:x/></p:in></o>"#, L).unwrap();
        let inner = doc.root_element().first_element_child().unwrap();
        assert_eq!(
            String::from_utf8(exclusive(inner, None, &[])).unwrap(),
            r#"<p:in xmlns:p="urn:p" p:a="1"><p:x></p:x></p:in>"#
        );
    }
}
