-- Issue 17, post-paid fees issued as pagoPA notices.

-- A post-paid service's fee rule (domain::fees::FeeRule): how often its fees are issued, how
-- an enrolment that starts or ends within a period pays, the yearly enrolment fee, and the
-- transfer (IBAN, pagoPA taxonomy code).
CREATE TABLE fee_rule (
    service_id          BIGINT PRIMARY KEY REFERENCES service (id),
    tenant_id           BIGINT NOT NULL REFERENCES tenant (id),
    frequency           TEXT NOT NULL CHECK (frequency IN ('monthly', 'yearly')),
    pro_rata            TEXT NOT NULL CHECK (pro_rata IN ('whole', 'days', 'none')),
    enrolment_fee_cents BIGINT NOT NULL CHECK (enrolment_fee_cents >= 0),
    iban                TEXT NOT NULL,
    taxonomy            TEXT NOT NULL,
    due_days            BIGINT NOT NULL CHECK (due_days BETWEEN 1 AND 365),
    expires             BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at          BIGINT NOT NULL
);

-- A fee is of one service and period ("2026-12", "anno", "iscrizione"): one per family, so
-- that issuing the same period again (twice, concurrently, after an interruption) issues
-- nothing new.
ALTER TABLE payment_position ADD COLUMN service_id BIGINT REFERENCES service (id);
ALTER TABLE payment_position ADD COLUMN period TEXT;
ALTER TABLE payment_position ADD COLUMN cancel_reason TEXT;
-- Unpaid past its due date the notice can no longer be paid (a recharge always; a fee when its
-- rule said so when it was issued).
ALTER TABLE payment_position ADD COLUMN expires BOOLEAN NOT NULL DEFAULT TRUE;
-- A fee the office records as paid elsewhere (a bank transfer, at the counter) keeps the
-- payment's reference, normalised: the same proof never pays two fees.
ALTER TABLE payment_position ADD COLUMN paid_reference TEXT;
CREATE UNIQUE INDEX payment_position_paid_reference
    ON payment_position (tenant_id, paid_reference) WHERE paid_reference IS NOT NULL;
CREATE UNIQUE INDEX payment_position_fee_once
    ON payment_position (tenant_id, service_id, period, family_id) WHERE kind = 'fee';
