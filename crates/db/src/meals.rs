//! Bookings, the daily close, the ledger and the kitchen's numbers.

use jiff::civil::Date;
use refettorio_domain::{
    AccountId, Cents, ClassId, DietId, EnrolmentId, EntryKind, FamilyId, MealChoice, PupilId,
    SchoolId, ServiceId, TenantId,
};

use crate::registry::{corrupt, parse_enum};
use crate::{Conn, Result, SqlDate, micros, on_conn};

/// Writes a family's (or staff's) choice for one day of an enrolment.
pub async fn set_booking(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    enrolment: EnrolmentId,
    day: Date,
    choice: MealChoice,
    now: jiff::Timestamp,
    by: &str,
) -> Result<()> {
    let sql = "INSERT INTO booking (tenant_id, enrolment_id, day, choice, changed_at, changed_by) \
               VALUES ($1, $2, $3, $4, $5, $6) \
               ON CONFLICT (tenant_id, enrolment_id, day) DO UPDATE \
               SET choice = excluded.choice, changed_at = excluded.changed_at, changed_by = excluded.changed_by";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(enrolment.get())
            .bind(SqlDate(day))
            .bind(choice.as_str())
            .bind(micros(now))
            .bind(by)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The days of `from..=to` where the choice is not the default.
pub async fn bookings(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    enrolment: EnrolmentId,
    from: Date,
    to: Date,
) -> Result<Vec<(Date, MealChoice)>> {
    let sql = "SELECT day, choice FROM booking WHERE tenant_id = $1 AND enrolment_id = $2 AND day >= $3 AND day <= $4 \
               ORDER BY day";
    let rows: Vec<(SqlDate, String)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(enrolment.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(d, ch)| Ok((d.0, parse_enum(&ch, "meal choice", MealChoice::parse)?)))
        .collect()
}

/// A day's number, for advisory locks.
fn day_key(day: Date) -> i32 {
    i32::from(day.year()) * 1000 + i32::from(day.day_of_year())
}

/// Serialises a booking change with the close of the same day. On PostgreSQL bookings take a
/// shared transaction lock and the close an exclusive one, so a close waits for changes in
/// flight and every change either lands before the close or sees it and is refused. On SQLite
/// write transactions are already serial (`BEGIN IMMEDIATE`).
pub async fn lock_day(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    exclusive: bool,
) -> Result<()> {
    if let Conn::Postgres(c) = conn {
        let key = i32::try_from(tenant.get()).unwrap_or(i32::MAX);
        let sql = if exclusive {
            "SELECT pg_advisory_xact_lock($1, $2)"
        } else {
            "SELECT pg_advisory_xact_lock_shared($1, $2)"
        };
        sqlx::query(sql)
            .bind(key)
            .bind(day_key(day))
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

pub async fn is_closed(conn: &mut Conn<'_>, tenant: TenantId, day: Date) -> Result<bool> {
    let sql = "SELECT COUNT(*) FROM day_close WHERE tenant_id = $1 AND day = $2";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// Claims the close of a day: true for the one run that inserts the row.
pub async fn claim_close(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "INSERT INTO day_close (tenant_id, day, closed_at, charged) VALUES ($1, $2, $3, 0) \
               ON CONFLICT (tenant_id, day) DO NOTHING RETURNING charged";
    let row: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.is_some())
}

pub async fn set_close_count(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    charged: u64,
) -> Result<()> {
    let n = i64::try_from(charged).map_err(corrupt("charged"))?;
    let sql = "UPDATE day_close SET charged = $3 WHERE tenant_id = $1 AND day = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(n)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Claims the low-balance warnings of a closed day: true for the one run that marks them
/// queued (`warned_at`), false when the day is not closed or another run did.
pub async fn claim_warnings(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE day_close SET warned_at = $3 WHERE tenant_id = $1 AND day = $2 AND warned_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The closed days whose low-balance warnings are not queued yet, oldest first.
pub async fn days_to_warn(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Date>> {
    let sql = "SELECT day FROM day_close WHERE tenant_id = $1 AND warned_at IS NULL ORDER BY day";
    let days: Vec<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(days.into_iter().map(|d| d.0).collect())
}

/// How many meals the close of `day` charged (None when the day is not closed).
pub async fn close_count(conn: &mut Conn<'_>, tenant: TenantId, day: Date) -> Result<Option<u64>> {
    let sql = "SELECT charged FROM day_close WHERE tenant_id = $1 AND day = $2";
    let n: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_optional(&mut *c)
            .await?
    });
    n.map(|n| u64::try_from(n).map_err(corrupt("charged")))
        .transpose()
}

/// The last closed day of a tenant.
pub async fn last_closed_day(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Option<Date>> {
    let sql = "SELECT MAX(day) FROM day_close WHERE tenant_id = $1";
    let d: Option<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(d.map(|d| d.0))
}

/// The first closed day of a tenant.
pub async fn first_closed_day(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Option<Date>> {
    let sql = "SELECT MIN(day) FROM day_close WHERE tenant_id = $1";
    let d: Option<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(d.map(|d| d.0))
}

/// The closed days of a tenant from `from` on, oldest first.
pub async fn closed_days_since(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
) -> Result<Vec<Date>> {
    let sql = "SELECT day FROM day_close WHERE tenant_id = $1 AND day >= $2 ORDER BY day";
    let days: Vec<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(from))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(days.into_iter().map(|d| d.0).collect())
}

/// The days left open between closed days of a tenant, as ranges `(first, last)` oldest first:
/// every close claims its day (school day or not), so from the first close on each day has a
/// `day_close` row unless nobody closed it (the scheduler skipped it beyond its catch-up window,
/// or a day was closed by hand ahead of the days before it).
pub async fn unclosed_gaps(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<(Date, Date)>> {
    let sql = match conn {
        Conn::Postgres(_) => {
            "SELECT prev, day FROM (SELECT day, LAG(day) OVER (ORDER BY day) AS prev \
             FROM day_close WHERE tenant_id = $1) AS d WHERE day - prev > 1 ORDER BY day"
        }
        Conn::Sqlite(_) => {
            "SELECT prev, day FROM (SELECT day, LAG(day) OVER (ORDER BY day) AS prev \
             FROM day_close WHERE tenant_id = $1) AS d \
             WHERE julianday(day) - julianday(prev) > 1 ORDER BY day"
        }
    };
    let rows: Vec<(SqlDate, SqlDate)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(prev, next)| Ok((prev.0.tomorrow()?, next.0.yesterday()?)))
        .collect::<std::result::Result<Vec<_>, jiff::Error>>()
        .map_err(corrupt("day_close.day"))
}

/// How many queued messages of a tenant are not sent yet (`sent_at` empty).
pub async fn outbox_backlog(conn: &mut Conn<'_>, tenant: TenantId) -> Result<u64> {
    let sql = "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    u64::try_from(n).map_err(corrupt("outbox count"))
}

/// Opens the missing accounts (one per family and prepaid service with an enrolment) and links
/// each enrolment of the service to its family's account (`enrolment.account_id`, which the
/// close charges). Only enrolments not linked yet are looked at, so once every enrolment is
/// linked this costs two index look-ups. Returns the number of accounts opened.
pub async fn ensure_accounts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    now: jiff::Timestamp,
) -> Result<u64> {
    let open = "INSERT INTO account (tenant_id, family_id, service_id, created_at) \
                SELECT DISTINCT p.tenant_id, p.family_id, e.service_id, $3 FROM enrolment e \
                JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
                WHERE e.tenant_id = $1 AND e.account_id IS NULL AND e.service_id = $2 \
                ON CONFLICT (tenant_id, family_id, service_id) DO NOTHING";
    let link = "UPDATE enrolment SET account_id = \
                  (SELECT a.id FROM pupil p \
                   JOIN account a ON a.tenant_id = p.tenant_id AND a.family_id = p.family_id \
                     AND a.service_id = enrolment.service_id \
                   WHERE p.tenant_id = enrolment.tenant_id AND p.id = enrolment.pupil_id) \
                WHERE tenant_id = $1 AND account_id IS NULL AND service_id = $2";
    let n = on_conn!(conn, |c| {
        let n = sqlx::query(open)
            .bind(tenant.get())
            .bind(service.get())
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(link)
            .bind(tenant.get())
            .bind(service.get())
            .execute(&mut *c)
            .await?;
        n
    });
    Ok(n)
}

/// `e.class_id` is one of the classes bound as `$n`, one parameter however many classes eat that
/// day (a list of placeholders would hit PostgreSQL's limit of 65,535 parameters at about 1.6
/// million enrolments, and be a new statement for every count): an array on PostgreSQL, whose
/// planner hashes it when the statement is planned with the array's values (so the statements
/// using it are not kept prepared), and a JSON array on SQLite, which builds an index of it once.
macro_rules! in_classes {
    (postgres, $n:literal) => {
        concat!("e.class_id = ANY($", $n, ")")
    };
    (sqlite, $n:literal) => {
        concat!("e.class_id IN (SELECT value FROM json_each($", $n, "))")
    };
}

/// Who eats on day `$3`: the active, started enrolments (`e`) of service `$2` of tenant `$1`
/// in the classes bound as `$n`, with their booking of the day (`b`, absent ones left out).
/// The `FROM … WHERE` of the close's charge, the forecast and the closure preview's families,
/// so that the three count the same meals; `$join` adds a table joined to `e`.
macro_rules! eating {
    ($backend:ident, $n:literal) => {
        eating!($backend, $n, "")
    };
    ($backend:ident, $n:literal, $join:literal) => {
        concat!(
            " FROM enrolment e",
            $join,
            " LEFT JOIN booking b ON b.tenant_id = e.tenant_id AND b.enrolment_id = e.id AND b.day = $3 \
             WHERE e.tenant_id = $1 AND e.service_id = $2 AND e.state = 'attivo' AND e.start_date <= $3 \
               AND (b.choice IS NULL OR b.choice <> 'absent') AND ",
            in_classes!($backend, $n)
        )
    };
}

/// The classes of [`in_classes!`], in each database's form.
struct ClassList {
    ids: Vec<i64>,
    json: String,
}

impl ClassList {
    fn new(classes: &[ClassId]) -> ClassList {
        let ids: Vec<i64> = classes.iter().map(|c| c.get()).collect();
        let json = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        ClassList { ids, json }
    }
}

/// The charge of a close: one ledger row per meal, from the enrolments alone (`account_id` is
/// on the enrolment) and the day's bookings.
macro_rules! charge_day_sql {
    ($backend:ident) => {
        concat!(
            "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, \
             school_id, class_id, meal, diet_id, idempotency_key, created_by, reason, created_at) \
             SELECT e.tenant_id, e.account_id, 'meal_charge', \
               CASE WHEN b.choice = 'bland' AND $5 THEN 0 ELSE -e.meal_price_cents END, \
               $3, e.pupil_id, e.id, e.school_id, e.class_id, \
               CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END, e.diet_id, \
               'meal:' || $4 || ':' || CAST(e.id AS TEXT), 'close', '', $6",
            eating!($backend, "7")
        )
    };
}

/// Charges the meals of `day` for the enrolments of `service` in `classes` (the classes that eat
/// that day): every active, started enrolment not marked absent, at its meal price (bland meals
/// free when `bland_free`), to the account linked on the enrolment. One statement. Returns what
/// was charged as the kitchen counts it (per school, class, meal and diet): on PostgreSQL the
/// insert's own rows, counted inside the same statement; on SQLite, which has no INSERT in a
/// WITH, the day's meal entries read right after it (before the close there are none but these).
///
/// Call it after [`ensure_accounts`] and after claiming the day ([`claim_close`]) in the same
/// transaction: the claim is what makes the close happen once. The idempotency key
/// `meal:<day>:<enrolment>` is unique, so a meal charged twice would make the statement fail
/// (and the close roll back) rather than charge again; an enrolment not linked to an account
/// fails it too (`account_id` is NOT NULL in the ledger) rather than go uncharged.
pub async fn charge_day(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
    bland_free: bool,
    now: jiff::Timestamp,
) -> Result<Vec<MealCount>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let day_text = day.to_string();
    let list = ClassList::new(classes);
    // The statements differ only in the class list; PostgreSQL's is not kept prepared, so that
    // it is always planned with the list's values (a cached generic plan would not hash it).
    match conn {
        Conn::Postgres(c) => {
            let sql = concat!(
                "WITH charged AS (",
                charge_day_sql!(postgres),
                " RETURNING school_id, class_id, meal, diet_id) \
                 SELECT school_id, class_id, meal, diet_id, COUNT(*) FROM charged \
                 GROUP BY school_id, class_id, meal, diet_id"
            );
            let rows: Vec<(i64, i64, String, Option<i64>, i64)> = sqlx::query_as(sql)
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&day_text)
                .bind(bland_free)
                .bind(micros(now))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?;
            counts(rows)
        }
        Conn::Sqlite(c) => {
            sqlx::query(charge_day_sql!(sqlite))
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&day_text)
                .bind(bland_free)
                .bind(micros(now))
                .bind(&list.json)
                .execute(&mut **c)
                .await?;
            frozen_counts(conn, tenant, day).await
        }
    }
}

/// Where a reversal applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeScope {
    Tenant,
    School(SchoolId),
    Class(ClassId),
    Enrolment(EnrolmentId),
}

