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

use std::collections::HashSet;

use jiff::Span;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refettorio_db::registry::{calendar, family, school, service, staff, tenant};
use refettorio_db::{Conn, Db};
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

// ---------------------------------------------------------------------------------------------
// Fixed content

const MALE: [&str; 34] = [
    "Alessandro",
    "Andrea",
    "Antonio",
    "Christian",
    "Daniele",
    "Davide",
    "Diego",
    "Edoardo",
    "Elia",
    "Emanuele",
    "Enrico",
    "Federico",
    "Filippo",
    "Francesco",
    "Gabriele",
    "Giacomo",
    "Giovanni",
    "Giuseppe",
    "Leonardo",
    "Lorenzo",
    "Luca",
    "Marco",
    "Matteo",
    "Mattia",
    "Michele",
    "Nicolò",
    "Paolo",
    "Pietro",
    "Riccardo",
    "Roberto",
    "Samuele",
    "Simone",
    "Stefano",
    "Tommaso",
];

const FEMALE: [&str; 32] = [
    "Alessia",
    "Alice",
    "Anna",
    "Arianna",
    "Aurora",
    "Beatrice",
    "Camilla",
    "Chiara",
    "Elena",
    "Elisa",
    "Emma",
    "Federica",
    "Francesca",
    "Gaia",
    "Giada",
    "Ginevra",
    "Giorgia",
    "Giulia",
    "Greta",
    "Ilaria",
    "Laura",
    "Lucia",
    "Martina",
    "Matilde",
    "Noemi",
    "Rebecca",
    "Sara",
    "Silvia",
    "Sofia",
    "Valentina",
    "Vittoria",
    "Viola",
];

const SURNAMES: [&str; 80] = [
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
    "Villa",
    "Conte",
    "Ferraro",
    "Ferri",
    "Fabbri",
    "Bianco",
    "Marini",
    "Grasso",
    "Valentini",
    "Messina",
    "Sala",
    "De Angelis",
    "Gatti",
    "Pellegrini",
    "Palumbo",
    "Sanna",
    "Farina",
    "Rizzi",
    "Monti",
    "Cattaneo",
    "Morelli",
    "Amato",
    "Silvestri",
    "Mazza",
    "Testa",
    "Grassi",
    "Pellegrino",
    "Carbone",
    "Giuliani",
    "Benedetti",
    "Barone",
    "Rossetti",
    "Caputo",
    "Montanari",
    "Guerra",
    "Palmieri",
    "Bernardi",
    "Martino",
    "Fiore",
];

/// Birth places (Belfiore codes) of parents, weighted; a few born abroad.
const PARENT_PLACES: [(&str, u32); 11] = [
    ("H501", 30), // Roma
    ("F205", 14), // Milano
    ("L219", 10), // Torino
    ("F839", 14), // Napoli
    ("A944", 8),  // Bologna
    ("D612", 8),  // Firenze
    ("G273", 8),  // Palermo
    ("Z129", 3),  // Romania
    ("Z100", 2),  // Albania
    ("Z330", 2),  // Marocco
    ("Z210", 1),  // Cina
];

/// Birth places of the children: the hospitals near Esempio, weighted.
const CHILD_PLACES: [(&str, u32); 7] = [
    ("H501", 50),
    ("F205", 8),
    ("L219", 6),
    ("F839", 10),
    ("A944", 8),
    ("D612", 10),
    ("G273", 8),
];

const STREETS: [&str; 16] = [
    "Via Giuseppe Garibaldi",
    "Via Roma",
    "Via Giuseppe Mazzini",
    "Via Camillo Cavour",
    "Corso Vittorio Emanuele II",
    "Via XX Settembre",
    "Via dei Mille",
    "Via Alessandro Manzoni",
    "Via Giacomo Leopardi",
    "Via delle Rose",
    "Via dei Tigli",
    "Via San Giorgio",
    "Piazza della Repubblica",
    "Viale della Libertà",
    "Via Antonio Gramsci",
    "Via Enrico Fermi",
];

const MOBILE_PREFIXES: [u16; 14] = [
    320, 324, 327, 328, 329, 333, 339, 340, 345, 347, 348, 349, 366, 393,
];

/// Diets: code, name, kind, weight among pupils with a special diet.
const DIETS: [(&str, &str, DietKind, u32); 5] = [
    ("CEL", "Senza glutine", DietKind::Health, 3),
    ("LAT", "Senza lattosio", DietKind::Health, 3),
    ("NOMAI", "Senza carne di maiale", DietKind::Ethical, 4),
    ("VEG", "Vegetariana", DietKind::Ethical, 2),
    ("ALL-FS", "Allergia frutta secca", DietKind::Health, 2),
];

const SCHOOLS: [(&str, SchoolKind, &str); 4] = [
    (
        "Scuola dell'infanzia Arcobaleno",
        SchoolKind::Infanzia,
        "Via dei Tigli 4, Esempio",
    ),
    (
        "Scuola primaria Gianni Rodari",
        SchoolKind::Primaria,
        "Piazza della Repubblica 3, Esempio",
    ),
    (
        "Scuola primaria Maria Montessori",
        SchoolKind::Primaria,
        "Via Giuseppe Mazzini 27, Esempio",
    ),
    (
        "Scuola secondaria di primo grado Dante Alighieri",
        SchoolKind::SecondariaPrimoGrado,
        "Viale della Libertà 45, Esempio",
    ),
];
const INFANZIA: usize = 0;
const RODARI: usize = 1;
const MONTESSORI: usize = 2;
const DANTE: usize = 3;

