//! Post-paid fees (issue 17): a service's fee rule, the period of an issuing run ("emissione")
//! and what one enrolment owes for it. The same rule for the preview, the issue, the command
//! and the tests.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::audit::keyed;
use crate::money::Cents;
use crate::pagopa::Iban;
use crate::pricing::sibling_rank_reduction;

keyed! {
    /// How often a service's fee is issued.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    Frequency {
        Monthly = "monthly" => "Mensile",
        Yearly = "yearly" => "Annuale",
    }
}

keyed! {
    /// What an enrolment that starts or ends within a period pays: a begun period whole, in
    /// proportion to the calendar days enrolled, or only whole periods.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    ProRata {
        Whole = "whole" => "Periodo iniziato: quota intera",
        Days = "days" => "In proporzione ai giorni di iscrizione",
        None = "none" => "Solo periodi interi",
    }
}

/// A post-paid service's fee rule: how fees are issued and where they are paid to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRule {
    pub frequency: Frequency,
    pub pro_rata: ProRata,
    /// The enrolment fee ("quota iscrizione") per child, once a school year; zero: none.
    pub enrolment_fee: Cents,
    /// Where the service's fees are paid (the transfer's IBAN).
    pub iban: String,
    /// pagoPA's taxonomy code of the service (`9/0107102SP/` for school transport).
    pub taxonomy: String,
    /// Days from the issue to the due date.
    pub due_days: u16,
    /// Unpaid past its due date, a fee can no longer be paid with its notice (the station
    /// answers `PAA_PAGAMENTO_SCADUTO`); otherwise it stays payable, late.
    pub expires: bool,
}

impl FeeRule {
    /// Checks the rule; each error names its field (`(field, Italian message)`).
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if Iban::parse(&self.iban).is_err() {
            errors.push((
                "iban",
                "IBAN non valido: serve l'IBAN italiano (27 caratteri) su cui si pagano le quote del servizio.".into(),
            ));
        }
        if !is_taxonomy(self.taxonomy.trim()) {
            errors.push((
                "taxonomy",
                "Codice tassonomico non valido: nella forma 9/0107102SP/ (tassonomia pagoPA dei servizi).".into(),
            ));
        }
        if self.enrolment_fee.is_negative() {
            errors.push((
                "enrolment_fee",
                "La quota di iscrizione non può essere negativa.".into(),
            ));
        }
        if self.due_days == 0 || self.due_days > 365 {
            errors.push(("due_days", "Giorni alla scadenza: da 1 a 365.".into()));
        }
        errors
    }
}

/// pagoPA's taxonomy code: `<type digit>/<9 characters>/` (e.g. `9/0107102SP/`).
fn is_taxonomy(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[0].is_ascii_digit()
        && b[1] == b'/'
        && b[2..11].iter().all(u8::is_ascii_alphanumeric)
        && b[11] == b'/'
}

/// What an issuing run issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A month's fees (`2026-12`).
    Month(Date),
    /// The school year's fee (`anno`).
    Year,
    /// The yearly enrolment fee (`iscrizione`).
    Enrolment,
}

impl Period {
    /// `2026-12`, `anno` or `iscrizione`.
    pub fn parse(s: &str) -> Option<Period> {
        match s.trim() {
            "anno" => Some(Period::Year),
            "iscrizione" => Some(Period::Enrolment),
            m => {
                let (y, mo) = m.split_once('-')?;
                if y.len() != 4 || mo.len() != 2 {
                    return None;
                }
                let date = Date::new(y.parse().ok()?, mo.parse().ok()?, 1).ok()?;
                Some(Period::Month(date))
            }
        }
    }

    /// As [`Period::parse`] reads it.
    pub fn key(self) -> String {
        match self {
            Period::Month(d) => format!("{:04}-{:02}", d.year(), d.month()),
            Period::Year => "anno".into(),
            Period::Enrolment => "iscrizione".into(),
        }
    }

    /// For the notice's description and the pages: "dicembre 2026", "anno scolastico 2026/2027".
    pub fn label_it(self, year_label: &str) -> String {
        match self {
            Period::Month(d) => crate::booking::month_it(d),
            Period::Year => format!("anno scolastico {year_label}"),
            Period::Enrolment => format!("quota di iscrizione {year_label}"),
        }
    }

