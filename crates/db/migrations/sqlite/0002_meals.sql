-- Meals: bookings (exceptions to the default "present"), prepaid accounts and their
-- append-only ledger, the daily close, the outbox of messages and the audit log.

-- A family's choice for one canteen day. Absent rows mean "present" (the default); a row is
-- written only when a guardian or staff changes the day.
CREATE TABLE booking (
    tenant_id       INTEGER NOT NULL,
    enrolment_id    INTEGER NOT NULL,
    day             TEXT NOT NULL,
    choice          TEXT NOT NULL CHECK (choice IN ('present', 'absent', 'bland')),
    changed_at      INTEGER NOT NULL,
    changed_by      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, enrolment_id, day),
    FOREIGN KEY (tenant_id, enrolment_id) REFERENCES enrolment (tenant_id, id)
) STRICT;
CREATE INDEX booking_by_day ON booking (tenant_id, day);

-- One prepaid account per family (that is, per payer) per service.
CREATE TABLE account (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    family_id       INTEGER NOT NULL,
    service_id      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, family_id, service_id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id)
) STRICT;

-- The ledger. Rows are only ever inserted: a correction is a new row (a reversal points at
-- the row it reverses). The balance of an account is the sum of its amounts.
-- Meal charges carry what the kitchen cooked (school, class, standard/bland, diet), frozen at
-- the close: the kitchen's final numbers are read from here.
CREATE TABLE ledger_entry (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    account_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('recharge', 'meal_charge', 'reversal', 'adjustment', 'refund', 'transfer', 'carry_over')),
    amount_cents    INTEGER NOT NULL,
    day             TEXT NOT NULL,
    pupil_id        INTEGER,
    enrolment_id    INTEGER,
    school_id       INTEGER,
    class_id        INTEGER,
    meal            TEXT CHECK (meal IN ('standard', 'bland')),
    diet_id         INTEGER,
    reverses_id     INTEGER,
    reference       TEXT,
    idempotency_key TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, account_id) REFERENCES account (tenant_id, id),
    FOREIGN KEY (tenant_id, reverses_id) REFERENCES ledger_entry (tenant_id, id)
) STRICT;
CREATE INDEX ledger_by_account ON ledger_entry (tenant_id, account_id, amount_cents);
CREATE INDEX ledger_by_day ON ledger_entry (tenant_id, day, kind);
-- A row is reversed at most once.
CREATE UNIQUE INDEX ledger_reversal_once ON ledger_entry (tenant_id, reverses_id);

-- The daily close: one row per tenant and day, inserted by the run that closes it (the claim).
CREATE TABLE day_close (
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    day             TEXT NOT NULL,
    closed_at       INTEGER NOT NULL,
    charged         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
) STRICT;

-- Messages to send (e-mail, SMS, App IO), written in the same transaction as their cause.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'app_io')),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    UNIQUE (tenant_id, idempotency_key)
) STRICT;
CREATE INDEX outbox_pending ON outbox (sent_at, id);

-- Who changed what, when, before and after.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       INTEGER,
    before          TEXT,
    after           TEXT,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit_log (tenant_id, created_at);
