//! Pages shared by the whole installation and the public pages of a municipality.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::{Tenant, content};
use refettorio_domain::{Actor, day_it};
use serde::Serialize;

use crate::filters;
use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

/// What the base layout shows: the page title and, inside a municipality, its name and slug.
pub(crate) struct Layout<'a> {
    pub title: &'a str,
    pub tenant_name: Option<&'a str>,
    pub tenant_slug: Option<&'a str>,
    /// The logged-in user's name and the session's CSRF token (for the logout form).
    pub user: Option<(&'a str, &'a str)>,
}

/// A menu: each entry's address, label and whether it is the current page.
pub(crate) type Menu = Vec<(String, &'static str, bool)>;

/// What every page of an area (the office's or the family's) shows around its content: the base
/// layout, the area's menu, the municipality's slug and the session's CSRF token. A page keeps one
/// in its `frame` field; `framed!` lets its template read them as the page's own fields.
pub(crate) struct Frame<'a> {
    pub layout: Layout<'a>,
    pub nav: Menu,
    pub slug: &'a str,
    pub csrf: &'a str,
}

impl<'a> Frame<'a> {
    /// The same frame under another title (a record's page inside a section).
    pub fn titled(self, title: &'a str) -> Self {
        Frame {
            layout: Layout {
                title,
                ..self.layout
            },
            ..self
        }
    }
}

/// Lets the templates of these pages read their `frame`'s fields (`layout`, `nav`, `slug`,
/// `csrf`) as their own.
macro_rules! framed {
    ($($page:ident),+ $(,)?) => {
        $(
            impl<'a> std::ops::Deref for $page<'a> {
                type Target = $crate::pages::Frame<'a>;
                fn deref(&self) -> &Self::Target {
                    &self.frame
                }
            }
        )+
    };
}
pub(crate) use framed;

impl<'a> Layout<'a> {
    pub fn plain(title: &'a str) -> Self {
        Layout {
            title,
            tenant_name: None,
            tenant_slug: None,
            user: None,
        }
    }

    pub fn tenant(title: &'a str, t: &'a Tenant) -> Self {
        Layout {
            title,
            tenant_name: Some(&t.name),
            tenant_slug: Some(t.slug.as_str()),
            user: None,
        }
    }

    /// A page of the personal area: the header shows who is logged in and the logout button.
    pub fn citizen(title: &'a str, c: &'a crate::session::Citizen, name: &'a str) -> Self {
        Layout {
            title,
            tenant_name: Some(&c.tenant.name),
            tenant_slug: Some(c.tenant.slug.as_str()),
            user: Some((name, c.session.csrf_token.as_str())),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    layout: Layout<'a>,
    tenants: Vec<Tenant>,
}

pub(crate) async fn index(State(state): State<AppState>) -> Result<Response, WebError> {
    let tenants = refettorio_app::tenant::list(state.installation()).await?;
    Ok(IndexPage {
        layout: Layout::plain("Servizi scolastici"),
        tenants,
    }
    .into_response())
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    version: &'static str,
    /// Each municipality's closes and messages (absent when they cannot be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    municipalities: Option<Vec<HealthMunicipality>>,
}

#[derive(Serialize)]
struct HealthMunicipality {
    slug: String,
    /// The last closed day, `YYYY-MM-DD`, or null before the first close.
    last_closed_day: Option<String>,
    /// Days left open between closed days: the office closes them by hand.
    days_not_closed: u64,
    /// Queued messages not sent yet.
    outbox_backlog: u64,
}

/// `GET /health`: 200 when the database answers, 503 otherwise; with each municipality's last
/// closed day, days left open and outbox backlog.
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let database = state.db.backend().as_str();
    let version = env!("CARGO_PKG_VERSION");
    match state.db.ping().await {
        Ok(()) => {
            let municipalities = match refettorio_app::scheduler::status(&state.db).await {
                Ok(list) => Some(
                    list.into_iter()
                        .map(|m| HealthMunicipality {
                            slug: m.slug,
                            last_closed_day: m.last_closed_day.map(|d| d.to_string()),
                            days_not_closed: m.days_not_closed,
                            outbox_backlog: m.outbox_backlog,
                        })
                        .collect(),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "health check: cannot read the closes");
                    None
                }
            };
            Json(Health {
                status: "ok",
                database,
                version,
                municipalities,
            })
            .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database,
                    version,
                    municipalities: None,
                }),
            )
                .into_response()
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "accessibility.html")]
struct AccessibilityPage<'a> {
    layout: Layout<'a>,
}

pub(crate) async fn accessibility() -> impl IntoResponse {
    AccessibilityPage {
        layout: Layout::plain("Dichiarazione di accessibilità"),
    }
}

pub(crate) async fn not_found() -> WebError {
    WebError::NotFound("L'indirizzo richiesto non esiste.".into())
}

pub(crate) async fn tenant_home_redirect(Path(slug): Path<String>) -> Redirect {
    Redirect::permanent(&format!("/t/{slug}/"))
}

#[derive(Template, WebTemplate)]
#[template(path = "tenant_home.html")]
struct TenantHome<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    cutoff: String,
    today_label: String,
    today_status: String,
    office_email: Option<&'a str>,
    office_phone: Option<&'a str>,
    news: Vec<content::News>,
    documents: Vec<content::DocumentInfo>,
}

impl TenantHome<'_> {
    fn category_label(c: &str) -> &'static str {
        refettorio_app::content::category_label(c)
    }
}

pub(crate) async fn tenant_home(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
) -> Result<Response, WebError> {
    let cutoff = t.cutoff_time.strftime("%H:%M").to_string();
    let home = content::public_home(state.ctx(&t, Actor::Public)).await?;
    let day = home.today;
    let today_status = match home.status {
        None => "Nessun anno scolastico in corso.".to_string(),
        Some(status) if status.is_school_day() => {
            format!("Giorno di scuola: i pasti si possono disdire fino alle {cutoff}.")
        }
        Some(status) => format!("Nessun pasto: {}.", status.label_it()),
    };
    Ok(TenantHome {
        news: home.news,
        documents: home.documents,
        layout: Layout::tenant("Servizi scolastici", &t),
        slug: t.slug.as_str(),
        cutoff,
        today_label: day_it(day),
        today_status,
        office_email: t.settings.office_email.as_deref(),
        office_phone: t.settings.office_phone.as_deref(),
    }
    .into_response())
}

/// A public document of the municipality (regulation, tariffs, menus, forms).
pub(crate) async fn public_document(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    match content::public_document(state.ctx(&t, Actor::Public), id).await? {
        Some((info, bytes)) => Ok(crate::files::download(&info, bytes)),
        None => Err(WebError::NotFound("Documento non trovato.".into())),
    }
}
