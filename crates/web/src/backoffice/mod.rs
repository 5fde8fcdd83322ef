//! The back office of a municipality at `/t/<slug>/backoffice`: the [`Staff`] extractor, the
//! one table of sections with the roles that may use each ([`SECTIONS`]), and the home with
//! the menu of what the user's role may do.
//!
//! Every handler takes [`Staff`] (an active staff user of this municipality, in a session of
//! this municipality) and, first thing, `staff.require(SECTION.roles)?`: the menu and the
//! guard read the same table, so a page is in the menu exactly when its role may open it.

mod accounts;
mod audit;
mod canteen;
mod channels;
mod closures;
mod communications;
mod content;
mod fees;
mod import;
mod kitchen;
mod menus;
mod messages;
pub(crate) mod people;
mod receipts;
pub(crate) mod registry;
mod reports;
mod settings;
mod upload;
pub(crate) mod validation;

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use refettorio_app::Tenant;
use refettorio_app::auth::{self, Session, StaffUser, Subject};
use refettorio_domain::{Actor, StaffRole};

pub(crate) use accounts::{account, adjustment, office_payment, refund, search, transfer};
pub(crate) use audit::log;
pub(crate) use canteen::{canteen, correct};
pub(crate) use channels::{channels_page, save_channels};
pub(crate) use closures::{add_closure, closures};
pub(crate) use communications::{communication_report, communications, post_communication};
pub(crate) use content::{
    DOCUMENT_BODY_LIMIT, add_document, add_news, content_page, withdraw_document, withdraw_news,
};
pub(crate) use fees::{change_fee, fee_page, fees_file, fees_page, issue as issue_fees, save_rule};
pub(crate) use import::{UPLOAD_BODY_LIMIT, import_page, job_page, template, upload};
pub(crate) use kitchen::{kitchen, kitchen_csv, kitchen_pdf, kitchen_xlsx};
pub(crate) use menus::{add_menu, menus, withdraw_menu};
pub(crate) use messages::{mailbox_message, messages};
pub(crate) use receipts::{dismiss, held, reconcile};
pub(crate) use reports::{report, report_file, reports};
pub(crate) use settings::{save_settings, settings};

use crate::pages::{Frame, Layout, framed};
use crate::session::{current_session, same_origin, same_secret, to_login};
use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

/// A part of the back office and the roles that may use it.
pub(crate) struct Section {
    /// Below `/t/<slug>/backoffice`.
    pub path: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub roles: &'static [StaffRole],
}

/// Every role of a municipality's staff (the home).
const ANY_STAFF: &[StaffRole] = &[
    StaffRole::Office,
    StaffRole::School,
    StaffRole::Kitchen,
    StaffRole::CanteenStaff,
];
pub(crate) const OFFICE: &[StaffRole] = &[StaffRole::Office];

pub(crate) const HOME: Section = Section {
    path: "",
    title: "Pagina iniziale",
    summary: "",
    roles: ANY_STAFF,
};
pub(crate) const ACCOUNTS: Section = Section {
    path: "/conti",
    title: "Conti delle famiglie",
    summary: "Cerca una famiglia, vedi saldo e movimenti, registra pagamenti ricevuti altrove, rettifiche e rimborsi.",
    roles: OFFICE,
};
pub(crate) const RECEIPTS: Section = Section {
    path: "/pagopa/ricevute",
    title: "Ricevute pagoPA da verificare",
    summary: "Pagamenti arrivati da pagoPA che non sono stati accreditati da soli: avvisi sconosciuti, importi diversi, secondi pagamenti.",
    roles: OFFICE,
};
pub(crate) const AUDIT: Section = Section {
    path: "/registro",
    title: "Registro delle modifiche",
    summary: "Chi ha cambiato cosa e quando: pagamenti, rettifiche, rimborsi, chiusure, presenze.",
    roles: OFFICE,
};