    /// The days the period covers (first and last), within the school year
    /// `year` (first and last day): a month must lie within it and the rule must be monthly;
    /// the year's fee needs a yearly rule. The refusal is in Italian.
    pub fn days(self, rule: &FeeRule, year: (Date, Date)) -> Result<(Date, Date), String> {
        match self {
            Period::Month(first) => {
                if rule.frequency != Frequency::Monthly {
                    return Err(
                        "Il servizio ha una quota annuale: emetti il periodo «anno».".into(),
                    );
                }
                let last = first.last_of_month();
                if first < year.0 || last > year.1 {
                    return Err(format!(
                        "Il mese {} non è nell'anno scolastico del servizio ({} – {}).",
                        self.key(),
                        year.0,
                        year.1
                    ));
                }
                Ok((first, last))
            }
            Period::Year => {
                if rule.frequency != Frequency::Yearly {
                    return Err(
                        "Il servizio ha una quota mensile: emetti un mese (ad esempio 2026-12)."
                            .into(),
                    );
                }
                Ok(year)
            }
            Period::Enrolment => {
                if rule.enrolment_fee.is_zero() {
                    return Err("Il servizio non ha una quota di iscrizione.".into());
                }
                Ok(year)
            }
        }
    }
}

/// An enrolment as a fee reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolled {
    /// The band's fixed fee.
    pub fixed_fee: Cents,
    /// An exempt band pays nothing.
    pub exempt: bool,
    /// The child's rank among its enrolled siblings (1 = the eldest).
    pub rank: u32,
    /// The first day enrolled, and the first day no longer enrolled (if it ends).
    pub from: Date,
    pub until: Option<Date>,
}

/// What one enrolment owes for `period` (its days `days`, from [`Period::days`]) under `rule`
/// and the tariff's sibling `reductions`: nothing for an exempt band; the enrolment fee as it
/// is (it has no sibling reduction); else the band's fixed fee with the sibling reduction of
/// the child's rank, pro rata as the rule says for an enrolment that starts or ends within the
/// period. `None` only for an amount out of range.
pub fn fee(
    e: &Enrolled,
    rule: &FeeRule,
    period: Period,
    days: (Date, Date),
    reductions: &[(u32, u32)],
) -> Option<Cents> {
    let (first, last) = days;
    let end = e
        .until
        .map_or(last, |u| u.yesterday().unwrap_or(u).min(last));
    let start = e.from.max(first);
    if e.exempt || start > end {
        return Some(Cents::ZERO);
    }
    if period == Period::Enrolment {
        return Some(rule.enrolment_fee);
    }
    let full = e
        .fixed_fee
        .apply_basis_points(sibling_rank_reduction(e.rank, reductions))?;
    let whole = start == first && end == last;
    match rule.pro_rata {
        _ if whole => Some(full),
        ProRata::Whole => Some(full),
        ProRata::None => Some(Cents::ZERO),
        ProRata::Days => {
            let covered = i128::from(span_days(start, end)?);
            let all = i128::from(span_days(first, last)?);
            let n = i128::from(full.get()) * covered;
            // Rounded half up to the cent.
            let q = (n * 2 + all) / (all * 2);
            i64::try_from(q).ok().map(Cents::new)
        }
    }
}

/// Days from `a` to `b`, both counted.
fn span_days(a: Date, b: Date) -> Option<i64> {
    a.until(b)
        .ok()
        .map(|s| i64::from(s.get_days()) + 1)
        .filter(|d| *d > 0)
}

