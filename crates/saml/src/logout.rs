//! Single logout (SPID's rules, "Single Logout"): our `LogoutRequest` when a person leaves,
//! the provider's `LogoutResponse`; the provider's `LogoutRequest` when the person leaves
//! elsewhere, and our `LogoutResponse`. Both travel in the HTTP-Redirect binding.

use crate::authn::{ASSERTION_NS, PROTOCOL_NS, instant};
use crate::sp::{ENTITY, TRANSIENT};
use crate::xml::{elements, escape, is, parse};
use crate::{Error, Result};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Who is logged out: the name ID and its qualifier as the provider gave them, and the
/// session index when there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name_id: String,
    pub name_qualifier: String,
    pub session_index: Option<String>,
}

/// A `LogoutRequest` from `issuer` to `destination`.
pub fn request_xml(
    id: &str,
    now: jiff::Timestamp,
    issuer: &str,
    destination: &str,
    subject: &Subject,
) -> String {
    let session = subject
        .session_index
        .as_deref()
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
        .unwrap_or_default();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\">\
         <saml:Issuer Format=\"{ENTITY}\" NameQualifier=\"{issuer}\">{issuer}</saml:Issuer>\
         <saml:NameID Format=\"{TRANSIENT}\" NameQualifier=\"{qualifier}\">{name_id}</saml:NameID>\
         {session}</samlp:LogoutRequest>",
        id = escape(id),
        now = instant(now),
        destination = escape(destination),
        issuer = escape(issuer),
        qualifier = escape(&subject.name_qualifier),
        name_id = escape(&subject.name_id),
    )
}

/// A `LogoutResponse` to request `in_response_to`.
pub fn response_xml(
    id: &str,
    now: jiff::Timestamp,
    issuer: &str,
    destination: &str,
    in_response_to: &str,
) -> String {
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" InResponseTo=\"{irt}\">\
         <saml:Issuer Format=\"{ENTITY}\" NameQualifier=\"{issuer}\">{issuer}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        id = escape(id),
        now = instant(now),
        destination = escape(destination),
        issuer = escape(issuer),
        irt = escape(in_response_to),
    )
}

/// A logout message as read (its signature already checked by the binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request {
        id: String,
        issuer: String,
        subject: Subject,
    },
    Response {
        id: String,
        issuer: String,
        in_response_to: String,
        success: bool,
    },
}

/// Reads a `LogoutRequest` or `LogoutResponse`.
pub fn read(xml: &str) -> Result<Message> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    let child = |ns: &str, name: &str| elements(root).find(|n| is(*n, ns, name));
    let text = |n: Option<roxmltree::Node<'_, '_>>| {
        n.and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    let id = root.attribute("ID").unwrap_or("").to_string();
    let issuer = text(child(ASSERTION_NS, "Issuer"));
    if id.is_empty() || issuer.is_empty() {
        return Err(Error::Xml(
            "a logout message needs an ID and an Issuer".into(),
        ));
    }
    if is(root, PROTOCOL_NS, "LogoutRequest") {
        let name = child(ASSERTION_NS, "NameID");
        let subject = Subject {
            name_id: text(name),
            name_qualifier: name
                .and_then(|n| n.attribute("NameQualifier"))
                .unwrap_or("")
                .to_string(),
            session_index: child(PROTOCOL_NS, "SessionIndex")
                .map(|n| text(Some(n)))
                .filter(|s| !s.is_empty()),
        };
        if subject.name_id.is_empty() {
            return Err(Error::Xml("LogoutRequest without NameID".into()));
        }
        Ok(Message::Request {
            id,
            issuer,
            subject,
        })
    } else if is(root, PROTOCOL_NS, "LogoutResponse") {
        let success = child(PROTOCOL_NS, "Status")
            .and_then(|s| elements(s).find(|n| is(*n, PROTOCOL_NS, "StatusCode")))
            .and_then(|c| c.attribute("Value"))
            == Some(SUCCESS);
        Ok(Message::Response {
            id,
            issuer,
            in_response_to: root.attribute("InResponseTo").unwrap_or("").to_string(),
            success,
        })
    } else {
        Err(Error::Xml("not a logout message".into()))
    }
}
