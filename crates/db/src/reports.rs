//! The office's reports, aggregated in SQL on both databases: meals served (from the
//! ledger: each meal charge counts 1, each reversal of one -1) per day or month and class;
//! ledger entries by kind in a period; recharges per week; balances below zero with the payer.
//!
//! Grouping by month or week needs a date function, which the two databases spell
//! differently: [`Grain::sql`] gives each backend's expression. Everything else is one SQL.

use jiff::civil::Date;
use refettorio_domain::{AccountId, Cents, ClassId, EntryKind, FamilyId, SchoolId, TenantId};

use crate::{Conn, DbError, Result, SqlDate, on_conn};

/// How days are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Day,
    /// The first day of the month.
    Month,
    /// The Monday of the week.
    Week,
}

impl Grain {
    /// The SQL expression of the group's first day for the column `day`.
    fn sql(self, postgres: bool) -> &'static str {
        match (self, postgres) {
            (Grain::Day, _) => "l.day",
            (Grain::Month, true) => "CAST(date_trunc('month', l.day) AS DATE)",
            (Grain::Month, false) => "date(l.day, 'start of month')",
            (Grain::Week, true) => "CAST(date_trunc('week', l.day) AS DATE)",
            // 'weekday 0' moves to the next Sunday (or stays on a Sunday); 6 days before is
            // that week's Monday.
            (Grain::Week, false) => "date(l.day, 'weekday 0', '-6 days')",
        }
    }
}

fn is_postgres(conn: &Conn<'_>) -> bool {
    matches!(conn, Conn::Postgres(_))
}

/// Meals served in one class in one period (day or month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The day, or the first day of the month.
    pub period: Date,
    pub school: SchoolId,
    pub school_name: String,
    pub class: ClassId,
    pub class_name: String,
    pub meals: i64,
}

/// Meals served from `from` to `to` (both included) per period and class, by period, school
/// and class name. Only closed days have meal charges, so this is what was cooked and charged.
pub async fn meals_served(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
    to: Date,
    grain: Grain,
) -> Result<Vec<Served>> {
    let period = grain.sql(is_postgres(conn));
    let sql = format!(
        "SELECT {period} AS period, l.school_id, s.name, l.class_id, k.name, \
           CAST(SUM(CASE WHEN l.kind = 'reversal' THEN -1 ELSE 1 END) AS BIGINT) \
         FROM ledger_entry l \
         JOIN school s ON s.tenant_id = l.tenant_id AND s.id = l.school_id \
         JOIN class k ON k.tenant_id = l.tenant_id AND k.id = l.class_id \
         WHERE l.tenant_id = $1 AND l.day >= $2 AND l.day <= $3 \
           AND l.kind IN ('meal_charge', 'reversal') AND l.meal IS NOT NULL \
         GROUP BY {period}, l.school_id, s.name, l.class_id, k.name \
         HAVING SUM(CASE WHEN l.kind = 'reversal' THEN -1 ELSE 1 END) <> 0 \
         ORDER BY 1, s.name, k.name"
    );
    type Row = (SqlDate, i64, String, i64, String, i64);
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(p, s, sn, k, kn, n)| Served {
            period: p.0,
            school: SchoolId(s),
            school_name: sn,
            class: ClassId(k),
            class_name: kn,
            meals: n,
        })
        .collect())
}

/// The ledger entries of one kind in a period: how many and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    pub kind: EntryKind,
    pub entries: i64,
    pub amount: Cents,
}

