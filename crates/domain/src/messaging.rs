//! Messages to families beyond e-mail: the per-municipality settings of the SMS gateway and of
//! App IO, the channels a family may choose, and the rules a message must meet on each channel
//! (App IO's lengths, a mobile number). The secrets (App IO's API key, the gateway's password
//! or token) are not here: they are stored apart and never travel with the settings.

use serde::{Deserialize, Serialize};

use crate::{Cents, NoticeNumber};

/// A municipality's channels besides e-mail. Stored inside the tenant's settings (JSON, every
/// field with a default).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MessagingSettings {
    pub sms: SmsGateway,
    pub app_io: AppIoSettings,
}

/// How the HTTP gateway of the municipality's SMS provider is called: a POST to `url` with the
/// recipient, the text and (optionally) the sender in fields named as the provider wants, as
/// JSON or as a form, authenticated with a header or HTTP basic. Any 2xx answer is a success.
/// A new provider is a setting, not code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsGateway {
    /// Empty: no SMS.
    pub url: String,
    pub auth: SmsAuth,
    /// The header carrying the secret with [`SmsAuth::Header`] (`Authorization`, `X-Api-Key`…);
    /// the secret is the whole value (`Bearer abc…`).
    pub auth_header: String,
    /// The user name with [`SmsAuth::Basic`] (the password is the secret).
    pub basic_user: String,
    pub recipient_field: String,
    pub text_field: String,
    /// Empty: no sender field.
    pub sender_field: String,
    /// The sender shown on the phone (an alias of at most 11 characters or a number).
    pub sender: String,
    pub body: BodyFormat,
}

impl Default for SmsGateway {
    fn default() -> Self {
        SmsGateway {
            url: String::new(),
            auth: SmsAuth::None,
            auth_header: "Authorization".into(),
            basic_user: String::new(),
            recipient_field: "to".into(),
            text_field: "text".into(),
            sender_field: String::new(),
            sender: String::new(),
            body: BodyFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsAuth {
    #[default]
    None,
    Header,
    Basic,
}

impl SmsAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsAuth::None => "none",
            SmsAuth::Header => "header",
            SmsAuth::Basic => "basic",
        }
    }
    pub fn parse(s: &str) -> Option<SmsAuth> {
        match s {
            "none" => Some(SmsAuth::None),
            "header" => Some(SmsAuth::Header),
            "basic" => Some(SmsAuth::Basic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
}

impl BodyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Form => "form",
        }
    }
    pub fn parse(s: &str) -> Option<BodyFormat> {
        match s {
            "json" => Some(BodyFormat::Json),
            "form" => Some(BodyFormat::Form),
            _ => None,
        }
    }
}

fn is_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl SmsGateway {
    /// True when the municipality sends SMS.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// Checks the settings; each error names its field (`(field, Italian message)`).
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if !self.enabled() {
            return errors;
        }
        let url = self.url.trim();
        let host_ok = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .is_some_and(|rest| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                !host.is_empty() && !host.contains('@') && !host.contains(' ')
            });
        if !host_ok {
            errors.push((
                "sms_url",
                "Indirizzo del gateway SMS non valido: scrivi un URL completo, ad esempio https://sms.fornitore.it/api/send.".into(),
            ));
        }
        for (field, value, label) in [
            ("sms_recipient_field", &self.recipient_field, "destinatario"),
            ("sms_text_field", &self.text_field, "testo"),
        ] {
            if !is_field_name(value) {
                errors.push((
                    field,
                    format!("Nome del campo del {label} non valido: lettere, cifre, _ - . (al massimo 64)."),
                ));
            }
        }
        if !self.sender_field.is_empty() && !is_field_name(&self.sender_field) {
            errors.push((
                "sms_sender_field",
                "Nome del campo del mittente non valido: lettere, cifre, _ - . (al massimo 64)."
                    .into(),
            ));
        }
        if !self.sender_field.is_empty() && self.sender.trim().is_empty() {
            errors.push((
                "sms_sender",
                "Indica il mittente da mettere nel campo del mittente.".into(),
            ));
        }
        if self.sender.chars().count() > 16 {
            errors.push((
                "sms_sender",
                "Mittente troppo lungo: al massimo 11 caratteri per un nome, 16 per un numero."
                    .into(),
            ));
        }
        match self.auth {
            SmsAuth::Header if !is_header_name(&self.auth_header) => errors.push((
                "sms_auth_header",
                "Nome dell'intestazione non valido: lettere, cifre e trattini (es. Authorization)."
                    .into(),
            )),
            SmsAuth::Basic if self.basic_user.trim().is_empty() => errors.push((
                "sms_basic_user",
                "Indica il nome utente dell'autenticazione di base.".into(),
            )),
            _ => {}
        }
        errors
    }
}

/// App IO's REST API for the municipality's service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppIoSettings {
    /// The service's id on the IO back office; empty: no App IO.
    pub service_id: String,
    /// The API's base address (`https://api.io.pagopa.it/api/v1`); tests use a stand-in.
    pub base_url: String,
}

/// App IO's production API.
pub const APP_IO_BASE_URL: &str = "https://api.io.pagopa.it/api/v1";

