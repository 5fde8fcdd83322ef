//! How the pages write money, dates and months, in Italian.

use jiff::civil::Date;
use refettorio_domain::Cents;

/// "36,50 €"
pub(crate) fn euro(c: &Cents) -> String {
    c.format_it()
}

/// "23/11/2026"
pub(crate) fn dmy(d: &Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

/// "Novembre 2026"
pub(crate) fn month_name(d: Date) -> String {
    const MONTHS: [&str; 12] = [
        "Gennaio",
        "Febbraio",
        "Marzo",
        "Aprile",
        "Maggio",
        "Giugno",
        "Luglio",
        "Agosto",
        "Settembre",
        "Ottobre",
        "Novembre",
        "Dicembre",
    ];
    let m = usize::try_from(d.month() - 1).unwrap_or(0);
    format!(
        "{} {}",
        MONTHS.get(m).copied().unwrap_or_default(),
        d.year()
    )
}
