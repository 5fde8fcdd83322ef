//! The office's pages on people: the search (name, fiscal code, card code) with a new family,
//! a family (payer, delegates, pupils), a guardian, a pupil (data, family, enrolments and their
//! changes with an effective day); and the school's class lists of its own schools.
//!
//! Each page has several small forms. A form's fields are named `<form>-<field>`; after a
//! refused form the page is shown again (422) with that form as typed and its errors.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::auth::{self, LoginState};
use refettorio_app::people::FamilyHit;
use refettorio_app::people::{
    self, ChangeInput, EnrolInput, FamilyFile, GuardianInput, PupilFile, PupilInput, Roster,
};
use refettorio_app::people::{Family, Guardian, Link, Pupil};
use refettorio_app::registry::{Class, School};
use refettorio_domain::{
    ClassId, EnrolmentId, EnrolmentState, FamilyId, GuardianId, PupilId, StaffRole,
};
use serde::Deserialize;

use super::validation::ValidationView;
use super::{OFFICE, Section, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

pub(crate) const PEOPLE: Section = Section {
    path: "/persone",
    title: "Alunni e famiglie",
    summary: "Cerca per nome, codice fiscale o codice tessera; alunni, genitori, delegati e intestatario; iscrizioni e cambi di classe, fascia, dieta o stato con la data da cui valgono.",
    roles: OFFICE,
};

pub(crate) const SCHOOL_CLASSES: Section = Section {
    path: "/scuola",
    title: "Classi della scuola",
    summary: "Gli elenchi delle classi delle proprie scuole: alunni, codice dieta e prenotazione di oggi; le iscrizioni alla mensa da validare.",
    roles: &[StaffRole::School, StaffRole::Office],
};

/// A posted form, as typed.
type Posted = HashMap<String, String>;

/// The values and errors a page shows in its forms, by full field name (`<form>-<field>`).
#[derive(Default)]
struct Forms {
    values: HashMap<String, String>,
    errors: Vec<(String, String)>,
}

impl Forms {
    fn v(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }
    fn err(&self, name: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.clone())
    }
    fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }
    /// The form as typed, with the use case's errors under the form's prefix.
    fn refused(prefix: &str, posted: &Posted, errors: FieldErrors) -> Forms {
        Forms {
            values: posted.clone(),
            errors: errors
                .iter()
                .map(|(field, message)| (format!("{prefix}-{field}"), message.to_string()))
                .collect(),
        }
    }
}

fn get(p: &Posted, prefix: &str, name: &str) -> String {
    p.get(&format!("{prefix}-{name}"))
        .cloned()
        .unwrap_or_default()
}

fn checked(p: &Posted, prefix: &str, name: &str) -> bool {
    !get(p, prefix, name).is_empty()
}

fn guardian_input(p: &Posted, prefix: &str) -> GuardianInput {
    GuardianInput {
        fiscal_code: get(p, prefix, "codice-fiscale"),
        first_name: get(p, prefix, "nome"),
        last_name: get(p, prefix, "cognome"),
        email: get(p, prefix, "email"),
        phone: get(p, prefix, "telefono"),
        address: get(p, prefix, "indirizzo"),
        resident: checked(p, prefix, "residente"),
    }
}

fn pupil_input(p: &Posted, prefix: &str) -> PupilInput {
    PupilInput {
        fiscal_code: get(p, prefix, "codice-fiscale"),
        first_name: get(p, prefix, "nome"),
        last_name: get(p, prefix, "cognome"),
        birth_date: get(p, prefix, "nascita"),
    }
}

fn status(f: &Forms) -> StatusCode {
    if f.failed() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

fn base(s: &Staff) -> String {
    format!("/t/{}/backoffice/persone", s.slug())
}

#[derive(Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    esito: Option<String>,
}

