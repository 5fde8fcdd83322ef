//! Families' login through a municipality's OpenID Connect provider (issue 16): for a
//! municipality that reaches SPID and CIE through an identity proxy rather than as a SAML
//! service provider of its own. The authorization code flow with PKCE (S256), a `state` taken
//! once in the browser that asked, and an ID token whose signature (the provider's published
//! keys), issuer, audience, times and `nonce` must all hold; the person is then the guardian
//! with the fiscal code the provider vouches for ([`crate::identity::guardian_of`]).
//!
//! The settings are `settings.identity.oidc` ([`OidcSettings`]); the client secret is the
//! municipality's `oidc_client_secret` in `tenant_secret` (none: a public client, PKCE only).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use refettorio_db::auth::Subject;
use refettorio_db::oidc;
use refettorio_domain::identity::{OidcSettings, fiscal_code_of};
use serde::{Deserialize, Serialize};

use crate::auth::{new_token, open_session};
use crate::identity::{LoggedIn, LoginFailed, Proven, Started, guardian_of};
use crate::outbox::guard;
use crate::spid::Endpoints;
use crate::{AppError, Ctx};

/// The name of the client secret in `tenant_secret`.
pub const SECRET: &str = "oidc_client_secret";

/// How long a login may wait for its answer.
const REQUEST_VALIDITY: SignedDuration = SignedDuration::from_mins(30);
/// How long a provider's discovery document and keys are kept before being read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// How long one call to the provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider (a discovery document, keys, tokens).
const MAX_ANSWER: usize = 256 * 1024;

/// The claims beyond the standard ones, by name (the fiscal code's among them).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    claims: BTreeMap<String, serde_json::Value>,
}

impl AdditionalClaims for Extra {}

impl Extra {
    fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(serde_json::Value::as_str)
    }
}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type OidcClient = Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A call to the provider that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallFailed(String);

/// The HTTP client the provider is called with: no redirects followed, bounded in time and
/// size, and (unless the installation allows private hosts) only public addresses.
#[derive(Clone)]
struct Http(reqwest::Client);

