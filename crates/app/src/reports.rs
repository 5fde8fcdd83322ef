//! The back office's reports: today's meals (the kitchen's numbers), meals served per day or
//! month, ledger entries and recharges of a period, balances below zero with the arrears
//! total. Each report is a view model with its tables ([`refettorio_documents::table::Table`]),
//! the same tables the page shows and the CSV/XLSX exports write ([`export`]).
//!
//! Periods are typed in forms: [`period`] reads them, with Italian field errors for a date
//! that is not one, an end before the start, or more than [`MAX_DAYS`] days.

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::reports::{self, BalanceSummary, Debtor, Grain, KindTotal, Payments, Served};
use refettorio_documents::table;
pub use refettorio_documents::table::{Cell, Table};
use refettorio_domain::{Cents, Clock, EntryKind, today};

use crate::kitchen::KitchenNumbers;
use crate::{AppError, Ctx, FieldError};

/// The longest period a report covers, in days (both ends included).
pub const MAX_DAYS: i64 = 366;

/// A file a report table is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// `csv` or `xlsx`, as in the download's address.
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// A table as a file. The workbook is written off the async threads.
pub async fn export(table: Table, format: ExportFormat) -> Result<Vec<u8>, AppError> {
    match format {
        ExportFormat::Csv => Ok(table::csv(&table)),
        ExportFormat::Xlsx => tokio::task::spawn_blocking(move || table::xlsx(&table))
            .await
            .map_err(|e| AppError::Invalid(format!("xlsx task: {e}")))?
            .map_err(|e| AppError::Invalid(format!("xlsx: {e}"))),
    }
}

/// A period of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

/// "dal 01/11/2026 al 23/11/2026"
impl Period {
    pub fn label(&self) -> String {
        format!(
            "dal {} al {}",
            self.from.strftime("%d/%m/%Y"),
            self.to.strftime("%d/%m/%Y")
        )
    }
}

/// The period typed in the fields `dal` and `al` (blank: `default`'s end), checked: real
/// dates, the end not before the start, at most [`MAX_DAYS`] days.
pub fn period(from: &str, to: &str, default: Period) -> Result<Period, AppError> {
    let mut errors = Vec::new();
    let mut read = |field: &'static str, typed: &str, default: Date| {
        let typed = typed.trim();
        if typed.is_empty() {
            return Some(default);
        }
        match typed.parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError {
                    field,
                    message: "Data non valida: usa il formato gg/mm/aaaa.".into(),
                });
                None
            }
        }
    };
    let from = read("dal", from, default.from);
    let to = read("al", to, default.to);
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            errors.push(FieldError {
                field: "al",
                message: "La data finale viene prima di quella iniziale.".into(),
            });
        } else if i64::from(from.until(to)?.get_days()) >= MAX_DAYS {
            errors.push(FieldError {
                field: "al",
                message: format!("Il periodo può essere al massimo di {MAX_DAYS} giorni."),
            });
        }
        if errors.is_empty() {
            return Ok(Period { from, to });
        }
    }
    Err(AppError::Fields(errors))
}

/// From the first day of the month to today.
pub fn this_month(clock: &dyn Clock, tenant: &Tenant) -> Period {
    let to = today(clock, &tenant.timezone);
    Period {
        from: to.first_of_month(),
        to,
    }
}

/// The twelve weeks ending today (from a Monday).
pub fn last_weeks(clock: &dyn Clock, tenant: &Tenant) -> Result<Period, AppError> {
    let to = today(clock, &tenant.timezone);
    let monday = to.checked_sub(i64::from(to.weekday().to_monday_zero_offset()).days())?;
    Ok(Period {
        from: monday.checked_sub(11.weeks())?,
        to,
    })
}

/// The kitchen's numbers as the report's one table (per school and class, a column per diet).
pub fn meals_table(tenant: &Tenant, numbers: &KitchenNumbers) -> Table {
    numbers.report(&tenant.name, "").table()
}

/// Meals served in a period, per day or month.
#[derive(Debug, Clone)]
pub struct Attendance {
    pub period: Period,
    /// True: per month; false: per day.
    pub monthly: bool,
    /// Per period and class.
    pub rows: Vec<Served>,
    /// Per period, every class together (the chart's numbers).
    pub totals: Vec<(Date, i64)>,
    pub total: i64,
}