fn done_message(esito: Option<&str>) -> Option<&'static str> {
    match esito? {
        "famiglia" => Some("Famiglia registrata."),
        "alunno" => Some("Alunno registrato."),
        "dati" => Some("Dati salvati."),
        "delegato" => Some("Genitore collegato alla famiglia come delegato."),
        "intestatario" => Some("Intestatario cambiato: i conti restano della famiglia."),
        "iscrizione" => Some("Iscrizione registrata."),
        "modifica" => Some("Modifica programmata: vale dal giorno indicato."),
        "applicata" => Some("Modifica registrata: vale da oggi."),
        "account" => {
            Some("Account confermato: il genitore vede ora le sue famiglie nell'area personale.")
        }
        _ => None,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/search.html")]
struct SearchPage<'a> {
    frame: Frame<'a>,
    q: String,
    error: Option<String>,
    hits: Option<Vec<FamilyHit>>,
    forms: Forms,
    done: Option<&'static str>,
    /// Enrolments waiting for the school's validation, and how many the school reported.
    to_validate: (usize, usize),
}
framed!(SearchPage);

async fn search_page(
    state: &AppState,
    s: &Staff,
    q: Option<String>,
    forms: Forms,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let text = q.unwrap_or_default().trim().to_string();
    let (hits, error) = if text.is_empty() {
        (None, None)
    } else if text.chars().count() < 2 {
        (None, Some("Scrivi almeno due caratteri.".to_string()))
    } else {
        (
            Some(people::find_families(s.ctx(state), &text).await?),
            None,
        )
    };
    let code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status(&forms)
    };
    let page = SearchPage {
        frame: s.frame(&PEOPLE),
        q: text,
        error,
        hits,
        forms,
        done,
        to_validate: refettorio_app::validation::office_counts(s.ctx(state)).await?,
    };
    Ok((code, page).into_response())
}

/// `GET …/persone?q=…`: families by a pupil's or guardian's name, fiscal code or card code;
/// the form of a new family.
pub(crate) async fn people_search(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    let mut forms = Forms::default();
    forms.set("famiglia-residente", "1");
    search_page(&state, &s, q.q, forms, done_message(q.esito.as_deref())).await
}

/// `POST …/persone/famiglie`: a new family with its payer.
pub(crate) async fn add_family(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let g = guardian_input(&p, "famiglia");
    match people::add_family(s.ctx(&state), &g, &get(&p, "famiglia", "isee"))
        .await
        .or_errors()?
    {
        Ok(id) => {
            Ok(Redirect::to(&format!("{}/famiglie/{id}?esito=famiglia", base(&s))).into_response())
        }
        Err(e) => search_page(&state, &s, None, Forms::refused("famiglia", &p, e), None).await,
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct DoneQuery {
    esito: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/family.html")]
struct FamilyPage<'a> {
    frame: Frame<'a>,
    f: FamilyFile,
    forms: Forms,
    done: Option<&'static str>,
}
framed!(FamilyPage);

impl FamilyPage<'_> {
    fn delegate_options(&self) -> Vec<(String, String)> {
        self.f
            .delegates
            .iter()
            .map(|(g, _)| {
                (
                    g.id.to_string(),
                    format!("{} {}", g.last_name, g.first_name),
                )
            })
            .collect()
    }
}

async fn family_page(
    state: &AppState,
    s: &Staff,
    id: i64,
    forms: Forms,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let f = people::family_file(s.ctx(state), FamilyId(id)).await?;
    let code = status(&forms);
    let page = FamilyPage {
        frame: s.frame(&PEOPLE).titled("Famiglia"),
        f,
        forms,
        done,
    };
    Ok((code, page).into_response())
}

/// `GET …/persone/famiglie/<id>`
pub(crate) async fn family(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    let mut forms = Forms::default();
    forms.set("delegato-residente", "1");
    family_page(&state, &s, id, forms, done_message(q.esito.as_deref())).await
}

/// `POST …/persone/famiglie/<id>/alunni`: a new pupil of the family.
pub(crate) async fn add_pupil(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let input = pupil_input(&p, "alunno");
    match people::add_pupil(s.ctx(&state), FamilyId(id), &input)
        .await
        .or_errors()?
    {
        Ok(pid) => {
            Ok(Redirect::to(&format!("{}/alunni/{pid}?esito=alunno", base(&s))).into_response())
        }
        Err(e) => family_page(&state, &s, id, Forms::refused("alunno", &p, e), None).await,
    }
}

/// `POST …/persone/famiglie/<id>/delegati`: links a guardian (found by fiscal code, or new).
pub(crate) async fn add_delegate(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let g = guardian_input(&p, "delegato");
    let see = checked(&p, "delegato", "pagamenti");
    match people::add_delegate(s.ctx(&state), FamilyId(id), &g, see)
        .await
        .or_errors()?
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("{}/famiglie/{id}?esito=delegato", base(&s))).into_response())
        }
        Err(e) => family_page(&state, &s, id, Forms::refused("delegato", &p, e), None).await,
    }
}

