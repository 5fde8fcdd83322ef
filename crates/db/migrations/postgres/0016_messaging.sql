-- Issue 14, SMS, App IO and the office's communications (docs/architecture.md, "Messages").

-- What a channel needs beside the text: App IO's payment data of a payment notice (JSON).
ALTER TABLE outbox ADD COLUMN payload TEXT;
-- The family a message is for (its Comunicazioni) and the office's communication it belongs to.
ALTER TABLE outbox ADD COLUMN family_id BIGINT;
ALTER TABLE outbox ADD COLUMN communication_id BIGINT;
CREATE INDEX outbox_by_communication ON outbox (tenant_id, communication_id);

-- The families' third channel: messages in the IO app (by fiscal code).
ALTER TABLE guardian ADD COLUMN notify_app_io BOOLEAN NOT NULL DEFAULT FALSE;

-- A municipality's channel credentials (App IO's API key, the SMS gateway's password or
-- token): written by the office, never shown back, never in the settings' JSON nor the audit log.
CREATE TABLE tenant_secret (
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A message the office wrote to many families (of a service, a school, a class, or one family).
CREATE TABLE communication (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    audience        TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);

-- The families a communication reached: their Comunicazioni list.
CREATE TABLE communication_family (
    tenant_id        BIGINT NOT NULL,
    communication_id BIGINT NOT NULL,
    family_id        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, communication_id, family_id),
    FOREIGN KEY (tenant_id, communication_id) REFERENCES communication (tenant_id, id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
);
CREATE INDEX communication_family_by_family ON communication_family (tenant_id, family_id);
