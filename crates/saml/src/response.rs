//! The identity provider's answer at the assertion consumer service, checked as AgID's rules
//! and spid-sp-test require (docs/spid-plan.md §4), in that order. Only the assertion whose
//! signature verified is read, from the same parse; the keys are the provider's metadata's.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use roxmltree::{Document, Node};

use crate::authn::{ASSERTION_NS, PROTOCOL_NS};
use crate::dsig::{DSIG_NS, verify_enveloped};
use crate::idp::IdentityProvider;
use crate::sp::{ENTITY, TRANSIENT};
use crate::spid::{Level, Profile};
use crate::xml::{elements, is, parse};

/// The largest answer accepted (decoded): real ones are a few kilobytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// How far the identity provider's clock may run ahead of ours.
pub const SKEW: SignedDuration = SignedDuration::from_secs(180);

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Why an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The provider says the person did not authenticate; `code` is SPID's `ErrorCode nrNN`
    /// when it gives one (the person is told why, `spid::error_message_it`).
    Provider { code: Option<u16>, status: String },
    /// The answer is not valid (forged, replayed elsewhere, expired, malformed): why, for the
    /// log; the person gets a generic page.
    Invalid(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Provider {
                code: Some(c),
                status,
            } => write!(f, "the identity provider refused (ErrorCode {c}, {status})"),
            Refusal::Provider { code: None, status } => {
                write!(f, "the identity provider refused ({status})")
            }
            Refusal::Invalid(why) => f.write_str(why),
        }
    }
}

fn invalid<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Invalid(why.into()))
}

/// The `SAMLResponse` form field as XML: base64 (line breaks allowed), at most
/// [`MAX_RESPONSE_BYTES`], UTF-8.
pub fn decode(field: &str) -> Result<String, Refusal> {
    if field.len() > MAX_RESPONSE_BYTES * 4 / 3 + 1024 {
        return invalid("the answer is too large");
    }
    let compact: String = field.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| Refusal::Invalid("the answer is not base64".into()))?;
    String::from_utf8(bytes).map_err(|_| Refusal::Invalid("the answer is not UTF-8".into()))
}

/// What the answer says it answers, read before anything is checked, to find the request
/// (and so the provider to trust): its `InResponseTo`.
pub fn in_response_to(xml: &str) -> Result<String, Refusal> {
    let doc = parse(xml).map_err(|e| Refusal::Invalid(e.to_string()))?;
    let root = doc.root_element();
    if !is(root, PROTOCOL_NS, "Response") {
        return invalid("not a SAML Response");
    }
    match root.attribute("InResponseTo") {
        Some(id) if !id.trim().is_empty() => Ok(id.to_string()),
        _ => invalid("the answer names no request (InResponseTo)"),
    }
}

/// What the answer must match: the request we sent and where, to whom, when.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub profile: Profile,
    pub request_id: &'a str,
    /// The `IssueInstant` the request carried (as written: to the millisecond).
    pub request_instant: Timestamp,
    pub provider: &'a IdentityProvider,
    pub acs_url: &'a str,
    pub entity_id: &'a str,
    /// The least level accepted (the one asked for as a minimum).
    pub level: Level,
    pub now: Timestamp,
}

/// A person authenticated by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// For the replay check: the assertion's ID, unusable after `not_on_or_after`.
    pub assertion_id: String,
    pub not_on_or_after: Timestamp,
    /// For single logout.
    pub name_id: String,
    pub name_qualifier: String,
    pub session_index: Option<String>,
    pub level: Level,
    /// Each attribute's first value, trimmed (`fiscalNumber` is `TINIT-` and the code).
    pub attributes: BTreeMap<String, String>,
}

/// The one child `name` of `node`; none, or several, is refused with `what`.
fn only<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Result<Node<'a, 'i>, Refusal> {
    let mut found = elements(node).filter(|n| is(*n, ns, name));
    match (found.next(), found.next()) {
        (Some(n), None) => Ok(n),
        (None, _) => invalid(format!("{name} is missing")),
        _ => invalid(format!("more than one {name}")),
    }
}

fn attribute<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str, Refusal> {
    match node.attribute(name) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => invalid(format!("{} has no {name}", node.tag_name().name())),
    }
}

