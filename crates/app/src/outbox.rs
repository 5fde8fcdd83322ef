//! Delivery of the outbox's e-mails: [`run`] is the sender task that `serve` starts beside the
//! web server on every node. It claims due e-mails ([`refettorio_db::outbox::claim_due`]: two
//! nodes never take the same row), sends each over SMTP with lettre, and marks it sent; a
//! temporary failure (no connection, a timeout, a 4xx reply) waits for the next attempt with
//! exponential backoff, a permanent refusal (a 5xx reply) marks the message failed with the
//! server's reason, which the office reads on its messages page.
//!
//! With no `smtp_url` configured (the demo) nothing is sent: e-mails are "simulated", i.e.
//! delivered to the built-in test mailbox that the office and the platform administrator read,
//! plainly marked as a simulation.
//!
//! SMS go through each municipality's HTTP gateway ([`sms`]), App IO messages through IO's
//! REST API ([`appio`]), claimed and retried the same way: no answer, a timeout, a 5xx (or a
//! 429) is tried again with backoff; another 4xx fails the message with the reason.

use std::collections::HashMap;
use std::time::Duration;

use jiff::SignedDuration;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;
use refettorio_db::outbox::{self, Claimed};
/// An e-mail of the outbox as the mailbox pages list it, and one with its content.
pub use refettorio_db::outbox::{Counts, Full, Row, Row as OfficeRow};
use refettorio_db::registry::tenant::{self, Tenant};
use refettorio_db::{Db, redact};
use refettorio_domain::messaging::Channel;
use refettorio_domain::{Clock, SystemClock, TenantId};
use tokio::sync::watch;

use crate::AppError;

pub mod appio;
pub mod channels;
pub mod families;
pub mod guard;
pub mod sms;

pub use refettorio_db::outbox::{Communication, Recipient};

/// How long a claim holds a message: a node that dies mid-send leaves it to another node after
/// this long (the SMTP timeout is well below it).
const LEASE: SignedDuration = SignedDuration::from_mins(5);
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest wait between two attempts.
const MAX_BACKOFF: SignedDuration = SignedDuration::from_hours(1);
/// After this many temporary failures a message is failed (about two days at the longest
/// wait: an SMTP server down for hours loses nothing).
pub const MAX_ATTEMPTS: i32 = 60;
/// E-mails claimed at once.
const BATCH: i64 = 20;
/// How often an idle sender looks for new messages.
const POLL: Duration = Duration::from_secs(2);
/// How often the gauge of waiting messages is refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(15);

/// How this installation delivers e-mail (from `smtp_url` and `mail_from`).
#[derive(Clone)]
pub struct MailSettings {
    /// None: the test mailbox (nothing is sent).
    smtp: Option<Smtp>,
    /// The sender's address; each municipality puts its own name before it.
    from: lettre::Address,
    /// The first wait after a temporary failure; each further one doubles it.
    retry_base: SignedDuration,
    /// How long one call to an SMS gateway or to App IO may take.
    channel_timeout: Duration,
    /// Whether those calls may reach private addresses (`channels_allow_private_hosts`).
    allow_private_hosts: bool,
}

#[derive(Clone)]
struct Smtp {
    /// The URL as lettre reads it (checked).
    url: String,
    /// The URL without its password, for logs.
    shown: String,
}

impl Smtp {
    /// The transport (its connection pool lives in the sender task's runtime).
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)
            .map_err(|e| format!("smtp_url '{}': {e}", self.shown))?
            .timeout(Some(SMTP_TIMEOUT))
            .build())
    }
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp", &self.smtp.as_ref().map(|s| s.shown.as_str()))
            .field("from", &self.from)
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

/// The address used as sender when no `mail_from` is configured (test mailbox only).
const SIMULATED_FROM: &str = "noreply@refettorio.invalid";