pub(crate) const CLOSURES: Section = Section {
    path: "/chiusure",
    title: "Chiusure del servizio",
    summary: "Scioperi, gite, chiusure di una scuola o di una classe: anteprima dei pasti e delle famiglie coinvolte, poi i pasti annullati senza addebito.",
    roles: OFFICE,
};

pub(crate) const KITCHEN: Section = Section {
    path: "/cucina",
    title: "Pasti da preparare",
    summary: "I numeri della cucina per scuola e classe: pasti normali, in bianco e per codice dieta, con CSV, Excel e PDF.",
    roles: &[StaffRole::Kitchen, StaffRole::Office],
};

pub(crate) const CANTEEN: Section = Section {
    path: "/refettorio",
    title: "Presenze in mensa",
    summary: "L'elenco di oggi di una classe, con le correzioni: assente (pasto stornato) o presente senza prenotazione (pasto addebitato).",
    // The school corrects only the classes of its own schools (`app::backoffice::class_list`).
    roles: &[
        StaffRole::CanteenStaff,
        StaffRole::School,
        StaffRole::Office,
    ],
};

/// The reports' index; each report has its own roles (`reports.rs`): the kitchen sees meal
/// counts, never money.
pub(crate) const REPORTS: Section = Section {
    path: "/report",
    title: "Report e grafici",
    summary: "Pasti del giorno, pasti serviti per giorno e mese, incassi e ricariche, saldi e morosità: tabelle con CSV ed Excel, grafici.",
    roles: &[StaffRole::Kitchen, StaffRole::Office],
};

pub(crate) const MENUS: Section = Section {
    path: "/menu",
    title: "Menù",
    summary: "Pubblica i menù del servizio nella pagina pubblica e ritira quelli superati.",
    roles: &[StaffRole::Kitchen, StaffRole::Office],
};

pub(crate) const CONTENT: Section = Section {
    path: "/contenuti",
    title: "Notizie e documenti",
    summary: "Pubblica notizie e documenti (regolamento, tariffe, informativa privacy, moduli, menù) nella pagina pubblica del servizio.",
    roles: OFFICE,
};

pub(crate) const SETTINGS: Section = Section {
    path: "/impostazioni",
    title: "Impostazioni del servizio",
    summary: "Orario limite, giorni di anticipo, pasto in bianco, soglia di credito basso, contatti dell'ufficio, configurazione pagoPA.",
    roles: OFFICE,
};

pub(crate) const MESSAGES: Section = Section {
    path: "/messaggi",
    title: "Messaggi",
    summary: "Le e-mail alle famiglie e alla cucina: inviate, in attesa, non consegnate con il motivo.",
    roles: OFFICE,
};

pub(crate) const IMPORT: Section = Section {
    path: "/importazioni",
    title: "Importazione dal gestionale precedente",
    summary: "Genitori, alunni, iscrizioni e saldi iniziali da file CSV o Excel: prova senza scrivere, poi importazione tutta insieme.",
    roles: OFFICE,
};

/// The sections of the menu, in order.
pub(crate) const SECTIONS: &[&Section] = &[
    &KITCHEN,
    &MENUS,
    &CANTEEN,
    &ACCOUNTS,
    &RECEIPTS,
    &fees::FEES,
    &registry::REGISTRY,
    &people::PEOPLE,
    &people::SCHOOL_CLASSES,
    &CLOSURES,
    &AUDIT,
    &communications::COMMUNICATIONS,
    &MESSAGES,
    &REPORTS,
    &CONTENT,
    &SETTINGS,
    &channels::CHANNELS,
    &IMPORT,
];

/// A logged-in staff user of the municipality of the page.
pub(crate) struct Staff {
    pub tenant: Arc<Tenant>,
    pub user: StaffUser,
    pub session: Session,
}

impl Staff {
    /// Refuses (403) a user whose role is not among `roles`.
    pub fn require(&self, roles: &[StaffRole]) -> Result<(), WebError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Checks the CSRF token of a form posted in this session.
    pub fn check_csrf(&self, headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
        (same_origin(headers) && same_secret(&self.session.csrf_token, submitted))
            .then_some(())
            .ok_or(WebError::Forbidden)
    }