impl Http {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, CallFailed> {
        let failed = |e: &dyn std::fmt::Display| CallFailed(e.to_string());
        let (parts, body) = request.into_parts();
        let mut answer = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| failed(&e))?;
        let mut builder = openidconnect::http::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            builder = builder.header(name, value);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(|e| failed(&e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(CallFailed(format!(
                    "the provider's answer is larger than {MAX_ANSWER} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        builder.body(bytes).map_err(|e| failed(&e))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = CallFailed;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, CallFailed>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The installation's side of OpenID Connect: its HTTP client and the providers' discovery
/// documents it has read (by issuer, for [`DISCOVERY_TTL`]).
#[derive(Clone)]
pub struct RelyingParty {
    http: Option<Http>,
    allow_private: bool,
    discovered: Arc<Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl Default for RelyingParty {
    fn default() -> Self {
        RelyingParty::new(false)
    }
}

impl RelyingParty {
    /// `allow_private`: whether providers may be at private addresses (the installation's
    /// `channels_allow_private_hosts`, as for the SMS gateways).
    pub fn new(allow_private: bool) -> RelyingParty {
        // No client (TLS could not start): every login through a provider is refused, never
        // sent through a client without these guards.
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(guard::PublicOnly { allow_private }))
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Http)
            .map_err(|e| tracing::error!(error = %e, "no HTTP client for OpenID providers"))
            .ok();
        RelyingParty {
            http,
            allow_private,
            discovered: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn http(&self) -> Result<&Http, AppError> {
        self.http.as_ref().ok_or_else(|| {
            AppError::Unavailable("Il servizio di accesso del Comune non è disponibile.".into())
        })
    }

    /// The provider's discovery document and keys, read again after [`DISCOVERY_TTL`].
    async fn provider(&self, issuer: &str) -> Result<CoreProviderMetadata, AppError> {
        let unavailable = |why: String| {
            tracing::warn!(%issuer, reason = %why, "OpenID provider not available");
            AppError::Unavailable(
                "Il servizio di accesso del Comune non risponde. Riprova tra qualche minuto."
                    .into(),
            )
        };
        if let Ok(map) = self.discovered.lock()
            && let Some((at, m)) = map.get(issuer)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(m.clone());
        }
        if let Some(why) = guard::refused_literal(issuer, self.allow_private) {
            return Err(unavailable(why));
        }
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| unavailable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(url, self.http()?)
            .await
            .map_err(|e| unavailable(error_chain(&e)))?;
        if let Ok(mut map) = self.discovered.lock() {
            map.insert(issuer.to_string(), (Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    async fn client(
        &self,
        ctx: Ctx<'_>,
        settings: &OidcSettings,
        endpoints: &Endpoints,
    ) -> Result<OidcClient, AppError> {
        let metadata = self.provider(settings.issuer.trim()).await?;
        let secret = {
            let mut h = ctx.db.acquire().await?;
            refettorio_db::outbox::secret(&mut h.conn(), ctx.tenant.id, SECRET).await?
        };
        let redirect = RedirectUrl::new(endpoints.oidc_callback())
            .map_err(|e| AppError::Unavailable(format!("Indirizzo di ritorno: {e}")))?;
        Ok(OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.trim().to_string()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

/// An error and its causes, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The municipality's OpenID settings, when it offers this login.
pub fn offered(ctx: Ctx<'_>) -> Option<&OidcSettings> {
    let o = &ctx.tenant.settings.identity.oidc;
    o.offered().then_some(o)
}

fn not_offered() -> AppError {
    AppError::NotFound("Accesso con SPID o CIE non attivo per questo Comune.".into())
}

/// Starts a login: the provider's authorization address with a fresh `state`, `nonce` and
/// PKCE challenge, remembered until the answer.
pub async fn start_login(
    ctx: Ctx<'_>,
    rp: &RelyingParty,
    endpoints: &Endpoints,
    next: Option<&str>,
) -> Result<Started, AppError> {
    let settings = offered(ctx).ok_or_else(not_offered)?;
    let client = rp.client(ctx, settings, endpoints).await?;
    let (state, _) = new_token()?;
    let (nonce, _) = new_token()?;
    let (browser_token, browser_hash) = new_token()?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let state = state.clone();
                move || CsrfToken::new(state)
            },
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let now = ctx.clock.now();
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    oidc::purge(c, now).await?;
    oidc::insert_request(
        c,
        ctx.tenant.id,
        &oidc::Request {
            state,
            issuer: settings.issuer.trim().to_string(),
            nonce,
            pkce_verifier: verifier.secret().clone(),
            browser_hash,
            next_path: next.map(str::to_string),
            expires_at: now + REQUEST_VALIDITY,
        },
    )
    .await?;
    Ok(Started {
        location: url.to_string(),
        browser_token,
    })
}

/// What the provider sent back to the callback (its query string).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's refusal (`access_denied`…).
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The provider that answers (RFC 9207), when it says: must be the one asked.
    pub iss: Option<String>,
}

/// The answer at the callback: the `state` taken once in the browser that asked, the code
/// redeemed with the PKCE verifier, the ID token checked, and a session for the guardian with
/// the fiscal code the provider vouches for.
pub async fn finish_login(
    ctx: Ctx<'_>,
    rp: &RelyingParty,
    endpoints: &Endpoints,
    answer: &Callback,
    browser_token: Option<&str>,
) -> Result<LoggedIn, LoginFailed> {
    let invalid = |why: &str| LoginFailed::Invalid(why.to_string());
    let settings = offered(ctx).ok_or_else(not_offered)?;
    let now = ctx.clock.now();
    let t = ctx.tenant;
    let state = answer
        .state
        .as_deref()
        .ok_or_else(|| invalid("the answer has no state"))?;
    // Taken once: a second answer with the same state finds nothing.
    let request = {
        let mut h = ctx.db.acquire().await?;
        oidc::take_request(&mut h.conn(), t.id, state, now).await?
    }
    .ok_or_else(|| invalid("no pending login with that state (unknown, used or expired)"))?;
    if !crate::auth::same_browser(browser_token, &request.browser_hash) {
        return Err(invalid(
            "the answer came to another browser than the request's",
        ));
    }
    if let Some(error) = &answer.error {
        tracing::info!(
            tenant = %t.slug,
            error = %error,
            description = answer.error_description.as_deref().unwrap_or(""),
            "OpenID provider refused the login"
        );
        return Err(LoginFailed::Provider(None));
    }
    if request.issuer != settings.issuer.trim() {
        return Err(invalid("the provider changed since the login started"));
    }
    if answer
        .iss
        .as_deref()
        .is_some_and(|iss| iss != request.issuer)
    {
        return Err(invalid("the answer names another provider (iss)"));
    }
    let code = answer
        .code
        .as_deref()
        .ok_or_else(|| invalid("the answer has no code"))?;
    let client = rp.client(ctx, settings, endpoints).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| invalid(&format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(request.pkce_verifier.clone()))
        .request_async(rp.http()?)
        .await
        .map_err(|e| invalid(&format!("the code was not redeemed: {}", error_chain(&e))))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| invalid("the provider sent no ID token"))?;
    let clock_now = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(now.as_microsecond())
        .ok_or_else(|| invalid("the clock is out of range"))?;
    let verifier = client.id_token_verifier().set_time_fn(move || clock_now);
    let claims = id_token
        .claims(&verifier, &Nonce::new(request.nonce.clone()))
        .map_err(|e| invalid(&format!("the ID token is not valid: {}", error_chain(&e))))?;
    // The access token must be the one the ID token was issued with.
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| invalid(&format!("ID token algorithm: {e}")))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| invalid(&format!("ID token key: {e}")))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|e| invalid(&format!("access token hash: {e}")))?;
        if actual != *expected {
            return Err(invalid("the access token is not the ID token's"));
        }
    }
    let claim = settings.fiscal_code_claim();
    let mut person = claims
        .additional_claims()
        .text(claim)
        .and_then(fiscal_code_of)
        .map(|cf| {
            Proven::new(cf).with(
                claims
                    .given_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
                claims
                    .family_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
                claims.email().map(|e| e.as_str()),
                claims.phone_number().map(|p| p.as_str()),
            )
        });
    // Not in the ID token: the user-info endpoint, for the same subject.
    if person.is_none() {
        let info: UserInfoClaims<Extra, CoreGenderClaim> = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .map_err(|_| {
                invalid(&format!(
                    "no {claim} claim in the ID token, and no user info"
                ))
            })?
            .request_async(rp.http()?)
            .await
            .map_err(|e| invalid(&format!("user info: {}", error_chain(&e))))?;
        person = info
            .additional_claims()
            .text(claim)
            .and_then(fiscal_code_of)
            .map(|cf| {
                Proven::new(cf).with(
                    info.given_name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str()),
                    info.family_name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str()),
                    info.email().map(|e| e.as_str()),
                    info.phone_number().map(|p| p.as_str()),
                )
            });
    }
    let person = person.ok_or_else(|| {
        invalid(&format!(
            "the {claim} claim is not a valid Italian fiscal code"
        ))
    })?;
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let guardian = guardian_of(ctx, c, &person, now).await?;
    refettorio_db::auth::purge_expired(c, now).await?;
    let session = open_session(c, Some(t.id), Subject::Guardian(guardian), now).await?;
    tx.commit().await?;
    tracing::info!(
        tenant = %t.slug,
        issuer = %request.issuer,
        state = %request.state,
        "login through the OpenID provider"
    );
    Ok(LoggedIn {
        session,
        next: request.next_path,
    })
}
