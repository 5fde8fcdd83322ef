//! Our side, the service provider: the signed metadata a municipality gives AgID (SPID) and
//! the Ministry (CIE), in the public-sector profiles spid-sp-test checks
//! (`spid-sp-public`, `cie-sp-public`).

use crate::dsig::{DSIG_NS, SigningKey, sign_enveloped};
use crate::idp::{HTTP_POST, HTTP_REDIRECT, MD_NS};
use crate::spid::Profile;
use crate::xml::escape;
use crate::{Error, Result};

pub const SPID_NS: &str = "https://spid.gov.it/saml-extensions";
pub const CIE_NS: &str = "https://www.cartaidentita.interno.gov.it/saml-extensions";
pub const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// A municipality as a service provider of one profile.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    pub profile: Profile,
    /// `{public_url}/t/{slug}/{spid|cie}/metadata`: also where the metadata is published.
    pub entity_id: String,
    /// The assertion consumer service (`…/acs`), index 0, HTTP-POST.
    pub acs_url: String,
    /// Single logout (`…/slo`), HTTP-Redirect.
    pub slo_url: String,
    /// "Comune di …".
    pub organization: String,
    pub organization_url: String,
    /// The municipality's code in the IPA index (e.g. `c_h501`).
    pub ipa_code: String,
    /// The cadastral (Belfiore) code, e.g. `H501`: CIE asks for it.
    pub municipality_code: String,
    pub contact_email: String,
    /// `+39…` without spaces, or none.
    pub contact_phone: Option<String>,
    /// The service's name in the attribute request, e.g. "Servizi scolastici".
    pub service_name: String,
}

impl ServiceProvider {
    /// The values the profile checks, refused here rather than by AgID: an IPA code, an e-mail
    /// address, a phone in `+39…` form, the cadastral code for CIE.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Key(format!("service provider: {what}")));
        if self.ipa_code.is_empty()
            || self.ipa_code.len() > 16
            || self.ipa_code.chars().any(char::is_whitespace)
        {
            return bad("the IPA code is missing or not valid");
        }
        let email_ok = self.contact_email.split_once('@').is_some_and(|(u, d)| {
            !u.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        }) && !self.contact_email.chars().any(char::is_whitespace);
        if !email_ok {
            return bad("the contact e-mail is not valid");
        }
        if let Some(p) = &self.contact_phone
            && (!p.starts_with("+39") || p.len() < 6 || !p[1..].chars().all(|c| c.is_ascii_digit()))
        {
            return bad("the contact phone must be +39 followed by digits");
        }
        if self.profile == Profile::Cie
            && (self.municipality_code.len() != 4
                || !self
                    .municipality_code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric()))
        {
            return bad("the cadastral code (e.g. H501) is missing");
        }
        for url in [&self.entity_id, &self.acs_url, &self.slo_url] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad("the addresses must be absolute http(s) URLs");
            }
        }
        Ok(())
    }

    /// The signed metadata; `id` is the document's `ID` (fresh each time).
    pub fn metadata(&self, id: &str, key: &SigningKey) -> Result<String> {
        self.check()?;
        let e = |s: &str| escape(s);
        let certificate = key.certificate_base64();
        let attributes: String = self
            .profile
            .attributes()
            .iter()
            .map(|a| format!("<md:RequestedAttribute Name=\"{a}\"/>"))
            .collect();
        let organization = e(&self.organization);
        let phone = self
            .contact_phone
            .as_deref()
            .map(|p| format!("<md:TelephoneNumber>{}</md:TelephoneNumber>", e(p)))
            .unwrap_or_default();
        let contact = match self.profile {
            Profile::Spid => format!(
                "<md:ContactPerson contactType=\"other\"><md:Extensions>\
                 <spid:IPACode>{ipa}</spid:IPACode><spid:Public/></md:Extensions>\
                 <md:Company>{organization}</md:Company>\
                 <md:EmailAddress>{email}</md:EmailAddress>{phone}</md:ContactPerson>",
                ipa = e(&self.ipa_code),
                email = e(&self.contact_email),
            ),
            Profile::Cie => format!(
                "<md:ContactPerson contactType=\"administrative\"><md:Extensions>\
                 <cie:Public/><cie:IPACode>{ipa}</cie:IPACode>\
                 <cie:Municipality>{municipality}</cie:Municipality></md:Extensions>\
                 <md:Company>{organization}</md:Company>\
                 <md:EmailAddress>{email}</md:EmailAddress>{phone}</md:ContactPerson>",
                ipa = e(&self.ipa_code),
                municipality = e(&self.municipality_code),
                email = e(&self.contact_email),
            ),
        };
        let extension_ns = match self.profile {
            Profile::Spid => format!("xmlns:spid=\"{SPID_NS}\""),
            Profile::Cie => format!("xmlns:cie=\"{CIE_NS}\""),
        };
        let start = format!(
            "<md:EntityDescriptor xmlns:md=\"{MD_NS}\" xmlns:ds=\"{DSIG_NS}\" {extension_ns} \
             ID=\"{id}\" entityID=\"{entity}\">",
            id = e(id),
            entity = e(&self.entity_id),
        );
        let xml = format!(
            "{start}<md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data>\
             <ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             </md:KeyDescriptor>\
             <md:SingleLogoutService Binding=\"{HTTP_REDIRECT}\" Location=\"{slo}\"/>\
             <md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>\
             <md:AssertionConsumerService index=\"0\" isDefault=\"true\" Binding=\"{HTTP_POST}\" Location=\"{acs}\"/>\
             <md:AttributeConsumingService index=\"0\">\
             <md:ServiceName xml:lang=\"it\">{service}</md:ServiceName>{attributes}\
             </md:AttributeConsumingService></md:SPSSODescriptor>\
             <md:Organization><md:OrganizationName xml:lang=\"it\">{organization}</md:OrganizationName>\
             <md:OrganizationDisplayName xml:lang=\"it\">{organization}</md:OrganizationDisplayName>\
             <md:OrganizationURL xml:lang=\"it\">{url}</md:OrganizationURL></md:Organization>\
             {contact}</md:EntityDescriptor>",
            slo = e(&self.slo_url),
            acs = e(&self.acs_url),
            service = e(&self.service_name),
            url = e(&self.organization_url),
        );
        sign_enveloped(&xml, id, start.len(), key)
    }
}
