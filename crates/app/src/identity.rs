//! A person a digital identity proves (SPID, CIE, an OpenID provider), and the guardian that
//! person is in the registry: one rule for every way in (issue 16).

use refettorio_db::registry::family::{self, NewGuardian};
use refettorio_db::registry::tenant;
use refettorio_db::{Conn, outbox};
use refettorio_domain::audit::{AuditAction, AuditEntry, AuditObject, ObjectKind};
use refettorio_domain::identity::{IdentityMode, IdentitySettings, OidcSettings};
use refettorio_domain::{CodiceFiscale, GuardianId};

use crate::auth::NewSession;
use crate::tenant::SecretChange;
use crate::{AppError, Ctx, FieldError};

/// What the identity says about the person: the fiscal code proven, the rest as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub fiscal_code: CodiceFiscale,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

fn given(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl Proven {
    pub fn new(fiscal_code: CodiceFiscale) -> Proven {
        Proven {
            fiscal_code,
            first_name: None,
            last_name: None,
            email: None,
            phone: None,
        }
    }

    /// The name, e-mail and phone, each kept only when not blank.
    pub fn with(
        self,
        first_name: Option<&str>,
        last_name: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Proven {
        Proven {
            first_name: given(first_name),
            last_name: given(last_name),
            email: given(email),
            phone: given(phone),
            ..self
        }
    }
}

/// The guardian (payer or delegate) with the proven fiscal code, within the caller's
/// transaction. The identity proves the person: a self-registration waiting for the office's
/// confirmation is confirmed, and contacts the registry lacks are filled in. A person not in
/// the registry yet gets a profile with the identity's name and contacts (the office links it
/// to a family, or the person applies online).
pub async fn guardian_of(
    ctx: Ctx<'_>,
    c: &mut Conn<'_>,
    person: &Proven,
    now: jiff::Timestamp,
) -> Result<GuardianId, AppError> {
    let t = ctx.tenant;
    if let Some(g) = family::guardian_by_fiscal_code(c, t.id, &person.fiscal_code).await? {
        refettorio_db::auth::set_login_unproven(c, t.id, g.id, false).await?;
        if g.email.is_none() || g.phone.is_none() {
            let updated = NewGuardian {
                fiscal_code: g.fiscal_code.clone(),
                first_name: g.first_name.clone(),
                last_name: g.last_name.clone(),
                email: g.email.clone().or_else(|| person.email.clone()),
                phone: g.phone.clone().or_else(|| person.phone.clone()),
                address: g.address.clone(),
                resident: g.resident,
            };
            family::update_guardian(c, t.id, g.id, &updated).await?;
        }
        return Ok(g.id);
    }
    let id = family::insert_guardian(
        c,
        t.id,
        &NewGuardian {
            fiscal_code: person.fiscal_code.clone(),
            first_name: person.first_name.clone().unwrap_or_default(),
            last_name: person.last_name.clone().unwrap_or_default(),
            email: person.email.clone(),
            phone: person.phone.clone(),
            address: String::new(),
            resident: true,
        },
        None,
    )
    .await?;
    refettorio_db::audit::record(
        c,
        t.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::IdentityProfile,
            AuditObject::new(ObjectKind::Guardian, id.get()),
        ),
        now,
    )
    .await?;
    Ok(id)
}

/// A login started: where to send the browser, and the token its cookie must hold at the
/// answer (the answer counts only in the browser that asked).
#[derive(Debug, Clone)]
pub struct Started {
    pub location: String,
    pub browser_token: String,
}

/// Why a login failed (at SPID's assertion consumer service, at the OpenID callback).
#[derive(Debug)]
pub enum LoginFailed {
    /// The provider says the person did not authenticate (SPID's error code, if any).
    Provider(Option<u16>),
    /// The answer is not valid here (forged, replayed, expired, for another browser…): why,
    /// for the log.
    Invalid(String),
    /// The database or the keys.
    App(AppError),
}

impl From<AppError> for LoginFailed {
    fn from(e: AppError) -> Self {
        LoginFailed::App(e)
    }
}

impl From<refettorio_db::DbError> for LoginFailed {
    fn from(e: refettorio_db::DbError) -> Self {
        LoginFailed::App(e.into())
    }
}

/// A login that succeeded: the session, and where the person was going.
#[derive(Debug)]
pub struct LoggedIn {
    pub session: NewSession,
    pub next: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The settings, kept by the platform administrator (sandbox mode lets anyone in: never the
// office's choice).

/// What the platform administrator's page shows: the settings and whether the OpenID client
/// secret is set (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityView {
    pub settings: IdentitySettings,
    pub oidc_secret_set: bool,
}

pub async fn view(ctx: Ctx<'_>) -> Result<IdentityView, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(IdentityView {
        settings: ctx.tenant.settings.identity.clone(),
        oidc_secret_set: outbox::secret(&mut h.conn(), ctx.tenant.id, crate::oidc::SECRET)
            .await?
            .is_some(),
    })
}

