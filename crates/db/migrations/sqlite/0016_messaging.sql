-- Issue 14, SMS, App IO and the office's communications (docs/architecture.md, "Messages").

-- What a channel needs beside the text: App IO's payment data of a payment notice (JSON).
ALTER TABLE outbox ADD COLUMN payload TEXT;
-- The family a message is for (its Comunicazioni) and the office's communication it belongs to.
ALTER TABLE outbox ADD COLUMN family_id INTEGER;
ALTER TABLE outbox ADD COLUMN communication_id INTEGER;
CREATE INDEX outbox_by_communication ON outbox (tenant_id, communication_id);

-- The families' third channel: messages in the IO app (by fiscal code).
ALTER TABLE guardian ADD COLUMN notify_app_io INTEGER NOT NULL DEFAULT 0;

-- A municipality's channel credentials (App IO's API key, the SMS gateway's password or
-- token): written by the office, never shown back, never in the settings' JSON nor the audit log.
CREATE TABLE tenant_secret (
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

-- A message the office wrote to many families (of a service, a school, a class, or one family).
CREATE TABLE communication (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    audience        TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;

-- The families a communication reached: their Comunicazioni list.
CREATE TABLE communication_family (
    tenant_id        INTEGER NOT NULL,
    communication_id INTEGER NOT NULL,
    family_id        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, communication_id, family_id),
    FOREIGN KEY (tenant_id, communication_id) REFERENCES communication (tenant_id, id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
) STRICT;
CREATE INDEX communication_family_by_family ON communication_family (tenant_id, family_id);
