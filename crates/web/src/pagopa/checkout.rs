//! pagoPA Checkout: the cart of a family's payment (`POST /checkout/ec/v1/carts`), answered
//! with a redirect to the payment page. In sandbox mode the cart goes to our own stand-in
//! (`/pagopa/sandbox`), over the same HTTP; in live mode to the configured Checkout with the
//! subscription key. Only the receipt proves a payment: the "ok" return says the family came
//! back, nothing more.

use std::sync::LazyLock;
use std::time::Duration;

use refettorio_app::Ctx;
use refettorio_app::pagopa::{self as pay, Position, Tenant};
use refettorio_domain::PagoPaMode;
use serde::{Deserialize, Serialize};

use crate::AppState;

/// The cart, as `checkout_v1.json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartRequest {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email_notice: Option<String>,
    pub payment_notices: Vec<CartNotice>,
    pub return_urls: ReturnUrls,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_cart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub all_ccp: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartNotice {
    pub notice_number: String,
    pub fiscal_code: String,
    /// Cents.
    pub amount: i64,
    pub company_name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnUrls {
    pub return_ok_url: String,
    pub return_cancel_url: String,
    pub return_error_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("Checkout is not configured for this municipality")]
    NotConfigured,
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("Checkout answered {0}")]
    Refused(u16),
    #[error(transparent)]
    App(#[from] refettorio_app::AppError),
}

/// The one HTTP client for Checkout and the sandbox's calls to the station: no redirects
/// followed (the answer *is* a redirect), short timeouts, TLS with the system's roots.
pub(crate) fn client() -> Result<&'static reqwest::Client, CheckoutError> {
    static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())
    });
    CLIENT
        .as_ref()
        .map_err(|e| CheckoutError::Client(e.clone()))
}

/// Where the family's browser comes back to, and where links in messages point.
pub(crate) fn public_base(state: &AppState) -> String {
    state
        .config
        .public_url
        .clone()
        .or_else(|| state.config.self_url.clone())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

/// Cuts a text to `max` characters (Checkout's limits are in characters).
fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Checkout takes at most this many notices in one cart.
pub const MAX_CART: usize = 5;

/// The cart of one or more positions (at most [`MAX_CART`]); the family comes back to `back`
/// (a path of the personal area) with `?esito=ok|annullato|errore`.
pub fn cart_of(
    tenant: &Tenant,
    positions: &[Position],
    base: &str,
    back: &str,
    email: Option<&str>,
    id_cart: &str,
) -> CartRequest {
    let back = format!("{base}{back}");
    CartRequest {
        email_notice: email.map(str::to_string),
        payment_notices: positions
            .iter()
            .map(|p| CartNotice {
                notice_number: p.notice_number.as_str().to_string(),
                fiscal_code: tenant.fiscal_code.as_str().to_string(),
                amount: p.amount.get(),
                company_name: cut(&tenant.name, 140),
                description: cut(&p.description, 140),
            })
            .collect(),
        return_urls: ReturnUrls {
            return_ok_url: format!("{back}?esito=ok"),
            return_cancel_url: format!("{back}?esito=annullato"),
            return_error_url: format!("{back}?esito=errore"),
        },
        id_cart: Some(id_cart.to_string()),
        all_ccp: Some(false),
    }
}

/// Sends the cart of `positions` (1 to [`MAX_CART`]) to Checkout (or to the sandbox) and
/// returns where to send the family, who comes back to `back`. The cart id is stored on each
/// position: it comes back as paGetPayment's `paymentNote`.
pub async fn start(
    state: &AppState,
    ctx: Ctx<'_>,
    positions: &[Position],
    back: &str,
    email: Option<&str>,
) -> Result<String, CheckoutError> {
    let first = positions.first().ok_or(CheckoutError::Refused(400))?;
    if positions.len() > MAX_CART {
        return Err(CheckoutError::Refused(400));
    }
    let tenant = ctx.tenant;
    let settings = &tenant.settings.pagopa;
    let (endpoint, key) = match settings.mode {
        PagoPaMode::Sandbox => {
            let own = state
                .config
                .self_url
                .as_deref()
                .ok_or(CheckoutError::NotConfigured)?;
            (
                format!(
                    "{}/pagopa/sandbox/checkout/ec/v1/carts",
                    own.trim_end_matches('/')
                ),
                None,
            )
        }
        PagoPaMode::Live => {
            let base = settings
                .checkout_base_url
                .as_deref()
                .filter(|b| !b.trim().is_empty())
                .ok_or(CheckoutError::NotConfigured)?;
            (
                format!("{}/checkout/ec/v1/carts", base.trim_end_matches('/')),
                settings.checkout_key.clone(),
            )
        }
    };
    let id_cart = format!(
        "{}-{}",
        first.iuv,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let cart = cart_of(
        tenant,
        positions,
        &public_base(state),
        back,
        email,
        &id_cart,
    );
    let mut req = client()?.post(&endpoint).json(&cart);
    if let Some(k) = key {
        req = req.header("Ocp-Apim-Subscription-Key", k);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| CheckoutError::Client(e.to_string()))?;
    let status = resp.status();
    if !status.is_redirection() {
        return Err(CheckoutError::Refused(status.as_u16()));
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with("https://") || l.starts_with("http://") || l.starts_with('/'))
        .ok_or(CheckoutError::Refused(status.as_u16()))?
        .to_string();
    for p in positions {
        pay::set_cart(ctx, p.id, &id_cart).await?;
    }
    Ok(location)
}
