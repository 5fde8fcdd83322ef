//! What a family sees in its personal area: the children with their services and today's
//! meal, the meal calendar, the accounts with their movements and summary. Every function
//! starts from the logged-in guardian and reaches only that guardian's families: an id of
//! another family is answered as if it did not exist.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::booking;
use refettorio_db::ledger;
use refettorio_db::ledger::Account;
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::family::{self, Family, Link, Pupil};
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::registry::service::{self, Diet, Enrolment, Service, TariffBand};
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{
    AccountId, Attending, AuditAction, AuditEntry, AuditObject, Billing, Cents, EnrolmentId,
    EnrolmentState, EntryKind, FamilyId, GuardianId, MealChoice, NoMeal, ObjectKind,
    SchoolCalendar, deadline, meals_left, today,
};

use crate::{AppError, Ctx, FieldError, auth};

/// What the personal area shows of the guardian, their contacts and the meals charged.
pub use refettorio_db::auth::Contacts;
pub use refettorio_db::ledger::Entry;
pub use refettorio_db::registry::family::Guardian;

/// The families a guardian belongs to, and whether payments may be shown for each.
#[derive(Debug, Clone)]
pub struct Access {
    pub families: Vec<(Family, Link)>,
}

impl Access {
    pub fn family(&self, id: FamilyId) -> Option<&(Family, Link)> {
        self.families.iter().find(|(f, _)| f.id == id)
    }

    pub fn sees_payments(&self, id: FamilyId) -> bool {
        matches!(
            self.family(id),
            Some((
                _,
                Link::Payer
                    | Link::Delegate {
                        can_see_payments: true
                    }
            ))
        )
    }
}

/// What a logged-in guardian reaches. A self-registered login that nobody has proven to be
/// the registry's guardian of its fiscal code (see `auth::register`) reaches no family, even
/// when the office has added that fiscal code to one, until the office confirms it or an
/// activation code is used.
pub async fn access(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    guardian: GuardianId,
) -> Result<Access, AppError> {
    let proven =
        refettorio_db::auth::login_unproven(conn, tenant.id, guardian).await? == Some(false);
    let families = if proven {
        family::families_of_guardian(conn, tenant.id, guardian).await?
    } else {
        Vec::new()
    };
    Ok(Access { families })
}

/// The guardian of a personal-area session and what they reach; `None` when the guardian is
/// no longer on file.
pub async fn guardian_access(
    ctx: Ctx<'_>,
    guardian: GuardianId,
) -> Result<Option<(Guardian, Access)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let Some(g) = family::guardian(c, ctx.tenant.id, guardian).await? else {
        return Ok(None);
    };
    let access = access(c, ctx.tenant, guardian).await?;
    Ok(Some((g, access)))
}

/// The contacts of a guardian, as the profile shows them (`None`: no such guardian).
pub async fn contacts(ctx: Ctx<'_>, guardian: GuardianId) -> Result<Option<Contacts>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(refettorio_db::auth::contacts(&mut h.conn(), ctx.tenant.id, guardian).await?)
}

/// The contacts form of the profile, as typed.
#[derive(Debug, Clone, Default)]
pub struct ContactsInput {
    pub email: String,
    pub phone: String,
    pub notify_email: bool,
    pub notify_sms: bool,
    /// Messages in the IO app; `None` when the municipality does not use App IO (the form has
    /// no such box, and the stored choice stays as it is).
    pub notify_app_io: Option<bool>,
}

/// A phone number without spaces, or `None` when blank.
fn check_phone(p: &str) -> Result<Option<String>, String> {
    let compact: String = p.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok(None);
    }
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(Some(compact))
    } else {
        Err("Numero di telefono non valido: solo cifre, eventualmente con il prefisso +39.".into())
    }
}