impl MailSettings {
    /// Checks the configuration; an error names the key at fault.
    ///
    /// `smtp_url`: `smtp://host:25` (plain, for a relay on the same machine or network),
    /// `smtp://user:password@host:587?tls=starttls` (STARTTLS required; `tls=required` is the
    /// same, `tls=opportunistic` upgrades only when offered), `smtps://user:password@host:465`
    /// (implicit TLS). `mail_from`: `noreply@comune.example.it` (a bare address: each
    /// municipality's name is put before it) and required with `smtp_url`.
    pub fn new(
        smtp_url: Option<&str>,
        mail_from: Option<&str>,
        retry_seconds: u64,
    ) -> Result<MailSettings, String> {
        let from = match mail_from.map(str::trim).filter(|s| !s.is_empty()) {
            Some(m) => m.parse::<lettre::Address>().map_err(|e| {
                format!("mail_from '{m}' is not an e-mail address (write only the address, e.g. noreply@comune.example.it): {e}")
            })?,
            None if smtp_url.is_some() => {
                return Err(
                    "mail_from is required when smtp_url is set (e.g. noreply@comune.example.it)"
                        .into(),
                );
            }
            None => SIMULATED_FROM
                .parse()
                .map_err(|e| format!("mail_from: {e}"))?,
        };
        let smtp = match smtp_url.map(str::trim).filter(|s| !s.is_empty()) {
            Some(url) => Some(smtp_of(url)?),
            None => None,
        };
        if retry_seconds == 0 || retry_seconds > 3600 {
            return Err("mail_retry_seconds must be from 1 to 3600".into());
        }
        Ok(MailSettings {
            smtp,
            from,
            retry_base: SignedDuration::from_secs(i64::try_from(retry_seconds).unwrap_or(30)),
            channel_timeout: Duration::from_secs(20),
            allow_private_hosts: false,
        })
    }

    /// Lets the SMS gateways and App IO be at private addresses (a gateway in the
    /// municipality's own network; the tests' stand-ins). Off by default: see [`guard`].
    pub fn with_private_hosts(self, allow: bool) -> MailSettings {
        MailSettings {
            allow_private_hosts: allow,
            ..self
        }
    }

    /// How long one call to an SMS gateway or to App IO may take (`channel_timeout_seconds`,
    /// 1 to 300).
    pub fn with_channel_timeout(self, seconds: u64) -> Result<MailSettings, String> {
        if !(1..=300).contains(&seconds) {
            return Err("channel_timeout_seconds must be from 1 to 300".into());
        }
        Ok(MailSettings {
            channel_timeout: Duration::from_secs(seconds),
            ..self
        })
    }

    /// True when nothing is sent: e-mails go to the test mailbox.
    pub fn simulated(&self) -> bool {
        self.smtp.is_none()
    }

    /// Where e-mails go, for the start-up log (no password).
    pub fn describe(&self) -> String {
        match &self.smtp {
            Some(s) => format!("SMTP {} from {}", s.shown, self.from),
            None => "test mailbox (simulation: nothing is sent)".into(),
        }
    }

    /// The wait before attempt `attempts + 1` after a temporary failure.
    fn backoff(&self, attempts: i32) -> SignedDuration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let secs = self.retry_base.as_secs().saturating_mul(1_i64 << exp);
        SignedDuration::from_secs(secs).min(MAX_BACKOFF)
    }
}

fn smtp_of(url: &str) -> Result<Smtp, String> {
    let shown = redact(url);
    let bad = |why: &str| format!("smtp_url '{shown}': {why}");
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(bad(
            "use smtp://host:port, smtp://user:password@host:587?tls=starttls or smtps://user:password@host:465",
        ));
    }
    // `tls=starttls` reads better in a configuration file; lettre calls it `required`.
    let normalized = url.replace("tls=starttls", "tls=required");
    if let Some(q) = normalized.split_once('?').map(|(_, q)| q) {
        for pair in q.split('&') {
            match pair {
                "tls=required" | "tls=opportunistic" if url.starts_with("smtp://") => {}
                _ => {
                    return Err(bad(&format!(
                        "unknown parameter '{pair}' (only tls=starttls or tls=opportunistic, with smtp://)"
                    )));
                }
            }
        }
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&normalized).map_err(|e| bad(&e.to_string()))?;
    Ok(Smtp {
        url: normalized,
        shown,
    })
}

