//! SMS through the municipality's HTTP gateway: one POST per message, built from the settings
//! (`domain::messaging::SmsGateway`: URL, fields, JSON or form, header or basic
//! authentication), so that a new provider is a setting, not code. Any 2xx is a success.

use refettorio_db::outbox::Claimed;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::messaging::{BodyFormat, SmsAuth, SmsGateway};

use super::Outcome;

/// The name of the gateway's secret (token or password) in `tenant_secret`.
pub const SECRET: &str = "sms_secret";

/// The longest SMS text sent (a few concatenated SMS); a longer text is cut.
pub const MAX_TEXT: usize = 459;

/// The request's fields, in order: recipient, text, sender when configured.
pub fn fields<'a>(g: &'a SmsGateway, to: &'a str, text: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        (g.recipient_field.as_str(), to),
        (g.text_field.as_str(), text),
    ];
    if !g.sender_field.is_empty() {
        f.push((g.sender_field.as_str(), g.sender.as_str()));
    }
    f
}

/// A text cut to [`MAX_TEXT`] characters.
pub fn shorten(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= MAX_TEXT {
        t.to_string()
    } else {
        t.chars().take(MAX_TEXT - 1).collect::<String>() + "…"
    }
}

/// Sends one SMS.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    t: &Tenant,
    secret: Option<&str>,
    m: &Claimed,
) -> Outcome {
    let g = &t.settings.messaging.sms;
    if !g.enabled() {
        return Outcome::Permanent("Il Comune non ha configurato un gateway SMS.".into());
    }
    let text = shorten(&m.body);
    let fields = fields(g, &m.recipient, &text);
    let mut req = http.post(g.url.trim());
    req = match g.body {
        BodyFormat::Json => {
            let body: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_string(),
                        serde_json::Value::String((*v).to_string()),
                    )
                })
                .collect();
            req.json(&body)
        }
        BodyFormat::Form => req.form(&fields),
    };
    match g.auth {
        SmsAuth::None => {}
        SmsAuth::Header => {
            let Some(secret) = secret else {
                return Outcome::Temporary(
                    "Manca il segreto del gateway SMS nelle impostazioni.".into(),
                );
            };
            req = req.header(g.auth_header.as_str(), secret);
        }
        SmsAuth::Basic => req = req.basic_auth(&g.basic_user, secret),
    }
    answer(req.send().await, "gateway SMS").await
}

/// What an HTTP exchange came to: 2xx delivered; no answer, a timeout, 5xx, 408 or 429 tried
/// again; another 4xx (or a 3xx: a wrong address) failed with the status and the start of the
/// answer.
pub(crate) async fn answer(sent: Result<reqwest::Response, reqwest::Error>, who: &str) -> Outcome {
    match sent {
        Err(e) if e.is_timeout() => {
            Outcome::Temporary(format!("Il {who} non ha risposto in tempo."))
        }
        Err(e) => Outcome::Temporary(format!("Il {who} non è raggiungibile: {e}")),
        Ok(r) => {
            let status = r.status();
            if status.is_success() {
                return Outcome::Delivered;
            }
            let body = r.text().await.unwrap_or_default();
            let excerpt: String = body.trim().chars().take(300).collect();
            let why = if excerpt.is_empty() {
                format!("{who}: HTTP {}", status.as_u16())
            } else {
                format!("{who}: HTTP {}: {excerpt}", status.as_u16())
            };
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                Outcome::Temporary(why)
            } else {
                Outcome::Permanent(format!("Rifiutato dal {why}"))
            }
        }
    }
}
