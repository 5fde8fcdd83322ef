//! Meal bookings: every pupil is present by default on each canteen day; a guardian may turn a
//! day into absent or a bland meal (pasto in bianco) until the cut-off hour of that day, in the
//! municipality's time zone.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::calendar::{DayStatus, SchoolCalendar, Weekdays, weekday_name_it};
use crate::ids::{ClassId, SchoolId};
use crate::registry::EnrolmentState;
use crate::registry::registry_enum;

registry_enum!(
    /// What a pupil eats on a canteen day.
    MealChoice {
        Present => "present", "Presente",
        Absent => "absent", "Assente",
        Bland => "bland", "Pasto in bianco",
    }
);

/// The municipality's rules for changes by families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRules {
    /// The hour after which a day is frozen (e.g. 09:30).
    pub cutoff: Time,
    /// How many days ahead a change may reach (0 = today only).
    pub days_ahead: u16,
    /// Whether families may ask for bland meals at all.
    pub bland_enabled: bool,
    /// The most consecutive canteen days of bland meals, if limited.
    pub bland_max_consecutive: Option<u16>,
    /// The longest from–to range accepted in one request, in calendar days.
    pub max_range_days: u16,
}

impl Default for BookingRules {
    fn default() -> Self {
        BookingRules {
            cutoff: Time::constant(9, 30, 0, 0),
            days_ahead: 60,
            bland_enabled: true,
            bland_max_consecutive: Some(3),
            max_range_days: 62,
        }
    }
}

/// Why a change was refused. The messages are shown to families as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("Non è più possibile modificare il pasto di {}: l'ora limite era le {} di quel giorno.", day_it(*day), hhmm(*cutoff))]
    PastCutoff { day: Date, cutoff: Time },
    #[error("Le modifiche si possono fare al massimo {max_days} giorni in anticipo.")]
    TooFarAhead { max_days: u16 },
    #[error("La data finale viene prima di quella iniziale.")]
    RangeBackwards,
    #[error("Si possono modificare al massimo {max_days} giorni alla volta.")]
    RangeTooLong { max_days: u16 },
    #[error("Il pasto in bianco non è previsto da questo Comune.")]
    BlandDisabled,
    #[error("Il pasto in bianco si può chiedere per al massimo {max} giorni di mensa consecutivi.")]
    BlandTooLong { max: u16 },
    #[error("{} non è un giorno di mensa per questo alunno ({reason}).", capitalize(&day_it(*day)))]
    NotCanteenDay { day: Date, reason: String },
    #[error("Nel periodo scelto non ci sono giorni di mensa per questo alunno.")]
    NoCanteenDays,
    #[error("La data è fuori dall'anno scolastico.")]
    OutsideSchoolYear,
    #[error("Il servizio di refezione di questo alunno non è attivo.")]
    NotEnrolled,
}

fn hhmm(t: Time) -> String {
    t.strftime("%H:%M").to_string()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The months' names, January first.
const MONTHS_IT: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

/// "novembre" for a date in November.
pub fn month_name_it(d: Date) -> &'static str {
    usize::try_from(d.month() - 1)
        .ok()
        .and_then(|m| MONTHS_IT.get(m))
        .copied()
        .unwrap_or_default()
}

/// "novembre 2026"
pub fn month_it(d: Date) -> String {
    format!("{} {}", month_name_it(d), d.year())
}

/// "lunedì 23 novembre 2026"
pub fn day_it(d: Date) -> String {
    let month = month_name_it(d);
    format!(
        "{} {} {month} {}",
        weekday_name_it(d.weekday()).to_lowercase(),
        d.day(),
        d.year()
    )
}

