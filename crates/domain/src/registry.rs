//! Small closed vocabularies of the domain, with their database value and Italian label.
//! Tariff band selection and meal prices are in [`crate::pricing`].

use serde::{Deserialize, Serialize};

use crate::money::Cents;

macro_rules! registry_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $db:literal, $label:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: [Self; registry_enum!(@count $($variant)+)] = [$(Self::$variant),+];

            /// The value stored in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $db),+
                }
            }

            /// Reads the value stored in the database.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($db => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The Italian label shown to users.
            pub const fn label_it(self) -> &'static str {
                match self {
                    $(Self::$variant => $label),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label_it())
            }
        }
    };
    (@count) => { 0usize };
    (@count $head:ident $($tail:ident)*) => { 1usize + registry_enum!(@count $($tail)*) };
}
pub(crate) use registry_enum;

registry_enum!(SchoolKind {
    Nido => "nido", "Asilo nido",
    Infanzia => "infanzia", "Scuola dell'infanzia",
    Primaria => "primaria", "Scuola primaria",
    SecondariaPrimoGrado => "secondaria_primo_grado", "Scuola secondaria di primo grado",
});

registry_enum!(ServiceKind {
    Refezione => "refezione", "Refezione scolastica",
    Trasporto => "trasporto", "Trasporto scolastico",
});

registry_enum!(Billing {
    Prepaid => "prepaid", "Prepagato",
    Postpaid => "postpaid", "Postpagato (emissioni)",
});

impl ServiceKind {
    /// The canteen is usually prepaid; transport is usually billed afterwards.
    pub fn default_billing(self) -> Billing {
        match self {
            ServiceKind::Refezione => Billing::Prepaid,
            ServiceKind::Trasporto => Billing::Postpaid,
        }
    }

    /// Whether the service serves meals (and so has a meal price and a meal calendar).
    pub fn has_meals(self) -> bool {
        self == ServiceKind::Refezione
    }
}

registry_enum!(EnrolmentState {
    Attivo => "attivo", "Attivo",
    Disattivo => "disattivo", "Disattivo",
});

registry_enum!(Residency {
    Resident => "resident", "Residente",
    NonResident => "non_resident", "Non residente",
    Any => "any", "Tutti",
});

impl Residency {
    /// Whether a band with this residency applies to a resident (`true`) or non-resident.
    pub fn matches(self, resident: bool) -> bool {
        match self {
            Residency::Any => true,
            Residency::Resident => resident,
            Residency::NonResident => !resident,
        }
    }
}

registry_enum!(DietKind {
    Health => "health", "Dieta sanitaria",
    Ethical => "ethical", "Dieta etico-religiosa",
});

registry_enum!(StaffRole {
    Office => "office", "Ufficio scuola",
    School => "school", "Scuola",
    Kitchen => "kitchen", "Centro cottura",
    CanteenStaff => "canteen_staff", "Addetto mensa",
    PlatformAdmin => "platform_admin", "Amministratore piattaforma",
});

/// An ISEE interval of a tariff band: `min` and `max` both inclusive; `max: None` = no upper limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IseeRange {
    pub min: Cents,
    pub max: Option<Cents>,
}

impl IseeRange {
    pub fn contains(&self, isee: Cents) -> bool {
        isee >= self.min && self.max.is_none_or(|max| isee <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_values_and_labels() {
        assert_eq!(
            SchoolKind::SecondariaPrimoGrado.as_str(),
            "secondaria_primo_grado"
        );
        assert_eq!(SchoolKind::Infanzia.label_it(), "Scuola dell'infanzia");
        assert_eq!(StaffRole::CanteenStaff.as_str(), "canteen_staff");
        assert_eq!(Residency::NonResident.as_str(), "non_resident");
        assert_eq!(Residency::Any.label_it(), "Tutti");
        assert_eq!(Billing::Postpaid.label_it(), "Postpagato (emissioni)");
        assert_eq!(DietKind::Ethical.label_it(), "Dieta etico-religiosa");
        assert_eq!(ServiceKind::Refezione.default_billing(), Billing::Prepaid);
        assert_eq!(ServiceKind::Trasporto.default_billing(), Billing::Postpaid);
        assert_eq!(SchoolKind::ALL.len(), 4);
        assert_eq!(StaffRole::ALL.len(), 5);
        assert_eq!(StaffRole::parse("Office"), None);
        assert_eq!(StaffRole::parse(""), None);
    }

    fn round_trip<T: Copy + PartialEq + std::fmt::Debug + Serialize>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(parse(as_str(v)), Some(v));
            // serde uses the same value as the database
            assert_eq!(
                serde_json::to_string(&v).ok(),
                Some(format!("\"{}\"", as_str(v)))
            );
        }
    }

    #[test]
    fn all_round_trip() {
        round_trip(&SchoolKind::ALL, SchoolKind::as_str, SchoolKind::parse);
        round_trip(&ServiceKind::ALL, ServiceKind::as_str, ServiceKind::parse);
        round_trip(&Billing::ALL, Billing::as_str, Billing::parse);
        round_trip(
            &EnrolmentState::ALL,
            EnrolmentState::as_str,
            EnrolmentState::parse,
        );
        round_trip(&Residency::ALL, Residency::as_str, Residency::parse);
        round_trip(&DietKind::ALL, DietKind::as_str, DietKind::parse);
        round_trip(&StaffRole::ALL, StaffRole::as_str, StaffRole::parse);
    }

    #[test]
    fn isee_range() {
        let r = IseeRange {
            min: Cents(0),
            max: Some(Cents(600_000)),
        };
        assert!(r.contains(Cents(0)));
        assert!(r.contains(Cents(600_000)));
        assert!(!r.contains(Cents(600_001)));
        assert!(!r.contains(Cents(-1)));
        let open = IseeRange {
            min: Cents(2_000_000),
            max: None,
        };
        assert!(open.contains(Cents(i64::MAX)));
        assert!(!open.contains(Cents(1_999_999)));
    }
}