/// `POST …/persone/famiglie/<id>/intestatario`: a delegate becomes the payer.
pub(crate) async fn change_payer(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let Ok(g) = get(&p, "payer", "intestatario").trim().parse::<i64>() else {
        let e = FieldErrors::one("intestatario", "Scegli il nuovo intestatario.");
        return family_page(&state, &s, id, Forms::refused("payer", &p, e), None).await;
    };
    match people::change_payer(s.ctx(&state), FamilyId(id), GuardianId(g))
        .await
        .or_errors()?
    {
        Ok(()) => Ok(
            Redirect::to(&format!("{}/famiglie/{id}?esito=intestatario", base(&s))).into_response(),
        ),
        Err(e) => family_page(&state, &s, id, Forms::refused("payer", &p, e), None).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/guardian.html")]
struct GuardianPage<'a> {
    frame: Frame<'a>,
    g: Guardian,
    families: Vec<(Family, Link, Vec<Pupil>)>,
    login: LoginState,
    forms: Forms,
    done: Option<&'static str>,
}
framed!(GuardianPage);

async fn guardian_page(
    state: &AppState,
    s: &Staff,
    id: i64,
    forms: Option<Forms>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let (g, families) = people::guardian_file(s.ctx(state), GuardianId(id)).await?;
    let login = auth::login_state(s.ctx(state), g.id).await?;
    let forms = forms.unwrap_or_else(|| {
        let mut f = Forms::default();
        f.set("genitore-codice-fiscale", g.fiscal_code.as_str());
        f.set("genitore-nome", g.first_name.clone());
        f.set("genitore-cognome", g.last_name.clone());
        f.set("genitore-email", g.email.clone().unwrap_or_default());
        f.set("genitore-telefono", g.phone.clone().unwrap_or_default());
        f.set("genitore-indirizzo", g.address.clone());
        if g.resident {
            f.set("genitore-residente", "1");
        }
        f
    });
    let code = status(&forms);
    let page = GuardianPage {
        frame: s.frame(&PEOPLE).titled("Genitore"),
        g,
        families,
        login,
        forms,
        done,
    };
    Ok((code, page).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/activation_code.html")]
struct ActivationCodePage<'a> {
    frame: Frame<'a>,
    g: Guardian,
    code: String,
    expires: String,
    register_path: String,
}
framed!(ActivationCodePage);

/// `POST …/persone/genitori/<id>/codice-attivazione`: a new activation code for the guardian,
/// shown this once on a printable page (the older unused codes stop working).
pub(crate) async fn activation_code(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let (g, _) = people::guardian_file(s.ctx(&state), GuardianId(id)).await?;
    let letter = auth::issue_activation_code(s.ctx(&state), g.id).await?;
    let expires = letter
        .expires_at
        .to_zoned(s.tenant.timezone.clone())
        .strftime("%d/%m/%Y")
        .to_string();
    let page = ActivationCodePage {
        frame: s.frame(&PEOPLE).titled("Codice di attivazione"),
        g,
        code: letter.code,
        expires,
        register_path: format!("/t/{}/registrati", s.slug()),
    };
    let mut r = page.into_response();
    // The code is shown once: not kept by the browser or a proxy.
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

/// `POST …/persone/genitori/<id>/conferma-account`: the office confirms that the login
/// registered online with this fiscal code is this guardian.
pub(crate) async fn confirm_login(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    auth::confirm_login(s.ctx(&state), GuardianId(id)).await?;
    Ok(Redirect::to(&format!("{}/genitori/{id}?esito=account", base(&s))).into_response())
}

/// `GET …/persone/genitori/<id>`
pub(crate) async fn guardian(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    guardian_page(&state, &s, id, None, done_message(q.esito.as_deref())).await
}

/// `POST …/persone/genitori/<id>`: the guardian's data.
pub(crate) async fn update_guardian(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let g = guardian_input(&p, "genitore");
    match people::update_guardian(s.ctx(&state), GuardianId(id), &g)
        .await
        .or_errors()?
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("{}/genitori/{id}?esito=dati", base(&s))).into_response())
        }
        Err(e) => {
            guardian_page(
                &state,
                &s,
                id,
                Some(Forms::refused("genitore", &p, e)),
                None,
            )
            .await
        }
    }
}

