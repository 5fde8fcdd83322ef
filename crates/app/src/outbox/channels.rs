//! The municipality's channels page: the SMS gateway and App IO. The secrets (the gateway's
//! token or password, IO's API key) are write-only: the page says whether one is set, never
//! shows it, and the audit log records only that it changed.

use refettorio_db::outbox;
use refettorio_db::registry::tenant;
use refettorio_domain::messaging::{
    AppIoSettings, BodyFormat, MessagingSettings, SmsAuth, SmsGateway,
};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};

use super::{appio, sms};
use crate::tenant::SecretChange;
use crate::{AppError, Ctx, FieldError};

/// What the page shows: the settings and which secrets are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsView {
    pub settings: MessagingSettings,
    pub sms_secret_set: bool,
    pub io_key_set: bool,
}

/// The municipality's channels as the page shows them.
pub async fn view(ctx: Ctx<'_>) -> Result<ChannelsView, AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    Ok(ChannelsView {
        settings: ctx.tenant.settings.messaging.clone(),
        sms_secret_set: outbox::secret(c, ctx.tenant.id, sms::SECRET)
            .await?
            .is_some(),
        io_key_set: outbox::secret(c, ctx.tenant.id, appio::SECRET)
            .await?
            .is_some(),
    })
}

/// The form as typed. An empty secret keeps the one set; `*_clear` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelsForm {
    pub sms_url: String,
    pub sms_auth: String,
    pub sms_auth_header: String,
    pub sms_basic_user: String,
    pub sms_secret: String,
    pub sms_secret_clear: bool,
    pub sms_recipient_field: String,
    pub sms_text_field: String,
    pub sms_sender_field: String,
    pub sms_sender: String,
    pub sms_body: String,
    pub io_service_id: String,
    pub io_base_url: String,
    pub io_key: String,
    pub io_key_clear: bool,
}

impl ChannelsForm {
    /// The form filled with the current settings (secrets empty).
    pub fn of(s: &MessagingSettings) -> ChannelsForm {
        ChannelsForm {
            sms_url: s.sms.url.clone(),
            sms_auth: s.sms.auth.as_str().into(),
            sms_auth_header: s.sms.auth_header.clone(),
            sms_basic_user: s.sms.basic_user.clone(),
            sms_recipient_field: s.sms.recipient_field.clone(),
            sms_text_field: s.sms.text_field.clone(),
            sms_sender_field: s.sms.sender_field.clone(),
            sms_sender: s.sms.sender.clone(),
            sms_body: s.sms.body.as_str().into(),
            io_service_id: s.app_io.service_id.clone(),
            io_base_url: s.app_io.base_url.clone(),
            ..ChannelsForm::default()
        }
    }
}

/// Checks the form: the settings, or every field's error.
pub fn check(f: &ChannelsForm) -> Result<MessagingSettings, AppError> {
    let mut errors = Vec::new();
    let auth = SmsAuth::parse(f.sms_auth.trim()).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "sms_auth",
            message: "Scegli un tipo di autenticazione.".into(),
        });
        SmsAuth::None
    });
    let body = BodyFormat::parse(f.sms_body.trim()).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "sms_body",
            message: "Scegli JSON o modulo.".into(),
        });
        BodyFormat::Json
    });
    let s = MessagingSettings {
        sms: SmsGateway {
            url: f.sms_url.trim().into(),
            auth,
            auth_header: f.sms_auth_header.trim().into(),
            basic_user: f.sms_basic_user.trim().into(),
            recipient_field: f.sms_recipient_field.trim().into(),
            text_field: f.sms_text_field.trim().into(),
            sender_field: f.sms_sender_field.trim().into(),
            sender: f.sms_sender.trim().into(),
            body,
        },
        app_io: AppIoSettings {
            service_id: f.io_service_id.trim().into(),
            base_url: if f.io_base_url.trim().is_empty() {
                AppIoSettings::default().base_url
            } else {
                f.io_base_url.trim().trim_end_matches('/').into()
            },
        },
    };
    for (field, message) in s.sms.check().into_iter().chain(s.app_io.check()) {
        errors.push(FieldError { field, message });
    }
    for (field, secret) in [("sms_secret", &f.sms_secret), ("io_key", &f.io_key)] {
        errors.extend(crate::tenant::check_secret(field, secret));
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(AppError::Fields(errors))
    }
}

/// Saves the channels, audited without the secrets (only "changed").
pub async fn save(ctx: Ctx<'_>, f: &ChannelsForm) -> Result<(), AppError> {
    let messaging = check(f)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    // The settings as stored now (another page may have changed others since the request).
    let current = tenant::by_id(c, ctx.tenant.id)
        .await?
        .ok_or_else(|| AppError::NotFound("Comune non trovato.".into()))?;
    // The settings only: the secrets are never written to the audit log, only that they changed.
    let before = serde_json::to_value(&current.settings.messaging).unwrap_or_default();
    let after = serde_json::to_value(&messaging).unwrap_or_default();
    let mut changed_secrets = Vec::new();
    for (name, value, clear, removed, changed) in [
        (
            sms::SECRET,
            f.sms_secret.trim(),
            f.sms_secret_clear,
            "segreto del gateway SMS rimosso",
            "segreto del gateway SMS cambiato",
        ),
        (
            appio::SECRET,
            f.io_key.trim(),
            f.io_key_clear,
            "chiave API di App IO rimossa",
            "chiave API di App IO cambiata",
        ),
    ] {
        match crate::tenant::apply_secret(c, ctx.tenant.id, name, value, clear, now).await? {
            Some(SecretChange::Removed) => changed_secrets.push(removed),
            Some(SecretChange::Changed) => changed_secrets.push(changed),
            None => {}
        }
    }
    if messaging == current.settings.messaging && changed_secrets.is_empty() {
        return Ok(());
    }
    let mut settings = current.settings.clone();
    settings.messaging = messaging;
    tenant::set_settings(c, ctx.tenant.id, &settings).await?;
    let reason = if changed_secrets.is_empty() {
        "Canali di comunicazione".to_string()
    } else {
        format!("Canali di comunicazione ({})", changed_secrets.join(", "))
    };
    refettorio_db::audit::record(
        c,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::ChannelSettings,
            AuditObject::new(ObjectKind::Tenant, ctx.tenant.id.get()),
        )
        .before(before)
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
