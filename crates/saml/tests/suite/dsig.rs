//! Enveloped signatures: ours verify with ours and with xmlsec1 (the tool spid-sp-test and
//! the identity providers' libraries use), xmlsec1's verify with ours, and every way of
//! tampering or wrapping is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use refettorio_saml::dsig::{PublicKey, SigningKey, sign_enveloped, verify_enveloped};
use refettorio_saml::xml::parse;

struct Keys {
    signing: SigningKey,
    public: PublicKey,
    key_pem: String,
    cert_pem: String,
}

fn keys() -> Keys {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    Keys {
        signing: SigningKey::new(&pair.serialize_der(), cert.der().to_vec()).unwrap(),
        public: PublicKey::from_certificate(cert.der()).unwrap(),
        key_pem: pair.serialize_pem(),
        cert_pem: cert.pem(),
    }
}

const METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:spid="https://spid.gov.it/saml-extensions" ID="_a1" entityID="http://127.0.0.1/t/demo/spid/metadata"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true"><md:AssertionConsumerService index="0" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1/t/demo/spid/acs"/></md:SPSSODescriptor>
  <md:Organization><md:OrganizationName xml:lang="it">Comune di Prova &amp; Citt&#224;</md:OrganizationName></md:Organization>
  <md:ContactPerson contactType="other"><md:Extensions><spid:IPACode>c_x000</spid:IPACode><spid:Public/></md:Extensions></md:ContactPerson>
</md:EntityDescriptor>"#;

/// Right after the root's start tag.
fn after_start_tag(xml: &str) -> usize {
    xml.find('>').unwrap() + 1
}

fn verify_root(xml: &str, keys: &[PublicKey]) -> Result<(), refettorio_saml::Error> {
    let doc = parse(xml).unwrap();
    verify_enveloped(&doc, doc.root_element(), keys)
}

#[test]
fn what_we_sign_verifies_and_any_change_or_other_key_is_refused() {
    let k = keys();
    let signed = sign_enveloped(METADATA, "_a1", after_start_tag(METADATA), &k.signing).unwrap();
    verify_root(&signed, std::slice::from_ref(&k.public)).unwrap();

    let changed = signed.replace("c_x000", "c_x001");
    assert!(verify_root(&changed, std::slice::from_ref(&k.public)).is_err());
    let other = keys();
    assert!(verify_root(&signed, std::slice::from_ref(&other.public)).is_err());
    // One trusted key among several is enough (an identity provider rolling its keys).
    verify_root(&signed, &[other.public.clone(), k.public.clone()]).unwrap();
    // A message signed with a key of its own, carried in KeyInfo, is not trusted.
    let forged =
        sign_enveloped(METADATA, "_a1", after_start_tag(METADATA), &other.signing).unwrap();
    assert!(verify_root(&forged, std::slice::from_ref(&k.public)).is_err());
}

#[test]
fn the_profile_refuses_sha1_xslt_objects_foreign_references_and_duplicate_ids() {
    let k = keys();
    let signed = sign_enveloped(METADATA, "_a1", after_start_tag(METADATA), &k.signing).unwrap();
    let trusted = std::slice::from_ref(&k.public);
    let cases = [
        (
            "sha1 digest",
            signed.replace(
                "http://www.w3.org/2001/04/xmlenc#sha256",
                "http://www.w3.org/2000/09/xmldsig#sha1",
            ),
        ),
        (
            "xslt transform",
            signed.replace(
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"></ds:Transform>",
            ),
        ),
        (
            "object",
            signed.replace("</ds:Signature>", "<ds:Object><x/></ds:Object></ds:Signature>"),
        ),
        ("reference elsewhere", signed.replace("URI=\"#_a1\"", "URI=\"#_b2\"")),
        ("empty reference", signed.replace("URI=\"#_a1\"", "URI=\"\"")),
        (
            "duplicate id",
            signed.replace("<md:Organization>", "<md:Organization ID=\"_a1\">"),
        ),
        (
            "two signatures",
            signed.replace(
                "<md:SPSSODescriptor",
                &format!("{}<md:SPSSODescriptor", &signed[signed.find("<ds:Signature").unwrap()..signed.find("</ds:Signature>").unwrap() + 15]),
            ),
        ),
    ];
    for (what, xml) in cases {
        assert_ne!(xml, signed, "{what}: the case changed nothing");
        assert!(verify_root(&xml, trusted).is_err(), "{what} was accepted");
    }
}

