//! Money as integer euro cents. Never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in euro cents. May be negative (debts, reversals).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// Why a money amount typed by a user could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("Inserire un importo")]
    Empty,
    #[error("Importo non valido: «{0}» (esempio di formato corretto: 1.234,50)")]
    Format(String),
    #[error("L'importo può avere al massimo due cifre decimali")]
    TooManyDecimals,
    #[error("L'importo è troppo grande")]
    Overflow,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub const fn new(c: i64) -> Cents {
        Cents(c)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, o: Cents) -> Option<Cents> {
        self.0.checked_add(o.0).map(Cents)
    }

    pub fn checked_sub(self, o: Cents) -> Option<Cents> {
        self.0.checked_sub(o.0).map(Cents)
    }

    pub fn checked_mul(self, n: i64) -> Option<Cents> {
        self.0.checked_mul(n).map(Cents)
    }

    pub fn checked_neg(self) -> Option<Cents> {
        self.0.checked_neg().map(Cents)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Sum of many amounts; `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Cents>>(it: I) -> Option<Cents> {
        it.into_iter()
            .try_fold(Cents::ZERO, |acc, c| acc.checked_add(c))
    }

    /// Italian format: `1.234,50 €`, `-3,05 €`.
    pub fn format_it(self) -> String {
        let mut out = self.format_number_it();
        out.push_str(" €");
        out
    }

    /// Italian format without the currency sign: `1.234,50`.
    pub fn format_number_it(self) -> String {
        // unsigned_abs handles i64::MIN without overflow.
        let abs = self.0.unsigned_abs();
        let euros = (abs / 100).to_string();
        let cents = abs % 100;
        let mut out = String::with_capacity(euros.len() + euros.len() / 3 + 6);
        if self.0 < 0 {
            out.push('-');
        }
        let len = euros.len();
        for (i, ch) in euros.chars().enumerate() {
            if i > 0 && (len - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(ch);
        }
        out.push(',');
        out.push_str(&format!("{cents:02}"));
        out
    }

    /// Reads an amount typed the Italian way (`1.234,50`, `12,5`, `12`), also `1234.50`
    /// (a single dot followed by one or two digits, with no comma, is a decimal point).
    /// An optional `€` and spaces are ignored; a leading `-` makes it negative.
    pub fn parse_it(s: &str) -> Result<Cents, MoneyError> {
        let cleaned: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '€')
            .collect();
        if cleaned.is_empty() {
            return Err(MoneyError::Empty);
        }
        let format_err = || MoneyError::Format(s.trim().to_string());
        let (negative, body) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
        };
        if body.is_empty() {
            return Err(format_err());
        }
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            return Err(format_err());
        }

        let (int_part, dec_part): (&str, &str) = if body.contains(',') {
            let mut parts = body.splitn(2, ',');
            let int_part = parts.next().unwrap_or("");
            let dec_part = parts.next().unwrap_or("");
            if dec_part.contains(',') || dec_part.contains('.') {
                return Err(format_err());
            }
            (int_part, dec_part)
        } else {
            let dots = body.matches('.').count();
            match body.rsplit_once('.') {
                Some((int_part, after)) if dots == 1 && (1..=2).contains(&after.len()) => {
                    (int_part, after)
                }
                _ => (body, ""),
            }
        };

        if body.contains(',') && dec_part.is_empty() {
            return Err(format_err());
        }
        if dec_part.len() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }

        let int_digits = parse_grouped_integer(int_part).ok_or_else(format_err)?;

        let mut value: i128 = 0;
        for b in int_digits.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let mut cents: i128 = 0;
        for (i, b) in dec_part.bytes().enumerate() {
            let weight = if i == 0 { 10 } else { 1 };
            cents += i128::from(b - b'0') * weight;
        }
        let total = value
            .checked_mul(100)
            .and_then(|v| v.checked_add(cents))
            .ok_or(MoneyError::Overflow)?;
        let signed = if negative { -total } else { total };
        i64::try_from(signed)
            .map(Cents)
            .map_err(|_| MoneyError::Overflow)
    }

    /// Applies a reduction expressed in basis points (3000 = 30%):
    /// `amount * (10000 - bp) / 10000`, rounded half away from zero to the cent
    /// (half up for positive amounts). `None` if `bp > 10000`.
    pub fn apply_basis_points(self, bp: u32) -> Option<Cents> {
        if bp > 10_000 {
            return None;
        }
        let factor = i128::from(10_000 - bp);
        let n = i128::from(self.0) * factor;
        let q = n / 10_000;
        let r = n % 10_000;
        let rounded = if r.abs() * 2 >= 10_000 {
            q + n.signum()
        } else {
            q
        };
        i64::try_from(rounded).ok().map(Cents)
    }
}

/// Validates an integer part that is either plain digits or grouped by thousands
/// with dots (`1.234.567`), and returns its digits.
fn parse_grouped_integer(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if !s.contains('.') {
        return s.bytes().all(|b| b.is_ascii_digit()).then(|| s.to_string());
    }
    let mut groups = s.split('.');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = first.to_string();
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(g);
    }
    Some(digits)
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_it())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_italian() {
        assert_eq!(Cents(123_450).format_it(), "1.234,50 €");
        assert_eq!(Cents(0).format_it(), "0,00 €");
        assert_eq!(Cents(-305).format_it(), "-3,05 €");
        assert_eq!(Cents(-5).format_it(), "-0,05 €");
        assert_eq!(Cents(100_000_000).format_it(), "1.000.000,00 €");
        assert_eq!(Cents(99_999).format_it(), "999,99 €");
        assert_eq!(Cents(100_000).format_it(), "1.000,00 €");
        assert_eq!(Cents(270).to_string(), "2,70 €");
    }

    #[test]
    fn formats_extremes() {
        assert_eq!(Cents(i64::MAX).format_it(), "92.233.720.368.547.758,07 €");
        assert_eq!(Cents(i64::MIN).format_it(), "-92.233.720.368.547.758,08 €");
    }

    #[test]
    fn parses_italian() {
        let ok = |s: &str, c: i64| assert_eq!(Cents::parse_it(s), Ok(Cents(c)), "{s}");
        ok("12", 1200);
        ok("12,5", 1250);
        ok("12,50", 1250);
        ok("12,05", 1205);
        ok("1.234,50", 123_450);
        ok("1234.50", 123_450);
        ok("1234.5", 123_450);
        ok("1.234", 123_400);
        ok("1.234.567", 123_456_700);
        ok("12 €", 1200);
        ok("€ 12,00", 1200);
        ok("  -3,05 € ", -305);
        ok("-0,05", -5);
        ok("0", 0);
        ok("1 234,50", 123_450);
        ok("-92.233.720.368.547.758,08", i64::MIN);
        ok("92.233.720.368.547.758,07", i64::MAX);
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(Cents::parse_it(""), Err(MoneyError::Empty));
        assert_eq!(Cents::parse_it(" € "), Err(MoneyError::Empty));
        assert_eq!(Cents::parse_it("12,345"), Err(MoneyError::TooManyDecimals));
        assert_eq!(
            Cents::parse_it("92.233.720.368.547.758,08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Cents::parse_it("999999999999999999999999999999999"),
            Err(MoneyError::Overflow)
        );
        for bad in [
            "abc",
            "12a",
            "1,2,3",
            "12,",
            ",50",
            "-",
            "1.23.4",
            "12.34.56,00",
            "1..2",
            "12,5.0",
            "--3",
            "1,234.50",
            "12.3456",
        ] {
            assert!(
                matches!(Cents::parse_it(bad), Err(MoneyError::Format(_))),
                "{bad} -> {:?}",
                Cents::parse_it(bad)
            );
        }
    }

    #[test]
    fn error_messages_are_italian() {
        assert_eq!(
            MoneyError::TooManyDecimals.to_string(),
            "L'importo può avere al massimo due cifre decimali"
        );
        assert!(MoneyError::Format("x".into()).to_string().contains("«x»"));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(Cents(5).checked_add(Cents(7)), Some(Cents(12)));
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
        assert_eq!(Cents(5).checked_sub(Cents(7)), Some(Cents(-2)));
        assert_eq!(Cents(i64::MIN).checked_sub(Cents(1)), None);
        assert_eq!(Cents(270).checked_mul(10), Some(Cents(2700)));
        assert_eq!(Cents(i64::MAX).checked_mul(2), None);
        assert_eq!(Cents(i64::MIN).checked_neg(), None);
        assert_eq!(Cents(3).checked_neg(), Some(Cents(-3)));
        assert!(Cents(-1).is_negative());
        assert!(!Cents(0).is_negative());
        assert_eq!(
            Cents::checked_sum([Cents(1), Cents(2), Cents(-5)]),
            Some(Cents(-2))
        );
        assert_eq!(Cents::checked_sum([Cents(i64::MAX), Cents(1)]), None);
        assert_eq!(Cents::checked_sum(Vec::new()), Some(Cents::ZERO));
    }

    #[test]
    fn basis_points() {
        // 30% off 4,50 € = 3,15 €
        assert_eq!(Cents(450).apply_basis_points(3000), Some(Cents(315)));
        // 30% off 2,75 € = 1,925 -> 1,93 (half up)
        assert_eq!(Cents(275).apply_basis_points(3000), Some(Cents(193)));
        // 30% off 2,74 € = 1,918 -> 1,92
        assert_eq!(Cents(274).apply_basis_points(3000), Some(Cents(192)));
        // 15% off 1,01 = 0,8585 -> 0,86
        assert_eq!(Cents(101).apply_basis_points(1500), Some(Cents(86)));
        // 50% off 0,01 = 0,005 -> 0,01
        assert_eq!(Cents(1).apply_basis_points(5000), Some(Cents(1)));
        assert_eq!(Cents(-275).apply_basis_points(3000), Some(Cents(-193)));
        assert_eq!(Cents(450).apply_basis_points(0), Some(Cents(450)));
        assert_eq!(Cents(450).apply_basis_points(10_000), Some(Cents(0)));
        assert_eq!(Cents(450).apply_basis_points(10_001), None);
        assert_eq!(Cents(i64::MAX).apply_basis_points(0), Some(Cents(i64::MAX)));
        assert_eq!(Cents(i64::MIN).apply_basis_points(0), Some(Cents(i64::MIN)));
    }

    #[test]
    fn serde_is_transparent() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Cents(-305))?, "-305");
        assert_eq!(serde_json::from_str::<Cents>("1250")?, Cents(1250));
        Ok(())
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(c in any::<i64>()) {
            let s = Cents(c).format_it();
            prop_assert_eq!(Cents::parse_it(&s), Ok(Cents(c)));
        }

        #[test]
        fn plain_dot_decimal_round_trip(c in -1_000_000_000i64..1_000_000_000) {
            let abs = c.unsigned_abs();
            let sign = if c < 0 { "-" } else { "" };
            let s = format!("{sign}{}.{:02}", abs / 100, abs % 100);
            prop_assert_eq!(Cents::parse_it(&s), Ok(Cents(c)));
        }

        #[test]
        fn basis_points_within_bounds(c in 0i64..1_000_000_000, bp in 0u32..=10_000) {
            let r = Cents(c).apply_basis_points(bp);
            prop_assert!(r.is_some());
            let r = r.map(Cents::get).unwrap_or(-1);
            prop_assert!(r >= 0 && r <= c);
            // exact check against rational arithmetic: |r*10000 - c*(10000-bp)| <= 5000
            let exact = i128::from(c) * i128::from(10_000 - bp);
            prop_assert!((i128::from(r) * 10_000 - exact).abs() <= 5_000);
        }
    }
}
