//! What the registry's pages show: the lists and files of schools, classes, school years,
//! services, bands and diets of the municipality.

use jiff::civil::Date;
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::registry::service::{self, Diet, Service, TariffBand};
use refettorio_domain::{ClassId, DietId, SchoolId, SchoolYearId, TariffBandId};

use super::band::band_not_found;
use super::class::class_not_found;
use super::diet::diet_not_found;
use super::school::school_not_found;
use crate::{AppError, Ctx};

/// How much there is to manage, for the registry's first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCounts {
    /// The label of the school year of today, if any.
    pub year: Option<String>,
    pub schools: usize,
    pub years: usize,
    pub diets: usize,
}

pub async fn counts(ctx: Ctx<'_>) -> Result<RegistryCounts, AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let id = ctx.tenant.id;
    let year = calendar::school_year_at(c, id, ctx.today()).await?;
    Ok(RegistryCounts {
        year: year.map(|y| y.label),
        schools: school::schools(c, id).await?.len(),
        years: calendar::school_years(c, id).await?.len(),
        diets: service::diets(c, id).await?.len(),
    })
}

/// The year `day` falls in, else the last one: the year a form proposes.
pub fn current_or_last(years: &[SchoolYear], day: Date) -> Option<&SchoolYear> {
    years
        .iter()
        .find(|y| y.starts_on <= day && day <= y.ends_on)
        .or(years.last())
}

pub async fn schools(ctx: Ctx<'_>) -> Result<Vec<School>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(school::schools(&mut h.conn(), ctx.tenant.id).await?)
}

pub async fn school_years(ctx: Ctx<'_>) -> Result<Vec<SchoolYear>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(calendar::school_years(&mut h.conn(), ctx.tenant.id).await?)
}

pub async fn diets(ctx: Ctx<'_>) -> Result<Vec<Diet>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(service::diets(&mut h.conn(), ctx.tenant.id).await?)
}

pub async fn diet(ctx: Ctx<'_>, id: DietId) -> Result<Diet, AppError> {
    let mut h = ctx.db.acquire().await?;
    service::diet(&mut h.conn(), ctx.tenant.id, id)
        .await?
        .ok_or_else(diet_not_found)
}

pub async fn band(ctx: Ctx<'_>, id: TariffBandId) -> Result<TariffBand, AppError> {
    let mut h = ctx.db.acquire().await?;
    service::band(&mut h.conn(), ctx.tenant.id, id)
        .await?
        .ok_or_else(band_not_found)
}

/// A school, its classes of every year, and the school years.
pub async fn school_file(
    ctx: Ctx<'_>,
    id: SchoolId,
) -> Result<(School, Vec<Class>, Vec<SchoolYear>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let sc = school::school(c, ctx.tenant.id, id)
        .await?
        .ok_or_else(school_not_found)?;
    let classes = school::classes_of_school(c, ctx.tenant.id, sc.id).await?;
    let years = calendar::school_years(c, ctx.tenant.id).await?;
    Ok((sc, classes, years))
}

/// A class, its school, and the school years.
pub async fn class_file(
    ctx: Ctx<'_>,
    id: ClassId,
) -> Result<(Class, School, Vec<SchoolYear>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let k = school::class(c, ctx.tenant.id, id)
        .await?
        .ok_or_else(class_not_found)?;
    let sc = school::school(c, ctx.tenant.id, k.school_id)
        .await?
        .ok_or_else(school_not_found)?;
    Ok((k, sc, calendar::school_years(c, ctx.tenant.id).await?))
}

/// The schools, and the classes of school year `year`.
pub async fn schools_and_classes(
    ctx: Ctx<'_>,
    year: SchoolYearId,
) -> Result<(Vec<School>, Vec<Class>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    Ok((
        school::schools(c, ctx.tenant.id).await?,
        school::classes(c, ctx.tenant.id, year).await?,
    ))
}

/// The school years, the one shown (`chosen`, else today's, else the last) and its services.
pub async fn services_of_year(
    ctx: Ctx<'_>,
    chosen: Option<SchoolYearId>,
) -> Result<(Vec<SchoolYear>, Option<SchoolYear>, Vec<Service>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let years = calendar::school_years(c, ctx.tenant.id).await?;
    let year = match chosen {
        Some(id) => years.iter().find(|y| y.id == id),
        None => current_or_last(&years, ctx.today()),
    }
    .cloned();
    let services = match &year {
        Some(y) => service::services(c, ctx.tenant.id, y.id).await?,
        None => Vec::new(),
    };
    Ok((years, year, services))
}