/// The due date of fees issued on `today` under `rule`, or the one asked for: never before
/// the issue date (refused in Italian).
pub fn due_date(rule: &FeeRule, today: Date, asked: Option<Date>) -> Result<Date, String> {
    match asked {
        Some(d) if d < today => Err(format!(
            "La scadenza ({d}) è prima della data di emissione ({today})."
        )),
        Some(d) => Ok(d),
        None => today
            .checked_add(i32::from(rule.due_days).days())
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn rule(pro_rata: ProRata) -> FeeRule {
        FeeRule {
            frequency: Frequency::Monthly,
            pro_rata,
            enrolment_fee: Cents::new(3000),
            iban: "IT60X0542811101000000123456".into(),
            taxonomy: "9/0107102SP/".into(),
            due_days: 30,
            expires: false,
        }
    }

    const YEAR: (&str, &str) = ("2026-09-01", "2027-08-31");

    fn year() -> (Date, Date) {
        (d(YEAR.0), d(YEAR.1))
    }

    fn enrolled(fee: i64, rank: u32, from: &str, until: Option<&str>) -> Enrolled {
        Enrolled {
            fixed_fee: Cents::new(fee),
            exempt: false,
            rank,
            from: d(from),
            until: until.map(d),
        }
    }

    #[test]
    fn periods_read_and_lie_within_the_school_year() {
        let r = rule(ProRata::Whole);
        let dec = Period::parse("2026-12").unwrap();
        assert_eq!(dec.key(), "2026-12");
        assert_eq!(dec.label_it("2026/2027"), "dicembre 2026");
        assert_eq!(dec.days(&r, year()), Ok((d("2026-12-01"), d("2026-12-31"))));
        assert!(Period::parse("2027-09").unwrap().days(&r, year()).is_err());
        assert!(Period::parse("2026-08").unwrap().days(&r, year()).is_err());
        assert!(Period::Year.days(&r, year()).is_err(), "a monthly rule");
        for bad in ["2026-13", "26-12", "2026-1", "dicembre", ""] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        assert_eq!(Period::parse("iscrizione"), Some(Period::Enrolment));
    }

    /// Hand-computed: a 25,00 € fee, a 30% reduction from the second child, December (31
    /// days).
    #[test]
    fn fees_follow_the_tariff_and_the_pro_rata_rule() {
        let dec = Period::parse("2026-12").unwrap();
        let days = dec.days(&rule(ProRata::Whole), year()).unwrap();
        let reductions = [(2, 3000)];
        let fee_of =
            |e: Enrolled, p: ProRata| fee(&e, &rule(p), dec, days, &reductions).unwrap().get();
        // The whole month: 25,00; the second child 17,50.
        assert_eq!(
            fee_of(enrolled(2500, 1, "2026-09-10", None), ProRata::Days),
            2500
        );
        assert_eq!(
            fee_of(enrolled(2500, 2, "2026-09-10", None), ProRata::Days),
            1750
        );
        // From 10 December: 22 days of 31. Days: 2500 × 22 / 31 = 1774,19 → 17,74.
        let late = enrolled(2500, 1, "2026-12-10", None);
        assert_eq!(fee_of(late, ProRata::Days), 1774);
        assert_eq!(fee_of(late, ProRata::Whole), 2500);
        assert_eq!(fee_of(late, ProRata::None), 0);
        // Ending on 16 December (no longer enrolled from the 16th): 15 days. 1209,67 → 12,10.
        let ends = enrolled(2500, 1, "2026-09-10", Some("2026-12-16"));
        assert_eq!(fee_of(ends, ProRata::Days), 1210);
        // Second child, from 10 December: 1750 × 22 / 31 = 1241,93 → 12,42.
        assert_eq!(
            fee_of(enrolled(2500, 2, "2026-12-10", None), ProRata::Days),
            1242
        );
        // Not enrolled in December at all; exempt.
        assert_eq!(
            fee_of(enrolled(2500, 1, "2027-01-07", None), ProRata::Whole),
            0
        );
        assert_eq!(
            fee_of(
                enrolled(2500, 1, "2026-09-01", Some("2026-12-01")),
                ProRata::Whole
            ),
            0
        );
        let exempt = Enrolled {
            exempt: true,
            ..enrolled(2500, 1, "2026-09-10", None)
        };
        assert_eq!(fee_of(exempt, ProRata::Whole), 0);
        // The enrolment fee: as it is, for every child enrolled in the year.
        let all = Period::Enrolment
            .days(&rule(ProRata::Whole), year())
            .unwrap();
        let e = enrolled(2500, 3, "2026-12-10", None);
        assert_eq!(
            fee(
                &e,
                &rule(ProRata::Days),
                Period::Enrolment,
                all,
                &reductions
            ),
            Some(Cents::new(3000))
        );
    }

    #[test]
    fn a_rule_needs_an_iban_and_a_taxonomy_code_and_the_due_date_follows_the_issue() {
        assert!(rule(ProRata::Whole).check().is_empty());
        let bad = FeeRule {
            iban: String::new(),
            taxonomy: "0107102SP".into(),
            ..rule(ProRata::Whole)
        };
        let fields: Vec<_> = bad.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["iban", "taxonomy"]);
        let r = rule(ProRata::Whole);
        let today = d("2026-12-07");
        assert_eq!(due_date(&r, today, None), Ok(d("2027-01-06")));
        assert_eq!(
            due_date(&r, today, Some(d("2026-12-31"))),
            Ok(d("2026-12-31"))
        );
        assert!(due_date(&r, today, Some(d("2026-12-06"))).is_err());
    }
}
