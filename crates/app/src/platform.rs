//! The platform administrator's use cases (`/admin`): their login, the list of
//! municipalities, a new municipality with its first office user, and the staff of any
//! municipality (add, deactivate, reactivate, and the schools a school user works for).
//!
//! A platform administrator is a `staff_user` with role `platform_admin` and no tenant; their
//! session has no tenant either (`Session.tenant == None`), so no municipality's page accepts
//! it. Every change is audited under the municipality it touches (the creation of a
//! municipality under the new one), with the actor `platform:<id>`.

use jiff::civil::Time;
use refettorio_db::audit;
use refettorio_db::auth::Subject;
use refettorio_db::platform;
use refettorio_db::registry::school::{self, School};
use refettorio_db::registry::staff::{self, StaffUser};
use refettorio_db::registry::tenant::{self, NewTenant, Tenant, TenantSettings};
use refettorio_domain::{Actor, EnteFiscalCode, SchoolId, Slug, StaffRole, StaffUserId};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};
use serde_json::json;

use crate::auth::{self, NewSession};
use crate::{AppError, Ctx, FieldError, Installation};

/// The message for a wrong username or password at `/admin/accedi`.
pub const WRONG_CREDENTIALS: &str = "Credenziali non valide: controlla nome utente e password.";

/// The shortest password the administrator may give a staff user.
pub const MIN_PASSWORD: usize = 12;

/// The roles a municipality's staff user may have (not the platform's own).
pub const TENANT_ROLES: [StaffRole; 4] = [
    StaffRole::Office,
    StaffRole::School,
    StaffRole::Kitchen,
    StaffRole::CanteenStaff,
];

pub const CREATE_TENANT: &str = "create_tenant";
pub const ADD_STAFF: &str = "add_staff";
pub const DEACTIVATE_STAFF: &str = "deactivate_staff";
pub const REACTIVATE_STAFF: &str = "reactivate_staff";
pub const SET_STAFF_SCHOOLS: &str = "set_staff_schools";

/// The throttling key of a platform login (failures are kept with no tenant).
fn subject_key(username: &str) -> String {
    username.trim().to_uppercase()
}

/// Logs in a platform administrator with username and password; the same throttling as
/// the municipalities' login (per username and source, with a ceiling per username), counted
/// apart (tenant NULL).
pub async fn login(
    inst: Installation<'_>,
    username: &str,
    candidate: &str,
    source: &str,
) -> Result<NewSession, AppError> {
    let (db, clock) = (inst.db, inst.clock);
    let now = clock.now();
    let key = subject_key(username);
    if key.is_empty() || candidate.is_empty() {
        return Err(AppError::Unauthorized(
            "Inserisci nome utente e password.".into(),
        ));
    }
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (own, all) =
        refettorio_db::auth::failures_since(c, None, &key, source, now - auth::THROTTLE_WINDOW)
            .await?;
    auth::throttle(own, all, now)?;
    let user = platform::admin_by_username(c, username.trim())
        .await?
        .filter(|u| u.active);
    drop(h);
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = auth::verify_blocking(phc, candidate.to_string()).await;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(user) = user.filter(|_| ok) else {
        refettorio_db::auth::record_failure(c, None, &key, source, now).await?;
        return Err(AppError::Unauthorized(WRONG_CREDENTIALS.into()));
    };
    refettorio_db::auth::clear_failures(c, None, &key, source).await?;
    refettorio_db::auth::purge_expired(c, now).await?;
    auth::open_session(c, None, Subject::Staff(user.id), now).await
}

/// The active platform administrator with this id, if any.
pub async fn admin(inst: Installation<'_>, id: StaffUserId) -> Result<Option<StaffUser>, AppError> {
    let db = inst.db;
    let mut h = db.acquire().await?;
    Ok(platform::admin_by_id(&mut h.conn(), id)
        .await?
        .filter(|u| u.active && u.tenant_id.is_none() && u.role == StaffRole::PlatformAdmin))
}

