//! pagoPA: IUV bases, payment positions and receipts.

use jiff::civil::Date;
use refettorio_domain::{
    AccountId, Cents, FamilyId, NoticeNumber, PositionId, SegregationCode, ServiceId, TenantId,
};

use crate::registry::corrupt;
use crate::{Conn, Result, SqlDate, from_micros, micros, on_conn};

/// Takes the next IUV base of a tenant's segregation code. Call it inside the transaction that
/// stores the position: the row stays locked until the commit, so no two positions ever get the
/// same base, on one node or many.
pub async fn next_iuv_base(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    segregation: SegregationCode,
) -> Result<u64> {
    let sql = "INSERT INTO iuv_sequence (tenant_id, segregation_code, last_base) VALUES ($1, $2, 1) \
               ON CONFLICT (tenant_id, segregation_code) DO UPDATE SET last_base = iuv_sequence.last_base + 1 \
               RETURNING last_base";
    let base: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(i32::from(segregation.get()))
            .fetch_one(&mut *c)
            .await?
    });
    u64::try_from(base).map_err(corrupt("IUV base"))
}

/// What a position is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionKind {
    /// A spontaneous recharge of a prepaid account.
    Recharge,
    /// A fee the office issued (post-paid services).
    Fee,
}

impl PositionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionKind::Recharge => "recharge",
            PositionKind::Fee => "fee",
        }
    }
    fn parse(s: &str) -> Option<PositionKind> {
        match s {
            "recharge" => Some(PositionKind::Recharge),
            "fee" => Some(PositionKind::Fee),
            _ => None,
        }
    }
}

pub use refettorio_domain::pagopa::{HoldReason, PositionStatus};

#[derive(Debug, Clone)]
pub struct NewPosition<'a> {
    pub kind: PositionKind,
    pub notice_number: &'a NoticeNumber,
    pub family: FamilyId,
    pub account: Option<AccountId>,
    pub debtor_fiscal_code: &'a str,
    pub debtor_name: &'a str,
    pub description: &'a str,
    pub amount: Cents,
    pub due_date: Date,
    pub iban: &'a str,
    pub transfer_category: &'a str,
    pub created_by: &'a str,
    /// A fee's service and period (`2026-12`, `anno`, `iscrizione`): one per family.
    pub fee_of: Option<(ServiceId, &'a str)>,
    /// Unpaid past its due date it can no longer be paid.
    pub expires: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub id: PositionId,
    pub kind: PositionKind,
    pub notice_number: NoticeNumber,
    pub iuv: String,
    pub family: FamilyId,
    pub account: Option<AccountId>,
    pub debtor_fiscal_code: String,
    pub debtor_name: String,
    pub description: String,
    pub amount: Cents,
    pub due_date: Date,
    pub iban: String,
    pub transfer_category: String,
    pub status: PositionStatus,
    pub cart_id: Option<String>,
    pub created_at: jiff::Timestamp,
    pub paid_at: Option<jiff::Timestamp>,
    /// A fee's service and period.
    pub fee_of: Option<(ServiceId, String)>,
    /// Unpaid past its due date it can no longer be paid.
    pub expires: bool,
    /// Why the office cancelled it.
    pub cancel_reason: Option<String>,
}

impl Position {
    /// Open, past its due date, and of a kind that then can no longer be paid: the station
    /// answers `PAA_PAGAMENTO_SCADUTO` and the family's page says "Scaduto".
    pub fn is_expired(&self, today: Date) -> bool {
        self.status == PositionStatus::Open && self.expires && self.due_date < today
    }

    /// Its state in words ("Da pagare", "Scaduto", "Pagato", "Annullato").
    pub fn state_it(&self, today: Date) -> &'static str {
        refettorio_domain::pagopa::position_state_it(self.status, self.is_expired(today))
    }
}

#[derive(sqlx::FromRow)]
struct PositionRow {
    id: i64,
    kind: String,
    notice_number: String,
    iuv: String,
    family_id: i64,
    account_id: Option<i64>,
    debtor_fiscal_code: String,
    debtor_name: String,
    description: String,
    amount_cents: i64,
    due_date: SqlDate,
    iban: String,
    transfer_category: String,
    status: String,
    cart_id: Option<String>,
    created_at: i64,
    paid_at: Option<i64>,
    service_id: Option<i64>,
    period: Option<String>,
    expires: bool,
    cancel_reason: Option<String>,
}