/// Ledger entries dated from `from` to `to` by kind (only the kinds that occur).
pub async fn entries_by_kind(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
    to: Date,
) -> Result<Vec<KindTotal>> {
    let sql = "SELECT kind, CAST(COUNT(*) AS BIGINT), CAST(SUM(amount_cents) AS BIGINT) \
               FROM ledger_entry WHERE tenant_id = $1 AND day >= $2 AND day <= $3 \
               GROUP BY kind";
    let rows: Vec<(String, i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .fetch_all(&mut *c)
            .await?
    });
    let mut out = rows
        .into_iter()
        .map(|(k, n, sum)| {
            let kind = EntryKind::parse(&k)
                .ok_or_else(|| DbError::Corrupt(format!("ledger entry kind {k:?}")))?;
            Ok(KindTotal {
                kind,
                entries: n,
                amount: Cents(sum),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|t| EntryKind::ALL.iter().position(|k| *k == t.kind));
    Ok(out)
}

/// Recharges (payments) in one period: how many and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payments {
    /// The first day of the period (a Monday for weeks).
    pub period: Date,
    pub count: i64,
    pub amount: Cents,
}

/// Recharges dated from `from` to `to`, per period (day, week or month), oldest first.
pub async fn recharges(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
    to: Date,
    grain: Grain,
) -> Result<Vec<Payments>> {
    let period = grain.sql(is_postgres(conn));
    let sql = format!(
        "SELECT {period} AS period, CAST(COUNT(*) AS BIGINT), CAST(SUM(l.amount_cents) AS BIGINT) \
         FROM ledger_entry l \
         WHERE l.tenant_id = $1 AND l.day >= $2 AND l.day <= $3 AND l.kind = 'recharge' \
         GROUP BY {period} ORDER BY 1"
    );
    let rows: Vec<(SqlDate, i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(p, n, sum)| Payments {
            period: p.0,
            count: n,
            amount: Cents(sum),
        })
        .collect())
}

/// The balances of every account of the municipality, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BalanceSummary {
    /// Accounts with at least one entry.
    pub accounts: i64,
    /// How many are below zero, and their sum (a negative amount: the arrears).
    pub negative: i64,
    pub arrears: Cents,
    /// How many are above zero, and their sum (the families' credit).
    pub positive: i64,
    pub credit: Cents,
}

const BALANCES: &str = "WITH b AS ( \
      SELECT account_id, SUM(amount_cents) AS bal FROM ledger_entry \
      WHERE tenant_id = $1 GROUP BY account_id) ";

/// How many accounts are below and above zero, and by how much.
pub async fn balance_summary(conn: &mut Conn<'_>, tenant: TenantId) -> Result<BalanceSummary> {
    let sql = format!(
        "{BALANCES} SELECT CAST(COUNT(*) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN bal < 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN bal < 0 THEN bal ELSE 0 END), 0) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN bal > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN bal > 0 THEN bal ELSE 0 END), 0) AS BIGINT) \
         FROM b"
    );
    let (accounts, negative, arrears, positive, credit): (i64, i64, i64, i64, i64) =
        on_conn!(conn, |c| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(tenant.get())
                .fetch_one(&mut *c)
                .await?
        });
    Ok(BalanceSummary {
        accounts,
        negative,
        arrears: Cents(arrears),
        positive,
        credit: Cents(credit),
    })
}

/// An account below zero and who pays for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub account: AccountId,
    pub family: FamilyId,
    pub payer_last_name: String,
    pub payer_first_name: String,
    pub payer_fiscal_code: String,
    pub payer_email: Option<String>,
    pub service: String,
    pub balance: Cents,
}

/// The accounts below zero with their payer and service, most negative first.
pub async fn debtors(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Debtor>> {
    let sql = format!(
        "{BALANCES} SELECT a.id, a.family_id, g.last_name, g.first_name, g.fiscal_code, g.email, \
           v.name, CAST(b.bal AS BIGINT) \
         FROM b \
         JOIN account a ON a.tenant_id = $1 AND a.id = b.account_id \
         JOIN family f ON f.tenant_id = $1 AND f.id = a.family_id \
         JOIN guardian g ON g.tenant_id = $1 AND g.id = f.payer_id \
         JOIN service v ON v.tenant_id = $1 AND v.id = a.service_id \
         WHERE b.bal < 0 \
         ORDER BY b.bal, g.last_name, g.first_name, a.id"
    );
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        Option<String>,
        String,
        i64,
    );
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(a, f, last, first, cf, email, service, bal)| Debtor {
            account: AccountId(a),
            family: FamilyId(f),
            payer_last_name: last,
            payer_first_name: first,
            payer_fiscal_code: cf,
            payer_email: email,
            service,
            balance: Cents(bal),
        })
        .collect())
}