    /// The use cases' context for this user's requests.
    pub fn ctx<'a>(&'a self, state: &'a crate::AppState) -> refettorio_app::Ctx<'a> {
        state.ctx(&self.tenant, Actor::Staff(self.user.id))
    }

    pub fn slug(&self) -> &str {
        self.tenant.slug.as_str()
    }

    /// The frame of a back-office page in section `current`: the user's name and the logout
    /// form, and the menu of the sections this role may use with `current` marked.
    pub fn frame<'a>(&'a self, current: &'a Section) -> Frame<'a> {
        let base = format!("/t/{}/backoffice", self.slug());
        let nav = std::iter::once(&HOME)
            .chain(SECTIONS.iter().copied())
            .filter(|s| s.roles.contains(&self.user.role))
            .map(|s| {
                (
                    format!("{base}{}", s.path),
                    s.title,
                    std::ptr::eq(s, current),
                )
            })
            .collect();
        Frame {
            layout: Layout {
                user: Some((&self.user.display_name, &self.session.csrf_token)),
                ..Layout::tenant(current.title, &self.tenant)
            },
            nav,
            slug: self.slug(),
            csrf: &self.session.csrf_token,
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    /// No session, or a session of another municipality: the login. A family's session, or a
    /// staff user no longer active: 403.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(CurrentTenant(tenant)) = parts.extensions.get::<CurrentTenant>().cloned() else {
            return Err(WebError::NotFound("Comune non trovato.".into()).into_response());
        };
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let found = current_session(state, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((session, _)) = found.filter(|(s, _)| s.tenant == Some(tenant.id)) else {
            return Err(to_login(&tenant, &uri));
        };
        let Subject::Staff(id) = session.subject else {
            return Err(WebError::Forbidden.into_response());
        };
        let user = auth::staff_user(state.ctx(&tenant, Actor::Staff(id)), id)
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        match user {
            Some(user) if user.active && user.tenant_id == Some(tenant.id) => Ok(Staff {
                tenant,
                user,
                session,
            }),
            _ => Err(WebError::Forbidden.into_response()),
        }
    }
}

/// A menu entry of the home: link, title, what it is for.
pub(crate) struct Entry {
    pub href: String,
    pub title: &'static str,
    pub summary: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/home.html")]
struct HomePage<'a> {
    frame: Frame<'a>,
    name: &'a str,
    role: &'static str,
    entries: Vec<Entry>,
    /// For the office: the days left open between closed days, `(from, to, days, first day as
    /// YYYY-MM-DD)`.
    not_closed: Vec<(String, String, i32, String)>,
}
framed!(HomePage);

/// `GET /t/<slug>/backoffice`: what this role may do; for the office, first, the days the
/// scheduler did not close (older than its catch-up window), to close by hand.
pub(crate) async fn home(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    s: Staff,
) -> Result<Response, WebError> {
    s.require(HOME.roles)?;
    let mut not_closed = Vec::new();
    if s.user.role == StaffRole::Office {
        for (from, to) in refettorio_app::scheduler::days_not_closed(s.ctx(&state)).await? {
            let days = from.until(to).map(|d| d.get_days() + 1).unwrap_or(1);
            not_closed.push((
                crate::filters::dmy_it(&from),
                crate::filters::dmy_it(&to),
                days,
                from.to_string(),
            ));
        }
    }
    let base = format!("/t/{}/backoffice", s.slug());
    let entries = SECTIONS
        .iter()
        .filter(|x| x.roles.contains(&s.user.role))
        .map(|x| Entry {
            href: format!("{base}{}", x.path),
            title: x.title,
            summary: x.summary,
        })
        .collect();
    Ok(HomePage {
        frame: s.frame(&HOME).titled("Gestione del servizio"),
        name: &s.user.display_name,
        role: s.user.role.label_it(),
        entries,
        not_closed,
    }
    .into_response())
}

pub(crate) use crate::filters::when_it as when;
