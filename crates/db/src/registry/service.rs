//! Services per school year, tariff bands, sibling reductions, diets and enrolments.

use jiff::civil::Date;
use refettorio_domain::{
    Billing, Cents, ClassId, DietId, DietKind, EnrolmentId, EnrolmentState, PupilId, Residency,
    SchoolId, SchoolYearId, ServiceId, ServiceKind, TariffBandId, TenantId,
};

use super::{corrupt, parse_enum};
use crate::{Conn, Result, SqlDate, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub school_year_id: SchoolYearId,
    pub kind: ServiceKind,
    pub billing: Billing,
    pub name: String,
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: i64,
    school_year_id: i64,
    kind: String,
    billing: String,
    name: String,
}

impl TryFrom<ServiceRow> for Service {
    type Error = crate::DbError;
    fn try_from(r: ServiceRow) -> Result<Service> {
        Ok(Service {
            id: ServiceId(r.id),
            school_year_id: SchoolYearId(r.school_year_id),
            kind: parse_enum(&r.kind, "service kind", ServiceKind::parse)?,
            billing: parse_enum(&r.billing, "billing", Billing::parse)?,
            name: r.name,
        })
    }
}

pub async fn insert_service(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    year: SchoolYearId,
    kind: ServiceKind,
    billing: Billing,
    name: &str,
) -> Result<ServiceId> {
    let sql = "INSERT INTO service (tenant_id, school_year_id, kind, billing, name) VALUES ($1, $2, $3, $4, $5) \
               RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(year.get())
            .bind(kind.as_str())
            .bind(billing.as_str())
            .bind(name)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(ServiceId(id))
}