/// The instant at which `day` freezes: its cut-off hour in the municipality's time zone
/// (a cut-off in a daylight-saving gap moves forward, as clocks do).
pub fn deadline(day: Date, cutoff: Time, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_ambiguous_zoned(day.to_datetime(cutoff))
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

impl BookingRules {
    /// Whether a family may still change `day` at `now`: before the day's cut-off and not
    /// further ahead than allowed.
    pub fn check_day(&self, now: Timestamp, tz: &TimeZone, day: Date) -> Result<(), BookingError> {
        let past = deadline(day, self.cutoff, tz).is_none_or(|d| now >= d);
        if past {
            return Err(BookingError::PastCutoff {
                day,
                cutoff: self.cutoff,
            });
        }
        let today = now.to_zoned(tz.clone()).date();
        let limit = today.checked_add(i32::from(self.days_ahead).days()).ok();
        if limit.is_some_and(|l| day > l) {
            return Err(BookingError::TooFarAhead {
                max_days: self.days_ahead,
            });
        }
        Ok(())
    }

    /// Checks a from–to request: the order, the length and the first day's window (the later
    /// days are further ahead, so only the last can exceed `days_ahead`).
    pub fn check_range(
        &self,
        now: Timestamp,
        tz: &TimeZone,
        from: Date,
        to: Date,
    ) -> Result<(), BookingError> {
        if to < from {
            return Err(BookingError::RangeBackwards);
        }
        let span_days = (to - from).get_days();
        if span_days >= i32::from(self.max_range_days) {
            return Err(BookingError::RangeTooLong {
                max_days: self.max_range_days,
            });
        }
        self.check_day(now, tz, from)?;
        self.check_day(now, tz, to)
    }

    /// With `bland` the canteen days that would be bland after a change (sorted canteen days
    /// of the pupil in `canteen_days`), refuses runs longer than the limit.
    pub fn check_bland_run(
        &self,
        canteen_days: &[Date],
        bland: &std::collections::BTreeSet<Date>,
    ) -> Result<(), BookingError> {
        if !self.bland_enabled && !bland.is_empty() {
            return Err(BookingError::BlandDisabled);
        }
        let Some(max) = self.bland_max_consecutive else {
            return Ok(());
        };
        if longest_run(canteen_days, bland) > usize::from(max) {
            return Err(BookingError::BlandTooLong { max });
        }
        Ok(())
    }
}

/// The longest run of consecutive canteen days (in `days`, sorted) that are all in `marked`.
pub fn longest_run(days: &[Date], marked: &std::collections::BTreeSet<Date>) -> usize {
    let mut best = 0;
    let mut run = 0;
    for d in days {
        if marked.contains(d) {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// Who is in the canteen on a day, the rule in Rust: an enrolment (its state and first day) in
/// a class (its school and canteen weekdays). The portal's calendar reads it; the close, the
/// kitchen's forecast and the closures' notices run the same rule in SQL (`eating!` in
/// `refettorio_db`), and a test checks on generated cases, on both databases, that they agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attending {
    pub state: EnrolmentState,
    pub start: Date,
    pub school: SchoolId,
    pub class: ClassId,
    pub weekdays: Weekdays,
}

/// Why an enrolment has no meal on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMeal {
    /// The enrolment is not active.
    Inactive,
    /// Before the enrolment's first day.
    NotStarted,
    /// Not a school day for the class: outside the year, Sunday, holiday, closure.
    NoSchool(DayStatus),
    /// A school day, but not one of the class's canteen weekdays.
    NotItsWeekday,
}

impl Attending {
    /// `Ok` when `day` is a canteen day for the enrolment, or why not (checked in this order).
    pub fn canteen_day(&self, cal: &SchoolCalendar, day: Date) -> Result<(), NoMeal> {
        if self.state != EnrolmentState::Attivo {
            return Err(NoMeal::Inactive);
        }
        if day < self.start {
            return Err(NoMeal::NotStarted);
        }
        match cal.day_status(day, self.school, self.class) {
            DayStatus::SchoolDay => {}
            other => return Err(NoMeal::NoSchool(other)),
        }
        if !self.weekdays.contains(day.weekday()) {
            return Err(NoMeal::NotItsWeekday);
        }
        Ok(())
    }

    /// Whether the pupil eats on `day` with the day's `choice` (present by default): a canteen
    /// day for the enrolment not booked absent. A bland meal is a meal.
    pub fn eats(&self, cal: &SchoolCalendar, day: Date, choice: MealChoice) -> bool {
        choice != MealChoice::Absent && self.canteen_day(cal, day).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use std::collections::BTreeSet;

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_cutoff_second_is_refused() {
        let r = BookingRules::default();
        let day = date(2026, 11, 23);
        // 09:29:59 in Rome (CET, UTC+1) is accepted, 09:30:00 refused.
        assert_eq!(
            r.check_day(at("2026-11-23T08:29:59Z"), &rome(), day),
            Ok(())
        );
        let e = r
            .check_day(at("2026-11-23T08:30:00Z"), &rome(), day)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Non è più possibile modificare il pasto di lunedì 23 novembre 2026: l'ora limite era le 09:30 di quel giorno."
        );
        // A later day is still open; an earlier one is not.
        assert!(
            r.check_day(at("2026-11-23T08:30:00Z"), &rome(), date(2026, 11, 24))
                .is_ok()
        );
        assert!(
            r.check_day(at("2026-11-23T08:00:00Z"), &rome(), date(2026, 11, 20))
                .is_err()
        );
    }

    #[test]
    fn the_cutoff_follows_daylight_saving_time() {
        let tz = rome();
        let c = Time::constant(9, 30, 0, 0);
        // Summer time (UTC+2) until Sunday 25 Oct 2026, winter time (UTC+1) from then.
        assert_eq!(
            deadline(date(2026, 10, 23), c, &tz),
            Some(at("2026-10-23T07:30:00Z"))
        );
        assert_eq!(
            deadline(date(2026, 10, 25), c, &tz),
            Some(at("2026-10-25T08:30:00Z"))
        );
        assert_eq!(
            deadline(date(2026, 10, 26), c, &tz),
            Some(at("2026-10-26T08:30:00Z"))
        );
        // Summer time starts on Sunday 28 Mar 2027.
        assert_eq!(
            deadline(date(2027, 3, 26), c, &tz),
            Some(at("2027-03-26T08:30:00Z"))
        );
        assert_eq!(
            deadline(date(2027, 3, 28), c, &tz),
            Some(at("2027-03-28T07:30:00Z"))
        );
        assert_eq!(
            deadline(date(2027, 3, 29), c, &tz),
            Some(at("2027-03-29T07:30:00Z"))
        );
        let r = BookingRules::default();
        assert!(
            r.check_day(at("2027-03-29T07:29:59Z"), &tz, date(2027, 3, 29))
                .is_ok()
        );
        assert!(
            r.check_day(at("2027-03-29T07:30:00Z"), &tz, date(2027, 3, 29))
                .is_err()
        );
        // A cut-off inside the spring gap (02:30 does not exist) moves to 03:30 CEST.
        assert_eq!(
            deadline(date(2027, 3, 28), Time::constant(2, 30, 0, 0), &tz),
            Some(at("2027-03-28T01:30:00Z"))
        );
    }

    #[test]
    fn ranges_are_checked() {
        let r = BookingRules::default();
        let now = at("2026-11-23T07:00:00Z");
        let tz = rome();
        assert_eq!(
            r.check_range(now, &tz, date(2026, 11, 25), date(2026, 11, 24)),
            Err(BookingError::RangeBackwards)
        );
        assert_eq!(
            r.check_range(now, &tz, date(2026, 11, 24), date(2027, 1, 30)),
            Err(BookingError::RangeTooLong { max_days: 62 })
        );
        assert_eq!(
            r.check_range(now, &tz, date(2027, 1, 20), date(2027, 1, 30)),
            Err(BookingError::TooFarAhead { max_days: 60 })
        );
        assert!(
            r.check_range(now, &tz, date(2026, 11, 23), date(2026, 11, 30))
                .is_ok()
        );
        assert!(
            r.check_range(now, &tz, date(2026, 11, 20), date(2026, 11, 30))
                .is_err()
        );
    }

    #[test]
    fn bland_runs_are_limited() {
        let r = BookingRules::default();
        let days: Vec<Date> = [23, 24, 25, 26, 27, 30]
            .iter()
            .map(|d| date(2026, 11, *d))
            .collect();
        let set = |ds: &[i8]| {
            ds.iter()
                .map(|d| date(2026, 11, *d))
                .collect::<BTreeSet<_>>()
        };
        assert!(r.check_bland_run(&days, &set(&[23, 24, 25])).is_ok());
        assert!(r.check_bland_run(&days, &set(&[23, 24, 26, 27])).is_ok());
        assert_eq!(
            r.check_bland_run(&days, &set(&[24, 25, 26, 27])),
            Err(BookingError::BlandTooLong { max: 3 })
        );
        // Friday 27 and Monday 30 are consecutive canteen days.
        assert_eq!(longest_run(&days, &set(&[26, 27, 30])), 3);
        let off = BookingRules {
            bland_enabled: false,
            ..BookingRules::default()
        };
        assert_eq!(
            off.check_bland_run(&days, &set(&[23])),
            Err(BookingError::BlandDisabled)
        );
        assert!(off.check_bland_run(&days, &set(&[])).is_ok());
    }

    #[test]
    fn dates_read_in_italian() {
        assert_eq!(day_it(date(2026, 11, 22)), "domenica 22 novembre 2026");
        assert_eq!(day_it(date(2027, 1, 6)), "mercoledì 6 gennaio 2027");
    }

    #[test]
    fn messages_name_the_day() {
        let e = BookingError::NotCanteenDay {
            day: date(2026, 12, 8),
            reason: "Festività: Immacolata Concezione".into(),
        };
        assert_eq!(
            e.to_string(),
            "Martedì 8 dicembre 2026 non è un giorno di mensa per questo alunno (Festività: Immacolata Concezione)."
        );
        assert_eq!(MealChoice::parse("bland"), Some(MealChoice::Bland));
        assert_eq!(MealChoice::Absent.label_it(), "Assente");
    }

    #[test]
    fn who_eats_on_a_day() {
        use crate::calendar::{Closure, ClosureKind, ClosureScope};
        let cal = SchoolCalendar {
            first_day: date(2026, 9, 14),
            last_day: date(2027, 6, 8),
            patron_day: None,
            closures: vec![Closure {
                scope: ClosureScope::Class(ClassId(7)),
                from: date(2026, 11, 24),
                to: date(2026, 11, 24),
                kind: ClosureKind::Trip,
                reason: "Gita".into(),
            }],
        };
        let who = Attending {
            state: EnrolmentState::Attivo,
            start: date(2026, 11, 23),
            school: SchoolId(1),
            class: ClassId(7),
            weekdays: Weekdays::MON_FRI,
        };
        let monday = date(2026, 11, 23);
        assert_eq!(who.canteen_day(&cal, monday), Ok(()));
        assert!(who.eats(&cal, monday, MealChoice::Present));
        assert!(who.eats(&cal, monday, MealChoice::Bland));
        assert!(!who.eats(&cal, monday, MealChoice::Absent));
        assert_eq!(
            who.canteen_day(&cal, date(2026, 11, 20)),
            Err(NoMeal::NotStarted)
        );
        assert!(matches!(
            who.canteen_day(&cal, date(2026, 11, 24)),
            Err(NoMeal::NoSchool(DayStatus::Closed { .. }))
        ));
        assert!(matches!(
            who.canteen_day(&cal, date(2026, 12, 8)),
            Err(NoMeal::NoSchool(DayStatus::NationalHoliday(_)))
        ));
        assert_eq!(
            who.canteen_day(&cal, date(2026, 11, 28)),
            Err(NoMeal::NotItsWeekday)
        );
        let other = Attending {
            class: ClassId(8),
            ..who
        };
        assert!(other.eats(&cal, date(2026, 11, 24), MealChoice::Present));
        let inactive = Attending {
            state: EnrolmentState::Disattivo,
            ..who
        };
        assert_eq!(inactive.canteen_day(&cal, monday), Err(NoMeal::Inactive));
    }
}