/// Reverses the meal charges of `from..=to` in `scope` that are not reversed yet (a closure
/// entered after the close, or a correction). Returns how many were reversed.
#[allow(clippy::too_many_arguments)]
pub async fn reverse_charges(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
    to: Date,
    scope: ChargeScope,
    reason: &str,
    by: &str,
    now: jiff::Timestamp,
) -> Result<u64> {
    let (filter, id) = match scope {
        ChargeScope::Tenant => ("", None),
        ChargeScope::School(s) => (" AND m.school_id = $7", Some(s.get())),
        ChargeScope::Class(c) => (" AND m.class_id = $7", Some(c.get())),
        ChargeScope::Enrolment(e) => (" AND m.enrolment_id = $7", Some(e.get())),
    };
    let sql = format!(
        "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, school_id, \
         class_id, meal, diet_id, reverses_id, idempotency_key, created_by, reason, created_at) \
         SELECT m.tenant_id, m.account_id, 'reversal', -m.amount_cents, m.day, m.pupil_id, m.enrolment_id, m.school_id, \
           m.class_id, m.meal, m.diet_id, m.id, 'reversal:' || CAST(m.id AS TEXT), $5, $6, $4 \
         FROM ledger_entry m \
         WHERE m.tenant_id = $1 AND m.day >= $2 AND m.day <= $3 AND m.kind = 'meal_charge'{filter} \
           AND NOT EXISTS (SELECT 1 FROM ledger_entry r WHERE r.tenant_id = m.tenant_id AND r.reverses_id = m.id) \
         ON CONFLICT DO NOTHING"
    );
    let n = on_conn!(conn, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(tenant.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .bind(micros(now))
            .bind(by)
            .bind(reason);
        if let Some(id) = id {
            q = q.bind(id);
        }
        q.execute(&mut *c).await?.rows_affected()
    });
    Ok(n)
}