/// Checks the contacts form: the contacts to store, or the field errors.
pub fn check_contacts(f: &ContactsInput) -> Result<Contacts, Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = if f.email.trim().is_empty() {
        None
    } else {
        match auth::check_email(&f.email) {
            Ok(e) => Some(e),
            Err(m) => {
                errors.push(FieldError {
                    field: "email",
                    message: m,
                });
                None
            }
        }
    };
    let phone = match check_phone(&f.phone) {
        Ok(p) => p,
        Err(m) => {
            errors.push(FieldError {
                field: "phone",
                message: m,
            });
            None
        }
    };
    let k = Contacts {
        email,
        phone,
        notify_email: f.notify_email,
        notify_sms: f.notify_sms,
        notify_app_io: f.notify_app_io.unwrap_or(false),
    };
    if k.notify_email && k.email.is_none() && errors.is_empty() {
        errors.push(FieldError {
            field: "email",
            message: "Per ricevere le comunicazioni per e-mail indica un indirizzo.".into(),
        });
    }
    if k.notify_sms && k.phone.is_none() && errors.is_empty() {
        errors.push(FieldError {
            field: "phone",
            message: "Per ricevere gli SMS indica un numero di cellulare.".into(),
        });
    }
    if errors.is_empty() {
        Ok(k)
    } else {
        Err(errors)
    }
}

/// The guardian changes their own contacts in the profile: checked, stored and audited in one
/// transaction. A form that does not check is `AppError::Fields` and writes nothing.
pub async fn save_contacts(
    ctx: Ctx<'_>,
    guardian: GuardianId,
    f: &ContactsInput,
) -> Result<(), AppError> {
    let mut k = check_contacts(f).map_err(AppError::Fields)?;
    let mut tx = ctx.db.begin().await?;
    let conn = &mut tx.conn();
    let before = refettorio_db::auth::contacts(conn, ctx.tenant.id, guardian).await?;
    if f.notify_app_io.is_none() {
        k.notify_app_io = before.as_ref().is_some_and(|b| b.notify_app_io);
    }
    refettorio_db::auth::set_contacts(conn, ctx.tenant.id, guardian, &k).await?;
    refettorio_db::audit::record(
        conn,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::UpdateContacts,
            AuditObject {
                kind: ObjectKind::Guardian,
                id: Some(guardian.get()),
            },
        )
        .before(before.map(|b| contacts_json(&b)))
        .after(contacts_json(&k)),
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the audit log keeps of a guardian's contacts.
fn contacts_json(k: &refettorio_db::auth::Contacts) -> serde_json::Value {
    serde_json::json!({
        "email": k.email,
        "phone": k.phone,
        "notify_email": k.notify_email,
        "notify_sms": k.notify_sms,
        "notify_app_io": k.notify_app_io,
    })
}

/// Today's meal of an enrolment in refezione.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TodayMeal {
    /// A canteen day: the choice, and whether it can still be changed.
    Canteen {
        choice: MealChoice,
        changeable: bool,
    },
    /// No meal today, with the reason.
    NoMeal(String),
}

/// One service of a child, with everything its card shows.
#[derive(Debug, Clone)]
pub struct ChildService {
    pub enrolment: Enrolment,
    pub service: Service,
    pub school: School,
    pub class: Class,
    pub band: Option<TariffBand>,
    pub diet: Option<Diet>,
    /// The meal the card speaks of (refezione only).
    pub meal: Option<CardMeal>,
    pub cutoff: String,
}

/// The meal a child's card speaks of: today's until today's cut-off, then tomorrow's (in the
/// evening the parent thinks of tomorrow).
#[derive(Debug, Clone)]
pub struct CardMeal {
    pub day: Date,
    /// `day` is today; otherwise it is tomorrow.
    pub is_today: bool,
    pub meal: TodayMeal,
}

