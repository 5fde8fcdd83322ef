//! The XSD's simple types: amounts, strings with their lengths and patterns, dates, booleans,
//! integers, and the transfers' coherence, shared by the reader and the writer.

use jiff::civil::Date;
use refettorio_domain::Cents;

use crate::types::*;

// ---------------------------------------------------------------------------------------------
// Amounts

/// An amount as the XSD writes it: always two decimals (`45.50`, `1000.00`, `0.01`). A negative
/// amount comes out as `-1.00`, which no amount type of the XSD accepts: the renderers refuse
/// negative amounts (and zero where `stAmountNotZero` is required) before writing.
pub fn format_amount(c: Cents) -> String {
    let v = c.get();
    let abs = v.unsigned_abs();
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Reads an `stAmount`: digits, a dot and **exactly** two decimals (the XSD's `\d+\.\d{2}`),
/// at most 999999999.99. No sign, no exponent, no surrounding whitespace, no float on the way.
pub fn parse_amount(s: &str) -> Option<Cents> {
    let (units, decimals) = s.split_once('.')?;
    if units.is_empty()
        || decimals.len() != 2
        || !units.bytes().all(|b| b.is_ascii_digit())
        || !decimals.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units = units.trim_start_matches('0');
    if units.len() > 9 {
        return None;
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().ok()?
    };
    let decimals: i64 = decimals.parse().ok()?;
    Some(Cents(units * 100 + decimals))
}

/// `stAmount` (0 allowed) or `stAmountNotZero`.
#[derive(Clone, Copy)]
pub(crate) enum AmountKind {
    Any,
    NotZero,
}

pub(crate) fn check_amount(c: Cents, kind: AmountKind) -> Result<(), String> {
    if c.is_negative() {
        return Err(format!("{} is negative", format_amount(c)));
    }
    if c > MAX_AMOUNT {
        return Err(format!("{} is above 999999999.99", format_amount(c)));
    }
    if matches!(kind, AmountKind::NotZero) && c.is_zero() {
        return Err("must be at least 0.01".to_owned());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Simple types

/// The string types of the XSD.
#[derive(Clone, Copy)]
pub(crate) enum St {
    /// `xsd:string` restricted to a length, in characters.
    Text(usize, usize),
    /// `xsd:string`.
    Any,
    /// `[0-9]{n}`.
    Digits(usize),
    /// `stNazioneProvincia`: `[A-Z]{2}`.
    Country,
    /// `stEMail`.
    Email,
}

pub(crate) const T16: St = St::Text(1, 16);
pub(crate) const T20: St = St::Text(1, 20);
pub(crate) const T35: St = St::Text(1, 35);
pub(crate) const T70: St = St::Text(1, 70);
pub(crate) const T140: St = St::Text(1, 140);
pub(crate) const T210: St = St::Text(1, 210);
pub(crate) const IBAN: St = St::Text(1, 35);
pub(crate) const UNIQUE_ID: St = St::Text(2, 16);
pub(crate) const FISCAL_CODE_PA: St = St::Digits(11);
pub(crate) const NOTICE_NUMBER: St = St::Digits(18);

pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Removes the whitespace the XSD ignores around decimals, dates, booleans and integers.
pub(crate) fn collapse_trim(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

pub(crate) fn check(st: St, v: &str) -> Result<(), String> {
    if let Some(c) = v.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ));
    }
    match st {
        St::Any => Ok(()),
        St::Text(min, max) => {
            let n = v.chars().count();
            if n < min || n > max {
                Err(format!("must be {min} to {max} characters long, not {n}"))
            } else {
                Ok(())
            }
        }
        St::Digits(n) => {
            if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("must be {n} digits, not {}", quote(v)))
            }
        }
        St::Country => {
            if v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(())
            } else {
                Err(format!("must be two capital letters, not {}", quote(v)))
            }
        }
        St::Email => {
            if v.chars().count() <= 256 && is_email(v) {
                Ok(())
            } else {
                Err(format!(
                    "{} is not an e-mail address the XSD accepts",
                    quote(v)
                ))
            }
        }
    }
}

/// `[a-zA-Z0-9_\.\+\-]+@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*`
pub(crate) fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'));
    let domain_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    local_ok && domain_ok
}

/// A value for an error message: quoted, and cut when long.
pub(crate) fn quote(v: &str) -> String {
    const MAX: usize = 40;
    if v.chars().count() > MAX {
        let head: String = v.chars().take(MAX).collect();
        format!("\"{}…\"", head.escape_debug())
    } else {
        format!("\"{}\"", v.escape_debug())
    }
}