/// A ledger entry to write.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub account: AccountId,
    pub kind: EntryKind,
    pub amount: Cents,
    pub day: Date,
    pub pupil: Option<PupilId>,
    pub enrolment: Option<EnrolmentId>,
    pub school: Option<SchoolId>,
    pub class: Option<ClassId>,
    pub bland: Option<bool>,
    pub diet: Option<DietId>,
    pub reverses: Option<i64>,
    pub reference: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub created_by: &'a str,
    pub reason: &'a str,
}

impl<'a> NewEntry<'a> {
    /// A movement of money that is not a meal (recharge, adjustment, refund, transfer...):
    /// no pupil, school, class or meal.
    #[allow(clippy::too_many_arguments)]
    pub fn money(
        account: AccountId,
        kind: EntryKind,
        amount: Cents,
        day: Date,
        reference: Option<&'a str>,
        idempotency_key: &'a str,
        created_by: &'a str,
        reason: &'a str,
    ) -> NewEntry<'a> {
        NewEntry {
            account,
            kind,
            amount,
            day,
            pupil: None,
            enrolment: None,
            school: None,
            class: None,
            bland: None,
            diet: None,
            reverses: None,
            reference,
            idempotency_key,
            created_by,
            reason,
        }
    }
}

/// Appends an entry; `None` when its idempotency key was already used (nothing written).
pub async fn insert_entry(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    e: &NewEntry<'_>,
    now: jiff::Timestamp,
) -> Result<Option<i64>> {
    let sql = "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, \
               school_id, class_id, meal, diet_id, reverses_id, reference, idempotency_key, created_by, reason, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
               ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id";
    let meal = e.bland.map(|b| if b { "bland" } else { "standard" });
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(e.account.get())
            .bind(e.kind.as_str())
            .bind(e.amount.get())
            .bind(SqlDate(e.day))
            .bind(e.pupil.map(PupilId::get))
            .bind(e.enrolment.map(EnrolmentId::get))
            .bind(e.school.map(SchoolId::get))
            .bind(e.class.map(ClassId::get))
            .bind(meal)
            .bind(e.diet.map(DietId::get))
            .bind(e.reverses)
            .bind(e.reference)
            .bind(e.idempotency_key)
            .bind(e.created_by)
            .bind(e.reason)
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id)
}

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub account: AccountId,
    pub kind: EntryKind,
    pub amount: Cents,
    pub day: Date,
    pub pupil: Option<PupilId>,
    pub enrolment: Option<EnrolmentId>,
    pub bland: bool,
    pub reverses: Option<i64>,
    pub reference: Option<String>,
    pub created_by: String,
    pub reason: String,
    pub created_at: jiff::Timestamp,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    account_id: i64,
    kind: String,
    amount_cents: i64,
    day: SqlDate,
    pupil_id: Option<i64>,
    enrolment_id: Option<i64>,
    meal: Option<String>,
    reverses_id: Option<i64>,
    reference: Option<String>,
    created_by: String,
    reason: String,
    created_at: i64,
}