impl CardMeal {
    /// "Oggi" or "Domani".
    pub fn when_it(&self) -> &'static str {
        if self.is_today { "Oggi" } else { "Domani" }
    }

    /// "oggi" or "domani".
    pub fn when_lower_it(&self) -> &'static str {
        if self.is_today { "oggi" } else { "domani" }
    }

    /// The meal can still be cancelled with one tap (it is booked and the cut-off is ahead).
    pub fn cancellable(&self) -> bool {
        matches!(
            self.meal,
            TodayMeal::Canteen {
                choice,
                changeable: true
            } if choice != MealChoice::Absent
        )
    }

    /// The meal was cancelled and can still be put back.
    pub fn restorable(&self) -> bool {
        matches!(
            self.meal,
            TodayMeal::Canteen {
                choice: MealChoice::Absent,
                changeable: true
            }
        )
    }
}

#[derive(Debug, Clone)]
pub struct Child {
    pub pupil: Pupil,
    pub services: Vec<ChildService>,
}

/// A prepaid account as the family sees it.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub service: Service,
    pub year: SchoolYear,
    pub balance: Cents,
    /// The meal prices of the family's active enrolments in the service, summed.
    pub daily_cost: Cents,
    /// Days of meals the balance still pays for (None when meals are free).
    pub meals_left: Option<i64>,
    pub low: bool,
}

/// The home of the personal area.
#[derive(Debug, Clone)]
pub struct Overview {
    pub today: Date,
    pub children: Vec<Child>,
    pub accounts: Vec<AccountView>,
}

/// The school year in course (or the next one, before it starts).
async fn current_year(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
) -> Result<Option<SchoolYear>, AppError> {
    if let Some(y) = calendar::school_year_at(conn, tenant.id, day).await? {
        return Ok(Some(y));
    }
    Ok(calendar::school_years(conn, tenant.id)
        .await?
        .into_iter()
        .filter(|y| y.ends_on >= day)
        .min_by_key(|y| y.starts_on))
}

/// Everything the home and the children's page need, for the current school year.
pub async fn overview(ctx: Ctx<'_>, access: &Access) -> Result<Overview, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let mut out = Overview {
        today: day,
        children: Vec::new(),
        accounts: Vec::new(),
    };
    let Some(year) = current_year(c, tenant, day).await? else {
        return Ok(out);
    };
    let services = service::services(c, tenant.id, year.id).await?;
    let cal = calendar::load_calendar(c, tenant, &year).await?;
    let diets = service::diets(c, tenant.id).await?;
    let mut bands: BTreeMap<i64, Vec<TariffBand>> = BTreeMap::new();
    for s in &services {
        bands.insert(s.id.get(), service::bands(c, tenant.id, s.id).await?);
    }
    for (fam, _) in &access.families {
        let mut daily: BTreeMap<i64, Cents> = BTreeMap::new();
        for pupil in family::pupils_of_family(c, tenant.id, fam.id).await? {
            let mut child = Child {
                pupil,
                services: Vec::new(),
            };
            for e in service::enrolments_of_pupil(c, tenant.id, child.pupil.id).await? {
                let Some(svc) = services.iter().find(|s| s.id == e.service_id) else {
                    continue; // another school year
                };
                if e.state == EnrolmentState::Attivo {
                    let d = daily.entry(svc.id.get()).or_insert(Cents(0));
                    *d = d.checked_add(e.meal_price).unwrap_or(*d);
                }
                let (Some(school), Some(class)) = (
                    school::school(c, tenant.id, e.school_id).await?,
                    school::class(c, tenant.id, e.class_id).await?,
                ) else {
                    continue;
                };
                let cutoff = tenant.booking_rules(school.kind).cutoff;
                let open = |d: Date| deadline(d, cutoff, &tenant.timezone).is_some_and(|t| now < t);
                let meal = if svc.kind.has_meals() {
                    let (meal_day, is_today) = if open(day) {
                        (day, true)
                    } else {
                        (
                            day.tomorrow()
                                .map_err(|_| AppError::Invalid("Data fuori scala.".into()))?,
                            false,
                        )
                    };
                    Some(CardMeal {
                        day: meal_day,
                        is_today,
                        meal: today_meal(c, tenant, &cal, &e, &class, meal_day, open(meal_day))
                            .await?,
                    })
                } else {
                    None
                };
                child.services.push(ChildService {
                    band: bands
                        .get(&svc.id.get())
                        .and_then(|b| b.iter().find(|b| b.id == e.tariff_band_id))
                        .cloned(),
                    diet: e
                        .diet_id
                        .and_then(|d| diets.iter().find(|x| x.id == d))
                        .cloned(),
                    service: svc.clone(),
                    school,
                    class,
                    meal,
                    cutoff: cutoff.strftime("%H:%M").to_string(),
                    enrolment: e,
                });
            }
            out.children.push(child);
        }
        if !access.sees_payments(fam.id) {
            continue;
        }
        for svc in services.iter().filter(|s| s.billing == Billing::Prepaid) {
            let Some(account) = ledger::account_of(c, tenant.id, fam.id, svc.id).await? else {
                continue;
            };
            let balance = ledger::balance(c, tenant.id, account.id).await?;
            let daily_cost = daily.get(&svc.id.get()).copied().unwrap_or(Cents(0));
            out.accounts.push(account_view(
                tenant,
                account,
                svc.clone(),
                year.clone(),
                balance,
                daily_cost,
            ));
        }
    }
    Ok(out)
}

