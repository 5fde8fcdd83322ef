//! Closures: days the canteen does not serve (holiday, strike, trip, school closed), entered by
//! the office with a preview of what they touch; on days already closed their meal charges are
//! reversed.

use std::collections::BTreeSet;

use jiff::civil::Date;
use refettorio_db::audit;
use refettorio_db::ledger::ChargeScope;
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::{close, kitchen, ledger};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};
use refettorio_domain::{
    BookingError, ClassId, Closure, ClosureId, ClosureKind, ClosureScope, SchoolId, SchoolYearId,
    today,
};

use crate::ledger::{REASON_MAX, field};
use crate::{AppError, Ctx, FieldError};

/// The result of a closure entered by the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosureOutcome {
    pub closure: ClosureId,
    /// Meal charges reversed because their day was already closed.
    pub reversed: u64,
}

/// Enters a closure (holiday, strike, trip, school closed): its meals are not charged, and
/// where a day is already closed the charges in its scope are reversed, in the same transaction.
pub async fn add_closure(
    ctx: Ctx<'_>,
    year: SchoolYearId,
    closure: &Closure,
) -> Result<ClosureOutcome, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let by = ctx.actor.to_string();
    let by = by.as_str();
    let now = clock.now();
    if closure.to < closure.from {
        return Err(BookingError::RangeBackwards.into());
    }
    if closure.reason.trim().is_empty() {
        return Err(AppError::Invalid("Indica il motivo della chiusura.".into()));
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let y = calendar::school_year(c, tenant.id, year)
        .await?
        .ok_or_else(|| AppError::NotFound("Anno scolastico non trovato".into()))?;
    if closure.from < y.starts_on || closure.to > y.ends_on {
        return Err(BookingError::OutsideSchoolYear.into());
    }
    // Serialise with a close of any day in the range (in day order, as change_meals does):
    // otherwise a close that read the calendar before this commit would charge the closed
    // days after this reversal ran, and those charges would stay.
    let mut d = closure.from;
    while d <= closure.to {
        close::lock_day(c, tenant.id, d, true).await?;
        d = d.tomorrow()?;
    }
    let id = calendar::insert_closure(c, tenant.id, year, closure, now).await?;
    let scope = match closure.scope {
        ClosureScope::Tenant => ChargeScope::Tenant,
        ClosureScope::School(s) => ChargeScope::School(s),
        ClosureScope::Class(k) => ChargeScope::Class(k),
    };
    let reason = format!("{}: {}", closure.kind.label_it(), closure.reason);
    let reversed = ledger::reverse_charges(
        c,
        tenant.id,
        closure.from..=closure.to,
        scope,
        &reason,
        by,
        now,
    )
    .await?;
    let (school, class) = match closure.scope {
        ClosureScope::Tenant => (None, None),
        ClosureScope::School(s) => (Some(s.get()), None),
        ClosureScope::Class(k) => (None, Some(k.get())),
    };
    let after = serde_json::json!({
        "kind": closure.kind.label_it(),
        "first_day": closure.from.to_string(),
        "last_day": closure.to.to_string(),
        "school": school,
        "class": class,
        "meals_reversed": reversed,
    });
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::AddClosure,
            AuditObject {
                kind: ObjectKind::Closure,
                id: Some(id.get()),
            },
        )
        .after(after)
        .reason(&closure.reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ClosureOutcome {
        closure: id,
        reversed,
    })
}

/// The kinds of closure the office enters by hand (a break comes with the school year).
pub const CLOSURE_KINDS: [ClosureKind; 5] = [
    ClosureKind::Holiday,
    ClosureKind::Strike,
    ClosureKind::Trip,
    ClosureKind::SchoolClosed,
    ClosureKind::Other,
];

/// The current school year with what its closures page needs: schools, classes, closures.
#[derive(Debug, Clone)]
pub struct ClosureYear {
    pub year: SchoolYear,
    pub schools: Vec<School>,
    pub classes: Vec<Class>,
    pub closures: Vec<(ClosureId, Closure)>,
}

