//! The messages' texts: every message is a set of askama templates under `templates/mail/`
//! (subject, plain text and HTML, in Italian), rendered when the message is queued; the outbox
//! keeps what was rendered. Adding a message means adding its three templates and a function
//! here.

use askama::Template;
use refettorio_db::outbox::Content;

use crate::AppError;

fn render(t: &impl Template) -> Result<String, AppError> {
    Ok(t.render()?)
}

fn content(
    subject: &impl Template,
    text: &impl Template,
    html: &impl Template,
) -> Result<Content, AppError> {
    Ok(Content {
        subject: render(subject)?.trim().to_string(),
        text: render(text)?,
        html: Some(render(html)?),
    })
}

#[derive(Template)]
#[template(path = "mail/activation.subject.txt")]
struct ActivationSubject<'a> {
    tenant: &'a str,
}
#[derive(Template)]
#[template(path = "mail/activation.txt")]
struct ActivationText<'a> {
    tenant: &'a str,
    link: &'a str,
}
#[derive(Template)]
#[template(path = "mail/activation.html")]
struct ActivationHtml<'a> {
    tenant: &'a str,
    link: &'a str,
}

/// The registration's activation link.
pub fn activation(tenant: &str, link: &str) -> Result<Content, AppError> {
    content(
        &ActivationSubject { tenant },
        &ActivationText { tenant, link },
        &ActivationHtml { tenant, link },
    )
}

#[derive(Template)]
#[template(path = "mail/account_activated.subject.txt")]
struct ActivatedSubject<'a> {
    tenant: &'a str,
}
#[derive(Template)]
#[template(path = "mail/account_activated.txt")]
struct ActivatedText<'a> {
    tenant: &'a str,
}
#[derive(Template)]
#[template(path = "mail/account_activated.html")]
struct ActivatedHtml<'a> {
    tenant: &'a str,
}

/// The account was activated with the office's activation code (a warning to the address given,
/// in case it was not the family).
pub fn account_activated(tenant: &str) -> Result<Content, AppError> {
    content(
        &ActivatedSubject { tenant },
        &ActivatedText { tenant },
        &ActivatedHtml { tenant },
    )
}

#[derive(Template)]
#[template(path = "mail/password_reset.subject.txt")]
struct ResetSubject<'a> {
    tenant: &'a str,
}
#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    tenant: &'a str,
    link: &'a str,
}
#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    tenant: &'a str,
    link: &'a str,
}

/// The password reset's link.
pub fn password_reset(tenant: &str, link: &str) -> Result<Content, AppError> {
    content(
        &ResetSubject { tenant },
        &ResetText { tenant, link },
        &ResetHtml { tenant, link },
    )
}

/// What a low-balance warning says.
pub struct LowBalance<'a> {
    pub tenant: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// The balance as written for people (`-3,50 €`).
    pub balance: String,
    pub negative: bool,
    /// `23/11/2026`.
    pub day: String,
}

#[derive(Template)]
#[template(path = "mail/low_balance.subject.txt")]
struct LowBalanceSubject {
    negative: bool,
}
#[derive(Template)]
#[template(path = "mail/low_balance.txt")]
struct LowBalanceText<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    balance: &'a str,
    day: &'a str,
}
#[derive(Template)]
#[template(path = "mail/low_balance.html")]
struct LowBalanceHtml<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    balance: &'a str,
    negative: bool,
    day: &'a str,
}

/// The warning to a payer whose credit is low or negative.
pub fn low_balance(m: &LowBalance<'_>) -> Result<Content, AppError> {
    content(
        &LowBalanceSubject {
            negative: m.negative,
        },
        &LowBalanceText {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            balance: &m.balance,
            day: &m.day,
        },
        &LowBalanceHtml {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            balance: &m.balance,
            negative: m.negative,
            day: &m.day,
        },
    )
}

/// What the kitchen's e-mail of a school says.
pub struct KitchenNumbers<'a> {
    pub tenant: &'a str,
    pub school: &'a str,
    /// `23/11/2026`.
    pub day_short: String,
    /// `lunedì 23 novembre 2026`.
    pub day_long: String,
    /// Each class and its meals as words (`20 pasti, di cui 1 in bianco`).
    pub classes: Vec<(String, String)>,
    pub total: String,
}