impl TryFrom<PositionRow> for Position {
    type Error = crate::DbError;
    fn try_from(r: PositionRow) -> Result<Position> {
        Ok(Position {
            id: PositionId(r.id),
            kind: PositionKind::parse(&r.kind)
                .ok_or_else(|| corrupt("position kind")(r.kind.clone()))?,
            notice_number: NoticeNumber::parse(&r.notice_number)
                .map_err(corrupt("notice number"))?,
            iuv: r.iuv,
            family: FamilyId(r.family_id),
            account: r.account_id.map(AccountId),
            debtor_fiscal_code: r.debtor_fiscal_code,
            debtor_name: r.debtor_name,
            description: r.description,
            amount: Cents(r.amount_cents),
            due_date: r.due_date.0,
            iban: r.iban,
            transfer_category: r.transfer_category,
            status: PositionStatus::parse(&r.status)
                .ok_or_else(|| corrupt("position status")(r.status.clone()))?,
            cart_id: r.cart_id,
            created_at: from_micros(r.created_at)?,
            paid_at: r.paid_at.map(from_micros).transpose()?,
            fee_of: r.service_id.map(ServiceId).zip(r.period),
            expires: r.expires,
            cancel_reason: r.cancel_reason,
        })
    }
}

macro_rules! position_columns {
    () => {
        "id, kind, notice_number, iuv, family_id, account_id, debtor_fiscal_code, debtor_name, description, \
         amount_cents, due_date, iban, transfer_category, status, cart_id, created_at, paid_at, \
         service_id, period, expires, cancel_reason"
    };
}

/// Stores a new open position; `None` when a fee of the same family, service and period is
/// already there (issued earlier or concurrently): nothing is written.
pub async fn insert_position(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    p: &NewPosition<'_>,
    now: jiff::Timestamp,
) -> Result<Option<PositionId>> {
    let sql = "INSERT INTO payment_position (tenant_id, kind, notice_number, iuv, family_id, account_id, \
               debtor_fiscal_code, debtor_name, description, amount_cents, due_date, iban, transfer_category, \
               status, created_by, created_at, service_id, period, expires) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', $14, $15, $16, $17, $18) \
               ON CONFLICT DO NOTHING RETURNING id";
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(p.kind.as_str())
            .bind(p.notice_number.as_str())
            .bind(p.notice_number.iuv())
            .bind(p.family.get())
            .bind(p.account.map(AccountId::get))
            .bind(p.debtor_fiscal_code)
            .bind(p.debtor_name)
            .bind(p.description)
            .bind(p.amount.get())
            .bind(SqlDate(p.due_date))
            .bind(p.iban)
            .bind(p.transfer_category)
            .bind(p.created_by)
            .bind(micros(now))
            .bind(p.fee_of.map(|(s, _)| s.get()))
            .bind(p.fee_of.map(|(_, period)| period))
            .bind(p.expires)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.map(PositionId))
}

/// The families that already have a fee of `service` for `period`.
pub async fn fee_families(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    period: &str,
) -> Result<Vec<FamilyId>> {
    let sql = "SELECT family_id FROM payment_position WHERE tenant_id = $1 AND kind = 'fee' \
               AND service_id = $2 AND period = $3";
    let ids: Vec<i64> = on_conn!(conn, |c| sqlx::query_scalar(sql)
        .bind(tenant.get())
        .bind(service.get())
        .bind(period)
        .fetch_all(&mut *c)
        .await?);
    Ok(ids.into_iter().map(FamilyId).collect())
}

/// The position of a notice number.
pub async fn position_by_notice(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    notice_number: &str,
) -> Result<Option<Position>> {
    let sql = concat!(
        "SELECT ",
        position_columns!(),
        " FROM payment_position WHERE tenant_id = $1 AND notice_number = $2"
    );
    let row: Option<PositionRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(notice_number)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Position::try_from).transpose()
}

pub async fn position(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
) -> Result<Option<Position>> {
    let sql = concat!(
        "SELECT ",
        position_columns!(),
        " FROM payment_position WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<PositionRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Position::try_from).transpose()
}

/// A family's positions, newest first.
pub async fn positions_of_family(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
) -> Result<Vec<Position>> {
    let sql = concat!(
        "SELECT ",
        position_columns!(),
        " FROM payment_position WHERE tenant_id = $1 AND family_id = $2 ORDER BY created_at DESC, id DESC"
    );
    positions_by(conn, sql, tenant, family.get()).await
}

/// A service's fees, newest period first, then by debtor.
pub async fn fees_of_service(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
) -> Result<Vec<Position>> {
    let sql = concat!(
        "SELECT ",
        position_columns!(),
        " FROM payment_position WHERE tenant_id = $1 AND kind = 'fee' AND service_id = $2 \
         ORDER BY period DESC, debtor_name, id"
    );
    positions_by(conn, sql, tenant, service.get()).await
}

/// The positions `sql` selects with the tenant and one id.
async fn positions_by(
    conn: &mut Conn<'_>,
    sql: &'static str,
    tenant: TenantId,
    id: i64,
) -> Result<Vec<Position>> {
    let rows: Vec<PositionRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id)
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Position::try_from).collect()
}