impl Default for AppIoSettings {
    fn default() -> Self {
        AppIoSettings {
            service_id: String::new(),
            base_url: APP_IO_BASE_URL.into(),
        }
    }
}

impl AppIoSettings {
    pub fn enabled(&self) -> bool {
        !self.service_id.trim().is_empty()
    }

    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let id_ok = self.service_id.len() <= 64
            && self
                .service_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            errors.push((
                "io_service_id",
                "Identificativo del servizio IO non valido: lettere e cifre, come nel back office di IO.".into(),
            ));
        }
        let b = self.base_url.trim();
        if !(b.starts_with("https://") || b.starts_with("http://")) || b.contains(' ') {
            errors.push((
                "io_base_url",
                "Indirizzo dell'API di IO non valido (di norma https://api.io.pagopa.it/api/v1)."
                    .into(),
            ));
        }
        errors
    }
}

/// The channels a message can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Sms,
    AppIo,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::AppIo];

    /// The stored name (`outbox.channel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::AppIo => "app_io",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label_it(self) -> &'static str {
        match self {
            Channel::Email => "E-mail",
            Channel::Sms => "SMS",
            Channel::AppIo => "App IO",
        }
    }
}

/// A mobile number as the gateway gets it: digits with an optional leading `+`, spaces
/// removed; a number without prefix is Italian (`+39`). `None` when it is not a phone number.
pub fn sms_number(p: &str) -> Option<String> {
    let compact: String = p
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(d) => (true, d.to_string()),
        None => match compact.strip_prefix("00") {
            Some(d) => (true, d.to_string()),
            None => (false, compact.clone()),
        },
    };
    if !(6..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if plus {
        format!("+{digits}")
    } else {
        format!("+39{digits}")
    })
}

/// App IO's limits on a message (the OpenAPI's `MessageContentBase`).
pub const IO_SUBJECT: std::ops::RangeInclusive<usize> = 10..=120;
pub const IO_MARKDOWN: std::ops::RangeInclusive<usize> = 80..=10000;

/// Makes a subject and a text fit App IO's lengths: a short subject gets the municipality's
/// name before it, a long one is cut; a short text gets a closing line, a long one is cut.
pub fn fit_for_io(tenant: &str, subject: &str, markdown: &str) -> (String, String) {
    let mut s = subject.trim().to_string();
    if s.chars().count() < *IO_SUBJECT.start() {
        s = format!("{tenant}: {s}");
    }
    while s.chars().count() < *IO_SUBJECT.start() {
        s.push('.');
    }
    if s.chars().count() > *IO_SUBJECT.end() {
        s = s.chars().take(IO_SUBJECT.end() - 1).collect::<String>() + "…";
    }
    let mut m = markdown.trim().to_string();
    if m.chars().count() < *IO_MARKDOWN.start() {
        m = format!(
            "{m}\n\nMessaggio inviato da {tenant} tramite il servizio di refezione scolastica."
        );
    }
    while m.chars().count() < *IO_MARKDOWN.start() {
        m.push('.');
    }
    if m.chars().count() > *IO_MARKDOWN.end() {
        m = m.chars().take(IO_MARKDOWN.end() - 1).collect::<String>() + "…";
    }
    (s, m)
}

/// What App IO needs to let the parent pay a notice from the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentData {
    pub notice_number: String,
    pub amount_cents: i64,
}

impl PaymentData {
    pub fn new(notice: &NoticeNumber, amount: Cents) -> PaymentData {
        PaymentData {
            notice_number: notice.as_str().to_string(),
            amount_cents: amount.get(),
        }
    }
}

/// What a message carries beside its text (stored as JSON with the message).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Payload {
    pub payment_data: Option<PaymentData>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_international() {
        assert_eq!(sms_number("333 123 4567").as_deref(), Some("+393331234567"));
        assert_eq!(
            sms_number("+39 333-1234567").as_deref(),
            Some("+393331234567")
        );
        assert_eq!(
            sms_number("0041 79 123 45 67").as_deref(),
            Some("+41791234567")
        );
        assert_eq!(sms_number("abc"), None);
        assert_eq!(sms_number("12"), None);
    }

    #[test]
    fn io_lengths_are_met() {
        let (s, m) = fit_for_io("Comune di Esempio", "Avviso", "Breve.");
        assert!(IO_SUBJECT.contains(&s.chars().count()), "{s}");
        assert!(IO_MARKDOWN.contains(&m.chars().count()), "{m}");
        let (s, m) = fit_for_io("C", &"x".repeat(300), &"y".repeat(20000));
        assert_eq!(s.chars().count(), 120);
        assert_eq!(m.chars().count(), 10000);
    }

    #[test]
    fn gateway_checks_name_their_fields() {
        let g = SmsGateway {
            url: "ftp://x".into(),
            auth: SmsAuth::Basic,
            recipient_field: "a b".into(),
            ..SmsGateway::default()
        };
        let fields: Vec<_> = g.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["sms_url", "sms_recipient_field", "sms_basic_user"]);
        let ok = SmsGateway {
            url: "https://sms.example.it/send".into(),
            ..SmsGateway::default()
        };
        assert!(ok.check().is_empty());
        assert!(SmsGateway::default().check().is_empty());
        let settings: MessagingSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, MessagingSettings::default());
    }
}