/// What one attempt came to.
pub(crate) enum Outcome {
    Delivered,
    /// Try again later, with the reason.
    Temporary(String),
    /// Never deliverable, with the reason.
    Permanent(String),
}

/// A random name for this node's claims.
fn node_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}-{:016x}", rand::rng().next_u64())
}

/// Registers the sender's metrics so that `/metrics` shows them from the start.
fn describe_metrics() {
    for mode in ["smtp", "simulation"] {
        metrics::counter!("refettorio_outbox_sent_total", "channel" => "email", "mode" => mode)
            .increment(0);
    }
    for channel in ["sms", "app_io"] {
        metrics::counter!("refettorio_outbox_sent_total", "channel" => channel, "mode" => "http")
            .increment(0);
    }
    for channel in ["email", "sms", "app_io"] {
        metrics::counter!("refettorio_outbox_failed_total", "channel" => channel).increment(0);
        metrics::counter!("refettorio_outbox_retries_total", "channel" => channel).increment(0);
        metrics::gauge!("refettorio_outbox_waiting", "channel" => channel).set(0.0);
    }
}

async fn refresh_gauge(db: &Db) -> Result<(), AppError> {
    let mut h = db.acquire().await?;
    let rows = outbox::waiting_by_channel(&mut h.conn()).await?;
    for channel in ["email", "sms", "app_io"] {
        let n = rows
            .iter()
            .find(|(c, _)| c == channel)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("refettorio_outbox_waiting", "channel" => channel).set(n as f64);
    }
    Ok(())
}

/// The sender task: delivers due e-mails until `stop` turns true (the message in hand is
/// finished first).
pub async fn run(db: Db, settings: MailSettings, mut stop: watch::Receiver<bool>) {
    let node = node_name();
    describe_metrics();
    let transport = match settings.smtp.as_ref().map(Smtp::transport).transpose() {
        Ok(t) => t,
        Err(e) => {
            // MailSettings::new checked the URL: this does not happen.
            tracing::error!(error = %e, "e-mail sender not started");
            return;
        }
    };
    let http = match reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(guard::PublicOnly {
            allow_private: settings.allow_private_hosts,
        }))
        .timeout(settings.channel_timeout)
        .connect_timeout(settings.channel_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "message sender not started: no HTTP client");
            return;
        }
    };
    let senders = Senders {
        settings: &settings,
        smtp: transport.as_ref(),
        http: &http,
    };
    tracing::info!(node = %node, delivery = %settings.describe(), "e-mail sender started");
    let mut gauge_at = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        let mut busy = false;
        for channel in [Channel::Email, Channel::Sms, Channel::AppIo] {
            match deliver_due(&db, &senders, channel, &node, &stop).await {
                Ok(n) => busy |= n >= BATCH,
                Err(e) => {
                    tracing::warn!(error = %e, channel = channel.as_str(), "message sender: cannot read the outbox");
                }
            }
        }
        if gauge_at.elapsed() >= GAUGE_EVERY || !busy {
            if let Err(e) = refresh_gauge(&db).await {
                tracing::warn!(error = %e, "e-mail sender: cannot count the waiting messages");
            }
            gauge_at = tokio::time::Instant::now();
        }
        if busy {
            continue;
        }
        tokio::select! {
            changed = stop.changed() => {
                // The server is gone without a word: stop too.
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
    tracing::info!(node = %node, "e-mail sender stopped");
}

/// How this node delivers: the SMTP transport (none: the test mailbox) and the HTTP client of
/// the SMS gateways and App IO.
struct Senders<'a> {
    settings: &'a MailSettings,
    smtp: Option<&'a AsyncSmtpTransport<Tokio1Executor>>,
    http: &'a reqwest::Client,
}

