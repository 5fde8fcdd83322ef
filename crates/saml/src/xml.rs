//! The one parse of a SAML message and exclusive XML canonicalization (W3C
//! `http://www.w3.org/2001/10/xml-exc-c14n#`, without comments) of an element.
//!
//! roxmltree resolves namespaces, expands character and entity references and normalizes line
//! ends and attribute values, as canonicalization expects of its input; it does not keep the
//! prefixes an element or attribute was written with, so they are read back from the source
//! text (`range`, `range_qname`), which canonicalization must reproduce.

use roxmltree::{Document, Node, NodeId, NodeType, ParsingOptions};

use crate::{Error, Result};

/// Nodes a message may have: an identity provider's answer has a few hundred.
pub const MAX_NODES: u32 = 20_000;

/// Elements inside elements, at most: SAML nests a dozen deep.
pub const MAX_DEPTH: usize = 64;

/// Parses a message: no DTD (so no entity of ours to expand, no external reference), at most
/// [`MAX_NODES`] nodes and [`MAX_DEPTH`] levels.
pub fn parse(text: &str) -> Result<Document<'_>> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        entity_resolver: None,
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| Error::Xml(e.to_string()))?;
    // Depth in document order: a parent comes before its children.
    let mut depth = vec![0usize; doc.descendants().count() + 1];
    for n in doc.descendants().filter(Node::is_element) {
        let d = n
            .parent()
            .map_or(0, |p| depth.get(p.id().get_usize()).copied().unwrap_or(0))
            + 1;
        if d > MAX_DEPTH {
            return Err(Error::Xml(format!(
                "nested deeper than {MAX_DEPTH} elements"
            )));
        }
        if let Some(slot) = depth.get_mut(n.id().get_usize()) {
            *slot = d;
        }
    }
    Ok(doc)
}

/// The prefix an element or attribute was written with (`""` for none).
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// The qualified name of an element as written: `<ds:Signature …` gives `ds:Signature`.
fn element_qname<'a>(doc: &'a Document<'_>, node: Node<'_, '_>) -> &'a str {
    let rest = doc.input_text().get(node.range().start + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Exclusive canonical form of `apex` and its descendants, leaving out the subtree of `omit`
/// (the enveloped signature). `inclusive` is the `InclusiveNamespaces PrefixList` (`#default`
/// for the default namespace): those prefixes are rendered as inclusive canonicalization would.
pub fn exclusive_c14n(
    doc: &Document<'_>,
    apex: Node<'_, '_>,
    omit: Option<NodeId>,
    inclusive: &[&str],
) -> Result<String> {
    if !apex.is_element() {
        return Err(Error::Xml("only an element can be canonicalized".into()));
    }
    let mut out = String::with_capacity(doc.input_text().len());
    let mut rendered: Vec<(String, String)> = Vec::new();
    element(doc, apex, omit, inclusive, &mut rendered, &mut out, 0)?;
    Ok(out)
}

fn element(
    doc: &Document<'_>,
    node: Node<'_, '_>,
    omit: Option<NodeId>,
    inclusive: &[&str],
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Xml(format!(
            "nested deeper than {MAX_DEPTH} elements"
        )));
    }
    let qname = element_qname(doc, node);
    let src = doc.input_text();
    // The namespaces this element visibly uses: its own prefix's (the default one when it has
    // none), its attributes' prefixes, and the inclusive list's that are in scope.
    let mut used: Vec<(&str, &str)> = Vec::new();
    let own = prefix_of(qname);
    used.push((own, node.tag_name().namespace().unwrap_or("")));
    for a in node.attributes() {
        let p = prefix_of(src.get(a.range_qname()).unwrap_or(""));
        if !p.is_empty() {
            used.push((p, a.namespace().unwrap_or("")));
        }
    }
    for p in inclusive {
        let (prefix, uri) = if *p == "#default" {
            ("", node.lookup_namespace_uri(None))
        } else {
            (*p, node.lookup_namespace_uri(Some(p)))
        };
        if let Some(uri) = uri {
            used.push((prefix, uri));
        }
    }
    used.sort_unstable();
    used.dedup();
    let mark = rendered.len();
    let mut declarations: Vec<(&str, &str)> = Vec::new();
    for (prefix, uri) in used {
        if prefix == "xml" {
            continue;
        }
        let before = rendered
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str());
        let render = if prefix.is_empty() && uri.is_empty() {
            // `xmlns=""` only to undo a default namespace an output ancestor rendered.
            matches!(before, Some(u) if !u.is_empty())
        } else {
            before != Some(uri)
        };
        if render {
            declarations.push((prefix, uri));
        }
    }
    out.push('<');
    out.push_str(qname);
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attribute(uri, out);
        out.push('"');
        rendered.push(((*prefix).to_string(), (*uri).to_string()));
    }
    let mut attributes: Vec<_> = node
        .attributes()
        .map(|a| {
            (
                a.namespace().unwrap_or(""),
                a.name(),
                src.get(a.range_qname()).unwrap_or(a.name()),
                a.value(),
            )
        })
        .collect();
    attributes.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
    for (_, _, name, value) in attributes {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_attribute(value, out);
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        if Some(child.id()) == omit {
            continue;
        }
        match child.node_type() {
            NodeType::Element => {
                element(doc, child, omit, inclusive, rendered, out, depth + 1)?;
            }
            NodeType::Text => escape_text(child.text().unwrap_or(""), out),
            NodeType::PI => {
                if let Some(pi) = child.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(value) = pi.value {
                        out.push(' ');
                        out.push_str(value);
                    }
                    out.push_str("?>");
                }
            }
            NodeType::Comment | NodeType::Root => {}
        }
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
    rendered.truncate(mark);
    Ok(())
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// The element children of `node` (text between them is layout).
pub fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(Node::is_element)
}

/// Whether `node` is the element `name` in namespace `ns`.
pub fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

/// `s` escaped for XML text and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
