//! Municipalities (tenants) of the installation.

use jiff::civil::Time;
use refettorio_domain::{BookingRules, EnteFiscalCode, PagoPaSettings, SchoolKind, Slug, TenantId};
use serde::{Deserialize, Serialize};

use super::corrupt;
use crate::{Conn, Result, micros, on_conn};

/// Per-tenant settings that have sensible defaults; stored as JSON so that adding one needs
/// no migration. Unknown keys are ignored, missing ones take the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// E-mail and phone of the school office, shown to families.
    pub office_email: Option<String>,
    pub office_phone: Option<String>,
    /// The name e-mails come from (`From: <name> <mail_from>`); unset: the municipality's name.
    pub mail_from_name: Option<String>,
    /// Where families' answers to e-mails go (`Reply-To`); unset: the office's e-mail.
    pub mail_reply_to: Option<String>,
    /// Citizens may log in with local credentials (off by default: SPID/CIE).
    pub citizen_local_login: bool,
    /// How many days ahead families may change meals.
    pub booking_days_ahead: u16,
    /// Whether families may ask for bland meals, and for how many consecutive canteen days.
    pub bland_enabled: bool,
    pub bland_max_consecutive: Option<u16>,
    /// The longest from–to range of one request, in days.
    pub max_range_days: u16,
    /// Bland meals cost nothing (by default they cost as a standard meal).
    pub bland_meal_free: bool,
    /// Payers are warned when the balance pays for fewer than this many days of meals.
    pub low_balance_meals: u32,
    /// A different cut-off for some school kinds (`"infanzia" = "09:00"`).
    pub cutoff_by_school_kind: std::collections::BTreeMap<String, String>,
    /// pagoPA: station, accounts, Checkout, sandbox or live.
    pub pagopa: PagoPaSettings,
    /// SMS gateway and App IO (their secrets are stored apart: `db::outbox::secret`).
    pub messaging: refettorio_domain::messaging::MessagingSettings,
}

impl Default for TenantSettings {
    fn default() -> Self {
        let rules = BookingRules::default();
        TenantSettings {
            office_email: None,
            office_phone: None,
            mail_from_name: None,
            mail_reply_to: None,
            citizen_local_login: false,
            booking_days_ahead: rules.days_ahead,
            bland_enabled: rules.bland_enabled,
            bland_max_consecutive: rules.bland_max_consecutive,
            max_range_days: rules.max_range_days,
            bland_meal_free: false,
            low_balance_meals: 3,
            cutoff_by_school_kind: Default::default(),
            pagopa: PagoPaSettings::default(),
            messaging: Default::default(),
        }
    }
}

impl Tenant {
    /// The cut-off hour for a kind of school (the municipality's, unless overridden).
    pub fn cutoff_for(&self, kind: SchoolKind) -> Time {
        self.settings
            .cutoff_by_school_kind
            .get(kind.as_str())
            .and_then(|t| t.parse::<Time>().ok())
            .unwrap_or(self.cutoff_time)
    }

    /// The booking rules that apply to a pupil of a kind of school.
    pub fn booking_rules(&self, kind: SchoolKind) -> BookingRules {
        BookingRules {
            cutoff: self.cutoff_for(kind),
            days_ahead: self.settings.booking_days_ahead,
            bland_enabled: self.settings.bland_enabled,
            bland_max_consecutive: self.settings.bland_max_consecutive,
            max_range_days: self.settings.max_range_days,
        }
    }