fn account_view(
    tenant: &Tenant,
    account: Account,
    service: Service,
    year: SchoolYear,
    balance: Cents,
    daily_cost: Cents,
) -> AccountView {
    let left = (daily_cost.get() > 0).then(|| meals_left(balance, daily_cost));
    AccountView {
        low: daily_cost.get() > 0
            && refettorio_domain::is_low(balance, daily_cost, tenant.settings.low_balance_meals),
        account,
        service,
        year,
        balance,
        daily_cost,
        meals_left: left,
    }
}

/// Today's meal of an enrolment; `changeable` while today's cut-off has not passed.
async fn today_meal(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    cal: &SchoolCalendar,
    e: &Enrolment,
    class: &Class,
    day: Date,
    changeable: bool,
) -> Result<TodayMeal, AppError> {
    let why = match attending(e, class).canteen_day(cal, day) {
        Ok(()) => None,
        Err(NoMeal::Inactive) => Some("servizio non attivo".to_string()),
        Err(NoMeal::NotStarted) => Some("il servizio non è ancora iniziato".to_string()),
        Err(NoMeal::NoSchool(status)) => Some(status.label_it()),
        Err(NoMeal::NotItsWeekday) => Some("la classe non ha il rientro oggi".to_string()),
    };
    if let Some(why) = why {
        return Ok(TodayMeal::NoMeal(why));
    }
    let choice = booking::bookings(c, tenant.id, e.id, day, day)
        .await?
        .into_iter()
        .next()
        .map_or(MealChoice::Present, |(_, ch)| ch);
    Ok(TodayMeal::Canteen { choice, changeable })
}

/// The enrolment in its class, as the rule of who eats on a day sees it.
fn attending(e: &Enrolment, class: &Class) -> Attending {
    Attending {
        state: e.state,
        start: e.start_date,
        school: class.school_id,
        class: class.id,
        weekdays: class.canteen_weekdays,
    }
}

/// An enrolment of one of the guardian's children, with its pupil; NotFound otherwise.
pub async fn enrolment_of(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    access: &Access,
    id: EnrolmentId,
) -> Result<(Enrolment, Pupil), AppError> {
    let not_found = || AppError::NotFound("Iscrizione non trovata.".into());
    let e = service::enrolment(conn, tenant.id, id)
        .await?
        .ok_or_else(not_found)?;
    let p = family::pupil(conn, tenant.id, e.pupil_id)
        .await?
        .ok_or_else(not_found)?;
    if access.family(p.family_id).is_none() {
        return Err(not_found());
    }
    Ok((e, p))
}

