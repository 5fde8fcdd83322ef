//! A synthetic municipality of any size, for benchmarks: built with a few set-based statements
//! so that a million enrolments take seconds, not hours; and the URL of a scratch database on a
//! PostgreSQL server. The binary's `bench` commands use both, so this module is shipped (the
//! test fixtures, [`crate::testing`], are not).

use jiff::civil::Date;
use refettorio_domain::{ServiceId, TenantId};

use crate::{Conn, DbError, Result, SqlDate, micros, on_conn};

/// What was built.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    pub tenant: TenantId,
    pub service: ServiceId,
}

/// Builds tenant `slug` with `enrolments` pupils (one per family, 25 per class, every class
/// eating Monday to Friday) enrolled in refezione at 4,50 €, each family with an account linked
/// to its enrolment and an opening credit: 30 meals, except every tenth family, which has 2
/// meals left (so that a close warns it), and every payer with an e-mail address. The one school
/// has a kitchen address (the close e-mails it the day's numbers).
/// The school year is 2026/2027 (lessons 14 Sept 2026 – 8 June 2027).
pub async fn build(
    conn: &mut Conn<'_>,
    slug: &str,
    enrolments: u32,
    now: jiff::Timestamp,
) -> Result<Synthetic> {
    let n = i64::from(enrolments);
    let classes = (n + 24) / 25;
    let at = micros(now);
    let d = |y, m, d| SqlDate(Date::constant(y, m, d));
    let fiscal_code = refettorio_domain::EnteFiscalCode::with_check_digit(&format!(
        "9{:09}",
        at.rem_euclid(1_000_000_000)
    ))
    .map_err(|e| crate::DbError::Corrupt(e.to_string()))?;
    on_conn!(conn, |c| {
        let tenant: i64 = sqlx::query_scalar(
            "INSERT INTO tenant (slug, name, fiscal_code, timezone, cutoff_time, settings, created_at) \
             VALUES ($1, 'Comune Sintetico', $2, 'Europe/Rome', '09:30', '{}', $3) RETURNING id",
        )
        .bind(slug)
        .bind(fiscal_code.as_str())
        .bind(at)
        .fetch_one(&mut *c)
        .await?;
        let year: i64 = sqlx::query_scalar(
            "INSERT INTO school_year (tenant_id, label, starts_on, ends_on, first_day, last_day) \
             VALUES ($1, '2026/2027', $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant)
        .bind(d(2026, 9, 1))
        .bind(d(2027, 8, 31))
        .bind(d(2026, 9, 14))
        .bind(d(2027, 6, 8))
        .fetch_one(&mut *c)
        .await?;
        let school: i64 = sqlx::query_scalar(
            "INSERT INTO school (tenant_id, name, kind, kitchen_email) \
             VALUES ($1, 'Scuola primaria sintetica', 'primaria', 'cucina@sintetico.invalid') RETURNING id",
        )
        .bind(tenant)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO class (tenant_id, school_year_id, school_id, name, canteen_weekdays) \
             WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $4) \
             SELECT $1, $2, $3, 'Classe ' || CAST(n AS TEXT), 31 FROM seq",
        )
        .bind(tenant)
        .bind(year)
        .bind(school)
        .bind(classes)
        .execute(&mut *c)
        .await?;
        let service: i64 = sqlx::query_scalar(
            "INSERT INTO service (tenant_id, school_year_id, kind, billing, name) \
             VALUES ($1, $2, 'refezione', 'prepaid', 'Refezione scolastica') RETURNING id",
        )
        .bind(tenant)
        .bind(year)
        .fetch_one(&mut *c)
        .await?;
        let band: i64 = sqlx::query_scalar(
            "INSERT INTO tariff_band (tenant_id, service_id, name, residency, meal_price_cents, fixed_fee_cents) \
             VALUES ($1, $2, 'Tariffa unica', 'any', 450, 0) RETURNING id",
        )
        .bind(tenant)
        .bind(service)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO guardian (tenant_id, fiscal_code, first_name, last_name, email) \
             WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $2) \
             SELECT $1, 'SYN' || CAST(n AS TEXT), 'Genitore', 'Sintetico', \
               'genitore' || CAST(n AS TEXT) || '@sintetico.invalid' FROM seq",
        )
        .bind(tenant)
        .bind(n)
        .execute(&mut *c)
        .await?;
        sqlx::query("INSERT INTO family (tenant_id, payer_id) SELECT tenant_id, id FROM guardian WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "INSERT INTO pupil (tenant_id, family_id, first_name, last_name, birth_date) \
             SELECT tenant_id, id, 'Alunno', 'Sintetico', $2 FROM family WHERE tenant_id = $1",
        )
        .bind(tenant)
        .bind(d(2018, 5, 5))
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO account (tenant_id, family_id, service_id, created_at) \
             SELECT tenant_id, id, $2, $3 FROM family WHERE tenant_id = $1",
        )
        .bind(tenant)
        .bind(service)
        .bind(at)
        .execute(&mut *c)
        .await?;
        // The k-th pupil goes to the ((k - 1) / 25)-th class of the year, charged to the
        // account of the pupil's family.
        sqlx::query(
            "INSERT INTO enrolment (tenant_id, pupil_id, service_id, school_id, class_id, tariff_band_id, \
               meal_price_cents, fixed_fee_cents, state, start_date, card_code, account_id) \
             SELECT p.tenant_id, p.id, $2, $3, k.id, $4, 450, 0, 'attivo', $5, 'SYN-' || CAST(p.id AS TEXT), a.id \
             FROM (SELECT id, tenant_id, family_id, ROW_NUMBER() OVER (ORDER BY id) AS r FROM pupil WHERE tenant_id = $1) p \
             JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS r FROM class WHERE tenant_id = $1) k \
               ON k.r = (p.r - 1) / 25 + 1 \
             JOIN account a ON a.tenant_id = p.tenant_id AND a.family_id = p.family_id AND a.service_id = $2",
        )
        .bind(tenant)
        .bind(service)
        .bind(school)
        .bind(band)
        .bind(d(2026, 9, 14))
        .execute(&mut *c)
        .await?;
        // Last year's credit: 30 meals, or 2 for every tenth family.
        sqlx::query(
            "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, idempotency_key, \
               created_by, reason, created_at) \
             SELECT tenant_id, id, 'carry_over', CASE WHEN id % 10 = 0 THEN 900 ELSE 13500 END, $2, \
               'carry-over:' || CAST(id AS TEXT), 'synthetic', 'Credito dell''anno precedente', $3 \
             FROM account WHERE tenant_id = $1",
        )
        .bind(tenant)
        .bind(d(2026, 9, 1))
        .bind(at)
        .execute(&mut *c)
        .await?;
        Ok(Synthetic {
            tenant: TenantId(tenant),
            service: ServiceId(service),
        })
    })
}