const MON_FRI: Weekdays = Weekdays::MON_FRI;
const MON_WED: Weekdays = Weekdays::from_bits(0b000_0101);
const TUE_THU: Weekdays = Weekdays::from_bits(0b000_1010);
const TUE: Weekdays = Weekdays::from_bits(0b000_0010);

/// A pupil's "level": 0..=2 the ages 3, 4, 5 at the infanzia; 3..=7 primaria classes 1..5;
/// 8..=10 secondaria classes 1..3. A pupil of level `l` was born in `start year - 3 - l`.
const LEVELS: u8 = 11;
/// How many pupils of each level, relatively (primaria has three sections, the others one).
const LEVEL_WEIGHTS: [u32; LEVELS as usize] = [22, 22, 22, 58, 58, 58, 58, 58, 18, 18, 18];

struct ClassSpec {
    school: usize,
    name: String,
    weekdays: Weekdays,
}

fn class_specs() -> Vec<ClassSpec> {
    let mut out = Vec::new();
    for s in ["A", "B", "C"] {
        out.push(ClassSpec {
            school: INFANZIA,
            name: format!("Sezione {s}"),
            weekdays: MON_FRI,
        });
    }
    for k in 1..=5 {
        // Rodari: section A full time (tempo pieno), section B two rientri.
        out.push(ClassSpec {
            school: RODARI,
            name: format!("{k} A"),
            weekdays: MON_FRI,
        });
        out.push(ClassSpec {
            school: RODARI,
            name: format!("{k} B"),
            weekdays: MON_WED,
        });
        out.push(ClassSpec {
            school: MONTESSORI,
            name: format!("{k} A"),
            weekdays: TUE_THU,
        });
    }
    for (k, w) in [(1, MON_WED), (2, TUE_THU), (3, TUE)] {
        out.push(ClassSpec {
            school: DANTE,
            name: format!("{k} A"),
            weekdays: w,
        });
    }
    out
}

fn class_index(specs: &[ClassSpec], school: usize, name: &str) -> Result<usize, AppError> {
    specs
        .iter()
        .position(|c| c.school == school && c.name == name)
        .ok_or_else(|| AppError::Invalid(format!("demo: no class {name}")))
}

// ---------------------------------------------------------------------------------------------
// The plan: everything to write, computed before touching the database.

