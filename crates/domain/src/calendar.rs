//! The school calendar: national holidays, the patron saint's day, closures, and the
//! weekdays on which a class eats at the canteen (its "rientri").

use std::fmt;

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use crate::ids::{ClassId, SchoolId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("Giorno della settimana non riconosciuto: «{0}» (usare ad esempio: lun, mar, mer)")]
    UnknownWeekday(String),
    #[error("La data di inizio ({from}) è successiva alla data di fine ({to})")]
    InvalidRange { from: Date, to: Date },
    #[error("Il giorno del santo patrono non è una data valida ({day}/{month})")]
    InvalidPatronDay { month: i8, day: i8 },
}

/// Easter Sunday (Gregorian calendar), by the anonymous algorithm (Meeus/Jones/Butcher).
/// `None` outside 1583..=9999.
pub fn easter_sunday(year: i16) -> Option<Date> {
    if !(1583..=9999).contains(&year) {
        return None;
    }
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Easter Monday ("Lunedì dell'Angelo", Pasquetta). `None` outside 1583..=9999.
pub fn easter_monday(year: i16) -> Option<Date> {
    easter_sunday(year)?.tomorrow().ok()
}

/// Fixed-date national holidays: (month, day, name, first year it applies).
const FIXED_HOLIDAYS: [(i8, i8, &str, i16); 11] = [
    (1, 1, "Capodanno", i16::MIN),
    (1, 6, "Epifania", i16::MIN),
    (4, 25, "Festa della Liberazione", i16::MIN),
    (5, 1, "Festa del Lavoro", i16::MIN),
    (6, 2, "Festa della Repubblica", i16::MIN),
    (8, 15, "Ferragosto", i16::MIN),
    // Legge 151/2025: national holiday again from 2026.
    (10, 4, "San Francesco d'Assisi", 2026),
    (11, 1, "Ognissanti", i16::MIN),
    (12, 8, "Immacolata Concezione", i16::MIN),
    (12, 25, "Natale", i16::MIN),
    (12, 26, "Santo Stefano", i16::MIN),
];

const EASTER_MONDAY: &str = "Lunedì dell'Angelo";

/// The name of the national holiday falling on `date`, if any.
/// (Easter Sunday is not listed: it is a Sunday anyway.)
pub fn national_holiday(date: Date) -> Option<&'static str> {
    let fixed = FIXED_HOLIDAYS
        .iter()
        .find(|(m, d, _, since)| date.month() == *m && date.day() == *d && date.year() >= *since)
        .map(|(_, _, name, _)| *name);
    if fixed.is_some() {
        return fixed;
    }
    (easter_monday(date.year()) == Some(date)).then_some(EASTER_MONDAY)
}

