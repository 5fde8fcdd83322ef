-- Issue 16, families' login with SPID and CIE (docs/spid-plan.md).

-- A municipality's keys: `sp` signs its metadata and requests; `sandbox_idp` is the stand-in
-- identity provider of a municipality in sandbox mode. PKCS#8 and X.509 DER, base64.
CREATE TABLE saml_key (
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    purpose         TEXT NOT NULL CHECK (purpose IN ('sp', 'sandbox_idp')),
    private_key     TEXT NOT NULL,
    certificate     TEXT NOT NULL,
    not_after       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, purpose)
) STRICT;

-- A request sent to an identity provider (a login or a logout), until its answer arrives
-- (once) or it expires. A login's answer is trusted only from the provider recorded here and
-- only in the browser that holds the cookie whose hash is `browser_hash`.
CREATE TABLE saml_request (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('login', 'logout')),
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    profile         TEXT NOT NULL CHECK (profile IN ('spid', 'cie')),
    provider        TEXT NOT NULL,
    level           INTEGER NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    browser_hash    TEXT NOT NULL,
    next_path       TEXT,
    consumed_at     INTEGER
) STRICT;
CREATE INDEX saml_request_by_expiry ON saml_request (expires_at);

-- Assertions already used, until they expire: the same one twice is a replay.
CREATE TABLE saml_replay (
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    provider        TEXT NOT NULL,
    assertion_id    TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, provider, assertion_id)
) STRICT;
CREATE INDEX saml_replay_by_expiry ON saml_replay (expires_at);

-- A session opened by SPID or CIE: what single logout needs (the provider and the name it gave
-- the person). Ends with the session.
CREATE TABLE saml_session (
    token_hash      TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    profile         TEXT NOT NULL,
    provider        TEXT NOT NULL,
    name_id         TEXT NOT NULL,
    name_qualifier  TEXT NOT NULL,
    session_index   TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX saml_session_by_name ON saml_session (tenant_id, provider, name_id);
