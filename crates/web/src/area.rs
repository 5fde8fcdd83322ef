//! The personal area of a family: home, children, meal calendar, payments, communications and
//! profile. Every handler starts from [`Citizen`]: the ids in paths, queries and forms are
//! looked up among the guardian's own families only, so another family's id is a 404.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use refettorio_app::outbox::families as messaging;
use refettorio_app::portal::{
    self, AccountView, Child, DayState, MonthView, Overview, PaymentsView,
};
use refettorio_app::{AppError, FieldError, auth};
use refettorio_db::auth::Contacts;
use refettorio_db::content::{self, DocumentInfo};
use refettorio_db::meals::Entry;
use refettorio_domain::{AccountId, Cents, EnrolmentId, FamilyId, MealChoice, day_it};
use serde::Deserialize;

use crate::pages::Layout;
use crate::session::Citizen;
use crate::{AppState, WebError};

/// "36,50 €"
pub(crate) fn euro(c: &Cents) -> String {
    c.format_it()
}

/// "23/11/2026"
pub(crate) fn dmy(d: &Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

/// "Novembre 2026"
pub(crate) fn month_name(d: Date) -> String {
    const MONTHS: [&str; 12] = [
        "Gennaio",
        "Febbraio",
        "Marzo",
        "Aprile",
        "Maggio",
        "Giugno",
        "Luglio",
        "Agosto",
        "Settembre",
        "Ottobre",
        "Novembre",
        "Dicembre",
    ];
    let m = usize::try_from(d.month() - 1).unwrap_or(0);
    format!(
        "{} {}",
        MONTHS.get(m).copied().unwrap_or_default(),
        d.year()
    )
}

/// Which section of the area a page belongs to (for the menu).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Children,
    Bookings,
    Payments,
    Messages,
    Profile,
}

pub(crate) struct Nav<'a> {
    pub slug: &'a str,
    pub current: Section,
    pub payments: bool,
}

impl Nav<'_> {
    pub fn items(&self) -> Vec<(String, &'static str, bool)> {
        let base = format!("/t/{}/area-personale", self.slug);
        let mut v = vec![
            (base.clone(), "Home", self.current == Section::Home),
            (
                format!("{base}/figli"),
                "Figli",
                self.current == Section::Children,
            ),
            (
                format!("{base}/prenotazioni"),
                "Prenotazioni",
                self.current == Section::Bookings,
            ),
        ];
        if self.payments {
            v.push((
                format!("{base}/pagamenti"),
                "Pagamenti",
                self.current == Section::Payments,
            ));
        }
        v.push((
            format!("{base}/comunicazioni"),
            "Comunicazioni",
            self.current == Section::Messages,
        ));
        v.push((
            format!("{base}/profilo"),
            "Profilo",
            self.current == Section::Profile,
        ));
        v
    }
}

pub(crate) fn nav(c: &Citizen, current: Section) -> Nav<'_> {
    Nav {
        slug: c.tenant.slug.as_str(),
        current,
        payments: c.sees_any_payments(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "area/home.html")]
struct HomePage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    name: &'a str,
    today: String,
    overview: Overview,
    low: Vec<AccountView>,
}

pub(crate) async fn home(State(state): State<AppState>, c: Citizen) -> Result<Response, WebError> {
    let overview = portal::overview(&state.db, state.clock.as_ref(), &c.tenant, &c.access).await?;
    let name = c.full_name();
    Ok(HomePage {
        layout: Layout::citizen("Area personale", &c, &name),
        nav: nav(&c, Section::Home),
        slug: c.tenant.slug.as_str(),
        name: &name,
        today: day_it(overview.today),
        low: overview
            .accounts
            .iter()
            .filter(|a| a.low)
            .cloned()
            .collect(),
        overview,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "area/children.html")]
struct ChildrenPage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    children: Vec<Child>,
    /// For the fee and the meal price: shown only to who may see the family's money.
    access: &'a portal::Access,
}