/// An `xs:dateTime` in UTC (`Z`), with up to nine fractional digits.
fn instant(node: Node<'_, '_>, name: &str) -> Result<Timestamp, Refusal> {
    let text = attribute(node, name)?;
    let full = text.len() >= 20 && text.as_bytes().get(10) == Some(&b'T') && text.ends_with('Z');
    match text.parse::<Timestamp>() {
        Ok(t) if full => Ok(t),
        _ => invalid(format!(
            "{} {name} is not a UTC instant",
            node.tag_name().name()
        )),
    }
}

fn text_of<'a>(node: Node<'a, '_>) -> &'a str {
    node.text().map_or("", str::trim)
}

/// Checks the answer; on success, who authenticated.
pub fn validate(xml: &str, ex: &Expected<'_>) -> Result<Authenticated, Refusal> {
    let doc = parse(xml).map_err(|e| Refusal::Invalid(e.to_string()))?;
    let response = doc.root_element();
    if !is(response, PROTOCOL_NS, "Response") {
        return invalid("not a SAML Response");
    }
    unique_ids(&doc)?;
    let request_instant = ex
        .request_instant
        .round(jiff::Unit::Millisecond)
        .unwrap_or(ex.request_instant);
    let latest = ex.now + SKEW;

    // The response.
    attribute(response, "ID")?;
    if response.attribute("Version") != Some("2.0") {
        return invalid("Response Version is not 2.0");
    }
    let issued = instant(response, "IssueInstant")?;
    if issued < request_instant || issued > latest {
        return invalid("Response IssueInstant outside the request's lifetime");
    }
    if attribute(response, "Destination")? != ex.acs_url {
        return invalid("Response Destination is not our assertion consumer service");
    }
    if attribute(response, "InResponseTo")? != ex.request_id {
        return invalid("Response InResponseTo is not our request");
    }
    let issuer = only(response, ASSERTION_NS, "Issuer")?;
    if text_of(issuer) != ex.provider.entity_id {
        return invalid("Response Issuer is not the provider asked");
    }
    if !matches!(issuer.attribute("Format"), None | Some(ENTITY)) {
        return invalid("Response Issuer Format is not entity");
    }
    let status = only(response, PROTOCOL_NS, "Status")?;
    let code = only(status, PROTOCOL_NS, "StatusCode")?;
    let value = attribute(code, "Value")?;
    if value != SUCCESS {
        let message = elements(status)
            .find(|n| is(*n, PROTOCOL_NS, "StatusMessage"))
            .map(text_of)
            .unwrap_or("");
        let spid_code = message.split_once("ErrorCode nr").and_then(|(_, n)| {
            n.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        });
        let sub = elements(code)
            .find(|n| is(*n, PROTOCOL_NS, "StatusCode"))
            .and_then(|n| n.attribute("Value"))
            .unwrap_or("");
        return Err(Refusal::Provider {
            code: spid_code,
            status: format!("{value} {sub} {message}").trim().to_string(),
        });
    }

    // Exactly one assertion, a child of the response, and no other anywhere (a wrapped copy).
    let assertions = doc
        .descendants()
        .filter(|n| is(*n, ASSERTION_NS, "Assertion") || is(*n, ASSERTION_NS, "EncryptedAssertion"))
        .count();
    let assertion = only(response, ASSERTION_NS, "Assertion")?;
    if assertions != 1 {
        return invalid("more than one assertion in the answer");
    }

    // Signatures: the assertion's always, the response's when there is one; keys from the
    // provider's metadata only.
    let keys = &ex.provider.keys;
    verify_enveloped(&doc, assertion, keys)
        .map_err(|e| Refusal::Invalid(format!("assertion {e}")))?;
    if elements(response).any(|n| is(n, DSIG_NS, "Signature")) {
        verify_enveloped(&doc, response, keys)
            .map_err(|e| Refusal::Invalid(format!("response {e}")))?;
    }

    // The assertion.
    let assertion_id = attribute(assertion, "ID")?.to_string();
    if assertion.attribute("Version") != Some("2.0") {
        return invalid("Assertion Version is not 2.0");
    }
    let issued = instant(assertion, "IssueInstant")?;
    if issued < request_instant || issued > latest {
        return invalid("Assertion IssueInstant outside the request's lifetime");
    }
    let issuer = only(assertion, ASSERTION_NS, "Issuer")?;
    if text_of(issuer) != ex.provider.entity_id {
        return invalid("Assertion Issuer is not the provider asked");
    }
    let format_ok = matches!(
        (ex.profile, issuer.attribute("Format")),
        (_, Some(ENTITY)) | (Profile::Cie, None)
    );
    if !format_ok {
        return invalid("Assertion Issuer Format is not entity");
    }

    let subject = only(assertion, ASSERTION_NS, "Subject")?;
    let name_id = only(subject, ASSERTION_NS, "NameID")?;
    if text_of(name_id).is_empty() {
        return invalid("NameID is empty");
    }
    if name_id.attribute("Format") != Some(TRANSIENT) {
        return invalid("NameID Format is not transient");
    }
    let name_qualifier = attribute(name_id, "NameQualifier")?.to_string();
    let confirmation = only(subject, ASSERTION_NS, "SubjectConfirmation")?;
    if confirmation.attribute("Method") != Some(BEARER) {
        return invalid("SubjectConfirmation Method is not bearer");
    }
    let data = only(confirmation, ASSERTION_NS, "SubjectConfirmationData")?;
    if attribute(data, "Recipient")? != ex.acs_url {
        return invalid("SubjectConfirmationData Recipient is not our assertion consumer service");
    }
    if attribute(data, "InResponseTo")? != ex.request_id {
        return invalid("SubjectConfirmationData InResponseTo is not our request");
    }
    let not_on_or_after = instant(data, "NotOnOrAfter")?;
    if not_on_or_after <= ex.now {
        return invalid("the assertion has expired (SubjectConfirmationData)");
    }

    let conditions = only(assertion, ASSERTION_NS, "Conditions")?;
    if instant(conditions, "NotBefore")? > latest {
        return invalid("the assertion is not valid yet (Conditions NotBefore)");
    }
    if instant(conditions, "NotOnOrAfter")? <= ex.now {
        return invalid("the assertion has expired (Conditions NotOnOrAfter)");
    }
    let restriction = only(conditions, ASSERTION_NS, "AudienceRestriction")?;
    let audience = only(restriction, ASSERTION_NS, "Audience")?;
    if text_of(audience) != ex.entity_id {
        return invalid("the assertion is for another audience");
    }

    let statement = only(assertion, ASSERTION_NS, "AuthnStatement")?;
    let context = only(statement, ASSERTION_NS, "AuthnContext")?;
    let class = only(context, ASSERTION_NS, "AuthnContextClassRef")?;
    let level = Level::from_uri(text_of(class))
        .ok_or_else(|| Refusal::Invalid("unknown AuthnContextClassRef".into()))?;
    if level < ex.level {
        return invalid(format!(
            "authenticated at level {} where {} was asked",
            level.number(),
            ex.level.number()
        ));
    }
    let session_index = statement.attribute("SessionIndex").map(str::to_string);

    let mut attributes = BTreeMap::new();
    for set in elements(assertion).filter(|n| is(*n, ASSERTION_NS, "AttributeStatement")) {
        let mut any = false;
        for a in elements(set).filter(|n| is(*n, ASSERTION_NS, "Attribute")) {
            any = true;
            let name = attribute(a, "Name")?;
            let value = elements(a)
                .find(|n| is(*n, ASSERTION_NS, "AttributeValue"))
                .map(text_of)
                .unwrap_or("");
            if value.is_empty() {
                return invalid(format!("attribute {name} has no value"));
            }
            attributes.insert(name.to_string(), value.to_string());
        }
        if !any {
            return invalid("an empty AttributeStatement");
        }
    }
    for required in ["fiscalNumber", "name", "familyName"] {
        if !attributes.contains_key(required) {
            return invalid(format!("attribute {required} is missing"));
        }
    }
    Ok(Authenticated {
        assertion_id,
        not_on_or_after,
        name_id: text_of(name_id).to_string(),
        name_qualifier,
        session_index,
        level,
        attributes,
    })
}

/// Every `ID` in the document is different (a copy of a signed element with the same ID is a
/// wrapping attempt).
fn unique_ids(doc: &Document<'_>) -> Result<(), Refusal> {
    let mut ids: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("ID"))
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() == n {
        Ok(())
    } else {
        invalid("the same ID twice")
    }
}
