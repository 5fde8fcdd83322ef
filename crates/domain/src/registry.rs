//! Small closed vocabularies of the domain, with their database value and Italian label,
//! and tariff band selection.

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

/// Picks the tariff band for a family.
///
/// With an ISEE value: a band whose range contains it and whose residency matches; a band
/// for the exact residency wins over an `Any` band; otherwise the first in slice order.
/// Without an ISEE ("non dichiarato"): the matching band with the highest `min` (the top band),
/// again preferring the exact residency on ties.
pub fn band_for<T>(
    bands: &[T],
    isee: Option<Cents>,
    resident: bool,
    key: impl Fn(&T) -> (IseeRange, Residency),
) -> Option<&T> {
    let specific = |r: Residency| r != Residency::Any;
    let candidates = bands.iter().filter_map(|b| {
        let (range, residency) = key(b);
        residency.matches(resident).then_some((b, range, residency))
    });
    match isee {
        Some(v) => {
            let mut best: Option<(&T, Residency)> = None;
            for (b, range, residency) in candidates {
                if !range.contains(v) {
                    continue;
                }
                match best {
                    None => best = Some((b, residency)),
                    Some((_, r)) if !specific(r) && specific(residency) => {
                        best = Some((b, residency));
                    }
                    Some(_) => {}
                }
            }
            best.map(|(b, _)| b)
        }
        None => {
            let mut best: Option<(&T, Cents, Residency)> = None;
            for (b, range, residency) in candidates {
                let better = match best {
                    None => true,
                    Some((_, min, r)) => {
                        range.min > min || (range.min == min && !specific(r) && specific(residency))
                    }
                };
                if better {
                    best = Some((b, range.min, residency));
                }
            }
            best.map(|(b, _, _)| b)
        }
    }
}

/// The sibling reduction, in basis points, for the child of the given rank
/// (1 = first child). `reductions` holds `(from_rank, basis_points)` pairs: the pair with the
/// highest `from_rank` not above `rank` applies. No pair applies: 0. Capped at 10000 (100%).
pub fn sibling_rank_reduction(rank: u32, reductions: &[(u32, u32)]) -> u32 {
    reductions
        .iter()
        .filter(|(from, _)| *from <= rank)
        .max_by_key(|(from, _)| *from)
        .map_or(0, |(_, bp)| (*bp).min(10_000))
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

    struct Band {
        name: &'static str,
        range: IseeRange,
        residency: Residency,
    }

    fn band(name: &'static str, min: i64, max: Option<i64>, residency: Residency) -> Band {
        Band {
            name,
            range: IseeRange {
                min: Cents(min),
                max: max.map(Cents),
            },
            residency,
        }
    }

    #[test]
    fn band_selection() {
        let bands = [
            band("A", 0, Some(600_000), Residency::Resident),
            band("B", 600_001, Some(1_500_000), Residency::Resident),
            band("C", 1_500_001, None, Residency::Resident),
            band("NR", 0, None, Residency::NonResident),
        ];
        let pick = |isee: Option<i64>, resident: bool| {
            band_for(&bands, isee.map(Cents), resident, |b| {
                (b.range, b.residency)
            })
            .map(|b| b.name)
        };
        assert_eq!(pick(Some(0), true), Some("A"));
        assert_eq!(pick(Some(600_000), true), Some("A"));
        assert_eq!(pick(Some(600_001), true), Some("B"));
        assert_eq!(pick(Some(9_000_000), true), Some("C"));
        assert_eq!(pick(None, true), Some("C"));
        assert_eq!(pick(Some(100), false), Some("NR"));
        assert_eq!(pick(None, false), Some("NR"));
        assert_eq!(pick(Some(-5), true), None);

        // an exact-residency band wins over an "any" band
        let bands = [
            band("ANY", 0, None, Residency::Any),
            band("RES", 0, None, Residency::Resident),
        ];
        let pick = |isee: Option<i64>, resident: bool| {
            band_for(&bands, isee.map(Cents), resident, |b| {
                (b.range, b.residency)
            })
            .map(|b| b.name)
        };
        assert_eq!(pick(Some(10), true), Some("RES"));
        assert_eq!(pick(None, true), Some("RES"));
        assert_eq!(pick(Some(10), false), Some("ANY"));
        assert_eq!(pick(None, false), Some("ANY"));
        let empty: [Band; 0] = [];
        assert!(band_for(&empty, None, true, |b| (b.range, b.residency)).is_none());
    }

    #[test]
    fn sibling_reductions() {
        let r = [(2, 2000), (3, 5000)];
        assert_eq!(sibling_rank_reduction(1, &r), 0);
        assert_eq!(sibling_rank_reduction(2, &r), 2000);
        assert_eq!(sibling_rank_reduction(3, &r), 5000);
        assert_eq!(sibling_rank_reduction(7, &r), 5000);
        assert_eq!(sibling_rank_reduction(0, &r), 0);
        assert_eq!(sibling_rank_reduction(4, &[]), 0);
        // order of the pairs does not matter; values capped at 100%
        assert_eq!(sibling_rank_reduction(3, &[(3, 20_000), (1, 100)]), 10_000);
        assert_eq!(sibling_rank_reduction(1, &[(3, 20_000), (1, 100)]), 100);
    }
}
