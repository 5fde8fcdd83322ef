-- Platform administrators (staff_user.role = 'platform_admin', tenant_id NULL) log in at
-- /admin: their sessions and failed logins belong to no municipality.
--
-- SQLite cannot drop a NOT NULL, so web_session and login_failure are rebuilt (nothing refers
-- to either table). A session without a tenant must be a staff user's (the application opens
-- one only for an active platform administrator and checks the role on every request).

CREATE TABLE web_session_new (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       INTEGER REFERENCES tenant (id),
    guardian_id     INTEGER,
    staff_id        INTEGER REFERENCES staff_user (id),
    csrf_token      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    absolute_expiry INTEGER NOT NULL,
    CHECK ((guardian_id IS NULL) <> (staff_id IS NULL)),
    CHECK (tenant_id IS NOT NULL OR staff_id IS NOT NULL),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
) STRICT;
INSERT INTO web_session_new (token_hash, tenant_id, guardian_id, staff_id, csrf_token, created_at,
                             expires_at, absolute_expiry)
    SELECT token_hash, tenant_id, guardian_id, staff_id, csrf_token, created_at, expires_at,
           absolute_expiry
    FROM web_session;
DROP TABLE web_session;
ALTER TABLE web_session_new RENAME TO web_session;
CREATE INDEX web_session_by_guardian ON web_session (tenant_id, guardian_id);
CREATE INDEX web_session_by_expiry ON web_session (expires_at);

-- tenant_id NULL: a failed login at /admin.
CREATE TABLE login_failure_new (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER REFERENCES tenant (id),
    subject         TEXT NOT NULL,
    failed_at       INTEGER NOT NULL
) STRICT;
INSERT INTO login_failure_new (id, tenant_id, subject, failed_at)
    SELECT id, tenant_id, subject, failed_at FROM login_failure;
DROP TABLE login_failure;
ALTER TABLE login_failure_new RENAME TO login_failure;
CREATE INDEX login_failure_by_subject ON login_failure (tenant_id, subject, failed_at);
CREATE INDEX login_failure_by_time ON login_failure (failed_at);

-- UNIQUE (tenant_id, username) does not hold among NULL tenants: platform usernames are unique
-- on their own.
CREATE UNIQUE INDEX staff_user_platform_username ON staff_user (username) WHERE tenant_id IS NULL;