impl ClosureYear {
    /// "Tutto il Comune", "Scuola Primaria Rodari", "Classe 1A (Scuola Primaria Rodari)".
    pub fn scope_label(&self, scope: ClosureScope) -> String {
        let school = |id: SchoolId| {
            self.schools
                .iter()
                .find(|s| s.id == id)
                .map_or_else(String::new, |s| s.name.clone())
        };
        match scope {
            ClosureScope::Tenant => "Tutto il Comune".into(),
            ClosureScope::School(id) => school(id),
            ClosureScope::Class(id) => self
                .classes
                .iter()
                .find(|k| k.id == id)
                .map_or_else(String::new, |k| {
                    format!("Classe {} ({})", k.name, school(k.school_id))
                }),
        }
    }
}

/// The school year of today with its schools, classes and closures; `None` between years.
pub async fn closure_year(ctx: Ctx<'_>) -> Result<Option<ClosureYear>, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let day = today(clock, &tenant.timezone);
    let Some(year) = calendar::school_year_at(c, tenant.id, day).await? else {
        return Ok(None);
    };
    let schools = school::schools(c, tenant.id).await?;
    let classes = school::classes(c, tenant.id, year.id).await?;
    let closures = calendar::closures(c, tenant.id, year.id).await?;
    Ok(Some(ClosureYear {
        year,
        schools,
        classes,
        closures,
    }))
}

/// A closure as typed in the office's form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosureInput {
    /// `comune`, `scuola-<id>` or `classe-<id>`.
    pub scope: String,
    /// `YYYY-MM-DD`
    pub from: String,
    pub to: String,
    /// [`ClosureKind::as_str`] of one of [`CLOSURE_KINDS`].
    pub kind: String,
    pub reason: String,
}

/// Checks a closure form against the current school year (`cy`): the closure to enter, or the
/// Italian errors by field (`ambito`, `dal`, `al`, `tipo`, `motivo`). A school or class that is
/// not this municipality's (or, for a class, not this year's) is an error of `ambito`.
pub fn check_closure(cy: &ClosureYear, input: &ClosureInput) -> Result<Closure, AppError> {
    let mut errors = Vec::new();
    let id = |prefix: &str| {
        input
            .scope
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<i64>().ok())
    };
    let scope = if input.scope == "comune" {
        Some(ClosureScope::Tenant)
    } else if let Some(n) = id("scuola-") {
        cy.schools
            .iter()
            .find(|s| s.id.get() == n)
            .map(|s| ClosureScope::School(s.id))
    } else if let Some(n) = id("classe-") {
        cy.classes
            .iter()
            .find(|k| k.id.get() == n)
            .map(|k| ClosureScope::Class(k.id))
    } else {
        None
    };
    if scope.is_none() {
        errors.push(field(
            "ambito",
            "Scegli dall'elenco dove vale la chiusura: tutto il Comune, una scuola o una classe.",
        ));
    }
    let date = |name: &'static str, v: &str, errors: &mut Vec<FieldError>| match v
        .trim()
        .parse::<Date>()
    {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(name, "Data non valida: usa il formato gg/mm/aaaa."));
            None
        }
    };
    let from = date("dal", &input.from, &mut errors);
    let to = date("al", &input.to, &mut errors);
    if let (Some(a), Some(b)) = (from, to) {
        let y = &cy.year;
        if b < a {
            errors.push(field(
                "al",
                "La data finale viene prima di quella iniziale.",
            ));
        } else if a < y.starts_on || b > y.ends_on {
            errors.push(field(
                "dal",
                &format!(
                    "La chiusura deve cadere nell'anno scolastico {} (dal {} al {}).",
                    y.label,
                    y.starts_on.strftime("%d/%m/%Y"),
                    y.ends_on.strftime("%d/%m/%Y")
                ),
            ));
        }
    }
    let kind = ClosureKind::parse(&input.kind).filter(|k| CLOSURE_KINDS.contains(k));
    if kind.is_none() {
        errors.push(field("tipo", "Scegli il tipo di chiusura."));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        errors.push(field(
            "motivo",
            "Indica il motivo: lo leggono le famiglie e resta nel registro delle modifiche.",
        ));
    } else if reason.chars().count() > REASON_MAX {
        errors.push(field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        ));
    }
    match (scope, from, to, kind) {
        (Some(scope), Some(from), Some(to), Some(kind)) if errors.is_empty() => Ok(Closure {
            scope,
            from,
            to,
            kind,
            reason: reason.to_string(),
        }),
        _ => Err(AppError::Fields(errors)),
    }
}

