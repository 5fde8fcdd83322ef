//! Messages in the IO app through its REST API (`shared/specs/app-io/index.yaml`): first the
//! citizen's profile (`POST /profiles` with the fiscal code in the body, so that it never
//! appears in a URL) must exist and allow the municipality's service (`sender_allowed`), then
//! `POST /messages` with the subject, the Markdown text and, for a notice of payment,
//! `payment_data` (notice number, amount in cents) so that the parent pays from the app. Every
//! call carries the service's API key in `Ocp-Apim-Subscription-Key`.

use refettorio_db::outbox::Claimed;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::messaging::{Payload, fit_for_io};
use serde_json::json;

use super::Outcome;
use super::sms::answer;

/// The name of the API key in `tenant_secret`.
pub const SECRET: &str = "app_io_api_key";

const KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";

/// The body of `POST /messages`.
pub fn message_body(
    tenant: &str,
    fiscal_code: &str,
    subject: &str,
    markdown: &str,
    payload: &Payload,
) -> serde_json::Value {
    let (subject, markdown) = fit_for_io(tenant, subject, markdown);
    let mut content = json!({ "subject": subject, "markdown": markdown });
    if let Some(p) = &payload.payment_data {
        content["payment_data"] = json!({
            "amount": p.amount_cents,
            "notice_number": p.notice_number,
        });
    }
    json!({ "fiscal_code": fiscal_code, "content": content })
}

/// Sends one message to the IO app.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    t: &Tenant,
    key: Option<&str>,
    m: &Claimed,
) -> Outcome {
    let io = &t.settings.messaging.app_io;
    if !io.enabled() {
        return Outcome::Permanent("Il Comune non ha configurato il servizio App IO.".into());
    }
    let Some(key) = key else {
        return Outcome::Temporary("Manca la chiave API di App IO nelle impostazioni.".into());
    };
    let base = io.base_url.trim().trim_end_matches('/');
    let payload: Payload = m
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    // The profile: does the citizen use IO and allow this service?
    let profile = http
        .post(format!("{base}/profiles"))
        .header(KEY_HEADER, key)
        .json(&json!({ "fiscal_code": m.recipient }))
        .send()
        .await;
    match profile {
        Ok(r) if r.status().as_u16() == 404 => {
            return Outcome::Permanent(
                "Il cittadino non ha un profilo nell'app IO (nessun utente con quel codice fiscale)."
                    .into(),
            );
        }
        Ok(r) if r.status().is_success() => {
            let allowed = r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.get("sender_allowed").and_then(serde_json::Value::as_bool));
            match allowed {
                Some(true) => {}
                Some(false) => {
                    return Outcome::Permanent(
                        "Il cittadino ha disattivato nell'app IO i messaggi di questo servizio."
                            .into(),
                    );
                }
                None => {
                    return Outcome::Temporary(
                        "App IO: risposta del profilo non leggibile.".into(),
                    );
                }
            }
        }
        other => match answer(other, "servizio App IO (profilo)").await {
            // 401/403: the key or the service is the municipality's to fix, not the message's
            // fault: tried again.
            Outcome::Permanent(why) if why.contains("HTTP 401") || why.contains("HTTP 403") => {
                return Outcome::Temporary(why);
            }
            Outcome::Delivered => {
                return Outcome::Temporary("App IO: risposta del profilo inattesa.".into());
            }
            o => return o,
        },
    }
    let body = message_body(&t.name, &m.recipient, &m.subject, &m.body, &payload);
    let sent = http
        .post(format!("{base}/messages"))
        .header(KEY_HEADER, key)
        .json(&body)
        .send()
        .await;
    match answer(sent, "servizio App IO").await {
        Outcome::Permanent(why) if why.contains("HTTP 401") || why.contains("HTTP 403") => {
            Outcome::Temporary(why)
        }
        o => o,
    }
}
