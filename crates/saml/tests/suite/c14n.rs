//! Exclusive canonicalization against the W3C recommendation's own example and the rules it
//! states; `dsig` checks it again against xmlsec1's signatures.

use refettorio_saml::xml::{exclusive_c14n, parse};

fn c14n_of(xml: &str, apex: &str, inclusive: &[&str]) -> String {
    let doc = parse(xml).unwrap();
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == apex)
        .unwrap();
    exclusive_c14n(&doc, node, None, inclusive).unwrap()
}

/// xml-exc-c14n §2.2: the apex renders only the namespaces it uses, and `n3` again where it is
/// used although an ancestor outside the apex declared it.
#[test]
fn the_recommendations_example_renders_only_the_namespaces_used() {
    let xml = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
    assert_eq!(
        c14n_of(xml, "elem2", &[]),
        r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
    // With n3 in the inclusive list it is rendered on the apex, and not again below.
    assert_eq!(
        c14n_of(xml, "elem2", &["n3"]),
        r#"<n1:elem2 xmlns:n1="http://example.net" xmlns:n3="ftp://example.org" xml:lang="en"><n3:stuff></n3:stuff></n1:elem2>"#
    );
}

#[test]
fn attributes_are_sorted_by_namespace_then_name_and_values_escaped() {
    let xml = "<r xmlns:b=\"urn:b\" xmlns:a=\"urn:a\"><e z=\"1\" b:y=\"2\" a:x=\"3&amp;&lt;&quot;&#9;&#10;&#13;\" a=\"4\"/></r>";
    assert_eq!(
        c14n_of(xml, "e", &[]),
        "<e xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"4\" z=\"1\" a:x=\"3&amp;&lt;&quot;&#x9;&#xA;&#xD;\" b:y=\"2\"></e>"
    );
}

#[test]
fn text_is_escaped_line_ends_normalized_comments_dropped_and_references_expanded() {
    let xml = "<r>a &amp; b &lt; c &gt; d\r\ne&#13;f <!-- gone --><![CDATA[<g>]]> Citt\u{e0} &#x20AC;</r>";
    assert_eq!(
        c14n_of(xml, "r", &[]),
        "<r>a &amp; b &lt; c &gt; d\ne&#xD;f &lt;g&gt; Citt\u{e0} \u{20ac}</r>"
    );
}

#[test]
fn the_default_namespace_is_rendered_where_used_and_undone_with_an_empty_one() {
    let xml = r#"<p:r xmlns:p="urn:p" xmlns="urn:d"><a><b xmlns=""><c/></b></a></p:r>"#;
    assert_eq!(
        c14n_of(xml, "a", &[]),
        r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
    );
    // An apex without a namespace under a default one renders no `xmlns=""`: no output
    // ancestor rendered a default namespace.
    assert_eq!(c14n_of(xml, "b", &[]), "<b><c></c></b>");
    // The default namespace through the inclusive list's `#default`.
    assert_eq!(
        c14n_of(
            r#"<r xmlns="urn:d"><p:e xmlns:p="urn:p"/></r>"#,
            "e",
            &["#default"]
        ),
        r#"<p:e xmlns="urn:d" xmlns:p="urn:p"></p:e>"#
    );
}

#[test]
fn a_dtd_and_too_deep_a_document_are_refused() {
    let dtd = r#"<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>"#;
    assert!(parse(dtd).is_err());
    let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    assert!(parse(&deep).is_err());
    let fine = format!("{}{}", "<a>".repeat(20), "</a>".repeat(20));
    assert!(parse(&fine).is_ok());
}
