//! Getting in with local credentials: login with throttling, sessions kept in the database,
//! registration confirmed by e-mail, password change and reset. Tokens are random 32-byte values
//! shown once (cookie, e-mail link); only their SHA-256 is stored.

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use rand::TryRngCore;
use rand::rngs::OsRng;
use refettorio_db::Db;
use refettorio_db::auth::{self, Failures};
use refettorio_db::outbox::{self, Queued};
use refettorio_db::registry::family::{self, NewGuardian};
use refettorio_db::registry::staff;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{
    Actor, AuditAction, AuditEntry, AuditObject, Clock, CodiceFiscale, GuardianId, ObjectKind,
    StaffUserId, TenantId,
};
use sha2::{Digest, Sha256};

use crate::{AppError, Ctx, FieldError, Installation, password};

/// A login session and whose it is, as the web layer's extractors read them.
pub use refettorio_db::auth::{Session, Subject};
/// A back-office user, as a staff session names them.
pub use refettorio_db::registry::staff::StaffUser;

/// A session ends after this long without a request...
pub const IDLE: SignedDuration = SignedDuration::from_mins(30);
/// ...and after this long in any case.
pub const ABSOLUTE: SignedDuration = SignedDuration::from_hours(12);
/// A session's idle expiry is written again only when it is older than this (one write per
/// five minutes of use instead of one per request).
const EXTEND_EVERY: SignedDuration = SignedDuration::from_mins(5);
/// At most this many failed logins per identifier from one source (IP address) within
/// [`THROTTLE_WINDOW`]: a stranger guessing from one address is stopped there, and the owner,
/// from another address, still gets in.
pub const MAX_FAILURES: u32 = 5;
/// At most this many failed logins per identifier from all sources together within
/// [`THROTTLE_WINDOW`]: the ceiling against guessing from many addresses, high enough that a
/// single stranger cannot reach it.
pub const MAX_IDENTIFIER_FAILURES: u32 = 50;
pub const THROTTLE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// How long an e-mailed link (reset, activation) works.
const LINK_VALIDITY: SignedDuration = SignedDuration::from_hours(2);

/// The message for every wrong identifier or password: it does not say which one was wrong.
pub const WRONG_CREDENTIALS: &str =
    "Credenziali non valide: controlla codice fiscale (o nome utente) e password.";

/// A random token and the hash to store.
pub fn new_token() -> Result<(String, String), AppError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| AppError::Password)?;
    let token = hex(&bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// Whether the browser's cookie `token` is the one whose hash a pending login stored (the
/// answer to a login counts only in the browser that asked), in constant time.
pub fn same_browser(token: Option<&str>, stored_hash: &str) -> bool {
    token
        .map(token_hash)
        .is_some_and(|h| same_secret(&h, stored_hash))
}

/// Whether two secrets (token hashes) are equal, in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A session just opened: the token goes in the cookie.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

/// A valid hash to verify against when the user does not exist, so that a missing user takes
/// as long as a wrong password.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| password::hash("refettorio-dummy-password").ok())
        .as_deref()
}

pub(crate) async fn verify_blocking(phc: Option<String>, candidate: String) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => password::verify(&phc, &candidate),
        None => {
            if let Some(d) = dummy_hash() {
                let _ = password::verify(d, &candidate);
            }
            false
        }
    })
    .await
    .unwrap_or(false)
}

pub(crate) async fn hash_blocking(candidate: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || password::hash(&candidate))
        .await
        .map_err(|_| AppError::Password)?
}

/// Refuses a login after [`MAX_FAILURES`] failures of the identifier from this source, or
/// [`MAX_IDENTIFIER_FAILURES`] from anywhere, within [`THROTTLE_WINDOW`], saying when to try
/// again.
pub(crate) fn throttle(
    from_source: Failures,
    from_anywhere: Failures,
    now: Timestamp,
) -> Result<(), AppError> {
    let first = if from_source.count >= MAX_FAILURES {
        from_source.first
    } else if from_anywhere.count >= MAX_IDENTIFIER_FAILURES {
        from_anywhere.first
    } else {
        return Ok(());
    };
    let until = first.unwrap_or(now) + THROTTLE_WINDOW;
    let minutes = (until.duration_since(now).as_secs() / 60 + 1).max(1);
    Err(AppError::Throttled(format!(
        "Troppi tentativi di accesso non riusciti. Riprova fra {minutes} minuti o recupera la password."
    )))
}