#[derive(Template)]
#[template(path = "mail/kitchen_numbers.subject.txt")]
struct KitchenSubject<'a> {
    school: &'a str,
    day_short: &'a str,
}
#[derive(Template)]
#[template(path = "mail/kitchen_numbers.txt")]
struct KitchenText<'a> {
    tenant: &'a str,
    school: &'a str,
    day_long: &'a str,
    classes: &'a [(String, String)],
    total: &'a str,
}
#[derive(Template)]
#[template(path = "mail/kitchen_numbers.html")]
struct KitchenHtml<'a> {
    tenant: &'a str,
    school: &'a str,
    day_short: &'a str,
    day_long: &'a str,
    classes: &'a [(String, String)],
    total: &'a str,
}

/// The kitchen's numbers of a school at the close.
pub fn kitchen_numbers(m: &KitchenNumbers<'_>) -> Result<Content, AppError> {
    content(
        &KitchenSubject {
            school: m.school,
            day_short: &m.day_short,
        },
        &KitchenText {
            tenant: m.tenant,
            school: m.school,
            day_long: &m.day_long,
            classes: &m.classes,
            total: &m.total,
        },
        &KitchenHtml {
            tenant: m.tenant,
            school: m.school,
            day_short: &m.day_short,
            day_long: &m.day_long,
            classes: &m.classes,
            total: &m.total,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Messages to a family on every channel: the e-mail (subject, text, HTML), the SMS's short
// text and App IO's Markdown, from the same data.

/// One message to a family, written for each channel; which ones are used depends on the
/// family's preferences and the municipality's channels (`outbox::families`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyMessage {
    pub email: Content,
    pub sms: String,
    pub markdown: String,
}

fn family(
    subject: &impl Template,
    text: &impl Template,
    html: &impl Template,
    sms: &impl Template,
    markdown: &impl Template,
) -> Result<FamilyMessage, AppError> {
    Ok(FamilyMessage {
        email: content(subject, text, html)?,
        sms: render(sms)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        markdown: render(markdown)?.trim().to_string(),
    })
}

#[derive(Template)]
#[template(path = "mail/low_balance.sms.txt")]
struct LowBalanceSms<'a> {
    tenant: &'a str,
    balance: &'a str,
    negative: bool,
    day: &'a str,
}
#[derive(Template)]
#[template(path = "mail/low_balance.md")]
struct LowBalanceMd<'a> {
    first_name: &'a str,
    last_name: &'a str,
    balance: &'a str,
    day: &'a str,
}

/// The low-balance (or negative-balance) warning on every channel.
pub fn low_balance_family(m: &LowBalance<'_>) -> Result<FamilyMessage, AppError> {
    Ok(FamilyMessage {
        email: low_balance(m)?,
        sms: render(&LowBalanceSms {
            tenant: m.tenant,
            balance: &m.balance,
            negative: m.negative,
            day: &m.day,
        })?
        .trim()
        .to_string(),
        markdown: render(&LowBalanceMd {
            first_name: m.first_name,
            last_name: m.last_name,
            balance: &m.balance,
            day: &m.day,
        })?
        .trim()
        .to_string(),
    })
}

/// What the office writes to families.
pub struct Communication<'a> {
    pub tenant: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub subject: &'a str,
    /// Plain text; blank lines separate paragraphs.
    pub body: &'a str,
}

#[derive(Template)]
#[template(path = "mail/communication.subject.txt")]
struct CommunicationSubject<'a> {
    subject: &'a str,
}
#[derive(Template)]
#[template(path = "mail/communication.txt")]
struct CommunicationText<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    body: &'a str,
}
#[derive(Template)]
#[template(path = "mail/communication.html")]
struct CommunicationHtml<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    subject: &'a str,
    paragraphs: Vec<String>,
}
#[derive(Template)]
#[template(path = "mail/communication.sms.txt")]
struct CommunicationSms<'a> {
    tenant: &'a str,
    subject: &'a str,
    body: &'a str,
}
#[derive(Template)]
#[template(path = "mail/communication.md")]
struct CommunicationMd<'a> {
    first_name: &'a str,
    last_name: &'a str,
    body: &'a str,
}