/// One day of the meal calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: Date,
    pub state: DayState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayState {
    /// A canteen day: the choice, and why it can't be changed (None: it can).
    Canteen {
        choice: MealChoice,
        locked: Option<String>,
    },
    /// No canteen that day, with the reason.
    NoCanteen(String),
}

/// A month of an enrolment's meal calendar.
#[derive(Debug, Clone)]
pub struct MonthView {
    pub enrolment: Enrolment,
    pub pupil: Pupil,
    pub school: School,
    pub class: Class,
    pub first: Date,
    pub days: Vec<CalendarDay>,
    pub cutoff: String,
    pub today: Date,
    pub bland_enabled: bool,
}

impl MonthView {
    /// The current choice of `day`, if it is a canteen day of the month that can still change.
    pub fn changeable_choice(&self, day: Date) -> Option<MealChoice> {
        self.days.iter().find_map(|d| match &d.state {
            DayState::Canteen {
                choice,
                locked: None,
            } if d.date == day => Some(*choice),
            _ => None,
        })
    }

    /// The first day of the month on or after `from` whose meal can still change, with its
    /// current choice: what the change form proposes (never a day without a meal).
    pub fn next_changeable(&self, from: Date) -> Option<(Date, MealChoice)> {
        self.days
            .iter()
            .filter(|d| d.date >= from)
            .find_map(|d| self.changeable_choice(d.date).map(|c| (d.date, c)))
    }
}

/// One of the guardian's children's enrolments, with the child (`NotFound` for another
/// family's).
pub async fn enrolment(
    ctx: Ctx<'_>,
    access: &Access,
    id: EnrolmentId,
) -> Result<(Enrolment, Pupil), AppError> {
    let mut h = ctx.db.acquire().await?;
    enrolment_of(&mut h.conn(), ctx.tenant, access, id).await
}

/// The calendar of `month` (its first day) for an enrolment in refezione.
pub async fn month(
    ctx: Ctx<'_>,
    access: &Access,
    id: EnrolmentId,
    first: Date,
) -> Result<MonthView, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (e, pupil) = enrolment_of(c, tenant, access, id).await?;
    let not_found = || AppError::NotFound("Iscrizione non trovata.".into());
    let school = school::school(c, tenant.id, e.school_id)
        .await?
        .ok_or_else(not_found)?;
    let class = school::class(c, tenant.id, e.class_id)
        .await?
        .ok_or_else(not_found)?;
    let year = calendar::school_year(c, tenant.id, class.school_year_id)
        .await?
        .ok_or_else(not_found)?;
    let cal = calendar::load_calendar(c, tenant, &year).await?;
    let rules = tenant.booking_rules(school.kind);
    let first = first.first_of_month();
    let last = first.last_of_month();
    let choices: BTreeMap<Date, MealChoice> = booking::bookings(c, tenant.id, e.id, first, last)
        .await?
        .into_iter()
        .collect();
    let who = attending(&e, &class);
    let mut days = Vec::new();
    let mut d = first;
    while d <= last {
        let state = match who.canteen_day(&cal, d) {
            Ok(()) => {
                let locked = match rules.check_day(now, &tenant.timezone, d) {
                    Ok(()) => None,
                    Err(refettorio_domain::BookingError::TooFarAhead { max_days }) => {
                        Some(format!("modificabile al massimo {max_days} giorni prima"))
                    }
                    Err(_) => Some("ora limite passata".to_string()),
                };
                DayState::Canteen {
                    choice: choices.get(&d).copied().unwrap_or(MealChoice::Present),
                    locked,
                }
            }
            Err(NoMeal::Inactive) => DayState::NoCanteen("servizio non attivo".into()),
            Err(NoMeal::NotStarted) => DayState::NoCanteen("prima dell'inizio del servizio".into()),
            Err(NoMeal::NoSchool(status)) => DayState::NoCanteen(status.label_it()),
            Err(NoMeal::NotItsWeekday) => DayState::NoCanteen("nessun rientro".into()),
        };
        days.push(CalendarDay { date: d, state });
        d = d.checked_add(1.day())?;
    }
    Ok(MonthView {
        cutoff: rules.cutoff.strftime("%H:%M").to_string(),
        bland_enabled: rules.bland_enabled,
        enrolment: e,
        pupil,
        school,
        class,
        first,
        days,
        today: day,
    })
}

