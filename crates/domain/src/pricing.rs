//! The meal price of an enrolment, in one place: the tariff band of a family ([`band_for`]),
//! the rank of a child among its enrolled siblings ([`sibling_rank`]), the service's sibling
//! reduction for that rank ([`sibling_rank_reduction`]) and the price they make together
//! ([`meal_price`]), which the office's enrolment form, the import, the demo municipality and
//! the repricing of a band all call.

use jiff::civil::Date;

use crate::ids::PupilId;
use crate::money::Cents;
use crate::registry::{IseeRange, Residency};

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

/// A child of a family, as the sibling rank counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sibling {
    pub id: PupilId,
    pub birth_date: Date,
}

impl Sibling {
    /// Born before `other` (same birth date: the older record first, the smaller id).
    fn before(&self, other: &Sibling) -> bool {
        (self.birth_date, self.id.get()) < (other.birth_date, other.id.get())
    }
}

/// The rank of `me` among the children of its family enrolled (actively) in a service,
/// eldest first (1 = the eldest; same birth date: the older record first): 1 + the enrolled
/// siblings born before `me`. `me` itself among `enrolled` does not count. The same rule as
/// the database's `sibling_rank_sql!`.
pub fn sibling_rank(me: Sibling, enrolled: impl IntoIterator<Item = Sibling>) -> u32 {
    let older = enrolled
        .into_iter()
        .filter(|s| s.id != me.id && s.before(&me))
        .count();
    u32::try_from(older).map_or(u32::MAX, |n| n.saturating_add(1))
}

/// A tariff band's meal amounts, as the price of an enrolment reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandPrice {
    pub meal_price: Cents,
    /// An exempt band pays nothing.
    pub exempt: bool,
}

/// The meal price of an enrolment: nothing for an exempt band, else the band's price with
/// the sibling reduction of the child's `rank` (`reductions` as in
/// [`sibling_rank_reduction`]). `None` only for a price out of range.
pub fn meal_price(band: BandPrice, rank: u32, reductions: &[(u32, u32)]) -> Option<Cents> {
    if band.exempt {
        return Some(Cents::ZERO);
    }
    band.meal_price
        .apply_basis_points(sibling_rank_reduction(rank, reductions))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

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

    fn child(id: i64, y: i16, m: i8, d: i8) -> Sibling {
        Sibling {
            id: PupilId(id),
            birth_date: jiff::civil::date(y, m, d),
        }
    }

    #[test]
    fn ranks_eldest_first() {
        let a = child(3, 2015, 1, 1);
        let b = child(1, 2017, 5, 5);
        let twin1 = child(4, 2019, 2, 2);
        let twin2 = child(2, 2019, 2, 2);
        let all = [a, b, twin1, twin2];
        assert_eq!(sibling_rank(a, all), 1);
        assert_eq!(sibling_rank(b, all), 2);
        // twins: the older record (smaller id) first
        assert_eq!(sibling_rank(twin2, all), 3);
        assert_eq!(sibling_rank(twin1, all), 4);
        // a child not yet enrolled takes the rank after its older enrolled siblings
        assert_eq!(sibling_rank(b, [a]), 2);
        assert_eq!(sibling_rank(a, []), 1);
    }

    #[test]
    fn prices() {
        let band = BandPrice {
            meal_price: Cents(500),
            exempt: false,
        };
        let r = [(2, 2000), (3, 5000)];
        assert_eq!(meal_price(band, 1, &r), Some(Cents(500)));
        assert_eq!(meal_price(band, 2, &r), Some(Cents(400)));
        assert_eq!(meal_price(band, 3, &r), Some(Cents(250)));
        assert_eq!(meal_price(band, 9, &r), Some(Cents(250)));
        assert_eq!(meal_price(band, 2, &[]), Some(Cents(500)));
        let exempt = BandPrice {
            meal_price: Cents(500),
            exempt: true,
        };
        assert_eq!(meal_price(exempt, 1, &r), Some(Cents::ZERO));
        // rounded half up to the cent
        let odd = BandPrice {
            meal_price: Cents(333),
            exempt: false,
        };
        assert_eq!(meal_price(odd, 2, &[(2, 5000)]), Some(Cents(167)));
    }

    proptest! {
        #[test]
        fn a_price_is_never_negative_nor_above_the_band(
            price in 0i64..10_000_000,
            exempt in any::<bool>(),
            rank in 0u32..12,
            reductions in proptest::collection::vec((0u32..8, 0u32..20_000), 0..5),
        ) {
            let band = BandPrice { meal_price: Cents(price), exempt };
            let p = meal_price(band, rank, &reductions);
            prop_assert!(p.is_some());
            let p = p.unwrap_or(Cents(-1));
            prop_assert!(p >= Cents::ZERO && p <= Cents(price));
            if exempt {
                prop_assert_eq!(p, Cents::ZERO);
            }
            if reductions.iter().all(|(from, _)| *from > rank) {
                prop_assert_eq!(p, if exempt { Cents::ZERO } else { Cents(price) });
            }
        }

        #[test]
        fn the_ranks_of_a_family_are_one_to_n(
            births in proptest::collection::vec((2010i16..2024, 1i8..13, 1i8..29), 1..8),
        ) {
            let children: Vec<Sibling> = births
                .iter()
                .enumerate()
                .map(|(i, (y, m, d))| child(i64::try_from(i).unwrap_or(0) + 1, *y, *m, *d))
                .collect();
            let mut ranks: Vec<u32> = children
                .iter()
                .map(|c| sibling_rank(*c, children.iter().copied()))
                .collect();
            ranks.sort_unstable();
            let expected: Vec<u32> = (1..=u32::try_from(children.len()).unwrap_or(0)).collect();
            prop_assert_eq!(ranks, expected);
        }

        #[test]
        fn an_older_sibling_never_pays_less_with_growing_reductions(
            price in 0i64..1_000_000,
            steps in proptest::collection::vec(0u32..3000, 1..4),
            rank in 1u32..6,
        ) {
            // reductions that grow with the rank
            let mut bp = 0;
            let reductions: Vec<(u32, u32)> = steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    bp += s;
                    (u32::try_from(i).unwrap_or(0) + 2, bp)
                })
                .collect();
            let band = BandPrice { meal_price: Cents(price), exempt: false };
            prop_assert!(meal_price(band, rank, &reductions) >= meal_price(band, rank + 1, &reductions));
        }
    }
}
