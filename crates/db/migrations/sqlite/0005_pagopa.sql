-- pagoPA: notice numbers, payment positions (what a family or the office asked to pay) and the
-- receipts pagoPA's node sends to the municipality's station.

-- The IUV bases handed out, per tenant and segregation code. A base is taken by incrementing
-- the row in the transaction that creates the position, so two nodes never take the same one
-- and a committed base is never taken again.
CREATE TABLE iuv_sequence (
    tenant_id        INTEGER NOT NULL REFERENCES tenant (id),
    segregation_code INTEGER NOT NULL CHECK (segregation_code BETWEEN 0 AND 99),
    last_base        INTEGER NOT NULL CHECK (last_base BETWEEN 1 AND 9999999999999),
    PRIMARY KEY (tenant_id, segregation_code)
) STRICT;

-- A debt position: a recharge a family asked for (spontaneous) or a fee the office issued.
-- Its status is the only thing that changes; money moves in the ledger when a receipt comes.
CREATE TABLE payment_position (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('recharge', 'fee')),
    notice_number      TEXT NOT NULL,
    iuv                TEXT NOT NULL,
    family_id          INTEGER NOT NULL,
    -- the prepaid account a recharge credits
    account_id         INTEGER,
    debtor_fiscal_code TEXT NOT NULL,
    debtor_name        TEXT NOT NULL,
    description        TEXT NOT NULL,
    amount_cents       INTEGER NOT NULL CHECK (amount_cents > 0),
    due_date           TEXT NOT NULL,
    iban               TEXT NOT NULL,
    transfer_category  TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'paid', 'cancelled')),
    cart_id            TEXT,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    paid_at            INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, notice_number),
    UNIQUE (tenant_id, iuv),
    CHECK (kind <> 'recharge' OR account_id IS NOT NULL),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES account (tenant_id, id)
) STRICT;
CREATE INDEX payment_position_by_family ON payment_position (tenant_id, family_id, created_at);

-- Every receipt (ricevuta telematica) the node delivered, once per receiptId. A receipt is never
-- refused: one for a notice we don't know is kept as 'unmatched' for the office.
CREATE TABLE pagopa_receipt (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL,
    receipt_id         TEXT NOT NULL,
    notice_number      TEXT NOT NULL,
    position_id        INTEGER,
    outcome            TEXT NOT NULL CHECK (outcome IN ('OK', 'KO')),
    amount_cents       INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('applied', 'unmatched', 'ko')),
    ledger_entry_id    INTEGER,
    psp_id             TEXT NOT NULL,
    psp_name           TEXT NOT NULL,
    payment_method     TEXT,
    paid_at            INTEGER,
    standin            INTEGER NOT NULL,
    payload            TEXT NOT NULL,
    received_at        INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, receipt_id),
    FOREIGN KEY (tenant_id, position_id) REFERENCES payment_position (tenant_id, id),
    FOREIGN KEY (tenant_id, ledger_entry_id) REFERENCES ledger_entry (tenant_id, id)
) STRICT;
CREATE INDEX pagopa_receipt_by_position ON pagopa_receipt (tenant_id, position_id);
CREATE INDEX pagopa_receipt_by_status ON pagopa_receipt (tenant_id, status, received_at);