/// The same PostgreSQL URL with another database name.
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let start = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| DbError::Url(url.to_string()))?;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[start..]
        .find('/')
        .map(|i| start + i)
        .unwrap_or(base.len());
    Ok(format!("{}/{name}{query}", &base[..host_end]))
}

/// Turns the synthetic municipality's service into post-paid school transport with a monthly
/// `fee` per child, and gives every payer an address (for the fees benchmark).
pub async fn make_postpaid(conn: &mut Conn<'_>, built: Synthetic, fee: i64) -> Result<()> {
    let (t, s) = (built.tenant.get(), built.service.get());
    on_conn!(conn, |c| {
        sqlx::query(
            "UPDATE service SET billing = 'postpaid', kind = 'trasporto' WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(s)
        .execute(&mut *c)
        .await?;
        for sql in [
            "UPDATE tariff_band SET fixed_fee_cents = $3 WHERE tenant_id = $1 AND service_id = $2",
            "UPDATE enrolment SET fixed_fee_cents = $3 WHERE tenant_id = $1 AND service_id = $2",
        ] {
            sqlx::query(sql)
                .bind(t)
                .bind(s)
                .bind(fee)
                .execute(&mut *c)
                .await?;
        }
        sqlx::query("UPDATE guardian SET address = 'Via Roma 1, Sintetico' WHERE tenant_id = $1")
            .bind(t)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x")
                .ok()
                .as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x")
                .ok()
                .as_deref(),
            Some("postgres://u:p@h/x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h", "x").ok().as_deref(),
            Some("postgres://h/x")
        );
    }
}