pub async fn services(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    year: SchoolYearId,
) -> Result<Vec<Service>> {
    let sql = "SELECT id, school_year_id, kind, billing, name FROM service \
               WHERE tenant_id = $1 AND school_year_id = $2 ORDER BY kind";
    let rows: Vec<ServiceRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(year.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Service::try_from).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffBand {
    pub id: TariffBandId,
    pub service_id: ServiceId,
    pub name: String,
    pub isee_min: Cents,
    pub isee_max: Option<Cents>,
    pub residency: Residency,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    /// Exempt bands pay nothing; their meals still count for the kitchen.
    pub exempt: bool,
}

#[derive(Debug, Clone)]
pub struct NewTariffBand {
    pub name: String,
    pub isee_min: Cents,
    pub isee_max: Option<Cents>,
    pub residency: Residency,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    pub exempt: bool,
}

#[derive(sqlx::FromRow)]
struct BandRow {
    id: i64,
    service_id: i64,
    name: String,
    isee_min_cents: i64,
    isee_max_cents: Option<i64>,
    residency: String,
    meal_price_cents: i64,
    fixed_fee_cents: i64,
    exempt: bool,
}

impl TryFrom<BandRow> for TariffBand {
    type Error = crate::DbError;
    fn try_from(r: BandRow) -> Result<TariffBand> {
        Ok(TariffBand {
            id: TariffBandId(r.id),
            service_id: ServiceId(r.service_id),
            name: r.name,
            isee_min: Cents(r.isee_min_cents),
            isee_max: r.isee_max_cents.map(Cents),
            residency: parse_enum(&r.residency, "residency", Residency::parse)?,
            meal_price: Cents(r.meal_price_cents),
            fixed_fee: Cents(r.fixed_fee_cents),
            exempt: r.exempt,
        })
    }
}

pub async fn insert_band(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    b: &NewTariffBand,
) -> Result<TariffBandId> {
    let sql = "INSERT INTO tariff_band (tenant_id, service_id, name, isee_min_cents, isee_max_cents, residency, \
               meal_price_cents, fixed_fee_cents, exempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(service.get())
            .bind(&b.name)
            .bind(b.isee_min.get())
            .bind(b.isee_max.map(Cents::get))
            .bind(b.residency.as_str())
            .bind(b.meal_price.get())
            .bind(b.fixed_fee.get())
            .bind(b.exempt)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(TariffBandId(id))
}

pub async fn bands(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
) -> Result<Vec<TariffBand>> {
    let sql = "SELECT id, service_id, name, isee_min_cents, isee_max_cents, residency, meal_price_cents, \
               fixed_fee_cents, exempt FROM tariff_band WHERE tenant_id = $1 AND service_id = $2 \
               ORDER BY isee_min_cents, name";
    let rows: Vec<BandRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(service.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(TariffBand::try_from).collect()
}

/// Sets the reduction, in basis points, for the `from_rank`-th child onwards (2 = second child).
pub async fn set_sibling_reduction(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    from_rank: u32,
    basis_points: u32,
) -> Result<()> {
    let rank = i32::try_from(from_rank).map_err(corrupt("sibling rank"))?;
    let bp = i32::try_from(basis_points).map_err(corrupt("basis points"))?;
    let sql = "INSERT INTO sibling_reduction (tenant_id, service_id, from_rank, basis_points) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (tenant_id, service_id, from_rank) DO UPDATE SET basis_points = excluded.basis_points";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(service.get())
            .bind(rank)
            .bind(bp)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// (from_rank, basis_points) pairs, by rank.
pub async fn sibling_reductions(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
) -> Result<Vec<(u32, u32)>> {
    let sql = "SELECT from_rank, basis_points FROM sibling_reduction WHERE tenant_id = $1 AND service_id = $2 \
               ORDER BY from_rank";
    let rows: Vec<(i32, i32)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(service.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(r, bp)| {
            Ok((
                u32::try_from(r).map_err(corrupt("sibling rank"))?,
                u32::try_from(bp).map_err(corrupt("basis points"))?,
            ))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diet {
    pub id: DietId,
    pub code: String,
    pub name: String,
    pub kind: DietKind,
}

pub async fn insert_diet(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    code: &str,
    name: &str,
    kind: DietKind,
) -> Result<DietId> {
    let sql = "INSERT INTO diet (tenant_id, code, name, kind) VALUES ($1, $2, $3, $4) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(code)
            .bind(name)
            .bind(kind.as_str())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(DietId(id))
}

pub async fn diets(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Diet>> {
    let sql = "SELECT id, code, name, kind FROM diet WHERE tenant_id = $1 ORDER BY code";
    let rows: Vec<(i64, String, String, String)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(id, code, name, kind)| {
            Ok(Diet {
                id: DietId(id),
                code,
                name,
                kind: parse_enum(&kind, "diet kind", DietKind::parse)?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub id: EnrolmentId,
    pub pupil_id: PupilId,
    pub service_id: ServiceId,
    pub school_id: SchoolId,
    pub class_id: ClassId,
    pub tariff_band_id: TariffBandId,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    pub diet_id: Option<DietId>,
    pub state: EnrolmentState,
    pub start_date: Date,
    /// The tessera / PAN code families and staff quote.
    pub card_code: String,
}

#[derive(Debug, Clone)]
pub struct NewEnrolment {
    pub pupil_id: PupilId,
    pub service_id: ServiceId,
    pub school_id: SchoolId,
    pub class_id: ClassId,
    pub tariff_band_id: TariffBandId,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    pub diet_id: Option<DietId>,
    pub state: EnrolmentState,
    pub start_date: Date,
    pub card_code: String,
}

#[derive(sqlx::FromRow)]
struct EnrolmentRow {
    id: i64,
    pupil_id: i64,
    service_id: i64,
    school_id: i64,
    class_id: i64,
    tariff_band_id: i64,
    meal_price_cents: i64,
    fixed_fee_cents: i64,
    diet_id: Option<i64>,
    state: String,
    start_date: SqlDate,
    card_code: String,
}

impl TryFrom<EnrolmentRow> for Enrolment {
    type Error = crate::DbError;
    fn try_from(r: EnrolmentRow) -> Result<Enrolment> {
        Ok(Enrolment {
            id: EnrolmentId(r.id),
            pupil_id: PupilId(r.pupil_id),
            service_id: ServiceId(r.service_id),
            school_id: SchoolId(r.school_id),
            class_id: ClassId(r.class_id),
            tariff_band_id: TariffBandId(r.tariff_band_id),
            meal_price: Cents(r.meal_price_cents),
            fixed_fee: Cents(r.fixed_fee_cents),
            diet_id: r.diet_id.map(DietId),
            state: parse_enum(&r.state, "enrolment state", EnrolmentState::parse)?,
            start_date: r.start_date.0,
            card_code: r.card_code,
        })
    }
}

macro_rules! enrolment_columns {
    () => {
        "id, pupil_id, service_id, school_id, class_id, tariff_band_id, meal_price_cents, \
                                 fixed_fee_cents, diet_id, state, start_date, card_code"
    };
}

pub async fn insert_enrolment(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    e: &NewEnrolment,
) -> Result<EnrolmentId> {
    let sql = "INSERT INTO enrolment (tenant_id, pupil_id, service_id, school_id, class_id, tariff_band_id, \
               meal_price_cents, fixed_fee_cents, diet_id, state, start_date, card_code) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(e.pupil_id.get())
            .bind(e.service_id.get())
            .bind(e.school_id.get())
            .bind(e.class_id.get())
            .bind(e.tariff_band_id.get())
            .bind(e.meal_price.get())
            .bind(e.fixed_fee.get())
            .bind(e.diet_id.map(DietId::get))
            .bind(e.state.as_str())
            .bind(SqlDate(e.start_date))
            .bind(&e.card_code)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(EnrolmentId(id))
}

pub async fn enrolments_of_pupil(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    pupil: PupilId,
) -> Result<Vec<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_columns!(),
        " FROM enrolment WHERE tenant_id = $1 AND pupil_id = $2 ORDER BY id"
    );
    let rows: Vec<EnrolmentRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(pupil.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Enrolment::try_from).collect()
}

pub async fn enrolments(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
) -> Result<Vec<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_columns!(),
        " FROM enrolment WHERE tenant_id = $1 AND service_id = $2 ORDER BY id"
    );
    let rows: Vec<EnrolmentRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(service.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Enrolment::try_from).collect()
}

pub async fn enrolment_by_card(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    card_code: &str,
) -> Result<Option<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_columns!(),
        " FROM enrolment WHERE tenant_id = $1 AND card_code = $2"
    );
    let row: Option<EnrolmentRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(card_code)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Enrolment::try_from).transpose()
}

pub async fn enrolment(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: EnrolmentId,
) -> Result<Option<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_columns!(),
        " FROM enrolment WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<EnrolmentRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Enrolment::try_from).transpose()
}

// --- Services, bands, reductions and diets as the office edits them (app::registry).

pub async fn service(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: ServiceId,
) -> Result<Option<Service>> {
    let sql = "SELECT id, school_year_id, kind, billing, name FROM service WHERE tenant_id = $1 AND id = $2";
    let row: Option<ServiceRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Service::try_from).transpose()
}

/// Changes a service's name and billing. False if there is no such service in the tenant.
pub async fn update_service(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: ServiceId,
    billing: Billing,
    name: &str,
) -> Result<bool> {
    let sql = "UPDATE service SET billing = $3, name = $4 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(billing.as_str())
            .bind(name)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

pub async fn band(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: TariffBandId,
) -> Result<Option<TariffBand>> {
    let sql = "SELECT id, service_id, name, isee_min_cents, isee_max_cents, residency, meal_price_cents, \
               fixed_fee_cents, exempt FROM tariff_band WHERE tenant_id = $1 AND id = $2";
    let row: Option<BandRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(TariffBand::try_from).transpose()
}

/// Changes a band (its service stays). Enrolments keep the amounts they were given: see
/// [`set_enrolment_amounts`]. False if there is no such band in the tenant.
pub async fn update_band(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: TariffBandId,
    b: &NewTariffBand,
) -> Result<bool> {
    let sql = "UPDATE tariff_band SET name = $3, isee_min_cents = $4, isee_max_cents = $5, residency = $6, \
               meal_price_cents = $7, fixed_fee_cents = $8, exempt = $9 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(&b.name)
            .bind(b.isee_min.get())
            .bind(b.isee_max.map(Cents::get))
            .bind(b.residency.as_str())
            .bind(b.meal_price.get())
            .bind(b.fixed_fee.get())
            .bind(b.exempt)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The enrolments in a band: (all, active).
pub async fn band_enrolments(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    band: TariffBandId,
) -> Result<(i64, i64)> {
    let sql = "SELECT COUNT(*), COUNT(CASE WHEN state = 'attivo' THEN 1 END) FROM enrolment \
               WHERE tenant_id = $1 AND tariff_band_id = $2";
    let row: (i64, i64) = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(band.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(row)
}

/// The rank of pupil `me` among the children of its family enrolled (actively) in service
/// `$svc`, eldest first (1 = the eldest; same birth date: the older record first). One text
/// for [`band_enrolment_ranks`] and [`sibling_rank`], so the two never count differently.
macro_rules! sibling_rank_sql {
    ($svc:literal) => {
        concat!(
            "1 + (SELECT COUNT(*) FROM pupil p JOIN enrolment e2 \
             ON e2.tenant_id = p.tenant_id AND e2.pupil_id = p.id \
             WHERE p.tenant_id = me.tenant_id AND p.family_id = me.family_id \
             AND e2.service_id = ",
            $svc,
            " AND e2.state = 'attivo' \
             AND (p.birth_date < me.birth_date OR (p.birth_date = me.birth_date AND p.id < me.id)))"
        )
    };
}

/// The active enrolments of a band with the pupil's rank among the children of its family
/// enrolled (actively) in the same service, eldest first (1 = the eldest): what the sibling
/// reduction of a new enrolment is read from.
pub async fn band_enrolment_ranks(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    band: TariffBandId,
) -> Result<Vec<(EnrolmentId, u32)>> {
    let sql = concat!(
        "SELECT e.id, ",
        sibling_rank_sql!("e.service_id"),
        " FROM enrolment e JOIN pupil me ON me.tenant_id = e.tenant_id AND me.id = e.pupil_id \
         WHERE e.tenant_id = $1 AND e.tariff_band_id = $2 AND e.state = 'attivo' ORDER BY e.id"
    );
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(band.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(id, rank)| {
            Ok((
                EnrolmentId(id),
                u32::try_from(rank).map_err(corrupt("sibling rank"))?,
            ))
        })
        .collect()
}

/// A pupil's rank among the children of its family enrolled (actively) in `service`, eldest
/// first, as [`band_enrolment_ranks`] counts it: the rank a new enrolment of the pupil takes.
pub async fn sibling_rank(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    pupil: PupilId,
    service: ServiceId,
) -> Result<u32> {
    let sql = concat!(
        "SELECT ",
        sibling_rank_sql!("$3"),
        " FROM pupil me WHERE me.tenant_id = $1 AND me.id = $2"
    );
    let rank: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(pupil.get())
            .bind(service.get())
            .fetch_one(&mut *c)
            .await?
    });
    u32::try_from(rank).map_err(corrupt("sibling rank"))
}

/// Gives an enrolment new amounts. Only what is charged from now on reads them: meals already
/// charged keep their amount in the ledger. False if the enrolment had them already.
pub async fn set_enrolment_amounts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: EnrolmentId,
    meal_price: Cents,
    fixed_fee: Cents,
) -> Result<bool> {
    let sql = "UPDATE enrolment SET meal_price_cents = $3, fixed_fee_cents = $4 \
               WHERE tenant_id = $1 AND id = $2 AND (meal_price_cents <> $3 OR fixed_fee_cents <> $4)";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(meal_price.get())
            .bind(fixed_fee.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Deletes a band no enrolment names (see [`band_enrolments`]). False if there is no such
/// band in the tenant.
pub async fn delete_band(conn: &mut Conn<'_>, tenant: TenantId, id: TariffBandId) -> Result<bool> {
    let sql = "DELETE FROM tariff_band WHERE tenant_id = $1 AND id = $2";
    super::delete_by_id(conn, sql, tenant, id.get()).await
}

/// Removes the reduction from `from_rank`. False if there was none.
pub async fn delete_sibling_reduction(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    from_rank: u32,
) -> Result<bool> {
    let rank = i32::try_from(from_rank).map_err(corrupt("sibling rank"))?;
    let sql =
        "DELETE FROM sibling_reduction WHERE tenant_id = $1 AND service_id = $2 AND from_rank = $3";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(service.get())
            .bind(rank)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

pub async fn diet(conn: &mut Conn<'_>, tenant: TenantId, id: DietId) -> Result<Option<Diet>> {
    let sql = "SELECT id, code, name, kind FROM diet WHERE tenant_id = $1 AND id = $2";
    let row: Option<(i64, String, String, String)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(|(id, code, name, kind)| {
        Ok(Diet {
            id: DietId(id),
            code,
            name,
            kind: parse_enum(&kind, "diet kind", DietKind::parse)?,
        })
    })
    .transpose()
}

/// Changes a diet's code, name and kind. False if there is no such diet in the tenant.
pub async fn update_diet(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: DietId,
    code: &str,
    name: &str,
    kind: DietKind,
) -> Result<bool> {
    let sql = "UPDATE diet SET code = $3, name = $4, kind = $5 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(code)
            .bind(name)
            .bind(kind.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// What still points at a diet: (enrolments, 1 if a ledger entry names it).
pub async fn diet_references(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: DietId,
) -> Result<(i64, i64)> {
    let sql = "SELECT (SELECT COUNT(*) FROM enrolment WHERE tenant_id = $1 AND diet_id = $2), \
               (SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entry WHERE tenant_id = $1 AND diet_id = $2 LIMIT 1) l)";
    let row: (i64, i64) = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(row)
}

/// Deletes a diet nothing points at (see [`diet_references`]). False if there is no such
/// diet in the tenant.
pub async fn delete_diet(conn: &mut Conn<'_>, tenant: TenantId, id: DietId) -> Result<bool> {
    let sql = "DELETE FROM diet WHERE tenant_id = $1 AND id = $2";
    super::delete_by_id(conn, sql, tenant, id.get()).await
}

/// Rewrites what may change on an enrolment: school and class, band and prices, diet, state.
/// (Service, pupil, start date and card stay; `account_id` stays, the family being the same.)
pub async fn update_enrolment(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    e: &Enrolment,
) -> Result<bool> {
    let sql = "UPDATE enrolment SET school_id = $3, class_id = $4, tariff_band_id = $5, meal_price_cents = $6, \
               fixed_fee_cents = $7, diet_id = $8, state = $9 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(e.id.get())
            .bind(e.school_id.get())
            .bind(e.class_id.get())
            .bind(e.tariff_band_id.get())
            .bind(e.meal_price.get())
            .bind(e.fixed_fee.get())
            .bind(e.diet_id.map(DietId::get))
            .bind(e.state.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The enrolments of a class (by the index `enrolment_by_class`).
pub async fn enrolments_of_class(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    class: ClassId,
) -> Result<Vec<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_columns!(),
        " FROM enrolment WHERE tenant_id = $1 AND class_id = $2 ORDER BY id"
    );
    let rows: Vec<EnrolmentRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(class.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Enrolment::try_from).collect()
}

/// A change of an enrolment that takes effect on a day (`enrolment_change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentChange {
    pub id: i64,
    pub enrolment_id: EnrolmentId,
    pub effective_on: Date,
    pub class_id: Option<ClassId>,
    pub tariff_band_id: Option<TariffBandId>,
    pub diet_id: Option<DietId>,
    pub clear_diet: bool,
    pub state: Option<EnrolmentState>,
    pub reason: String,
    pub created_by: String,
    pub created_at: jiff::Timestamp,
    pub applied_at: Option<jiff::Timestamp>,
}

/// A change to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrolmentChange {
    pub enrolment_id: EnrolmentId,
    pub effective_on: Date,
    pub class_id: Option<ClassId>,
    pub tariff_band_id: Option<TariffBandId>,
    pub diet_id: Option<DietId>,
    pub clear_diet: bool,
    pub state: Option<EnrolmentState>,
    pub reason: String,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    enrolment_id: i64,
    effective_on: SqlDate,
    class_id: Option<i64>,
    tariff_band_id: Option<i64>,
    diet_id: Option<i64>,
    clear_diet: bool,
    state: Option<String>,
    reason: String,
    created_by: String,
    created_at: i64,
    applied_at: Option<i64>,
}

impl TryFrom<ChangeRow> for EnrolmentChange {
    type Error = crate::DbError;
    fn try_from(r: ChangeRow) -> Result<EnrolmentChange> {
        Ok(EnrolmentChange {
            id: r.id,
            enrolment_id: EnrolmentId(r.enrolment_id),
            effective_on: r.effective_on.0,
            class_id: r.class_id.map(ClassId),
            tariff_band_id: r.tariff_band_id.map(TariffBandId),
            diet_id: r.diet_id.map(DietId),
            clear_diet: r.clear_diet,
            state: r
                .state
                .map(|s| parse_enum(&s, "enrolment state", EnrolmentState::parse))
                .transpose()?,
            reason: r.reason,
            created_by: r.created_by,
            created_at: crate::from_micros(r.created_at)?,
            applied_at: r.applied_at.map(crate::from_micros).transpose()?,
        })
    }
}

macro_rules! change_columns {
    () => {
        "c.id, c.enrolment_id, c.effective_on, c.class_id, c.tariff_band_id, c.diet_id, c.clear_diet, c.state, \
         c.reason, c.created_by, c.created_at, c.applied_at"
    };
}

pub async fn insert_enrolment_change(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    ch: &NewEnrolmentChange,
    created_by: &str,
    now: jiff::Timestamp,
) -> Result<i64> {
    let sql = "INSERT INTO enrolment_change (tenant_id, enrolment_id, effective_on, class_id, tariff_band_id, \
               diet_id, clear_diet, state, reason, created_by, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(ch.enrolment_id.get())
            .bind(SqlDate(ch.effective_on))
            .bind(ch.class_id.map(ClassId::get))
            .bind(ch.tariff_band_id.map(TariffBandId::get))
            .bind(ch.diet_id.map(DietId::get))
            .bind(ch.clear_diet)
            .bind(ch.state.map(EnrolmentState::as_str))
            .bind(&ch.reason)
            .bind(created_by)
            .bind(crate::micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(id)
}

/// The changes of a pupil's enrolments, applied or not, by effective day.
pub async fn changes_of_pupil(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    pupil: PupilId,
) -> Result<Vec<EnrolmentChange>> {
    let sql = concat!(
        "SELECT ",
        change_columns!(),
        " FROM enrolment_change c JOIN enrolment e ON e.tenant_id = c.tenant_id AND e.id = c.enrolment_id \
         WHERE e.tenant_id = $1 AND e.pupil_id = $2 ORDER BY c.effective_on, c.id"
    );
    let rows: Vec<ChangeRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(pupil.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(EnrolmentChange::try_from).collect()
}

/// The changes not applied yet whose day is `day` or earlier, oldest first (by the partial
/// index `enrolment_change_pending`).
pub async fn due_changes(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
) -> Result<Vec<EnrolmentChange>> {
    let sql = concat!(
        "SELECT ",
        change_columns!(),
        " FROM enrolment_change c WHERE c.tenant_id = $1 AND c.applied_at IS NULL AND c.effective_on <= $2 \
         ORDER BY c.effective_on, c.id"
    );
    let rows: Vec<ChangeRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(EnrolmentChange::try_from).collect()
}

/// Marks a change applied: true for the one run that does it.
pub async fn mark_change_applied(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE enrolment_change SET applied_at = $3 WHERE tenant_id = $1 AND id = $2 AND applied_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .bind(crate::micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
