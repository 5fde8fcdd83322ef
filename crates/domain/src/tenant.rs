//! The municipality (tenant) and its settings as typed values, with the rules that read them:
//! which cut-off hour applies to a kind of school, the booking rules of a pupil, and the
//! latest cut-off of the day (after which the close runs). Persistence is `db::registry::tenant`.

use std::collections::BTreeMap;

use jiff::civil::Time;
use serde::{Deserialize, Serialize};

use crate::booking::BookingRules;
use crate::ente::EnteFiscalCode;
use crate::identity::IdentitySettings;
use crate::ids::TenantId;
use crate::messaging::MessagingSettings;
use crate::pagopa::PagoPaSettings;
use crate::registry::SchoolKind;
use crate::slug::Slug;

/// A municipality of the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub name: String,
    pub fiscal_code: EnteFiscalCode,
    pub timezone: jiff::tz::TimeZone,
    pub cutoff_time: Time,
    /// The patron saint's day (month, day) and name, a local holiday.
    pub patron_day: Option<(i8, i8)>,
    pub patron_name: Option<String>,
    pub settings: TenantSettings,
}

/// Per-tenant settings that have sensible defaults; stored as JSON so that adding one needs
/// no migration. Unknown keys are ignored, missing ones take the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// E-mail and phone of the school office, shown to families.
    pub office_email: Option<String>,
    pub office_phone: Option<String>,
    /// The name e-mails come from (`From: <name> <mail_from>`); unset: the municipality's name.
    pub mail_from_name: Option<String>,
    /// Where families' answers to e-mails go (`Reply-To`); unset: the office's e-mail.
    pub mail_reply_to: Option<String>,
    /// Citizens may log in with local credentials (off by default: SPID/CIE).
    pub citizen_local_login: bool,
    /// How many days ahead families may change meals.
    pub booking_days_ahead: u16,
    /// Whether families may ask for bland meals, and for how many consecutive canteen days.
    pub bland_enabled: bool,
    pub bland_max_consecutive: Option<u16>,
    /// The longest from–to range of one request, in days.
    pub max_range_days: u16,
    /// Bland meals cost nothing (by default they cost as a standard meal).
    pub bland_meal_free: bool,
    /// Payers are warned when the balance pays for fewer than this many days of meals.
    pub low_balance_meals: u32,
    /// A different cut-off for some school kinds, stored as `{"infanzia": "09:00"}`. A stored
    /// value that is not a kind of school or an `hh:mm` hour does not load: the settings form
    /// refuses such values before they are written.
    #[serde(with = "hhmm_by_kind")]
    pub cutoff_by_school_kind: BTreeMap<SchoolKind, Time>,
    /// pagoPA: station, accounts, Checkout, sandbox or live.
    pub pagopa: PagoPaSettings,
    /// SMS gateway and App IO (their secrets are stored apart, in `tenant_secret`).
    pub messaging: MessagingSettings,
    /// SPID and CIE (the keys are stored apart, in `saml_key`).
    pub identity: IdentitySettings,
}

impl Default for TenantSettings {
    fn default() -> Self {
        let rules = BookingRules::default();
        TenantSettings {
            office_email: None,
            office_phone: None,
            mail_from_name: None,
            mail_reply_to: None,
            citizen_local_login: false,
            booking_days_ahead: rules.days_ahead,
            bland_enabled: rules.bland_enabled,
            bland_max_consecutive: rules.bland_max_consecutive,
            max_range_days: rules.max_range_days,
            bland_meal_free: false,
            low_balance_meals: 3,
            cutoff_by_school_kind: BTreeMap::new(),
            pagopa: PagoPaSettings::default(),
            messaging: MessagingSettings::default(),
            identity: IdentitySettings::default(),
        }
    }
}

impl Tenant {
    /// The cut-off hour for a kind of school (the municipality's, unless overridden).
    pub fn cutoff_for(&self, kind: SchoolKind) -> Time {
        self.settings
            .cutoff_by_school_kind
            .get(&kind)
            .copied()
            .unwrap_or(self.cutoff_time)
    }

    /// The booking rules that apply to a pupil of a kind of school.
    pub fn booking_rules(&self, kind: SchoolKind) -> BookingRules {
        BookingRules {
            cutoff: self.cutoff_for(kind),
            days_ahead: self.settings.booking_days_ahead,
            bland_enabled: self.settings.bland_enabled,
            bland_max_consecutive: self.settings.bland_max_consecutive,
            max_range_days: self.settings.max_range_days,
        }
    }