/// The office's message to a family.
pub fn communication(m: &Communication<'_>) -> Result<FamilyMessage, AppError> {
    let paragraphs = m
        .body
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    family(
        &CommunicationSubject { subject: m.subject },
        &CommunicationText {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            body: m.body.trim(),
        },
        &CommunicationHtml {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            subject: m.subject,
            paragraphs,
        },
        &CommunicationSms {
            tenant: m.tenant,
            subject: m.subject,
            body: m.body.trim(),
        },
        &CommunicationMd {
            first_name: m.first_name,
            last_name: m.last_name,
            body: m.body.trim(),
        },
    )
}

/// A payment received, with its receipt's data (amounts written for people: `25,00 €`).
pub struct PaymentReceived<'a> {
    pub tenant: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub amount: String,
    /// `23/11/2026`.
    pub paid_on: String,
    pub notice: String,
    pub receipt: Option<String>,
    pub balance: String,
}

#[derive(Template)]
#[template(path = "mail/payment_received.subject.txt")]
struct PaymentSubject<'a> {
    amount: &'a str,
}
#[derive(Template)]
#[template(path = "mail/payment_received.txt")]
struct PaymentText<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    amount: &'a str,
    paid_on: &'a str,
    notice: &'a str,
    receipt: Option<&'a str>,
    balance: &'a str,
}
#[derive(Template)]
#[template(path = "mail/payment_received.html")]
struct PaymentHtml<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    amount: &'a str,
    paid_on: &'a str,
    notice: &'a str,
    receipt: Option<&'a str>,
    balance: &'a str,
}
#[derive(Template)]
#[template(path = "mail/payment_received.sms.txt")]
struct PaymentSms<'a> {
    tenant: &'a str,
    amount: &'a str,
    paid_on: &'a str,
    notice: &'a str,
    balance: &'a str,
}
#[derive(Template)]
#[template(path = "mail/payment_received.md")]
struct PaymentMd<'a> {
    first_name: &'a str,
    last_name: &'a str,
    amount: &'a str,
    paid_on: &'a str,
    notice: &'a str,
    receipt: Option<&'a str>,
    balance: &'a str,
}

/// The confirmation of a payment received.
pub fn payment_received(m: &PaymentReceived<'_>) -> Result<FamilyMessage, AppError> {
    let receipt = m.receipt.as_deref();
    family(
        &PaymentSubject { amount: &m.amount },
        &PaymentText {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            amount: &m.amount,
            paid_on: &m.paid_on,
            notice: &m.notice,
            receipt,
            balance: &m.balance,
        },
        &PaymentHtml {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            amount: &m.amount,
            paid_on: &m.paid_on,
            notice: &m.notice,
            receipt,
            balance: &m.balance,
        },
        &PaymentSms {
            tenant: m.tenant,
            amount: &m.amount,
            paid_on: &m.paid_on,
            notice: &m.notice,
            balance: &m.balance,
        },
        &PaymentMd {
            first_name: m.first_name,
            last_name: m.last_name,
            amount: &m.amount,
            paid_on: &m.paid_on,
            notice: &m.notice,
            receipt,
            balance: &m.balance,
        },
    )
}

/// A closure or a strike that cancels meals.
pub struct ClosureNotice<'a> {
    pub tenant: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// `Sciopero`, `Chiusura`.
    pub what: &'a str,
    /// The cause as the sentence starts (`A causa di uno sciopero`).
    pub because: &'a str,
    /// `lunedì 23 novembre 2026` or `dal 23/11/2026 al 25/11/2026`.
    pub period: String,
    /// The school or class touched; empty for the whole municipality.
    pub place: String,
    /// The children whose meals are cancelled (`Anna e Marco`).
    pub pupils: String,
    pub reason: &'a str,
}