/// Logs in a guardian (the identifier is a fiscal code) or a staff user (a username).
/// `source` is where the request comes from (the peer's IP address), for the throttling.
pub async fn login(
    ctx: Ctx<'_>,
    identifier: &str,
    candidate: &str,
    source: &str,
) -> Result<NewSession, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let subject_key = identifier.trim().to_uppercase();
    if subject_key.is_empty() || candidate.is_empty() {
        return Err(AppError::Unauthorized(
            "Inserisci codice fiscale (o nome utente) e password.".into(),
        ));
    }
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (own, all) = auth::failures_since(
        c,
        Some(tenant.id),
        &subject_key,
        source,
        now - THROTTLE_WINDOW,
    )
    .await?;
    throttle(own, all, now)?;
    let (subject, phc) = match CodiceFiscale::parse(&subject_key) {
        Ok(cf) => {
            if !tenant.settings.citizen_local_login {
                return Err(AppError::Unauthorized(
                    "In questo Comune le famiglie accedono con SPID o CIE.".into(),
                ));
            }
            match family::guardian_by_fiscal_code(c, tenant.id, &cf).await? {
                Some(g) => (
                    Some(Subject::Guardian(g.id)),
                    auth::guardian_password(c, tenant.id, g.id).await?,
                ),
                None => (None, None),
            }
        }
        Err(_) => match staff::staff_by_username(c, tenant.id, identifier.trim()).await? {
            Some(u) if u.active => (Some(Subject::Staff(u.id)), Some(u.password_hash)),
            _ => (None, None),
        },
    };
    drop(h);
    let ok = verify_blocking(phc.clone(), candidate.to_string()).await && phc.is_some();
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(subject) = subject.filter(|_| ok) else {
        auth::record_failure(c, Some(tenant.id), &subject_key, source, now).await?;
        return Err(AppError::Unauthorized(WRONG_CREDENTIALS.into()));
    };
    auth::clear_failures(c, Some(tenant.id), &subject_key, source).await?;
    // Housekeeping, cheap through the expiry index: sessions past their expiry and failed
    // logins older than a day.
    auth::purge_expired(c, now).await?;
    open_session(c, Some(tenant.id), subject, now).await
}

/// Opens a session; `tenant` is `None` only for a platform administrator.
pub(crate) async fn open_session(
    c: &mut refettorio_db::Conn<'_>,
    tenant: Option<TenantId>,
    subject: Subject,
    now: Timestamp,
) -> Result<NewSession, AppError> {
    let (token, hash) = new_token()?;
    let (csrf, _) = new_token()?;
    let session = Session {
        tenant,
        subject,
        csrf_token: csrf,
        expires_at: now + IDLE,
        absolute_expiry: now + ABSOLUTE,
    };
    auth::insert_session(c, &hash, &session, now).await?;
    Ok(NewSession { token, session })
}

/// The live session of a cookie token, its idle expiry moved forward.
pub async fn session(inst: Installation<'_>, token: &str) -> Result<Option<Session>, AppError> {
    let (db, clock) = (inst.db, inst.clock);
    let now = clock.now();
    let hash = token_hash(token);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(mut s) = auth::session(c, &hash, now).await? else {
        return Ok(None);
    };
    if s.absolute_expiry <= now {
        auth::delete_session(c, &hash).await?;
        return Ok(None);
    }
    let wanted = (now + IDLE).min(s.absolute_expiry);
    if wanted.duration_since(s.expires_at) >= EXTEND_EVERY {
        auth::extend_session(c, &hash, wanted).await?;
        s.expires_at = wanted;
    }
    Ok(Some(s))
}

pub async fn logout(inst: Installation<'_>, token: &str) -> Result<(), AppError> {
    let db = inst.db;
    let mut h = db.acquire().await?;
    auth::delete_session(&mut h.conn(), &token_hash(token)).await?;
    Ok(())
}

