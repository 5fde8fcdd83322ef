//! The municipality's settings as the office edits them: the service's rules (cut-off hours,
//! days ahead, bland meals, low-balance warning, contacts) and the pagoPA setup. The form is
//! all text as typed; [`save`] checks every field, answers with Italian field errors, and
//! writes the whole settings at once, audited with before and after (the Checkout key is never
//! written to the audit log).

use jiff::civil::Time;
use refettorio_db::audit;
use refettorio_db::registry::tenant;
use refettorio_domain::pagopa::{Iban, PagoPaMode, SegregationCode};
use refettorio_domain::tenant::parse_hhmm;
pub use refettorio_domain::tenant::{Tenant, TenantSettings};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, Cents, ObjectKind, SchoolKind};

use crate::{AppError, Ctx, FieldError};

/// The settings form, every field as typed. Check boxes are `true` when ticked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsForm {
    pub office_email: String,
    pub office_phone: String,
    /// The name e-mails come from (empty: the municipality's name).
    pub mail_from_name: String,
    /// Where answers to e-mails go (empty: the office's e-mail).
    pub mail_reply_to: String,
    /// `09:30`.
    pub cutoff: String,
    /// A different cut-off per kind of school, empty for the municipality's.
    pub cutoff_by_kind: Vec<(SchoolKind, String)>,
    pub days_ahead: String,
    pub max_range_days: String,
    pub bland_enabled: bool,
    pub bland_max_consecutive: String,
    pub bland_meal_free: bool,
    pub low_balance_meals: String,
    pub citizen_local_login: bool,
    /// `sandbox` or `live`.
    pub pagopa_mode: String,
    pub broker_id: String,
    pub station_id: String,
    pub segregation_code: String,
    /// One IBAN per line.
    pub ibans: String,
    pub postal_account: String,
    pub postal_holder: String,
    pub cbill: String,
    pub checkout_base_url: String,
    /// Empty keeps the key already stored.
    pub checkout_key: String,
    /// Euro, `500,00`.
    pub max_recharge: String,
    pub recharge_due_days: String,
    pub sector: String,
}