/// All national holidays of a year, sorted by date.
pub fn national_holidays(year: i16) -> Vec<(Date, &'static str)> {
    let mut out: Vec<(Date, &'static str)> = FIXED_HOLIDAYS
        .iter()
        .filter(|(_, _, _, since)| year >= *since)
        .filter_map(|(m, d, name, _)| Date::new(year, *m, *d).ok().map(|date| (date, *name)))
        .collect();
    if let Some(d) = easter_monday(year) {
        out.push((d, EASTER_MONDAY));
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

const SHORT_IT: [&str; 7] = ["lun", "mar", "mer", "gio", "ven", "sab", "dom"];
const LONG_IT: [&str; 7] = [
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
];

fn weekday_index(d: Weekday) -> u8 {
    // 0 = Monday .. 6 = Sunday
    d.to_monday_zero_offset().unsigned_abs()
}

/// A set of weekdays: bit 0 = Monday ... bit 6 = Sunday.
/// Serialized as the bare `u8` (like `#[serde(transparent)]`), masked to 7 bits when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "u8", into = "u8")]
pub struct Weekdays(u8);

impl From<u8> for Weekdays {
    fn from(b: u8) -> Weekdays {
        Weekdays::from_bits(b)
    }
}

impl From<Weekdays> for u8 {
    fn from(w: Weekdays) -> u8 {
        w.bits()
    }
}

impl Weekdays {
    pub const EMPTY: Weekdays = Weekdays(0);
    pub const MON_FRI: Weekdays = Weekdays(0b001_1111);

    pub const fn from_bits(b: u8) -> Weekdays {
        Weekdays(b & 0x7f)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << weekday_index(d)) != 0
    }

    pub fn with(self, d: Weekday) -> Weekdays {
        Weekdays(self.0 | (1 << weekday_index(d)))
    }

    pub fn without(self, d: Weekday) -> Weekdays {
        Weekdays(self.0 & !(1 << weekday_index(d)))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The weekdays in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        WEEKDAYS.into_iter().filter(move |d| self.contains(*d))
    }

    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    /// Reads Italian day names separated by commas, semicolons or spaces, case-insensitive:
    /// `"lun,mer,ven"`, `"lun mer"`, `"Lunedì, Mercoledì"` (also without accents).
    /// An empty string is the empty set.
    pub fn parse_it(s: &str) -> Result<Weekdays, CalendarError> {
        let mut out = Weekdays::EMPTY;
        for token in s
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let lower = token.to_lowercase();
            let lower = lower.trim_end_matches('.');
            let plain = lower.replace('ì', "i");
            let idx = (0..7).find(|&i| {
                lower == SHORT_IT[i] || lower == LONG_IT[i] || plain == LONG_IT[i].replace('ì', "i")
            });
            match idx {
                Some(i) => out = out.with(WEEKDAYS[i]),
                None => return Err(CalendarError::UnknownWeekday(token.to_string())),
            }
        }
        Ok(out)
    }

    /// Short Italian names, Monday first: `"lun, mer, ven"`.
    pub fn to_it(self) -> String {
        self.iter()
            .map(|d| SHORT_IT[usize::from(weekday_index(d))])
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_it())
    }
}

/// Italian name of a weekday ("lunedì").
pub fn weekday_name_it(d: Weekday) -> &'static str {
    LONG_IT[usize::from(weekday_index(d))]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    Holiday,
    Break,
    Strike,
    Trip,
    SchoolClosed,
    Other,
}

impl ClosureKind {
    pub const ALL: [ClosureKind; 6] = [
        ClosureKind::Holiday,
        ClosureKind::Break,
        ClosureKind::Strike,
        ClosureKind::Trip,
        ClosureKind::SchoolClosed,
        ClosureKind::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ClosureKind::Holiday => "holiday",
            ClosureKind::Break => "break",
            ClosureKind::Strike => "strike",
            ClosureKind::Trip => "trip",
            ClosureKind::SchoolClosed => "school_closed",
            ClosureKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ClosureKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub const fn label_it(self) -> &'static str {
        match self {
            ClosureKind::Holiday => "Festività",
            ClosureKind::Break => "Vacanza",
            ClosureKind::Strike => "Sciopero",
            ClosureKind::Trip => "Gita",
            ClosureKind::SchoolClosed => "Scuola chiusa",
            ClosureKind::Other => "Chiusura",
        }
    }
}

/// Whom a closure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClosureScope {
    /// Every school of the municipality.
    Tenant,
    School(SchoolId),
    Class(ClassId),
}

impl ClosureScope {
    pub fn applies_to(self, school: SchoolId, class: ClassId) -> bool {
        match self {
            ClosureScope::Tenant => true,
            ClosureScope::School(s) => s == school,
            ClosureScope::Class(c) => c == class,
        }
    }
}

/// A closure over an inclusive date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub scope: ClosureScope,
    pub from: Date,
    pub to: Date,
    pub kind: ClosureKind,
    pub reason: String,
}

