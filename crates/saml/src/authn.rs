//! The authentication request a municipality sends an identity provider, in the two bindings
//! SPID allows: HTTP-Redirect (the request deflated into the URL, the query string signed) or
//! HTTP-POST (the request signed inside, carried by a form).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::dsig::{SigningKey, sign_enveloped};
use crate::sp::{ENTITY, ServiceProvider, TRANSIENT};
use crate::spid::Level;
use crate::xml::escape;
use crate::{Error, Result};

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// One request: its `ID` and instant (kept, to check the answer against), the identity
/// provider's single sign-on address for the binding used, the level asked for.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    pub id: &'a str,
    pub issue_instant: jiff::Timestamp,
    pub destination: &'a str,
    pub level: Level,
}

/// An instant as SAML writes it: UTC, to the millisecond at most.
pub fn instant(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Millisecond).unwrap_or(t).to_string()
}

impl ServiceProvider {
    /// The request, unsigned: `Issuer` with our entity ID as value and `NameQualifier`, the
    /// assertion consumer and attribute set by index (0), transient name IDs, the level as a
    /// minimum, and a fresh authentication above level 1.
    pub fn authn_request_xml(&self, r: &AuthnRequest<'_>) -> String {
        let entity = escape(&self.entity_id);
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{destination}\"{force} \
             AssertionConsumerServiceIndex=\"0\" AttributeConsumingServiceIndex=\"0\">\
             <saml:Issuer Format=\"{ENTITY}\" NameQualifier=\"{entity}\">{entity}</saml:Issuer>\
             <samlp:NameIDPolicy Format=\"{TRANSIENT}\"/>\
             <samlp:RequestedAuthnContext Comparison=\"minimum\">\
             <saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef>\
             </samlp:RequestedAuthnContext></samlp:AuthnRequest>",
            id = escape(r.id),
            instant = instant(r.issue_instant),
            destination = escape(r.destination),
            force = if r.level > Level::L1 {
                " ForceAuthn=\"true\""
            } else {
                ""
            },
            level = r.level.uri(),
        )
    }

    /// HTTP-Redirect: the address to send the browser to (302), with `SAMLRequest` (raw
    /// DEFLATE, base64), `RelayState`, `SigAlg` and the `Signature` of exactly those three
    /// parameters as written.
    pub fn redirect(
        &self,
        r: &AuthnRequest<'_>,
        relay_state: &str,
        key: &SigningKey,
    ) -> Result<String> {
        crate::redirect::encode(
            r.destination,
            "SAMLRequest",
            &self.authn_request_xml(r),
            relay_state,
            key,
        )
    }

    /// HTTP-POST: the `SAMLRequest` form value, the request signed inside (the signature
    /// right after `Issuer`, as the schema orders it), base64.
    pub fn post_request(&self, r: &AuthnRequest<'_>, key: &SigningKey) -> Result<String> {
        let xml = self.authn_request_xml(r);
        let at = xml
            .find("</saml:Issuer>")
            .map(|i| i + "</saml:Issuer>".len())
            .ok_or_else(|| Error::Xml("no Issuer".into()))?;
        Ok(STANDARD.encode(sign_enveloped(&xml, r.id, at, key)?))
    }
}

/// A request as an identity provider receives it in the HTTP-Redirect binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub issue_instant: jiff::Timestamp,
    pub issuer: String,
    pub level: Level,
    pub relay_state: String,
}

/// Reads a request from the raw query string of an HTTP-Redirect (`SAMLRequest`,
/// `RelayState`, `SigAlg`, `Signature`, in that order), checking its signature with one of
/// `keys` over exactly the bytes sent: what the stand-in provider does with our requests.
pub fn read_redirect(query: &str, keys: &[crate::dsig::PublicKey]) -> Result<Received> {
    let message = crate::redirect::decode(query, keys)?;
    if message.parameter != "SAMLRequest" {
        return Err(Error::Xml("not a request".into()));
    }
    let xml = message.xml;
    let doc = crate::xml::parse(&xml)?;
    let root = doc.root_element();
    if !crate::xml::is(root, PROTOCOL_NS, "AuthnRequest") {
        return Err(Error::Xml("not an AuthnRequest".into()));
    }
    let text_of = |name: &str| {
        root.descendants()
            .find(|n| crate::xml::is(*n, ASSERTION_NS, name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    Ok(Received {
        id: root.attribute("ID").unwrap_or("").to_string(),
        issue_instant: root
            .attribute("IssueInstant")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Error::Xml("no IssueInstant".into()))?,
        issuer: text_of("Issuer"),
        level: Level::from_uri(&text_of("AuthnContextClassRef")).unwrap_or(Level::L2),
        relay_state: message.relay_state,
    })
}