impl Senders<'_> {
    /// The longest one attempt on `channel` can take: the lease must have room for it.
    fn attempt(&self, channel: Channel) -> SignedDuration {
        let d = match channel {
            Channel::Email => SMTP_TIMEOUT * 2,
            _ => self.settings.channel_timeout * 3,
        };
        SignedDuration::try_from(d).unwrap_or(LEASE)
    }

    /// One attempt to deliver `m` on `channel` for municipality `t`, whose gateway secret is
    /// `secret`. A gateway written as a private address is refused without a call (see
    /// [`guard`]).
    async fn deliver(
        &self,
        channel: Channel,
        t: &Tenant,
        secret: Option<&str>,
        m: &Claimed,
    ) -> Outcome {
        let gateway = match channel {
            Channel::Email => return deliver(self.settings, self.smtp, t, m).await,
            Channel::AppIo => t.settings.messaging.app_io.base_url.as_str(),
            Channel::Sms => t.settings.messaging.sms.url.as_str(),
        };
        if let Some(why) = guard::refused_literal(gateway, self.settings.allow_private_hosts) {
            return Outcome::Permanent(why);
        }
        match channel {
            Channel::AppIo => appio::deliver(self.http, t, secret, m).await,
            _ => sms::deliver(self.http, t, secret, m).await,
        }
    }
}

/// Claims one batch of due messages of `channel` and delivers each (an e-mail through SMTP, an
/// SMS or App IO message through its municipality's gateway); returns how many were claimed.
async fn deliver_due(
    db: &Db,
    senders: &Senders<'_>,
    channel: Channel,
    node: &str,
    stop: &watch::Receiver<bool>,
) -> Result<i64, AppError> {
    // The sender is not given a Clock (`run` is started by the server with the database and the
    // mail settings only): its leases and retries run on the system clock.
    let now = SystemClock.now();
    let claimed = {
        let mut h = db.acquire().await?;
        outbox::claim_due(
            &mut h.conn(),
            channel.as_str(),
            node,
            now,
            now + LEASE,
            BATCH,
        )
        .await?
    };
    let n = i64::try_from(claimed.len()).unwrap_or(BATCH);
    // Each municipality once per batch, with its gateway's secret (none for e-mail).
    let mut tenants: HashMap<i64, Option<(Tenant, Option<String>)>> = HashMap::new();
    // A message is sent only while the lease has room for a whole attempt; the others (and all
    // of them when the node stops) are given back untried.
    let send_until = now + LEASE - senders.attempt(channel);
    for m in claimed {
        if *stop.borrow() || SystemClock.now() >= send_until {
            let mut h = db.acquire().await?;
            outbox::release(&mut h.conn(), m.id, node).await?;
            continue;
        }
        let tenant = match tenants.entry(m.tenant_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut h = db.acquire().await?;
                let c = &mut h.conn();
                let found = match tenant::by_id(c, TenantId(m.tenant_id)).await? {
                    Some(t) => {
                        let secret = match channel {
                            Channel::Email => None,
                            Channel::AppIo => outbox::secret(c, t.id, appio::SECRET).await?,
                            Channel::Sms => outbox::secret(c, t.id, sms::SECRET).await?,
                        };
                        Some((t, secret))
                    }
                    None => None,
                };
                e.insert(found)
            }
        }
        .as_ref();
        let outcome = match tenant {
            None => Outcome::Permanent("Comune non trovato.".into()),
            Some((t, secret)) => senders.deliver(channel, t, secret.as_deref(), &m).await,
        };
        let d = Delivery {
            id: m.id,
            kind: &m.kind,
            channel,
            attempts: m.attempts,
        };
        record(db, senders.settings, node, &d, outcome).await?;
    }
    Ok(n)
}

/// The message an attempt was about.
struct Delivery<'a> {
    id: i64,
    kind: &'a str,
    channel: Channel,
    attempts: i32,
}

