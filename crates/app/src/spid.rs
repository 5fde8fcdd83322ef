//! Families' login with SPID and CIE (issue 16; docs/spid-plan.md): the municipality's
//! service-provider metadata, the request to the identity provider the person chose, and the
//! answer at the assertion consumer service, which opens the personal area of the guardian
//! with that fiscal code (a profile is made for a person not in the registry yet).
//!
//! The SAML itself is `refettorio_saml`; this module keeps the municipality's keys, the
//! pending requests and used assertions (`db::saml`), and in sandbox mode plays a stand-in
//! identity provider on this installation.

use base64::Engine;
use jiff::SignedDuration;
use refettorio_db::saml::{self, StoredKey};
use refettorio_domain::CodiceFiscale;
use refettorio_domain::identity::{IdentityMode, fiscal_code_of};
use refettorio_saml::authn::AuthnRequest;
use refettorio_saml::dsig::{PublicKey, SigningKey};
use refettorio_saml::idp::{IdentityProvider, parse_providers};
use refettorio_saml::response::{Expected, Refusal, in_response_to, validate};
use refettorio_saml::sp::ServiceProvider;

pub use refettorio_saml::spid::{Level, Profile, error_message_it};

use crate::auth::{new_token, open_session, token_hash};
use crate::identity::{LoggedIn, LoginFailed, Proven, Started, guardian_of};
use crate::{AppError, Ctx};
use refettorio_db::auth::Subject;

/// How long a request waits for its answer: a person may take a while at the provider.
const REQUEST_VALIDITY: SignedDuration = SignedDuration::from_mins(30);

/// The level asked for: a second factor (SPID's rules for services with personal data).
pub const LEVEL: Level = Level::L2;

/// The stand-in provider's key is made here (2048 bits: it is never seen by AgID).
const SANDBOX_BITS: u16 = 2048;

/// Where a municipality's addresses for SPID, CIE and its OpenID provider start:
/// `{public address}/t/{slug}`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub base: String,
}

impl Endpoints {
    /// From the installation's configured public address: `public_url`, else the
    /// municipality's own host under `base_domain`. `None`: neither is configured.
    pub fn configured(
        public_url: Option<&str>,
        base_domain: Option<&str>,
        slug: &str,
    ) -> Option<Endpoints> {
        public_base(public_url, base_domain, slug).map(|b| Endpoints {
            base: format!("{b}/t/{slug}"),
        })
    }

    pub fn entity_id(&self, p: Profile) -> String {
        format!("{}/{}/metadata", self.base, p.as_str())
    }
    pub fn acs(&self, p: Profile) -> String {
        format!("{}/{}/acs", self.base, p.as_str())
    }
    pub fn slo(&self, p: Profile) -> String {
        format!("{}/{}/slo", self.base, p.as_str())
    }
    /// The stand-in provider (sandbox mode).
    pub fn sandbox_entity(&self) -> String {
        format!("{}/spid-prova", self.base)
    }
    pub fn sandbox_sso(&self) -> String {
        format!("{}/spid-prova/sso", self.base)
    }
    /// Where a municipality's OpenID provider sends the browser back ([`crate::oidc`]).
    pub fn oidc_callback(&self) -> String {
        format!("{}/oidc/callback", self.base)
    }
}

/// The address the installation is reached at for a municipality, from its configuration
/// only (never from a request's `Host`): `public_url`, else `https://<slug>.<base_domain>`.
pub fn public_base(
    public_url: Option<&str>,
    base_domain: Option<&str>,
    slug: &str,
) -> Option<String> {
    if let Some(u) = public_url {
        return Some(u.trim_end_matches('/').to_string());
    }
    base_domain.map(|base| format!("https://{slug}.{}", base.trim_matches('.')))
}

/// The installation's identity providers for live mode, read at start from the metadata files
/// of its configuration (the SPID registry's list, CIE's server).
#[derive(Debug, Clone, Default)]
pub struct Federation {
    pub spid: Vec<IdentityProvider>,
    pub cie: Vec<IdentityProvider>,
    /// Files that could not be read or parsed: their providers are missing, the server runs
    /// on (the office sees why in its settings).
    pub errors: Vec<String>,
}