/// Meals served (charged at the close, less reversals) in `period`.
pub async fn attendance(
    ctx: Ctx<'_>,
    period: Period,
    monthly: bool,
) -> Result<Attendance, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let grain = if monthly { Grain::Month } else { Grain::Day };
    let mut h = db.acquire().await?;
    let rows =
        reports::meals_served(&mut h.conn(), tenant.id, period.from, period.to, grain).await?;
    let mut totals: Vec<(Date, i64)> = Vec::new();
    for r in &rows {
        match totals.last_mut() {
            Some((p, n)) if *p == r.period => *n += r.meals,
            _ => totals.push((r.period, r.meals)),
        }
    }
    let total = totals.iter().map(|(_, n)| n).sum();
    Ok(Attendance {
        period,
        monthly,
        rows,
        totals,
        total,
    })
}

pub use refettorio_domain::booking::month_it;

impl Attendance {
    /// A period's label: the day (`23/11/2026`) or the month (`novembre 2026`).
    pub fn period_label(&self, d: &Date) -> String {
        if self.monthly {
            month_it(*d)
        } else {
            d.strftime("%d/%m/%Y").to_string()
        }
    }

    fn period_cell(&self, d: Date) -> Cell {
        if self.monthly {
            Cell::Text(month_it(d))
        } else {
            Cell::Date(d)
        }
    }

    /// The tables: per class, then per period.
    pub fn tables(&self) -> Vec<Table> {
        let unit = if self.monthly { "Mese" } else { "Giorno" };
        let mut detail = Table::new(
            "Pasti per classe",
            &[unit, "Scuola", "Classe", "Pasti serviti"],
        );
        for r in &self.rows {
            detail.rows.push(vec![
                self.period_cell(r.period),
                Cell::text(&*r.school_name),
                Cell::text(&*r.class_name),
                Cell::Count(r.meals),
            ]);
        }
        detail.totals.push(vec![
            Cell::text("Totale"),
            Cell::Empty,
            Cell::Empty,
            Cell::Count(self.total),
        ]);
        let title = if self.monthly {
            "Pasti per mese"
        } else {
            "Pasti per giorno"
        };
        let mut per = Table::new(title, &[unit, "Pasti serviti"]);
        for (d, n) in &self.totals {
            per.rows.push(vec![self.period_cell(*d), Cell::Count(*n)]);
        }
        per.totals
            .push(vec![Cell::text("Totale"), Cell::Count(self.total)]);
        vec![detail, per]
    }
}

/// The money of a period: ledger entries by kind and recharges per week.
#[derive(Debug, Clone)]
pub struct Revenue {
    pub period: Period,
    pub kinds: Vec<KindTotal>,
    pub weeks: Vec<Payments>,
    /// The sum of every entry of the period (what the accounts changed by).
    pub net: Cents,
    pub recharged: Cents,
    /// Meals charged less their reversals, as a positive amount.
    pub meals: Cents,
}

/// What a kind of entry is called in the report.
pub fn kind_label(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Recharge => "Ricariche",
        EntryKind::MealCharge => "Pasti addebitati",
        EntryKind::Reversal => "Storni",
        EntryKind::Adjustment => "Rettifiche",
        EntryKind::Refund => "Rimborsi",
        EntryKind::Transfer => "Giroconti",
        EntryKind::CarryOver => "Riporti dall'anno precedente",
    }
}

/// Ledger entries and recharges dated in `period`.
pub async fn revenue(ctx: Ctx<'_>, period: Period) -> Result<Revenue, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let kinds = reports::entries_by_kind(c, tenant.id, period.from, period.to).await?;
    let weeks = reports::recharges(c, tenant.id, period.from, period.to, Grain::Week).await?;
    let sum = |f: &dyn Fn(&KindTotal) -> bool| {
        Cents(kinds.iter().filter(|k| f(k)).map(|k| k.amount.get()).sum())
    };
    let net = sum(&|_| true);
    let recharged = sum(&|k| k.kind == EntryKind::Recharge);
    let meals =
        Cents(-sum(&|k| matches!(k.kind, EntryKind::MealCharge | EntryKind::Reversal)).get());
    Ok(Revenue {
        period,
        kinds,
        weeks,
        net,
        recharged,
        meals,
    })
}