/// One enrolment as the pupil's page shows it.
struct EnrolmentRow {
    id: EnrolmentId,
    service: String,
    class: String,
    band: String,
    meal_price: String,
    diet: String,
    state: &'static str,
    start: String,
    card: String,
    /// The classes of the enrolment's year, for its change form.
    classes: Vec<(String, String)>,
    /// The bands of its service.
    bands: Vec<(String, String)>,
}

/// One scheduled or applied change.
struct ChangeRow {
    card: String,
    effective: String,
    what: String,
    reason: String,
    applied: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/pupil.html")]
struct PupilPage<'a> {
    frame: Frame<'a>,
    f: PupilFile,
    birth: String,
    enrolments: Vec<EnrolmentRow>,
    changes: Vec<ChangeRow>,
    services: Vec<(String, String)>,
    classes: Vec<(String, String)>,
    /// `(band, label, its service)`: with JavaScript the form lists only the chosen service's.
    bands: Vec<(String, String, String)>,
    diets: Vec<(String, String)>,
    states: Vec<(String, String)>,
    first_change_day: String,
    forms: Forms,
    done: Option<&'static str>,
}
framed!(PupilPage);

impl PupilPage<'_> {
    /// The diets, and "Nessuna dieta" to remove it.
    fn diet_change_options(&self) -> Vec<(String, String)> {
        std::iter::once(("nessuna".to_string(), "Nessuna dieta".to_string()))
            .chain(self.diets.iter().cloned())
            .collect()
    }
}