/// What a closure would touch, computed as the kitchen's numbers are: on days not closed yet,
/// the forecast meals of the classes in scope (they will not be charged); on days already
/// closed, the meals charged (they will be reversed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosurePreview {
    /// Meals of days not closed yet that will not be served nor charged.
    pub meals: u64,
    /// Meals already charged, on closed days, whose charges will be reversed.
    pub charged: u64,
    /// Families with at least one of those meals (a pupil booked absent on every day of the
    /// range, or not charged, does not make its family counted).
    pub families: u64,
    /// Canteen days of the range with at least one class in scope.
    pub days: u64,
}

impl ClosurePreview {
    /// No canteen day in the range and no meal charged: a closure would change nothing (a
    /// holiday, days without a class's rientro), so there is nothing to confirm.
    pub fn touches_nothing(&self) -> bool {
        self.days == 0 && self.charged == 0
    }
}

/// The preview of `closure` on the data of now (nothing written).
pub async fn closure_preview(ctx: Ctx<'_>, closure: &Closure) -> Result<ClosurePreview, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let mut families = BTreeSet::new();
    let mut out = ClosurePreview::default();
    let mut d = closure.from;
    while d <= closure.to {
        if let Some(cd) = crate::close::canteen_day(c, tenant, d).await? {
            let ids: Vec<ClassId> = cd
                .classes
                .iter()
                .filter(|k| closure.scope.applies_to(k.school_id, k.id))
                .map(|k| k.id)
                .collect();
            if !ids.is_empty() {
                out.days += 1;
                let closed = close::is_closed(c, tenant.id, d).await?;
                if closed {
                    let lines = kitchen::frozen_counts(c, tenant.id, d).await?;
                    out.charged += lines
                        .iter()
                        .filter(|l| ids.contains(&l.class))
                        .map(|l| u64::from(l.count))
                        .sum::<u64>();
                } else {
                    let lines =
                        kitchen::forecast_counts(c, tenant.id, cd.service.id, d, &ids).await?;
                    out.meals += lines.iter().map(|l| u64::from(l.count)).sum::<u64>();
                }
                families.extend(
                    kitchen::families_of_meals(c, tenant.id, cd.service.id, d, &ids, closed)
                        .await?,
                );
            }
        }
        d = d.tomorrow()?;
    }
    out.families = families.len() as u64;
    Ok(out)
}

/// What entering a closure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosureDone {
    pub closure: ClosureId,
    /// Meals of days not closed yet that will not be charged (as previewed just before).
    pub cancelled: u64,
    /// Charges reversed on days already closed.
    pub reversed: u64,
}

/// Checks and enters a closure of the current school year ([`crate::closure::add_closure`]).
/// Why a closure that touches no meal is not registered.
pub const NOTHING_TO_CLOSE: &str = "In questi giorni la mensa non c'è (festività o giorni senza rientro) e non c'è nessun pasto addebitato: la chiusura non toglierebbe nessun pasto, non c'è nulla da confermare.";

