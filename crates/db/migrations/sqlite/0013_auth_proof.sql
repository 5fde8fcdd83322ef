-- Issue 12, items 3 and 5: a self-registered login is linked to the registry only with proof,
-- activation codes given by the office, and login throttling per identifier and source.

-- 1: the guardian's local login was created by a self-registration that nobody has proven to
-- belong to the registry's guardian of that fiscal code. The personal area of such a login
-- shows no family until the office confirms it or an activation code is used. Guardians who
-- belong to no family and have credentials or a pending activation can only come from a
-- self-registration: they start unproven.
ALTER TABLE guardian ADD COLUMN login_unproven INTEGER NOT NULL DEFAULT 0;
UPDATE guardian SET login_unproven = 1
WHERE (password_hash IS NOT NULL
       OR EXISTS (SELECT 1 FROM password_reset r
                  WHERE r.tenant_id = guardian.tenant_id AND r.guardian_id = guardian.id))
  AND NOT EXISTS (SELECT 1 FROM family f
                  WHERE f.tenant_id = guardian.tenant_id AND f.payer_id = guardian.id)
  AND NOT EXISTS (SELECT 1 FROM family_delegate d
                  WHERE d.tenant_id = guardian.tenant_id AND d.guardian_id = guardian.id);

-- A one-time code the office gives a family (letter or PDF) to prove at registration that they
-- are this guardian. Only its SHA-256 is stored; a new code replaces the unused ones.
CREATE TABLE activation_code (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    guardian_id     INTEGER NOT NULL,
    code_hash       TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
) STRICT;
CREATE INDEX activation_code_by_guardian ON activation_code (tenant_id, guardian_id);

-- Where a failed login came from (the peer's IP address), so that a stranger's failures do
-- not lock the owner out: see docs/architecture.md, "Sessions, CSRF and the personal area".
ALTER TABLE login_failure ADD COLUMN source TEXT NOT NULL DEFAULT '';