async fn pupil_page(
    state: &AppState,
    s: &Staff,
    id: i64,
    forms: Option<Forms>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let f = people::pupil_file(s.ctx(state), PupilId(id)).await?;
    let o = &f.options;
    let names = &o.names;
    let class_options = |year: Option<refettorio_domain::SchoolYearId>| -> Vec<(String, String)> {
        o.classes
            .iter()
            .filter(|k| year.is_none_or(|y| k.school_year_id == y))
            .map(|k| (k.id.to_string(), names.class(k.id)))
            .collect()
    };
    let enrolments = f
        .enrolments
        .iter()
        .map(|e| {
            let year = o
                .services
                .iter()
                .find(|(svc, _)| svc.id == e.service_id)
                .map(|(svc, _)| svc.school_year_id);
            EnrolmentRow {
                id: e.id,
                service: names.service(e.service_id).to_string(),
                class: names.class(e.class_id),
                band: names.band(e.tariff_band_id).to_string(),
                meal_price: crate::filters::euro_it(&e.meal_price),
                diet: names.diet(e.diet_id),
                state: e.state.label_it(),
                start: crate::filters::dmy_it(&e.start_date),
                card: e.card_code.clone(),
                classes: year.map(|y| class_options(Some(y))).unwrap_or_default(),
                bands: o
                    .bands
                    .iter()
                    .filter(|b| b.service_id == e.service_id)
                    .map(|b| (b.id.to_string(), b.name.clone()))
                    .collect(),
            }
        })
        .collect();
    let changes = f
        .changes
        .iter()
        .map(|ch| ChangeRow {
            card: f
                .enrolments
                .iter()
                .find(|e| e.id == ch.enrolment_id)
                .map(|e| e.card_code.clone())
                .unwrap_or_default(),
            effective: crate::filters::dmy_it(&ch.effective_on),
            what: names.describe(ch),
            reason: ch.reason.clone(),
            applied: ch.applied_at.is_some(),
        })
        .collect();
    let services = o
        .services
        .iter()
        .map(|(svc, y)| (svc.id.to_string(), format!("{} {}", svc.name, y.label)))
        .collect();
    let bands = o
        .bands
        .iter()
        .map(|b| {
            (
                b.id.to_string(),
                format!("{} – {}", b.name, names.service(b.service_id)),
                b.service_id.to_string(),
            )
        })
        .collect();
    let diets = o
        .diets
        .iter()
        .map(|d| (d.id.to_string(), format!("{} – {}", d.code, d.name)))
        .collect();
    let states = EnrolmentState::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), s.label_it().to_string()))
        .collect();
    let forms = forms.unwrap_or_else(|| {
        let mut x = Forms::default();
        let p = &f.pupil;
        x.set(
            "alunno-codice-fiscale",
            p.fiscal_code.as_ref().map_or("", |c| c.as_str()),
        );
        x.set("alunno-nome", p.first_name.clone());
        x.set("alunno-cognome", p.last_name.clone());
        x.set("alunno-nascita", p.birth_date.to_string());
        x.set("iscrizione-inizio", f.first_change_day.to_string());
        for e in &f.enrolments {
            x.set(
                &format!("modifica-{}-decorrenza", e.id),
                f.first_change_day.to_string(),
            );
        }
        x
    });
    let code = status(&forms);
    let page = PupilPage {
        frame: s.frame(&PEOPLE).titled("Alunno"),
        birth: crate::filters::dmy_it(&f.pupil.birth_date),
        classes: class_options(None),
        first_change_day: crate::filters::dmy_it(&f.first_change_day),
        enrolments,
        changes,
        services,
        bands,
        diets,
        states,
        f,
        forms,
        done,
    };
    Ok((code, page).into_response())
}

/// `GET …/persone/alunni/<id>`
pub(crate) async fn pupil(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    pupil_page(&state, &s, id, None, done_message(q.esito.as_deref())).await
}

/// `POST …/persone/alunni/<id>`: the pupil's data.
pub(crate) async fn update_pupil(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let input = pupil_input(&p, "alunno");
    match people::update_pupil(s.ctx(&state), PupilId(id), &input)
        .await
        .or_errors()?
    {
        Ok(()) => Ok(Redirect::to(&format!("{}/alunni/{id}?esito=dati", base(&s))).into_response()),
        Err(e) => pupil_page(&state, &s, id, Some(Forms::refused("alunno", &p, e)), None).await,
    }
}

/// `POST …/persone/alunni/<id>/iscrizioni`: a new enrolment.
pub(crate) async fn enrol(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let input = EnrolInput {
        service: get(&p, "iscrizione", "servizio"),
        class: get(&p, "iscrizione", "classe"),
        band: get(&p, "iscrizione", "fascia"),
        diet: get(&p, "iscrizione", "dieta"),
        start_date: get(&p, "iscrizione", "inizio"),
        card_code: get(&p, "iscrizione", "tessera"),
    };
    match people::enrol(s.ctx(&state), PupilId(id), &input)
        .await
        .or_errors()?
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("{}/alunni/{id}?esito=iscrizione", base(&s))).into_response())
        }
        Err(e) => {
            pupil_page(
                &state,
                &s,
                id,
                Some(Forms::refused("iscrizione", &p, e)),
                None,
            )
            .await
        }
    }
}