impl Federation {
    /// Reads the metadata files; a file that cannot be read or parsed is left out and named in
    /// `errors`.
    pub fn load(spid: &[std::path::PathBuf], cie: &[std::path::PathBuf]) -> Federation {
        let mut errors = Vec::new();
        let mut read = |files: &[std::path::PathBuf]| -> Vec<IdentityProvider> {
            let mut all = Vec::new();
            for f in files {
                match std::fs::read_to_string(f)
                    .map_err(|e| e.to_string())
                    .and_then(|text| parse_providers(&text).map_err(|e| e.to_string()))
                {
                    Ok(list) if list.is_empty() => {
                        errors.push(format!("{}: nessun gestore utilizzabile", f.display()));
                    }
                    Ok(list) => all.extend(list),
                    Err(e) => errors.push(format!("{}: {e}", f.display())),
                }
            }
            all
        };
        let spid = read(spid);
        let cie = read(cie);
        Federation { spid, cie, errors }
    }
}

/// How a municipality's SPID and CIE stand, for its office: what stops or will stop them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub mode: IdentityMode,
    /// The service provider key's expiry, if there is a key.
    pub key_expires: Option<jiff::Timestamp>,
    /// What stops families from logging in, in Italian, for the office.
    pub blockers: Vec<String>,
    /// What will, or what is missing without stopping them.
    pub warnings: Vec<String>,
}

impl Status {
    /// Families can log in with SPID or CIE now.
    pub fn usable(&self) -> bool {
        match self.mode {
            IdentityMode::Off => false,
            IdentityMode::Sandbox => true,
            IdentityMode::Live => self.blockers.is_empty(),
        }
    }
}

/// The municipality's SPID/CIE status: in live mode a missing or expiring key, providers that
/// did not load.
pub async fn status(ctx: Ctx<'_>, federation: &Federation) -> Result<Status, AppError> {
    let s = &ctx.tenant.settings.identity;
    let key = {
        let mut h = ctx.db.acquire().await?;
        saml::key(&mut h.conn(), ctx.tenant.id, "sp").await?
    };
    let now = ctx.clock.now();
    let (mut blockers, mut warnings) = (Vec::new(), Vec::new());
    if s.mode == IdentityMode::Live {
        match &key {
            None => blockers.push(
                "Le chiavi del Comune per SPID e CIE non sono state create (comando refettorio spid keygen).".to_string(),
            ),
            Some(k) if k.not_after <= now => blockers.push(
                "Il certificato del Comune per SPID e CIE è scaduto: va rinnovato (refettorio spid keygen --replace) e i nuovi metadata inviati ad AgID.".to_string(),
            ),
            Some(k) if k.not_after <= now + SignedDuration::from_hours(24 * 60) => warnings.push(
                format!("Il certificato del Comune per SPID e CIE scade il {}: va rinnovato per tempo.", k.not_after.to_zoned(ctx.tenant.timezone.clone()).date()),
            ),
            Some(_) => {}
        }
        if federation.spid.is_empty() {
            blockers.push("Nessun gestore SPID è caricato: manca o non si legge il file dei metadata (spid_idp_metadata).".to_string());
        }
        if s.cie && federation.cie.is_empty() {
            warnings.push("Il gestore CIE non è caricato: manca o non si legge il file dei metadata (cie_idp_metadata).".to_string());
        }
        warnings.extend(
            federation
                .errors
                .iter()
                .map(|e| format!("Metadata non letti: {e}")),
        );
    }
    Ok(Status {
        mode: s.mode,
        key_expires: key.map(|k| k.not_after),
        blockers,
        warnings,
    })
}

/// The ways in a municipality offers, in order.
pub fn offered(ctx: Ctx<'_>, federation: &Federation) -> Vec<Profile> {
    let s = &ctx.tenant.settings.identity;
    let (spid, cie) = match s.mode {
        IdentityMode::Off => (false, false),
        IdentityMode::Sandbox => (true, s.cie),
        IdentityMode::Live => (
            !federation.spid.is_empty(),
            s.cie && !federation.cie.is_empty(),
        ),
    };
    [(Profile::Spid, spid), (Profile::Cie, cie)]
        .into_iter()
        .filter_map(|(p, on)| on.then_some(p))
        .collect()
}

fn not_offered() -> AppError {
    AppError::NotFound("L'accesso con SPID o CIE non è attivo in questo Comune.".into())
}

