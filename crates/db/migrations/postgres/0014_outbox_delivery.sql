-- Delivery of the outbox (docs/architecture.md, "Messages"): each row is pending until a node
-- claims it (claimed_by/claimed_until, a lease), sends it and marks it sent; a temporary
-- failure puts it back with the next attempt's time (exponential backoff), a permanent one
-- marks it failed with the reason. Without an SMTP server (the demo) e-mails are "simulated":
-- delivered to the built-in test mailbox, never sent. SMS and App IO rows stay pending.
ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'sent', 'failed', 'simulated'));
-- The HTML alternative of an e-mail (the plain text is `body`).
ALTER TABLE outbox ADD COLUMN body_html TEXT;
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;

-- Messages written before the platform sent anything, more than a day before this migration
-- (expired links, stale warnings), are not sent now: they are marked failed with the reason.
UPDATE outbox SET status = 'failed',
       failed_at = CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT),
       last_error = 'Scritto prima che la piattaforma inviasse i messaggi e più vecchio di un giorno: non inviato.'
 WHERE created_at < CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT) - 86400000000;

DROP INDEX outbox_pending;
-- The sender's claim: the due pending rows in order.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- The office's list, newest first.
CREATE INDEX outbox_by_tenant ON outbox (tenant_id, id);
