//! The web layer: portal, back office and public pages (askama), health and metrics, the
//! tenant resolution from the host or the `/t/<slug>/` prefix, and the HTTP middleware stack.

pub(crate) mod access;
mod admin;
pub mod assets;
mod backoffice;
mod cache;
mod error;
mod files;
mod filters;
mod form;
mod metrics;
mod oidc;
mod pages;
pub mod pagopa;
mod portal;
mod recharge;
mod session;
mod spid;
mod tenant;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::{get, post};
use refettorio_app::Db;
use refettorio_domain::Clock;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::WebError;
pub use metrics::install_metrics;
pub use tenant::host_to_path;

/// Settings of the web layer.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// When set (e.g. `refettorio.example.it`), `esempio.refettorio.example.it` serves the
    /// tenant `esempio` at its root, as `/t/esempio/` does on any host.
    pub base_domain: Option<String>,
    /// The public address (for e-mailed links); https marks cookies `Secure`.
    pub public_url: Option<String>,
    /// How this node reaches itself (`http://127.0.0.1:8080`), set once the listener is bound:
    /// the pagoPA sandbox calls our own station through it.
    pub self_url: Option<String>,
    /// Reverse proxies whose forwarding headers (`X-Forwarded-For`, the client certificate's
    /// header) are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How the pagoPA station recognises the node.
    pub station_access: pagopa::caller::StationAccess,
    /// No SMTP server is configured: e-mails go to the test mailbox (a simulation) that the
    /// office and the platform administrator read; the pages say so.
    pub mail_simulated: bool,
    /// The identity providers of SPID and CIE in live mode (from the configured metadata).
    pub federation: refettorio_app::spid::Federation,
    /// The municipalities' OpenID Connect providers: the HTTP client and discovery cache.
    pub oidc: refettorio_app::oidc::RelyingParty,
}