fn key_of(stored: &StoredKey) -> Result<SigningKey, AppError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let private = b64
        .decode(&stored.private_key)
        .map_err(|_| AppError::Unavailable("Chiave SPID non leggibile.".into()))?;
    let certificate = b64
        .decode(&stored.certificate)
        .map_err(|_| AppError::Unavailable("Certificato SPID non leggibile.".into()))?;
    SigningKey::new(&private, certificate).map_err(|e| AppError::Unavailable(e.to_string()))
}

fn stored(private: &[u8], certificate: &[u8], not_after: jiff::Timestamp) -> StoredKey {
    let b64 = base64::engine::general_purpose::STANDARD;
    StoredKey {
        private_key: b64.encode(private),
        certificate: b64.encode(certificate),
        not_after,
    }
}

/// Makes the municipality's service-provider key and certificate (AgID's profile) and stores
/// them; an existing key is kept unless `replace`. Returns the certificate's expiry, or `None`
/// when a key was there and kept.
pub async fn generate_key(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    bits: u16,
    days: i64,
    replace: bool,
) -> Result<Option<jiff::Timestamp>, AppError> {
    let t = ctx.tenant;
    let now = ctx.clock.now();
    let made = make_key(ctx, endpoints.entity_id(Profile::Spid), bits, days).await?;
    let mut h = ctx.db.acquire().await?;
    let put = saml::put_key(&mut h.conn(), t.id, "sp", &made, replace, now).await?;
    Ok(put.then_some(made.not_after))
}

/// A new key and certificate in AgID's profile for the municipality, as stored (RSA key
/// generation takes a moment: off the request's thread).
async fn make_key(
    ctx: Ctx<'_>,
    entity_id: String,
    bits: u16,
    days: i64,
) -> Result<StoredKey, AppError> {
    let t = ctx.tenant;
    let now = ctx.clock.now();
    let organization = t.name.clone();
    let locality = t.name.trim_start_matches("Comune di ").to_string();
    let ipa_code = if t.settings.identity.ipa_code.is_empty() {
        t.slug.as_str().to_string()
    } else {
        t.settings.identity.ipa_code.clone()
    };
    let (private, certificate) =
        tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, Vec<u8>), String> {
            let subject = refettorio_saml::cert::Subject {
                organization: &organization,
                locality: &locality,
                ipa_code: &ipa_code,
                entity_id: &entity_id,
            };
            refettorio_saml::cert::generate(&subject, bits, now, days).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| AppError::Password)?
        .map_err(AppError::Invalid)?;
    Ok(stored(
        &private,
        &certificate,
        now + SignedDuration::from_hours(24 * days),
    ))
}

/// The key of `purpose`; in sandbox mode a missing one is made (the demo needs no command).
async fn key(ctx: Ctx<'_>, endpoints: &Endpoints, purpose: &str) -> Result<SigningKey, AppError> {
    let t = ctx.tenant;
    {
        let mut h = ctx.db.acquire().await?;
        if let Some(k) = saml::key(&mut h.conn(), t.id, purpose).await? {
            return key_of(&k);
        }
    }
    if t.settings.identity.mode != IdentityMode::Sandbox {
        return Err(AppError::Unavailable(
            "Le chiavi SPID di questo Comune non sono state create (refettorio spid keygen)."
                .into(),
        ));
    }
    let now = ctx.clock.now();
    let entity_id = if purpose == "sp" {
        endpoints.entity_id(Profile::Spid)
    } else {
        endpoints.sandbox_entity()
    };
    let made = make_key(ctx, entity_id, SANDBOX_BITS, 3650).await?;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    // Two nodes making it at once: the first stored wins, both use it.
    saml::put_key(c, t.id, purpose, &made, false, now).await?;
    let k = saml::key(c, t.id, purpose)
        .await?
        .ok_or_else(|| AppError::Unavailable("Chiave SPID non salvata.".into()))?;
    key_of(&k)
}

/// The municipality as a service provider of `profile`.
fn service_provider(ctx: Ctx<'_>, endpoints: &Endpoints, profile: Profile) -> ServiceProvider {
    let t = ctx.tenant;
    let s = &t.settings.identity;
    let or = |v: &str, default: String| if v.is_empty() { default } else { v.to_string() };
    ServiceProvider {
        profile,
        entity_id: endpoints.entity_id(profile),
        acs_url: endpoints.acs(profile),
        slo_url: endpoints.slo(profile),
        organization: t.name.clone(),
        organization_url: or(&s.website, endpoints.base.clone()),
        ipa_code: or(&s.ipa_code, t.slug.as_str().replace('-', "_")),
        municipality_code: or(&s.cadastral_code, "X000".into()),
        contact_email: or(
            &s.contact_email,
            t.settings
                .office_email
                .clone()
                .unwrap_or_else(|| format!("ufficio@{}.example.it", t.slug.as_str())),
        ),
        contact_phone: s.contact_phone.clone(),
        service_name: "Servizi scolastici".into(),
    }
}

