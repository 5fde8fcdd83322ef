-- Imports from the previous vendor: one row per real import the office started. The import
-- itself writes every row of the file in one transaction; this row says how it went (the
-- status becomes 'done' in that same transaction, or 'failed' after its rollback).
CREATE TABLE import_job (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    kind            TEXT NOT NULL CHECK (kind IN ('guardians', 'pupils', 'enrolments', 'balances')),
    file_name       TEXT NOT NULL,
    -- hex SHA-256 of the uploaded bytes
    file_sha256     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    rows_total      INTEGER NOT NULL,
    -- rows written and rows already present (skipped), known when the import is done
    rows_new        INTEGER NOT NULL DEFAULT 0,
    rows_present    INTEGER NOT NULL DEFAULT 0,
    message         TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX import_job_by_time ON import_job (tenant_id, created_at);
