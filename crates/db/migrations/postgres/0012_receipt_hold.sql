-- A receipt the station cannot apply by itself is held for the office, with the reason: no
-- position of ours (what 'unmatched' meant until now), an amount other than the position's, a
-- position already paid or cancelled, another station or broker named, or transfers that do
-- not add up to the amount. The office credits it by hand ('applied') or sets it aside
-- ('dismissed': not credited; the money goes back to the payer outside pagoPA).
ALTER TABLE pagopa_receipt DROP CONSTRAINT pagopa_receipt_status_check;
ALTER TABLE pagopa_receipt ADD COLUMN hold_reason TEXT;
UPDATE pagopa_receipt SET status = 'held', hold_reason = 'unknown_notice' WHERE status = 'unmatched';
ALTER TABLE pagopa_receipt ADD CONSTRAINT pagopa_receipt_status_check
    CHECK (status IN ('applied', 'held', 'ko', 'dismissed'));
ALTER TABLE pagopa_receipt ADD CONSTRAINT pagopa_receipt_hold_reason_check
    CHECK (hold_reason IS NULL OR hold_reason IN ('unknown_notice', 'amount_differs', 'already_paid',
        'not_payable', 'wrong_station', 'wrong_broker', 'transfers_differ'));
ALTER TABLE pagopa_receipt ADD CONSTRAINT pagopa_receipt_held_has_reason
    CHECK (status NOT IN ('held', 'dismissed') OR hold_reason IS NOT NULL);

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