/// The signed metadata of `profile`, for AgID (SPID) or the Ministry (CIE).
pub async fn metadata(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    profile: Profile,
) -> Result<String, AppError> {
    if !offered(ctx, federation).contains(&profile) {
        return Err(not_offered());
    }
    let key = key(ctx, endpoints, "sp").await?;
    let (_, id) = new_token()?;
    service_provider(ctx, endpoints, profile)
        .metadata(&format!("_{id}"), &key)
        .map_err(|e| AppError::Unavailable(format!("Metadata SPID: {e}")))
}

/// The identity providers a person may choose from, by name.
pub async fn providers(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    profile: Profile,
) -> Result<Vec<IdentityProvider>, AppError> {
    if !offered(ctx, federation).contains(&profile) {
        return Err(not_offered());
    }
    Ok(match ctx.tenant.settings.identity.mode {
        IdentityMode::Sandbox => vec![sandbox_provider(ctx, endpoints).await?.1],
        _ => {
            let mut list = match profile {
                Profile::Spid => federation.spid.clone(),
                Profile::Cie => federation.cie.clone(),
            };
            list.sort_by(|a, b| a.name.cmp(&b.name));
            list
        }
    })
}

/// Starts a login with the provider `provider` (its entity ID, from the chooser): a signed
/// request in the HTTP-Redirect binding, remembered until its answer.
pub async fn start_login(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    profile: Profile,
    provider: &str,
    next: Option<&str>,
) -> Result<Started, AppError> {
    let list = providers(ctx, endpoints, federation, profile).await?;
    let idp = list
        .iter()
        .find(|p| p.entity_id == provider)
        .ok_or_else(|| AppError::NotFound("Gestore dell'identità digitale non trovato.".into()))?;
    let destination = idp.sso_redirect.as_deref().ok_or_else(|| {
        AppError::Unavailable("Questo gestore non accetta richieste per reindirizzamento.".into())
    })?;
    let key = key(ctx, endpoints, "sp").await?;
    let now = ctx.clock.now();
    let issued = now.round(jiff::Unit::Millisecond).unwrap_or(now);
    let (_, id) = new_token()?;
    let id = format!("_{id}");
    let (relay_state, _) = new_token()?;
    let (browser_token, browser_hash) = new_token()?;
    let request = AuthnRequest {
        id: &id,
        issue_instant: issued,
        destination,
        level: LEVEL,
    };
    let location = service_provider(ctx, endpoints, profile)
        .redirect(&request, &relay_state, &key)
        .map_err(|e| AppError::Unavailable(format!("Richiesta SPID: {e}")))?;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    saml::purge(c, now).await?;
    saml::insert_request(
        c,
        ctx.tenant.id,
        &saml::Request {
            id,
            kind: "login".into(),
            profile: profile.as_str().into(),
            provider: idp.entity_id.clone(),
            level: LEVEL.number(),
            issued_at: issued,
            expires_at: now + REQUEST_VALIDITY,
            browser_hash,
            next_path: next.map(str::to_string),
        },
    )
    .await?;
    Ok(Started {
        location,
        browser_token,
    })
}

