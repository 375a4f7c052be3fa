//! Untrusted XML read as a tree, with limits: no DTD (so no entities beyond the five
//! predefined ones, no external references: XXE and billion laughs cannot start), no
//! processing instructions, a cap on bytes, nodes and depth.

use roxmltree::{Document, Node, ParsingOptions};

/// Why a document was refused, for the error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a document may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_nodes: u32,
    pub max_depth: usize,
}

pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

pub fn parse(text: &str, limits: Limits) -> Result<Document<'_>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError(format!("is larger than {} bytes", limits.max_bytes)));
    }
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: limits.max_nodes, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(text, opts).map_err(|e| XmlError(describe(e)))?;
    check_shape(&doc, limits.max_depth)?;
    Ok(doc)
}

fn describe(e: roxmltree::Error) -> String {
    match e {
        roxmltree::Error::DtdDetected => "contains a DTD, which is not accepted".into(),
        roxmltree::Error::NodesLimitReached => "has too many nodes".into(),
        other => format!("is not well-formed XML ({other})"),
    }
}

/// Depth and processing instructions, checked without recursion.
fn check_shape(doc: &Document<'_>, max_depth: usize) -> Result<(), XmlError> {
    let mut stack: Vec<(Node<'_, '_>, usize)> = vec![(doc.root(), 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(XmlError(format!("is nested deeper than {max_depth} levels")));
        }
        if node.is_pi() {
            return Err(XmlError("contains a processing instruction".into()));
        }
        stack.extend(node.children().filter(|c| c.is_element() || c.is_pi()).map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// The element children of `node` named `ns:local`.
pub fn children<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, local: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local)
}

/// The one element child `ns:local` of `node`: none or two is an error naming it.
pub fn only_child<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, local: &'a str) -> Result<Node<'a, 'i>, XmlError> {
    let mut it = children(node, ns, local);
    match (it.next(), it.next()) {
        (Some(n), None) => Ok(n),
        (None, _) => Err(XmlError(format!("{local} is missing"))),
        (Some(_), Some(_)) => Err(XmlError(format!("{local} appears more than once"))),
    }
}

/// At most one element child `ns:local`.
pub fn optional_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> Result<Option<Node<'a, 'i>>, XmlError> {
    let mut it = children(node, ns, local);
    match (it.next(), it.next()) {
        (n, None) => Ok(n),
        _ => Err(XmlError(format!("{local} appears more than once"))),
    }
}

/// All text beneath `node`, in document order, comments skipped: a comment splitting a value
/// (`user@example.com<!---->.evil.test`) cannot make it read as its first part.
pub fn text_of(node: Node<'_, '_>) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect()
}

/// The element's qualified name as written (`saml:Assertion`): roxmltree keeps only the
/// expanded name, and canonical XML needs the prefix.
pub fn qname<'i>(node: Node<'_, 'i>) -> &'i str {
    let input = node.document().input_text();
    let start = node.range().start + 1;
    let rest = input.get(start..).unwrap_or("");
    let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
    &rest[..end]
}

pub fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { max_bytes: 10_000, max_nodes: 1000, max_depth: 10 };

    #[test]
    fn refuses_dtds_entities_and_instructions() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(parse(xxe, L).unwrap_err().0.contains("DTD"));
        let laughs = r#"<!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;">]><a>&l2;</a>"#;
        assert!(parse(laughs, L).is_err());
        assert!(parse("<a><?php x?></a>", L).unwrap_err().0.contains("processing"));
        assert!(parse("<a>&unknown;</a>", L).is_err());
    }

    #[test]
    fn caps_size_nodes_and_depth() {
        assert!(parse(&format!("<a>{}</a>", "x".repeat(10_001)), L).is_err());
        assert!(parse(&format!("<a>{}</a>", "<b/>".repeat(1001)), L).unwrap_err().0.contains("nodes"));
        let deep = format!("{}{}", "<a>".repeat(12), "</a>".repeat(12));
        assert!(parse(&deep, L).unwrap_err().0.contains("deeper"));
        assert!(parse(&format!("{}{}", "<a>".repeat(9), "</a>".repeat(9)), L).is_ok());
    }

    #[test]
    fn text_joins_across_comments() {
        let doc = parse("<n>user@example.com<!---->.evil.test</n>", L).unwrap();
        assert_eq!(text_of(doc.root_element()), "user@example.com.evil.test");
        let doc = parse(r#"<p:e xmlns:p="u" a="1"/>"#, L).unwrap();
        assert_eq!(qname(doc.root_element()), "p:e");
    }
}
