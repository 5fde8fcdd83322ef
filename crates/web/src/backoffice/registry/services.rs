//! Services of a school year, their tariff bands and sibling reductions. A band's page says
//! what a change of price does: enrolments keep the amounts they were given unless the office
//! ticks the box that gives the band's active enrolments the new amounts from the first day
//! not closed yet (`app::registry`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use refettorio_app::registry::{self as reg, BandInput, ReductionInput, ServiceInput, ServiceView};
use refettorio_app::registry::{SchoolYear, Service, TariffBand};
use refettorio_domain::{Billing, Residency, SchoolYearId, ServiceId, ServiceKind, TariffBandId};
use serde::Deserialize;

use super::{CsrfOnly, Done, REGISTRY, base, changed, done};
use crate::backoffice::Staff;
use crate::filters::dmy_it as dmy;
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct ServiceForm {
    #[serde(default)]
    anno: String,
    #[serde(default)]
    tipo: String,
    #[serde(default)]
    pagamento: String,
    /// `nome-servizio` on the service's page, which also has the form of a new band.
    #[serde(default, alias = "nome-servizio")]
    nome: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl ServiceForm {
    fn input(&self) -> ServiceInput {
        ServiceInput {
            kind: self.tipo.clone(),
            billing: self.pagamento.clone(),
            name: self.nome.clone(),
        }
    }
}

fn billings() -> Vec<(&'static str, &'static str)> {
    Billing::ALL
        .iter()
        .map(|b| (b.as_str(), b.label_it()))
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/services.html")]
struct ServicesPage<'a> {
    frame: Frame<'a>,
    base: String,
    years: Vec<(String, String)>,
    year: Option<SchoolYear>,
    services: Vec<Service>,
    kinds: Vec<(&'static str, &'static str)>,
    billings: Vec<(&'static str, &'static str)>,
    form: ServiceInput,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(ServicesPage);

async fn render_services(
    state: &AppState,
    s: &Staff,
    year: Option<i64>,
    form: ServiceInput,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let (years, year, services) =
        { reg::services_of_year(s.ctx(state), year.map(SchoolYearId)).await? };
    let page = ServicesPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        years: years
            .iter()
            .rev()
            .map(|y| (y.id.get().to_string(), y.label.clone()))
            .collect(),
        year,
        services,
        kinds: ServiceKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_it()))
            .collect(),
        billings: billings(),
        form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/servizi?anno=…`: the services of a year (the current one by default).
pub(crate) async fn services(
    State(state): State<AppState>,
    s: Staff,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_services(
        &state,
        &s,
        d.anno,
        ServiceInput::default(),
        FieldErrors::none(),
        d.message(),
    )
    .await
}

/// `POST …/anagrafiche/servizi`: a new service of the year in the form.
pub(crate) async fn add_service(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<ServiceForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    let year = f.anno.trim().parse::<i64>().ok();
    let Some(y) = year else {
        return Err(WebError::NotFound("Anno scolastico non trovato.".into()));
    };
    match reg::add_service(s.ctx(&state), SchoolYearId(y), &input).await {
        Ok(id) => Ok(done(
            &format!("{}/servizi/{}", base(&s), id.get()),
            "aggiunto",
        )),
        Err(e) => render_services(&state, &s, year, input, FieldErrors::of(e)?, None).await,
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct BandForm {
    #[serde(default)]
    nome: String,
    #[serde(rename = "isee-da", default)]
    isee_da: String,
    #[serde(rename = "isee-a", default)]
    isee_a: String,
    #[serde(default)]
    residenza: String,
    #[serde(rename = "prezzo-pasto", default)]
    prezzo_pasto: String,
    #[serde(rename = "quota-fissa", default)]
    quota_fissa: String,
    esente: Option<String>,
    ricalcola: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl BandForm {
    fn input(&self) -> BandInput {
        let on = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        BandInput {
            name: self.nome.clone(),
            isee_min: self.isee_da.clone(),
            isee_max: self.isee_a.clone(),
            residency: self.residenza.clone(),
            meal_price: self.prezzo_pasto.clone(),
            fixed_fee: self.quota_fissa.clone(),
            exempt: on(&self.esente),
            reprice: on(&self.ricalcola),
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ReductionForm {
    #[serde(rename = "dal-figlio", default)]
    dal_figlio: String,
    #[serde(default)]
    percentuale: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// A band as a row of the service's page.
struct BandRow {
    id: i64,
    name: String,
    isee: String,
    residency: &'static str,
    meal_price: String,
    fixed_fee: String,
    exempt: bool,
    enrolments: i64,
}

fn isee_range(b: &TariffBand) -> String {
    match (b.isee_min, b.isee_max) {
        (min, None) if min.is_zero() => "qualsiasi".into(),
        (min, None) => format!("da {}", min.format_it()),
        (min, Some(max)) if min.is_zero() => format!("fino a {}", max.format_it()),
        (min, Some(max)) => format!("da {} a {}", min.format_it(), max.format_it()),
    }
}

fn residencies() -> Vec<(&'static str, &'static str)> {
    Residency::ALL
        .iter()
        .map(|r| (r.as_str(), r.label_it()))
        .collect()
}

/// A percentage in basis points: "12,5%".
fn percent(bp: u32) -> String {
    let whole = bp / 100;
    let frac = bp % 100;
    if frac == 0 {
        format!("{whole}%")
    } else {
        format!("{whole},{}%", format!("{frac:02}").trim_end_matches('0'))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/service.html")]
struct ServicePage<'a> {
    frame: Frame<'a>,
    base: String,
    service: Service,
    year: SchoolYear,
    billings: Vec<(&'static str, &'static str)>,
    residencies: Vec<(&'static str, &'static str)>,
    form: ServiceInput,
    bands: Vec<BandRow>,
    band_form: BandInput,
    /// (from rank, "30%").
    reductions: Vec<(u32, String)>,
    reduction_form: ReductionInput,
    /// The errors, of the form "servizio", "fascia" or "riduzione".
    errors: FieldErrors,
    done: Option<String>,
}
framed!(ServicePage);

/// What the service's page shows besides the view: the forms as typed and the errors.
#[derive(Default)]
struct ServiceForms {
    service: Option<ServiceInput>,
    band: Option<BandInput>,
    reduction: Option<ReductionInput>,
    errors: FieldErrors,
    which: &'static str,
}

async fn render_service(
    state: &AppState,
    s: &Staff,
    id: i64,
    forms: ServiceForms,
    done: Option<String>,
) -> Result<Response, WebError> {
    let ServiceView {
        service: svc,
        year,
        bands,
        reductions,
        ..
    } = reg::service_view(s.ctx(state), ServiceId(id)).await?;
    let page = ServicePage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        form: forms.service.unwrap_or_else(|| ServiceInput {
            kind: svc.kind.as_str().into(),
            billing: svc.billing.as_str().into(),
            name: svc.name.clone(),
        }),
        service: svc,
        year,
        billings: billings(),
        residencies: residencies(),
        bands: bands
            .iter()
            .map(|(b, all, _)| BandRow {
                id: b.id.get(),
                name: b.name.clone(),
                isee: isee_range(b),
                residency: b.residency.label_it(),
                meal_price: b.meal_price.format_it(),
                fixed_fee: b.fixed_fee.format_it(),
                exempt: b.exempt,
                enrolments: *all,
            })
            .collect(),
        band_form: forms.band.unwrap_or_else(|| BandInput {
            residency: Residency::Any.as_str().into(),
            ..Default::default()
        }),
        reductions: reductions
            .iter()
            .map(|(r, bp)| (*r, percent(*bp)))
            .collect(),
        reduction_form: forms.reduction.unwrap_or_default(),
        errors: forms.errors.in_form(forms.which),
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/servizi/{id}`: the service, its bands and reductions.
pub(crate) async fn service(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_service(&state, &s, id, ServiceForms::default(), d.message()).await
}

/// `POST …/anagrafiche/servizi/{id}`: name and billing.
pub(crate) async fn edit_service(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<ServiceForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_service(s.ctx(&state), ServiceId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/servizi/{id}", base(&s)), c)),
        Err(e) => {
            let forms = ServiceForms {
                service: Some(input),
                errors: FieldErrors::of(e)?,
                which: "servizio",
                ..Default::default()
            };
            render_service(&state, &s, id, forms, None).await
        }
    }
}

/// `POST …/anagrafiche/servizi/{id}/fasce`: a new band.
pub(crate) async fn add_band(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<BandForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::add_band(s.ctx(&state), ServiceId(id), &input).await {
        Ok(_) => Ok(done(&format!("{}/servizi/{id}", base(&s)), "aggiunto")),
        Err(e) => {
            let forms = ServiceForms {
                band: Some(input),
                errors: FieldErrors::of(e)?,
                which: "fascia",
                ..Default::default()
            };
            render_service(&state, &s, id, forms, None).await
        }
    }
}

/// `POST …/anagrafiche/servizi/{id}/riduzioni`: the reduction from a child on.
pub(crate) async fn set_reduction(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<ReductionForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = ReductionInput {
        rank: f.dal_figlio.clone(),
        percent: f.percentuale.clone(),
    };
    match reg::set_reduction(s.ctx(&state), ServiceId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/servizi/{id}", base(&s)), c)),
        Err(e) => {
            let forms = ServiceForms {
                reduction: Some(input),
                errors: FieldErrors::of(e)?,
                which: "riduzione",
                ..Default::default()
            };
            render_service(&state, &s, id, forms, None).await
        }
    }
}

/// `POST …/anagrafiche/servizi/{id}/riduzioni/{rank}/elimina`
pub(crate) async fn delete_reduction(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id, rank)): Path<(String, i64, u32)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    reg::delete_reduction(s.ctx(&state), ServiceId(id), rank).await?;
    Ok(done(&format!("{}/servizi/{id}", base(&s)), "eliminato"))
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/band.html")]
struct BandPage<'a> {
    frame: Frame<'a>,
    base: String,
    band: TariffBand,
    service: Service,
    year: SchoolYear,
    residencies: Vec<(&'static str, &'static str)>,
    form: BandInput,
    /// All enrolments in the band, and the active ones.
    enrolments: (i64, i64),
    /// The first day a repricing changes, "24/11/2026".
    price_from: String,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(BandPage);