impl TryFrom<EntryRow> for Entry {
    type Error = crate::DbError;
    fn try_from(r: EntryRow) -> Result<Entry> {
        Ok(Entry {
            id: r.id,
            account: AccountId(r.account_id),
            kind: parse_enum(&r.kind, "entry kind", EntryKind::parse)?,
            amount: Cents(r.amount_cents),
            day: r.day.0,
            pupil: r.pupil_id.map(PupilId),
            enrolment: r.enrolment_id.map(EnrolmentId),
            bland: r.meal.as_deref() == Some("bland"),
            reverses: r.reverses_id,
            reference: r.reference,
            created_by: r.created_by,
            reason: r.reason,
            created_at: crate::from_micros(r.created_at)?,
        })
    }
}

macro_rules! entry_columns {
    () => {
        "id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, meal, reverses_id, reference, created_by, \
         reason, created_at"
    };
}

/// The entries of an account, oldest first.
pub async fn entries(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    account: AccountId,
) -> Result<Vec<Entry>> {
    let sql = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM ledger_entry WHERE tenant_id = $1 AND account_id = $2"
    );
    // Sorted here, not by the query: with `ORDER BY day` SQLite walks the tenant's whole
    // ledger in `ledger_by_day` order instead of looking up the account's few rows.
    let rows: Vec<EntryRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(account.get())
            .fetch_all(&mut *c)
            .await?
    });
    let mut entries = rows
        .into_iter()
        .map(Entry::try_from)
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by_key(|e| (e.day, e.id));
    Ok(entries)
}

