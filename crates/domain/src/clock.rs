//! The clock is never read directly: code takes a `&dyn Clock` so that tests control time.

use std::sync::{Mutex, MutexGuard, PoisonError};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The real clock. The only place in the code base that calls `Timestamp::now()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // clippy.toml forbids reading the system clock anywhere else ("take the Clock"): this is
    // the one implementation that does.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock for tests: stands still until set or advanced.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(t: Timestamp) -> Self {
        FixedClock(Mutex::new(t))
    }

    fn lock(&self) -> MutexGuard<'_, Timestamp> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set(&self, t: Timestamp) {
        *self.lock() = t;
    }

    /// Moves the clock by `d` (may be negative); saturates at the limits of `Timestamp`.
    pub fn advance(&self, d: SignedDuration) {
        let mut guard = self.lock();
        *guard = match guard.checked_add(d) {
            Ok(t) => t,
            Err(_) if d.is_negative() => Timestamp::MIN,
            Err(_) => Timestamp::MAX,
        };
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

/// The current time in the municipality's time zone.
pub fn local_now(clock: &dyn Clock, tz: &TimeZone) -> Zoned {
    clock.now().to_zoned(tz.clone())
}

/// Today's date in the municipality's time zone.
pub fn today(clock: &dyn Clock, tz: &TimeZone) -> Date {
    local_now(clock, tz).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").unwrap()
    }

    #[test]
    fn fixed_clock_set_and_advance() {
        let c = FixedClock::new(ts("2026-09-14T07:00:00Z"));
        assert_eq!(c.now(), ts("2026-09-14T07:00:00Z"));
        c.advance(SignedDuration::from_mins(90));
        assert_eq!(c.now(), ts("2026-09-14T08:30:00Z"));
        c.advance(SignedDuration::from_hours(-1));
        assert_eq!(c.now(), ts("2026-09-14T07:30:00Z"));
        c.set(ts("2027-01-01T00:00:00Z"));
        assert_eq!(c.now(), ts("2027-01-01T00:00:00Z"));
        c.advance(SignedDuration::MAX);
        assert_eq!(c.now(), Timestamp::MAX);
        c.advance(SignedDuration::MIN);
        c.advance(SignedDuration::MIN);
        assert_eq!(c.now(), Timestamp::MIN);
    }

    #[test]
    fn fixed_clock_survives_poisoning() {
        let c = std::sync::Arc::new(FixedClock::new(ts("2026-01-01T00:00:00Z")));
        let c2 = c.clone();
        let r = std::thread::spawn(move || {
            let _g = c2.0.lock();
            panic!("poison the mutex");
        })
        .join();
        assert!(r.is_err());
        assert!(c.0.is_poisoned());
        assert_eq!(c.now(), ts("2026-01-01T00:00:00Z"));
        c.advance(SignedDuration::from_secs(1));
        assert_eq!(c.now(), ts("2026-01-01T00:00:01Z"));
    }

    #[test]
    fn local_now_across_spring_dst_change() {
        let tz = rome();
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let c = FixedClock::new(ts("2026-03-29T00:59:59Z"));
        let z = local_now(&c, &tz);
        assert_eq!(z.datetime().to_string(), "2026-03-29T01:59:59");
        assert_eq!(z.offset().seconds(), 3600);
        c.advance(SignedDuration::from_secs(1));
        let z = local_now(&c, &tz);
        assert_eq!(z.datetime().to_string(), "2026-03-29T03:00:00");
        assert_eq!(z.offset().seconds(), 7200);
        assert_eq!(today(&c, &tz), date(2026, 3, 29));
    }

    #[test]
    fn local_now_across_autumn_dst_change() {
        let tz = rome();
        // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 happens twice.
        let c = FixedClock::new(ts("2026-10-25T00:30:00Z"));
        let first = local_now(&c, &tz);
        assert_eq!(first.datetime().to_string(), "2026-10-25T02:30:00");
        assert_eq!(first.offset().seconds(), 7200);
        c.advance(SignedDuration::from_hours(1));
        let second = local_now(&c, &tz);
        assert_eq!(second.datetime().to_string(), "2026-10-25T02:30:00");
        assert_eq!(second.offset().seconds(), 3600);
        assert!(second.timestamp() > first.timestamp());
    }

    #[test]
    fn today_uses_the_local_date_not_utc() {
        let tz = rome();
        // 23:30 UTC on 31 Aug is already 1 Sept in Rome (CEST).
        let c = FixedClock::new(ts("2026-08-31T23:30:00Z"));
        assert_eq!(today(&c, &tz), date(2026, 9, 1));
        // in winter 23:30 UTC is 00:30 CET the next day; 22:59 UTC is still the same day
        c.set(ts("2026-12-24T22:59:00Z"));
        assert_eq!(today(&c, &tz), date(2026, 12, 24));
        c.set(ts("2026-12-24T23:00:00Z"));
        assert_eq!(today(&c, &tz), date(2026, 12, 25));
    }

    #[test]
    fn system_clock_moves() {
        let c = SystemClock;
        assert!(c.now() > ts("2025-01-01T00:00:00Z"));
    }
}