/// A municipality in the administrator's list.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub tenant: Tenant,
    /// Staff users, active or not.
    pub staff: i64,
}

/// Every municipality, by name, with how many staff users it has.
pub async fn tenants(inst: Installation<'_>) -> Result<Vec<TenantRow>, AppError> {
    let db = inst.db;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let list = tenant::list(c).await?;
    let counts = platform::staff_counts(c).await?;
    Ok(list
        .into_iter()
        .map(|t| {
            let staff = counts
                .iter()
                .find(|(id, _)| *id == t.id)
                .map_or(0, |(_, n)| *n);
            TenantRow { tenant: t, staff }
        })
        .collect())
}

/// A municipality and its staff, by slug.
pub async fn tenant_staff(
    inst: Installation<'_>,
    slug: &str,
) -> Result<(Tenant, Vec<StaffUser>), AppError> {
    let db = inst.db;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(t) = tenant::by_slug(c, slug).await? else {
        return Err(AppError::NotFound("Comune non trovato.".into()));
    };
    let users = staff::staff(c, t.id).await?;
    Ok((t, users))
}

/// The schools of a municipality and which school users work for which of them.
pub struct SchoolAssignments {
    pub schools: Vec<School>,
    pub links: Vec<(StaffUserId, SchoolId)>,
}

impl SchoolAssignments {
    /// The municipality's schools, each with whether `user` works for it.
    pub fn of(&self, user: StaffUserId) -> Vec<(&School, bool)> {
        self.schools
            .iter()
            .map(|k| (k, self.links.contains(&(user, k.id))))
            .collect()
    }
}

/// The schools of a municipality and its school users' links to them.
pub async fn school_assignments(ctx: Ctx<'_>) -> Result<SchoolAssignments, AppError> {
    let (db, t) = (ctx.db, ctx.tenant);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    Ok(SchoolAssignments {
        schools: school::schools(c, t.id).await?,
        links: staff::staff_school_links(c, t.id).await?,
    })
}

