//! The municipality (tenant) as the other layers see it, and finding it for a request.

pub use refettorio_db::registry::tenant::{Tenant, TenantSettings};

use crate::{AppError, Installation};

/// The municipality served at `/t/<slug>/` (or `<slug>.<base_domain>`), if any.
pub async fn by_slug(inst: Installation<'_>, slug: &str) -> Result<Option<Tenant>, AppError> {
    let mut h = inst.db.acquire().await?;
    Ok(refettorio_db::registry::tenant::by_slug(&mut h.conn(), slug).await?)
}

/// Every municipality of the installation, for the installation's home page.
pub async fn list(inst: Installation<'_>) -> Result<Vec<Tenant>, AppError> {
    let mut h = inst.db.acquire().await?;
    Ok(refettorio_db::registry::tenant::list(&mut h.conn()).await?)
}

/// A write-only secret of a form (a gateway's token, an API key, a client secret): one line of
/// at most 2000 characters; `field`'s error otherwise.
pub fn check_secret(field: &'static str, value: &str) -> Option<crate::FieldError> {
    (value.len() > 2000 || value.chars().any(char::is_control)).then(|| crate::FieldError {
        field,
        message: "Valore non valido: una sola riga, al massimo 2000 caratteri.".into(),
    })
}

/// What a form did to a municipality's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretChange {
    Removed,
    Changed,
}

/// Applies a form's secret field `name` (in `tenant_secret`): `clear` removes it, a value
/// replaces it, an empty value keeps it. Says what changed, for the audit log (never the
/// value).
pub async fn apply_secret(
    c: &mut refettorio_db::Conn<'_>,
    tenant: refettorio_domain::TenantId,
    name: &str,
    value: &str,
    clear: bool,
    now: jiff::Timestamp,
) -> Result<Option<SecretChange>, AppError> {
    use refettorio_db::outbox::set_secret;
    let value = value.trim();
    if clear {
        set_secret(c, tenant, name, None, now).await?;
        Ok(Some(SecretChange::Removed))
    } else if !value.is_empty() {
        set_secret(c, tenant, name, Some(value), now).await?;
        Ok(Some(SecretChange::Changed))
    } else {
        Ok(None)
    }
}
