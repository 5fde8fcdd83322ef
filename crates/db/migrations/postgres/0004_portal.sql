-- The families' portal: login sessions (in the database, so they work across nodes), failed
-- logins for throttling, password-reset tokens, contact preferences, and documents (public
-- ones published by the office, and ones sent to a single family).

-- A login session. The cookie carries a random token; only its SHA-256 (hex) is stored, so a
-- copy of the database does not give working sessions. Exactly one of guardian/staff is set.
CREATE TABLE web_session (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    guardian_id     BIGINT,
    staff_id        BIGINT REFERENCES staff_user (id),
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- sliding expiry (idle timeout), never later than absolute_expiry
    expires_at      BIGINT NOT NULL,
    absolute_expiry BIGINT NOT NULL,
    CHECK ((guardian_id IS NULL) <> (staff_id IS NULL)),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
);
CREATE INDEX web_session_by_guardian ON web_session (tenant_id, guardian_id);
CREATE INDEX web_session_by_expiry ON web_session (expires_at);

-- Failed logins, per tenant and identifier (fiscal code or username, upper case).
CREATE TABLE login_failure (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    subject         TEXT NOT NULL,
    failed_at       BIGINT NOT NULL
);
CREATE INDEX login_failure_by_subject ON login_failure (tenant_id, subject, failed_at);
CREATE INDEX login_failure_by_time ON login_failure (failed_at);

-- A token sent by e-mail (through the outbox); only its SHA-256 is stored. A password reset
-- (new_password_hash NULL: the password is chosen on the link's page) or the activation of a
-- registration (the password chosen at registration waits here until the link is opened).
CREATE TABLE password_reset (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    guardian_id     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    new_password_hash TEXT,
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
);

ALTER TABLE guardian ADD COLUMN notify_email BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE guardian ADD COLUMN notify_sms BOOLEAN NOT NULL DEFAULT FALSE;

-- News on the public pages, published by the office.
CREATE TABLE news (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    published_on    DATE NOT NULL,
    visible_from    DATE NOT NULL,
    visible_to      DATE,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX news_by_date ON news (tenant_id, published_on);

-- Files: public documents (family_id NULL: regulation, tariffs, privacy notice, forms, menus)
-- and documents sent to one family (reminders, statements).
CREATE TABLE document (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    family_id       BIGINT,
    category        TEXT NOT NULL CHECK (category IN ('regolamento', 'tariffe', 'privacy', 'moduli', 'menu', 'comunicazione', 'sollecito', 'estratto_conto')),
    title           TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    content         BYTEA NOT NULL,
    published_on    DATE NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
);
CREATE INDEX document_by_family ON document (tenant_id, family_id, published_on);