/// Sets the schools a user of the school role works for (the only ones whose classes,
/// enrolments and attendance it sees). Ids that are not schools of this municipality, or a
/// user of another role, are refused with a field error and nothing written; the same set
/// again writes nothing. Audited with the schools' names before and after.
pub async fn set_staff_schools(
    ctx: Ctx<'_>,
    id: StaffUserId,
    chosen: &[i64],
) -> Result<(), AppError> {
    let (db, clock, t) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some(u) = staff::staff_by_id(c, t.id, id).await? else {
        return Err(AppError::NotFound("Utente non trovato.".into()));
    };
    let refuse = |message: &str| {
        Err(AppError::Fields(vec![FieldError {
            field: "scuole",
            message: message.into(),
        }]))
    };
    if u.role != StaffRole::School {
        return refuse("Solo gli utenti del ruolo Scuola lavorano per delle scuole.");
    }
    let schools = school::schools(c, t.id).await?;
    let mut wanted: Vec<SchoolId> = Vec::new();
    for raw in chosen {
        match schools.iter().find(|k| k.id.get() == *raw) {
            Some(k) if !wanted.contains(&k.id) => wanted.push(k.id),
            Some(_) => {}
            None => return refuse("Una delle scuole scelte non è di questo Comune."),
        }
    }
    wanted.sort();
    let before = staff::schools_of_staff(c, t.id, id).await?;
    if before == wanted {
        return Ok(());
    }
    let names = |ids: &[SchoolId]| {
        let list: Vec<&str> = schools
            .iter()
            .filter(|k| ids.contains(&k.id))
            .map(|k| k.name.as_str())
            .collect();
        json!({ "username": u.username, "scuole": list })
    };
    staff::set_staff_schools(c, t.id, id, &wanted).await?;
    audit::record(
        c,
        t.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::SetStaffSchools,
            AuditObject {
                kind: ObjectKind::StaffUser,
                id: Some(id.get()),
            },
        )
        .before(names(&before))
        .after(names(&wanted)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A staff user as typed in a form.
#[derive(Debug, Clone, Default)]
pub struct StaffInput {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
}

/// A new municipality and its first office user, as typed.
#[derive(Debug, Clone, Default)]
pub struct TenantInput {
    pub slug: String,
    pub name: String,
    pub fiscal_code: String,
    /// Empty: Europe/Rome.
    pub timezone: String,
    /// `HH:MM`; empty: 09:30.
    pub cutoff: String,
    pub office: StaffInput,
}

fn push(errors: &mut Vec<FieldError>, field: &'static str, message: impl Into<String>) {
    errors.push(FieldError {
        field,
        message: message.into(),
    });
}

/// A staff user checked: (username, display name, role, password). `role_fixed` is the role
/// of the first office user (no role field in that form).
fn check_staff(
    i: &StaffInput,
    role_fixed: Option<StaffRole>,
    errors: &mut Vec<FieldError>,
) -> Option<(String, String, StaffRole)> {
    let username = i.username.trim();
    let name = i.display_name.trim();
    let before = errors.len();
    if username.is_empty() {
        push(errors, "username", "Inserisci il nome utente.");
    } else if username.chars().count() > 60
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        push(
            errors,
            "username",
            "Il nome utente può contenere solo lettere senza accenti, cifre, punto, trattino e trattino basso (al massimo 60).",
        );
    } else if refettorio_domain::CodiceFiscale::parse(&username.to_uppercase()).is_ok() {
        // The municipality's login reads a fiscal code as a family's.
        push(
            errors,
            "username",
            "Il nome utente non può essere un codice fiscale.",
        );
    }
    if name.is_empty() {
        push(errors, "display_name", "Inserisci il nome da mostrare.");
    } else if name.chars().count() > 100 {
        push(
            errors,
            "display_name",
            "Il nome da mostrare può avere al massimo 100 caratteri.",
        );
    }
    let role = match role_fixed {
        Some(r) => Some(r),
        None => {
            let r = StaffRole::parse(i.role.trim()).filter(|r| TENANT_ROLES.contains(r));
            if r.is_none() {
                push(errors, "role", "Scegli il ruolo dell'elenco.");
            }
            r
        }
    };
    let n = i.password.chars().count();
    if n < MIN_PASSWORD {
        push(
            errors,
            "password",
            format!("La password deve avere almeno {MIN_PASSWORD} caratteri."),
        );
    } else if n > 128 {
        push(
            errors,
            "password",
            "La password può avere al massimo 128 caratteri.",
        );
    }
    match role {
        Some(r) if errors.len() == before => Some((username.to_string(), name.to_string(), r)),
        _ => None,
    }
}

/// Checks a new municipality; every broken field is reported.
pub fn check_tenant(i: &TenantInput) -> Result<(NewTenant, String, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    let slug = Slug::parse(i.slug.trim());
    if let Err(e) = &slug {
        push(&mut errors, "slug", format!("{e}."));
    }
    let name = i.name.trim();
    if name.is_empty() {
        push(
            &mut errors,
            "name",
            "Inserisci il nome del Comune (ad esempio «Comune di Esempio»).",
        );
    } else if name.chars().count() > 120 {
        push(
            &mut errors,
            "name",
            "Il nome può avere al massimo 120 caratteri.",
        );
    }
    let fiscal_code = EnteFiscalCode::parse(&i.fiscal_code);
    if let Err(e) = &fiscal_code {
        push(&mut errors, "fiscal_code", format!("{e}."));
    }
    let tz_name = match i.timezone.trim() {
        "" => "Europe/Rome",
        other => other,
    };
    if jiff::tz::TimeZone::get(tz_name).is_err() {
        push(
            &mut errors,
            "timezone",
            "Fuso orario sconosciuto: usa un nome come Europe/Rome.",
        );
    }
    let cutoff = match i.cutoff.trim() {
        "" => Time::new(9, 30, 0, 0).ok(),
        other => Time::strptime("%H:%M", other).ok(),
    };
    if cutoff.is_none() {
        push(
            &mut errors,
            "cutoff",
            "Orario limite non valido: scrivilo come 09:30.",
        );
    }
    let office = check_staff(&i.office, Some(StaffRole::Office), &mut errors);
    match (slug, fiscal_code, cutoff, office) {
        (Ok(slug), Ok(fiscal_code), Some(cutoff_time), Some((username, display, _)))
            if errors.is_empty() =>
        {
            Ok((
                NewTenant {
                    slug,
                    name: name.to_string(),
                    fiscal_code,
                    timezone: tz_name.to_string(),
                    cutoff_time,
                    patron_day: None,
                    patron_name: None,
                    settings: TenantSettings::default(),
                },
                username,
                display,
            ))
        }
        _ => Err(errors),
    }
}

fn staff_json(username: &str, display: &str, role: StaffRole, active: bool) -> serde_json::Value {
    json!({
        "username": username,
        "display_name": display,
        "role": role.label_it(),
        "active": active,
    })
}

/// Creates a municipality and its first office user, audited under the new municipality.
/// A slug or fiscal code already used is refused (422) and nothing is written.
pub async fn create_tenant(
    inst: Installation<'_>,
    by: Actor,
    i: &TenantInput,
) -> Result<Tenant, AppError> {
    let (db, clock) = (inst.db, inst.clock);
    let (new, username, display) = check_tenant(i).map_err(AppError::Fields)?;
    let phc = auth::hash_blocking(i.office.password.clone()).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let mut errors = Vec::new();
    if tenant::by_slug(c, new.slug.as_str()).await?.is_some() {
        push(
            &mut errors,
            "slug",
            "Questo nome breve è già usato da un altro Comune.",
        );
    }
    if tenant::by_fiscal_code(c, new.fiscal_code.as_str())
        .await?
        .is_some()
    {
        push(
            &mut errors,
            "fiscal_code",
            "Questo codice fiscale è già di un altro Comune.",
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let Some(id) = tenant::insert(c, &new, now).await? else {
        return Err(AppError::Fields(vec![FieldError {
            field: "slug",
            message: "Questo nome breve è già usato da un altro Comune.".into(),
        }]));
    };
    let after = json!({
        "slug": new.slug.as_str(),
        "name": new.name,
        "fiscal_code": new.fiscal_code.as_str(),
        "timezone": new.timezone,
        "cutoff_time": new.cutoff_time.strftime("%H:%M").to_string(),
    });
    audit::record(
        c,
        id,
        &AuditEntry::new(
            by,
            AuditAction::CreateTenant,
            AuditObject {
                kind: ObjectKind::Tenant,
                id: Some(id.get()),
            },
        )
        .after(after),
        now,
    )
    .await?;
    let user = staff::insert_staff(c, id, &username, &display, StaffRole::Office, &phc).await?;
    let after = staff_json(&username, &display, StaffRole::Office, true);
    audit::record(
        c,
        id,
        &AuditEntry::new(
            by,
            AuditAction::AddStaff,
            AuditObject {
                kind: ObjectKind::StaffUser,
                id: Some(user.get()),
            },
        )
        .after(after),
        now,
    )
    .await?;
    let created = tenant::by_id(c, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Comune non trovato.".into()))?;
    tx.commit().await?;
    Ok(created)
}

/// Adds a staff user of any municipality role; a username already used in that municipality
/// is refused (422, nothing written).
pub async fn add_staff(ctx: Ctx<'_>, i: &StaffInput) -> Result<StaffUserId, AppError> {
    let (db, clock, t) = (ctx.db, ctx.clock, ctx.tenant);
    let mut errors = Vec::new();
    let Some((username, display, role)) = check_staff(i, None, &mut errors) else {
        return Err(AppError::Fields(errors));
    };
    let phc = auth::hash_blocking(i.password.clone()).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if staff::staff_by_username(c, t.id, &username)
        .await?
        .is_some()
    {
        return Err(AppError::Fields(vec![FieldError {
            field: "username",
            message: "Questo nome utente è già usato in questo Comune.".into(),
        }]));
    }
    let id = staff::insert_staff(c, t.id, &username, &display, role, &phc).await?;
    let after = staff_json(&username, &display, role, true);
    audit::record(
        c,
        t.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::AddStaff,
            AuditObject {
                kind: ObjectKind::StaffUser,
                id: Some(id.get()),
            },
        )
        .after(after),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Deactivates (its sessions end) or reactivates a municipality's staff user, audited with
/// before and after. Nothing changes, and nothing is audited, when it is already so.
pub async fn set_staff_active(ctx: Ctx<'_>, id: StaffUserId, active: bool) -> Result<(), AppError> {
    let (db, clock, t) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some(u) = staff::staff_by_id(c, t.id, id).await? else {
        return Err(AppError::NotFound("Utente non trovato.".into()));
    };
    if u.active == active {
        return Ok(());
    }
    platform::set_staff_active(c, t.id, id, active).await?;
    if !active {
        platform::delete_staff_sessions(c, id).await?;
    }
    let before = staff_json(&u.username, &u.display_name, u.role, u.active);
    let after = staff_json(&u.username, &u.display_name, u.role, active);
    audit::record(
        c,
        t.id,
        &AuditEntry::new(
            ctx.actor,
            if active {
                AuditAction::ReactivateStaff
            } else {
                AuditAction::DeactivateStaff
            },
            AuditObject {
                kind: ObjectKind::StaffUser,
                id: Some(id.get()),
            },
        )
        .before(before)
        .after(after),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> TenantInput {
        TenantInput {
            slug: "nuovo".into(),
            name: "Comune di Nuovo".into(),
            fiscal_code: EnteFiscalCode::with_check_digit("8000215047")
                .unwrap()
                .as_str()
                .into(),
            timezone: String::new(),
            cutoff: String::new(),
            office: StaffInput {
                username: "ufficio".into(),
                display_name: "Ufficio scuola".into(),
                role: String::new(),
                password: "una-password-lunga".into(),
            },
        }
    }

    #[test]
    fn defaults_fill_time_zone_and_cutoff() {
        let (t, user, _) = check_tenant(&good()).unwrap();
        assert_eq!(t.timezone, "Europe/Rome");
        assert_eq!(t.cutoff_time, Time::new(9, 30, 0, 0).unwrap());
        assert_eq!(user, "ufficio");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut i = good();
        i.slug = "Con Spazi".into();
        i.name = " ".into();
        i.fiscal_code = "123".into();
        i.timezone = "Europe/Nowhere".into();
        i.cutoff = "25:00".into();
        i.office.username = "RSSMRA80A01H501U".into();
        i.office.display_name = String::new();
        i.office.password = "corta-11ch".into();
        let fields: Vec<_> = check_tenant(&i)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "slug",
                "name",
                "fiscal_code",
                "timezone",
                "cutoff",
                "username",
                "display_name",
                "password"
            ]
        );
    }

    #[test]
    fn staff_role_must_be_a_municipality_role() {
        let mut errors = Vec::new();
        let i = StaffInput {
            username: "capo".into(),
            display_name: "Capo".into(),
            role: "platform_admin".into(),
            password: "una-password-lunga".into(),
        };
        assert!(check_staff(&i, None, &mut errors).is_none());
        assert_eq!(errors[0].field, "role");
        let mut errors = Vec::new();
        let i = StaffInput {
            role: "kitchen".into(),
            ..i
        };
        assert_eq!(
            check_staff(&i, None, &mut errors).map(|x| x.2),
            Some(StaffRole::Kitchen)
        );
    }
}
