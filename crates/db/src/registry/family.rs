//! Guardians, families (one payer each, other guardians delegates) and pupils.

use jiff::civil::Date;
use refettorio_domain::{Cents, CodiceFiscale, FamilyId, GuardianId, PupilId, TenantId};

use super::corrupt;
use crate::{Conn, Result, SqlDate, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardian {
    pub id: GuardianId,
    pub fiscal_code: CodiceFiscale,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub resident: bool,
}

#[derive(Debug, Clone)]
pub struct NewGuardian {
    pub fiscal_code: CodiceFiscale,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub resident: bool,
}

#[derive(sqlx::FromRow)]
struct GuardianRow {
    id: i64,
    fiscal_code: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    address: String,
    resident: bool,
}

impl TryFrom<GuardianRow> for Guardian {
    type Error = crate::DbError;
    fn try_from(r: GuardianRow) -> Result<Guardian> {
        Ok(Guardian {
            id: GuardianId(r.id),
            fiscal_code: CodiceFiscale::parse(&r.fiscal_code)
                .map_err(corrupt("guardian fiscal code"))?,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            phone: r.phone,
            address: r.address,
            resident: r.resident,
        })
    }
}

macro_rules! guardian_columns {
    () => {
        "id, fiscal_code, first_name, last_name, email, phone, address, resident"
    };
}

/// Inserts a guardian; `password_hash` (argon2 PHC) gives local credentials.
pub async fn insert_guardian(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    g: &NewGuardian,
    password_hash: Option<&str>,
) -> Result<GuardianId> {
    let sql = "INSERT INTO guardian (tenant_id, fiscal_code, first_name, last_name, email, phone, address, \
               resident, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(g.fiscal_code.as_str())
            .bind(&g.first_name)
            .bind(&g.last_name)
            .bind(&g.email)
            .bind(&g.phone)
            .bind(&g.address)
            .bind(g.resident)
            .bind(password_hash)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(GuardianId(id))
}

pub async fn guardian(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: GuardianId,
) -> Result<Option<Guardian>> {
    let sql = concat!(
        "SELECT ",
        guardian_columns!(),
        " FROM guardian WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<GuardianRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Guardian::try_from).transpose()
}

/// Finds a guardian by fiscal code (as stored, upper-case).
pub async fn guardian_by_fiscal_code(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    cf: &CodiceFiscale,
) -> Result<Option<Guardian>> {
    let sql = concat!(
        "SELECT ",
        guardian_columns!(),
        " FROM guardian WHERE tenant_id = $1 AND fiscal_code = $2"
    );
    let row: Option<GuardianRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(cf.as_str())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Guardian::try_from).transpose()
}

pub async fn guardians(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Guardian>> {
    let sql = concat!(
        "SELECT ",
        guardian_columns!(),
        " FROM guardian WHERE tenant_id = $1 ORDER BY last_name, first_name, id"
    );
    let rows: Vec<GuardianRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Guardian::try_from).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: FamilyId,
    /// The intestatario: the one guardian who holds the account and pays.
    pub payer_id: GuardianId,
    /// The family's ISEE, when declared ("non dichiarato" = top band).
    pub isee: Option<Cents>,
}

#[derive(sqlx::FromRow)]
struct FamilyRow {
    id: i64,
    payer_id: i64,
    isee_cents: Option<i64>,
}

impl From<FamilyRow> for Family {
    fn from(r: FamilyRow) -> Self {
        Family {
            id: FamilyId(r.id),
            payer_id: GuardianId(r.payer_id),
            isee: r.isee_cents.map(Cents),
        }
    }
}

pub async fn insert_family(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    payer: GuardianId,
    isee: Option<Cents>,
) -> Result<FamilyId> {
    let sql =
        "INSERT INTO family (tenant_id, payer_id, isee_cents) VALUES ($1, $2, $3) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(payer.get())
            .bind(isee.map(Cents::get))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(FamilyId(id))
}

pub async fn family(conn: &mut Conn<'_>, tenant: TenantId, id: FamilyId) -> Result<Option<Family>> {
    let sql = "SELECT id, payer_id, isee_cents FROM family WHERE tenant_id = $1 AND id = $2";
    let row: Option<FamilyRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(Family::from))
}

pub async fn families(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Family>> {
    let sql = "SELECT id, payer_id, isee_cents FROM family WHERE tenant_id = $1 ORDER BY id";
    let rows: Vec<FamilyRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows.into_iter().map(Family::from).collect())
}

pub async fn add_delegate(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
    guardian: GuardianId,
    can_see_payments: bool,
) -> Result<()> {
    let sql = "INSERT INTO family_delegate (tenant_id, family_id, guardian_id, can_see_payments) \
               VALUES ($1, $2, $3, $4)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(family.get())
            .bind(guardian.get())
            .bind(can_see_payments)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// How a guardian is linked to a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Payer,
    Delegate { can_see_payments: bool },
}

