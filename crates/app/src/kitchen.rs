//! The kitchen's numbers of a day (final after the close, a forecast before it) and their files.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::Date;
use refettorio_db::kitchen::MealCount;
use refettorio_db::registry::school;
use refettorio_db::registry::service;
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, close, kitchen};
use refettorio_domain::{ClassId, day_it};

use crate::close::{CanteenDay, canteen_day};
use crate::{AppError, Ctx};

/// Counts of one class or school: standard meals, bland meals, and meals per diet code (the
/// documents crate's type, so the report renders what the kitchen numbers hold).
pub use refettorio_documents::kitchen::KitchenCounts as Counts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCounts {
    pub class: ClassId,
    pub name: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolCounts {
    pub school: refettorio_domain::SchoolId,
    pub name: String,
    pub classes: Vec<ClassCounts>,
    pub total: Counts,
}

/// The kitchen's numbers of a day: per school and class, no names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitchenNumbers {
    pub day: Date,
    /// True after the close (final), false before (forecast).
    pub frozen: bool,
    pub schools: Vec<SchoolCounts>,
    pub total: Counts,
    /// (code, name) of the diets that appear.
    pub diets: Vec<(String, String)>,
}

/// The kitchen's numbers: final after the close, a forecast before it. A diet meal that is
/// also bland counts under its diet (the kitchen prepares the diet).
pub async fn kitchen_numbers(ctx: Ctx<'_>, day: Date) -> Result<KitchenNumbers, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let frozen = close::is_closed(c, tenant.id, day).await?;
    kitchen_numbers_of(c, tenant, day, frozen, None, None).await
}

/// Every diet of the municipality as the kitchen's legend: (code, name, kind).
pub async fn diet_legend(ctx: Ctx<'_>) -> Result<Vec<(String, String, &'static str)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(service::diets(&mut h.conn(), ctx.tenant.id)
        .await?
        .into_iter()
        .map(|d| (d.code, d.name, d.kind.label_it()))
        .collect())
}

/// The kitchen's numbers, with the canteen day and the day's counts when the caller has them
/// already.
pub(crate) async fn kitchen_numbers_of(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
    frozen: bool,
    cd: Option<&CanteenDay>,
    lines: Option<Vec<MealCount>>,
) -> Result<KitchenNumbers, AppError> {
    let loaded;
    let cd = match cd {
        Some(cd) => Some(cd),
        None => {
            loaded = canteen_day(conn, tenant, day).await?;
            loaded.as_ref()
        }
    };
    let lines: Vec<MealCount> = match (lines, cd, frozen) {
        (Some(lines), _, _) => lines,
        (None, _, true) => kitchen::frozen_counts(conn, tenant.id, day).await?,
        (None, Some(cd), false) => {
            let ids: Vec<ClassId> = cd.classes.iter().map(|k| k.id).collect();
            kitchen::forecast_counts(conn, tenant.id, cd.service.id, day, &ids).await?
        }
        (None, None, false) => Vec::new(),
    };
    let schools = school::schools(conn, tenant.id).await?;
    let diets = service::diets(conn, tenant.id).await?;
    let school_names: HashMap<refettorio_domain::SchoolId, &str> =
        schools.iter().map(|s| (s.id, s.name.as_str())).collect();
    let class_names: HashMap<ClassId, &str> = cd
        .map(|cd| {
            cd.year_classes
                .iter()
                .map(|k| (k.id, k.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let diet_codes: HashMap<refettorio_domain::DietId, &str> =
        diets.iter().map(|d| (d.id, d.code.as_str())).collect();
    let mut by_school: BTreeMap<(String, i64), BTreeMap<(String, i64), Counts>> = BTreeMap::new();
    let mut used_diets = BTreeSet::new();
    for l in &lines {
        let sname = school_names.get(&l.school).copied().unwrap_or_default();
        let cname = class_names.get(&l.class).copied().unwrap_or_default();
        let code = l.diet.and_then(|d| diet_codes.get(&d).copied());
        if let Some(code) = code {
            used_diets.insert(code.to_string());
        }
        by_school
            .entry((sname.to_string(), l.school.get()))
            .or_default()
            .entry((cname.to_string(), l.class.get()))
            .or_default()
            .count(l.bland, code, l.count);
    }
    let mut total = Counts::default();
    let schools = by_school
        .into_iter()
        .map(|((name, sid), classes)| {
            let mut st = Counts::default();
            let classes = classes
                .into_iter()
                .map(|((cname, cid), counts)| {
                    st.add(&counts);
                    ClassCounts {
                        class: ClassId(cid),
                        name: cname,
                        counts,
                    }
                })
                .collect();
            total.add(&st);
            SchoolCounts {
                school: refettorio_domain::SchoolId(sid),
                name,
                classes,
                total: st,
            }
        })
        .collect();
    let diets = diets
        .into_iter()
        .filter(|d| used_diets.contains(&d.code))
        .map(|d| (d.code, d.name))
        .collect();
    Ok(KitchenNumbers {
        day,
        frozen,
        schools,
        total,
        diets,
    })
}

impl KitchenNumbers {
    /// The view model of the kitchen's report (CSV and PDF), without names of pupils.
    pub fn report(
        &self,
        tenant_name: &str,
        generated_at_label: &str,
    ) -> refettorio_documents::kitchen::KitchenReport {
        use refettorio_documents::kitchen::{
            DietLegend, KitchenClass, KitchenReport, KitchenSchool,
        };
        KitchenReport {
            tenant_name: tenant_name.to_string(),
            date: self.day,
            date_label: day_it(self.day),
            frozen: self.frozen,
            generated_at_label: generated_at_label.to_string(),
            schools: self
                .schools
                .iter()
                .map(|s| KitchenSchool {
                    name: s.name.clone(),
                    classes: s
                        .classes
                        .iter()
                        .map(|k| KitchenClass {
                            name: k.name.clone(),
                            counts: k.counts.clone(),
                        })
                        .collect(),
                    total: s.total.clone(),
                })
                .collect(),
            diet_codes: self
                .diets
                .iter()
                .map(|(code, name)| DietLegend {
                    code: code.clone(),
                    name: name.clone(),
                })
                .collect(),
        }
    }
}

/// The format of the kitchen's numbers as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KitchenFormat {
    Csv,
    Xlsx,
    Pdf,
}

/// The kitchen's numbers of `day` as a CSV, XLSX or PDF file (the CSV as the CLI `refettorio
/// kitchen` makes it). The PDF is rendered off the async threads.
pub async fn kitchen_file(
    ctx: Ctx<'_>,
    day: Date,
    format: KitchenFormat,
) -> Result<Vec<u8>, AppError> {
    let Ctx { clock, tenant, .. } = ctx;
    let numbers = kitchen_numbers(ctx, day).await?;
    let now = clock.now().to_zoned(tenant.timezone.clone());
    let report = numbers.report(
        &tenant.name,
        &format!("Generato il {}", now.strftime("%d/%m/%Y alle %H:%M")),
    );
    match format {
        KitchenFormat::Csv => Ok(refettorio_documents::kitchen::kitchen_csv(&report)),
        KitchenFormat::Xlsx => {
            crate::reports::export(report.table(), crate::reports::ExportFormat::Xlsx).await
        }
        KitchenFormat::Pdf => {
            tokio::task::spawn_blocking(move || refettorio_documents::kitchen::kitchen_pdf(&report))
                .await
                .map_err(|e| AppError::Invalid(format!("kitchen pdf task: {e}")))?
                .map_err(|e| AppError::Invalid(format!("kitchen pdf: {e}")))
        }
    }
}