pub(crate) fn digits<T: std::str::FromStr>(s: Option<&str>) -> Option<T> {
    let s = s?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD`, a year from 0001 to 9999.
pub(crate) fn parse_ymd(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year: i16 = digits(s.get(0..4))?;
    let month: i8 = digits(s.get(5..7))?;
    let day: i8 = digits(s.get(8..10))?;
    if year == 0 {
        return None;
    }
    Date::new(year, month, day).ok()
}

/// `Z` or `±hh:mm` (at most ±14:00).
pub(crate) fn is_timezone(tz: &str) -> bool {
    if tz == "Z" {
        return true;
    }
    let b = tz.as_bytes();
    if b.len() != 6 || !matches!(b.first(), Some(b'+' | b'-')) || b.get(3) != Some(&b':') {
        return false;
    }
    let (Some(h), Some(m)) = (digits::<u8>(tz.get(1..3)), digits::<u8>(tz.get(4..6))) else {
        return false;
    };
    (h < 14 && m < 60) || (h == 14 && m == 0)
}

/// `xsd:date` (after the whitespace collapse): a time zone, allowed by the XSD, is dropped.
pub(crate) fn parse_xsd_date(s: &str) -> Option<Date> {
    let (date, tz) = s.split_at_checked(10)?;
    if !tz.is_empty() && !is_timezone(tz) {
        return None;
    }
    parse_ymd(date)
}

pub(crate) fn format_date(d: Date) -> Result<String, String> {
    if d.year() < 1 {
        return Err(format!("the year {} cannot be written", d.year()));
    }
    Ok(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

/// `xsd:dateTime`: `YYYY-MM-DDThh:mm:ss`, optional fraction, optional time zone.
pub(crate) fn is_xsd_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else {
        return false;
    };
    if parse_ymd(date).is_none() {
        return false;
    }
    let b = time.as_bytes();
    if b.len() < 8 || b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (
        digits::<u8>(time.get(0..2)),
        digits::<u8>(time.get(3..5)),
        digits::<u8>(time.get(6..8)),
    ) else {
        return false;
    };
    let Some(mut rest) = time.get(8..) else {
        return false;
    };
    let mut fraction_zero = true;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        let (fraction, tail) = after_dot.split_at(n);
        fraction_zero = fraction.bytes().all(|b| b == b'0');
        rest = tail;
    }
    if !rest.is_empty() && !is_timezone(rest) {
        return false;
    }
    (h < 24 && m < 60 && sec < 60) || (h == 24 && m == 0 && sec == 0 && fraction_zero)
}

pub(crate) fn parse_xsd_bool(s: &str) -> Option<bool> {
    match collapse_trim(s) {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `xsd:int`: an optional sign and digits, within `i32`.
pub(crate) fn parse_xsd_int(s: &str) -> Option<i32> {
    let s = collapse_trim(s);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let body = body.trim_start_matches('0');
    if body.len() > 10 {
        return None;
    }
    let v: i64 = if body.is_empty() {
        0
    } else {
        body.parse().ok()?
    };
    i32::try_from(if negative { -v } else { v }).ok()
}

/// `xsd:base64Binary` after the whitespace collapse: groups of four characters of the base64
/// alphabet, single spaces between characters allowed, at most two `=` at the end.
pub(crate) fn collapse_base64(s: &str) -> Option<String> {
    let collapsed = s
        .split(is_xml_space)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let chars: Vec<u8> = collapsed.bytes().filter(|b| *b != b' ').collect();
    if !chars.len().is_multiple_of(4) {
        return None;
    }
    let pad = chars.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2 {
        return None;
    }
    let body = chars.get(..chars.len() - pad)?;
    if body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
    {
        Some(collapsed)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Transfers

/// Distinct `idTransfer`s whose amounts add up to the total.
pub(crate) fn check_transfers(
    total: Cents,
    transfers: impl Iterator<Item = (u8, Cents)>,
) -> Result<(), String> {
    let mut seen = [false; MAX_TRANSFERS + 1];
    let mut sum = Cents::ZERO;
    for (id, amount) in transfers {
        match seen.get_mut(usize::from(id)) {
            Some(slot) if id >= 1 => {
                if *slot {
                    return Err(format!("idTransfer {id} appears twice"));
                }
                *slot = true;
            }
            _ => return Err(format!("idTransfer {id} is not 1 to 5")),
        }
        sum = sum
            .checked_add(amount)
            .ok_or_else(|| "the transfers' sum overflows".to_owned())?;
    }
    if sum != total {
        return Err(format!(
            "the transfers add up to {}, the payment amount is {}",
            format_amount(sum),
            format_amount(total)
        ));
    }
    Ok(())
}
