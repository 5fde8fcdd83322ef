-- The registry (anagrafica) of each municipality.
--
-- Conventions, the same in the PostgreSQL tree (a test compares the two schemas):
-- * every tenant-owned table has `tenant_id`, and every index and foreign key leads with it, so a
--   table can be sharded by tenant later and a row can never point at another tenant's row
--   (foreign keys are composite: (tenant_id, x_id) -> (tenant_id, id));
-- * money is INTEGER cents; instants are INTEGER microseconds since the Unix epoch (UTC);
--   calendar dates are TEXT 'YYYY-MM-DD' here and DATE on PostgreSQL;
-- * enumerations are TEXT with a CHECK listing the values the domain crate knows.

CREATE TABLE tenant (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    fiscal_code     TEXT NOT NULL UNIQUE,
    timezone        TEXT NOT NULL DEFAULT 'Europe/Rome',
    cutoff_time     TEXT NOT NULL DEFAULT '09:30',
    patron_month    INTEGER,
    patron_day      INTEGER,
    patron_name     TEXT,
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE school_year (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    label           TEXT NOT NULL,
    starts_on       TEXT NOT NULL,
    ends_on         TEXT NOT NULL,
    first_day       TEXT NOT NULL,
    last_day        TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, label),
    CHECK (starts_on <= first_day AND first_day <= last_day AND last_day <= ends_on)
) STRICT;

CREATE TABLE school (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('nido', 'infanzia', 'primaria', 'secondaria_primo_grado')),
    address         TEXT NOT NULL DEFAULT '',
    kitchen_email   TEXT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE class (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    school_year_id  INTEGER NOT NULL,
    school_id       INTEGER NOT NULL,
    name            TEXT NOT NULL,
    -- bit 0 = Monday ... bit 6 = Sunday: the weekdays the class eats at the canteen (rientri)
    canteen_weekdays INTEGER NOT NULL CHECK (canteen_weekdays BETWEEN 0 AND 127),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, school_year_id, school_id, name),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id)
) STRICT;

CREATE TABLE closure (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    school_year_id  INTEGER NOT NULL,
    -- scope: both NULL = the whole municipality; school_id = one school; class_id = one class
    school_id       INTEGER,
    class_id        INTEGER,
    starts_on       TEXT NOT NULL,
    ends_on         TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('holiday', 'break', 'strike', 'trip', 'school_closed', 'other')),
    reason          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    CHECK (school_id IS NULL OR class_id IS NULL),
    CHECK (starts_on <= ends_on),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES class (tenant_id, id)
) STRICT;
CREATE INDEX closure_by_year ON closure (tenant_id, school_year_id, starts_on);

CREATE TABLE guardian (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    fiscal_code     TEXT NOT NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    address         TEXT NOT NULL DEFAULT '',
    resident        INTEGER NOT NULL DEFAULT 1,
    -- local credentials (argon2 PHC string); NULL = SPID/CIE only
    password_hash   TEXT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, fiscal_code)
) STRICT;

-- A family: the children of one payer (intestatario). Exactly one payer by construction;
-- other guardians are delegates.
CREATE TABLE family (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    payer_id        INTEGER NOT NULL,
    isee_cents      INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, payer_id),
    FOREIGN KEY (tenant_id, payer_id) REFERENCES guardian (tenant_id, id)
) STRICT;

CREATE TABLE family_delegate (
    tenant_id       INTEGER NOT NULL,
    family_id       INTEGER NOT NULL,
    guardian_id     INTEGER NOT NULL,
    can_see_payments INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, family_id, guardian_id),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardian (tenant_id, id)
) STRICT;
CREATE INDEX family_delegate_by_guardian ON family_delegate (tenant_id, guardian_id);

CREATE TABLE pupil (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    family_id       INTEGER NOT NULL,
    -- optional: a newborn or a foreign child may not have one yet; unique when present
    fiscal_code     TEXT,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, fiscal_code),
    FOREIGN KEY (tenant_id, family_id) REFERENCES family (tenant_id, id)
) STRICT;
CREATE INDEX pupil_by_family ON pupil (tenant_id, family_id);
CREATE INDEX pupil_by_name ON pupil (tenant_id, last_name, first_name);

CREATE TABLE service (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    school_year_id  INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('refezione', 'trasporto')),
    billing         TEXT NOT NULL CHECK (billing IN ('prepaid', 'postpaid')),
    name            TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, school_year_id, kind),
    FOREIGN KEY (tenant_id, school_year_id) REFERENCES school_year (tenant_id, id)
) STRICT;

CREATE TABLE tariff_band (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    service_id      INTEGER NOT NULL,
    name            TEXT NOT NULL,
    isee_min_cents  INTEGER NOT NULL DEFAULT 0,
    isee_max_cents  INTEGER,
    residency       TEXT NOT NULL CHECK (residency IN ('resident', 'non_resident', 'any')),
    meal_price_cents INTEGER NOT NULL CHECK (meal_price_cents >= 0),
    fixed_fee_cents INTEGER NOT NULL CHECK (fixed_fee_cents >= 0),
    exempt          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, name),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id)
) STRICT;

-- Reduction for the 2nd, 3rd... child of a family enrolled in the same service.
CREATE TABLE sibling_reduction (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    service_id      INTEGER NOT NULL,
    from_rank       INTEGER NOT NULL CHECK (from_rank >= 2),
    basis_points    INTEGER NOT NULL CHECK (basis_points BETWEEN 0 AND 10000),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, service_id, from_rank),
    FOREIGN KEY (tenant_id, service_id) REFERENCES service (tenant_id, id)
) STRICT;

-- Diet codes: the kitchen sees the code and name, never a diagnosis.
CREATE TABLE diet (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenant (id),
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('health', 'ethical')),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, code)
) STRICT;

CREATE TABLE enrolment (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    pupil_id        INTEGER NOT NULL,
    service_id      INTEGER NOT NULL,
    school_id       INTEGER NOT NULL,
    class_id        INTEGER NOT NULL,
    tariff_band_id  INTEGER NOT NULL,
    meal_price_cents INTEGER NOT NULL CHECK (meal_price_cents >= 0),
    fixed_fee_cents INTEGER NOT NULL CHECK (fixed_fee_cents >= 0),
    diet_id         INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('attivo', 'disattivo')),
    start_date      TEXT NOT NULL,
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
) STRICT;
CREATE INDEX enrolment_by_class ON enrolment (tenant_id, class_id);
CREATE INDEX enrolment_by_pupil ON enrolment (tenant_id, pupil_id);

-- Staff of a municipality (office, school, kitchen, canteen) and platform administrators
-- (tenant_id NULL).
CREATE TABLE staff_user (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER REFERENCES tenant (id),
    username        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('office', 'school', 'kitchen', 'canteen_staff', 'platform_admin')),
    password_hash   TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, username),
    CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
) STRICT;