/// The form as typed. An empty secret keeps the one set; `oidc_secret_clear` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityForm {
    pub mode: String,
    pub ipa_code: String,
    pub cadastral_code: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub website: String,
    pub cie: bool,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_label: String,
    pub oidc_claim: String,
    pub oidc_secret: String,
    pub oidc_secret_clear: bool,
}

impl IdentityForm {
    /// The form filled with the current settings (the secret empty).
    pub fn of(s: &IdentitySettings) -> IdentityForm {
        IdentityForm {
            mode: s.mode.as_str().into(),
            ipa_code: s.ipa_code.clone(),
            cadastral_code: s.cadastral_code.clone(),
            contact_email: s.contact_email.clone(),
            contact_phone: s.contact_phone.clone().unwrap_or_default(),
            website: s.website.clone(),
            cie: s.cie,
            oidc_issuer: s.oidc.issuer.clone(),
            oidc_client_id: s.oidc.client_id.clone(),
            oidc_label: s.oidc.label.clone(),
            oidc_claim: s.oidc.fiscal_code_claim.clone(),
            ..IdentityForm::default()
        }
    }
}

/// Checks the form: the settings, or every field's error.
pub fn check(f: &IdentityForm) -> Result<IdentitySettings, AppError> {
    let mut errors = Vec::new();
    let mode = IdentityMode::parse(f.mode.trim()).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "mode",
            message: "Scegli una modalità.".into(),
        });
        IdentityMode::Off
    });
    let phone = f.contact_phone.trim();
    let s = IdentitySettings {
        mode,
        ipa_code: f.ipa_code.trim().into(),
        cadastral_code: f.cadastral_code.trim().to_uppercase(),
        contact_email: f.contact_email.trim().into(),
        contact_phone: (!phone.is_empty()).then(|| phone.replace(' ', "")),
        website: f.website.trim().into(),
        cie: f.cie,
        oidc: OidcSettings {
            issuer: f.oidc_issuer.trim().trim_end_matches('/').into(),
            client_id: f.oidc_client_id.trim().into(),
            label: f.oidc_label.trim().into(),
            fiscal_code_claim: f.oidc_claim.trim().into(),
        },
    };
    for (field, message) in s.check() {
        errors.push(FieldError { field, message });
    }
    errors.extend(crate::tenant::check_secret("oidc_secret", &f.oidc_secret));
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(AppError::Fields(errors))
    }
}

/// Saves the municipality's identity settings, audited without the secret (only that it
/// changed).
pub async fn save(ctx: Ctx<'_>, f: &IdentityForm) -> Result<(), AppError> {
    let identity = check(f)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let current = tenant::by_id(c, ctx.tenant.id)
        .await?
        .ok_or_else(|| AppError::NotFound("Comune non trovato.".into()))?;
    let secret = crate::tenant::apply_secret(
        c,
        ctx.tenant.id,
        crate::oidc::SECRET,
        &f.oidc_secret,
        f.oidc_secret_clear,
        now,
    )
    .await?
    .map(|change| match change {
        SecretChange::Removed => "segreto del client OpenID rimosso",
        SecretChange::Changed => "segreto del client OpenID cambiato",
    });
    if identity == current.settings.identity && secret.is_none() {
        return Ok(());
    }
    let before = serde_json::to_value(&current.settings.identity).unwrap_or_default();
    let after = serde_json::to_value(&identity).unwrap_or_default();
    let mut settings = current.settings.clone();
    settings.identity = identity;
    tenant::set_settings(c, ctx.tenant.id, &settings).await?;
    let reason = match secret {
        Some(s) => format!("Accesso con l'identità digitale ({s})"),
        None => "Accesso con l'identità digitale".to_string(),
    };
    refettorio_db::audit::record(
        c,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::IdentitySettings,
            AuditObject::new(ObjectKind::Tenant, ctx.tenant.id.get()),
        )
        .before(before)
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