/// Whether xmlsec1 can run; without it, fails in CI and skips (with a notice) elsewhere.
fn xmlsec1_available() -> bool {
    if Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "xmlsec1 is missing (apt-get install xmlsec1): the signature cross-checks must run in CI"
    );
    eprintln!("NOTICE: xmlsec1 is missing (apt-get install xmlsec1): cross-checks skipped");
    false
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("refettorio-saml-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn xmlsec1(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("xmlsec1")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// xmlsec1's verification of a signed metadata file in `dir` with `cert.pem` there.
fn verify_metadata(dir: &Path, file: &str) -> std::process::Output {
    xmlsec1(
        dir,
        &[
            "--verify",
            "--pubkey-cert-pem",
            "cert.pem",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            file,
        ],
    )
}

#[test]
fn xmlsec1_verifies_what_we_sign() {
    if !xmlsec1_available() {
        return;
    }
    let k = keys();
    let dir = scratch("ours");
    let signed = sign_enveloped(METADATA, "_a1", after_start_tag(METADATA), &k.signing).unwrap();
    std::fs::write(dir.join("signed.xml"), &signed).unwrap();
    std::fs::write(dir.join("cert.pem"), &k.cert_pem).unwrap();
    let out = verify_metadata(&dir, "signed.xml");
    assert!(
        out.status.success(),
        "xmlsec1 refused our signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a changed copy is refused by xmlsec1 too (the check can fail).
    std::fs::write(dir.join("changed.xml"), signed.replace("c_x000", "c_x001")).unwrap();
    assert!(!verify_metadata(&dir, "changed.xml").status.success());
    std::fs::remove_dir_all(&dir).ok();
}

/// An identity provider's answer as they come: prefixes declared at different levels, a
/// default namespace, `xsi:type` values naming the `xs` prefix (kept by the inclusive list),
/// comments, character references, CRLF, non-ASCII text, attributes out of order.
const RESPONSE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" Version=\"2.0\" ID=\"_r1\" IssueInstant=\"2026-12-07T08:00:00Z\">\r\n  <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://idp.example</saml:Issuer>\r\n  <Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Version=\"2.0\" IssueInstant=\"2026-12-07T08:00:00Z\" ID=\"_a1\">\r\n    <Issuer>https://idp.example</Issuer>\r\n    <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#_a1\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xs\"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>\r\n    <!-- a comment the digest ignores -->\r\n    <Subject><NameID NameQualifier=\"https://idp.example\" Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">  _n1  </NameID></Subject>\r\n    <AttributeStatement><Attribute Name=\"familyName\"><AttributeValue xsi:type=\"xs:string\">Citt\u{e0} &amp; D&#39;Amico&#13;</AttributeValue></Attribute><Attribute Name=\"fiscalNumber\"><AttributeValue xmlns=\"\">TINIT-RSSMRA80A01H501U</AttributeValue></Attribute></AttributeStatement>\r\n  </Assertion>\r\n</samlp:Response>\r\n";

#[test]
fn we_verify_what_xmlsec1_signs_and_read_the_node_it_covered() {
    if !xmlsec1_available() {
        return;
    }
    let k = keys();
    let dir = scratch("theirs");
    std::fs::write(dir.join("template.xml"), RESPONSE).unwrap();
    std::fs::write(dir.join("key.pem"), &k.key_pem).unwrap();
    let out = xmlsec1(
        &dir,
        &[
            "--sign",
            "--privkey-pem",
            "key.pem",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--output",
            "signed.xml",
            "template.xml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read_to_string(dir.join("signed.xml")).unwrap();
    let doc = parse(&signed).unwrap();
    let assertion = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Assertion")
        .unwrap();
    verify_enveloped(&doc, assertion, std::slice::from_ref(&k.public)).unwrap();

    // Changing a signed value, even by one character, is caught; the comment is not signed.
    for (from, to) in [
        ("TINIT-RSSMRA80A01H501U", "TINIT-RSSMRA80A01H501V"),
        ("Citt\u{e0}", "Citta"),
        ("xs:string", "xs:token"),
    ] {
        let changed = signed.replace(from, to);
        assert_ne!(changed, signed);
        let doc = parse(&changed).unwrap();
        let assertion = doc
            .descendants()
            .find(|n| n.tag_name().name() == "Assertion")
            .unwrap();
        assert!(
            verify_enveloped(&doc, assertion, std::slice::from_ref(&k.public)).is_err(),
            "{from} → {to} accepted"
        );
    }
    let recommented = signed.replace("a comment the digest ignores", "another comment");
    let doc = parse(&recommented).unwrap();
    let assertion = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Assertion")
        .unwrap();
    verify_enveloped(&doc, assertion, std::slice::from_ref(&k.public)).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
