//! The municipality's settings page: the service's rules and the pagoPA setup, one form,
//! checked by [`refettorio_app::settings`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::settings::{self, SettingsForm};
use refettorio_domain::SchoolKind;
use serde::Deserialize;

use super::{SETTINGS, Staff};
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/settings.html")]
struct SettingsPage<'a> {
    frame: Frame<'a>,
    form: SettingsForm,
    key_stored: bool,
    done: bool,
    errors: FieldErrors,
    modes: [(&'static str, &'static str); 2],
    /// SPID and CIE: how they stand (their settings are the installation operator's).
    identity: Option<refettorio_app::spid::Status>,
    /// When the municipality's SPID certificate expires, in words.
    key_expires: Option<String>,
    /// The OpenID provider families also log in through, if any.
    oidc_issuer: Option<String>,
}
framed!(SettingsPage);

impl SettingsPage<'_> {
    fn key_label(&self) -> &'static str {
        if self.key_stored {
            "Chiave di sottoscrizione di Checkout (già impostata: lascia vuoto per non cambiarla)"
        } else {
            "Chiave di sottoscrizione di Checkout"
        }
    }
}

const MODES: [(&str, &str); 2] = [
    ("sandbox", "Simulazione (nessun pagamento reale)"),
    ("live", "Reale (pagoPA Checkout)"),
];

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    esito: Option<String>,
}

/// The form as posted: names are those of the field errors.
#[derive(Deserialize, Default)]
pub(crate) struct Posted {
    #[serde(default)]
    email: String,
    #[serde(default)]
    telefono: String,
    #[serde(default)]
    mittente: String,
    #[serde(rename = "rispondi-a", default)]
    rispondi_a: String,
    #[serde(default)]
    orario: String,
    #[serde(rename = "orario-nido", default)]
    orario_nido: String,
    #[serde(rename = "orario-infanzia", default)]
    orario_infanzia: String,
    #[serde(rename = "orario-primaria", default)]
    orario_primaria: String,
    #[serde(rename = "orario-secondaria_primo_grado", default)]
    orario_secondaria: String,
    #[serde(default)]
    giorni: String,
    #[serde(default)]
    intervallo: String,
    #[serde(default)]
    bianco: Option<String>,
    #[serde(rename = "bianco-giorni", default)]
    bianco_giorni: String,
    #[serde(rename = "bianco-gratis", default)]
    bianco_gratis: Option<String>,
    #[serde(default)]
    soglia: String,
    #[serde(rename = "accesso-locale", default)]
    accesso_locale: Option<String>,
    #[serde(default)]
    modalita: String,
    #[serde(default)]
    intermediario: String,
    #[serde(default)]
    stazione: String,
    #[serde(default)]
    segregazione: String,
    #[serde(default)]
    iban: String,
    #[serde(rename = "conto-postale", default)]
    conto_postale: String,
    #[serde(rename = "intestatario-postale", default)]
    intestatario_postale: String,
    #[serde(default)]
    cbill: String,
    #[serde(rename = "checkout-url", default)]
    checkout_url: String,
    #[serde(rename = "checkout-chiave", default)]
    checkout_chiave: String,
    #[serde(rename = "ricarica-massima", default)]
    ricarica_massima: String,
    #[serde(default)]
    scadenza: String,
    #[serde(default)]
    settore: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl From<Posted> for SettingsForm {
    fn from(p: Posted) -> SettingsForm {
        SettingsForm {
            office_email: p.email,
            office_phone: p.telefono,
            mail_from_name: p.mittente,
            mail_reply_to: p.rispondi_a,
            cutoff: p.orario,
            cutoff_by_kind: vec![
                (SchoolKind::Nido, p.orario_nido),
                (SchoolKind::Infanzia, p.orario_infanzia),
                (SchoolKind::Primaria, p.orario_primaria),
                (SchoolKind::SecondariaPrimoGrado, p.orario_secondaria),
            ],
            days_ahead: p.giorni,
            max_range_days: p.intervallo,
            bland_enabled: p.bianco.is_some(),
            bland_max_consecutive: p.bianco_giorni,
            bland_meal_free: p.bianco_gratis.is_some(),
            low_balance_meals: p.soglia,
            citizen_local_login: p.accesso_locale.is_some(),
            pagopa_mode: p.modalita,
            broker_id: p.intermediario,
            station_id: p.stazione,
            segregation_code: p.segregazione,
            ibans: p.iban,
            postal_account: p.conto_postale,
            postal_holder: p.intestatario_postale,
            cbill: p.cbill,
            checkout_base_url: p.checkout_url,
            checkout_key: p.checkout_chiave,
            max_recharge: p.ricarica_massima,
            recharge_due_days: p.scadenza,
            sector: p.settore,
        }
    }
}

async fn page(
    state: &AppState,
    s: &Staff,
    form: SettingsForm,
    done: bool,
    errors: FieldErrors,
) -> Response {
    let status = errors.status();
    let identity = refettorio_app::spid::status(s.ctx(state), &state.config.federation)
        .await
        .ok();
    let key_expires = identity
        .as_ref()
        .and_then(|i| i.key_expires)
        .map(|k| crate::filters::when_it(&k, &s.tenant.timezone));
    let page = SettingsPage {
        frame: s.frame(&SETTINGS),
        form,
        key_stored: s.tenant.settings.pagopa.checkout_key.is_some(),
        done,
        errors,
        modes: MODES,
        identity,
        key_expires,
        oidc_issuer: refettorio_app::oidc::offered(s.ctx(state)).map(|o| o.issuer.clone()),
    };
    (status, page).into_response()
}

/// `GET /t/<slug>/backoffice/impostazioni`
pub(crate) async fn settings(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    s.require(SETTINGS.roles)?;
    let done = q.esito.as_deref() == Some("salvate");
    Ok(page(
        &state,
        &s,
        SettingsForm::of(&s.tenant),
        done,
        FieldErrors::none(),
    )
    .await)
}

/// `POST /t/<slug>/backoffice/impostazioni`
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(SETTINGS.roles)?;
    s.check_csrf(&headers, &p.csrf)?;
    let form = SettingsForm::from(p);
    settings::save(s.ctx(&state), &form)
        .await
        .map(|()| {
            Redirect::to(&format!(
                "/t/{}/backoffice/impostazioni?esito=salvate",
                s.slug()
            ))
        })
        .or_form(|errors| async move {
            let form = SettingsForm {
                checkout_key: String::new(),
                ..form
            };
            Ok(page(&state, &s, form, false, errors).await)
        })
        .await
}