#[derive(Template)]
#[template(path = "mail/closure.subject.txt")]
struct ClosureSubject<'a> {
    what: &'a str,
    period: &'a str,
}
#[derive(Template)]
#[template(path = "mail/closure.txt")]
struct ClosureText<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    what_lower: &'a str,
    period: &'a str,
    place: &'a str,
    pupils: &'a str,
    reason: &'a str,
}
#[derive(Template)]
#[template(path = "mail/closure.html")]
struct ClosureHtml<'a> {
    tenant: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    what: &'a str,
    what_lower: &'a str,
    period: &'a str,
    place: &'a str,
    pupils: &'a str,
    reason: &'a str,
}
#[derive(Template)]
#[template(path = "mail/closure.sms.txt")]
struct ClosureSms<'a> {
    tenant: &'a str,
    what_lower: &'a str,
    period: &'a str,
    pupils: &'a str,
}
#[derive(Template)]
#[template(path = "mail/closure.md")]
struct ClosureMd<'a> {
    first_name: &'a str,
    last_name: &'a str,
    what_lower: &'a str,
    period: &'a str,
    place: &'a str,
    pupils: &'a str,
    reason: &'a str,
}

/// The families' notice of a closure or strike that cancels their children's meals.
pub fn closure(m: &ClosureNotice<'_>) -> Result<FamilyMessage, AppError> {
    let what_lower = m.because;
    family(
        &ClosureSubject {
            what: m.what,
            period: &m.period,
        },
        &ClosureText {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            what_lower,
            period: &m.period,
            place: &m.place,
            pupils: &m.pupils,
            reason: m.reason,
        },
        &ClosureHtml {
            tenant: m.tenant,
            first_name: m.first_name,
            last_name: m.last_name,
            what: m.what,
            what_lower,
            period: &m.period,
            place: &m.place,
            pupils: &m.pupils,
            reason: m.reason,
        },
        &ClosureSms {
            tenant: m.tenant,
            what_lower,
            period: &m.period,
            pupils: &m.pupils,
        },
        &ClosureMd {
            first_name: m.first_name,
            last_name: m.last_name,
            what_lower,
            period: &m.period,
            place: &m.place,
            pupils: &m.pupils,
            reason: m.reason,
        },
    )
}

/// A notice of payment (App IO carries its payment data, so the parent pays from the app).
pub struct PaymentNotice<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub description: &'a str,
    pub amount: String,
    /// `23/11/2026`.
    pub due: String,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "mail/payment_notice.subject.txt")]
struct NoticeSubject<'a> {
    description: &'a str,
}
#[derive(Template)]
#[template(path = "mail/payment_notice.md")]
struct NoticeMd<'a> {
    first_name: &'a str,
    last_name: &'a str,
    description: &'a str,
    amount: &'a str,
    due: &'a str,
    notice: &'a str,
}