/// The families a guardian belongs to, as payer or delegate.
pub async fn families_of_guardian(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
) -> Result<Vec<(Family, Link)>> {
    // Two indexed lookups (as payer, as delegate) rather than one OR that scans every family.
    let sql = "SELECT id, payer_id, isee_cents, delegate_payments FROM ( \
                 SELECT f.id, f.payer_id, f.isee_cents, CAST(NULL AS BOOLEAN) AS delegate_payments \
                 FROM family f WHERE f.tenant_id = $1 AND f.payer_id = $2 \
                 UNION ALL \
                 SELECT f.id, f.payer_id, f.isee_cents, d.can_see_payments AS delegate_payments \
                 FROM family_delegate d JOIN family f ON f.tenant_id = d.tenant_id AND f.id = d.family_id \
                 WHERE d.tenant_id = $1 AND d.guardian_id = $2 AND f.payer_id <> $2 \
               ) x ORDER BY id";
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        family: FamilyRow,
        delegate_payments: Option<bool>,
    }
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let family = Family::from(r.family);
            let link = if family.payer_id == guardian {
                Link::Payer
            } else {
                Link::Delegate {
                    can_see_payments: r.delegate_payments.unwrap_or(false),
                }
            };
            (family, link)
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pupil {
    pub id: PupilId,
    pub family_id: FamilyId,
    pub fiscal_code: Option<CodiceFiscale>,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
}

#[derive(Debug, Clone)]
pub struct NewPupil {
    pub family_id: FamilyId,
    pub fiscal_code: Option<CodiceFiscale>,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
}

#[derive(sqlx::FromRow)]
struct PupilRow {
    id: i64,
    family_id: i64,
    fiscal_code: Option<String>,
    first_name: String,
    last_name: String,
    birth_date: SqlDate,
}

impl TryFrom<PupilRow> for Pupil {
    type Error = crate::DbError;
    fn try_from(r: PupilRow) -> Result<Pupil> {
        Ok(Pupil {
            id: PupilId(r.id),
            family_id: FamilyId(r.family_id),
            fiscal_code: r
                .fiscal_code
                .as_deref()
                .map(CodiceFiscale::parse)
                .transpose()
                .map_err(corrupt("pupil fiscal code"))?,
            first_name: r.first_name,
            last_name: r.last_name,
            birth_date: r.birth_date.0,
        })
    }
}

macro_rules! pupil_columns {
    () => {
        "id, family_id, fiscal_code, first_name, last_name, birth_date"
    };
}

pub async fn insert_pupil(conn: &mut Conn<'_>, tenant: TenantId, p: &NewPupil) -> Result<PupilId> {
    let sql = "INSERT INTO pupil (tenant_id, family_id, fiscal_code, first_name, last_name, birth_date) \
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(p.family_id.get())
            .bind(p.fiscal_code.as_ref().map(CodiceFiscale::as_str))
            .bind(&p.first_name)
            .bind(&p.last_name)
            .bind(SqlDate(p.birth_date))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(PupilId(id))
}