/// The password rules, with the reason in Italian when one is broken.
pub fn check_password_rules(pw: &str, confirm: &str, cf: Option<&str>) -> Result<(), String> {
    let n = pw.chars().count();
    if n < 10 {
        return Err("La password deve avere almeno 10 caratteri.".into());
    }
    if n > 128 {
        return Err("La password può avere al massimo 128 caratteri.".into());
    }
    if !pw.chars().any(char::is_alphabetic) || !pw.chars().any(|c| c.is_ascii_digit()) {
        return Err("La password deve contenere almeno una lettera e una cifra.".into());
    }
    if cf.is_some_and(|cf| pw.to_uppercase().contains(&cf.to_uppercase())) {
        return Err("La password non può contenere il codice fiscale.".into());
    }
    if pw != confirm {
        return Err("Le due password non coincidono.".into());
    }
    Ok(())
}

/// A citizen's registration.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub fiscal_code: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: String,
    pub confirm: String,
    pub privacy: bool,
    /// The activation code the office gave the family, if any (empty: none).
    pub activation_code: String,
}

pub fn check_email(email: &str) -> Result<String, String> {
    let e = email.trim();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>');
    if ok {
        Ok(e.to_string())
    } else {
        Err("Indirizzo e-mail non valido.".into())
    }
}

/// The one answer to an activation code that cannot be used: malformed, wrong, used, expired,
/// or given with a fiscal code that is not on file (the answer does not tell which).
pub const BAD_ACTIVATION_CODE: &str = "Il codice di attivazione non è valido o è scaduto: controlla di averlo \
     scritto come nella lettera dell'ufficio, insieme al codice fiscale a cui l'ufficio l'ha dato.";

/// The characters of an activation code: capital letters and digits without the ones easily
/// confused when read from paper (0/O, 1/I). 32 of them: 5 random bits each.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters of an activation code (80 random bits), printed in groups of four.
const CODE_LENGTH: usize = 16;
/// How long an activation code given by the office works (a letter may go by post).
pub const ACTIVATION_CODE_VALIDITY: SignedDuration = SignedDuration::from_hours(30 * 24);

/// A new activation code, as printed (`ABCD-EFGH-JKLM-NPQR`).
fn new_activation_code() -> Result<String, AppError> {
    let mut bytes = [0u8; CODE_LENGTH];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| AppError::Password)?;
    let mut code = String::with_capacity(CODE_LENGTH + CODE_LENGTH / 4);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        // 256 is a multiple of 32: every character is equally likely.
        code.push(char::from(CODE_ALPHABET[usize::from(b % 32)]));
    }
    Ok(code)
}

/// An activation code as typed (any case, with spaces or dashes) to its canonical form, if it
/// can be one.
pub fn normalize_activation_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// Validates a registration; every broken field is reported.
pub fn check_registration(r: &Registration) -> Result<(CodiceFiscale, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut push =
        |field: &'static str, message: String| errors.push(FieldError { field, message });
    let cf = CodiceFiscale::parse(r.fiscal_code.trim());
    if let Err(e) = &cf {
        push("fiscal_code", format!("Codice fiscale non valido: {e}."));
    }
    if r.first_name.trim().is_empty() {
        push("first_name", "Inserisci il nome.".into());
    }
    if r.last_name.trim().is_empty() {
        push("last_name", "Inserisci il cognome.".into());
    }
    let email = check_email(&r.email);
    if let Err(m) = &email {
        push("email", m.clone());
    }
    if let Err(m) = check_password_rules(&r.password, &r.confirm, Some(r.fiscal_code.trim())) {
        push("password", m);
    }
    if !r.activation_code.trim().is_empty()
        && normalize_activation_code(&r.activation_code).is_none()
    {
        push("activation_code", BAD_ACTIVATION_CODE.into());
    }
    if !r.privacy {
        push(
            "privacy",
            "Per registrarti devi dichiarare di aver letto l'informativa sulla privacy.".into(),
        );
    }
    match (cf, email) {
        (Ok(cf), Ok(email)) if errors.is_empty() => Ok((cf, email)),
        _ => Err(errors),
    }
}

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// The same answer in every case without an activation code: an activation link may have
    /// been e-mailed (or not: fiscal code already registered, another e-mail on file, no
    /// e-mail on file).
    CheckMail,
    /// An activation code proved the family: the account works now.
    Activated,
}

