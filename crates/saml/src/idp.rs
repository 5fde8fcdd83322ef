//! Identity providers as their metadata describes them: the SPID registry's list (an
//! `md:EntitiesDescriptor` of every provider), the CIE server's, or one provider's
//! `md:EntityDescriptor` (the test provider of spid-sp-test, the sandbox).

use crate::dsig::{DSIG_NS, PublicKey};
use crate::xml::{elements, is, parse};
use crate::{Error, Result};

pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// One identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub entity_id: String,
    /// Its name for the chooser (`OrganizationDisplayName`, else `OrganizationName`, in
    /// Italian where given; else the entity ID).
    pub name: String,
    /// Single sign-on: where an `AuthnRequest` goes, by binding.
    pub sso_redirect: Option<String>,
    pub sso_post: Option<String>,
    /// Single logout, by binding.
    pub slo_redirect: Option<String>,
    pub slo_post: Option<String>,
    /// The keys its signatures must verify with (several while it rolls them over).
    pub keys: Vec<PublicKey>,
}

/// The identity providers of a metadata document; a provider without a single sign-on
/// address or a usable signing key is left out (it could not be used).
pub fn parse_providers(xml: &str) -> Result<Vec<IdentityProvider>> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    let entities: Vec<_> = if is(root, MD_NS, "EntityDescriptor") {
        vec![root]
    } else if is(root, MD_NS, "EntitiesDescriptor") {
        root.descendants()
            .filter(|n| is(*n, MD_NS, "EntityDescriptor"))
            .collect()
    } else {
        return Err(Error::Xml("not SAML metadata".into()));
    };
    let mut providers = Vec::new();
    for entity in entities {
        let Some(entity_id) = entity.attribute("entityID").filter(|e| !e.is_empty()) else {
            continue;
        };
        let Some(idp) = elements(entity).find(|n| is(*n, MD_NS, "IDPSSODescriptor")) else {
            continue;
        };
        let endpoint = |name: &str, binding: &str| {
            elements(idp)
                .find(|n| is(*n, MD_NS, name) && n.attribute("Binding") == Some(binding))
                .and_then(|n| n.attribute("Location"))
                .map(str::to_string)
        };
        let keys: Vec<PublicKey> = elements(idp)
            .filter(|n| {
                is(*n, MD_NS, "KeyDescriptor")
                    && matches!(n.attribute("use"), None | Some("signing"))
            })
            .flat_map(|k| {
                k.descendants()
                    .filter(|n| is(*n, DSIG_NS, "X509Certificate"))
            })
            .filter_map(|c| PublicKey::from_certificate_base64(c.text().unwrap_or("")).ok())
            .collect();
        let organization = elements(entity).find(|n| is(*n, MD_NS, "Organization"));
        let name_of = |element: &str| {
            let names: Vec<_> = organization
                .iter()
                .flat_map(|o| elements(*o))
                .filter(|n| is(*n, MD_NS, element))
                .collect();
            names
                .iter()
                .find(|n| {
                    n.attribute(("http://www.w3.org/XML/1998/namespace", "lang")) == Some("it")
                })
                .or(names.first())
                .and_then(|n| n.text())
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        };
        let provider = IdentityProvider {
            entity_id: entity_id.to_string(),
            name: name_of("OrganizationDisplayName")
                .or_else(|| name_of("OrganizationName"))
                .unwrap_or_else(|| entity_id.to_string()),
            sso_redirect: endpoint("SingleSignOnService", HTTP_REDIRECT),
            sso_post: endpoint("SingleSignOnService", HTTP_POST),
            slo_redirect: endpoint("SingleLogoutService", HTTP_REDIRECT),
            slo_post: endpoint("SingleLogoutService", HTTP_POST),
            keys,
        };
        if (provider.sso_redirect.is_some() || provider.sso_post.is_some())
            && !provider.keys.is_empty()
        {
            providers.push(provider);
        }
    }
    Ok(providers)
}