/// The entries of a day of one enrolment (its charges and their reversals).
pub async fn entries_of_enrolment_day(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    enrolment: EnrolmentId,
    day: Date,
) -> Result<Vec<Entry>> {
    let sql = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM ledger_entry WHERE tenant_id = $1 AND enrolment_id = $2 AND day = $3 ORDER BY id"
    );
    let rows: Vec<EntryRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(enrolment.get())
            .bind(SqlDate(day))
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Entry::try_from).collect()
}

/// The balance: the sum of the account's entries.
pub async fn balance(conn: &mut Conn<'_>, tenant: TenantId, account: AccountId) -> Result<Cents> {
    let sql = "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entry WHERE tenant_id = $1 AND account_id = $2";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(account.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(Cents(n))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub family: FamilyId,
    pub service: ServiceId,
}

/// An account by id.
pub async fn account_by_id(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: AccountId,
) -> Result<Option<Account>> {
    let sql = "SELECT family_id, service_id FROM account WHERE tenant_id = $1 AND id = $2";
    let row: Option<(i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(|(f, s)| Account {
        id,
        family: FamilyId(f),
        service: ServiceId(s),
    }))
}

/// Serialises the money changes of these accounts until the transaction ends, so a check of
/// a balance and the entry that depends on it cannot interleave with another change of the
/// same account. On PostgreSQL the rows are locked in id order (no deadlock between two
/// transfers in opposite directions); SQLite write transactions are already serial.
pub async fn lock_accounts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    accounts: &[AccountId],
) -> Result<()> {
    if let Conn::Postgres(c) = conn {
        let mut ids: Vec<i64> = accounts.iter().map(|a| a.get()).collect();
        ids.sort_unstable();
        sqlx::query(
            "SELECT id FROM account WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
        )
        .bind(tenant.get())
        .bind(&ids)
        .fetch_all(&mut **c)
        .await?;
    }
    Ok(())
}