/// The notice of payment for App IO: (subject, Markdown).
pub fn payment_notice(m: &PaymentNotice<'_>) -> Result<(String, String), AppError> {
    Ok((
        render(&NoticeSubject {
            description: m.description,
        })?
        .trim()
        .to_string(),
        render(&NoticeMd {
            first_name: m.first_name,
            last_name: m.last_name,
            description: m.description,
            amount: &m.amount,
            due: &m.due,
            notice: &m.notice,
        })?
        .trim()
        .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_has_the_link_in_both_parts_and_escapes_html() {
        let c = activation(
            "Comune di <Prova>",
            "https://x.example/t/p/attiva?token=ab&c=1",
        )
        .unwrap();
        assert_eq!(c.subject, "Comune di <Prova>: attiva il tuo account");
        assert!(
            c.text
                .contains("https://x.example/t/p/attiva?token=ab&c=1\n")
        );
        let html = c.html.unwrap();
        assert!(
            html.contains("Comune di &#60;Prova&#62;") || html.contains("Comune di &lt;Prova&gt;")
        );
        assert!(html.contains("token=ab&#38;c=1") || html.contains("token=ab&amp;c=1"));
        assert!(!html.contains("<Prova>"));
    }

    #[test]
    fn kitchen_numbers_list_every_class_and_the_total() {
        let c = kitchen_numbers(&KitchenNumbers {
            tenant: "Comune di Esempio",
            school: "Primaria Rodari",
            day_short: "23/11/2026".into(),
            day_long: "lunedì 23 novembre 2026".into(),
            classes: vec![
                ("1A".into(), "20 pasti".into()),
                ("2B".into(), "18 pasti".into()),
            ],
            total: "38 pasti".into(),
        })
        .unwrap();
        assert_eq!(c.subject, "Pasti del 23/11/2026 – Primaria Rodari");
        assert_eq!(
            c.text,
            "Comune di Esempio\nPasti da preparare per lunedì 23 novembre 2026 – Primaria Rodari\n\n\
             1A: 20 pasti\n2B: 18 pasti\n\nTotale Primaria Rodari: 38 pasti"
        );
        assert!(c.html.unwrap().contains(
            "<th scope=\"row\" style=\"text-align: left; padding: .25em .5em;\">2B</th>"
        ));
    }

    #[test]
    fn every_family_message_fits_its_channels() {
        let c = communication(&Communication {
            tenant: "Comune di Esempio",
            first_name: "Mario",
            last_name: "Rossi",
            subject: "Gita <scolastica>",
            body: "Primo paragrafo.\n\nSecondo & ultimo.",
        })
        .unwrap();
        assert_eq!(c.email.subject, "Gita <scolastica>");
        let html = c.email.html.unwrap();
        assert!(html.contains("<p>Primo paragrafo.</p>"), "{html}");
        assert!(!html.contains("<scolastica>"));
        assert!(c.email.text.contains("Secondo & ultimo."));
        assert!(
            c.sms
                .starts_with("Comune di Esempio: Gita <scolastica>. Primo")
        );
        assert!(c.markdown.starts_with("Gentile Mario Rossi,"));
        let p = payment_received(&PaymentReceived {
            tenant: "Comune di Esempio",
            first_name: "Mario",
            last_name: "Rossi",
            amount: "25,00 €".into(),
            paid_on: "23/11/2026".into(),
            notice: "302000000000000123".into(),
            receipt: Some("RT-1".into()),
            balance: "30,50 €".into(),
        })
        .unwrap();
        assert_eq!(p.email.subject, "Pagamento ricevuto: 25,00 €");
        assert!(
            p.email
                .text
                .contains("Ricevuta: RT-1\nNuovo saldo del conto: 30,50 €")
        );
        assert!(p.sms.chars().count() <= 160, "{}", p.sms);
        let k = closure(&ClosureNotice {
            tenant: "Comune di Esempio",
            first_name: "Mario",
            last_name: "Rossi",
            what: "Sciopero",
            because: "A causa di uno sciopero",
            period: "lunedì 23 novembre 2026".into(),
            place: "Primaria Rodari".into(),
            pupils: "Anna".into(),
            reason: "Sciopero del personale",
        })
        .unwrap();
        assert_eq!(
            k.email.subject,
            "Sciopero: niente mensa lunedì 23 novembre 2026"
        );
        assert!(
            k.sms.contains(
                "A causa di uno sciopero lunedì 23 novembre 2026, niente mensa per Anna."
            ),
            "{}",
            k.sms
        );
    }

    #[test]
    fn low_balance_subject_follows_the_sign() {
        let m = |negative| LowBalance {
            tenant: "Comune di Esempio",
            first_name: "Mario",
            last_name: "Rossi",
            balance: "-3,50 €".into(),
            negative,
            day: "23/11/2026".into(),
        };
        assert_eq!(
            low_balance(&m(true)).unwrap().subject,
            "Conto mensa in negativo"
        );
        let c = low_balance(&m(false)).unwrap();
        assert_eq!(c.subject, "Credito mensa in esaurimento");
        assert!(c.text.starts_with(
            "Gentile Mario Rossi,\nil saldo del conto della refezione scolastica è -3,50 €"
        ));
    }
}
