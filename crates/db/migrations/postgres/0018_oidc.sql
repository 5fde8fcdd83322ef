-- Issue 16, families' login through an OpenID Connect provider (an identity proxy in front of
-- SPID and CIE), configured per municipality in `settings.identity.oidc`.

-- A login sent to the provider, until its answer arrives (once) or it expires. The answer
-- counts only with this `state`, in the browser whose cookie hashes to `browser_hash`; the
-- ID token must carry `nonce`, and the code is redeemed with `pkce_verifier`.
CREATE TABLE oidc_request (
    state           TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    issuer          TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    pkce_verifier   TEXT NOT NULL,
    browser_hash    TEXT NOT NULL,
    next_path       TEXT,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX oidc_request_by_expiry ON oidc_request (expires_at);