pub async fn pupil(conn: &mut Conn<'_>, tenant: TenantId, id: PupilId) -> Result<Option<Pupil>> {
    let sql = concat!(
        "SELECT ",
        pupil_columns!(),
        " FROM pupil WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<PupilRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Pupil::try_from).transpose()
}

pub async fn pupils_of_family(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
) -> Result<Vec<Pupil>> {
    let sql = concat!(
        "SELECT ",
        pupil_columns!(),
        " FROM pupil WHERE tenant_id = $1 AND family_id = $2 ORDER BY birth_date, id"
    );
    let rows: Vec<PupilRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(family.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Pupil::try_from).collect()
}

pub async fn pupils(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Pupil>> {
    let sql = concat!(
        "SELECT ",
        pupil_columns!(),
        " FROM pupil WHERE tenant_id = $1 ORDER BY last_name, first_name, id"
    );
    let rows: Vec<PupilRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Pupil::try_from).collect()
}

/// What the office's search looks for, prepared by the caller: a lower-case name prefix (of
/// "surname name" or "name surname"), an exact fiscal code and card codes.
#[derive(Debug, Clone, Default)]
pub struct PeopleQuery {
    /// Lower case, spaces collapsed; empty = no name search.
    pub name_prefix: String,
    /// An exact fiscal code (upper case), of a guardian or a pupil.
    pub fiscal_code: Option<String>,
    /// Card codes to match exactly (as typed and upper case).
    pub card_codes: Vec<String>,
}

/// The families (at most `limit`, by payer name) with a pupil or a guardian (payer or delegate)
/// whose name starts with the prefix or whose fiscal code is the one given, or with an
/// enrolment of that card code. Every branch is an index range or look-up: the name indexes on
/// `lower(surname || ' ' || name)` and `lower(name || ' ' || surname)` (byte order), the unique
/// fiscal codes and card codes.
pub async fn search_families(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    q: &PeopleQuery,
    limit: u32,
) -> Result<Vec<FamilyId>> {
    let collate = match conn {
        Conn::Postgres(_) => " COLLATE \"C\"",
        Conn::Sqlite(_) => "",
    };
    // Every branch is always there (one statement, one plan per backend); a part not asked for
    // is given values that match nothing: an empty range, an empty code.
    let mut pupils = Vec::new();
    let mut guardians = Vec::new();
    for expr in [
        "lower(last_name || ' ' || first_name)",
        "lower(first_name || ' ' || last_name)",
    ] {
        let range = format!("{expr}{collate} >= $2 AND {expr}{collate} < $3");
        pupils.push(format!(
            "SELECT family_id AS fid FROM pupil WHERE tenant_id = $1 AND {range}"
        ));
        guardians.push(format!(
            "SELECT id AS gid FROM guardian WHERE tenant_id = $1 AND {range}"
        ));
    }
    pupils.push(
        "SELECT family_id AS fid FROM pupil WHERE tenant_id = $1 AND fiscal_code = $4".into(),
    );
    guardians
        .push("SELECT id AS gid FROM guardian WHERE tenant_id = $1 AND fiscal_code = $4".into());
    pupils.push(
        "SELECT p.family_id AS fid FROM enrolment e JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
         WHERE e.tenant_id = $1 AND e.card_code IN ($5, $6)"
            .into(),
    );
    // Guardians give the families they pay for or are delegates of.
    let g = guardians.join(" UNION ");
    pupils.push(format!(
        "SELECT f.id AS fid FROM family f WHERE f.tenant_id = $1 AND f.payer_id IN ({g})"
    ));
    pupils.push(format!(
        "SELECT d.family_id AS fid FROM family_delegate d WHERE d.tenant_id = $1 AND d.guardian_id IN ({g})"
    ));
    let sql = format!(
        "SELECT f.id FROM family f JOIN guardian g ON g.tenant_id = f.tenant_id AND g.id = f.payer_id \
         WHERE f.tenant_id = $1 AND f.id IN ({}) ORDER BY g.last_name, g.first_name, f.id LIMIT $7",
        pupils.join(" UNION ")
    );
    let (lo, hi) = if q.name_prefix.is_empty() {
        (String::new(), String::new())
    } else {
        (
            q.name_prefix.clone(),
            format!("{}\u{10FFFF}", q.name_prefix),
        )
    };
    let cf = q.fiscal_code.clone().unwrap_or_default();
    let card = |i: usize| {
        q.card_codes
            .get(i)
            .or(q.card_codes.first())
            .cloned()
            .unwrap_or_default()
    };
    let ids: Vec<i64> = on_conn!(conn, |c| {
        // Built only from constant parts (the collation of each backend); values are bound.
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant.get())
            .bind(&lo)
            .bind(&hi)
            .bind(&cf)
            .bind(card(0))
            .bind(card(1))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(ids.into_iter().map(FamilyId).collect())
}

/// Rewrites a guardian's data (not the credentials).
pub async fn update_guardian(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: GuardianId,
    g: &NewGuardian,
) -> Result<bool> {
    let sql = "UPDATE guardian SET fiscal_code = $3, first_name = $4, last_name = $5, email = $6, phone = $7, \
               address = $8, resident = $9 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(g.fiscal_code.as_str())
            .bind(&g.first_name)
            .bind(&g.last_name)
            .bind(&g.email)
            .bind(&g.phone)
            .bind(&g.address)
            .bind(g.resident)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Rewrites a pupil's data (its family stays).
pub async fn update_pupil(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PupilId,
    p: &NewPupil,
) -> Result<bool> {
    let sql = "UPDATE pupil SET fiscal_code = $3, first_name = $4, last_name = $5, birth_date = $6 \
               WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(p.fiscal_code.as_ref().map(CodiceFiscale::as_str))
            .bind(&p.first_name)
            .bind(&p.last_name)
            .bind(SqlDate(p.birth_date))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The delegates of a family (not the payer), with whether each may see payments, by name.
pub async fn delegates(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
) -> Result<Vec<(Guardian, bool)>> {
    let sql = "SELECT g.id, g.fiscal_code, g.first_name, g.last_name, g.email, g.phone, g.address, g.resident, \
               d.can_see_payments FROM family_delegate d \
               JOIN guardian g ON g.tenant_id = d.tenant_id AND g.id = d.guardian_id \
               JOIN family f ON f.tenant_id = d.tenant_id AND f.id = d.family_id \
               WHERE d.tenant_id = $1 AND d.family_id = $2 AND g.id <> f.payer_id \
               ORDER BY g.last_name, g.first_name, g.id";
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        guardian: GuardianRow,
        can_see_payments: bool,
    }
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(family.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|r| Ok((Guardian::try_from(r.guardian)?, r.can_see_payments)))
        .collect()
}

pub async fn remove_delegate(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
    guardian: GuardianId,
) -> Result<bool> {
    let sql =
        "DELETE FROM family_delegate WHERE tenant_id = $1 AND family_id = $2 AND guardian_id = $3";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(family.get())
            .bind(guardian.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Makes `guardian` the payer of `family`. The family's accounts stay the family's.
pub async fn set_payer(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
    guardian: GuardianId,
) -> Result<bool> {
    let sql = "UPDATE family SET payer_id = $3 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(family.get())
            .bind(guardian.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