/// Registers a citizen. The answer is the same whether or not the fiscal code is on file, so
/// it reveals nothing; a self-registration is never linked to the registry without proof:
///
/// * With an activation code (given by the office to the registry's guardian of that fiscal
///   code): the account works at once, with the e-mail and password given, and is proven.
/// * Fiscal code of a registry guardian with the e-mail the office has on file: an activation
///   link to that e-mail (owning the address the office recorded is the proof). Nothing is
///   changed on the guardian.
/// * Fiscal code of a registry guardian with no e-mail on file, another e-mail, or already
///   registered: nothing is changed and nothing is sent (the family asks the office for an
///   activation code).
/// * Fiscal code not on file: a new guardian with the data given, its login *unproven*: if the
///   office later adds that fiscal code to a family, the login still sees nothing until the
///   office confirms it or an activation code is used.
pub async fn register(
    ctx: Ctx<'_>,
    r: &Registration,
    links: Option<&str>,
) -> Result<Registered, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    if !tenant.settings.citizen_local_login {
        return Err(AppError::Invalid(
            "In questo Comune le famiglie accedono con SPID o CIE: la registrazione non è necessaria.".into(),
        ));
    }
    let (cf, email) = check_registration(r).map_err(AppError::Fields)?;
    if let Some(code) = normalize_activation_code(&r.activation_code) {
        return register_with_code(db, clock, tenant, &cf, &email, &code, &r.password).await;
    }
    let Some(base_url) = links else {
        return Err(no_public_url());
    };
    let pending = hash_blocking(r.password.clone()).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let guardian = match family::guardian_by_fiscal_code(c, tenant.id, &cf).await? {
        Some(g) => {
            let on_file = g.email.as_deref().map(str::to_lowercase);
            if auth::guardian_password(c, tenant.id, g.id).await?.is_some()
                || on_file.is_none_or(|e| e != email.to_lowercase())
            {
                // Already registered, no e-mail on file, or not the e-mail the office knows:
                // nothing changes and nothing is sent.
                tx.commit().await?;
                return Ok(Registered::CheckMail);
            }
            g.id
        }
        None => {
            let id = family::insert_guardian(
                c,
                tenant.id,
                &NewGuardian {
                    fiscal_code: cf.clone(),
                    first_name: r.first_name.trim().to_string(),
                    last_name: r.last_name.trim().to_string(),
                    email: Some(email.clone()),
                    phone: None,
                    address: String::new(),
                    resident: true,
                },
                None,
            )
            .await?;
            auth::set_login_unproven(c, tenant.id, id, true).await?;
            id
        }
    };
    let (token, hash) = new_token()?;
    auth::insert_reset(
        c,
        tenant.id,
        guardian,
        &hash,
        Some(&pending),
        now,
        now + LINK_VALIDITY,
    )
    .await?;
    let link = format!("{base_url}/t/{}/attiva?token={token}", tenant.slug);
    let content = crate::mail::activation(&tenant.name, &link)?;

    let key = format!("activation:{hash}");

    outbox::enqueue(
        c,
        tenant.id,
        &Queued::email("activation", &email, &content, &key),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Registered::CheckMail)
}

/// The error when an e-mailed link cannot be built: no public address is configured and the
/// request did not come to a loopback address (see `public_url` in docs/operations.md).
pub fn no_public_url() -> AppError {
    AppError::Unavailable(
        "Il servizio non può inviare collegamenti per e-mail: manca l'indirizzo pubblico nella \
         configurazione. Avvisa l'ufficio del Comune."
            .into(),
    )
}

