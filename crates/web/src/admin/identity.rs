//! A municipality's digital identity, kept by the platform administrator at
//! `/admin/comuni/<slug>/identita`: SPID and CIE (mode, and what the metadata says about the
//! municipality) and the login through an OpenID Connect provider. Not the office's: sandbox
//! mode lets anyone in as anyone. The client secret is write-only. Checked and saved by
//! [`refettorio_app::identity`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::Tenant;
use refettorio_app::identity::{self, IdentityForm};
use refettorio_app::platform;
use serde::Deserialize;

use super::PlatformAdmin;
use crate::form::{FieldErrors, FormResult};
use crate::pages::Layout;
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "admin/identity.html")]
struct IdentityPage<'a> {
    layout: Layout<'a>,
    name: &'a str,
    csrf: &'a str,
    tenant: Tenant,
    form: IdentityForm,
    secret_set: bool,
    done: bool,
    errors: FieldErrors,
    modes: [(&'static str, &'static str); 3],
    /// How SPID and CIE stand now (what stops them, what will).
    status: Option<refettorio_app::spid::Status>,
}

impl IdentityPage<'_> {
    fn secret_label(&self) -> &'static str {
        if self.secret_set {
            "Segreto del client (già impostato: lascia vuoto per non cambiarlo)"
        } else {
            "Segreto del client (vuoto: client pubblico, solo PKCE)"
        }
    }
}

const MODES: [(&str, &str); 3] = [
    ("off", "Non attivo"),
    (
        "sandbox",
        "Prova: gestore simulato, entra chiunque (mai per un servizio reale)",
    ),
    (
        "live",
        "Reale: gestori SPID e CIE dai metadata dell'installazione",
    ),
];

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    esito: Option<String>,
}

/// The form as posted: names are those of the field errors.
#[derive(Deserialize, Default)]
pub(crate) struct Posted {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    ipa_code: String,
    #[serde(default)]
    cadastral_code: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    cie: Option<String>,
    #[serde(default)]
    oidc_issuer: String,
    #[serde(default)]
    oidc_client_id: String,
    #[serde(default)]
    oidc_label: String,
    #[serde(default)]
    oidc_claim: String,
    #[serde(default)]
    oidc_secret: String,
    #[serde(default)]
    oidc_secret_clear: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl From<Posted> for IdentityForm {
    fn from(p: Posted) -> IdentityForm {
        IdentityForm {
            mode: p.mode,
            ipa_code: p.ipa_code,
            cadastral_code: p.cadastral_code,
            contact_email: p.contact_email,
            contact_phone: p.contact_phone,
            website: p.website,
            cie: p.cie.is_some(),
            oidc_issuer: p.oidc_issuer,
            oidc_client_id: p.oidc_client_id,
            oidc_label: p.oidc_label,
            oidc_claim: p.oidc_claim,
            oidc_secret: p.oidc_secret,
            oidc_secret_clear: p.oidc_secret_clear.is_some(),
        }
    }
}

async fn page(
    state: &AppState,
    a: &PlatformAdmin,
    tenant: Tenant,
    form: Option<IdentityForm>,
    done: bool,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let ctx = a.ctx(state, &tenant);
    let view = identity::view(ctx).await?;
    let status = refettorio_app::spid::status(ctx, &state.config.federation)
        .await
        .ok();
    let page = IdentityPage {
        layout: Layout::plain("Identità digitale del Comune"),
        name: &a.user.display_name,
        csrf: &a.session.csrf_token,
        form: form.unwrap_or_else(|| IdentityForm::of(&view.settings)),
        tenant,
        secret_set: view.oidc_secret_set,
        done,
        status: errors.is_empty().then_some(status).flatten(),
        errors,
        modes: MODES,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET /admin/comuni/<slug>/identita`
pub(crate) async fn identity(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path(slug): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let (t, _) = platform::tenant_staff(state.installation(), &slug).await?;
    let done = q.esito.as_deref() == Some("salvata");
    page(&state, &a, t, None, done, FieldErrors::none()).await
}

/// `POST /admin/comuni/<slug>/identita`
pub(crate) async fn save_identity(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    a.check_csrf(&headers, &p.csrf)?;
    let (t, _) = platform::tenant_staff(state.installation(), &slug).await?;
    let form = IdentityForm::from(p);
    identity::save(a.ctx(&state, &t), &form)
        .await
        .map(|()| Redirect::to(&format!("/admin/comuni/{}/identita?esito=salvata", t.slug)))
        .or_form(|errors| async move {
            let form = IdentityForm {
                oidc_secret: String::new(),
                ..form
            };
            page(&state, &a, t, Some(form), false, errors).await
        })
        .await
}
