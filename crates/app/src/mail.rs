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