pub async fn confirm_closure(ctx: Ctx<'_>, input: &ClosureInput) -> Result<ClosureDone, AppError> {
    let cy = closure_year(ctx).await?.ok_or_else(|| {
        AppError::Fields(vec![field("dal", "Non c'è un anno scolastico in corso.")])
    })?;
    let closure = check_closure(&cy, input)?;
    let preview = closure_preview(ctx, &closure).await?;
    if preview.touches_nothing() {
        return Err(AppError::Fields(vec![field("dal", NOTHING_TO_CLOSE)]));
    }
    // The families it touches, read while their meals are still there.
    let touched = crate::outbox::families::closure_families(ctx, &closure).await?;
    let outcome = add_closure(ctx, cy.year.id, &closure).await?;
    // They are told at once; a failure here leaves the closure entered (and logged).
    let told =
        crate::outbox::families::notify_closure(ctx, outcome.closure, &closure, &touched).await;
    if let Err(e) = told {
        tracing::warn!(error = %e, "closure entered but its notices were not queued");
    }
    Ok(ClosureDone {
        closure: outcome.closure,
        cancelled: preview.meals,
        reversed: outcome.reversed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year_of(tenant_class: i64) -> ClosureYear {
        let d = |s: &str| s.parse::<Date>().unwrap();
        ClosureYear {
            year: SchoolYear {
                id: refettorio_domain::SchoolYearId(1),
                label: "2026/2027".into(),
                starts_on: d("2026-09-01"),
                ends_on: d("2027-08-31"),
                first_day: d("2026-09-14"),
                last_day: d("2027-06-08"),
            },
            schools: vec![School {
                id: SchoolId(3),
                name: "Rodari".into(),
                kind: refettorio_domain::SchoolKind::Primaria,
                address: String::new(),
                kitchen_email: None,
            }],
            classes: vec![Class {
                id: ClassId(tenant_class),
                school_year_id: refettorio_domain::SchoolYearId(1),
                school_id: SchoolId(3),
                name: "1A".into(),
                canteen_weekdays: refettorio_domain::Weekdays::MON_FRI,
            }],
            closures: Vec::new(),
        }
    }

    fn closure_fields(cy: &ClosureYear, scope: &str, from: &str, to: &str) -> Vec<&'static str> {
        let input = ClosureInput {
            scope: scope.into(),
            from: from.into(),
            to: to.into(),
            kind: "strike".into(),
            reason: "sciopero".into(),
        };
        match check_closure(cy, &input) {
            Ok(_) => Vec::new(),
            Err(AppError::Fields(e)) => e.iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn closures_are_checked_against_the_year_and_the_municipality() {
        let cy = year_of(7);
        let ok = check_closure(
            &cy,
            &ClosureInput {
                scope: "classe-7".into(),
                from: "2026-11-24".into(),
                to: "2026-11-25".into(),
                kind: "trip".into(),
                reason: " gita ".into(),
            },
        )
        .unwrap();
        assert_eq!(ok.scope, ClosureScope::Class(ClassId(7)));
        assert_eq!((ok.kind, ok.reason.as_str()), (ClosureKind::Trip, "gita"));
        assert!(closure_fields(&cy, "comune", "2026-11-24", "2026-11-24").is_empty());
        assert!(closure_fields(&cy, "scuola-3", "2026-11-24", "2026-11-24").is_empty());
        assert_eq!(
            closure_fields(&cy, "classe-8", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "scuola-x", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "2026-11-25", "2026-11-24"),
            ["al"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "24/11/2026", ""),
            ["dal", "al"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "2027-09-01", "2027-09-02"),
            ["dal"]
        );
        let bad = ClosureInput {
            scope: "comune".into(),
            from: "2026-11-24".into(),
            to: "2026-11-24".into(),
            kind: "break".into(),
            reason: "  ".into(),
        };
        match check_closure(&cy, &bad) {
            Err(AppError::Fields(e)) => {
                assert_eq!(
                    e.iter().map(|e| e.field).collect::<Vec<_>>(),
                    ["tipo", "motivo"]
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