struct Plan {
    year: i16,
    first_day: Date,
    last_day: Date,
    closures: Vec<(Option<usize>, Date, Date, ClosureKind, &'static str)>,
    classes: Vec<ClassSpec>,
    families: Vec<PlanFamily>,
}

struct Person {
    cf: CodiceFiscale,
    first_name: String,
    last_name: String,
}

struct PlanGuardian {
    person: Person,
    email: String,
    phone: String,
}

struct PlanFamily {
    payer: PlanGuardian,
    /// The other guardian and whether they may see payments.
    delegate: Option<(PlanGuardian, bool)>,
    address: String,
    resident: bool,
    isee: Option<Cents>,
    /// Eldest first (the order of the sibling reduction).
    children: Vec<PlanChild>,
    demo_parent: bool,
}

struct PlanChild {
    cf: Option<CodiceFiscale>,
    first_name: String,
    last_name: String,
    birth: Date,
    class: usize,
    diet: Option<usize>,
    active: bool,
    transport: bool,
}

fn add_days(d: Date, n: i64) -> Result<Date, AppError> {
    Ok(d.checked_add(Span::new().try_days(n)?)?)
}

fn on_or_after(d: Date, wd: Weekday) -> Result<Date, AppError> {
    let offset = (wd.to_monday_zero_offset() - d.weekday().to_monday_zero_offset()).rem_euclid(7);
    add_days(d, i64::from(offset))
}

fn plan(year: i16) -> Result<Plan, AppError> {
    let next = year
        .checked_add(1)
        .ok_or_else(|| AppError::Invalid(format!("anno scolastico {year} fuori intervallo")))?;
    // Regional calendar: lessons start on the first Monday from 10 September and end on
    // 8 June, moved to the nearest weekday.
    let first_day = on_or_after(Date::new(year, 9, 10)?, Weekday::Monday)?;
    let june8 = Date::new(next, 6, 8)?;
    let last_day = match june8.weekday() {
        Weekday::Saturday => add_days(june8, -1)?,
        Weekday::Sunday => add_days(june8, 1)?,
        _ => june8,
    };
    let easter = easter_sunday(next)
        .ok_or_else(|| AppError::Invalid(format!("Pasqua {next} fuori intervallo")))?;
    let elections = on_or_after(Date::new(next, 5, 18)?, Weekday::Monday)?;
    let closures = vec![
        (
            None,
            Date::new(year, 12, 23)?,
            Date::new(next, 1, 6)?,
            ClosureKind::Break,
            "Vacanze di Natale",
        ),
        (
            None,
            add_days(easter, -48)?,
            add_days(easter, -47)?,
            ClosureKind::Break,
            "Carnevale",
        ),
        (
            None,
            add_days(easter, -3)?,
            add_days(easter, 2)?,
            ClosureKind::Break,
            "Vacanze di Pasqua",
        ),
        (
            Some(RODARI),
            elections,
            add_days(elections, 1)?,
            ClosureKind::SchoolClosed,
            "Elezioni: la scuola è sede di seggio",
        ),
    ];

    let classes = class_specs();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut used = HashSet::new();
    let mut families = Vec::with_capacity(FAMILIES);
    families.push(demo_family(year, &classes, &mut used)?);
    let mut email_n = 0usize;
    let mut pupil_n = families.iter().map(|f| f.children.len()).sum::<usize>();
    while families.len() < FAMILIES {
        families.push(random_family(
            &mut rng,
            year,
            &classes,
            &mut used,
            &mut email_n,
            &mut pupil_n,
        )?);
    }
    Ok(Plan {
        year,
        first_day,
        last_day,
        closures,
        classes,
        families,
    })
}

/// A valid fiscal code not used yet; on a clash (omocodia) the birth date moves by a day.
fn person(
    used: &mut HashSet<String>,
    last: &str,
    first: &str,
    birth: Date,
    female: bool,
    place: &str,
) -> Result<(Person, Date), AppError> {
    let mut birth = birth;
    for _ in 0..64 {
        let cf = CodiceFiscale::compute(last, first, birth, female, place)
            .map_err(|e| AppError::Invalid(format!("demo: {first} {last}: {e}")))?;
        if used.insert(cf.as_str().to_string()) {
            let p = Person {
                cf,
                first_name: first.to_string(),
                last_name: last.to_string(),
            };
            return Ok((p, birth));
        }
        birth = add_days(birth, 1)?;
    }
    Err(AppError::Invalid(format!(
        "demo: no free fiscal code for {first} {last}"
    )))
}

fn demo_family(
    year: i16,
    classes: &[ClassSpec],
    used: &mut HashSet<String>,
) -> Result<PlanFamily, AppError> {
    let (mario, _) = person(
        used,
        "Rossi",
        "Mario",
        Date::new(1980, 1, 1)?,
        false,
        "H501",
    )?;
    let (giulia, _) = person(
        used,
        "Bianchi",
        "Giulia",
        Date::new(1982, 5, 21)?,
        true,
        "F205",
    )?;
    if mario.cf.as_str() != DEMO_PARENT_CF || giulia.cf.as_str() != DEMO_DELEGATE_CF {
        return Err(AppError::Invalid(format!(
            "demo: unexpected fiscal codes {} {}",
            mario.cf, giulia.cf
        )));
    }
    let (luca, luca_birth) = person(
        used,
        "Rossi",
        "Luca",
        Date::new(year - 8, 3, 14)?,
        false,
        "H501",
    )?;
    let (sofia, sofia_birth) = person(
        used,
        "Rossi",
        "Sofia",
        Date::new(year - 4, 10, 2)?,
        true,
        "H501",
    )?;
    let lat = DIETS.iter().position(|d| d.0 == "LAT");
    Ok(PlanFamily {
        payer: PlanGuardian {
            person: mario,
            email: DEMO_PARENT_EMAIL.to_string(),
            phone: "+39 347 1234567".to_string(),
        },
        delegate: Some((
            PlanGuardian {
                person: giulia,
                email: "giulia.bianchi@example.org".to_string(),
                phone: "+39 348 7654321".to_string(),
            },
            true,
        )),
        address: "Via Giuseppe Garibaldi 15, Esempio".to_string(),
        resident: true,
        isee: Some(Cents(1_425_000)),
        children: vec![
            PlanChild {
                cf: Some(luca.cf),
                first_name: luca.first_name,
                last_name: luca.last_name,
                birth: luca_birth,
                class: class_index(classes, RODARI, "3 A")?,
                diet: None,
                active: true,
                transport: true,
            },
            PlanChild {
                cf: Some(sofia.cf),
                first_name: sofia.first_name,
                last_name: sofia.last_name,
                birth: sofia_birth,
                class: class_index(classes, INFANZIA, "Sezione B")?,
                diet: lat,
                active: true,
                transport: false,
            },
        ],
        demo_parent: true,
    })
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for item in items {
        let w = weight(item);
        if pick < w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1]
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn random_date_in(rng: &mut ChaCha8Rng, year: i16) -> Result<Date, AppError> {
    let month = rng.random_range(1..=12);
    let days = Date::new(year, month, 1)?.days_in_month();
    Ok(Date::new(year, month, rng.random_range(1..=days))?)
}

/// ASCII, lower case, no spaces or apostrophes: "Nicolò", "D'Angelo" → "nicolo", "dangelo".
fn email_part(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'à' | 'á' => Some('a'),
            'è' | 'é' => Some('e'),
            'ì' | 'í' => Some('i'),
            'ò' | 'ó' => Some('o'),
            'ù' | 'ú' => Some('u'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).copied().unwrap_or(333);
    format!("+39 {prefix} {:07}", rng.random_range(0..10_000_000u32))
}

fn isee(rng: &mut ChaCha8Rng) -> Option<Cents> {
    // (min, max) in cents and weight: about 10% not declared, the rest across the bands.
    const BUCKETS: [(i64, i64, u32); 7] = [
        (0, 0, 10), // not declared
        (0, 300_000, 8),
        (300_001, 800_000, 14),
        (800_001, 1_300_000, 18),
        (1_300_001, 1_900_000, 18),
        (1_900_001, 2_500_000, 14),
        (2_500_001, 6_000_000, 18),
    ];
    let &(min, max, _) = weighted(rng, &BUCKETS, |b| b.2);
    (max > 0).then(|| Cents(rng.random_range(min..=max)))
}

fn random_family(
    rng: &mut ChaCha8Rng,
    year: i16,
    classes: &[ClassSpec],
    used: &mut HashSet<String>,
    email_n: &mut usize,
    pupil_n: &mut usize,
) -> Result<PlanFamily, AppError> {
    let surname = pick(rng, &SURNAMES);
    let mut mother_surname = pick(rng, &SURNAMES);
    if mother_surname == surname {
        mother_surname = pick(rng, &SURNAMES);
    }
    let father_first = pick(rng, &MALE);
    let mother_first = pick(rng, &FEMALE);

    let n_children = match rng.random_range(0..100) {
        0..70 => 1,
        70..94 => 2,
        _ => 3,
    };
    let levels: Vec<(u8, u32)> = (0..LEVELS)
        .map(|l| (l, LEVEL_WEIGHTS[usize::from(l)]))
        .collect();
    let mut chosen: Vec<u8> = Vec::with_capacity(n_children);
    while chosen.len() < n_children {
        let &(l, _) = weighted(rng, &levels, |x| x.1);
        if !chosen.contains(&l) {
            chosen.push(l);
        }
    }
    chosen.sort_unstable_by(|a, b| b.cmp(a)); // eldest first
    let montessori = rng.random_bool(1.0 / 3.0);
    let hospital = weighted(rng, &CHILD_PLACES, |p| p.1).0;

    let mut children = Vec::with_capacity(n_children);
    let mut names: Vec<&str> = Vec::new();
    for level in chosen {
        let female = rng.random_bool(0.5);
        let pool: &[&str] = if female { &FEMALE } else { &MALE };
        let mut first = pick(rng, pool);
        while names.contains(&first) {
            first = pick(rng, pool);
        }
        names.push(first);
        let birth_year = year - 3 - i16::from(level);
        let birth = random_date_in(rng, birth_year)?;
        let class = match level {
            0..=2 => {
                let s = pick(rng, &["A", "B", "C"]);
                class_index(classes, INFANZIA, &format!("Sezione {s}"))?
            }
            3..=7 => {
                let k = level - 2;
                if montessori {
                    class_index(classes, MONTESSORI, &format!("{k} A"))?
                } else {
                    let s = pick(rng, &["A", "B"]);
                    class_index(classes, RODARI, &format!("{k} {s}"))?
                }
            }
            _ => class_index(classes, DANTE, &format!("{} A", level - 7))?,
        };
        let (p, birth) = person(used, surname, first, birth, female, hospital)?;
        *pupil_n += 1;
        // About one pupil in eighty has no fiscal code yet (born abroad, being registered).
        let cf = if *pupil_n % 80 == 40 {
            used.remove(p.cf.as_str());
            None
        } else {
            Some(p.cf)
        };
        let diet = rng
            .random_bool(0.15)
            .then(|| weighted(rng, &DIETS, |d| d.3).0)
            .and_then(|code| DIETS.iter().position(|d| d.0 == code));
        let active = !rng.random_bool(0.012);
        let transport = level >= 3 && rng.random_bool(0.2);
        children.push(PlanChild {
            cf,
            first_name: p.first_name,
            last_name: p.last_name,
            birth,
            class,
            diet,
            active,
            transport,
        });
    }

    let eldest = children.first().map_or(year - 8, |c| c.birth.year());
    let gap: i16 = rng.random_range(24..=42);
    let mother_birth = random_date_in(rng, eldest - gap)?;
    let gap: i16 = rng.random_range(-2..=6);
    let father_birth = random_date_in(rng, mother_birth.year() - gap)?;
    let mother_place = weighted(rng, &PARENT_PLACES, |p| p.1).0;
    let father_place = weighted(rng, &PARENT_PLACES, |p| p.1).0;
    let (mother, _) = person(
        used,
        mother_surname,
        mother_first,
        mother_birth,
        true,
        mother_place,
    )?;
    let (father, _) = person(
        used,
        surname,
        father_first,
        father_birth,
        false,
        father_place,
    )?;
    let mut guardian = |rng: &mut ChaCha8Rng, person: Person| {
        *email_n += 1;
        PlanGuardian {
            email: format!(
                "{}.{}.{}@example.org",
                email_part(&person.first_name),
                email_part(&person.last_name),
                email_n
            ),
            phone: phone(rng),
            person,
        }
    };
    let payer_is_mother = rng.random_bool(0.45);
    let (payer, other) = if payer_is_mother {
        (mother, father)
    } else {
        (father, mother)
    };
    let payer = guardian(rng, payer);
    let delegate = if rng.random_bool(0.4) {
        let can_see_payments = rng.random_bool(0.5);
        Some((guardian(rng, other), can_see_payments))
    } else {
        used.remove(other.cf.as_str());
        None
    };
    let street = pick(rng, &STREETS);
    let address = format!("{street} {}, Esempio", rng.random_range(1..=120));
    Ok(PlanFamily {
        payer,
        delegate,
        address,
        resident: rng.random_bool(0.9),
        isee: isee(rng),
        children,
        demo_parent: false,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Band {
    id: TariffBandId,
    range: IseeRange,
    residency: Residency,
    meal_price: Cents,
    fixed_fee: Cents,
    exempt: bool,
}

/// A refezione band: name, ISEE min and max (cents), residency, meal price (cents), exempt.
type MealBand = (&'static str, i64, Option<i64>, Residency, i64, bool);

const MEAL_BANDS: [MealBand; 7] = [
    (
        "Fascia 1 - Esenzione (ISEE fino a 3.000 €)",
        0,
        Some(300_000),
        Residency::Resident,
        0,
        true,
    ),
    (
        "Fascia 2 (ISEE da 3.000,01 a 8.000 €)",
        300_001,
        Some(800_000),
        Residency::Resident,
        200,
        false,
    ),
    (
        "Fascia 3 (ISEE da 8.000,01 a 13.000 €)",
        800_001,
        Some(1_300_000),
        Residency::Resident,
        300,
        false,
    ),
    (
        "Fascia 4 (ISEE da 13.000,01 a 19.000 €)",
        1_300_001,
        Some(1_900_000),
        Residency::Resident,
        400,
        false,
    ),
    (
        "Fascia 5 (ISEE da 19.000,01 a 25.000 €)",
        1_900_001,
        Some(2_500_000),
        Residency::Resident,
        500,
        false,
    ),
    (
        "Fascia 6 (ISEE oltre 25.000 € o non dichiarato)",
        2_500_001,
        None,
        Residency::Resident,
        580,
        false,
    ),
    ("Non residenti", 0, None, Residency::NonResident, 580, false),
];

/// Transport bands: name, residency, monthly fee (cents).
const TRANSPORT_BANDS: [(&str, Residency, i64); 2] = [
    ("Residenti - quota mensile", Residency::Resident, 2_500),
    (
        "Non residenti - quota mensile",
        Residency::NonResident,
        3_500,
    ),
];

/// Sibling reductions on the refezione: (from rank, basis points).
const SIBLING_REDUCTIONS: [(u32, u32); 2] = [(2, 2_000), (3, 3_000)];

async fn insert_bands(
    c: &mut Conn<'_>,
    t: TenantId,
    service: refettorio_domain::ServiceId,
    specs: impl Iterator<Item = service::NewTariffBand>,
) -> Result<Vec<Band>, AppError> {
    let mut out = Vec::new();
    for b in specs {
        let id = service::insert_band(c, t, service, &b).await?;
        out.push(Band {
            id,
            range: IseeRange {
                min: b.isee_min,
                max: b.isee_max,
            },
            residency: b.residency,
            meal_price: b.meal_price,
            fixed_fee: b.fixed_fee,
            exempt: b.exempt,
        });
    }
    Ok(out)
}

fn new_guardian(g: &PlanGuardian, f: &PlanFamily) -> family::NewGuardian {
    family::NewGuardian {
        fiscal_code: g.person.cf.clone(),
        first_name: g.person.first_name.clone(),
        last_name: g.person.last_name.clone(),
        email: Some(g.email.clone()),
        phone: Some(g.phone.clone()),
        address: f.address.clone(),
        resident: f.resident,
    }
}

fn no_band() -> AppError {
    AppError::Invalid("demo: no tariff band fits".to_string())
}

/// Writes the plan; `None` when the slug is taken (the caller then rolls back).
async fn write(
    c: &mut Conn<'_>,
    plan: &Plan,
    hashes: &Hashes,
    now: jiff::Timestamp,
) -> Result<Option<TenantId>, AppError> {
    let slug = Slug::parse(DEMO_SLUG).map_err(|e| AppError::Invalid(e.to_string()))?;
    let fiscal_code = EnteFiscalCode::with_check_digit("8000215047")
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let broker = fiscal_code.as_str().to_string();
    let new_tenant = tenant::NewTenant {
        slug,
        name: DEMO_NAME.to_string(),
        fiscal_code,
        timezone: TIMEZONE.to_string(),
        cutoff_time: Time::new(9, 30, 0, 0)?,
        patron_day: Some((4, 23)),
        patron_name: Some("San Giorgio".to_string()),
        settings: tenant::TenantSettings {
            office_email: Some("ufficio.scuola@example.org".to_string()),
            office_phone: Some("+39 0123 456789".to_string()),
            citizen_local_login: true,
            // Sandbox: payments go through the local stand-in for Checkout, which plays the
            // pagoPA node against our own station. The IBAN is a made-up one with valid
            // check digits.
            pagopa: PagoPaSettings {
                mode: PagoPaMode::Sandbox,
                station_id: format!("{broker}_01"),
                broker_id: broker,
                segregation_code: SegregationCode::new(2)
                    .map_err(|e| AppError::Invalid(e.to_string()))?,
                ibans: vec![
                    Iban::parse("IT61X0306909606100000012345")
                        .map_err(|e| AppError::Invalid(e.to_string()))?,
                ],
                cbill: Some("A1B2C".to_string()),
                ..PagoPaSettings::default()
            },
            ..Default::default()
        },
    };
    let Some(t) = tenant::insert(c, &new_tenant, now).await? else {
        return Ok(None);
    };

    let year = calendar::insert_school_year(
        c,
        t,
        &calendar::NewSchoolYear {
            label: school_year_label(plan.year),
            starts_on: Date::new(plan.year, 9, 1)?,
            ends_on: Date::new(plan.last_day.year(), 8, 31)?,
            first_day: plan.first_day,
            last_day: plan.last_day,
        },
    )
    .await?;

    let mut schools: Vec<SchoolId> = Vec::with_capacity(SCHOOLS.len());
    for (name, kind, address) in SCHOOLS {
        let s = school::NewSchool {
            name: name.to_string(),
            kind,
            address: address.to_string(),
            kitchen_email: Some(KITCHEN_EMAIL.to_string()),
        };
        schools.push(school::insert_school(c, t, &s).await?);
    }
    let school_id = |i: usize| {
        schools
            .get(i)
            .copied()
            .ok_or_else(|| AppError::Invalid(format!("demo: no school {i}")))
    };
    let mut classes: Vec<ClassId> = Vec::with_capacity(plan.classes.len());
    for k in &plan.classes {
        let new = school::NewClass {
            school_year_id: year,
            school_id: school_id(k.school)?,
            name: k.name.clone(),
            canteen_weekdays: k.weekdays,
        };
        classes.push(school::insert_class(c, t, &new).await?);
    }

    for &(school, from, to, kind, reason) in &plan.closures {
        let scope = match school {
            Some(i) => ClosureScope::School(school_id(i)?),
            None => ClosureScope::Tenant,
        };
        let closure = Closure {
            scope,
            from,
            to,
            kind,
            reason: reason.to_string(),
        };
        calendar::insert_closure(c, t, year, &closure, now).await?;
    }

    let meals = service::insert_service(
        c,
        t,
        year,
        ServiceKind::Refezione,
        Billing::Prepaid,
        ServiceKind::Refezione.label_it(),
    )
    .await?;
    let meal_bands = insert_bands(
        c,
        t,
        meals,
        MEAL_BANDS
            .iter()
            .map(
                |&(name, min, max, residency, price, exempt)| service::NewTariffBand {
                    name: name.to_string(),
                    isee_min: Cents(min),
                    isee_max: max.map(Cents),
                    residency,
                    meal_price: Cents(price),
                    fixed_fee: Cents::ZERO,
                    exempt,
                },
            ),
    )
    .await?;
    for (rank, bp) in SIBLING_REDUCTIONS {
        service::set_sibling_reduction(c, t, meals, rank, bp).await?;
    }
    let bus = service::insert_service(
        c,
        t,
        year,
        ServiceKind::Trasporto,
        Billing::Postpaid,
        ServiceKind::Trasporto.label_it(),
    )
    .await?;
    let bus_bands = insert_bands(
        c,
        t,
        bus,
        TRANSPORT_BANDS
            .iter()
            .map(|&(name, residency, fee)| service::NewTariffBand {
                name: name.to_string(),
                isee_min: Cents::ZERO,
                isee_max: None,
                residency,
                meal_price: Cents::ZERO,
                fixed_fee: Cents(fee),
                exempt: false,
            }),
    )
    .await?;

    let mut diets: Vec<DietId> = Vec::with_capacity(DIETS.len());
    for (code, name, kind, _) in DIETS {
        diets.push(service::insert_diet(c, t, code, name, kind).await?);
    }

    // The platform administrator, unless one with that username is already there.
    refettorio_db::platform::insert_admin(c, DEMO_ADMIN_USER, DEMO_ADMIN_NAME, &hashes.admin)
        .await?;
    for ((username, _, display, role), hash) in DEMO_STAFF.iter().zip(&hashes.staff) {
        let id = staff::insert_staff(c, t, username, display, *role, hash).await?;
        if *role == StaffRole::School {
            // The school's secretary sees the primary school Gianni Rodari only.
            staff::add_staff_school(c, t, id, school_id(DEMO_SCHOOL)?).await?;
        }
    }

    let key = |b: &Band| (b.range, b.residency);
    let mut card = 0u32;
    let mut opening = Vec::with_capacity(plan.families.len());
    let mut demo_family = None;
    for (index, f) in plan.families.iter().enumerate() {
        let hash = f.demo_parent.then_some(hashes.parent.as_str());
        let payer = family::insert_guardian(c, t, &new_guardian(&f.payer, f), hash).await?;
        let fam = family::insert_family(c, t, payer, f.isee).await?;
        opening.push((fam, opening_balance(index, f.demo_parent)));
        if f.demo_parent {
            demo_family = Some(fam);
        }
        if let Some((g, can_see_payments)) = &f.delegate {
            let g = family::insert_guardian(c, t, &new_guardian(g, f), None).await?;
            family::add_delegate(c, t, fam, g, *can_see_payments).await?;
        }
        let meal_band = band_for(&meal_bands, f.isee, f.resident, key).ok_or_else(no_band)?;
        let bus_band = band_for(&bus_bands, f.isee, f.resident, key).ok_or_else(no_band)?;
        for (i, child) in f.children.iter().enumerate() {
            let pupil = family::insert_pupil(
                c,
                t,
                &family::NewPupil {
                    family_id: fam,
                    fiscal_code: child.cf.clone(),
                    first_name: child.first_name.clone(),
                    last_name: child.last_name.clone(),
                    birth_date: child.birth,
                },
            )
            .await?;
            let spec = plan
                .classes
                .get(child.class)
                .ok_or_else(|| AppError::Invalid("demo: no class".to_string()))?;
            let school = school_id(spec.school)?;
            let class = classes
                .get(child.class)
                .copied()
                .ok_or_else(|| AppError::Invalid("demo: no class".to_string()))?;
            let rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let band = BandPrice {
                meal_price: meal_band.meal_price,
                exempt: meal_band.exempt,
            };
            let meal_price =
                pricing::meal_price(band, rank, &SIBLING_REDUCTIONS).ok_or_else(no_band)?;
            card += 1;
            service::insert_enrolment(
                c,
                t,
                &service::NewEnrolment {
                    pupil_id: pupil,
                    service_id: meals,
                    school_id: school,
                    class_id: class,
                    tariff_band_id: meal_band.id,
                    meal_price,
                    fixed_fee: meal_band.fixed_fee,
                    diet_id: child.diet.and_then(|d| diets.get(d).copied()),
                    state: if child.active {
                        EnrolmentState::Attivo
                    } else {
                        EnrolmentState::Disattivo
                    },
                    start_date: plan.first_day,
                    card_code: format!("ESE-{card:04}"),
                },
            )
            .await?;
            if child.transport {
                card += 1;
                service::insert_enrolment(
                    c,
                    t,
                    &service::NewEnrolment {
                        pupil_id: pupil,
                        service_id: bus,
                        school_id: school,
                        class_id: class,
                        tariff_band_id: bus_band.id,
                        meal_price: Cents::ZERO,
                        fixed_fee: bus_band.fixed_fee,
                        diet_id: None,
                        state: EnrolmentState::Attivo,
                        start_date: plan.first_day,
                        card_code: format!("ESE-{card:04}"),
                    },
                )
                .await?;
            }
        }
    }
    // The demo stands for a running service: the school has validated its enrolments.
    refettorio_db::registry::validation::validate_all(c, t, "demo", now).await?;
    // Each family's meal account starts with last year's credit (a few with a debt), so the
    // balances look like a running service.
    refettorio_db::meals::ensure_accounts(c, t, meals, now).await?;
    for (fam, amount) in opening {
        let Some(account) = refettorio_db::meals::account_of(c, t, fam, meals).await? else {
            continue;
        };
        let key = refettorio_domain::ledger::Key::DemoCarryOver {
            account: account.id,
        };
        refettorio_db::meals::insert_entry(
            c,
            t,
            &refettorio_db::meals::NewEntry {
                account: account.id,
                kind: refettorio_domain::EntryKind::CarryOver,
                amount,
                day: plan.first_day,
                pupil: None,
                enrolment: None,
                school: None,
                class: None,
                bland: None,
                diet: None,
                reverses: None,
                reference: None,
                key: &key,
                created_by: "demo",
                reason: "Saldo dell'anno scolastico precedente",
            },
            now,
        )
        .await?;
    }
    write_content(c, t, plan, demo_family, now).await?;
    Ok(Some(t))
}

/// The public pages' news and documents, and a letter to the demo family.
async fn write_content(
    c: &mut Conn<'_>,
    t: TenantId,
    plan: &Plan,
    demo_family: Option<FamilyId>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    use refettorio_db::content::{self, NewDocument, NewNews};
    let opening = plan.first_day.checked_sub(jiff::ToSpan::days(10))?;
    content::insert_news(
        c,
        t,
        &NewNews {
            title: "Al via la refezione scolastica",
            body: "Il servizio di refezione comincia con il primo giorno di scuola. I pasti sono prenotati in \
                   automatico: se tuo figlio è assente, disdici il pasto dall'area personale entro l'ora limite.",
            published_on: opening,
            visible_from: opening,
            visible_to: None,
        },
        now,
    )
    .await?;
    let menu_day = plan.first_day.checked_add(jiff::ToSpan::days(50))?;
    content::insert_news(
        c,
        t,
        &NewNews {
            title: "Nuovo menù autunno-inverno",
            body: "Dal 2 novembre è in vigore il menù autunno-inverno, approvato dal servizio di igiene degli \
                   alimenti dell'ASL. Lo trovi tra i documenti.",
            published_on: menu_day,
            visible_from: menu_day,
            visible_to: None,
        },
        now,
    )
    .await?;
    let mut tariffs = String::from("Tariffe della refezione scolastica (costo di un pasto)\n\n");
    for (name, _, _, _, price, _) in MEAL_BANDS {
        tariffs.push_str(&format!("{name}: {}\n", Cents(price).format_it()));
    }
    tariffs.push_str("\nRiduzioni per fratelli: dal secondo figlio iscritto.\n");
    let regulation = "Regolamento del servizio di refezione scolastica\n\n\
        Art. 1 - Il servizio è prepagato: ogni pasto consumato è addebitato sul conto della famiglia.\n\
        Art. 2 - Il pasto è prenotato in automatico in ogni giorno di mensa; la famiglia lo disdice \
        entro l'ora limite del giorno stesso.\n\
        Art. 3 - Il saldo negativo non sospende il servizio: il Comune invia un sollecito.\n";
    let privacy = "Informativa sul trattamento dei dati personali (art. 13 del Regolamento UE 2016/679)\n\n\
        Titolare del trattamento: Comune di Esempio. I dati dei genitori e degli alunni sono trattati \
        per l'erogazione dei servizi scolastici e non sono comunicati a terzi, salvo obblighi di legge.\n";
    let docs = [
        (
            "regolamento",
            "Regolamento del servizio di refezione",
            "regolamento-refezione.txt",
            regulation.to_string(),
        ),
        (
            "tariffe",
            "Tariffe della refezione scolastica",
            "tariffe-refezione.txt",
            tariffs,
        ),
        (
            "privacy",
            "Informativa privacy",
            "informativa-privacy.txt",
            privacy.to_string(),
        ),
    ];
    for (category, title, file_name, text) in &docs {
        content::insert_document(
            c,
            t,
            &NewDocument {
                family: None,
                category,
                title,
                file_name,
                content_type: "text/plain; charset=utf-8",
                content: text.as_bytes(),
                published_on: opening,
            },
            now,
        )
        .await?;
    }
    if let Some(fam) = demo_family {
        let letter = "Gentile famiglia,\n\ncon l'inizio dell'anno scolastico riparte la refezione. Il saldo \
            dell'anno precedente è stato riportato sul conto. Buon anno scolastico!\n\nL'Ufficio Scuola\n";
        content::insert_document(
            c,
            t,
            &NewDocument {
                family: Some(fam),
                category: "comunicazione",
                title: "Comunicazione di inizio anno scolastico",
                file_name: "comunicazione-inizio-anno.txt",
                content_type: "text/plain; charset=utf-8",
                content: letter.as_bytes(),
                published_on: plan.first_day,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Last year's balance of the `index`-th family: from -5,00 € to 54,50 €, 45,00 € for the demo
/// parent.
fn opening_balance(index: usize, demo_parent: bool) -> Cents {
    if demo_parent {
        return Cents(4500);
    }
    let step = i64::try_from(index.wrapping_mul(7919) % 120).unwrap_or(0);
    Cents((step - 10) * 50)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn calendar_rules_over_many_years() {
        for y in 2024..2060 {
            let p = plan(y).unwrap();
            assert_eq!(p.first_day.weekday(), Weekday::Monday);
            assert!(p.first_day >= date(y, 9, 10) && p.first_day <= date(y, 9, 16));
            assert!(!matches!(
                p.last_day.weekday(),
                Weekday::Saturday | Weekday::Sunday
            ));
            assert!(p.last_day >= date(y + 1, 6, 7) && p.last_day <= date(y + 1, 6, 9));
            for (_, from, to, _, reason) in &p.closures {
                assert!(from <= to, "{y} {reason}");
                assert!(*from > p.first_day && *to < p.last_day, "{y} {reason}");
            }
        }
    }

    #[test]
    fn plan_is_deterministic_and_plausible() {
        let a = plan(2026).unwrap();
        let b = plan(2026).unwrap();
        let codes = |p: &Plan| -> Vec<String> {
            p.families
                .iter()
                .flat_map(|f| {
                    let mut v = vec![f.payer.person.cf.to_string()];
                    v.extend(
                        f.children
                            .iter()
                            .filter_map(|c| c.cf.as_ref())
                            .map(|c| c.to_string()),
                    );
                    v
                })
                .collect()
        };
        assert_eq!(codes(&a), codes(&b));
        let pupils: usize = a.families.iter().map(|f| f.children.len()).sum();
        assert!((350..=450).contains(&pupils), "{pupils}");
        assert_eq!(a.classes.len(), 21);
        let with_siblings = a.families.iter().filter(|f| f.children.len() > 1).count();
        assert!((60..=120).contains(&with_siblings), "{with_siblings}");
        let delegates = a.families.iter().filter(|f| f.delegate.is_some()).count();
        assert!((90..=150).contains(&delegates), "{delegates}");
        let undeclared = a.families.iter().filter(|f| f.isee.is_none()).count();
        assert!((15..=50).contains(&undeclared), "{undeclared}");
        let no_cf = a
            .families
            .iter()
            .flat_map(|f| &f.children)
            .filter(|c| c.cf.is_none())
            .count();
        assert!((3..=8).contains(&no_cf), "{no_cf}");
        // Ages fit the school: a pupil of level l is born in 2026 - 3 - l.
        for f in &a.families {
            for c in &f.children {
                let age = 2026 - c.birth.year();
                let kind = SCHOOLS[a.classes[c.class].school].1;
                let ok = match kind {
                    SchoolKind::Infanzia => (3..=5).contains(&age),
                    SchoolKind::Primaria => (6..=10).contains(&age),
                    _ => (11..=13).contains(&age),
                };
                assert!(ok, "{} {} {age}", c.first_name, c.last_name);
            }
            for w in f.children.windows(2) {
                assert!(w[0].birth < w[1].birth, "eldest first");
            }
        }
    }

    #[test]
    fn email_parts() {
        assert_eq!(email_part("Nicolò"), "nicolo");
        assert_eq!(email_part("D'Angelo"), "dangelo");
        assert_eq!(email_part("De Santis"), "desantis");
    }
}
