-- The registry (anagrafica) of each municipality.
--
-- Conventions, the same in the SQLite tree (a test compares the two schemas):
-- * every tenant-owned table has `tenant_id`, and every index and foreign key leads with it, so a
--   table can be sharded by tenant later and a row can never point at another tenant's row
--   (foreign keys are composite: (tenant_id, x_id) -> (tenant_id, id));
-- * money is BIGINT cents; instants are BIGINT microseconds since the Unix epoch (UTC);
--   calendar dates are DATE here and TEXT 'YYYY-MM-DD' on SQLite;
-- * enumerations are TEXT with a CHECK listing the values the domain crate knows.

CREATE TABLE tenant (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    fiscal_code     TEXT NOT NULL UNIQUE,
    timezone        TEXT NOT NULL DEFAULT 'Europe/Rome',
    cutoff_time     TEXT NOT NULL DEFAULT '09:30',
    patron_month    INTEGER,
    patron_day      INTEGER,
    patron_name     TEXT,
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);

CREATE TABLE school_year (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    label           TEXT NOT NULL,
    starts_on       DATE NOT NULL,
    ends_on         DATE NOT NULL,
    first_day       DATE NOT NULL,
    last_day        DATE NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, label),
    CHECK (starts_on <= first_day AND first_day <= last_day AND last_day <= ends_on)
);

CREATE TABLE school (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('nido', 'infanzia', 'primaria', 'secondaria_primo_grado')),
    address         TEXT NOT NULL DEFAULT '',
    kitchen_email   TEXT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE class (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    school_year_id  BIGINT NOT NULL,
    school_id       BIGINT NOT NULL,
    name            TEXT NOT NULL,
    -- bit 0 = Monday ... bit 6 = Sunday: the weekdays the class eats at the canteen (rientri)
    canteen_weekdays INTEGER NOT NULL CHECK (canteen_weekdays BETWEEN 0 AND 127),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, school_year_id, school_id, name),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id)
);

CREATE TABLE closure (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    school_year_id  BIGINT NOT NULL,
    -- scope: both NULL = the whole municipality; school_id = one school; class_id = one class
    school_id       BIGINT,
    class_id        BIGINT,
    starts_on       DATE NOT NULL,
    ends_on         DATE NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('holiday', 'break', 'strike', 'trip', 'school_closed', 'other')),
    reason          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    CHECK (school_id IS NULL OR class_id IS NULL),
    CHECK (starts_on <= ends_on),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES class (tenant_id, id)
);
CREATE INDEX closure_by_year ON closure (tenant_id, school_year_id, starts_on);

CREATE TABLE guardian (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    fiscal_code     TEXT NOT NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    address         TEXT NOT NULL DEFAULT '',
    resident        BOOLEAN NOT NULL DEFAULT TRUE,
    -- local credentials (argon2 PHC string); NULL = SPID/CIE only
    password_hash   TEXT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, fiscal_code)
);

-- A family: the children of one payer (intestatario). Exactly one payer by construction;
-- other guardians are delegates.
CREATE TABLE family (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    payer_id        BIGINT NOT NULL,
    isee_cents      BIGINT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, payer_id),
    FOREIGN KEY (tenant_id, payer_id) REFERENCES guardian (tenant_id, id)
);

CREATE TABLE family_delegate (
    tenant_id       BIGINT NOT NULL,
    family_id       BIGINT NOT NULL,
    guardian_id     BIGINT NOT NULL,
    can_see_payments BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tenant_id, family_id, guardian_id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
);
CREATE INDEX family_delegate_by_guardian ON family_delegate (tenant_id, guardian_id);

CREATE TABLE pupil (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    family_id       BIGINT NOT NULL,
    -- optional: a newborn or a foreign child may not have one yet; unique when present
    fiscal_code     TEXT,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    birth_date      DATE NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, fiscal_code),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
);
CREATE INDEX pupil_by_family ON pupil (tenant_id, family_id);
CREATE INDEX pupil_by_name ON pupil (tenant_id, last_name, first_name);

CREATE TABLE service (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    school_year_id  BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('refezione', 'trasporto')),
    billing         TEXT NOT NULL CHECK (billing IN ('prepaid', 'postpaid')),
    name            TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, school_year_id, kind),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id)
);

CREATE TABLE tariff_band (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    service_id      BIGINT NOT NULL,
    name            TEXT NOT NULL,
    isee_min_cents  BIGINT NOT NULL DEFAULT 0,
    isee_max_cents  BIGINT,
    residency       TEXT NOT NULL CHECK (residency IN ('resident', 'non_resident', 'any')),
    meal_price_cents BIGINT NOT NULL CHECK (meal_price_cents >= 0),
    fixed_fee_cents BIGINT NOT NULL CHECK (fixed_fee_cents >= 0),
    exempt          BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, name),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id)
);

-- Reduction for the 2nd, 3rd... child of a family enrolled in the same service.
CREATE TABLE sibling_reduction (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    service_id      BIGINT NOT NULL,
    from_rank       INTEGER NOT NULL CHECK (from_rank >= 2),
    basis_points    INTEGER NOT NULL CHECK (basis_points BETWEEN 0 AND 10000),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, from_rank),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id)
);

-- Diet codes: the kitchen sees the code and name, never a diagnosis.
CREATE TABLE diet (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenant (id),
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('health', 'ethical')),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE enrolment (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    pupil_id        BIGINT NOT NULL,
    service_id      BIGINT NOT NULL,
    school_id       BIGINT NOT NULL,
    class_id        BIGINT NOT NULL,
    tariff_band_id  BIGINT NOT NULL,
    meal_price_cents BIGINT NOT NULL CHECK (meal_price_cents >= 0),
    fixed_fee_cents BIGINT NOT NULL CHECK (fixed_fee_cents >= 0),
    diet_id         BIGINT,
    state           TEXT NOT NULL CHECK (state IN ('attivo', 'disattivo')),
    start_date      DATE NOT NULL,
    card_code       TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, pupil_id),
    UNIQUE (tenant_id, card_code),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupil (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES class (tenant_id, id),
    FOREIGN KEY (tenant_id, tariff_band_id) REFERENCES tariff_band (tenant_id, id),
    FOREIGN KEY (tenant_id, diet_id) REFERENCES diet (tenant_id, id)
);
CREATE INDEX enrolment_by_class ON enrolment (tenant_id, class_id);
CREATE INDEX enrolment_by_pupil ON enrolment (tenant_id, pupil_id);

-- Staff of a municipality (office, school, kitchen, canteen) and platform administrators
-- (tenant_id NULL).
CREATE TABLE staff_user (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       BIGINT REFERENCES tenant (id),
    username        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('office', 'school', 'kitchen', 'canteen_staff', 'platform_admin')),
    password_hash   TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (tenant_id, username),
    CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
);
