//! The demo municipality, "Comune di Esempio": a complete, realistic and deterministic data set
//! (four schools, about twenty classes, three hundred families, four hundred pupils, tariffs,
//! diets, a calendar and staff accounts) loaded at first start so that the product can be tried.
//!
//! The load is one transaction: all or nothing. It happens at most once per installation: the
//! unique tenant slug decides (on PostgreSQL the second of two racing inserts waits for the
//! first and then finds the slug taken; on SQLite `BEGIN IMMEDIATE` serialises the two), so a
//! second call, concurrent or not, writes nothing and answers [`DemoOutcome::AlreadyPresent`].
//!
//! The content is generated from a constant seed, so every installation gets the same families;
//! only the dates follow the clock (the school year is the current one).

mod names;
mod plan;
#[cfg(test)]
mod tests;
mod write;

use std::collections::HashSet;

use jiff::Span;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refettorio_db::registry::{calendar, family, school, service, staff, tenant};
use refettorio_db::{Conn, Db};
use refettorio_domain::identity::{IdentityMode, IdentitySettings};
use refettorio_domain::pricing::{self, BandPrice};
use refettorio_domain::{
    Billing, Cents, ClassId, Clock, Closure, ClosureKind, ClosureScope, CodiceFiscale, DietId,
    DietKind, EnrolmentState, EnteFiscalCode, FamilyId, Iban, IseeRange, PagoPaMode,
    PagoPaSettings, Residency, SchoolId, SchoolKind, SegregationCode, ServiceKind, Slug, StaffRole,
    TariffBandId, TenantId, Weekdays, band_for, easter_sunday, school_year_label, school_year_of,
    today,
};

use crate::error::AppError;
use crate::password;
use names::*;
use plan::*;
use write::*;

/// The demo tenant's slug (its subdomain).
pub const DEMO_SLUG: &str = "esempio";
pub const DEMO_NAME: &str = "Comune di Esempio";
/// Mario Rossi, born in Rome on 1 January 1980: the demo parent, the only citizen with a
/// password.
pub const DEMO_PARENT_CF: &str = "RSSMRA80A01H501U";
pub const DEMO_PARENT_PASSWORD: &str = "demo-genitore";
pub const DEMO_PARENT_EMAIL: &str = "mario.rossi@example.org";
/// The fiscal code of Mario Rossi's wife Giulia Bianchi, a delegate who may see payments.
pub const DEMO_DELEGATE_CF: &str = "BNCGLI82E61F205R";
pub const DEMO_OFFICE_USER: &str = "ufficio";
pub const DEMO_OFFICE_PASSWORD: &str = "demo-ufficio";

/// Staff accounts of the demo: username, password, display name, role.
pub const DEMO_STAFF: [(&str, &str, &str, StaffRole); 4] = [
    (
        DEMO_OFFICE_USER,
        DEMO_OFFICE_PASSWORD,
        "Ufficio Scuola",
        StaffRole::Office,
    ),
    (
        "cucina",
        "demo-cucina",
        "Centro cottura Esempio",
        StaffRole::Kitchen,
    ),
    (
        "scuola",
        "demo-scuola",
        "Segreteria Istituto Comprensivo",
        StaffRole::School,
    ),
    (
        "mensa",
        "demo-mensa",
        "Addetti mensa",
        StaffRole::CanteenStaff,
    ),
];

/// The demo's platform administrator (no municipality), who logs in at `/admin/accedi`.
pub const DEMO_ADMIN_USER: &str = "admin";
pub const DEMO_ADMIN_PASSWORD: &str = "demo-amministratore";
pub const DEMO_ADMIN_NAME: &str = "Amministratore della piattaforma";

/// The school (index in the demo's list of schools) whose classes the demo's school user sees.
pub const DEMO_SCHOOL: usize = 1;

/// What [`load_demo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    Loaded {
        tenant: TenantId,
        families: usize,
        pupils: usize,
    },
    /// The demo tenant (or another tenant with its slug) exists: nothing was written.
    AlreadyPresent,
}

const SEED: u64 = 0x00E5_E3F1_0202_6001;
const TIMEZONE: &str = "Europe/Rome";
const FAMILIES: usize = 300;
const KITCHEN_EMAIL: &str = "centro.cottura@example.org";

/// Loads the demo municipality unless its slug is taken. Safe to call at every start.
pub async fn load_demo(db: &Db, clock: &dyn Clock) -> Result<DemoOutcome, AppError> {
    if demo_present(db).await? {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    let tz = TimeZone::get(TIMEZONE)?;
    let year = school_year_of(today(clock, &tz));
    let plan = plan(year)?;
    // argon2 is slow (and slower in debug builds): hash before taking the write lock.
    let hashes = hash_all().await?;
    let now = clock.now();

    let mut tx = db.begin().await?;
    let written = write(&mut tx.conn(), &plan, &hashes, now).await;
    match written {
        Ok(Some(tenant)) => {
            tx.commit().await?;
            let pupils = plan.families.iter().map(|f| f.children.len()).sum();
            tracing::info!(
                tenant = tenant.get(),
                families = plan.families.len(),
                pupils,
                "demo municipality loaded"
            );
            Ok(DemoOutcome::Loaded {
                tenant,
                families: plan.families.len(),
                pupils,
            })
        }
        Ok(None) => Ok(DemoOutcome::AlreadyPresent),
        Err(AppError::Db(e)) if e.is_unique_violation() => {
            // A concurrent load may have won on another unique key; if so, all is well.
            drop(tx);
            if demo_present(db).await? {
                Ok(DemoOutcome::AlreadyPresent)
            } else {
                Err(AppError::Db(e))
            }
        }
        Err(e) => Err(e),
    }
}

async fn demo_present(db: &Db) -> Result<bool, AppError> {
    let mut h = db.acquire().await?;
    Ok(tenant::by_slug(&mut h.conn(), DEMO_SLUG).await?.is_some())
}

struct Hashes {
    parent: String,
    staff: Vec<String>,
    admin: String,
}

async fn hash_all() -> Result<Hashes, AppError> {
    let spawn = |p: &'static str| tokio::task::spawn_blocking(move || password::hash(p));
    let parent = spawn(DEMO_PARENT_PASSWORD);
    let admin = spawn(DEMO_ADMIN_PASSWORD);
    let staff: Vec<_> = DEMO_STAFF.iter().map(|&(_, p, _, _)| spawn(p)).collect();
    let parent = parent.await.map_err(|_| AppError::Password)??;
    let admin = admin.await.map_err(|_| AppError::Password)??;
    let mut out = Vec::with_capacity(staff.len());
    for h in staff {
        out.push(h.await.map_err(|_| AppError::Password)??);
    }
    Ok(Hashes {
        parent,
        staff: out,
        admin,
    })
}
