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
