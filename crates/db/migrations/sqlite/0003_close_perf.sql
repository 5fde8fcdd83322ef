-- The daily close at scale (issue 3's benchmark: 100,000 enrolments in a second on SQLite, a
-- million in ten seconds on PostgreSQL). The same changes as in the PostgreSQL tree, which
-- also changes the ledger's primary key (4. there; SQLite's is the row id, which costs nothing).

-- 1. Each enrolment names the account its meals are charged to: the account of the pupil's
--    family for the enrolment's service. The close then reads one table instead of joining
--    pupil and account for every meal. NULL until meals::ensure_accounts links it, which every
--    close does first (in its transaction); code that moves a pupil to another family must set
--    it back to NULL.
--    SQLite cannot add a table constraint to an existing table, so the table is rebuilt. The
--    foreign keys are deferred to the commit: dropping the old table leaves the bookings without
--    their enrolment until the same rows are copied into the new one, and the commit fails if
--    any booking is left without it.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE enrolment_0003 AS SELECT * FROM enrolment;
DROP TABLE enrolment;
CREATE TABLE enrolment (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    pupil_id        INTEGER NOT NULL,
    service_id      INTEGER NOT NULL,
    school_id       INTEGER NOT NULL,
    class_id        INTEGER NOT NULL,
    tariff_band_id  INTEGER NOT NULL,
    meal_price_cents INTEGER NOT NULL CHECK (meal_price_cents >= 0),
    fixed_fee_cents INTEGER NOT NULL CHECK (fixed_fee_cents >= 0),
    diet_id         INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('attivo', 'disattivo')),
    start_date      TEXT NOT NULL,
    card_code       TEXT NOT NULL,
    account_id      INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, pupil_id),
    UNIQUE (tenant_id, card_code),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupil (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES class (tenant_id, id),
    FOREIGN KEY (tenant_id, tariff_band_id) REFERENCES tariff_band (tenant_id, id),
    FOREIGN KEY (tenant_id, diet_id) REFERENCES diet (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES account (tenant_id, id)
) STRICT;
INSERT INTO enrolment (id, tenant_id, pupil_id, service_id, school_id, class_id, tariff_band_id,
                       meal_price_cents, fixed_fee_cents, diet_id, state, start_date, card_code,
                       account_id)
SELECT o.id, o.tenant_id, o.pupil_id, o.service_id, o.school_id, o.class_id, o.tariff_band_id,
       o.meal_price_cents, o.fixed_fee_cents, o.diet_id, o.state, o.start_date, o.card_code,
       (SELECT a.id FROM pupil p
        JOIN account a ON a.tenant_id = p.tenant_id AND a.family_id = p.family_id
                      AND a.service_id = o.service_id
        WHERE p.tenant_id = o.tenant_id AND p.id = o.pupil_id)
FROM temp.enrolment_0003 o ORDER BY o.id;
DROP TABLE temp.enrolment_0003;
CREATE INDEX enrolment_by_class ON enrolment (tenant_id, class_id);
CREATE INDEX enrolment_by_pupil ON enrolment (tenant_id, pupil_id);
-- The account's enrolments (the family's daily cost, read from the index alone) and the ones
-- not linked yet (account_id NULL).
CREATE INDEX enrolment_by_account ON enrolment (tenant_id, account_id, service_id, state, meal_price_cents);

-- 2. Only reversals need the index that lets an entry be reversed once: the other entries
--    (every meal charge) have no reverses_id and no longer each add an index entry.
DROP INDEX ledger_reversal_once;
CREATE UNIQUE INDEX ledger_reversal_once ON ledger_entry (tenant_id, reverses_id)
    WHERE reverses_id IS NOT NULL;

-- 3. The low-balance warnings that follow each close, in their own transaction: NULL until a
--    run queues them (and marks them queued); a node that finds a closed day with its warnings
--    not queued (one stopped between the two) queues them. The closes made before this
--    migration queued their warnings inside the close.
ALTER TABLE day_close ADD COLUMN warned_at INTEGER;
UPDATE day_close SET warned_at = closed_at;
