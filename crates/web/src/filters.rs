//! The templates' formatters, as askama filters: `{{ amount|euro }}`, `{{ day|dmy }}`,
//! `{{ instant|when(tz) }}`. A module with a template that uses them brings them into scope
//! with `use crate::filters;` (askama looks custom filters up as `filters::<name>`). Rust code
//! that needs the same text calls the plain functions [`euro_it`], [`dmy_it`] and [`when_it`].

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use refettorio_domain::Cents;

/// "36,50 €"
pub(crate) fn euro_it(c: &Cents) -> String {
    c.format_it()
}

/// "23/11/2026"
pub(crate) fn dmy_it(d: &Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

/// "Novembre 2026"
pub(crate) fn month_name(d: Date) -> String {
    let text = refettorio_domain::booking::month_it(d);
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "1 giorno", "3 giorni": a count with its noun in the right number (templates call it as
/// `crate::filters::plural(n, "giorno", "giorni")`).
pub(crate) fn plural<T: std::fmt::Display>(n: T, one: &str, many: &str) -> String {
    let n = n.to_string();
    if n == "1" {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "23/11/2026 09:30", in the municipality's time zone.
pub(crate) fn when_it(t: &Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    format!("{} {}", dmy_it(&z.date()), z.strftime("%H:%M"))
}

/// `{{ amount|euro }}`: "36,50 €".
#[askama::filter_fn]
pub(crate) fn euro(c: &Cents, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(euro_it(c))
}

/// `{{ day|dmy }}`: "23/11/2026".
#[askama::filter_fn]
pub(crate) fn dmy(d: &Date, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(dmy_it(d))
}

/// `{{ instant|when(tz) }}`: "23/11/2026 09:30" in the time zone `tz`.
///
/// Written out by hand, as `#[askama::filter_fn]` would expand it: for a filter with arguments
/// the macro's expansion contains `unsafe` blocks, which the workspace forbids.
#[allow(non_camel_case_types)]
#[derive(Default)]
pub(crate) struct when<'a> {
    tz: Option<&'a TimeZone>,
}

impl<'a> when<'a> {
    /// The time zone, the filter's first argument.
    pub(crate) fn with_0(self, tz: &'a TimeZone) -> Self {
        when { tz: Some(tz) }
    }

    pub(crate) fn execute(self, t: &Timestamp, _: &dyn askama::Values) -> askama::Result<String> {
        let tz = self.tz.ok_or(askama::Error::Fmt)?;
        Ok(when_it(t, tz))
    }
}

impl askama::filters::ValidFilterInvocation for when<'_> {}

impl askama::filters::ValidArgIdx<0> for when<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use askama::Template;

    use super::*;
    use crate::filters;

    #[derive(Template)]
    #[template(
        source = "{{ amount|euro }} {{ day|dmy }} {{ at|when(tz) }} {% for d in days %}{{ d|dmy }} {% endfor %}",
        ext = "txt"
    )]
    struct Sample<'a> {
        amount: Cents,
        day: Date,
        at: Timestamp,
        tz: &'a TimeZone,
        days: Vec<Date>,
    }

    #[test]
    fn the_filters_write_italian_amounts_dates_and_times() {
        let tz = TimeZone::get("Europe/Rome").unwrap();
        let page = Sample {
            amount: Cents(3650),
            day: Date::constant(2026, 11, 23),
            at: "2026-11-23T08:30:00Z".parse().unwrap(),
            tz: &tz,
            days: vec![Date::constant(2026, 1, 6)],
        };
        assert_eq!(
            page.render().unwrap(),
            format!(
                "{} 23/11/2026 23/11/2026 09:30 06/01/2026 ",
                Cents(3650).format_it()
            )
        );
    }
}