/// `POST …/persone/iscrizioni/<id>/modifiche`: a change of class, band, diet or state from a
/// day on.
pub(crate) async fn schedule_change(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(PEOPLE.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let pupil = people::enrolment_pupil(s.ctx(&state), EnrolmentId(id)).await?;
    let prefix = format!("modifica-{id}");
    let input = ChangeInput {
        effective_on: get(&p, &prefix, "decorrenza"),
        class: get(&p, &prefix, "classe"),
        band: get(&p, &prefix, "fascia"),
        diet: get(&p, &prefix, "dieta"),
        state: get(&p, &prefix, "stato"),
        reason: get(&p, &prefix, "motivo"),
    };
    match people::schedule_change(s.ctx(&state), EnrolmentId(id), &input)
        .await
        .or_errors()?
    {
        Ok(done) => {
            let esito = if done.applied {
                "applicata"
            } else {
                "modifica"
            };
            Ok(Redirect::to(&format!("{}/alunni/{pupil}?esito={esito}", base(&s))).into_response())
        }
        Err(e) => {
            pupil_page(
                &state,
                &s,
                pupil.get(),
                Some(Forms::refused(&prefix, &p, e)),
                None,
            )
            .await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/school.html")]
struct SchoolPage<'a> {
    frame: Frame<'a>,
    schools: Vec<(School, Vec<Class>)>,
    v: ValidationView,
}
framed!(SchoolPage);

#[derive(Deserialize, Default)]
pub(crate) struct EsitoQuery {
    esito: Option<String>,
}

/// The page of the school's classes, with its enrolments to validate.
pub(crate) async fn school_classes_page(
    state: &AppState,
    s: &Staff,
    failed: Option<(i64, String, String)>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let schools = people::school_classes(s.ctx(state), &s.user).await?;
    let v = ValidationView::load(state, s, None, failed, done).await?;
    Ok(SchoolPage {
        frame: s.frame(&SCHOOL_CLASSES),
        schools,
        v,
    }
    .into_response())
}

/// `GET …/scuola`: the classes of the schools this user sees.
pub(crate) async fn school_classes(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<EsitoQuery>,
) -> Result<Response, WebError> {
    s.require(SCHOOL_CLASSES.roles)?;
    let done = super::validation::done_message(q.esito.as_deref());
    school_classes_page(&state, &s, None, done).await
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/people/roster.html")]
struct RosterPage<'a> {
    frame: Frame<'a>,
    r: Roster,
    day: String,
    v: ValidationView,
}
framed!(RosterPage);

/// A class list of one of this user's schools (403 for another), with its enrolments to
/// validate.
pub(crate) async fn class_roster_page(
    state: &AppState,
    s: &Staff,
    id: i64,
    failed: Option<(i64, String, String)>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let r = people::class_roster(s.ctx(state), &s.user, ClassId(id)).await?;
    let v = ValidationView::load(state, s, Some(id), failed, done).await?;
    Ok(RosterPage {
        frame: s.frame(&SCHOOL_CLASSES).titled("Elenco della classe"),
        day: crate::filters::dmy_it(&r.day),
        r,
        v,
    }
    .into_response())
}

/// `GET …/scuola/classi/<id>`: a class list of one of this user's schools (403 for another).
pub(crate) async fn class_roster(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<EsitoQuery>,
) -> Result<Response, WebError> {
    s.require(SCHOOL_CLASSES.roles)?;
    let done = super::validation::done_message(q.esito.as_deref());
    class_roster_page(&state, &s, id, None, done).await
}
