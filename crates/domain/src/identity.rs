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
}