/// Records the Checkout cart a position was sent in.
pub async fn set_cart(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
    cart_id: &str,
) -> Result<()> {
    let sql = "UPDATE payment_position SET cart_id = $1 WHERE tenant_id = $2 AND id = $3";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(cart_id)
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Cancels an open fee, with the office's reason. False if it is not an open fee (paid,
/// cancelled already, or a recharge).
pub async fn cancel_fee(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
    reason: &str,
) -> Result<bool> {
    let sql = "UPDATE payment_position SET status = 'cancelled', cancel_reason = $1 \
               WHERE tenant_id = $2 AND id = $3 AND status = 'open' AND kind = 'fee'";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(reason)
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Marks an open fee paid elsewhere, with the payment's (normalised) reference. False if it is
/// not an open fee, or if that reference already paid a fee.
pub async fn pay_fee_elsewhere(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
    reference: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE payment_position SET status = 'paid', paid_at = $1, paid_reference = $2 \
               WHERE tenant_id = $3 AND id = $4 AND status = 'open' AND kind = 'fee' \
               AND NOT EXISTS (SELECT 1 FROM payment_position o WHERE o.tenant_id = $3 \
               AND o.paid_reference = $2)";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(micros(now))
            .bind(reference)
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Moves an open fee's due date. False if it is not an open fee.
pub async fn set_fee_due_date(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
    due: Date,
) -> Result<bool> {
    let sql = "UPDATE payment_position SET due_date = $1 \
               WHERE tenant_id = $2 AND id = $3 AND status = 'open' AND kind = 'fee'";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(SqlDate(due))
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Marks an open position paid; `false` when it was not open.
pub async fn mark_paid(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: PositionId,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE payment_position SET status = 'paid', paid_at = $1 \
               WHERE tenant_id = $2 AND id = $3 AND status = 'open'";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(micros(now))
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// What became of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// Credited to the ledger (or applied to its position).
    Applied,
    /// Kept for the office, with a [`HoldReason`]: nothing credited until a person decides.
    Held,
    /// A negative outcome: nothing was paid.
    Ko,
    /// Held, then set aside by the office: never credited (the money goes back to the payer
    /// outside pagoPA).
    Dismissed,
}

impl ReceiptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Applied => "applied",
            ReceiptStatus::Held => "held",
            ReceiptStatus::Ko => "ko",
            ReceiptStatus::Dismissed => "dismissed",
        }
    }
    fn parse(s: &str) -> Option<ReceiptStatus> {
        match s {
            "applied" => Some(ReceiptStatus::Applied),
            "held" => Some(ReceiptStatus::Held),
            "ko" => Some(ReceiptStatus::Ko),
            "dismissed" => Some(ReceiptStatus::Dismissed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewReceipt<'a> {
    pub receipt_id: &'a str,
    pub notice_number: &'a str,
    pub position: Option<PositionId>,
    pub outcome_ok: bool,
    pub amount: Cents,
    pub status: ReceiptStatus,
    /// Why a held receipt was not applied; `None` otherwise.
    pub hold_reason: Option<HoldReason>,
    pub psp_id: &'a str,
    pub psp_name: &'a str,
    pub payment_method: Option<&'a str>,
    pub paid_at: Option<jiff::Timestamp>,
    pub standin: bool,
    pub payload: &'a str,
}

/// Claims a receipt id; `None` when the same receipt was stored before (nothing written).
/// Two transactions inserting the same receipt id at once: the second waits for the first and
/// then gets `None`.
pub async fn insert_receipt(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    r: &NewReceipt<'_>,
    now: jiff::Timestamp,
) -> Result<Option<i64>> {
    let sql = "INSERT INTO pagopa_receipt (tenant_id, receipt_id, notice_number, position_id, outcome, amount_cents, \
               status, psp_id, psp_name, payment_method, paid_at, standin, payload, received_at, hold_reason) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
               ON CONFLICT (tenant_id, receipt_id) DO NOTHING RETURNING id";
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(r.receipt_id)
            .bind(r.notice_number)
            .bind(r.position.map(PositionId::get))
            .bind(if r.outcome_ok { "OK" } else { "KO" })
            .bind(r.amount.get())
            .bind(r.status.as_str())
            .bind(r.psp_id)
            .bind(r.psp_name)
            .bind(r.payment_method)
            .bind(r.paid_at.map(micros))
            .bind(r.standin)
            .bind(r.payload)
            .bind(micros(now))
            .bind(r.hold_reason.map(HoldReason::as_str))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id)
}

/// Links a stored receipt to the ledger entry it credited.
pub async fn set_receipt_entry(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    receipt: i64,
    entry: i64,
) -> Result<()> {
    let sql = "UPDATE pagopa_receipt SET ledger_entry_id = $1 WHERE tenant_id = $2 AND id = $3";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(entry)
            .bind(tenant.get())
            .bind(receipt)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub id: i64,
    pub receipt_id: String,
    pub notice_number: String,
    pub position: Option<PositionId>,
    pub outcome_ok: bool,
    pub amount: Cents,
    pub status: ReceiptStatus,
    pub hold_reason: Option<HoldReason>,
    pub ledger_entry: Option<i64>,
    pub psp_id: String,
    pub psp_name: String,
    pub payment_method: Option<String>,
    pub paid_at: Option<jiff::Timestamp>,
    pub standin: bool,
    pub received_at: jiff::Timestamp,
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: i64,
    receipt_id: String,
    notice_number: String,
    position_id: Option<i64>,
    outcome: String,
    amount_cents: i64,
    status: String,
    hold_reason: Option<String>,
    ledger_entry_id: Option<i64>,
    psp_id: String,
    psp_name: String,
    payment_method: Option<String>,
    paid_at: Option<i64>,
    standin: bool,
    received_at: i64,
}

impl TryFrom<ReceiptRow> for StoredReceipt {
    type Error = crate::DbError;
    fn try_from(r: ReceiptRow) -> Result<StoredReceipt> {
        Ok(StoredReceipt {
            id: r.id,
            receipt_id: r.receipt_id,
            notice_number: r.notice_number,
            position: r.position_id.map(PositionId),
            outcome_ok: r.outcome == "OK",
            amount: Cents(r.amount_cents),
            status: ReceiptStatus::parse(&r.status)
                .ok_or_else(|| corrupt("receipt status")(r.status.clone()))?,
            hold_reason: r
                .hold_reason
                .map(|h| HoldReason::parse(&h).ok_or_else(|| corrupt("hold reason")(h.clone())))
                .transpose()?,
            ledger_entry: r.ledger_entry_id,
            psp_id: r.psp_id,
            psp_name: r.psp_name,
            payment_method: r.payment_method,
            paid_at: r.paid_at.map(from_micros).transpose()?,
            standin: r.standin,
            received_at: from_micros(r.received_at)?,
        })
    }
}

macro_rules! receipt_columns {
    () => {
        "id, receipt_id, notice_number, position_id, outcome, amount_cents, status, hold_reason, ledger_entry_id, psp_id, \
         psp_name, payment_method, paid_at, standin, received_at"
    };
}

/// The receipts of a position, oldest first.
pub async fn receipts_of_position(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    position: PositionId,
) -> Result<Vec<StoredReceipt>> {
    let sql = concat!(
        "SELECT ",
        receipt_columns!(),
        " FROM pagopa_receipt WHERE tenant_id = $1 AND position_id = $2 ORDER BY id"
    );
    let rows: Vec<ReceiptRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(position.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(StoredReceipt::try_from).collect()
}

/// Receipts in a status (e.g. the held ones the office must look at), newest first.
pub async fn receipts_with_status(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    status: ReceiptStatus,
) -> Result<Vec<StoredReceipt>> {
    let sql = concat!(
        "SELECT ",
        receipt_columns!(),
        " FROM pagopa_receipt WHERE tenant_id = $1 AND status = $2 ORDER BY received_at DESC, id DESC"
    );
    let rows: Vec<ReceiptRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(status.as_str())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(StoredReceipt::try_from).collect()
}

/// A stored receipt by its row id.
pub async fn receipt(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
) -> Result<Option<StoredReceipt>> {
    let sql = concat!(
        "SELECT ",
        receipt_columns!(),
        " FROM pagopa_receipt WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<ReceiptRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(StoredReceipt::try_from).transpose()
}

/// Marks a held receipt as applied through `entry` (the office credited it by hand).
/// False when it is no longer held (another operator got there first): nothing written.
pub async fn reconcile(conn: &mut Conn<'_>, tenant: TenantId, id: i64, entry: i64) -> Result<bool> {
    let sql = "UPDATE pagopa_receipt SET status = 'applied', ledger_entry_id = $1 \
               WHERE tenant_id = $2 AND id = $3 AND status = 'held'";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(entry)
            .bind(tenant.get())
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Sets a held receipt aside (the office decided not to credit it). False when it is no longer
/// held: nothing written.
pub async fn dismiss(conn: &mut Conn<'_>, tenant: TenantId, id: i64) -> Result<bool> {
    let sql = "UPDATE pagopa_receipt SET status = 'dismissed' \
               WHERE tenant_id = $1 AND id = $2 AND status = 'held'";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The raw XML of a stored receipt, as the node sent it.
pub async fn receipt_payload(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    receipt_id: &str,
) -> Result<Option<String>> {
    let sql = "SELECT payload FROM pagopa_receipt WHERE tenant_id = $1 AND receipt_id = $2";
    let payload: Option<String> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(receipt_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(payload)
}