pub async fn account_of(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
    service: ServiceId,
) -> Result<Option<Account>> {
    let sql = "SELECT id FROM account WHERE tenant_id = $1 AND family_id = $2 AND service_id = $3";
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(family.get())
            .bind(service.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.map(|id| Account {
        id: AccountId(id),
        family,
        service,
    }))
}

/// The accounts of a family, by id.
pub async fn accounts_of_family(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
) -> Result<Vec<Account>> {
    let sql =
        "SELECT id, service_id FROM account WHERE tenant_id = $1 AND family_id = $2 ORDER BY id";
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(family.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, s)| Account {
            id: AccountId(id),
            family,
            service: ServiceId(s),
        })
        .collect())
}

/// An account that needs a look after a close: its balance and the family's daily cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    pub account: AccountId,
    pub family: FamilyId,
    pub balance: Cents,
    /// The sum of the meal prices of the family's active enrolments in the service.
    pub daily_cost: Cents,
    pub payer_first_name: String,
    pub payer_last_name: String,
    pub payer_email: Option<String>,
}

/// The accounts charged on `day` whose balance is negative or pays for fewer than
/// `threshold_meals` days of the family's meals, with their payer.
pub async fn balances_charged_on(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    threshold_meals: u32,
) -> Result<Vec<AccountBalance>> {
    // Driven by the accounts charged that day, each balance read from the covering index
    // (tenant_id, account_id, amount_cents) and each family's daily cost (the meal prices of
    // the active enrolments linked to the account) from the covering index enrolment_by_account.
    // MATERIALIZED: each look-up runs once per account, not once per mention of its column.
    let sql = "WITH s AS MATERIALIZED ( \
                 SELECT t.account_id, \
                   (SELECT SUM(l.amount_cents) FROM ledger_entry l \
                    WHERE l.tenant_id = $1 AND l.account_id = t.account_id) AS balance, \
                   (SELECT COALESCE(SUM(e.meal_price_cents), 0) FROM enrolment e \
                    WHERE e.tenant_id = $1 AND e.account_id = t.account_id AND e.state = 'attivo') AS daily \
                 FROM (SELECT DISTINCT account_id FROM ledger_entry \
                       WHERE tenant_id = $1 AND day = $3 AND kind = 'meal_charge') t) \
               SELECT s.account_id, a.family_id, CAST(s.balance AS BIGINT), CAST(s.daily AS BIGINT), \
                 g.first_name, g.last_name, g.email \
               FROM s \
               JOIN account a ON a.tenant_id = $1 AND a.id = s.account_id \
               JOIN family f ON f.tenant_id = $1 AND f.id = a.family_id \
               JOIN guardian g ON g.tenant_id = $1 AND g.id = f.payer_id \
               WHERE a.service_id = $2 AND (s.balance < 0 OR s.balance < s.daily * $4) \
               ORDER BY s.account_id";
    type Row = (i64, i64, i64, i64, String, String, Option<String>);
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(service.get())
            .bind(SqlDate(day))
            .bind(i64::from(threshold_meals))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(a, f, b, d, first, last, email)| AccountBalance {
            account: AccountId(a),
            family: FamilyId(f),
            balance: Cents(b),
            daily_cost: Cents(d),
            payer_first_name: first,
            payer_last_name: last,
            payer_email: email,
        })
        .collect())
}

