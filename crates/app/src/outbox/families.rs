//! Messages to families on the channels they chose (e-mail, SMS, App IO) among those the
//! municipality offers, and the office's communications: to the families of a service, a
//! school, a class or one family, with a preview of how many and by which channels, stored in
//! each family's Comunicazioni, with a delivery report per message.
//!
//! A family with no usable channel (none chosen, or the chosen one without a valid address or
//! not offered by the municipality) gets one message queued already failed with the reason:
//! the office sees it as undeliverable, and nothing retries it.

use std::collections::BTreeMap;

use refettorio_db::outbox::{self, Communication, Queued, Recipient, Row};
use refettorio_db::registry::calendar;
use refettorio_db::registry::school;
use refettorio_db::registry::service;
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, close, kitchen, ledger};
use refettorio_domain::messaging::{Channel, Payload, sms_number};
use refettorio_domain::{
    AuditAction, AuditEntry, AuditObject, CodiceFiscale, FamilyId, ObjectKind,
};

use crate::mail::FamilyMessage;
use crate::{AppError, Ctx, FieldError};

/// Where a message to a family goes: each usable channel with its address, or why none is.
pub fn channels_for(t: &Tenant, r: &Recipient) -> Result<Vec<(Channel, String)>, String> {
    let mut out = Vec::new();
    let mut why = Vec::new();
    if r.notify_email {
        match r.email.as_deref().map(crate::auth::check_email) {
            Some(Ok(e)) => out.push((Channel::Email, e)),
            _ => why.push("e-mail scelta ma senza un indirizzo valido"),
        }
    }
    if r.notify_sms {
        if !t.settings.messaging.sms.enabled() {
            why.push("SMS scelti ma il Comune non li invia");
        } else {
            match r.phone.as_deref().and_then(sms_number) {
                Some(p) => out.push((Channel::Sms, p)),
                None => why.push("SMS scelti ma senza un numero di cellulare valido"),
            }
        }
    }
    if r.notify_app_io {
        if !t.settings.messaging.app_io.enabled() {
            why.push("App IO scelta ma il Comune non la usa");
        } else {
            match CodiceFiscale::parse(&r.fiscal_code) {
                Ok(cf) => out.push((Channel::AppIo, cf.as_str().to_string())),
                Err(_) => why.push("App IO scelta ma il codice fiscale non è valido"),
            }
        }
    }
    if out.is_empty() {
        if why.is_empty() {
            Err("Nessun canale scelto dalla famiglia.".into())
        } else {
            Err(format!("Nessun canale utilizzabile: {}.", why.join("; ")))
        }
    } else {
        Ok(out)
    }
}

/// What to queue for one family.
pub struct ToFamily<'a> {
    pub kind: &'a str,
    /// The messages' keys are `<key>:<channel>` (one per channel, never twice).
    pub key: &'a str,
    pub message: &'a FamilyMessage,
    pub payload: Option<&'a Payload>,
    pub communication: Option<i64>,
}