/// A registration with an activation code: the code must be a live one of the registry's
/// guardian with this fiscal code; then the credentials and e-mail given become the guardian's,
/// the login is proven, and every other session, link and code of the guardian ends.
async fn register_with_code(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    cf: &CodiceFiscale,
    email: &str,
    code: &str,
    password: &str,
) -> Result<Registered, AppError> {
    let bad = || {
        AppError::Fields(vec![FieldError {
            field: "activation_code",
            message: BAD_ACTIVATION_CODE.into(),
        }])
    };
    let phc = hash_blocking(password.to_string()).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some(g) = family::guardian_by_fiscal_code(c, tenant.id, cf).await? else {
        return Err(bad());
    };
    if !auth::use_activation_code(c, tenant.id, g.id, &token_hash(code), now).await? {
        return Err(bad());
    }
    let before = auth::contacts(c, tenant.id, g.id).await?;
    auth::set_contacts(
        c,
        tenant.id,
        g.id,
        &auth::Contacts {
            email: Some(email.to_string()),
            phone: g.phone.clone(),
            notify_email: true,
            notify_sms: before.as_ref().is_some_and(|k| k.notify_sms),
            notify_app_io: before.as_ref().is_some_and(|k| k.notify_app_io),
        },
    )
    .await?;
    auth::set_guardian_password(c, tenant.id, g.id, &phc).await?;
    auth::set_login_unproven(c, tenant.id, g.id, false).await?;
    auth::delete_guardian_sessions(c, tenant.id, g.id, None).await?;
    auth::end_resets(c, tenant.id, g.id, now).await?;
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            Actor::Guardian(g.id),
            AuditAction::ActivateWithCode,
            AuditObject {
                kind: ObjectKind::Guardian,
                id: Some(g.id.get()),
            },
        ),
        now,
    )
    .await?;
    let content = crate::mail::account_activated(&tenant.name)?;

    let key = format!("activation-code:{}", token_hash(code));

    outbox::enqueue(
        c,
        tenant.id,
        &Queued::email("activation", email, &content, &key),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Registered::Activated)
}

/// An activation code just made: shown once to the office, to give the family.
#[derive(Debug, Clone)]
pub struct ActivationLetter {
    pub code: String,
    pub expires_at: Timestamp,
}

/// Makes a new activation code for a guardian (the older unused ones stop working). Only its
/// hash is stored: the code is shown this once.
pub async fn issue_activation_code(
    ctx: Ctx<'_>,
    guardian: GuardianId,
) -> Result<ActivationLetter, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let actor = &ctx.actor.to_string();
    let code = new_activation_code()?;
    let now = clock.now();
    let expires_at = now + ACTIVATION_CODE_VALIDITY;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if family::guardian(c, tenant.id, guardian).await?.is_none() {
        return Err(AppError::NotFound("Genitore non trovato.".into()));
    }
    let stored = normalize_activation_code(&code).ok_or(AppError::Password)?;
    auth::insert_activation_code(
        c,
        tenant.id,
        guardian,
        &token_hash(&stored),
        actor,
        now,
        expires_at,
    )
    .await?;
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::ActivationCode,
            AuditObject {
                kind: ObjectKind::Guardian,
                id: Some(guardian.get()),
            },
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ActivationLetter { code, expires_at })
}

/// The office confirms that a self-registered login is the registry's guardian (after seeing
/// the person's identity document): the login sees the guardian's families from now on.
pub async fn confirm_login(ctx: Ctx<'_>, guardian: GuardianId) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if !auth::set_login_unproven(c, tenant.id, guardian, false).await? {
        return Err(AppError::NotFound("Genitore non trovato.".into()));
    }
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::ConfirmLogin,
            AuditObject {
                kind: ObjectKind::Guardian,
                id: Some(guardian.get()),
            },
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a guardian's login is an unproven self-registration (for the office's page).
pub async fn login_state(ctx: Ctx<'_>, guardian: GuardianId) -> Result<LoginState, AppError> {
    let (db, tenant) = (ctx.db, ctx.tenant);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let has_password = auth::guardian_password(c, tenant.id, guardian)
        .await?
        .is_some();
    let unproven = auth::login_unproven(c, tenant.id, guardian)
        .await?
        .unwrap_or(false);
    Ok(LoginState {
        has_password,
        unproven,
    })
}

