-- The families' portal: login sessions (in the database, so they work across nodes), failed
-- logins for throttling, password-reset tokens, contact preferences, and documents (public
-- ones published by the office, and ones sent to a single family).

-- A login session. The cookie carries a random token; only its SHA-256 (hex) is stored, so a
-- copy of the database does not give working sessions. Exactly one of guardian/staff is set.
CREATE TABLE web_session (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    guardian_id     INTEGER,
    staff_id        INTEGER REFERENCES staff_user (id),
    csrf_token      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- sliding expiry (idle timeout), never later than absolute_expiry
    expires_at      INTEGER NOT NULL,
    absolute_expiry INTEGER NOT NULL,
    CHECK ((guardian_id IS NULL) <> (staff_id IS NULL)),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
) STRICT;
CREATE INDEX web_session_by_guardian ON web_session (tenant_id, guardian_id);
CREATE INDEX web_session_by_expiry ON web_session (expires_at);

-- Failed logins, per tenant and identifier (fiscal code or username, upper case).
CREATE TABLE login_failure (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    subject         TEXT NOT NULL,
    failed_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failure_by_subject ON login_failure (tenant_id, subject, failed_at);
CREATE INDEX login_failure_by_time ON login_failure (failed_at);

-- A token sent by e-mail (through the outbox); only its SHA-256 is stored. A password reset
-- (new_password_hash NULL: the password is chosen on the link's page) or the activation of a
-- registration (the password chosen at registration waits here until the link is opened).
CREATE TABLE password_reset (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    guardian_id     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    new_password_hash TEXT,
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
) STRICT;

ALTER TABLE guardian ADD COLUMN notify_email INTEGER NOT NULL DEFAULT 1;
ALTER TABLE guardian ADD COLUMN notify_sms INTEGER NOT NULL DEFAULT 0;

-- News on the public pages, published by the office.
CREATE TABLE news (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    published_on    TEXT NOT NULL,
    visible_from    TEXT NOT NULL,
    visible_to      TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX news_by_date ON news (tenant_id, published_on);

-- Files: public documents (family_id NULL: regulation, tariffs, privacy notice, forms, menus)
-- and documents sent to one family (reminders, statements).
CREATE TABLE document (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    family_id       INTEGER,
    category        TEXT NOT NULL CHECK (category IN ('regolamento', 'tariffe', 'privacy', 'moduli', 'menu', 'comunicazione', 'sollecito', 'estratto_conto')),
    title           TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    content         BLOB NOT NULL,
    published_on    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
) STRICT;
CREATE INDEX document_by_family ON document (tenant_id, family_id, published_on);