impl Revenue {
    /// The tables: entries by kind, then recharges per week.
    pub fn tables(&self) -> Vec<Table> {
        let mut kinds = Table::new("Movimenti per voce", &["Voce", "Movimenti", "Importo"]);
        for k in &self.kinds {
            kinds.rows.push(vec![
                Cell::text(kind_label(k.kind)),
                Cell::Count(k.entries),
                Cell::Money(k.amount.get()),
            ]);
        }
        kinds.totals.push(vec![
            Cell::text("Saldo dei movimenti"),
            Cell::Count(self.kinds.iter().map(|k| k.entries).sum()),
            Cell::Money(self.net.get()),
        ]);
        let mut weeks = Table::new(
            "Ricariche per settimana",
            &["Settimana dal", "Ricariche", "Importo"],
        );
        for w in &self.weeks {
            weeks.rows.push(vec![
                Cell::Date(w.period),
                Cell::Count(w.count),
                Cell::Money(w.amount.get()),
            ]);
        }
        weeks.totals.push(vec![
            Cell::text("Totale"),
            Cell::Count(self.weeks.iter().map(|w| w.count).sum()),
            Cell::Money(self.recharged.get()),
        ]);
        vec![kinds, weeks]
    }
}

/// The balances of today: every account summed, and those below zero with their payer.
#[derive(Debug, Clone)]
pub struct Balances {
    pub summary: BalanceSummary,
    pub debtors: Vec<Debtor>,
}

pub async fn balances(ctx: Ctx<'_>) -> Result<Balances, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let summary = reports::balance_summary(c, tenant.id).await?;
    let debtors = reports::debtors(c, tenant.id).await?;
    Ok(Balances { summary, debtors })
}

impl Balances {
    /// The tables: the accounts below zero (with the arrears total), then the summary.
    pub fn tables(&self) -> Vec<Table> {
        let mut debtors = Table::new(
            "Saldi negativi",
            &[
                "Intestatario",
                "Codice fiscale",
                "E-mail",
                "Servizio",
                "Saldo",
            ],
        );
        for d in &self.debtors {
            debtors.rows.push(vec![
                Cell::Text(format!("{} {}", d.payer_last_name, d.payer_first_name)),
                Cell::text(&*d.payer_fiscal_code),
                Cell::Text(d.payer_email.clone().unwrap_or_default()),
                Cell::text(&*d.service),
                Cell::Money(d.balance.get()),
            ]);
        }
        debtors.totals.push(vec![
            Cell::text("Totale morosità"),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Money(self.summary.arrears.get()),
        ]);
        let s = &self.summary;
        let mut summary = Table::new("Riepilogo dei saldi", &["Conti", "Numero", "Importo"]);
        summary.rows.push(vec![
            Cell::text("Sotto zero (morosità)"),
            Cell::Count(s.negative),
            Cell::Money(s.arrears.get()),
        ]);
        summary.rows.push(vec![
            Cell::text("Con credito"),
            Cell::Count(s.positive),
            Cell::Money(s.credit.get()),
        ]);
        summary.totals.push(vec![
            Cell::text("Tutti i conti"),
            Cell::Count(s.accounts),
            Cell::Money(s.arrears.get().saturating_add(s.credit.get())),
        ]);
        vec![debtors, summary]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Period {
        Period {
            from: Date::constant(2026, 11, 1),
            to: Date::constant(2026, 11, 23),
        }
    }

    fn fields(r: Result<Period, AppError>) -> Vec<(&'static str, String)> {
        match r {
            Err(AppError::Fields(e)) => e.into_iter().map(|e| (e.field, e.message)).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn blanks_take_the_default() {
        assert_eq!(period("", " ", default()).unwrap(), default());
        assert_eq!(
            period("2026-09-01", "", default()).unwrap(),
            Period {
                from: Date::constant(2026, 9, 1),
                to: Date::constant(2026, 11, 23)
            }
        );
    }

    #[test]
    fn bad_periods_are_field_errors() {
        assert_eq!(
            fields(period("31/02/2026", "", default())),
            [(
                "dal",
                "Data non valida: usa il formato gg/mm/aaaa.".to_string()
            )]
        );
        let backwards = fields(period("2026-11-10", "2026-11-09", default()));
        assert_eq!(backwards[0].0, "al");
        assert!(backwards[0].1.contains("prima di quella iniziale"));
        // 366 days are allowed (a leap year), 367 are not.
        assert!(period("2027-01-01", "2027-12-31", default()).is_ok());
        assert!(period("2028-01-01", "2028-12-31", default()).is_ok());
        let long = fields(period("2026-01-01", "2027-01-02", default()));
        assert_eq!(long[0].0, "al");
        assert!(long[0].1.contains("366 giorni"));
    }

    #[test]
    fn months_are_named_in_italian() {
        assert_eq!(month_it(Date::constant(2026, 11, 1)), "novembre 2026");
        assert_eq!(month_it(Date::constant(2027, 1, 1)), "gennaio 2027");
    }
}