/// Changes meals of one of the guardian's children (a delegate may too).
pub async fn change(
    ctx: Ctx<'_>,
    access: &Access,
    id: EnrolmentId,
    from: Date,
    to: Date,
    choice: MealChoice,
) -> Result<Vec<Date>, AppError> {
    let (db, tenant) = (ctx.db, ctx.tenant);
    let mut h = db.acquire().await?;
    let (e, _) = enrolment_of(&mut h.conn(), tenant, access, id).await?;
    drop(h);
    crate::booking::change_meals(ctx, &e, from, to, choice).await
}

/// A movement of an account, described for the family.
#[derive(Debug, Clone)]
pub struct Movement {
    pub entry: Entry,
    pub description: String,
}

/// The summary families know from Halley.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Meals charged, net of reversals (negative or zero).
    pub consumed: Cents,
    pub meals_consumed: i64,
    /// Recharges paid with a pagoPA notice (reference starting with a notice number).
    pub paid_notice: Cents,
    /// Other recharges (spontaneous payments, office entries).
    pub paid_spontaneous: Cents,
    /// The carry-over from the previous year (positive: credit; negative: debt).
    pub carry_over: Cents,
    /// Adjustments, refunds and transfers.
    pub other: Cents,
    pub balance: Cents,
}

#[derive(Debug, Clone)]
pub struct PaymentsView {
    pub account: AccountView,
    pub family: FamilyId,
    pub movements: Vec<Movement>,
    pub summary: Summary,
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// Every prepaid account the guardian may see, for the year selector.
    pub others: Vec<(AccountId, String)>,
    pub updated_at: jiff::Timestamp,
}