async fn render_band(
    state: &AppState,
    s: &Staff,
    id: i64,
    form: Option<BandInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let band = reg::band(s.ctx(state), TariffBandId(id)).await?;
    let view = reg::service_view(s.ctx(state), band.service_id).await?;
    let enrolments = view
        .bands
        .iter()
        .find(|(b, _, _)| b.id == band.id)
        .map_or((0, 0), |(_, all, active)| (*all, *active));
    let page = BandPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        form: form.unwrap_or_else(|| BandInput::from(&band)),
        band,
        service: view.service,
        year: view.year,
        residencies: residencies(),
        enrolments,
        price_from: dmy(&view.price_from),
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/fasce/{id}`
pub(crate) async fn band(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_band(&state, &s, id, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/fasce/{id}`: the band's changes, and with `ricalcola` the new amounts
/// to its active enrolments.
pub(crate) async fn edit_band(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<BandForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_band(s.ctx(&state), TariffBandId(id), &input).await {
        Ok(ch) => {
            let to = format!("{}/fasce/{id}", base(&s));
            Ok(match ch.repriced {
                Some((n, from)) => done(&format!("{to}?ricalcolate={n}&dal={from}"), "modificato"),
                None => changed(&to, ch.changed),
            })
        }
        Err(e) => render_band(&state, &s, id, Some(input), FieldErrors::of(e)?, None).await,
    }
}

/// `POST …/anagrafiche/fasce/{id}/elimina`: only a band no enrolment names.
pub(crate) async fn delete_band(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    match reg::delete_band(s.ctx(&state), TariffBandId(id)).await {
        Ok(svc) => Ok(done(
            &format!("{}/servizi/{}", base(&s), svc.get()),
            "eliminato",
        )),
        Err(e) => render_band(&state, &s, id, None, FieldErrors::of(e)?, None).await,
    }
}