    /// The latest cut-off of the day over all kinds of school: the close runs after it.
    pub fn latest_cutoff(&self) -> Time {
        SchoolKind::ALL
            .iter()
            .map(|k| self.cutoff_for(*k))
            .max()
            .unwrap_or(self.cutoff_time)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub name: String,
    pub fiscal_code: EnteFiscalCode,
    pub timezone: jiff::tz::TimeZone,
    pub cutoff_time: Time,
    /// The patron saint's day (month, day) and name, a local holiday.
    pub patron_day: Option<(i8, i8)>,
    pub patron_name: Option<String>,
    pub settings: TenantSettings,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: Slug,
    pub name: String,
    pub fiscal_code: EnteFiscalCode,
    pub timezone: String,
    pub cutoff_time: Time,
    pub patron_day: Option<(i8, i8)>,
    pub patron_name: Option<String>,
    pub settings: TenantSettings,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    fiscal_code: String,
    timezone: String,
    cutoff_time: String,
    patron_month: Option<i32>,
    patron_day: Option<i32>,
    patron_name: Option<String>,
    settings: String,
}

impl TryFrom<Row> for Tenant {
    type Error = crate::DbError;
    fn try_from(r: Row) -> Result<Tenant> {
        let patron_day = match (r.patron_month, r.patron_day) {
            (Some(m), Some(d)) => Some((
                i8::try_from(m).map_err(corrupt("patron month"))?,
                i8::try_from(d).map_err(corrupt("patron day"))?,
            )),
            _ => None,
        };
        Ok(Tenant {
            id: TenantId(r.id),
            slug: Slug::parse(&r.slug).map_err(corrupt("tenant slug"))?,
            name: r.name,
            fiscal_code: EnteFiscalCode::parse(&r.fiscal_code)
                .map_err(corrupt("tenant fiscal code"))?,
            timezone: jiff::tz::TimeZone::get(&r.timezone).map_err(corrupt("tenant time zone"))?,
            cutoff_time: r
                .cutoff_time
                .parse()
                .map_err(corrupt("tenant cut-off time"))?,
            patron_day,
            patron_name: r.patron_name,
            settings: serde_json::from_str(&r.settings).map_err(corrupt("tenant settings"))?,
        })
    }
}

macro_rules! columns {
    () => {
        "id, slug, name, fiscal_code, timezone, cutoff_time, patron_month, patron_day, \
                       patron_name, settings"
    };
}

/// Inserts a tenant; `None` when the slug is already taken (nothing written).
pub async fn insert(
    conn: &mut Conn<'_>,
    t: &NewTenant,
    now: jiff::Timestamp,
) -> Result<Option<TenantId>> {
    let settings = serde_json::to_string(&t.settings).map_err(corrupt("tenant settings"))?;
    let cutoff = t.cutoff_time.strftime("%H:%M").to_string();
    let (pm, pd) = match t.patron_day {
        Some((m, d)) => (Some(i32::from(m)), Some(i32::from(d))),
        None => (None, None),
    };
    let sql = "INSERT INTO tenant (slug, name, fiscal_code, timezone, cutoff_time, patron_month, \
               patron_day, patron_name, settings, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (slug) DO NOTHING RETURNING id";
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(t.slug.as_str())
            .bind(&t.name)
            .bind(t.fiscal_code.as_str())
            .bind(&t.timezone)
            .bind(&cutoff)
            .bind(pm)
            .bind(pd)
            .bind(&t.patron_name)
            .bind(&settings)
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.map(TenantId))
}

pub async fn by_slug(conn: &mut Conn<'_>, slug: &str) -> Result<Option<Tenant>> {
    let sql = concat!("SELECT ", columns!(), " FROM tenant WHERE slug = $1");
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(slug)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Tenant::try_from).transpose()
}

/// The tenant whose fiscal code is `fiscal_code` (pagoPA's idPA routes the station's calls).
pub async fn by_fiscal_code(conn: &mut Conn<'_>, fiscal_code: &str) -> Result<Option<Tenant>> {
    let sql = concat!("SELECT ", columns!(), " FROM tenant WHERE fiscal_code = $1");
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(fiscal_code)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Tenant::try_from).transpose()
}

/// Replaces a tenant's settings.
pub async fn set_settings(
    conn: &mut Conn<'_>,
    id: TenantId,
    settings: &TenantSettings,
) -> Result<()> {
    let json = serde_json::to_string(settings).map_err(corrupt("tenant settings"))?;
    let sql = "UPDATE tenant SET settings = $1 WHERE id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(&json)
            .bind(id.get())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Changes the municipality's cut-off hour.
pub async fn set_cutoff_time(conn: &mut Conn<'_>, id: TenantId, cutoff: Time) -> Result<()> {
    let text = cutoff.strftime("%H:%M").to_string();
    let sql = "UPDATE tenant SET cutoff_time = $1 WHERE id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(&text)
            .bind(id.get())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn by_id(conn: &mut Conn<'_>, id: TenantId) -> Result<Option<Tenant>> {
    let sql = concat!("SELECT ", columns!(), " FROM tenant WHERE id = $1");
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Tenant::try_from).transpose()
}

pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<Tenant>> {
    let sql = concat!("SELECT ", columns!(), " FROM tenant ORDER BY name");
    let rows: Vec<Row> = on_conn!(conn, |c| sqlx::query_as(sql).fetch_all(&mut *c).await?);
    rows.into_iter().map(Tenant::try_from).collect()
}
