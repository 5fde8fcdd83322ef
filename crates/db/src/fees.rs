//! Post-paid fees (migration 0019): a service's fee rule, and the enrolments an issuing run
//! reads. The fees themselves are payment positions of kind `fee` ([`crate::pagopa`]), one per
//! family, service and period.

use jiff::civil::Date;
use refettorio_domain::fees::{FeeRule, Frequency, ProRata};
use refettorio_domain::{Cents, FamilyId, PupilId, ServiceId, TenantId};

use crate::registry::corrupt;
use crate::{Conn, Result, SqlDate, micros, on_conn};

/// The fee rule of `service`, if it has one.
pub async fn rule(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
) -> Result<Option<FeeRule>> {
    let sql = "SELECT frequency, pro_rata, enrolment_fee_cents, iban, taxonomy, due_days, expires \
               FROM fee_rule WHERE tenant_id = $1 AND service_id = $2";
    type Row = (String, String, i64, String, String, i64, bool);
    let row: Option<Row> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .bind(service.get())
        .fetch_optional(&mut *c)
        .await?);
    row.map(
        |(frequency, pro_rata, fee, iban, taxonomy, due_days, expires)| {
            Ok(FeeRule {
                frequency: Frequency::from_key(&frequency)
                    .ok_or_else(|| corrupt("fee frequency")(frequency))?,
                pro_rata: ProRata::from_key(&pro_rata)
                    .ok_or_else(|| corrupt("fee pro rata")(pro_rata))?,
                enrolment_fee: Cents::new(fee),
                iban,
                taxonomy,
                due_days: u16::try_from(due_days).map_err(corrupt("fee due days"))?,
                expires,
            })
        },
    )
    .transpose()
}

/// Sets the fee rule of `service`.
pub async fn put_rule(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    r: &FeeRule,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql = "INSERT INTO fee_rule (service_id, tenant_id, frequency, pro_rata, enrolment_fee_cents, \
               iban, taxonomy, due_days, expires, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (service_id) DO UPDATE SET frequency = excluded.frequency, \
               pro_rata = excluded.pro_rata, enrolment_fee_cents = excluded.enrolment_fee_cents, \
               iban = excluded.iban, taxonomy = excluded.taxonomy, due_days = excluded.due_days, \
               expires = excluded.expires, updated_at = excluded.updated_at";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(service.get())
            .bind(tenant.get())
            .bind(r.frequency.as_str())
            .bind(r.pro_rata.as_str())
            .bind(r.enrolment_fee.get())
            .bind(&r.iban)
            .bind(&r.taxonomy)
            .bind(i64::from(r.due_days))
            .bind(r.expires)
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// An enrolment of a post-paid service as an issuing run reads it, with its family's payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub family: FamilyId,
    pub pupil: PupilId,
    pub birth_date: Date,
    pub fixed_fee: Cents,
    pub exempt: bool,
    pub from: Date,
    /// The first day no longer enrolled (a deactivation, done or scheduled); `None`: still
    /// enrolled.
    pub until: Option<Date>,
    pub payer_fiscal_code: String,
    pub payer_name: String,
    pub payer_address: String,
}

#[derive(sqlx::FromRow)]
struct EnrolledRow {
    family_id: i64,
    pupil_id: i64,
    birth_date: SqlDate,
    fixed_fee_cents: i64,
    exempt: bool,
    start_date: SqlDate,
    state: String,
    until: Option<SqlDate>,
    fiscal_code: String,
    first_name: String,
    last_name: String,
    address: String,
}

/// The enrolments of `service` begun by `last`, family by family (eldest child first). An
/// enrolment deactivated with no date of its own is left out: it is not known when it ended.
pub async fn enrolled(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    last: Date,
) -> Result<Vec<Enrolled>> {
    let sql = "SELECT p.family_id, p.id AS pupil_id, p.birth_date, e.fixed_fee_cents, b.exempt, \
               e.start_date, e.state, \
               (SELECT MIN(ch.effective_on) FROM enrolment_change ch WHERE ch.tenant_id = e.tenant_id \
                AND ch.enrolment_id = e.id AND ch.state = 'disattivo' AND ch.effective_on > e.start_date) AS until, \
               g.fiscal_code, g.first_name, g.last_name, g.address \
               FROM enrolment e \
               JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
               JOIN family f ON f.tenant_id = p.tenant_id AND f.id = p.family_id \
               JOIN guardian g ON g.tenant_id = f.tenant_id AND g.id = f.payer_id \
               JOIN tariff_band b ON b.tenant_id = e.tenant_id AND b.id = e.tariff_band_id \
               WHERE e.tenant_id = $1 AND e.service_id = $2 AND e.start_date <= $3 \
               ORDER BY p.family_id, p.birth_date, p.id";
    let rows: Vec<EnrolledRow> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .bind(service.get())
        .bind(SqlDate(last))
        .fetch_all(&mut *c)
        .await?);
    Ok(rows
        .into_iter()
        .filter(|r| r.state == "attivo" || r.until.is_some())
        .map(|r| Enrolled {
            family: FamilyId(r.family_id),
            pupil: PupilId(r.pupil_id),
            birth_date: r.birth_date.0,
            fixed_fee: Cents::new(r.fixed_fee_cents),
            exempt: r.exempt,
            from: r.start_date.0,
            until: r.until.map(|d| d.0),
            payer_fiscal_code: r.fiscal_code,
            payer_name: format!("{} {}", r.first_name, r.last_name),
            payer_address: r.address,
        })
        .collect())
}
