-- The ledger's link to its account, checked per statement instead of per row (issue 3: a
-- million meals closed in ten seconds).
--
-- A foreign key checks each new ledger row on its own and locks its account row (FOR KEY
-- SHARE) so that nobody deletes the account meanwhile: for the close's million rows that was
-- a million look-ups and a million row locks, each a write to the account's page and to the
-- WAL, about half of the close's time. Instead:
--
-- 1. Accounts are permanent: no DELETE, no TRUNCATE, no change of tenant or id (refused by
--    the triggers below; no code does any of these). An account that existed when an entry
--    was written exists for ever, so nothing needs locking.
-- 2. Every INSERT into the ledger checks all its rows at once (a statement trigger that sees
--    the new rows as a transition table: one anti-join with account), and fails whole, as the
--    foreign key did, if any row names no account of its tenant.
ALTER TABLE ledger_entry DROP CONSTRAINT ledger_entry_tenant_id_account_id_fkey;

CREATE FUNCTION ledger_accounts_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_entries n
               WHERE NOT EXISTS (SELECT 1 FROM account a
                                 WHERE a.tenant_id = n.tenant_id AND a.id = n.account_id)) THEN
        RAISE EXCEPTION 'a ledger entry names an account that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_accounts_exist AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_exist();

CREATE FUNCTION account_is_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accounts are permanent: they are never deleted nor renumbered'
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER account_no_delete BEFORE DELETE OR TRUNCATE ON account
    FOR EACH STATEMENT EXECUTE FUNCTION account_is_permanent();

CREATE TRIGGER account_no_renumber BEFORE UPDATE OF tenant_id, id ON account
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION account_is_permanent();

-- The ledger by day (the kitchen's final numbers, the reports by period) as a BRIN index: the
-- ledger is written in about day order (a day's meals at its close, payments on the day they
-- arrive), so a summary of each range of pages (its first and last day) finds a day's rows
-- while costing nothing per row written, where the B-tree on (tenant, day, kind) cost an
-- index entry per meal, about a tenth of the close. Ranges not summarised yet (the newest
-- pages) are always read, and are summarised as they fill up (autosummarize).
DROP INDEX ledger_by_day;
CREATE INDEX ledger_by_day ON ledger_entry USING brin (day) WITH (autosummarize = on);
