-- The daily close at scale (issue 3's benchmark: 100,000 enrolments in a second on SQLite, a
-- million in ten seconds on PostgreSQL). The same changes as in the SQLite tree, and (4.) the
-- ledger's primary key.

-- 1. Each enrolment names the account its meals are charged to: the account of the pupil's
--    family for the enrolment's service. The close then reads one table instead of joining
--    pupil and account for every meal. NULL until meals::ensure_accounts links it, which every
--    close does first (in its transaction); code that moves a pupil to another family must set
--    it back to NULL.
ALTER TABLE enrolment ADD COLUMN account_id BIGINT;
UPDATE enrolment e SET account_id = a.id
FROM pupil p
JOIN account a ON a.tenant_id = p.tenant_id AND a.family_id = p.family_id
WHERE p.tenant_id = e.tenant_id AND p.id = e.pupil_id AND a.service_id = e.service_id;
ALTER TABLE enrolment ADD FOREIGN KEY (tenant_id, account_id) REFERENCES account (tenant_id, id);
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
ALTER TABLE day_close ADD COLUMN warned_at BIGINT;
UPDATE day_close SET warned_at = closed_at;

-- 4. The ledger's primary key is (tenant_id, id), which the composite foreign keys use: a
--    second index on id alone cost an index entry per meal and served no query (every query
--    names the tenant). On SQLite id is the row id, which costs nothing.
ALTER TABLE ledger_entry DROP CONSTRAINT ledger_entry_tenant_id_reverses_id_fkey;
ALTER TABLE ledger_entry DROP CONSTRAINT ledger_entry_tenant_id_id_key;
ALTER TABLE ledger_entry DROP CONSTRAINT ledger_entry_pkey;
ALTER TABLE ledger_entry ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE ledger_entry ADD FOREIGN KEY (tenant_id, reverses_id) REFERENCES ledger_entry (tenant_id, id);