impl Closure {
    pub fn covers(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

/// One school year's calendar for a municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolCalendar {
    /// First day of lessons.
    pub first_day: Date,
    /// Last day of lessons.
    pub last_day: Date,
    /// The patron saint's day of the municipality, as (month, day).
    pub patron_day: Option<(i8, i8)>,
    pub closures: Vec<Closure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayStatus {
    SchoolDay,
    BeforeStart,
    AfterEnd,
    Sunday,
    NationalHoliday(&'static str),
    PatronSaint,
    Closed { kind: ClosureKind, reason: String },
}

impl DayStatus {
    pub fn is_school_day(&self) -> bool {
        matches!(self, DayStatus::SchoolDay)
    }

    pub fn label_it(&self) -> String {
        match self {
            DayStatus::SchoolDay => "Giorno di lezione".to_string(),
            DayStatus::BeforeStart => "Prima dell'inizio delle lezioni".to_string(),
            DayStatus::AfterEnd => "Dopo la fine delle lezioni".to_string(),
            DayStatus::Sunday => "Domenica".to_string(),
            DayStatus::NationalHoliday(name) => format!("Festività: {name}"),
            DayStatus::PatronSaint => "Festa del santo patrono".to_string(),
            DayStatus::Closed { kind, reason } => {
                let reason = reason.trim();
                if reason.is_empty() {
                    kind.label_it().to_string()
                } else {
                    format!("{}: {reason}", kind.label_it())
                }
            }
        }
    }
}

impl SchoolCalendar {
    /// Checks that the dates make sense (start not after end, a real patron day,
    /// closures with `from <= to`).
    pub fn validate(&self) -> Result<(), CalendarError> {
        if self.first_day > self.last_day {
            return Err(CalendarError::InvalidRange {
                from: self.first_day,
                to: self.last_day,
            });
        }
        if let Some((month, day)) = self.patron_day {
            // 2000 is a leap year, so 29 February is accepted.
            if Date::new(2000, month, day).is_err() {
                return Err(CalendarError::InvalidPatronDay { month, day });
            }
        }
        for c in &self.closures {
            if c.from > c.to {
                return Err(CalendarError::InvalidRange {
                    from: c.from,
                    to: c.to,
                });
            }
        }
        Ok(())
    }

    /// What `date` is for a class. Checked in this order: outside the school year, Sunday,
    /// national holiday, patron saint's day, closures (the first one that applies).
    pub fn day_status(&self, date: Date, school: SchoolId, class: ClassId) -> DayStatus {
        if date < self.first_day {
            return DayStatus::BeforeStart;
        }
        if date > self.last_day {
            return DayStatus::AfterEnd;
        }
        if date.weekday() == Weekday::Sunday {
            return DayStatus::Sunday;
        }
        if let Some(name) = national_holiday(date) {
            return DayStatus::NationalHoliday(name);
        }
        if self.patron_day == Some((date.month(), date.day())) {
            return DayStatus::PatronSaint;
        }
        if let Some(c) = self
            .closures
            .iter()
            .find(|c| c.covers(date) && c.scope.applies_to(school, class))
        {
            return DayStatus::Closed {
                kind: c.kind,
                reason: c.reason.clone(),
            };
        }
        DayStatus::SchoolDay
    }

    /// A school day on one of the class's canteen weekdays.
    pub fn is_canteen_day(
        &self,
        date: Date,
        school: SchoolId,
        class: ClassId,
        weekdays: Weekdays,
    ) -> bool {
        weekdays.contains(date.weekday()) && self.day_status(date, school, class).is_school_day()
    }

    /// The canteen days in `from..=to` (clipped to the school year), in order.
    pub fn canteen_days(
        &self,
        school: SchoolId,
        class: ClassId,
        weekdays: Weekdays,
        from: Date,
        to: Date,
    ) -> Vec<Date> {
        let start = from.max(self.first_day);
        let end = to.min(self.last_day);
        let mut out = Vec::new();
        let mut d = start;
        while d <= end {
            if self.is_canteen_day(d, school, class, weekdays) {
                out.push(d);
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// The year the school year containing `date` starts in (1 Sept .. 31 Aug).
pub fn school_year_of(date: Date) -> i16 {
    if date.month() >= 9 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `"2026/2027"` for the school year starting in 2026.
pub fn school_year_label(start_year: i16) -> String {
    format!("{}/{}", start_year, i32::from(start_year) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_dates() {
        let cases = [
            (2024, date(2024, 3, 31)),
            (2025, date(2025, 4, 20)),
            (2026, date(2026, 4, 5)),
            (2027, date(2027, 3, 28)),
            (2038, date(2038, 4, 25)),
            (2000, date(2000, 4, 23)),
            (2019, date(2019, 4, 21)),
            (1583, date(1583, 4, 10)),
            (2285, date(2285, 3, 22)), // earliest possible
            (1943, date(1943, 4, 25)), // latest possible
        ];
        for (y, d) in cases {
            assert_eq!(easter_sunday(y), Some(d), "{y}");
            assert_eq!(d.weekday(), Weekday::Sunday);
        }
        assert_eq!(easter_monday(2038), Some(date(2038, 4, 26)));
        assert_eq!(easter_monday(2024), Some(date(2024, 4, 1)));
        assert_eq!(easter_sunday(1582), None);
        assert_eq!(easter_sunday(-5), None);
        assert_eq!(easter_sunday(i16::MAX), None);
        assert!(easter_monday(9999).is_some());
    }

    #[test]
    fn easter_always_sunday_in_range() {
        for y in 1583..=9999 {
            let Some(d) = easter_sunday(y) else {
                panic!("no easter for {y}");
            };
            assert_eq!(d.weekday(), Weekday::Sunday, "{y}");
            assert!(d >= date(y, 3, 22) && d <= date(y, 4, 25), "{y}: {d}");
        }
    }

    #[test]
    fn holidays() {
        assert_eq!(national_holiday(date(2026, 1, 1)), Some("Capodanno"));
        assert_eq!(national_holiday(date(2026, 1, 6)), Some("Epifania"));
        assert_eq!(
            national_holiday(date(2026, 4, 6)),
            Some("Lunedì dell'Angelo")
        );
        assert_eq!(national_holiday(date(2026, 4, 5)), None); // Easter Sunday itself
        assert_eq!(
            national_holiday(date(2026, 4, 25)),
            Some("Festa della Liberazione")
        );
        assert_eq!(national_holiday(date(2026, 5, 1)), Some("Festa del Lavoro"));
        assert_eq!(
            national_holiday(date(2026, 6, 2)),
            Some("Festa della Repubblica")
        );
        assert_eq!(national_holiday(date(2026, 8, 15)), Some("Ferragosto"));
        assert_eq!(national_holiday(date(2026, 11, 1)), Some("Ognissanti"));
        assert_eq!(
            national_holiday(date(2026, 12, 8)),
            Some("Immacolata Concezione")
        );
        assert_eq!(national_holiday(date(2026, 12, 25)), Some("Natale"));
        assert_eq!(national_holiday(date(2026, 12, 26)), Some("Santo Stefano"));
        assert_eq!(national_holiday(date(2026, 12, 27)), None);
        assert_eq!(national_holiday(date(2026, 3, 19)), None);
        // San Francesco only from 2026
        assert_eq!(
            national_holiday(date(2026, 10, 4)),
            Some("San Francesco d'Assisi")
        );
        assert_eq!(national_holiday(date(2025, 10, 4)), None);
        // 2038: Easter Monday 26 April, the day after Liberation Day (which is Easter Sunday)
        assert_eq!(
            national_holiday(date(2038, 4, 25)),
            Some("Festa della Liberazione")
        );
        assert_eq!(
            national_holiday(date(2038, 4, 26)),
            Some("Lunedì dell'Angelo")
        );
    }

    #[test]
    fn holiday_lists() {
        let h2025 = national_holidays(2025);
        assert_eq!(h2025.len(), 11);
        let h2026 = national_holidays(2026);
        assert_eq!(h2026.len(), 12);
        assert!(h2026.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(h2026[0], (date(2026, 1, 1), "Capodanno"));
        assert_eq!(h2026[2], (date(2026, 4, 6), "Lunedì dell'Angelo"));
        assert_eq!(h2026[7], (date(2026, 10, 4), "San Francesco d'Assisi"));
        assert_eq!(h2026[11], (date(2026, 12, 26), "Santo Stefano"));
        for (d, name) in &h2026 {
            assert_eq!(national_holiday(*d), Some(*name));
        }
    }

    #[test]
    fn weekdays_bits() {
        let w = Weekdays::from_bits(0xff);
        assert_eq!(w.bits(), 0x7f);
        assert_eq!(w.count(), 7);
        let mw = Weekdays::default()
            .with(Weekday::Wednesday)
            .with(Weekday::Monday);
        assert_eq!(mw.bits(), 0b101);
        assert!(mw.contains(Weekday::Monday));
        assert!(!mw.contains(Weekday::Tuesday));
        assert_eq!(
            mw.iter().collect::<Vec<_>>(),
            vec![Weekday::Monday, Weekday::Wednesday]
        );
        assert_eq!(Weekdays::MON_FRI.count(), 5);
        assert!(!Weekdays::MON_FRI.contains(Weekday::Saturday));
        assert!(Weekdays::MON_FRI.contains(Weekday::Friday));
        assert!(Weekdays::from_bits(0b100_0000).contains(Weekday::Sunday));
        assert_eq!(mw.without(Weekday::Monday).bits(), 0b100);
    }

    #[test]
    fn weekdays_parse_and_format() {
        let w = Weekdays::parse_it("lun,mer,ven");
        assert_eq!(w.as_ref().map(|w| w.bits()), Ok(0b10101));
        assert_eq!(w.map(Weekdays::to_it), Ok("lun, mer, ven".to_string()));
        assert_eq!(Weekdays::parse_it("lun mer").map(|w| w.bits()), Ok(0b101));
        assert_eq!(
            Weekdays::parse_it("Lunedì, MERCOLEDÌ; giovedi  sabato").map(|w| w.bits()),
            Ok(0b101101)
        );
        assert_eq!(Weekdays::parse_it("DOM").map(|w| w.bits()), Ok(0b100_0000));
        assert_eq!(
            Weekdays::parse_it("ven, lun").map(|w| w.to_it()),
            Ok("lun, ven".into())
        );
        assert_eq!(Weekdays::parse_it("").map(|w| w.bits()), Ok(0));
        assert_eq!(
            Weekdays::parse_it("lun, xyz"),
            Err(CalendarError::UnknownWeekday("xyz".into()))
        );
        assert_eq!(
            CalendarError::UnknownWeekday("xyz".into()).to_string(),
            "Giorno della settimana non riconosciuto: «xyz» (usare ad esempio: lun, mar, mer)"
        );
        for bits in 0..128u8 {
            let w = Weekdays::from_bits(bits);
            assert_eq!(Weekdays::parse_it(&w.to_it()), Ok(w));
        }
        assert_eq!(weekday_name_it(Weekday::Friday), "venerdì");
    }

    #[test]
    fn weekdays_serde() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Weekdays::MON_FRI)?, "31");
        assert_eq!(serde_json::from_str::<Weekdays>("5")?.bits(), 5);
        assert_eq!(serde_json::from_str::<Weekdays>("255")?.bits(), 0x7f);
        assert_eq!(
            serde_json::to_string(&ClosureKind::SchoolClosed)?,
            "\"school_closed\""
        );
        Ok(())
    }

    #[test]
    fn closure_kinds() {
        for k in ClosureKind::ALL {
            assert_eq!(ClosureKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ClosureKind::SchoolClosed.as_str(), "school_closed");
        assert_eq!(ClosureKind::Strike.label_it(), "Sciopero");
        assert_eq!(ClosureKind::parse("Strike"), None);
    }

    const SCHOOL: SchoolId = SchoolId(1);
    const OTHER_SCHOOL: SchoolId = SchoolId(2);
    const CLASS: ClassId = ClassId(10);
    const OTHER_CLASS: ClassId = ClassId(11);

    fn calendar() -> SchoolCalendar {
        SchoolCalendar {
            first_day: date(2025, 9, 15),
            last_day: date(2026, 6, 6),
            patron_day: Some((12, 7)), // Sant'Ambrogio, Milano
            closures: vec![
                Closure {
                    scope: ClosureScope::School(SCHOOL),
                    from: date(2025, 10, 29),
                    to: date(2025, 10, 29),
                    kind: ClosureKind::Strike,
                    reason: "Sciopero del personale ATA".into(),
                },
                Closure {
                    scope: ClosureScope::Tenant,
                    from: date(2025, 12, 22),
                    to: date(2026, 1, 6),
                    kind: ClosureKind::Break,
                    reason: "Vacanze di Natale".into(),
                },
                Closure {
                    scope: ClosureScope::Class(OTHER_CLASS),
                    from: date(2025, 11, 5),
                    to: date(2025, 11, 5),
                    kind: ClosureKind::Trip,
                    reason: String::new(),
                },
            ],
        }
    }

    #[test]
    fn canteen_days_mon_wed_with_closure_and_holiday() {
        let cal = calendar();
        assert_eq!(cal.validate(), Ok(()));
        let mon_wed = Weekdays::parse_it("lun mer").unwrap_or_default();
        // Week of 27 Oct 2025: Mon 27, Wed 29 (strike at SCHOOL), Sat 1 Nov (Ognissanti).
        // Week of 3 Nov: Mon 3, Wed 5 (trip of OTHER_CLASS only).
        let days = cal.canteen_days(
            SCHOOL,
            CLASS,
            mon_wed,
            date(2025, 10, 27),
            date(2025, 11, 9),
        );
        assert_eq!(
            days,
            vec![date(2025, 10, 27), date(2025, 11, 3), date(2025, 11, 5)]
        );
        // the strike does not affect another school; the trip affects the other class
        let days = cal.canteen_days(
            OTHER_SCHOOL,
            OTHER_CLASS,
            mon_wed,
            date(2025, 10, 27),
            date(2025, 11, 9),
        );
        assert_eq!(
            days,
            vec![date(2025, 10, 27), date(2025, 10, 29), date(2025, 11, 3)]
        );

        // A week with a national holiday on a Monday: 8 Dec 2025 is Monday (Immacolata)
        // and 7 Dec (patron) is a Sunday.
        let days = cal.canteen_days(
            SCHOOL,
            CLASS,
            mon_wed,
            date(2025, 12, 8),
            date(2025, 12, 14),
        );
        assert_eq!(days, vec![date(2025, 12, 10)]);
        // Easter Monday 6 Apr 2026 and the MON_FRI pattern
        let days = cal.canteen_days(
            SCHOOL,
            CLASS,
            Weekdays::MON_FRI,
            date(2026, 4, 6),
            date(2026, 4, 12),
        );
        assert_eq!(
            days,
            vec![
                date(2026, 4, 7),
                date(2026, 4, 8),
                date(2026, 4, 9),
                date(2026, 4, 10)
            ]
        );
    }

    #[test]
    fn day_statuses() {
        let cal = calendar();
        let st = |d: Date| cal.day_status(d, SCHOOL, CLASS);
        assert_eq!(st(date(2025, 9, 12)), DayStatus::BeforeStart);
        assert_eq!(st(date(2025, 9, 15)), DayStatus::SchoolDay);
        assert_eq!(st(date(2026, 6, 6)), DayStatus::SchoolDay); // a Saturday
        assert_eq!(st(date(2026, 6, 8)), DayStatus::AfterEnd);
        assert_eq!(st(date(2025, 9, 21)), DayStatus::Sunday);
        assert_eq!(
            st(date(2025, 10, 29)),
            DayStatus::Closed {
                kind: ClosureKind::Strike,
                reason: "Sciopero del personale ATA".into()
            }
        );
        // the national holiday wins over the Christmas break closure
        assert_eq!(st(date(2025, 12, 25)), DayStatus::NationalHoliday("Natale"));
        assert_eq!(
            st(date(2025, 12, 23)).label_it(),
            "Vacanza: Vacanze di Natale"
        );
        assert_eq!(
            cal.day_status(date(2025, 11, 5), SCHOOL, OTHER_CLASS)
                .label_it(),
            "Gita"
        );
        assert_eq!(st(date(2025, 12, 25)).label_it(), "Festività: Natale");
        assert_eq!(
            st(date(2025, 9, 1)).label_it(),
            "Prima dell'inizio delle lezioni"
        );
        assert!(!st(date(2025, 9, 21)).is_school_day());
        assert!(st(date(2025, 9, 16)).is_school_day());
    }

    #[test]
    fn patron_day() {
        let mut cal = calendar();
        // Move the patron to a weekday: 4 Dec 2025 is a Thursday (Santa Barbara).
        cal.patron_day = Some((12, 4));
        assert_eq!(
            cal.day_status(date(2025, 12, 4), SCHOOL, CLASS),
            DayStatus::PatronSaint
        );
        assert_eq!(DayStatus::PatronSaint.label_it(), "Festa del santo patrono");
        let thu = Weekdays::default().with(Weekday::Thursday);
        assert!(!cal.is_canteen_day(date(2025, 12, 4), SCHOOL, CLASS, thu));
        assert!(cal.is_canteen_day(date(2025, 12, 11), SCHOOL, CLASS, thu));
        assert!(!cal.is_canteen_day(date(2025, 12, 10), SCHOOL, CLASS, thu));
        cal.patron_day = None;
        assert!(cal.is_canteen_day(date(2025, 12, 4), SCHOOL, CLASS, thu));
    }

    #[test]
    fn canteen_days_clipped_to_year() {
        let cal = calendar();
        let days = cal.canteen_days(
            SCHOOL,
            CLASS,
            Weekdays::MON_FRI,
            date(2025, 9, 1),
            date(2025, 9, 19),
        );
        assert_eq!(days.first(), Some(&date(2025, 9, 15)));
        assert_eq!(days.len(), 5);
        let days = cal.canteen_days(
            SCHOOL,
            CLASS,
            Weekdays::from_bits(0x7f),
            date(2026, 6, 1),
            date(2026, 6, 30),
        );
        // 2 June is Festa della Repubblica, 7 June a Sunday (after the end anyway)
        assert_eq!(
            days,
            vec![
                date(2026, 6, 1),
                date(2026, 6, 3),
                date(2026, 6, 4),
                date(2026, 6, 5),
                date(2026, 6, 6)
            ]
        );
        assert!(
            cal.canteen_days(
                SCHOOL,
                CLASS,
                Weekdays::MON_FRI,
                date(2026, 7, 1),
                date(2026, 6, 1)
            )
            .is_empty()
        );
    }

    #[test]
    fn validation() {
        let mut cal = calendar();
        cal.patron_day = Some((2, 30));
        assert_eq!(
            cal.validate(),
            Err(CalendarError::InvalidPatronDay { month: 2, day: 30 })
        );
        let mut cal = calendar();
        cal.first_day = date(2026, 9, 1);
        assert!(matches!(
            cal.validate(),
            Err(CalendarError::InvalidRange { .. })
        ));
    }

    #[test]
    fn school_years() {
        assert_eq!(school_year_of(date(2026, 9, 1)), 2026);
        assert_eq!(school_year_of(date(2026, 8, 31)), 2025);
        assert_eq!(school_year_of(date(2027, 1, 15)), 2026);
        assert_eq!(school_year_label(2026), "2026/2027");
        assert_eq!(school_year_label(i16::MAX), "32767/32768");
    }
}