pub(crate) async fn children(
    State(state): State<AppState>,
    c: Citizen,
) -> Result<Response, WebError> {
    let overview = portal::overview(&state.db, state.clock.as_ref(), &c.tenant, &c.access).await?;
    let name = c.full_name();
    Ok(ChildrenPage {
        layout: Layout::citizen("Figli", &c, &name),
        nav: nav(&c, Section::Children),
        slug: c.tenant.slug.as_str(),
        children: overview.children,
        access: &c.access,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "area/attendance.html")]
struct AttendancePage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    pupil_name: String,
    meals: Vec<Entry>,
    total: Cents,
    /// Whether the guardian may see the family's money (the payer, or a delegate the payer
    /// allowed): otherwise the page shows the meals without their prices and total.
    prices: bool,
}

pub(crate) async fn attendance(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let (_, pupil, meals) =
        portal::attendance(&state.db, &c.tenant, &c.access, EnrolmentId(id)).await?;
    let total = Cents::checked_sum(meals.iter().map(|m| m.amount)).unwrap_or(Cents(0));
    let name = c.full_name();
    Ok(AttendancePage {
        layout: Layout::citizen("Presenze", &c, &name),
        nav: nav(&c, Section::Children),
        slug: c.tenant.slug.as_str(),
        pupil_name: format!("{} {}", pupil.first_name, pupil.last_name),
        meals,
        total: Cents(-total.get()),
        prices: c.access.sees_payments(pupil.family_id),
    }
    .into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct CalendarQuery {
    iscrizione: Option<i64>,
    mese: Option<String>,
    giorno: Option<String>,
    salvati: Option<u32>,
}

/// A child's refezione enrolment, for the selector above the calendar.
pub(crate) struct Choice {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "area/bookings.html")]
struct BookingsPage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    csrf: &'a str,
    choices: Vec<Choice>,
    view: Option<MonthView>,
    weeks: Vec<Vec<Option<Cell>>>,
    month_label: String,
    prev: String,
    next: String,
    month_param: String,
    form_from: String,
    form_to: String,
    form_choice: &'static str,
    error: Option<String>,
    success: Option<String>,
}

/// A day cell of the calendar, ready for the template.
pub(crate) struct Cell {
    pub day: i8,
    pub date: String,
    /// "lunedì 23 novembre 2026", for screen readers.
    pub full: String,
    pub label: String,
    pub detail: Option<String>,
    pub class: &'static str,
    pub today: bool,
    pub changeable: bool,
}

/// The weeks of a month, Monday first, with empty cells before the 1st and after the last day.
fn cells(first: Date, days: &[portal::CalendarDay], today: Date) -> Vec<Vec<Option<Cell>>> {
    let offset = usize::try_from(first.weekday().to_monday_zero_offset()).unwrap_or(0);
    let mut flat: Vec<Option<Cell>> = (0..offset).map(|_| None).collect();
    for d in days {
        let (label, detail, class, changeable) = match &d.state {
            DayState::Canteen { choice, locked } => (
                choice.label_it().to_string(),
                locked.clone(),
                match (choice, locked.is_some()) {
                    (MealChoice::Present, false) => "rf-day--booked",
                    (MealChoice::Present, true) => "rf-day--booked rf-day--locked",
                    (MealChoice::Absent, false) => "rf-day--absent",
                    (MealChoice::Absent, true) => "rf-day--absent rf-day--locked",
                    (MealChoice::Bland, false) => "rf-day--bland",
                    (MealChoice::Bland, true) => "rf-day--bland rf-day--locked",
                },
                locked.is_none(),
            ),
            DayState::NoCanteen(reason) => (
                "Nessun pasto".to_string(),
                Some(reason.clone()),
                "rf-day--closed",
                false,
            ),
        };
        flat.push(Some(Cell {
            day: d.date.day(),
            date: d.date.to_string(),
            full: day_it(d.date),
            label,
            detail,
            class,
            today: d.date == today,
            changeable,
        }));
    }
    while !flat.len().is_multiple_of(7) {
        flat.push(None);
    }
    let mut weeks = Vec::new();
    let mut it = flat.into_iter().peekable();
    while it.peek().is_some() {
        weeks.push(it.by_ref().take(7).collect());
    }
    weeks
}

