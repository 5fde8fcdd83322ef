//! Families' login with SPID and CIE (issue 16): how a municipality offers it.

use serde::{Deserialize, Serialize};

/// Whether the municipality's login offers SPID and CIE, and with which identity providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Not offered (until the municipality has its keys and AgID's approval).
    #[default]
    Off,
    /// A stand-in identity provider on this installation, clearly marked, lets anyone in as any
    /// fiscal code: the demo and development only.
    Sandbox,
    /// The real providers, from the installation's metadata files.
    Live,
}

impl IdentityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMode::Off => "off",
            IdentityMode::Sandbox => "sandbox",
            IdentityMode::Live => "live",
        }
    }
}

/// What the municipality's service-provider metadata says about it (AgID's public-sector
/// profile) and whether CIE is offered beside SPID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    pub mode: IdentityMode,
    /// The code in the IPA index (e.g. `c_h501`).
    pub ipa_code: String,
    /// The cadastral (Belfiore) code, e.g. `H501`: CIE's metadata needs it.
    pub cadastral_code: String,
    /// The contact AgID and the Ministry write to.
    pub contact_email: String,
    /// `+39…` without spaces.
    pub contact_phone: Option<String>,
    /// The municipality's website (`OrganizationURL`).
    pub website: String,
    /// CIE offered beside SPID.
    pub cie: bool,
    /// A login through an OpenID Connect provider, beside or instead of SPID and CIE.
    pub oidc: OidcSettings,
}

/// A login through an OpenID Connect provider: for a municipality that reaches SPID and CIE
/// through an identity proxy (a regional hub, a supplier's gateway) rather than as a SAML
/// service provider of its own. The client secret is stored apart, in `tenant_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// The provider's issuer (`https://login.regione.example.it/realms/spid`): its discovery
    /// document is at `<issuer>/.well-known/openid-configuration`. Empty: not offered.
    pub issuer: String,
    /// The client ID the provider gave the municipality.
    pub client_id: String,
    /// The button's words on the login page ("Entra con SPID o CIE").
    pub label: String,
    /// The claim that carries the person's fiscal code (`fiscal_number`, `fiscalNumber`…); a
    /// `TINIT-` prefix is removed.
    pub fiscal_code_claim: String,
}

/// The button's words when the settings leave them empty.
pub const OIDC_LABEL: &str = "Entra con SPID o CIE";
/// The fiscal code's claim when the settings leave it empty (the name used by the SPID and CIE
/// OpenID Connect federation).
pub const OIDC_FISCAL_CODE_CLAIM: &str = "fiscal_number";

impl OidcSettings {
    /// Whether the login is offered (an issuer and a client are set).
    pub fn offered(&self) -> bool {
        !self.issuer.trim().is_empty() && !self.client_id.trim().is_empty()
    }

    pub fn label(&self) -> &str {
        match self.label.trim() {
            "" => OIDC_LABEL,
            l => l,
        }
    }

    pub fn fiscal_code_claim(&self) -> &str {
        match self.fiscal_code_claim.trim() {
            "" => OIDC_FISCAL_CODE_CLAIM,
            c => c,
        }
    }
}

/// The fiscal code in a value an identity gives (`TINIT-RSSMRA80A01H501U` in SPID, the bare
/// code elsewhere), if it is a valid one.
pub fn fiscal_code_of(value: &str) -> Option<crate::CodiceFiscale> {
    let v = value.trim();
    let v = v.strip_prefix("TINIT-").unwrap_or(v);
    crate::CodiceFiscale::parse(v).ok()
}

impl IdentityMode {
    pub fn parse(s: &str) -> Option<IdentityMode> {
        match s {
            "off" => Some(IdentityMode::Off),
            "sandbox" => Some(IdentityMode::Sandbox),
            "live" => Some(IdentityMode::Live),
            _ => None,
        }
    }
}