async fn record(
    db: &Db,
    settings: &MailSettings,
    node: &str,
    m: &Delivery<'_>,
    outcome: Outcome,
) -> Result<(), AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let now = SystemClock.now();
    let channel = m.channel.as_str();
    match outcome {
        Outcome::Delivered => {
            let simulated = m.channel == Channel::Email && settings.simulated();
            outbox::mark_delivered(c, m.id, node, simulated, now).await?;
            let mode = match m.channel {
                Channel::Email if simulated => "simulation",
                Channel::Email => "smtp",
                _ => "http",
            };
            metrics::counter!("refettorio_outbox_sent_total", "channel" => channel, "mode" => mode)
                .increment(1);
            tracing::info!(id = m.id, kind = %m.kind, channel, mode, attempts = m.attempts, "message delivered");
        }
        Outcome::Temporary(why) if m.attempts < MAX_ATTEMPTS => {
            let next = now + settings.backoff(m.attempts);
            outbox::retry_later(c, m.id, node, &why, next).await?;
            metrics::counter!("refettorio_outbox_retries_total", "channel" => channel).increment(1);
            tracing::warn!(id = m.id, kind = %m.kind, channel, attempts = m.attempts, error = %why, next = %next, "message not delivered: will try again");
        }
        Outcome::Temporary(why) => {
            let why = format!(
                "Non consegnato dopo {} tentativi. Ultimo errore: {why}",
                m.attempts
            );
            outbox::mark_failed(c, m.id, node, &why, now).await?;
            metrics::counter!("refettorio_outbox_failed_total", "channel" => channel).increment(1);
            tracing::error!(id = m.id, kind = %m.kind, channel, error = %why, "message failed");
        }
        Outcome::Permanent(why) => {
            outbox::mark_failed(c, m.id, node, &why, now).await?;
            metrics::counter!("refettorio_outbox_failed_total", "channel" => channel).increment(1);
            tracing::error!(id = m.id, kind = %m.kind, channel, error = %why, "message refused");
        }
    }
    Ok(())
}

/// The e-mail as it goes out: From with the municipality's name (or the one it chose),
/// Reply-To its office, plain text and HTML.
fn message_of(settings: &MailSettings, t: &Tenant, m: &Claimed) -> Result<Message, String> {
    let name = t
        .settings
        .mail_from_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| t.name.clone());
    let from = Mailbox::new(Some(name), settings.from.clone());
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| format!("Indirizzo del destinatario non valido: {e}"))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(format!(
            "<refettorio.{}.{}@{}>",
            m.tenant_id,
            m.id,
            settings.from.domain()
        )));
    let reply_to = t
        .settings
        .mail_reply_to
        .clone()
        .or_else(|| t.settings.office_email.clone());
    if let Some(r) = reply_to.and_then(|r| r.parse::<Mailbox>().ok()) {
        b = b.reply_to(r);
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone());
    let built = match &m.body_html {
        Some(html) => b.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => b.singlepart(text),
    };
    built.map_err(|e| format!("Messaggio non valido: {e}"))
}

async fn deliver(
    settings: &MailSettings,
    transport: Option<&AsyncSmtpTransport<Tokio1Executor>>,
    t: &Tenant,
    m: &Claimed,
) -> Outcome {
    let message = match message_of(settings, t, m) {
        Ok(message) => message,
        Err(why) => return Outcome::Permanent(why),
    };
    let Some(transport) = transport else {
        // The test mailbox: the row itself is the delivered message.
        return Outcome::Delivered;
    };
    match transport.send(message).await {
        Ok(_) => Outcome::Delivered,
        Err(e) => classify(&e),
    }
}