fn parse_month(s: Option<&str>, today: Date) -> Date {
    s.and_then(|m| format!("{m}-01").parse::<Date>().ok())
        .unwrap_or_else(|| today.first_of_month())
}

fn parse_day(s: &str) -> Option<Date> {
    s.trim().parse::<Date>().ok()
}

/// The refezione enrolments of the guardian's children, from the overview.
fn meal_enrolments(o: &Overview) -> Vec<(i64, String)> {
    o.children
        .iter()
        .flat_map(|ch| {
            ch.services
                .iter()
                .filter(|s| s.service.kind == refettorio_domain::ServiceKind::Refezione)
                .map(move |s| {
                    (
                        s.enrolment.id.get(),
                        format!("{} – {}", ch.pupil.first_name, s.school.name),
                    )
                })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn bookings_page(
    state: &AppState,
    c: &Citizen,
    q: &CalendarQuery,
    error: Option<String>,
    form: Option<(String, String, MealChoice)>,
) -> Result<Response, WebError> {
    let overview = portal::overview(&state.db, state.clock.as_ref(), &c.tenant, &c.access).await?;
    let list = meal_enrolments(&overview);
    let selected = q.iscrizione.or_else(|| list.first().map(|(id, _)| *id));
    let month = parse_month(q.mese.as_deref(), overview.today);
    let view = match selected {
        Some(id) => Some(
            portal::month(
                &state.db,
                state.clock.as_ref(),
                &c.tenant,
                &c.access,
                EnrolmentId(id),
                month,
            )
            .await?,
        ),
        None => None,
    };
    let day = q.giorno.as_deref().and_then(parse_day);
    let (form_from, form_to, form_choice) = match (form, day) {
        (Some((f, t, ch)), _) => (f, t, ch),
        (None, Some(d)) => (d.to_string(), d.to_string(), MealChoice::Absent),
        (None, None) => {
            let tomorrow = overview.today.tomorrow().unwrap_or(overview.today);
            (
                tomorrow.to_string(),
                tomorrow.to_string(),
                MealChoice::Absent,
            )
        }
    };
    let name = c.full_name();
    let prev = portal::shift_month(month, -1).unwrap_or(month);
    let next = portal::shift_month(month, 1).unwrap_or(month);
    let success = q.salvati.map(|n| match n {
        1 => "Modifica salvata: 1 giorno aggiornato.".to_string(),
        n => format!("Modifica salvata: {n} giorni aggiornati."),
    });
    let page = BookingsPage {
        layout: Layout::citizen("Prenotazioni", c, &name),
        nav: nav(c, Section::Bookings),
        slug: c.tenant.slug.as_str(),
        csrf: &c.session.csrf_token,
        choices: list
            .into_iter()
            .map(|(id, label)| Choice {
                id,
                label,
                selected: Some(id) == selected,
            })
            .collect(),
        weeks: view
            .as_ref()
            .map(|v| cells(v.first, &v.days, v.today))
            .unwrap_or_default(),
        view,
        month_label: month_name(month),
        prev: prev.strftime("%Y-%m").to_string(),
        next: next.strftime("%Y-%m").to_string(),
        month_param: month.strftime("%Y-%m").to_string(),
        form_from,
        form_to,
        form_choice: form_choice.as_str(),
        success,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

pub(crate) async fn bookings(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    bookings_page(&state, &c, &q, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    iscrizione: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    scelta: String,
    mese: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some()
}

pub(crate) async fn change(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    // A tampered id is not a validation error: it is someone else's child.
    let id: i64 = f
        .iscrizione
        .trim()
        .parse()
        .map_err(|_| WebError::Forbidden)?;
    let mut h = state.db.acquire().await?;
    match portal::enrolment_of(&mut h.conn(), &c.tenant, &c.access, EnrolmentId(id)).await {
        Ok(_) => {}
        Err(AppError::NotFound(_) | AppError::Forbidden) => return Err(WebError::Forbidden),
        // A database that cannot answer is not a tampered id: 503, not 403.
        Err(e) => return Err(e.into()),
    }
    drop(h);
    let choice = MealChoice::parse(f.scelta.trim());
    let from = parse_day(&f.dal);
    let to = if f.al.trim().is_empty() {
        from
    } else {
        parse_day(&f.al)
    };
    let mut q = CalendarQuery {
        iscrizione: Some(id),
        mese: f.mese.clone(),
        giorno: None,
        salvati: None,
    };
    let (Some(choice), Some(from), Some(to)) = (choice, from, to) else {
        let msg = "Indica le date (giorno o periodo dal–al) e la scelta: presente, assente o pasto in bianco.";
        return error_page(&state, &c, &q, &headers, msg.into(), &f).await;
    };
    let done = portal::change(
        &state.db,
        state.clock.as_ref(),
        &c.tenant,
        &c.access,
        EnrolmentId(id),
        from,
        to,
        choice,
        &c.actor(),
    )
    .await;
    match done {
        Ok(days) => {
            let n = u32::try_from(days.len()).unwrap_or(u32::MAX);
            let month = from.strftime("%Y-%m").to_string();
            if is_htmx(&headers) {
                q.mese = Some(month);
                q.salvati = Some(n);
                bookings_page(&state, &c, &q, None, None).await
            } else {
                Ok(Redirect::to(&format!(
                    "/t/{}/area-personale/prenotazioni?iscrizione={id}&mese={month}&salvati={n}",
                    c.tenant.slug
                ))
                .into_response())
            }
        }
        Err(AppError::Booking(e)) => error_page(&state, &c, &q, &headers, e.to_string(), &f).await,
        Err(AppError::NotFound(_)) => Err(WebError::Forbidden),
        Err(e) => Err(e.into()),
    }
}

async fn error_page(
    state: &AppState,
    c: &Citizen,
    q: &CalendarQuery,
    headers: &HeaderMap,
    msg: String,
    f: &ChangeForm,
) -> Result<Response, WebError> {
    let choice = MealChoice::parse(f.scelta.trim()).unwrap_or(MealChoice::Absent);
    let mut r = bookings_page(
        state,
        c,
        q,
        Some(msg),
        Some((f.dal.clone(), f.al.clone(), choice)),
    )
    .await?;
    if is_htmx(headers) {
        // htmx swaps only 2xx answers: the message is in the page it swaps in.
        *r.status_mut() = StatusCode::OK;
    }
    Ok(r)
}

#[derive(Deserialize, Default)]
pub(crate) struct PaymentsQuery {
    conto: Option<i64>,
    dal: Option<String>,
    al: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "area/payments.html")]
struct PaymentsPage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    view: Option<PaymentsView>,
    updated: String,
    from: String,
    to: String,
    error: Option<String>,
    /// The pagoPA notices of the guardian's families (recharges and fees).
    positions: Vec<crate::recharge::PositionRow>,
    pagopa: bool,
}

pub(crate) async fn payments(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<PaymentsQuery>,
) -> Result<Response, WebError> {
    let blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (from_s, to_s) = (blank(&q.dal), blank(&q.al));
    let from = from_s.as_deref().map(parse_day);
    let to = to_s.as_deref().map(parse_day);
    let mut error = None;
    if matches!(from, Some(None)) || matches!(to, Some(None)) {
        error = Some("Date non valide: usa il formato gg/mm/aaaa.".to_string());
    }
    let (from, to) = (from.flatten(), to.flatten());
    if let (Some(a), Some(b)) = (from, to)
        && b < a
    {
        error = Some("La data finale viene prima di quella iniziale.".into());
    }
    c.require_payments()?;
    let view = portal::payments(
        &state.db,
        state.clock.as_ref(),
        &c.tenant,
        &c.access,
        q.conto.map(AccountId),
        from,
        to,
    )
    .await?;
    let updated = view
        .as_ref()
        .map(|v| {
            let z = v.updated_at.to_zoned(c.tenant.timezone.clone());
            format!("{} alle {}", dmy(&z.date()), z.strftime("%H:%M"))
        })
        .unwrap_or_default();
    let positions = refettorio_app::pagopa::positions(&state.db, &c.tenant, &c.access).await?;
    let positions = crate::recharge::rows(
        &positions,
        refettorio_domain::today(state.clock.as_ref(), &c.tenant.timezone),
    );
    let name = c.full_name();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        PaymentsPage {
            layout: Layout::citizen("Pagamenti", &c, &name),
            nav: nav(&c, Section::Payments),
            slug: c.tenant.slug.as_str(),
            view,
            updated,
            from: from_s.unwrap_or_default(),
            to: to_s.unwrap_or_default(),
            error,
            positions,
            pagopa: refettorio_app::pagopa::enabled(&c.tenant),
        },
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "area/messages.html")]
struct MessagesPage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    documents: Vec<DocumentInfo>,
    /// What the office wrote to the user's families.
    letters: Vec<messaging::FamilyCommunication>,
    tz: &'a jiff::tz::TimeZone,
}

fn families(c: &Citizen) -> Vec<FamilyId> {
    c.access.families.iter().map(|(f, _)| f.id).collect()
}

pub(crate) async fn messages(
    State(state): State<AppState>,
    c: Citizen,
) -> Result<Response, WebError> {
    let mut h = state.db.acquire().await?;
    let mut documents = Vec::new();
    for f in families(&c) {
        documents.extend(content::documents(&mut h.conn(), c.tenant.id, Some(f)).await?);
    }
    drop(h);
    let mut letters = Vec::new();
    for f in families(&c) {
        letters.extend(messaging::of_family(c.ctx(&state), f).await?);
    }
    letters.sort_by_key(|l| std::cmp::Reverse(l.sent_at));
    let name = c.full_name();
    Ok(MessagesPage {
        layout: Layout::citizen("Comunicazioni", &c, &name),
        nav: nav(&c, Section::Messages),
        slug: c.tenant.slug.as_str(),
        documents,
        letters,
        tz: &c.tenant.timezone,
    }
    .into_response())
}

/// A file as a download.
pub(crate) fn download(info: &DocumentInfo, bytes: Vec<u8>) -> Response {
    attachment(bytes, &info.content_type, &info.file_name)
}

/// Bytes as a private, uncached download named `file_name`.
pub(crate) fn attachment(bytes: Vec<u8>, content_type: &str, file_name: &str) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name.replace(['"', '\\', '\r', '\n'], "_")
    );
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

pub(crate) async fn message_file(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let mut h = state.db.acquire().await?;
    for f in families(&c) {
        if let Some((info, bytes)) =
            content::document(&mut h.conn(), c.tenant.id, id, Some(f)).await?
        {
            return Ok(download(&info, bytes));
        }
    }
    Err(WebError::NotFound("Documento non trovato.".into()))
}

#[derive(Template, WebTemplate)]
#[template(path = "area/profile.html")]
struct ProfilePage<'a> {
    layout: Layout<'a>,
    nav: Nav<'a>,
    slug: &'a str,
    csrf: &'a str,
    fiscal_code: &'a str,
    contacts: Contacts,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
    local_login: bool,
    /// The guardian receives messages in the IO app (offered when the municipality uses it).
    app_io: Option<bool>,
}