/// Whether `url` is `https://host…`, or `http://` to this machine (a provider beside the
/// installation, the tests' stand-ins).
fn is_provider_url(url: &str) -> bool {
    let (secure, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return false,
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let local = matches!(host, "127.0.0.1" | "localhost" | "::1");
    !host.is_empty()
        && (secure || local)
        && !authority.contains('@')
        && !url.contains(char::is_whitespace)
        && !url.contains(['?', '#'])
        && url.len() <= 300
}

fn one_line(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

impl IdentitySettings {
    /// Checks the settings; each error names its field (`(field, Italian message)`). Live mode
    /// needs what AgID's and the Ministry's metadata say about the municipality.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let live = self.mode == IdentityMode::Live;
        let ipa = self.ipa_code.trim();
        if (live && ipa.is_empty())
            || ipa.len() > 20
            || !ipa.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            errors.push((
                "ipa_code",
                "Codice IPA non valido: lettere, cifre e _ (ad esempio c_h501); serve per SPID."
                    .into(),
            ));
        }
        let cadastral = self.cadastral_code.trim();
        let cadastral_ok = cadastral.len() == 4
            && cadastral.as_bytes()[0].is_ascii_uppercase()
            && cadastral[1..].bytes().all(|b| b.is_ascii_digit());
        if (!cadastral.is_empty() || (live && self.cie)) && !cadastral_ok {
            errors.push((
                "cadastral_code",
                "Codice catastale non valido: una lettera maiuscola e tre cifre (ad esempio H501); serve per CIE.".into(),
            ));
        }
        let email = self.contact_email.trim();
        if (live || !email.is_empty())
            && (email.len() > 254 || !email.contains('@') || email.contains(char::is_whitespace))
        {
            errors.push((
                "contact_email",
                "Indirizzo e-mail di contatto non valido.".into(),
            ));
        }
        if let Some(p) = &self.contact_phone
            && !(p.starts_with("+39")
                && p.len() <= 16
                && p.len() >= 9
                && p[1..].bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push((
                "contact_phone",
                "Telefono di contatto non valido: +39 e le cifre, senza spazi (ad esempio +390612345678).".into(),
            ));
        }
        let site = self.website.trim();
        let site_ok = (site.starts_with("https://") || site.starts_with("http://"))
            && !site.contains(char::is_whitespace)
            && site.len() <= 300;
        if (live || !site.is_empty()) && !site_ok {
            errors.push((
                "website",
                "Sito del Comune non valido: un indirizzo completo, ad esempio https://www.comune.esempio.it.".into(),
            ));
        }
        let o = &self.oidc;
        let issuer = o.issuer.trim();
        if !issuer.is_empty() && !is_provider_url(issuer) {
            errors.push((
                "oidc_issuer",
                "Indirizzo del fornitore non valido: https:// e l'indirizzo esatto dichiarato dal fornitore (issuer), senza ? né #.".into(),
            ));
        }
        let client = o.client_id.trim();
        if (!issuer.is_empty() && client.is_empty()) || !one_line(client, 200) {
            errors.push((
                "oidc_client_id",
                "Scrivi l'identificativo (client ID) che il fornitore ha dato al Comune.".into(),
            ));
        }
        if !one_line(&o.label, 60) {
            errors.push((
                "oidc_label",
                "Testo del pulsante non valido: una riga, al massimo 60 caratteri.".into(),
            ));
        }
        let claim = o.fiscal_code_claim.trim();
        if claim.len() > 100
            || !claim
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
        {
            errors.push((
                "oidc_claim",
                "Nome del dato non valido: lettere, cifre e _ - . : / (ad esempio fiscal_number)."
                    .into(),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_codes_come_with_or_without_spids_prefix() {
        assert_eq!(
            fiscal_code_of("TINIT-RSSMRA80A01H501U").map(|c| c.as_str().to_string()),
            Some("RSSMRA80A01H501U".into())
        );
        assert!(fiscal_code_of(" RSSMRA80A01H501U ").is_some());
        assert!(fiscal_code_of("TINIT-RSSMRA80A01H501X").is_none());
        assert!(fiscal_code_of("").is_none());
    }

    #[test]
    fn live_mode_needs_the_municipalitys_data_and_providers_need_https() {
        let live = IdentitySettings {
            mode: IdentityMode::Live,
            cie: true,
            ..Default::default()
        };
        let fields: Vec<_> = live.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["ipa_code", "cadastral_code", "contact_email", "website"]
        );
        assert!(IdentitySettings::default().check().is_empty());
        let with = |issuer: &str, client: &str| IdentitySettings {
            oidc: OidcSettings {
                issuer: issuer.into(),
                client_id: client.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(
            with("https://login.example.it/realms/spid", "c")
                .check()
                .is_empty()
        );
        assert!(with("http://127.0.0.1:4000", "c").check().is_empty());
        for bad in [
            "http://login.example.it",
            "ftp://x",
            "https://",
            "https://a b",
            "https://x/?a=1",
        ] {
            assert_eq!(with(bad, "c").check()[0].0, "oidc_issuer", "{bad}");
        }
        assert_eq!(
            with("https://login.example.it", "").check()[0].0,
            "oidc_client_id"
        );
    }
}
