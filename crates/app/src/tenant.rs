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
