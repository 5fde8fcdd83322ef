//! Getting in with local credentials: login with throttling, sessions kept in the database,
//! registration confirmed by e-mail, password change and reset. Tokens are random 32-byte values
//! shown once (cookie, e-mail link); only their SHA-256 is stored.

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use rand::TryRngCore;
use rand::rngs::OsRng;
use refettorio_db::Db;
use refettorio_db::auth::{self, Session, Subject};
use refettorio_db::meals::enqueue;
use refettorio_db::registry::family::{self, NewGuardian};
use refettorio_db::registry::staff;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{Clock, CodiceFiscale, GuardianId, TenantId};
use sha2::{Digest, Sha256};

use crate::{AppError, FieldError, password};

/// A session ends after this long without a request...
pub const IDLE: SignedDuration = SignedDuration::from_mins(30);
/// ...and after this long in any case.
pub const ABSOLUTE: SignedDuration = SignedDuration::from_hours(12);
/// A session's idle expiry is written again only when it is older than this (one write per
/// five minutes of use instead of one per request).
const EXTEND_EVERY: SignedDuration = SignedDuration::from_mins(5);
/// At most this many failed logins per identifier within [`THROTTLE_WINDOW`].
pub const MAX_FAILURES: u32 = 5;
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

/// Refuses a login after [`MAX_FAILURES`] failures within [`THROTTLE_WINDOW`], saying when
/// to try again.
pub(crate) fn throttle(
    failures: u32,
    first: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), AppError> {
    if failures < MAX_FAILURES {
        return Ok(());
    }
    let until = first.unwrap_or(now) + THROTTLE_WINDOW;
    let minutes = (until.duration_since(now).as_secs() / 60 + 1).max(1);
    Err(AppError::Throttled(format!(
        "Troppi tentativi di accesso non riusciti. Riprova fra {minutes} minuti o recupera la password."
    )))
}

/// Logs in a guardian (the identifier is a fiscal code) or a staff user (a username).
pub async fn login(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    identifier: &str,
    candidate: &str,
) -> Result<NewSession, AppError> {
    let now = clock.now();
    let subject_key = identifier.trim().to_uppercase();
    if subject_key.is_empty() || candidate.is_empty() {
        return Err(AppError::Unauthorized(
            "Inserisci codice fiscale (o nome utente) e password.".into(),
        ));
    }
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (failures, first) =
        auth::failures_since(c, tenant.id, &subject_key, now - THROTTLE_WINDOW).await?;
    throttle(failures, first, now)?;
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
        auth::record_failure(c, tenant.id, &subject_key, now).await?;
        return Err(AppError::Unauthorized(WRONG_CREDENTIALS.into()));
    };
    auth::clear_failures(c, tenant.id, &subject_key).await?;
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
pub async fn session(db: &Db, clock: &dyn Clock, token: &str) -> Result<Option<Session>, AppError> {
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

pub async fn logout(db: &Db, token: &str) -> Result<(), AppError> {
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

/// Registers a citizen: the account works after the e-mailed link is opened. A guardian already
/// in the registry (enrolled by the office) must give the e-mail the office has on file.
/// Answers the same whether or not the fiscal code is known, so it reveals nothing.
pub async fn register(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    r: &Registration,
    base_url: &str,
) -> Result<(), AppError> {
    if !tenant.settings.citizen_local_login {
        return Err(AppError::Invalid(
            "In questo Comune le famiglie accedono con SPID o CIE: la registrazione non è necessaria.".into(),
        ));
    }
    let (cf, email) = check_registration(r).map_err(AppError::Fields)?;
    let pending = hash_blocking(r.password.clone()).await?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let guardian = match family::guardian_by_fiscal_code(c, tenant.id, &cf).await? {
        Some(g) => {
            let on_file = g.email.as_deref().map(str::to_lowercase);
            if auth::guardian_password(c, tenant.id, g.id).await?.is_some()
                || on_file.is_some_and(|e| e != email.to_lowercase())
            {
                // Already registered, or not the e-mail the office knows: nothing to send.
                tx.commit().await?;
                return Ok(());
            }
            auth::set_contacts(
                c,
                tenant.id,
                g.id,
                &auth::Contacts {
                    email: Some(email.clone()),
                    phone: g.phone.clone(),
                    notify_email: true,
                    notify_sms: false,
                },
            )
            .await?;
            g.id
        }
        None => {
            family::insert_guardian(
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
            .await?
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
    enqueue(
        c,
        tenant.id,
        "activation",
        "email",
        &email,
        &crate::mail::activation(&tenant.name, &link)?,
        &format!("activation:{hash}"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Opens an activation link: the password chosen at registration becomes the account's.
pub async fn activate(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    token: &str,
) -> Result<(), AppError> {
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
    refettorio_db::meals::audit(
        c,
        tenant.id,
        &format!("guardian:{}", guardian.get()),
        "activate",
        "guardian",
        Some(guardian.get()),
        None,
        None,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a reset link to the e-mail on file, if the fiscal code is known and has one. Answers
/// the same in every case.
pub async fn request_reset(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    fiscal_code: &str,
    base_url: &str,
) -> Result<(), AppError> {
    let Ok(cf) = CodiceFiscale::parse(fiscal_code.trim()) else {
        return Err(AppError::Fields(vec![FieldError {
            field: "fiscal_code",
            message: "Codice fiscale non valido.".into(),
        }]));
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
    enqueue(
        c,
        tenant.id,
        "password_reset",
        "email",
        &email,
        &crate::mail::password_reset(&tenant.name, &link)?,
        &format!("password_reset:{hash}"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn reset_link_is_valid(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    token: &str,
) -> Result<bool, AppError> {
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

/// Sets a new password from a reset link; every session of the guardian ends.
pub async fn complete_reset(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    token: &str,
    new: &str,
    confirm: &str,
) -> Result<(), AppError> {
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
    auth::delete_guardian_sessions(c, tenant.id, guardian, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes a guardian's password after checking the current one; other sessions end.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    db: &Db,
    tenant: &Tenant,
    guardian: GuardianId,
    session_token: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<(), AppError> {
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
    auth::delete_guardian_sessions(c, tenant.id, guardian, Some(&token_hash(session_token)))
        .await?;
    tx.commit().await?;
    Ok(())
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