impl WebConfig {
    /// Whether the public address is https: cookies are `Secure` and every answer carries
    /// `Strict-Transport-Security`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<WebConfig>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl AppState {
    /// The context of what belongs to the installation (no municipality yet).
    pub fn installation(&self) -> refettorio_app::Installation<'_> {
        refettorio_app::Installation::new(&self.db, self.clock.as_ref())
    }

    /// A municipality's context for someone not logged in (login, registration, public pages,
    /// the pagoPA station with `Actor::PagoPa`).
    pub fn ctx<'a>(
        &'a self,
        tenant: &'a refettorio_app::Tenant,
        actor: refettorio_domain::Actor,
    ) -> refettorio_app::Ctx<'a> {
        refettorio_app::Ctx::new(&self.db, self.clock.as_ref(), tenant, actor)
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application as a router, with its middleware.
pub fn router(state: AppState) -> Router {
    // Browsers keep to https for a year once they have seen the site on https; sent only when
    // the public address is https (on plain http the header would be ignored, and a test or
    // LAN installation must not pin a host to https).
    let hsts = state.config.secure_cookies().then(|| {
        security_header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        )
    });
    let tenant_routes = Router::new()
        .route("/t/{slug}/", get(pages::tenant_home))
        .route(
            "/t/{slug}/accedi",
            get(access::login_form).post(access::login),
        )
        .route("/t/{slug}/esci", post(access::logout))
        .route(
            "/t/{slug}/registrati",
            get(access::register_form).post(access::register),
        )
        .route("/t/{slug}/attiva", get(access::activate))
        .route("/t/{slug}/spid/metadata", get(spid::metadata))
        .route("/t/{slug}/cie/metadata", get(spid::metadata))
        .route("/t/{slug}/spid/login", get(spid::login))
        .route("/t/{slug}/cie/login", get(spid::login))
        .route("/t/{slug}/spid/acs", post(spid::acs))
        .route("/t/{slug}/cie/acs", post(spid::acs))
        .route("/t/{slug}/oidc/login", get(oidc::login))
        .route("/t/{slug}/oidc/callback", get(oidc::callback))
        .route("/t/{slug}/spid/slo", get(spid::slo))
        .route("/t/{slug}/cie/slo", get(spid::slo))
        .route(
            "/t/{slug}/spid-prova/sso",
            get(spid::sandbox).post(spid::sandbox_answer),
        )
        .route(
            "/t/{slug}/password/recupera",
            get(access::reset_request_form).post(access::reset_request),
        )
        .route(
            "/t/{slug}/password/nuova",
            get(access::reset_new_form).post(access::reset_new),
        )
        .route("/t/{slug}/documenti/{id}", get(pages::public_document))
        .route("/t/{slug}/area-personale", get(portal::home))
        .route("/t/{slug}/area-personale/figli", get(portal::children))
        .route(
            "/t/{slug}/area-personale/figli/{id}/presenze",
            get(portal::attendance),
        )
        .route(
            "/t/{slug}/area-personale/prenotazioni",
            get(portal::bookings).post(portal::change),
        )
        .route(
            "/t/{slug}/area-personale/prenotazioni/tutti",
            post(portal::change_all),
        )
        .route("/t/{slug}/area-personale/pagamenti", get(portal::payments))
        .route(
            "/t/{slug}/area-personale/pagamenti/carrello",
            post(recharge::pay_cart),
        )
        .route(
            "/t/{slug}/area-personale/comunicazioni",
            get(portal::messages),
        )
        .route(
            "/t/{slug}/area-personale/comunicazioni/{id}",
            get(portal::message_file),
        )
        .route("/t/{slug}/area-personale/profilo", get(portal::profile))
        .route(
            "/t/{slug}/area-personale/profilo/contatti",
            post(portal::save_contacts),
        )
        .route(
            "/t/{slug}/area-personale/profilo/password",
            post(portal::change_password),
        )
        .route(
            "/t/{slug}/area-personale/ricarica",
            get(recharge::recharge_form).post(recharge::recharge),
        )
        .route(
            "/t/{slug}/area-personale/avvisi/{id}",
            get(recharge::notice),
        )
        .route(
            "/t/{slug}/area-personale/avvisi/{id}/paga",
            post(recharge::pay),
        )
        .route(
            "/t/{slug}/area-personale/avvisi/{id}/avviso.pdf",
            get(recharge::notice_pdf),
        )
        .route(
            "/t/{slug}/area-personale/avvisi/{id}/ricevuta.pdf",
            get(recharge::receipt_pdf),
        )
        // The back office: each handler checks the staff user's role (backoffice::SECTIONS).
        .route("/t/{slug}/backoffice", get(backoffice::home))
        .route("/t/{slug}/backoffice/conti", get(backoffice::search))
        .route("/t/{slug}/backoffice/conti/{id}", get(backoffice::account))
        .route(
            "/t/{slug}/backoffice/conti/{id}/pagamento",
            post(backoffice::office_payment),
        )
        .route(
            "/t/{slug}/backoffice/conti/{id}/rettifica",
            post(backoffice::adjustment),
        )
        .route(
            "/t/{slug}/backoffice/conti/{id}/rimborso",
            post(backoffice::refund),
        )
        .route(
            "/t/{slug}/backoffice/conti/{id}/giroconto",
            post(backoffice::transfer),
        )
        .route(
            "/t/{slug}/backoffice/pagopa/ricevute",
            get(backoffice::held),
        )
        .route(
            "/t/{slug}/backoffice/pagopa/ricevute/{id}/riconcilia",
            post(backoffice::reconcile),
        )
        .route(
            "/t/{slug}/backoffice/pagopa/ricevute/{id}/scarta",
            post(backoffice::dismiss),
        )
        .route("/t/{slug}/backoffice/registro", get(backoffice::log))
        .route("/t/{slug}/backoffice/messaggi", get(backoffice::messages))
        .route(
            "/t/{slug}/backoffice/comunicazioni",
            get(backoffice::communications).post(backoffice::post_communication),
        )
        .route(
            "/t/{slug}/backoffice/comunicazioni/{id}",
            get(backoffice::communication_report),
        )
        .route(
            "/t/{slug}/backoffice/canali",
            get(backoffice::channels_page).post(backoffice::save_channels),
        )
        .route(
            "/t/{slug}/backoffice/messaggi/casella/{id}",
            get(backoffice::mailbox_message),
        )
        .route(
            "/t/{slug}/backoffice/importazioni",
            get(backoffice::import_page).post(backoffice::upload).layer(
                axum::extract::DefaultBodyLimit::max(backoffice::UPLOAD_BODY_LIMIT),
            ),
        )
        .route(
            "/t/{slug}/backoffice/importazioni/modelli/{tipo}",
            get(backoffice::template),
        )
        .route(
            "/t/{slug}/backoffice/importazioni/{id}",
            get(backoffice::job_page),
        )
        .route(
            "/t/{slug}/backoffice/menu",
            get(backoffice::menus).post(backoffice::add_menu).layer(
                axum::extract::DefaultBodyLimit::max(backoffice::DOCUMENT_BODY_LIMIT),
            ),
        )
        .route(
            "/t/{slug}/backoffice/menu/{id}/ritira",
            post(backoffice::withdraw_menu),
        )
        .route(
            "/t/{slug}/backoffice/contenuti",
            get(backoffice::content_page),
        )
        .route(
            "/t/{slug}/backoffice/contenuti/notizie",
            post(backoffice::add_news),
        )
        .route(
            "/t/{slug}/backoffice/contenuti/notizie/{id}/ritira",
            post(backoffice::withdraw_news),
        )
        .route(
            "/t/{slug}/backoffice/contenuti/documenti",
            post(backoffice::add_document).layer(axum::extract::DefaultBodyLimit::max(
                backoffice::DOCUMENT_BODY_LIMIT,
            )),
        )
        .route(
            "/t/{slug}/backoffice/contenuti/documenti/{id}/ritira",
            post(backoffice::withdraw_document),
        )
        .route(
            "/t/{slug}/backoffice/impostazioni",
            get(backoffice::settings).post(backoffice::save_settings),
        )
        .route(
            "/t/{slug}/backoffice/persone",
            get(backoffice::people::people_search),
        )
        .route(
            "/t/{slug}/backoffice/persone/famiglie",
            post(backoffice::people::add_family),
        )
        .route(
            "/t/{slug}/backoffice/persone/famiglie/{id}",
            get(backoffice::people::family),
        )
        .route(
            "/t/{slug}/backoffice/persone/famiglie/{id}/alunni",
            post(backoffice::people::add_pupil),
        )
        .route(
            "/t/{slug}/backoffice/persone/famiglie/{id}/delegati",
            post(backoffice::people::add_delegate),
        )
        .route(
            "/t/{slug}/backoffice/persone/famiglie/{id}/intestatario",
            post(backoffice::people::change_payer),
        )
        .route(
            "/t/{slug}/backoffice/persone/genitori/{id}",
            get(backoffice::people::guardian).post(backoffice::people::update_guardian),
        )
        .route(
            "/t/{slug}/backoffice/persone/genitori/{id}/codice-attivazione",
            post(backoffice::people::activation_code),
        )
        .route(
            "/t/{slug}/backoffice/persone/genitori/{id}/conferma-account",
            post(backoffice::people::confirm_login),
        )
        .route(
            "/t/{slug}/backoffice/persone/alunni/{id}",
            get(backoffice::people::pupil).post(backoffice::people::update_pupil),
        )
        .route(
            "/t/{slug}/backoffice/persone/alunni/{id}/iscrizioni",
            post(backoffice::people::enrol),
        )
        .route(
            "/t/{slug}/backoffice/persone/iscrizioni/{id}/modifiche",
            post(backoffice::people::schedule_change),
        )
        .route(
            "/t/{slug}/backoffice/scuola",
            get(backoffice::people::school_classes),
        )
        .route(
            "/t/{slug}/backoffice/scuola/classi/{id}",
            get(backoffice::people::class_roster),
        )
        .route(
            "/t/{slug}/backoffice/scuola/iscrizioni/{id}/conferma",
            post(backoffice::validation::confirm),
        )
        .route(
            "/t/{slug}/backoffice/scuola/iscrizioni/{id}/segnala",
            post(backoffice::validation::report),
        )
        .route("/t/{slug}/backoffice/quote", get(backoffice::fees_page))
        .route(
            "/t/{slug}/backoffice/quote/{service}/regola",
            post(backoffice::save_rule),
        )
        .route(
            "/t/{slug}/backoffice/quote/{service}/emissione",
            post(backoffice::issue_fees),
        )
        .route(
            "/t/{slug}/backoffice/quote/{service}/{format}",
            get(backoffice::fees_file),
        )
        .route(
            "/t/{slug}/backoffice/quote/avvisi/{id}",
            get(backoffice::fee_page),
        )
        .route(
            "/t/{slug}/backoffice/quote/avvisi/{id}/{what}",
            post(backoffice::change_fee),
        )
        .route(
            "/t/{slug}/backoffice/chiusure",
            get(backoffice::closures).post(backoffice::add_closure),
        )
        .route("/t/{slug}/backoffice/cucina", get(backoffice::kitchen))
        .route(
            "/t/{slug}/backoffice/cucina/csv",
            get(backoffice::kitchen_csv),
        )
        .route(
            "/t/{slug}/backoffice/cucina/pdf",
            get(backoffice::kitchen_pdf),
        )
        .route(
            "/t/{slug}/backoffice/cucina/xlsx",
            get(backoffice::kitchen_xlsx),
        )
        .route("/t/{slug}/backoffice/report", get(backoffice::reports))
        .route(
            "/t/{slug}/backoffice/report/{nome}",
            get(backoffice::report),
        )
        .route(
            "/t/{slug}/backoffice/report/{nome}/{formato}",
            get(backoffice::report_file),
        )
        .route("/t/{slug}/backoffice/refettorio", get(backoffice::canteen))
        .route(
            "/t/{slug}/backoffice/refettorio/correzione",
            post(backoffice::correct),
        )
        // The registry of the service's structure (office): backoffice::registry.
        .route(
            "/t/{slug}/backoffice/anagrafiche",
            get(backoffice::registry::index),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/scuole",
            get(backoffice::registry::schools).post(backoffice::registry::add_school),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/scuole/{id}",
            get(backoffice::registry::school).post(backoffice::registry::edit_school),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/scuole/{id}/elimina",
            post(backoffice::registry::delete_school),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/scuole/{id}/classi",
            post(backoffice::registry::add_class),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/classi/{id}",
            get(backoffice::registry::class).post(backoffice::registry::edit_class),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/classi/{id}/elimina",
            post(backoffice::registry::delete_class),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/anni",
            get(backoffice::registry::years).post(backoffice::registry::add_year),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/anni/{id}",
            get(backoffice::registry::year).post(backoffice::registry::edit_year),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/servizi",
            get(backoffice::registry::services).post(backoffice::registry::add_service),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/servizi/{id}",
            get(backoffice::registry::service).post(backoffice::registry::edit_service),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/servizi/{id}/fasce",
            post(backoffice::registry::add_band),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/servizi/{id}/riduzioni",
            post(backoffice::registry::set_reduction),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/servizi/{id}/riduzioni/{rank}/elimina",
            post(backoffice::registry::delete_reduction),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/fasce/{id}",
            get(backoffice::registry::band).post(backoffice::registry::edit_band),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/fasce/{id}/elimina",
            post(backoffice::registry::delete_band),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/diete",
            get(backoffice::registry::diets).post(backoffice::registry::add_diet),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/diete/{id}",
            get(backoffice::registry::diet).post(backoffice::registry::edit_diet),
        )
        .route(
            "/t/{slug}/backoffice/anagrafiche/diete/{id}/elimina",
            post(backoffice::registry::delete_diet),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            tenant::resolve,
        ));

    Router::new()
        .route("/", get(pages::index))
        .route("/health", get(pages::health))
        .route("/metrics", get(metrics::render))
        .route("/accessibilita", get(pages::accessibility))
        .route("/static/{*path}", get(assets::serve))
        .route("/t/{slug}", get(pages::tenant_home_redirect))
        // The platform administrator (no municipality): each handler takes admin::PlatformAdmin.
        .route("/admin", get(admin::home))
        .route("/admin/accedi", get(admin::login_form).post(admin::login))
        .route("/admin/esci", post(admin::logout))
        .route("/admin/comuni", post(admin::create_tenant))
        .route("/admin/posta", get(admin::mailbox))
        .route("/admin/posta/{id}", get(admin::mailbox_message))
        .route("/admin/comuni/{slug}", get(admin::tenant))
        .route("/admin/comuni/{slug}/personale", post(admin::add_staff))
        .route(
            "/admin/comuni/{slug}/identita",
            get(admin::identity).post(admin::save_identity),
        )
        .route(
            "/admin/comuni/{slug}/personale/{id}/scuole",
            post(admin::staff_schools),
        )
        .route(
            "/admin/comuni/{slug}/personale/{id}/disattiva",
            post(admin::deactivate),
        )
        .route(
            "/admin/comuni/{slug}/personale/{id}/riattiva",
            post(admin::reactivate),
        )
        .route("/pagopa/paForNode", post(pagopa::station::pa_for_node))
        .route(
            "/pagopa/sandbox/checkout/ec/v1/carts",
            post(pagopa::sandbox::carts),
        )
        .route(
            "/pagopa/sandbox/pagamento",
            get(pagopa::sandbox::page).post(pagopa::sandbox::pay),
        )
        .merge(tenant_routes)
        .fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(axum::middleware::from_fn(error::render_error_pages))
        .layer(axum::middleware::from_fn(cache::no_store))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
                }).on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                ))
                .layer(security_header(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                     script-src 'self'; font-src 'self'; frame-ancestors 'none'; form-action 'self'; \
                     base-uri 'self'; object-src 'none'",
                ))
                .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(security_header(header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
                .layer(security_header(
                    HeaderName::from_static("permissions-policy"),
                    "camera=(), microphone=(), geolocation=()",
                ))
                .layer(security_header(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
                .option_layer(hsts),
        )
        .with_state(state)
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