/// Accounts below zero, for the arrears work: (account, family, balance), most negative first.
pub async fn negative_accounts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
) -> Result<Vec<(AccountId, FamilyId, Cents)>> {
    let sql = "SELECT a.id, a.family_id, CAST(SUM(l.amount_cents) AS BIGINT) AS bal FROM account a \
               JOIN ledger_entry l ON l.tenant_id = a.tenant_id AND l.account_id = a.id \
               WHERE a.tenant_id = $1 GROUP BY a.id, a.family_id HAVING SUM(l.amount_cents) < 0 ORDER BY bal, a.id";
    let rows: Vec<(i64, i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(a, f, b)| (AccountId(a), FamilyId(f), Cents(b)))
        .collect())
}

/// One line of the kitchen's numbers: a class, the kind of meal and the diet, with a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealCount {
    pub school: SchoolId,
    pub class: ClassId,
    pub bland: bool,
    pub diet: Option<DietId>,
    pub count: u32,
}

fn counts(rows: Vec<(i64, i64, String, Option<i64>, i64)>) -> Result<Vec<MealCount>> {
    rows.into_iter()
        .map(|(s, c, meal, diet, n)| {
            Ok(MealCount {
                school: SchoolId(s),
                class: ClassId(c),
                bland: meal == "bland",
                diet: diet.map(DietId),
                count: u32::try_from(n).map_err(corrupt("meal count"))?,
            })
        })
        .collect()
}

/// The kitchen's final numbers of a closed day: the charged meals not reversed since.
pub async fn frozen_counts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
) -> Result<Vec<MealCount>> {
    // Each meal charge counts 1 and each reversal of one -1: a reversal copies the day, school,
    // class, meal and diet of the charge it reverses (`reverse_charges`), a charge is reversed
    // at most once, and only meal entries have a `meal`. One pass over the day's entries, with
    // no look-up per charge for its reversal.
    let sql = "SELECT school_id, class_id, meal, diet_id, \
                 CAST(SUM(CASE WHEN kind = 'reversal' THEN -1 ELSE 1 END) AS BIGINT) \
               FROM ledger_entry \
               WHERE tenant_id = $1 AND day = $2 AND kind IN ('meal_charge', 'reversal') AND meal IS NOT NULL \
               GROUP BY school_id, class_id, meal, diet_id \
               HAVING SUM(CASE WHEN kind = 'reversal' THEN -1 ELSE 1 END) <> 0";
    let rows: Vec<(i64, i64, String, Option<i64>, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_all(&mut *c)
            .await?
    });
    counts(rows)
}

macro_rules! forecast_sql {
    ($backend:ident) => {
        concat!(
            "SELECT e.school_id, e.class_id, CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END AS meal, \
               e.diet_id, COUNT(*)",
            eating!($backend, "4"),
            " GROUP BY e.school_id, e.class_id, CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END, e.diet_id"
        )
    };
}

/// The forecast of a day not closed yet: who would be charged if the close ran now.
pub async fn forecast_counts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
) -> Result<Vec<MealCount>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let list = ClassList::new(classes);
    let rows: Vec<(i64, i64, String, Option<i64>, i64)> = match conn {
        Conn::Postgres(c) => {
            sqlx::query_as(forecast_sql!(postgres))
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?
        }
        Conn::Sqlite(c) => {
            sqlx::query_as(forecast_sql!(sqlite))
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.json)
                .fetch_all(&mut **c)
                .await?
        }
    };
    counts(rows)
}

macro_rules! families_open_sql {
    ($backend:ident) => {
        concat!(
            "SELECT DISTINCT p.family_id",
            eating!(
                $backend,
                "4",
                " JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id"
            ),
            " ORDER BY p.family_id"
        )
    };
}

