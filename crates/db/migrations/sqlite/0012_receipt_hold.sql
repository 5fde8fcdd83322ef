-- A receipt the station cannot apply by itself is held for the office, with the reason: no
-- position of ours (what 'unmatched' meant until now), an amount other than the position's, a
-- position already paid or cancelled, another station or broker named, or transfers that do
-- not add up to the amount. The office credits it by hand ('applied') or sets it aside
-- ('dismissed': not credited; the money goes back to the payer outside pagoPA).
--
-- SQLite cannot change a CHECK, so the table is rebuilt (nothing refers to it).
CREATE TABLE pagopa_receipt_new (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL,
    receipt_id         TEXT NOT NULL,
    notice_number      TEXT NOT NULL,
    position_id        INTEGER,
    outcome            TEXT NOT NULL CHECK (outcome IN ('OK', 'KO')),
    amount_cents       INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('applied', 'held', 'ko', 'dismissed')),
    ledger_entry_id    INTEGER,
    psp_id             TEXT NOT NULL,
    psp_name           TEXT NOT NULL,
    payment_method     TEXT,
    paid_at            INTEGER,
    standin            INTEGER NOT NULL,
    payload            TEXT NOT NULL,
    received_at        INTEGER NOT NULL,
    hold_reason        TEXT CHECK (hold_reason IS NULL OR hold_reason IN ('unknown_notice',
        'amount_differs', 'already_paid', 'not_payable', 'wrong_station', 'wrong_broker',
        'transfers_differ')),
    CHECK (status NOT IN ('held', 'dismissed') OR hold_reason IS NOT NULL),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, receipt_id),
    FOREIGN KEY (tenant_id, position_id) REFERENCES payment_position (tenant_id, id),
    FOREIGN KEY (tenant_id, ledger_entry_id) REFERENCES ledger_entry (tenant_id, id)
) STRICT;
INSERT INTO pagopa_receipt_new (id, tenant_id, receipt_id, notice_number, position_id, outcome,
                                amount_cents, status, ledger_entry_id, psp_id, psp_name,
                                payment_method, paid_at, standin, payload, received_at, hold_reason)
    SELECT id, tenant_id, receipt_id, notice_number, position_id, outcome, amount_cents,
           CASE status WHEN 'unmatched' THEN 'held' ELSE status END, ledger_entry_id, psp_id,
           psp_name, payment_method, paid_at, standin, payload, received_at,
           CASE status WHEN 'unmatched' THEN 'unknown_notice' END
    FROM pagopa_receipt;
DROP TABLE pagopa_receipt;
ALTER TABLE pagopa_receipt_new RENAME TO pagopa_receipt;
CREATE INDEX pagopa_receipt_by_position ON pagopa_receipt (tenant_id, position_id);
CREATE INDEX pagopa_receipt_by_status ON pagopa_receipt (tenant_id, status, received_at);

-- A payment made elsewhere is keyed by its reference alone (`office:payment:<reference>`), not by
-- the channel too: the same bank reference typed under another channel is the same proof. Keys
-- written before are renamed, unless a second copy of the same reference already exists.
UPDATE ledger_entry SET idempotency_key = 'office:payment:' || substr(idempotency_key, 17)
WHERE idempotency_key LIKE 'office:bonifico:%'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry o WHERE o.tenant_id = ledger_entry.tenant_id
                  AND o.idempotency_key = 'office:payment:' || substr(ledger_entry.idempotency_key, 17));
UPDATE ledger_entry SET idempotency_key = 'office:payment:' || substr(idempotency_key, 17)
WHERE idempotency_key LIKE 'office:contanti:%'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry o WHERE o.tenant_id = ledger_entry.tenant_id
                  AND o.idempotency_key = 'office:payment:' || substr(ledger_entry.idempotency_key, 17));
UPDATE ledger_entry SET idempotency_key = 'office:payment:' || substr(idempotency_key, 12)
WHERE idempotency_key LIKE 'office:pos:%'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry o WHERE o.tenant_id = ledger_entry.tenant_id
                  AND o.idempotency_key = 'office:payment:' || substr(ledger_entry.idempotency_key, 12));
UPDATE ledger_entry SET idempotency_key = 'office:payment:' || substr(idempotency_key, 19)
WHERE idempotency_key LIKE 'office:bollettino:%'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry o WHERE o.tenant_id = ledger_entry.tenant_id
                  AND o.idempotency_key = 'office:payment:' || substr(ledger_entry.idempotency_key, 19));
UPDATE ledger_entry SET idempotency_key = 'office:payment:' || substr(idempotency_key, 14)
WHERE idempotency_key LIKE 'office:altro:%'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry o WHERE o.tenant_id = ledger_entry.tenant_id
                  AND o.idempotency_key = 'office:payment:' || substr(ledger_entry.idempotency_key, 14));