/// The accounts (all years) the guardian may see, newest year first.
pub async fn visible_accounts(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    access: &Access,
) -> Result<Vec<(Account, Service, SchoolYear)>, AppError> {
    let years = calendar::school_years(conn, tenant.id).await?;
    let mut out = Vec::new();
    for y in years.iter().rev() {
        for svc in service::services(conn, tenant.id, y.id).await? {
            if svc.billing != Billing::Prepaid {
                continue;
            }
            for (fam, _) in &access.families {
                if !access.sees_payments(fam.id) {
                    continue;
                }
                if let Some(a) = ledger::account_of(conn, tenant.id, fam.id, svc.id).await? {
                    out.push((a, svc.clone(), y.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The movements of an account (optionally within `from..=to`) and its summary.
pub async fn payments(
    ctx: Ctx<'_>,
    access: &Access,
    account: Option<AccountId>,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Option<PaymentsView>, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let visible = visible_accounts(c, tenant, access).await?;
    let chosen = match account {
        Some(id) => visible
            .iter()
            .find(|(a, _, _)| a.id == id)
            .cloned()
            .ok_or_else(|| AppError::NotFound("Conto non trovato.".into()))?,
        None => match visible.first() {
            Some(v) => v.clone(),
            None => return Ok(None),
        },
    };
    let (acc, svc, year) = chosen;
    let entries = ledger::entries(c, tenant.id, acc.id).await?;
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    let mut daily = Cents(0);
    for p in family::pupils_of_family(c, tenant.id, acc.family).await? {
        for e in service::enrolments_of_pupil(c, tenant.id, p.id).await? {
            if e.service_id == svc.id && e.state == EnrolmentState::Attivo {
                daily = daily.checked_add(e.meal_price).unwrap_or(daily);
            }
        }
        names.insert(p.id.get(), p.first_name.clone());
    }
    let mut summary = Summary::default();
    let add = |a: &mut Cents, b: Cents| *a = a.checked_add(b).unwrap_or(*a);
    for e in &entries {
        add(&mut summary.balance, e.amount);
        match e.kind {
            EntryKind::MealCharge => {
                add(&mut summary.consumed, e.amount);
                summary.meals_consumed += 1;
            }
            EntryKind::Reversal if e.enrolment.is_some() => {
                add(&mut summary.consumed, e.amount);
                summary.meals_consumed -= 1;
            }
            EntryKind::Recharge
                if e.reference
                    .as_deref()
                    .is_some_and(|r| r.starts_with("avviso:")) =>
            {
                add(&mut summary.paid_notice, e.amount)
            }
            EntryKind::Recharge => add(&mut summary.paid_spontaneous, e.amount),
            EntryKind::CarryOver => add(&mut summary.carry_over, e.amount),
            _ => add(&mut summary.other, e.amount),
        }
    }
    let movements = entries
        .into_iter()
        .rev()
        .filter(|e| from.is_none_or(|f| e.day >= f) && to.is_none_or(|t| e.day <= t))
        .map(|e| Movement {
            description: describe(&e, &names),
            entry: e,
        })
        .collect();
    let others = visible
        .iter()
        .map(|(a, s, y)| (a.id, format!("{} {}", s.name, y.label)))
        .collect();
    let balance = summary.balance;
    Ok(Some(PaymentsView {
        family: acc.family,
        account: account_view(tenant, acc, svc, year, balance, daily),
        movements,
        summary,
        from,
        to,
        others,
        updated_at: clock.now(),
    }))
}

fn describe(e: &Entry, names: &BTreeMap<i64, String>) -> String {
    let who = e
        .pupil
        .and_then(|p| names.get(&p.get()))
        .map(|n| format!(" – {n}"))
        .unwrap_or_default();
    let meal = if e.bland { " (pasto in bianco)" } else { "" };
    let base = match e.kind {
        EntryKind::MealCharge => format!("Pasto{meal}{who}"),
        EntryKind::Reversal if e.enrolment.is_some() => format!("Storno pasto{meal}{who}"),
        other => other.label_it().to_string(),
    };
    let reason = e.reason.trim();
    if reason.is_empty() || e.kind == EntryKind::MealCharge {
        base
    } else {
        format!("{base}: {reason}")
    }
}

/// Meals consumed by one child (charges not reversed), newest first, with date and amount.
pub async fn attendance(
    ctx: Ctx<'_>,
    access: &Access,
    id: EnrolmentId,
) -> Result<(Enrolment, Pupil, Vec<Entry>), AppError> {
    let (db, tenant) = (ctx.db, ctx.tenant);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (e, p) = enrolment_of(c, tenant, access, id).await?;
    let Some(acc) = ledger::account_of(c, tenant.id, p.family_id, e.service_id).await? else {
        return Ok((e, p, Vec::new()));
    };
    let entries = ledger::entries(c, tenant.id, acc.id).await?;
    let reversed: std::collections::BTreeSet<i64> =
        entries.iter().filter_map(|x| x.reverses).collect();
    let mut meals: Vec<Entry> = entries
        .into_iter()
        .filter(|x| {
            x.kind == EntryKind::MealCharge
                && x.enrolment == Some(e.id)
                && !reversed.contains(&x.id)
        })
        .collect();
    meals.reverse();
    Ok((e, p, meals))
}

/// The first day of the month after/before `d`'s.
pub fn shift_month(d: Date, months: i32) -> Option<Date> {
    d.first_of_month().checked_add(months.months()).ok()
}