/// The answer at the assertion consumer service of `profile`: `field` is the `SAMLResponse`
/// form value, `browser_token` the cookie given when the login started.
pub async fn finish_login(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    profile: Profile,
    field: &str,
    browser_token: Option<&str>,
) -> Result<LoggedIn, LoginFailed> {
    let invalid = |why: &str| LoginFailed::Invalid(why.to_string());
    let xml = refettorio_saml::response::decode(field).map_err(refusal)?;
    let answered = in_response_to(&xml).map_err(refusal)?;
    let now = ctx.clock.now();
    let t = ctx.tenant;
    let list = providers(ctx, endpoints, federation, profile).await?;
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    // Taken once: a second answer to the same request finds nothing.
    let Some(request) = saml::consume_request(c, t.id, "login", &answered, now).await? else {
        return Err(invalid(
            "no pending request with that ID (unknown, used or expired)",
        ));
    };
    tx.commit().await?;
    if request.profile != profile.as_str() {
        return Err(invalid("the request was for the other profile"));
    }
    if !crate::auth::same_browser(browser_token, &request.browser_hash) {
        return Err(invalid(
            "the answer came to another browser than the request's",
        ));
    }
    let idp = list
        .iter()
        .find(|p| p.entity_id == request.provider)
        .ok_or_else(|| invalid("the request's provider is no longer in the list"))?;
    let entity_id = endpoints.entity_id(profile);
    let acs = endpoints.acs(profile);
    let who = validate(
        &xml,
        &Expected {
            profile,
            request_id: &request.id,
            request_instant: request.issued_at,
            provider: idp,
            acs_url: &acs,
            entity_id: &entity_id,
            level: Level::from_number(request.level).unwrap_or(LEVEL),
            now,
        },
    )
    .map_err(refusal)?;
    let person = who
        .attributes
        .get("fiscalNumber")
        .and_then(|v| fiscal_code_of(v))
        .ok_or_else(|| invalid("fiscalNumber is not a valid Italian fiscal code"))?;
    let attribute = |name: &str| who.attributes.get(name).map(String::as_str);
    let person = Proven::new(person).with(
        attribute("name"),
        attribute("familyName"),
        attribute("email"),
        attribute("mobilePhone"),
    );
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    if !saml::use_assertion(
        c,
        t.id,
        &idp.entity_id,
        &who.assertion_id,
        who.not_on_or_after + refettorio_saml::response::SKEW,
    )
    .await?
    {
        return Err(invalid("the assertion was already used (replay)"));
    }
    let guardian = guardian_of(ctx, c, &person, now).await?;
    refettorio_db::auth::purge_expired(c, now).await?;
    let session = open_session(c, Some(t.id), Subject::Guardian(guardian), now).await?;
    saml::insert_session(
        c,
        t.id,
        &token_hash(&session.token),
        &saml::Session {
            profile: profile.as_str().into(),
            provider: idp.entity_id.clone(),
            name_id: who.name_id.clone(),
            name_qualifier: who.name_qualifier.clone(),
            session_index: who.session_index.clone(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        tenant = %t.slug,
        profile = profile.as_str(),
        provider = %idp.entity_id,
        level = who.level.number(),
        request = %request.id,
        "login with digital identity"
    );
    Ok(LoggedIn {
        session,
        next: request.next_path,
    })
}

fn refusal(r: Refusal) -> LoginFailed {
    match r {
        Refusal::Provider { code, .. } => LoginFailed::Provider(code),
        Refusal::Invalid(why) => LoginFailed::Invalid(why),
    }
}

// ---------------------------------------------------------------------------------------------
// Single logout.

/// A person leaves: if the session `token` was opened by SPID or CIE, where to send the
/// browser so that the provider ends its session too (a signed `LogoutRequest`, remembered
/// until its answer). The caller ends our session either way.
pub async fn logout(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    token: &str,
) -> Result<Option<String>, AppError> {
    let t = ctx.tenant;
    let side = {
        let mut h = ctx.db.acquire().await?;
        saml::take_session(&mut h.conn(), t.id, &token_hash(token)).await?
    };
    let Some(side) = side else {
        return Ok(None);
    };
    let Some(profile) = Profile::parse(&side.profile) else {
        return Ok(None);
    };
    let list = match providers(ctx, endpoints, federation, profile).await {
        Ok(list) => list,
        Err(_) => return Ok(None),
    };
    let Some(slo) = list
        .iter()
        .find(|p| p.entity_id == side.provider)
        .and_then(|p| p.slo_redirect.clone())
    else {
        return Ok(None);
    };
    let key = key(ctx, endpoints, "sp").await?;
    let now = ctx.clock.now();
    let issued = now.round(jiff::Unit::Millisecond).unwrap_or(now);
    let (_, id) = new_token()?;
    let id = format!("_{id}");
    let xml = refettorio_saml::logout::request_xml(
        &id,
        issued,
        &endpoints.entity_id(profile),
        &slo,
        &refettorio_saml::logout::Subject {
            name_id: side.name_id,
            name_qualifier: side.name_qualifier,
            session_index: side.session_index,
        },
    );
    let (relay_state, _) = new_token()?;
    let url = refettorio_saml::redirect::encode(&slo, "SAMLRequest", &xml, &relay_state, &key)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let mut h = ctx.db.acquire().await?;
    saml::insert_request(
        &mut h.conn(),
        t.id,
        &saml::Request {
            id,
            kind: "logout".into(),
            profile: profile.as_str().into(),
            provider: side.provider,
            level: 0,
            issued_at: issued,
            expires_at: now + REQUEST_VALIDITY,
            browser_hash: String::new(),
            next_path: None,
        },
    )
    .await?;
    Ok(Some(url))
}

/// What a message at the single logout address led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slo {
    /// The provider confirmed the logout we asked for.
    LoggedOut,
    /// The provider asked us to end the person's sessions: done; send the browser back to it
    /// with our answer at this address.
    Answer(String),
}

/// A message from a provider at `…/slo` (HTTP-Redirect, the raw query string): the answer to
/// our logout request, or its own logout request (every session it opened for that person
/// ends). Its signature must be by the provider it names.
pub async fn slo(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    federation: &Federation,
    profile: Profile,
    query: &str,
) -> Result<Slo, AppError> {
    use refettorio_saml::logout::{Message, read, response_xml};
    use refettorio_saml::redirect::decode;
    let bad = |why: String| AppError::Invalid(format!("Messaggio di uscita non valido: {why}."));
    let list = providers(ctx, endpoints, federation, profile).await?;
    let all: Vec<PublicKey> = list.iter().flat_map(|p| p.keys.clone()).collect();
    let message = decode(query, &all).map_err(|e| bad(e.to_string()))?;
    let read = read(&message.xml).map_err(|e| bad(e.to_string()))?;
    let issuer = match &read {
        Message::Request { issuer, .. } | Message::Response { issuer, .. } => issuer,
    };
    let idp = list
        .iter()
        .find(|p| &p.entity_id == issuer)
        .ok_or_else(|| bad("unknown provider".into()))?;
    // Signed by the provider it names, not by another one of the list.
    decode(query, &idp.keys).map_err(|e| bad(e.to_string()))?;
    let t = ctx.tenant;
    let now = ctx.clock.now();
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    match read {
        Message::Response { in_response_to, .. } => {
            match saml::consume_request(c, t.id, "logout", &in_response_to, now).await? {
                Some(r) if r.provider == idp.entity_id => Ok(Slo::LoggedOut),
                _ => Err(bad("no logout request of ours with that ID".into())),
            }
        }
        Message::Request { id, subject, .. } => {
            let ended = saml::end_sessions_of(c, t.id, &idp.entity_id, &subject.name_id).await?;
            tracing::info!(tenant = %t.slug, provider = %idp.entity_id, sessions = ended, "logout asked by the identity provider");
            let slo = idp
                .slo_redirect
                .clone()
                .ok_or_else(|| bad("the provider has no logout address".into()))?;
            drop(h);
            let key = key(ctx, endpoints, "sp").await?;
            let (_, answer_id) = new_token()?;
            let xml = response_xml(
                &format!("_{answer_id}"),
                now,
                &endpoints.entity_id(profile),
                &slo,
                &id,
            );
            refettorio_saml::redirect::encode(
                &slo,
                "SAMLResponse",
                &xml,
                &message.relay_state,
                &key,
            )
            .map(Slo::Answer)
            .map_err(|e| AppError::Unavailable(e.to_string()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stand-in identity provider (sandbox mode).

/// The stand-in provider at its single sign-on address receives our `LogoutRequest` too: it
/// answers at once (it keeps no sessions of its own), sending the browser back to our logout
/// address. `None`: the message is not a logout request.
pub async fn sandbox_logout(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    query: &str,
) -> Result<Option<String>, AppError> {
    use refettorio_saml::logout::{Message, read, response_xml};
    if ctx.tenant.settings.identity.mode != IdentityMode::Sandbox {
        return Err(not_offered());
    }
    let ours = key(ctx, endpoints, "sp").await?;
    let ours = PublicKey::from_certificate(ours.certificate())
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let Ok(message) = refettorio_saml::redirect::decode(query, &[ours]) else {
        return Ok(None);
    };
    let Ok(Message::Request { id, issuer, .. }) = read(&message.xml) else {
        return Ok(None);
    };
    let profile = [Profile::Spid, Profile::Cie]
        .into_iter()
        .find(|p| endpoints.entity_id(*p) == issuer)
        .ok_or_else(|| AppError::Invalid("Richiesta di un altro fornitore di servizi.".into()))?;
    let (key, idp) = sandbox_provider(ctx, endpoints).await?;
    let (_, answer_id) = new_token()?;
    let slo = endpoints.slo(profile);
    let xml = response_xml(
        &format!("_{answer_id}"),
        ctx.clock.now(),
        &idp.entity_id,
        &slo,
        &id,
    );
    refettorio_saml::redirect::encode(&slo, "SAMLResponse", &xml, &message.relay_state, &key)
        .map(Some)
        .map_err(|e| AppError::Unavailable(e.to_string()))
}

/// The stand-in provider of this municipality: its key and how it is described.
async fn sandbox_provider(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
) -> Result<(SigningKey, IdentityProvider), AppError> {
    let key = key(ctx, endpoints, "sandbox_idp").await?;
    let xml = refettorio_saml::sandbox::metadata(
        &endpoints.sandbox_entity(),
        &endpoints.sandbox_sso(),
        &endpoints.sandbox_sso(),
        &key,
    );
    let idp = parse_providers(&xml)
        .ok()
        .and_then(|mut v| v.pop())
        .ok_or_else(|| AppError::Unavailable("IdP di prova non disponibile.".into()))?;
    Ok((key, idp))
}

/// A request as the stand-in provider received it.
#[derive(Debug, Clone)]
pub struct SandboxRequest {
    pub received: refettorio_saml::authn::Received,
    pub profile: Profile,
}

/// The stand-in provider reads a request (the raw query string of its single sign-on
/// address), checking our own signature as a real provider would.
pub async fn sandbox_request(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    query: &str,
) -> Result<SandboxRequest, AppError> {
    if ctx.tenant.settings.identity.mode != IdentityMode::Sandbox {
        return Err(not_offered());
    }
    let key = key(ctx, endpoints, "sp").await?;
    let ours = PublicKey::from_certificate(key.certificate())
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let received = refettorio_saml::authn::read_redirect(query, &[ours])
        .map_err(|e| AppError::Invalid(format!("Richiesta non valida: {e}")))?;
    let profile = [Profile::Spid, Profile::Cie]
        .into_iter()
        .find(|p| endpoints.entity_id(*p) == received.issuer)
        .ok_or_else(|| AppError::Invalid("Richiesta di un altro fornitore di servizi.".into()))?;
    Ok(SandboxRequest { received, profile })
}

/// Who the person says they are at the stand-in provider.
#[derive(Debug, Clone)]
pub struct SandboxPerson {
    pub fiscal_code: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// The stand-in provider's answer: a signed `SAMLResponse` (base64) for `person`, or with
/// `cancelled` SPID's error 25 (the person cancelled). The person's fiscal code must be valid.
pub async fn sandbox_answer(
    ctx: Ctx<'_>,
    endpoints: &Endpoints,
    query: &str,
    person: &SandboxPerson,
    cancelled: bool,
) -> Result<(String, String, String), AppError> {
    let request = sandbox_request(ctx, endpoints, query).await?;
    let cf = CodiceFiscale::parse(person.fiscal_code.trim()).map_err(|_| {
        AppError::Fields(vec![crate::FieldError {
            field: "fiscal_code",
            message: "Codice fiscale non valido.".into(),
        }])
    })?;
    let (key, idp) = sandbox_provider(ctx, endpoints).await?;
    let fiscal = format!("TINIT-{}", cf.as_str());
    let attributes = [
        ("fiscalNumber", fiscal.as_str()),
        ("name", person.first_name.trim()),
        ("familyName", person.last_name.trim()),
        ("email", person.email.trim()),
    ];
    let attributes: Vec<(&str, &str)> = attributes
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let (name_id, _) = new_token()?;
    let acs = endpoints.acs(request.profile);
    let audience = endpoints.entity_id(request.profile);
    let answer = refettorio_saml::sandbox::Answer {
        provider: &idp.entity_id,
        request_id: &request.received.id,
        request_instant: request.received.issue_instant,
        acs_url: &acs,
        audience: &audience,
        now: ctx.clock.now(),
        level: request.received.level,
        name_id: &name_id,
        attributes: &attributes,
        error: cancelled.then_some(25),
    };
    let xml = refettorio_saml::sandbox::response(&answer, &key, |x| x)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok((
        base64::engine::general_purpose::STANDARD.encode(xml),
        request.received.relay_state,
        acs,
    ))
}
