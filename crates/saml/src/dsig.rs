//! Enveloped XML signatures in the profile SPID and CIE use: exclusive canonicalization,
//! RSA PKCS#1 v1.5 with SHA-256, -384 or -512, one `Reference` to the `ID` of the element the
//! signature is a direct child of, the transforms enveloped-signature and exclusive c14n.
//! Anything else (XSLT or XPath transforms, SHA-1, HMAC, external or empty references, a
//! `ds:Object`) is refused, and the key is never taken from the message's `KeyInfo`: only the
//! keys the caller trusts (from an identity provider's metadata) can verify.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use aws_lc_rs::{digest, signature::KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roxmltree::{Document, Node};

use crate::xml::{elements, exclusive_c14n, is};
use crate::{Error, Result};

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// An RSA public key that may verify signatures (PKCS#1 `RSAPublicKey`, from a certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    rsa: Vec<u8>,
}

impl PublicKey {
    /// The key of an X.509 certificate (DER).
    pub fn from_certificate(der: &[u8]) -> Result<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::Key(format!("certificate: {e}")))?;
        let spki = cert.public_key();
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
            return Err(Error::Key("not an RSA key".into()));
        }
        Ok(PublicKey {
            rsa: spki.subject_public_key.data.to_vec(),
        })
    }

    /// The key of a certificate as metadata carries it (`ds:X509Certificate`: base64, maybe
    /// broken over lines).
    pub fn from_certificate_base64(text: &str) -> Result<Self> {
        Self::from_certificate(&decode_base64(text)?)
    }

    /// Whether `sig` is this key's RSA PKCS#1 v1.5 signature of `message` with the algorithm
    /// named by `algorithm` (one of the `RSA_SHA*` URIs; 2048 bits at least).
    pub fn verifies(&self, algorithm: &str, message: &[u8], sig: &[u8]) -> bool {
        let params: &'static signature::RsaParameters = match algorithm {
            RSA_SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            RSA_SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            RSA_SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return false,
        };
        UnparsedPublicKey::new(params, &self.rsa)
            .verify(message, sig)
            .is_ok()
    }
}

/// Our own key and certificate, which sign what we send (RSA-SHA256).
pub struct SigningKey {
    pair: RsaKeyPair,
    certificate: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    /// A PKCS#8 RSA private key (DER) and its certificate (DER).
    pub fn new(pkcs8: &[u8], certificate: Vec<u8>) -> Result<Self> {
        let pair =
            RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| Error::Key(format!("private key: {e}")))?;
        let public = PublicKey::from_certificate(&certificate)?;
        if public.rsa != pair.public_key().as_ref() {
            return Err(Error::Key(
                "the certificate is not the private key's".into(),
            ));
        }
        Ok(SigningKey { pair, certificate })
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// The certificate as `ds:X509Certificate` carries it.
    pub fn certificate_base64(&self) -> String {
        STANDARD.encode(&self.certificate)
    }

    /// RSA PKCS#1 v1.5 SHA-256 signature of `message` (the HTTP-Redirect binding signs the
    /// query string this way).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| Error::Signature("cannot sign".into()))?;
        Ok(sig)
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| Error::Signature("invalid base64".into()))
}

fn refuse<T>(why: &str) -> Result<T> {
    Err(Error::Signature(why.to_string()))
}

/// The one child element `name` of `node` in the signature namespace.
fn one<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Result<Node<'a, 'i>> {
    let mut found = elements(node).filter(|n| is(*n, DSIG_NS, name));
    match (found.next(), found.next()) {
        (Some(n), None) => Ok(n),
        _ => refuse(&format!("exactly one {name} expected")),
    }
}

/// The `PrefixList` of an exclusive canonicalization's `InclusiveNamespaces`, if any.
fn prefix_list<'a>(method: Node<'a, '_>) -> Vec<&'a str> {
    elements(method)
        .find(|n| is(*n, EXC_C14N, "InclusiveNamespaces"))
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_ascii_whitespace().collect())
        .unwrap_or_default()
}

fn digest_of(algorithm: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let alg = match algorithm {
        SHA256 => &digest::SHA256,
        SHA384 => &digest::SHA384,
        SHA512 => &digest::SHA512,
        _ => return refuse("digest algorithm not allowed"),
    };
    Ok(digest::digest(alg, bytes).as_ref().to_vec())
}

