//! The ledger: prepaid accounts and their append-only entries, whose sum is the balance.

use jiff::civil::Date;
use refettorio_domain::ledger::Key;
use refettorio_domain::{
    AccountId, Cents, ClassId, DietId, EnrolmentId, EntryKind, FamilyId, PupilId, SchoolId,
    ServiceId, TenantId,
};

use crate::registry::parse_enum;
use crate::{Conn, Result, SqlDate, micros, on_conn};

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

/// Where a reversal applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeScope {
    Tenant,
    School(SchoolId),
    Class(ClassId),
    Enrolment(EnrolmentId),
}

/// Reverses the meal charges of `days` in `scope` that are not reversed yet (a closure
/// entered after the close, or a correction). Returns how many were reversed.
pub async fn reverse_charges(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    days: std::ops::RangeInclusive<Date>,
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
            .bind(SqlDate(*days.start()))
            .bind(SqlDate(*days.end()))
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
    /// The event the entry records, unique per tenant.
    pub key: &'a Key,
    pub created_by: &'a str,
    pub reason: &'a str,
}

impl<'a> NewEntry<'a> {
    /// A movement of money that is not a meal (recharge, adjustment, refund, transfer...):
    /// no pupil, school, class or meal; written by `created_by` for `reason` ([`Self::by`]),
    /// with a payment's `reference` ([`Self::reference`]).
    pub fn money(
        account: AccountId,
        kind: EntryKind,
        amount: Cents,
        day: Date,
        key: &'a Key,
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
            reference: None,
            key,
            created_by: "",
            reason: "",
        }
    }

    /// Who wrote the entry, and why.
    pub fn by(self, created_by: &'a str, reason: &'a str) -> NewEntry<'a> {
        NewEntry {
            created_by,
            reason,
            ..self
        }
    }

    /// The payment's reference (an IUV, a receipt).
    pub fn reference(self, reference: Option<&'a str>) -> NewEntry<'a> {
        NewEntry { reference, ..self }
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
            .bind(e.key.to_string())
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
    /// The payer's other contacts and chosen channels (the warning honours them).
    pub payer_phone: Option<String>,
    pub payer_fiscal_code: String,
    pub notify_email: bool,
    pub notify_sms: bool,
    pub notify_app_io: bool,
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
                 g.first_name, g.last_name, g.email, g.phone, g.fiscal_code, \
                 g.notify_email, g.notify_sms, g.notify_app_io \
               FROM s \
               JOIN account a ON a.tenant_id = $1 AND a.id = s.account_id \
               JOIN family f ON f.tenant_id = $1 AND f.id = a.family_id \
               JOIN guardian g ON g.tenant_id = $1 AND g.id = f.payer_id \
               WHERE a.service_id = $2 AND (s.balance < 0 OR s.balance < s.daily * $4) \
               ORDER BY s.account_id";
    type Row = (
        i64,
        i64,
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        bool,
        bool,
        bool,
    );
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
        .map(|r| AccountBalance {
            account: AccountId(r.0),
            family: FamilyId(r.1),
            balance: Cents(r.2),
            daily_cost: Cents(r.3),
            payer_first_name: r.4,
            payer_last_name: r.5,
            payer_email: r.6,
            payer_phone: r.7,
            payer_fiscal_code: r.8,
            notify_email: r.9,
            notify_sms: r.10,
            notify_app_io: r.11,
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