/// Queues a message to a family on each of its usable channels (or one failed row saying
/// why none is usable). Returns the channels used.
pub async fn queue_for_family(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    r: &Recipient,
    m: &ToFamily<'_>,
    now: jiff::Timestamp,
) -> Result<Vec<Channel>, AppError> {
    let payload = m
        .payload
        .map(|p| serde_json::to_string(p).unwrap_or_default());
    let family = Some(FamilyId(r.family_id));
    match channels_for(tenant, r) {
        Ok(channels) => {
            for (channel, address) in &channels {
                let text = match channel {
                    Channel::Email => None,
                    Channel::Sms => Some(&m.message.sms),
                    Channel::AppIo => Some(&m.message.markdown),
                };
                let content = match text {
                    None => m.message.email.clone(),
                    Some(t) => outbox::Content {
                        subject: m.message.email.subject.clone(),
                        text: t.clone(),
                        html: None,
                    },
                };
                let key = format!("{}:{}", m.key, channel.as_str());
                outbox::enqueue(
                    conn,
                    tenant.id,
                    &Queued {
                        kind: m.kind,
                        channel: channel.as_str(),
                        recipient: address,
                        content: &content,
                        idempotency_key: &key,
                        payload: payload.as_deref().filter(|_| *channel == Channel::AppIo),
                        family,
                        communication: m.communication,
                        failed: None,
                    },
                    now,
                )
                .await?;
            }
            Ok(channels.into_iter().map(|(c, _)| c).collect())
        }
        Err(why) => {
            let key = format!("{}:none", m.key);
            outbox::enqueue(
                conn,
                tenant.id,
                &Queued {
                    kind: m.kind,
                    channel: Channel::Email.as_str(),
                    recipient: r.email.as_deref().unwrap_or(""),
                    content: &m.message.email,
                    idempotency_key: &key,
                    payload: None,
                    family,
                    communication: m.communication,
                    failed: Some(&why),
                },
                now,
            )
            .await?;
            Ok(Vec::new())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The office writes to families.

/// Whose families: the families with an active enrolment in a service, a school or a class, or
/// one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Service(i64),
    School(i64),
    Class(i64),
    Family(i64),
}

impl Audience {
    fn kind(self) -> (&'static str, i64) {
        match self {
            Audience::Service(id) => ("service", id),
            Audience::School(id) => ("school", id),
            Audience::Class(id) => ("class", id),
            Audience::Family(id) => ("family", id),
        }
    }

    /// The form's value (`servizio:3`, `scuola:2`, `classe:7`, `famiglia:9`).
    pub fn value(self) -> String {
        match self {
            Audience::Service(id) => format!("servizio:{id}"),
            Audience::School(id) => format!("scuola:{id}"),
            Audience::Class(id) => format!("classe:{id}"),
            Audience::Family(id) => format!("famiglia:{id}"),
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        let (k, id) = s.split_once(':')?;
        let id: i64 = id.parse().ok()?;
        match k {
            "servizio" => Some(Audience::Service(id)),
            "scuola" => Some(Audience::School(id)),
            "classe" => Some(Audience::Class(id)),
            "famiglia" => Some(Audience::Family(id)),
            _ => None,
        }
    }
}

/// What the office may choose: the services, schools and classes of the current school year
/// (or the latest), each as (form value, label).
pub async fn audiences(ctx: Ctx<'_>) -> Result<Vec<(String, String)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let year = match calendar::school_year_at(c, ctx.tenant.id, ctx.today()).await? {
        Some(y) => Some(y),
        None => calendar::school_years(c, ctx.tenant.id).await?.pop(),
    };
    let mut out = Vec::new();
    let schools = school::schools(c, ctx.tenant.id).await?;
    if let Some(y) = &year {
        for s in service::services(c, ctx.tenant.id, y.id).await? {
            out.push((
                Audience::Service(s.id.get()).value(),
                format!("Servizio: {}", s.name),
            ));
        }
    }
    for s in &schools {
        out.push((
            Audience::School(s.id.get()).value(),
            format!("Scuola: {}", s.name),
        ));
    }
    if let Some(y) = &year {
        for k in school::classes(c, ctx.tenant.id, y.id).await? {
            let school = schools
                .iter()
                .find(|s| s.id == k.school_id)
                .map(|s| s.name.as_str())
                .unwrap_or("");
            out.push((
                Audience::Class(k.id.get()).value(),
                format!("Classe {} – {school}", k.name),
            ));
        }
    }
    Ok(out)
}

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunicationForm {
    /// An [`Audience::value`], or `famiglia` with the payer's fiscal code.
    pub audience: String,
    pub fiscal_code: String,
    pub subject: String,
    pub body: String,
}

/// What a communication would reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub audience: Audience,
    pub label: String,
    pub families: usize,
    /// Families reached on each channel.
    pub by_channel: Vec<(Channel, usize)>,
    /// Families with no usable channel.
    pub undeliverable: usize,
}

fn field(field: &'static str, message: &str) -> AppError {
    AppError::Fields(vec![FieldError {
        field,
        message: message.into(),
    }])
}

async fn audience_of(ctx: Ctx<'_>, f: &CommunicationForm) -> Result<(Audience, String), AppError> {
    if f.audience == "famiglia" {
        let cf = CodiceFiscale::parse(f.fiscal_code.trim()).map_err(|_| {
            field(
                "fiscal_code",
                "Codice fiscale non valido: scrivi quello del genitore pagante.",
            )
        })?;
        let mut h = ctx.db.acquire().await?;
        let id = outbox::family_of_payer(&mut h.conn(), ctx.tenant.id, cf.as_str())
            .await?
            .ok_or_else(|| {
                field(
                    "fiscal_code",
                    "Nessuna famiglia ha come pagante questo codice fiscale.",
                )
            })?;
        return Ok((Audience::Family(id), format!("Famiglia di {}", cf.as_str())));
    }
    let labels = audiences(ctx).await?;
    let found = Audience::parse(&f.audience).and_then(|a| {
        labels
            .iter()
            .find(|(v, _)| *v == a.value())
            .map(|(_, l)| (a, l.clone()))
    });
    found.ok_or_else(|| field("audience", "Scegli a chi scrivere."))
}

fn check_text(f: &CommunicationForm) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let subject = f.subject.trim().chars().count();
    if !(3..=120).contains(&subject) {
        errors.push(FieldError {
            field: "subject",
            message: "L'oggetto deve avere da 3 a 120 caratteri.".into(),
        });
    }
    let body = f.body.trim().chars().count();
    if !(10..=5000).contains(&body) {
        errors.push(FieldError {
            field: "body",
            message: "Il testo deve avere da 10 a 5000 caratteri.".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Fields(errors))
    }
}

/// How many families a communication would reach, and on which channels.
pub async fn preview(ctx: Ctx<'_>, f: &CommunicationForm) -> Result<Preview, AppError> {
    let (audience, label) = audience_of(ctx, f).await?;
    let (kind, id) = audience.kind();
    let rows = {
        let mut h = ctx.db.acquire().await?;
        outbox::recipients(&mut h.conn(), ctx.tenant.id, kind, id).await?
    };
    let mut by: BTreeMap<Channel, usize> = BTreeMap::new();
    let mut undeliverable = 0;
    for r in &rows {
        match channels_for(ctx.tenant, r) {
            Ok(cs) => {
                for (c, _) in cs {
                    *by.entry(c).or_default() += 1;
                }
            }
            Err(_) => undeliverable += 1,
        }
    }
    Ok(Preview {
        audience,
        label,
        families: rows.len(),
        by_channel: by.into_iter().collect(),
        undeliverable,
    })
}

/// Sends a communication: stored, put in each family's Comunicazioni, queued on each family's
/// channels, audited. Returns its id.
pub async fn send(ctx: Ctx<'_>, f: &CommunicationForm) -> Result<i64, AppError> {
    check_text(f)?;
    let p = preview(ctx, f).await?;
    if p.families == 0 {
        return Err(field(
            "audience",
            "Nessuna famiglia da raggiungere con questa scelta.",
        ));
    }
    let (kind, id) = p.audience.kind();
    let now = ctx.now();
    let subject = f.subject.trim();
    let body = f.body.trim();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let rows = outbox::recipients(c, ctx.tenant.id, kind, id).await?;
    let actor = ctx.actor.to_string();
    let comm = outbox::insert_communication(c, ctx.tenant.id, subject, body, &p.label, &actor, now)
        .await?;
    for r in &rows {
        outbox::add_communication_family(c, ctx.tenant.id, comm, r.family_id).await?;
        let message = crate::mail::communication(&crate::mail::Communication {
            tenant: &ctx.tenant.name,
            first_name: &r.first_name,
            last_name: &r.last_name,
            subject,
            body,
        })?;
        let key = format!("communication:{comm}:{}", r.family_id);
        queue_for_family(
            c,
            ctx.tenant,
            r,
            &ToFamily {
                kind: "communication",
                key: &key,
                message: &message,
                payload: None,
                communication: Some(comm),
            },
            now,
        )
        .await?;
    }
    refettorio_db::audit::record(
        c,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::SendCommunication,
            AuditObject::new(ObjectKind::Communication, comm),
        )
        .after(serde_json::json!({
            "subject": subject,
            "audience": p.label,
            "families": rows.len(),
        }))
        .reason("Comunicazione alle famiglie"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(comm)
}

/// The office's communications, newest first, with their reports.
pub async fn list(ctx: Ctx<'_>) -> Result<Vec<Communication>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(outbox::communications(&mut h.conn(), ctx.tenant.id, 100).await?)
}

/// One communication with the state of each of its messages.
pub async fn report(ctx: Ctx<'_>, id: i64) -> Result<(Communication, Vec<Row>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let comm = outbox::communication_by_id(c, ctx.tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Comunicazione non trovata.".into()))?;
    let rows = outbox::communication_messages(c, ctx.tenant.id, id).await?;
    Ok((comm, rows))
}

/// A communication in a family's Comunicazioni.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyCommunication {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub sent_at: jiff::Timestamp,
}

/// The Comunicazioni of a guardian's families, newest first (the caller passes only the
/// user's own families).
pub async fn of_families(
    ctx: Ctx<'_>,
    families: &[FamilyId],
) -> Result<Vec<FamilyCommunication>, AppError> {
    let mut h = ctx.db.acquire().await?;
    let mut out = Vec::new();
    for f in families {
        let rows = outbox::family_communications(&mut h.conn(), ctx.tenant.id, f.get()).await?;
        out.extend(
            rows.into_iter()
                .map(|(id, subject, body, sent_at)| FamilyCommunication {
                    id,
                    subject,
                    body,
                    sent_at,
                }),
        );
    }
    // A communication to a service reaches each family once; a guardian of two families
    // reads it once.
    out.sort_by_key(|l| (std::cmp::Reverse(l.sent_at), std::cmp::Reverse(l.id)));
    out.dedup_by_key(|l| l.id);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// A payment received.

/// What a payment-received message says.
pub struct Payment<'a> {
    pub account: refettorio_domain::AccountId,
    pub amount: refettorio_domain::Cents,
    pub day: jiff::civil::Date,
    pub notice_number: &'a str,
    pub receipt_id: &'a str,
}

/// Queues the confirmation of a payment to the account's family, inside the transaction that
/// credits it (so it is written once with the credit). Its key is the receipt's.
pub async fn queue_payment_received(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    p: &Payment<'_>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let Some(family) = outbox::family_of_account(conn, tenant.id, p.account.get()).await? else {
        return Ok(());
    };
    let Some(r) = outbox::recipients(conn, tenant.id, "family", family)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let balance = ledger::balance(conn, tenant.id, p.account).await?;
    let message = crate::mail::payment_received(&crate::mail::PaymentReceived {
        tenant: &tenant.name,
        first_name: &r.first_name,
        last_name: &r.last_name,
        amount: p.amount.to_string(),
        paid_on: p.day.strftime("%d/%m/%Y").to_string(),
        notice: p.notice_number.to_string(),
        receipt: Some(p.receipt_id.to_string()),
        balance: balance.to_string(),
    })?;
    let key = format!("payment:{}", p.receipt_id);
    queue_for_family(
        conn,
        tenant,
        &r,
        &ToFamily {
            kind: "payment_received",
            key: &key,
            message: &message,
            payload: None,
            communication: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// A notice of payment just made for a family's account.
pub struct Notice<'a> {
    pub family: refettorio_domain::FamilyId,
    pub notice: &'a refettorio_domain::NoticeNumber,
    pub amount: refettorio_domain::Cents,
    pub due: jiff::civil::Date,
    pub description: &'a str,
}

/// Sends a notice of payment to the IO app of a payer who chose App IO, with its payment data
/// (notice number, amount) so that it is paid from the app; nothing on other channels (the
/// family asked for it in the personal area). Inside the transaction that makes the notice.
pub async fn queue_payment_notice(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    n: &Notice<'_>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    if !tenant.settings.messaging.app_io.enabled() {
        return Ok(());
    }
    let Some(r) = outbox::recipients(conn, tenant.id, "family", n.family.get())
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let Ok(cf) = CodiceFiscale::parse(&r.fiscal_code) else {
        return Ok(());
    };
    if !r.notify_app_io {
        return Ok(());
    }
    let (subject, markdown) = crate::mail::payment_notice(&crate::mail::PaymentNotice {
        first_name: &r.first_name,
        last_name: &r.last_name,
        description: n.description,
        amount: n.amount.to_string(),
        due: n.due.strftime("%d/%m/%Y").to_string(),
        notice: n.notice.as_str().to_string(),
    })?;
    let payload = Payload {
        payment_data: Some(refettorio_domain::messaging::PaymentData::new(
            n.notice, n.amount,
        )),
    };
    let payload = serde_json::to_string(&payload).unwrap_or_default();
    let key = format!("notice:{}", n.notice.as_str());
    outbox::enqueue(
        conn,
        tenant.id,
        &Queued {
            kind: "payment_notice",
            channel: Channel::AppIo.as_str(),
            recipient: cf.as_str(),
            content: &outbox::Content {
                subject,
                text: markdown,
                html: None,
            },
            idempotency_key: &key,
            payload: Some(&payload),
            family: Some(n.family),
            communication: None,
            failed: None,
        },
        now,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A closure or strike that cancels meals: the families it touches are told at once.

/// The families with meals in a closure's range and scope, by service (computed before the
/// closure is entered, while the meals are still there).
pub async fn closure_families(
    ctx: Ctx<'_>,
    closure: &refettorio_domain::Closure,
) -> Result<BTreeMap<i64, std::collections::BTreeSet<i64>>, AppError> {
    let tenant = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let mut out: BTreeMap<i64, std::collections::BTreeSet<i64>> = BTreeMap::new();
    let mut d = closure.from;
    while d <= closure.to {
        if let Some(cd) = crate::close::canteen_day(c, tenant, d).await? {
            let ids: Vec<refettorio_domain::ClassId> = cd
                .classes
                .iter()
                .filter(|k| closure.scope.applies_to(k.school_id, k.id))
                .map(|k| k.id)
                .collect();
            if !ids.is_empty() {
                let closed = close::is_closed(c, tenant.id, d).await?;
                let fams = kitchen::families_of_meals(c, tenant.id, cd.service.id, d, &ids, closed)
                    .await?;
                out.entry(cd.service.id.get())
                    .or_default()
                    .extend(fams.into_iter().map(|f| f.get()));
            }
        }
        d = d.tomorrow()?;
    }
    Ok(out)
}

/// Queues the notice of a closure to each family it touches (`families` from
/// [`closure_families`]). Returns how many families were written to.
pub async fn notify_closure(
    ctx: Ctx<'_>,
    closure_id: refettorio_domain::ClosureId,
    closure: &refettorio_domain::Closure,
    families: &BTreeMap<i64, std::collections::BTreeSet<i64>>,
) -> Result<usize, AppError> {
    let (tenant, now) = (ctx.tenant, ctx.now());
    use refettorio_domain::{ClosureKind, ClosureScope, day_it};
    let (what, because) = match closure.kind {
        ClosureKind::Strike => ("Sciopero", "A causa di uno sciopero"),
        ClosureKind::Trip => ("Gita", "Per una gita scolastica"),
        ClosureKind::Holiday => ("Festività", "Per una festività"),
        ClosureKind::Break => ("Vacanza", "Per le vacanze"),
        ClosureKind::SchoolClosed => ("Scuola chiusa", "Per la chiusura della scuola"),
        ClosureKind::Other => ("Chiusura", "Per una chiusura del servizio"),
    };
    let period = if closure.from == closure.to {
        day_it(closure.from)
    } else {
        format!(
            "dal {} al {}",
            closure.from.strftime("%d/%m/%Y"),
            closure.to.strftime("%d/%m/%Y")
        )
    };
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let (school, class, place) = match closure.scope {
        ClosureScope::Tenant => (None, None, String::new()),
        ClosureScope::School(s) => {
            let name = school::school(c, tenant.id, s)
                .await?
                .map(|s| s.name)
                .unwrap_or_default();
            (Some(s.get()), None, name)
        }
        ClosureScope::Class(k) => {
            let class = school::class(c, tenant.id, k).await?;
            let name = match &class {
                Some(cl) => {
                    let s = school::school(c, tenant.id, cl.school_id)
                        .await?
                        .map(|s| s.name)
                        .unwrap_or_default();
                    format!("classe {} – {s}", cl.name)
                }
                None => String::new(),
            };
            (None, Some(k.get()), name)
        }
    };
    let mut n = 0;
    for (service, fams) in families {
        for family in fams {
            let Some(r) = outbox::recipients(c, tenant.id, "family", *family)
                .await?
                .into_iter()
                .next()
            else {
                continue;
            };
            let pupils =
                outbox::pupils_touched(c, tenant.id, *family, *service, school, class).await?;
            let pupils = match pupils.split_last() {
                None => "i tuoi figli".to_string(),
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} e {last}", rest.join(", ")),
            };
            let message = crate::mail::closure(&crate::mail::ClosureNotice {
                tenant: &tenant.name,
                first_name: &r.first_name,
                last_name: &r.last_name,
                what,
                because,
                period: period.clone(),
                place: place.clone(),
                pupils,
                reason: closure.reason.trim(),
            })?;
            let key = format!("closure:{}:{family}", closure_id.get());
            queue_for_family(
                c,
                tenant,
                &r,
                &ToFamily {
                    kind: "closure",
                    key: &key,
                    message: &message,
                    payload: None,
                    communication: None,
                },
                now,
            )
            .await?;
            n += 1;
        }
    }
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_values_round_trip() {
        for a in [
            Audience::Service(1),
            Audience::School(2),
            Audience::Class(3),
            Audience::Family(4),
        ] {
            assert_eq!(Audience::parse(&a.value()), Some(a));
        }
        assert_eq!(Audience::parse("classe:x"), None);
        assert_eq!(Audience::parse("altro:1"), None);
    }
}