/// Verifies the enveloped signature of element `signed`, with one of `keys`. On success the
/// caller reads `signed` itself, the node the digest covered, never another element found by
/// name or ID.
pub fn verify_enveloped(
    doc: &Document<'_>,
    signed: Node<'_, '_>,
    keys: &[PublicKey],
) -> Result<()> {
    let id = signed
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::Signature("the signed element has no ID".into()))?;
    let same_id = doc
        .descendants()
        .filter(|n| n.is_element() && n.attributes().any(|a| a.name() == "ID" && a.value() == id))
        .count();
    if same_id != 1 {
        return refuse("the signed element's ID is not unique");
    }
    let signature = one(signed, "Signature")?;
    // Signature: SignedInfo, SignatureValue, KeyInfo (ignored); nothing else (no Object that
    // could carry a wrapped copy).
    let names: Vec<&str> = elements(signature).map(|n| n.tag_name().name()).collect();
    if !matches!(
        names.as_slice(),
        ["SignedInfo", "SignatureValue"] | ["SignedInfo", "SignatureValue", "KeyInfo"]
    ) || elements(signature).any(|n| n.tag_name().namespace() != Some(DSIG_NS))
    {
        return refuse("unexpected content in Signature");
    }
    let info = one(signature, "SignedInfo")?;
    let names: Vec<&str> = elements(info).map(|n| n.tag_name().name()).collect();
    if names != ["CanonicalizationMethod", "SignatureMethod", "Reference"] {
        return refuse("SignedInfo must hold one method of each and one Reference");
    }
    let c14n = one(info, "CanonicalizationMethod")?;
    if c14n.attribute("Algorithm") != Some(EXC_C14N) {
        return refuse("canonicalization not allowed");
    }
    let method = one(info, "SignatureMethod")?
        .attribute("Algorithm")
        .unwrap_or("");
    if ![RSA_SHA256, RSA_SHA384, RSA_SHA512].contains(&method) {
        return refuse("signature algorithm not allowed");
    }
    let reference = one(info, "Reference")?;
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return refuse("the Reference is not to the signed element");
    }
    let transforms: Vec<Node> = match elements(reference).find(|n| is(*n, DSIG_NS, "Transforms")) {
        Some(t) => elements(t).collect(),
        None => Vec::new(),
    };
    let algorithms: Vec<&str> = transforms
        .iter()
        .map(|t| t.attribute("Algorithm").unwrap_or(""))
        .collect();
    if transforms.iter().any(|t| !is(*t, DSIG_NS, "Transform"))
        || !matches!(algorithms.as_slice(), [ENVELOPED] | [ENVELOPED, EXC_C14N])
    {
        return refuse("transforms not allowed");
    }
    let inclusive = transforms
        .get(1)
        .map(|t| prefix_list(*t))
        .unwrap_or_default();
    let digest_method = one(reference, "DigestMethod")?
        .attribute("Algorithm")
        .unwrap_or("");
    let expected = decode_base64(one(reference, "DigestValue")?.text().unwrap_or(""))?;
    let signature_value = decode_base64(one(signature, "SignatureValue")?.text().unwrap_or(""))?;

    let info_c14n = exclusive_c14n(doc, info, None, &prefix_list(c14n))?;
    if !keys
        .iter()
        .any(|k| k.verifies(method, info_c14n.as_bytes(), &signature_value))
    {
        return refuse("the signature does not verify with a trusted key");
    }
    let content = exclusive_c14n(doc, signed, Some(signature.id()), &inclusive)?;
    if digest_of(digest_method, content.as_bytes())? != expected {
        return refuse("the signed element was changed (digest mismatch)");
    }
    Ok(())
}

/// Signs the element of `xml` whose `ID` is `id` (our own document, not signed yet) and
/// returns the document with the `ds:Signature` inserted at byte `at`, which must be inside
/// that element: right after its start tag, or after its `Issuer` where the schema wants it.
/// RSA-SHA256, SHA-256, exclusive canonicalization, the certificate in `KeyInfo`. An element
/// inside another is signed first, then the one around it (an assertion, then its response).
pub fn sign_enveloped(xml: &str, id: &str, at: usize, key: &SigningKey) -> Result<String> {
    let doc = crate::xml::parse(xml)?;
    let element = doc
        .descendants()
        .find(|n| n.is_element() && n.attribute("ID") == Some(id))
        .ok_or_else(|| Error::Signature(format!("no element with ID {id}")))?;
    let inside = element.range();
    if !xml.is_char_boundary(at) || at <= inside.start || at >= inside.end {
        return refuse("insertion point outside the signed element");
    }
    let content = exclusive_c14n(&doc, element, None, &[])?;
    let digest = STANDARD.encode(digest_of(SHA256, content.as_bytes())?);
    let info_body = format!(
        "<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"></ds:SignatureMethod>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"
    );
    // SignedInfo's canonical form is the same alone as in the document: exclusive
    // canonicalization renders only the `ds` namespace it uses.
    let alone = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{info_body}</ds:SignedInfo>");
    let info_doc = crate::xml::parse(&alone)?;
    let info_c14n = exclusive_c14n(&info_doc, info_doc.root_element(), None, &[])?;
    let value = STANDARD.encode(key.sign(info_c14n.as_bytes())?);
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>{info_body}</ds:SignedInfo>\
         <ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
         <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        key.certificate_base64()
    );
    let mut signed = String::with_capacity(xml.len() + signature.len());
    signed.push_str(&xml[..at]);
    signed.push_str(&signature);
    signed.push_str(&xml[at..]);
    Ok(signed)
}
