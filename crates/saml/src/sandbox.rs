//! A stand-in identity provider speaking the real protocol: its metadata, and signed answers
//! to our requests, as SPID's providers write them. The demo's "IdP di prova" and the tests
//! use it; a live installation never trusts it unless its metadata is configured.

use crate::authn::{ASSERTION_NS, PROTOCOL_NS, instant};
use crate::dsig::{DSIG_NS, SigningKey, sign_enveloped};
use crate::idp::{HTTP_POST, HTTP_REDIRECT, MD_NS};
use crate::sp::{ENTITY, TRANSIENT};
use crate::spid::Level;
use crate::xml::escape;
use crate::{Error, Result};

/// The provider's metadata (signing key, single sign-on and logout addresses).
pub fn metadata(entity_id: &str, sso_url: &str, slo_url: &str, key: &SigningKey) -> String {
    let e = |s: &str| escape(s);
    format!(
        "<md:EntityDescriptor xmlns:md=\"{MD_NS}\" xmlns:ds=\"{DSIG_NS}\" entityID=\"{entity}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         WantAuthnRequestsSigned=\"true\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo>\
         <ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data>\
         </ds:KeyInfo></md:KeyDescriptor>\
         <md:SingleLogoutService Binding=\"{HTTP_REDIRECT}\" Location=\"{slo}\"/>\
         <md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>\
         <md:SingleSignOnService Binding=\"{HTTP_REDIRECT}\" Location=\"{sso}\"/>\
         <md:SingleSignOnService Binding=\"{HTTP_POST}\" Location=\"{sso}\"/>\
         </md:IDPSSODescriptor><md:Organization>\
         <md:OrganizationName xml:lang=\"it\">IdP di prova</md:OrganizationName>\
         <md:OrganizationDisplayName xml:lang=\"it\">IdP di prova (simulazione)</md:OrganizationDisplayName>\
         <md:OrganizationURL xml:lang=\"it\">{entity}</md:OrganizationURL></md:Organization>\
         </md:EntityDescriptor>",
        entity = e(entity_id),
        certificate = key.certificate_base64(),
        slo = e(slo_url),
        sso = e(sso_url),
    )
}

/// What the provider answers to.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    pub provider: &'a str,
    pub request_id: &'a str,
    /// The request's `IssueInstant`: the answer is issued at that instant, as spid-sp-test's are.
    pub request_instant: jiff::Timestamp,
    pub acs_url: &'a str,
    pub audience: &'a str,
    pub now: jiff::Timestamp,
    pub level: Level,
    /// The transient name ID (fresh per login).
    pub name_id: &'a str,
    /// e.g. `("fiscalNumber", "TINIT-RSSMRA80A01H501U")`.
    pub attributes: &'a [(&'a str, &'a str)],
    /// `Some(nr)`: the person did not authenticate, SPID error code `nr` (unsigned, no assertion).
    pub error: Option<u16>,
}

/// The answer, assertion and response signed (in that order). `tweak` changes the XML before
/// it is signed (the tests' way of making every wrong answer a real provider could sign).
pub fn response(
    a: &Answer<'_>,
    key: &SigningKey,
    tweak: impl Fn(String) -> String,
) -> Result<String> {
    let e = |s: &str| escape(s);
    let issued = instant(a.request_instant);
    let until = instant(a.now + jiff::SignedDuration::from_mins(5));
    let now = instant(a.now);
    let issuer = format!(
        "<saml:Issuer Format=\"{ENTITY}\">{}</saml:Issuer>",
        e(a.provider)
    );
    let head = format!(
        "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_r{rid}\" \
         Version=\"2.0\" IssueInstant=\"{issued}\" Destination=\"{acs}\" InResponseTo=\"{req}\">{issuer}",
        rid = e(a.name_id),
        acs = e(a.acs_url),
        req = e(a.request_id),
    );
    if let Some(code) = a.error {
        let xml = format!(
            "{head}<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">\
             <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode>\
             <samlp:StatusMessage>ErrorCode nr{code}</samlp:StatusMessage></samlp:Status></samlp:Response>"
        );
        return Ok(tweak(xml));
    }
    let attributes: String = a
        .attributes
        .iter()
        .map(|(n, v)| {
            format!(
                "<saml:Attribute Name=\"{}\"><saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">{}</saml:AttributeValue></saml:Attribute>",
                e(n),
                e(v)
            )
        })
        .collect();
    let assertion_id = format!("_a{}", e(a.name_id));
    let xml = format!(
        "{head}<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
         <saml:Assertion ID=\"{assertion_id}\" Version=\"2.0\" IssueInstant=\"{issued}\">{issuer}\
         <saml:Subject><saml:NameID Format=\"{TRANSIENT}\" NameQualifier=\"{provider}\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData InResponseTo=\"{req}\" NotOnOrAfter=\"{until}\" Recipient=\"{acs}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{issued}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
         <saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\"><saml:AuthnContext>\
         <saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>",
        provider = e(a.provider),
        name_id = e(a.name_id),
        req = e(a.request_id),
        acs = e(a.acs_url),
        audience = e(a.audience),
        level = a.level.uri(),
    );
    let xml = tweak(xml);
    let after_issuer = |xml: &str, from: usize| {
        xml.get(from..)
            .and_then(|rest| rest.find("</saml:Issuer>"))
            .map(|i| from + i + "</saml:Issuer>".len())
            .ok_or_else(|| Error::Xml("no Issuer".into()))
    };
    let start = xml.find("<saml:Assertion").unwrap_or(0);
    let at = after_issuer(&xml, start)?;
    let xml = sign_enveloped(&xml, &assertion_id, at, key)?;
    let at = after_issuer(&xml, 0)?;
    sign_enveloped(&xml, &format!("_r{}", e(a.name_id)), at, key)
}