/// A 5xx reply is permanent, except the authentication ones (530, 534, 535, 538), which are
/// the installation's configuration to fix, not the message's fault: those and everything else
/// (no connection, timeouts, TLS, 4xx replies) are tried again.
fn classify(e: &lettre::transport::smtp::Error) -> Outcome {
    let code = e.status().map(|c| c.to_string());
    let auth = matches!(code.as_deref(), Some("530" | "534" | "535" | "538"));
    // "permanent error (550): 5.1.1 …": the code and the server's words.
    let why = e.to_string();
    if e.is_permanent() && !auth {
        Outcome::Permanent(format!("Rifiutato dal server di posta: {why}"))
    } else {
        Outcome::Temporary(why)
    }
}

// ---------------------------------------------------------------------------------------------
// What the office and the platform administrator read.

/// The office's view of its municipality's messages: the counts and the newest rows.
pub struct OfficeMessages {
    pub counts: Counts,
    pub rows: Vec<Row>,
}

/// The newest messages of a municipality (failed ones first when `failed_only`).
pub async fn office_messages(
    db: &Db,
    tenant: TenantId,
    failed_only: bool,
) -> Result<OfficeMessages, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let counts = outbox::counts(c, tenant).await?;
    let status = failed_only.then_some("failed");
    let rows = outbox::list(c, Some(tenant), status, 200).await?;
    Ok(OfficeMessages { counts, rows })
}

/// The test mailbox: the simulated e-mails of one municipality, or of all (`None`).
pub async fn mailbox(db: &Db, tenant: Option<TenantId>) -> Result<Vec<Row>, AppError> {
    let mut h = db.acquire().await?;
    Ok(outbox::list(&mut h.conn(), tenant, Some("simulated"), 200).await?)
}

/// One e-mail of the test mailbox, with its content.
pub async fn mailbox_message(db: &Db, tenant: Option<TenantId>, id: i64) -> Result<Full, AppError> {
    let mut h = db.acquire().await?;
    outbox::message(&mut h.conn(), tenant, id, "simulated")
        .await?
        .ok_or_else(|| AppError::NotFound("Messaggio non trovato.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_configuration_names_its_key() {
        let e = MailSettings::new(Some("http://x"), Some("a@b.it"), 30).unwrap_err();
        assert!(e.starts_with("smtp_url"), "{e}");
        let e = MailSettings::new(Some("smtp://h:25?tls=maybe"), Some("a@b.it"), 30).unwrap_err();
        assert!(e.starts_with("smtp_url") && e.contains("tls=maybe"), "{e}");
        let e = MailSettings::new(Some("smtps://u:segreta@h:465"), None, 30).unwrap_err();
        assert!(e.starts_with("mail_from"), "{e}");
        let e = MailSettings::new(Some("smtp://u:segreta@:25"), Some("a@b.it"), 30).unwrap_err();
        assert!(e.starts_with("smtp_url") && !e.contains("segreta"), "{e}");
        let e = MailSettings::new(None, Some("Comune <a@b.it>"), 30).unwrap_err();
        assert!(e.starts_with("mail_from"), "{e}");
        let e = MailSettings::new(None, Some("non-un-indirizzo"), 30).unwrap_err();
        assert!(e.starts_with("mail_from"), "{e}");
    }

    #[tokio::test]
    async fn good_configurations_and_the_simulation() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pw@mail.example.it:587?tls=starttls",
            "smtp://mail.example.it:587?tls=opportunistic",
            "smtps://user:p%40ss@mail.example.it:465",
        ] {
            let s = MailSettings::new(Some(url), Some("noreply@comune.example.it"), 30).unwrap();
            assert!(!s.simulated(), "{url}");
            assert!(!s.describe().contains("pw@") && !s.describe().contains("p%40ss"));
        }
        let s = MailSettings::new(None, None, 30).unwrap();
        assert!(s.simulated());
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let s = MailSettings::new(None, None, 30).unwrap();
        assert_eq!(s.backoff(1), SignedDuration::from_secs(30));
        assert_eq!(s.backoff(2), SignedDuration::from_secs(60));
        assert_eq!(s.backoff(4), SignedDuration::from_secs(240));
        assert_eq!(s.backoff(40), SignedDuration::from_hours(1));
    }
}