    /// The latest cut-off of the day over all kinds of school: the close runs after it.
    pub fn latest_cutoff(&self) -> Time {
        SchoolKind::ALL
            .iter()
            .map(|k| self.cutoff_for(*k))
            .max()
            .unwrap_or(self.cutoff_time)
    }
}

/// Parses an hour as the office types it and as it is stored: `hh:mm` (seconds, if any, must
/// be zero). `None` for anything else.
pub fn parse_hhmm(typed: &str) -> Option<Time> {
    match typed.trim().parse::<Time>() {
        Ok(t) if t.second() == 0 && t.subsec_nanosecond() == 0 => Some(t),
        _ => None,
    }
}

/// `{"infanzia": "09:00"}` <-> `BTreeMap<SchoolKind, Time>`: the stored format of the cut-off
/// per kind of school, the same as when it was a map of strings.
mod hhmm_by_kind {
    use std::collections::BTreeMap;

    use jiff::civil::Time;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::registry::SchoolKind;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<SchoolKind, Time>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        map.iter()
            .map(|(k, t)| (k.as_str(), t.strftime("%H:%M").to_string()))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<SchoolKind, Time>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, t)| {
                let kind = SchoolKind::parse(&k)
                    .ok_or_else(|| D::Error::custom(format!("unknown school kind {k:?}")))?;
                let time = super::parse_hhmm(&t)
                    .ok_or_else(|| D::Error::custom(format!("bad cut-off {t:?} for {k}")))?;
                Ok((kind, time))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Tenant {
        Tenant {
            id: TenantId(1),
            slug: Slug::parse("esempio").unwrap(),
            name: "Comune di Esempio".into(),
            fiscal_code: EnteFiscalCode::with_check_digit("8000215047").unwrap(),
            timezone: jiff::tz::TimeZone::UTC,
            cutoff_time: Time::constant(9, 30, 0, 0),
            patron_day: None,
            patron_name: None,
            settings: TenantSettings::default(),
        }
    }

    #[test]
    fn the_stored_format_of_the_cutoff_per_kind_is_kept() {
        let stored = r#"{"cutoff_by_school_kind":{"infanzia":"09:00","nido":"08:45"}}"#;
        let s: TenantSettings = serde_json::from_str(stored).unwrap();
        assert_eq!(
            s.cutoff_by_school_kind.get(&SchoolKind::Infanzia),
            Some(&Time::constant(9, 0, 0, 0))
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["cutoff_by_school_kind"],
            serde_json::json!({"infanzia": "09:00", "nido": "08:45"})
        );
        let back: TenantSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_bad_stored_cutoff_does_not_load() {
        for bad in [
            r#"{"cutoff_by_school_kind":{"infanzia":"nove"}}"#,
            r#"{"cutoff_by_school_kind":{"infanzia":"25:00"}}"#,
            r#"{"cutoff_by_school_kind":{"liceo":"09:00"}}"#,
        ] {
            assert!(
                serde_json::from_str::<TenantSettings>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_cutoff_of_a_kind_falls_back_on_the_municipality_s() {
        let mut t = demo();
        t.settings
            .cutoff_by_school_kind
            .insert(SchoolKind::Infanzia, Time::constant(10, 15, 0, 0));
        assert_eq!(
            t.cutoff_for(SchoolKind::Infanzia),
            Time::constant(10, 15, 0, 0)
        );
        assert_eq!(t.cutoff_for(SchoolKind::Primaria), t.cutoff_time);
        assert_eq!(
            t.booking_rules(SchoolKind::Infanzia).cutoff,
            Time::constant(10, 15, 0, 0)
        );
        assert_eq!(t.latest_cutoff(), Time::constant(10, 15, 0, 0));
        t.settings
            .cutoff_by_school_kind
            .insert(SchoolKind::Infanzia, Time::constant(8, 0, 0, 0));
        assert_eq!(t.latest_cutoff(), t.cutoff_time);
    }

    #[test]
    fn hours_are_hh_mm() {
        assert_eq!(parse_hhmm(" 09:30 "), Some(Time::constant(9, 30, 0, 0)));
        assert_eq!(parse_hhmm("09:30:00"), Some(Time::constant(9, 30, 0, 0)));
        assert_eq!(parse_hhmm("09:30:15"), None);
        assert_eq!(parse_hhmm("9.30"), None);
        assert_eq!(parse_hhmm(""), None);
    }
}
