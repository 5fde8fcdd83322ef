//! The office's registry of the service's structure, at `/t/<slug>/backoffice/anagrafiche`:
//! schools and their classes with the canteen weekdays, school years and their calendar,
//! services with tariff bands and sibling reductions, diet codes. One section of the menu
//! ([`REGISTRY`], office only); the use cases (checks, audit) are `app::registry`.
//!
//! Every page follows the same pattern: GET shows the list or the row with its forms; a POST
//! that the use case refuses shows the same page with the Italian field errors (422, nothing
//! written); one that succeeds redirects to the page with `?fatto=…`.

mod diets;
mod schools;
mod services;
mod years;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::registry as reg;
use serde::Deserialize;

pub(crate) use diets::{add_diet, delete_diet, diet, diets, edit_diet};
pub(crate) use schools::{
    add_class, add_school, class, delete_class, delete_school, edit_class, edit_school, school,
    schools,
};
pub(crate) use services::{
    add_band, add_service, band, delete_band, delete_reduction, edit_band, edit_service, service,
    services, set_reduction,
};
pub(crate) use years::{add_year, edit_year, year, years};

use super::{Section, Staff};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

pub(crate) const REGISTRY: Section = Section {
    path: "/anagrafiche",
    title: "Anagrafiche del servizio",
    summary: "Scuole e classi con i giorni di mensa, anni scolastici e calendario, servizi, fasce tariffarie, riduzioni per fratelli, codici dieta.",
    roles: &[refettorio_domain::StaffRole::Office],
};

/// `/t/<slug>/backoffice/anagrafiche`
fn base(s: &Staff) -> String {
    format!("/t/{}/backoffice{}", s.slug(), REGISTRY.path)
}

/// The `?fatto=…` of a page after a change, and what it says.
#[derive(Deserialize, Default)]
pub(crate) struct Done {
    #[serde(default)]
    fatto: String,
    /// Enrolments given a band's new amounts, and from which day.
    ricalcolate: Option<u64>,
    dal: Option<String>,
    /// The school year of the services page.
    anno: Option<i64>,
}

impl Done {
    fn message(&self) -> Option<String> {
        let m = match self.fatto.as_str() {
            "aggiunto" => "Inserimento registrato.",
            "modificato" => "Modifiche salvate.",
            "invariato" => "Non c'era nulla da cambiare: nessuna modifica registrata.",
            "eliminato" => "Eliminazione registrata.",
            _ => return None,
        };
        Some(match (self.ricalcolate, &self.dal) {
            (Some(n), Some(dal)) => {
                let dal = dal
                    .parse::<jiff::civil::Date>()
                    .map(|d| crate::filters::dmy_it(&d))
                    .unwrap_or_default();
                format!("{m} Nuovi importi dati a {n} iscrizioni attive, per i pasti dal {dal}.")
            }
            _ => m.to_string(),
        })
    }
}

/// Where a change goes back to, with what it did.
fn done(to: &str, what: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}fatto={what}")).into_response()
}

fn changed(to: &str, changed: bool) -> Response {
    done(to, if changed { "modificato" } else { "invariato" })
}

/// The form with only the CSRF token (the delete buttons).
#[derive(Deserialize, Default)]
pub(crate) struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/index.html")]
struct IndexPage<'a> {
    frame: Frame<'a>,
    base: String,
    year: Option<String>,
    schools: usize,
    years: usize,
    diets: usize,
}
framed!(IndexPage);

/// `GET /t/<slug>/backoffice/anagrafiche`: what there is to manage.
pub(crate) async fn index(State(state): State<AppState>, s: Staff) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    let reg::RegistryCounts {
        year,
        schools,
        years,
        diets,
    } = reg::counts(s.ctx(&state)).await?;
    Ok(IndexPage {
        frame: s.frame(&REGISTRY),
        base: base(&s),
        year,
        schools,
        years,
        diets,
    }
    .into_response())
}
