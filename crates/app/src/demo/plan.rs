//! The demo: the plan: everything to write, computed before touching the database.

use super::*;

pub(super) struct Plan {
    pub(super) year: i16,
    pub(super) first_day: Date,
    pub(super) last_day: Date,
    pub(super) closures: Vec<(Option<usize>, Date, Date, ClosureKind, &'static str)>,
    pub(super) classes: Vec<ClassSpec>,
    pub(super) families: Vec<PlanFamily>,
}

pub(super) struct Person {
    pub(super) cf: CodiceFiscale,
    pub(super) first_name: String,
    pub(super) last_name: String,
}

pub(super) struct PlanGuardian {
    pub(super) person: Person,
    pub(super) email: String,
    pub(super) phone: String,
}

pub(super) struct PlanFamily {
    pub(super) payer: PlanGuardian,
    /// The other guardian and whether they may see payments.
    pub(super) delegate: Option<(PlanGuardian, bool)>,
    pub(super) address: String,
    pub(super) resident: bool,
    pub(super) isee: Option<Cents>,
    /// Eldest first (the order of the sibling reduction).
    pub(super) children: Vec<PlanChild>,
    pub(super) demo_parent: bool,
}

pub(super) struct PlanChild {
    pub(super) cf: Option<CodiceFiscale>,
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) birth: Date,
    pub(super) class: usize,
    pub(super) diet: Option<usize>,
    pub(super) active: bool,
    pub(super) transport: bool,
}

pub(super) fn add_days(d: Date, n: i64) -> Result<Date, AppError> {
    Ok(d.checked_add(Span::new().try_days(n)?)?)
}

pub(super) fn on_or_after(d: Date, wd: Weekday) -> Result<Date, AppError> {
    let offset = (wd.to_monday_zero_offset() - d.weekday().to_monday_zero_offset()).rem_euclid(7);
    add_days(d, i64::from(offset))
}

pub(super) fn plan(year: i16) -> Result<Plan, AppError> {
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
pub(super) fn person(
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

pub(super) fn demo_family(
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

pub(super) fn weighted<'a, T>(
    rng: &mut ChaCha8Rng,
    items: &'a [T],
    weight: impl Fn(&T) -> u32,
) -> &'a T {
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

pub(super) fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

pub(super) fn random_date_in(rng: &mut ChaCha8Rng, year: i16) -> Result<Date, AppError> {
    let month = rng.random_range(1..=12);
    let days = Date::new(year, month, 1)?.days_in_month();
    Ok(Date::new(year, month, rng.random_range(1..=days))?)
}

/// ASCII, lower case, no spaces or apostrophes: "Nicolò", "D'Angelo" → "nicolo", "dangelo".
pub(super) fn email_part(s: &str) -> String {
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

pub(super) fn phone(rng: &mut ChaCha8Rng) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).copied().unwrap_or(333);
    format!("+39 {prefix} {:07}", rng.random_range(0..10_000_000u32))
}

pub(super) fn isee(rng: &mut ChaCha8Rng) -> Option<Cents> {
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

pub(super) fn random_family(
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