impl ProfilePage<'_> {
    fn error(&self, field: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ProfileQuery {
    esito: Option<String>,
}

async fn profile_page(
    state: &AppState,
    c: &Citizen,
    contacts: Option<Contacts>,
    errors: Vec<FieldError>,
    saved: Option<&'static str>,
) -> Result<Response, WebError> {
    let contacts = match contacts {
        Some(k) => k,
        None => {
            let mut h = state.db.acquire().await?;
            refettorio_db::auth::contacts(&mut h.conn(), c.tenant.id, c.guardian.id)
                .await?
                .ok_or(WebError::Forbidden)?
        }
    };
    let name = c.full_name();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let app_io = if c.tenant.settings.messaging.app_io.enabled() {
        Some(messaging::app_io_preference(c.ctx(state), c.guardian.id).await?)
    } else {
        None
    };
    Ok((
        status,
        ProfilePage {
            layout: Layout::citizen("Profilo", c, &name),
            nav: nav(c, Section::Profile),
            slug: c.tenant.slug.as_str(),
            csrf: &c.session.csrf_token,
            fiscal_code: c.guardian.fiscal_code.as_str(),
            contacts,
            errors,
            saved,
            local_login: c.tenant.settings.citizen_local_login,
            app_io,
        },
    )
        .into_response())
}

pub(crate) async fn profile(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, WebError> {
    let saved = match q.esito.as_deref() {
        Some("contatti") => Some("Contatti salvati."),
        Some("password") => Some("Password cambiata. Le altre sessioni aperte sono state chiuse."),
        _ => None,
    };
    profile_page(&state, &c, None, Vec::new(), saved).await
}

#[derive(Deserialize)]
pub(crate) struct ContactsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    notify_email: Option<String>,
    notify_sms: Option<String>,
    notify_app_io: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

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

pub(crate) async fn save_contacts(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<ContactsForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
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
        notify_email: f.notify_email.is_some(),
        notify_sms: f.notify_sms.is_some(),
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
    if !errors.is_empty() {
        let shown = Contacts {
            email: Some(f.email),
            phone: Some(f.phone),
            ..k
        };
        return profile_page(&state, &c, Some(shown), errors, None).await;
    }
    let mut tx = state.db.begin().await?;
    let conn = &mut tx.conn();
    let before = refettorio_db::auth::contacts(conn, c.tenant.id, c.guardian.id).await?;
    refettorio_db::auth::set_contacts(conn, c.tenant.id, c.guardian.id, &k).await?;
    refettorio_db::meals::audit(
        conn,
        c.tenant.id,
        &c.actor(),
        "update_contacts",
        "guardian",
        Some(c.guardian.id.get()),
        before.map(|b| format!("{b:?}")).as_deref(),
        Some(&format!("{k:?}")),
        "",
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    if c.tenant.settings.messaging.app_io.enabled() {
        messaging::set_app_io_preference(c.ctx(&state), c.guardian.id, f.notify_app_io.is_some())
            .await?;
    }
    Ok(Redirect::to(&format!(
        "/t/{}/area-personale/profilo?esito=contatti",
        c.tenant.slug
    ))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    match auth::change_password(
        &state.db,
        state.clock.as_ref(),
        &c.tenant,
        c.guardian.id,
        &c.token,
        &f.current,
        &f.password,
        &f.confirm,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/t/{}/area-personale/profilo?esito=password",
            c.tenant.slug
        ))
        .into_response()),
        Err(AppError::Fields(errors)) => profile_page(&state, &c, None, errors, None).await,
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use portal::CalendarDay;

    #[test]
    fn a_month_is_laid_out_in_weeks_from_monday() {
        // November 2026 starts on a Sunday: six empty cells, then 30 days, then six more.
        let first = jiff::civil::date(2026, 11, 1);
        let days: Vec<CalendarDay> = (0..30)
            .map(|i| CalendarDay {
                date: first.checked_add(jiff::Span::new().days(i)).unwrap(),
                state: if i == 23 {
                    DayState::Canteen {
                        choice: MealChoice::Bland,
                        locked: None,
                    }
                } else {
                    DayState::NoCanteen("Domenica".into())
                },
            })
            .collect();
        let weeks = cells(first, &days, jiff::civil::date(2026, 11, 23));
        assert_eq!(weeks.len(), 6);
        assert!(weeks.iter().all(|w| w.len() == 7));
        assert!(weeks[0][..6].iter().all(Option::is_none));
        let sunday = weeks[0][6].as_ref().unwrap();
        assert_eq!((sunday.day, sunday.changeable), (1, false));
        let monday = weeks[4][0].as_ref().unwrap();
        assert_eq!(monday.full, "lunedì 23 novembre 2026");
        assert!(monday.today);
        let tuesday = weeks[4][1].as_ref().unwrap();
        assert_eq!(tuesday.label, "Pasto in bianco");
        assert_eq!(tuesday.class, "rf-day--bland");
        assert!(tuesday.changeable && !tuesday.today);
        let last = weeks[5][0].as_ref().unwrap();
        assert_eq!(last.day, 30);
        assert!(weeks[5][1..].iter().all(Option::is_none));
    }
}