macro_rules! families_closed_sql {
    ($backend:ident) => {
        concat!(
            "SELECT DISTINCT p.family_id FROM ledger_entry e \
             JOIN enrolment n ON n.tenant_id = e.tenant_id AND n.id = e.enrolment_id AND n.service_id = $2 \
             JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
             WHERE e.tenant_id = $1 AND e.day = $3 AND e.kind = 'meal_charge' \
               AND NOT EXISTS (SELECT 1 FROM ledger_entry r WHERE r.tenant_id = e.tenant_id AND r.reverses_id = e.id) \
               AND ",
            in_classes!($backend, "4"),
            " ORDER BY p.family_id"
        )
    };
}

/// The families whose meals of `day` in `classes` a closure would touch: on a day not closed
/// yet, those with a pupil the forecast counts (active, started, not booked absent); on a
/// closed day, those with a meal charged and not reversed. The same meals as
/// [`forecast_counts`] and [`frozen_counts`] count.
pub async fn families_of_meals(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
    closed: bool,
) -> Result<Vec<FamilyId>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let list = ClassList::new(classes);
    let ids: Vec<i64> = match conn {
        Conn::Postgres(c) => {
            let sql = if closed {
                families_closed_sql!(postgres)
            } else {
                families_open_sql!(postgres)
            };
            sqlx::query_scalar(sql)
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = if closed {
                families_closed_sql!(sqlite)
            } else {
                families_open_sql!(sqlite)
            };
            sqlx::query_scalar(sql)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.json)
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(ids.into_iter().map(FamilyId).collect())
}

/// Queues a message; `false` when one with the same key was already queued.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    kind: &str,
    channel: &str,
    recipient: &str,
    content: &crate::outbox::Content,
    idempotency_key: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, body_html, idempotency_key, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(kind)
            .bind(channel)
            .bind(recipient)
            .bind(&content.subject)
            .bind(&content.text)
            .bind(content.html.as_deref())
            .bind(idempotency_key)
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// A message for [`enqueue_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub recipient: String,
    pub content: crate::outbox::Content,
    pub idempotency_key: String,
}

/// Queues many messages of one kind and channel with one statement (the messages travel as one
/// JSON parameter); those whose key was already used are skipped. Returns how many were queued.
pub async fn enqueue_many(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    kind: &str,
    channel: &str,
    messages: &[NewMessage],
    now: jiff::Timestamp,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let rows: Vec<[Option<&str>; 5]> = messages
        .iter()
        .map(|m| {
            [
                Some(m.recipient.as_str()),
                Some(m.content.subject.as_str()),
                Some(m.content.text.as_str()),
                Some(m.idempotency_key.as_str()),
                m.content.html.as_deref(),
            ]
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(corrupt("outbox messages"))?;
    // `WHERE true`: SQLite needs a WHERE before an upsert's ON CONFLICT in an INSERT … SELECT.
    let sql = match conn {
        Conn::Postgres(_) => {
            "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, idempotency_key, body_html, created_at) \
             SELECT $1, $2, $3, m ->> 0, m ->> 1, m ->> 2, m ->> 3, m ->> 4, $4 \
             FROM jsonb_array_elements(CAST($5 AS JSONB)) WITH ORDINALITY AS j(m, n) WHERE true ORDER BY n \
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
        }
        Conn::Sqlite(_) => {
            "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, idempotency_key, body_html, created_at) \
             SELECT $1, $2, $3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
               json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), $4 \
             FROM json_each($5) WHERE true ORDER BY key \
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
        }
    };
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(kind)
            .bind(channel)
            .bind(micros(now))
            .bind(&json)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub body_html: Option<String>,
    pub idempotency_key: String,
    /// `pending`, `sent`, `failed` or `simulated` (migration 0014).
    pub status: String,
}

pub async fn outbox(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<OutboxMessage>> {
    let sql = "SELECT id, kind, channel, recipient, subject, body, body_html, idempotency_key, status FROM outbox WHERE tenant_id = $1 ORDER BY id";
    let rows: Vec<OutboxMessage> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .fetch_all(&mut *c)
        .await?);
    Ok(rows)
}

/// Records who changed what.
#[allow(clippy::too_many_arguments)]
pub async fn audit(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&str>,
    after: Option<&str>,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql = "INSERT INTO audit_log (tenant_id, actor, action, entity, entity_id, before, after, reason, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(actor)
            .bind(action)
            .bind(entity)
            .bind(entity_id)
            .bind(before)
            .bind(after)
            .bind(reason)
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}