/// A guardian's local login as the office sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginState {
    pub has_password: bool,
    /// Self-registered and not proven: the personal area shows no family.
    pub unproven: bool,
}

/// Opens an activation link: the password chosen at registration becomes the account's.
pub async fn activate(ctx: Ctx<'_>, token: &str) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some((guardian, Some(pending))) =
        auth::use_reset(c, tenant.id, &token_hash(token), now).await?
    else {
        return Err(AppError::Invalid(
            "Il collegamento non è valido o è scaduto: ripeti la registrazione.".into(),
        ));
    };
    auth::set_guardian_password(c, tenant.id, guardian, &pending).await?;
    auth::end_resets(c, tenant.id, guardian, now).await?;
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            Actor::Guardian(guardian),
            AuditAction::Activate,
            AuditObject {
                kind: ObjectKind::Guardian,
                id: Some(guardian.get()),
            },
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a reset link to the e-mail on file, if the fiscal code is known and has one. Answers
/// the same in every case.
pub async fn request_reset(
    ctx: Ctx<'_>,
    fiscal_code: &str,
    links: Option<&str>,
) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let Ok(cf) = CodiceFiscale::parse(fiscal_code.trim()) else {
        return Err(AppError::Fields(vec![FieldError {
            field: "fiscal_code",
            message: "Codice fiscale non valido.".into(),
        }]));
    };
    let Some(base_url) = links else {
        return Err(no_public_url());
    };
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some(g) = family::guardian_by_fiscal_code(c, tenant.id, &cf).await? else {
        return Ok(());
    };
    let Some(email) = g.email.clone() else {
        return Ok(());
    };
    let (token, hash) = new_token()?;
    auth::insert_reset(c, tenant.id, g.id, &hash, None, now, now + LINK_VALIDITY).await?;
    let link = format!("{base_url}/t/{}/password/nuova?token={token}", tenant.slug);
    let content = crate::mail::password_reset(&tenant.name, &link)?;

    let key = format!("password_reset:{hash}");

    outbox::enqueue(
        c,
        tenant.id,
        &Queued::email("password_reset", &email, &content, &key),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn reset_link_is_valid(ctx: Ctx<'_>, token: &str) -> Result<bool, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let mut h = db.acquire().await?;
    Ok(auth::reset_is_valid(&mut h.conn(), tenant.id, &token_hash(token), clock.now()).await?)
}

/// Checks a new password against the rules (an error on the `password` field) and hashes it.
async fn checked_new_password(new: &str, confirm: &str) -> Result<String, AppError> {
    check_password_rules(new, confirm, None).map_err(|m| {
        AppError::Fields(vec![FieldError {
            field: "password",
            message: m,
        }])
    })?;
    hash_blocking(new.to_string()).await
}

/// Sets a new password from a reset link; every session and every other link of the guardian
/// ends.
pub async fn complete_reset(
    ctx: Ctx<'_>,
    token: &str,
    new: &str,
    confirm: &str,
) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let phc = checked_new_password(new, confirm).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some((guardian, None)) = auth::use_reset(c, tenant.id, &token_hash(token), now).await?
    else {
        return Err(AppError::Invalid(
            "Il collegamento non è valido o è scaduto: chiedi un nuovo collegamento.".into(),
        ));
    };
    auth::set_guardian_password(c, tenant.id, guardian, &phc).await?;
    // Using one link ends every other one of the guardian, older or newer.
    auth::end_resets(c, tenant.id, guardian, now).await?;
    auth::delete_guardian_sessions(c, tenant.id, guardian, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes a guardian's password after checking the current one; other sessions and any
/// reset link end.
pub async fn change_password(
    ctx: Ctx<'_>,
    guardian: GuardianId,
    session_token: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let mut h = db.acquire().await?;
    let phc = auth::guardian_password(&mut h.conn(), tenant.id, guardian).await?;
    drop(h);
    if !verify_blocking(phc, current.to_string()).await {
        return Err(AppError::Fields(vec![FieldError {
            field: "current",
            message: "La password attuale non è corretta.".into(),
        }]));
    }
    let phc = checked_new_password(new, confirm).await?;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    auth::set_guardian_password(c, tenant.id, guardian, &phc).await?;
    auth::end_resets(c, tenant.id, guardian, clock.now()).await?;
    auth::delete_guardian_sessions(c, tenant.id, guardian, Some(&token_hash(session_token)))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The back-office user of a staff session, whatever their state (the extractor checks it).
pub async fn staff_user(ctx: Ctx<'_>, id: StaffUserId) -> Result<Option<StaffUser>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(staff::staff_by_id(&mut h.conn(), ctx.tenant.id, id).await?)
}

/// Every back-office user of the municipality (the audit log's "who" selector).
pub async fn staff_users(ctx: Ctx<'_>) -> Result<Vec<StaffUser>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(staff::staff(&mut h.conn(), ctx.tenant.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(check_password_rules("corta1", "corta1", None).is_err());
        assert!(check_password_rules("soloLettereQui", "soloLettereQui", None).is_err());
        assert!(check_password_rules("buona-password-1", "buona-password-2", None).is_err());
        assert!(
            check_password_rules(
                "xRSSMRA80A01H501Ux1",
                "xRSSMRA80A01H501Ux1",
                Some("RSSMRA80A01H501U")
            )
            .is_err()
        );
        assert_eq!(
            check_password_rules("buona-password-1", "buona-password-1", None),
            Ok(())
        );
    }

    #[test]
    fn emails() {
        assert!(check_email("mario.rossi@example.it").is_ok());
        for bad in [
            "",
            "mario",
            "mario@",
            "@example.it",
            "a@b",
            "a@.it",
            "a b@c.it",
            "a@c..it",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), ha);
        assert_ne!(ha, a);
    }

    #[test]
    fn throttling_counts_per_source_with_a_ceiling_per_identifier() {
        let now: Timestamp = "2026-11-23T07:00:00Z".parse().unwrap();
        let first = Some(now - SignedDuration::from_mins(5));
        let f = |count| Failures { count, first };
        // Four failures from here, any number below the ceiling from elsewhere: allowed.
        assert!(throttle(f(4), f(MAX_IDENTIFIER_FAILURES - 1), now).is_ok());
        // The fifth from here: refused, for the rest of the window.
        let refused = throttle(f(5), f(5), now);
        assert!(
            matches!(&refused, Err(AppError::Throttled(m)) if m.contains("Riprova fra 11 minuti")),
            "{refused:?}"
        );
        // From a fresh source, only the identifier's ceiling counts.
        assert!(throttle(f(0), f(MAX_IDENTIFIER_FAILURES), now).is_err());
        assert!(throttle(Failures::default(), f(MAX_IDENTIFIER_FAILURES - 1), now).is_ok());
    }

    #[test]
    fn activation_codes() {
        let code = new_activation_code().unwrap();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        let canonical = normalize_activation_code(&code).unwrap();
        assert_eq!(canonical.len(), 16);
        assert_ne!(new_activation_code().unwrap(), code);
        // As typed from paper: lower case, spaces or no separators.
        assert_eq!(
            normalize_activation_code(&code.to_lowercase().replace('-', " ")),
            Some(canonical.clone())
        );
        assert_eq!(normalize_activation_code(&canonical), Some(canonical));
        for bad in [
            "",
            "ABCD",
            "ABCD-EFGH-JKLM-NPQ0",
            "ABCD-EFGH-JKLM-NPQRS",
            "ABCD-EFGH-JKLM-NPQ\u{e8}",
        ] {
            assert_eq!(normalize_activation_code(bad), None, "{bad}");
        }
        let r = Registration {
            activation_code: "nonvalido".into(),
            ..Registration::default()
        };
        let errors = check_registration(&r).unwrap_err();
        assert!(errors.iter().any(|e| e.field == "activation_code"));
    }

    #[test]
    fn registration_reports_every_field() {
        let errors = check_registration(&Registration::default()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                "fiscal_code",
                "first_name",
                "last_name",
                "email",
                "password",
                "privacy"
            ]
        );
    }
}