impl SettingsForm {
    /// The form filled with a municipality's current settings (the Checkout key is not shown).
    pub fn of(t: &Tenant) -> SettingsForm {
        let s = &t.settings;
        let p = &s.pagopa;
        SettingsForm {
            office_email: s.office_email.clone().unwrap_or_default(),
            office_phone: s.office_phone.clone().unwrap_or_default(),
            mail_from_name: s.mail_from_name.clone().unwrap_or_default(),
            mail_reply_to: s.mail_reply_to.clone().unwrap_or_default(),
            cutoff: t.cutoff_time.strftime("%H:%M").to_string(),
            cutoff_by_kind: SchoolKind::ALL
                .iter()
                .map(|k| {
                    (
                        *k,
                        s.cutoff_by_school_kind
                            .get(k)
                            .map(|t| t.strftime("%H:%M").to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            days_ahead: s.booking_days_ahead.to_string(),
            max_range_days: s.max_range_days.to_string(),
            bland_enabled: s.bland_enabled,
            bland_max_consecutive: s
                .bland_max_consecutive
                .map(|n| n.to_string())
                .unwrap_or_default(),
            bland_meal_free: s.bland_meal_free,
            low_balance_meals: s.low_balance_meals.to_string(),
            citizen_local_login: s.citizen_local_login,
            pagopa_mode: match p.mode {
                PagoPaMode::Sandbox => "sandbox".into(),
                PagoPaMode::Live => "live".into(),
            },
            broker_id: p.broker_id.clone(),
            station_id: p.station_id.clone(),
            segregation_code: format!("{:02}", p.segregation_code.get()),
            ibans: p
                .ibans
                .iter()
                .map(|i| i.as_str().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            postal_account: p.postal_account.clone().unwrap_or_default(),
            postal_holder: p.postal_holder.clone().unwrap_or_default(),
            cbill: p.cbill.clone().unwrap_or_default(),
            checkout_base_url: p.checkout_base_url.clone().unwrap_or_default(),
            checkout_key: String::new(),
            max_recharge: Cents(p.max_recharge_cents).format_number_it(),
            recharge_due_days: p.recharge_due_days.to_string(),
            sector: p.sector.clone(),
        }
    }
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: &'static str, message: &str) {
        self.0.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// A whole number in `min..=max`, or an error on `field`.
    fn number<T: TryFrom<u64> + Copy>(
        &mut self,
        field: &'static str,
        typed: &str,
        min: u64,
        max: u64,
    ) -> Option<T> {
        match typed.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => T::try_from(n).ok(),
            _ => {
                self.add(field, &format!("Scrivi un numero intero da {min} a {max}."));
                None
            }
        }
    }

    fn time(&mut self, field: &'static str, typed: &str) -> Option<Time> {
        let t = parse_hhmm(typed);
        if t.is_none() {
            self.add(field, "Scrivi l'ora nel formato hh:mm (ad esempio 09:30).");
        }
        t
    }
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The settings the form describes, on top of `current` (which keeps what the form does not
/// show, such as the Checkout key when left empty); or every field error.
pub fn check(current: &Tenant, f: &SettingsForm) -> Result<(Time, TenantSettings), AppError> {
    let mut e = Errors(Vec::new());
    let mut s = current.settings.clone();
    s.office_email = optional(&f.office_email);
    if let Some(m) = &s.office_email
        && (m.len() > 254 || !m.contains('@') || m.contains(char::is_whitespace))
    {
        e.add("email", "Indirizzo e-mail non valido.");
    }
    s.office_phone = optional(&f.office_phone);
    if let Some(p) = &s.office_phone
        && (p.len() > 30
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-/().".contains(c)))
    {
        e.add("telefono", "Numero di telefono non valido.");
    }
    s.mail_from_name = optional(&f.mail_from_name);
    if let Some(n) = &s.mail_from_name
        && (n.chars().count() > 80 || n.contains(['<', '>', '"', '\n', '\r', '@']))
    {
        e.add(
            "mittente",
            "Scrivi solo un nome (fino a 80 caratteri, senza indirizzo e senza < > \" @).",
        );
    }
    s.mail_reply_to = optional(&f.mail_reply_to);
    if let Some(m) = &s.mail_reply_to
        && (m.len() > 254 || !m.contains('@') || m.contains(char::is_whitespace))
    {
        e.add("rispondi-a", "Indirizzo e-mail non valido.");
    }
    let cutoff = e.time("orario", &f.cutoff);
    s.cutoff_by_school_kind.clear();
    for (kind, typed) in &f.cutoff_by_kind {
        if typed.trim().is_empty() {
            continue;
        }
        let field = match kind {
            SchoolKind::Nido => "orario-nido",
            SchoolKind::Infanzia => "orario-infanzia",
            SchoolKind::Primaria => "orario-primaria",
            SchoolKind::SecondariaPrimoGrado => "orario-secondaria_primo_grado",
        };
        if let Some(t) = e.time(field, typed) {
            s.cutoff_by_school_kind.insert(*kind, t);
        }
    }
    if let Some(n) = e.number("giorni", &f.days_ahead, 1, 90) {
        s.booking_days_ahead = n;
    }
    if let Some(n) = e.number("intervallo", &f.max_range_days, 1, 366) {
        s.max_range_days = n;
    }
    s.bland_enabled = f.bland_enabled;
    s.bland_max_consecutive = if f.bland_max_consecutive.trim().is_empty() {
        None
    } else {
        e.number("bianco-giorni", &f.bland_max_consecutive, 1, 30)
    };
    s.bland_meal_free = f.bland_meal_free;
    if let Some(n) = e.number("soglia", &f.low_balance_meals, 0, 60) {
        s.low_balance_meals = n;
    }
    s.citizen_local_login = f.citizen_local_login;

    let p = &mut s.pagopa;
    p.mode = match f.pagopa_mode.as_str() {
        "sandbox" => PagoPaMode::Sandbox,
        "live" => PagoPaMode::Live,
        _ => {
            e.add("modalita", "Scegli la modalità.");
            p.mode
        }
    };
    p.broker_id = f.broker_id.trim().to_string();
    if !p.broker_id.is_empty()
        && (p.broker_id.len() != 11 || !p.broker_id.bytes().all(|b| b.is_ascii_digit()))
    {
        e.add(
            "intermediario",
            "Il codice dell'intermediario è il suo codice fiscale: 11 cifre.",
        );
    }
    p.station_id = f.station_id.trim().to_string();
    if !p.station_id.is_empty()
        && (p.station_id.len() > 35
            || !p
                .station_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        e.add(
            "stazione",
            "Il codice della stazione ha lettere, cifre e _ (ad esempio 01234567890_01).",
        );
    }
    match f.segregation_code.trim().parse::<u8>() {
        Ok(n) if f.segregation_code.trim().len() <= 2 => match SegregationCode::new(n) {
            Ok(code) => p.segregation_code = code,
            Err(_) => e.add("segregazione", "Il codice di segregazione ha due cifre."),
        },
        _ => e.add("segregazione", "Il codice di segregazione ha due cifre."),
    }
    let mut ibans = Vec::new();
    for (i, line) in f.ibans.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Iban::parse(line) {
            Ok(iban) if !ibans.contains(&iban) => ibans.push(iban),
            Ok(_) => e.add("iban", &format!("L'IBAN della riga {} è ripetuto.", i + 1)),
            Err(_) => e.add(
                "iban",
                &format!(
                    "L'IBAN della riga {} non è valido (27 caratteri, inizia con IT).",
                    i + 1
                ),
            ),
        }
    }
    p.ibans = ibans;
    p.postal_account = optional(&f.postal_account);
    if let Some(a) = &p.postal_account
        && (a.len() > 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        e.add(
            "conto-postale",
            "Il conto corrente postale ha al massimo 12 cifre.",
        );
    }
    p.postal_holder = optional(&f.postal_holder);
    if p.postal_account.is_some() && p.postal_holder.is_none() {
        e.add(
            "intestatario-postale",
            "Indica l'intestatario del conto corrente postale.",
        );
    }
    p.cbill = optional(&f.cbill).map(|c| c.to_ascii_uppercase());
    if let Some(c) = &p.cbill
        && (c.len() != 5 || !c.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        e.add("cbill", "Il codice CBILL ha 5 caratteri, lettere e cifre.");
    }
    p.checkout_base_url = optional(&f.checkout_base_url);
    if let Some(u) = &p.checkout_base_url
        && (!u.starts_with("https://") || u.contains(char::is_whitespace) || u.len() > 200)
    {
        e.add(
            "checkout-url",
            "L'indirizzo di Checkout deve iniziare con https:// (ad esempio https://api.platform.pagopa.it).",
        );
    }
    if let Some(k) = optional(&f.checkout_key) {
        if k.len() > 200 || k.contains(char::is_whitespace) {
            e.add("checkout-chiave", "Chiave di sottoscrizione non valida.");
        } else {
            p.checkout_key = Some(k);
        }
    }
    match Cents::parse_it(&f.max_recharge) {
        Ok(c) if c.get() >= 100 && c.get() <= 1_000_000 => p.max_recharge_cents = c.get(),
        _ => e.add(
            "ricarica-massima",
            "Scrivi un importo da 1,00 a 10.000,00 euro.",
        ),
    }
    if let Some(n) = e.number("scadenza", &f.recharge_due_days, 1, 365) {
        p.recharge_due_days = n;
    }
    p.sector = f.sector.trim().to_string();
    if p.sector.is_empty() || p.sector.chars().count() > 60 {
        e.add(
            "settore",
            "Indica il settore del Comune che riceve i pagamenti (al massimo 60 caratteri).",
        );
    }
    if p.mode == PagoPaMode::Live {
        let missing = [
            (p.broker_id.is_empty(), "intermediario"),
            (p.station_id.is_empty(), "stazione"),
            (p.ibans.is_empty(), "iban"),
            (p.checkout_base_url.is_none(), "checkout-url"),
            (p.checkout_key.is_none(), "checkout-chiave"),
        ];
        for (absent, field) in missing {
            if absent && !e.0.iter().any(|x| x.field == field) {
                e.add(field, "Serve per incassare con pagoPA in modalità reale.");
            }
        }
    }
    match cutoff {
        Some(t) if e.0.is_empty() => Ok((t, s)),
        _ => Err(AppError::Fields(e.0)),
    }
}

/// What the audit log keeps of the settings: everything but the Checkout key.
fn for_audit(cutoff: Time, s: &TenantSettings) -> serde_json::Value {
    let mut shown = s.clone();
    if shown.pagopa.checkout_key.is_some() {
        shown.pagopa.checkout_key = Some("(impostata)".into());
    }
    serde_json::json!({
        "cutoff": cutoff.strftime("%H:%M").to_string(),
        "settings": serde_json::to_value(&shown).unwrap_or_default(),
    })
}

/// Checks and saves the settings, audited with before and after. Nothing changed: nothing
/// written.
pub async fn save(ctx: Ctx<'_>, f: &SettingsForm) -> Result<(), AppError> {
    let current = ctx.tenant;
    let (cutoff, settings) = check(current, f)?;
    if cutoff == current.cutoff_time && settings == current.settings {
        return Ok(());
    }
    let before = for_audit(current.cutoff_time, &current.settings);
    let after = for_audit(cutoff, &settings);
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    tenant::set_settings(c, current.id, &settings).await?;
    tenant::set_cutoff_time(c, current.id, cutoff).await?;
    audit::record(
        c,
        current.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::Settings,
            AuditObject {
                kind: ObjectKind::Tenant,
                id: Some(current.id.get()),
            },
        )
        .before(before)
        .after(after)
        .reason("Impostazioni del servizio"),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use refettorio_domain::{EnteFiscalCode, Slug, TenantId};

    fn demo() -> Tenant {
        Tenant {
            id: TenantId(1),
            slug: Slug::parse("esempio").unwrap(),
            name: "Comune di Esempio".into(),
            fiscal_code: EnteFiscalCode::with_check_digit("8000215047").unwrap(),
            timezone: jiff::tz::TimeZone::UTC,
            cutoff_time: "09:30".parse().unwrap(),
            patron_day: None,
            patron_name: None,
            settings: TenantSettings::default(),
        }
    }

    #[test]
    fn the_current_settings_pass_unchanged() {
        let t = demo();
        let (cutoff, s) = check(&t, &SettingsForm::of(&t)).unwrap();
        assert_eq!(cutoff, t.cutoff_time);
        assert_eq!(s, t.settings);
    }

    #[test]
    fn every_bad_field_has_its_error() {
        let t = demo();
        let mut f = SettingsForm::of(&t);
        f.cutoff = "25:00".into();
        f.days_ahead = "0".into();
        f.ibans = "IT60X0542811101000000123456\nIT00X0000000000000000000000".into();
        f.cbill = "AB".into();
        f.max_recharge = "0,50".into();
        f.pagopa_mode = "live".into();
        f.office_email = "non una mail".into();
        f.cutoff_by_kind = vec![(SchoolKind::Infanzia, "nove".into())];
        let Err(AppError::Fields(errors)) = check(&t, &f) else {
            panic!("accepted");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        for expected in [
            "orario",
            "orario-infanzia",
            "giorni",
            "iban",
            "cbill",
            "ricarica-massima",
            "email",
            "intermediario",
            "checkout-chiave",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn an_empty_key_keeps_the_stored_one_and_a_cutoff_per_kind_is_kept() {
        let mut t = demo();
        t.settings.pagopa.checkout_key = Some("segreta".into());
        let mut f = SettingsForm::of(&t);
        assert!(f.checkout_key.is_empty());
        f.cutoff_by_kind = vec![(SchoolKind::Infanzia, "09:00".into())];
        f.max_recharge = "250,00".into();
        let (_, s) = check(&t, &f).unwrap();
        assert_eq!(s.pagopa.checkout_key.as_deref(), Some("segreta"));
        assert_eq!(s.pagopa.max_recharge_cents, 25_000);
        assert_eq!(
            s.cutoff_by_school_kind.get(&SchoolKind::Infanzia),
            Some(&Time::constant(9, 0, 0, 0))
        );
        assert!(!for_audit(t.cutoff_time, &s).to_string().contains("segreta"));
    }
}
