-- People and enrolments in the back office: changes of an enrolment with an effective date,
-- the schools a school's staff user sees, and the indexes of the office's search.

-- A change of an enrolment (class, tariff band, diet, state) that takes effect on a day. The
-- close reads only the enrolment row: the scheduler applies each change to that row at the
-- start of its day, before that day's close (`applied_at` set, in the same transaction as the
-- update). NULL columns are left as they are; `clear_diet` removes the diet.
CREATE TABLE enrolment_change (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    enrolment_id    INTEGER NOT NULL,
    effective_on    TEXT NOT NULL,
    class_id        INTEGER,
    tariff_band_id  INTEGER,
    diet_id         INTEGER,
    clear_diet      INTEGER NOT NULL DEFAULT 0,
    state           TEXT CHECK (state IN ('attivo', 'disattivo')),
    reason          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    applied_at      INTEGER,
    UNIQUE (tenant_id, id),
    CHECK (NOT (clear_diet AND diet_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, enrolment_id) REFERENCES enrolment (tenant_id, id),
    FOREIGN KEY (tenant_id, class_id) REFERENCES class (tenant_id, id),
    FOREIGN KEY (tenant_id, tariff_band_id) REFERENCES tariff_band (tenant_id, id),
    FOREIGN KEY (tenant_id, diet_id) REFERENCES diet (tenant_id, id)
) STRICT;
CREATE INDEX enrolment_change_by_enrolment ON enrolment_change (tenant_id, enrolment_id);
CREATE INDEX enrolment_change_pending ON enrolment_change (tenant_id, effective_on) WHERE applied_at IS NULL;

-- The schools a staff user of the school role works for (it sees only those).
CREATE UNIQUE INDEX staff_user_tenant_id_id ON staff_user (tenant_id, id);
CREATE TABLE staff_school (
    tenant_id       INTEGER NOT NULL,
    staff_id        INTEGER NOT NULL,
    school_id       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, staff_id, school_id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff_user (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES school (tenant_id, id)
) STRICT;

-- The office's search by name: a prefix of "surname name" or "name surname", lower case,
-- compared byte by byte (BINARY here, COLLATE "C" on PostgreSQL) so a range scan finds it.
CREATE INDEX pupil_by_last_first ON pupil (tenant_id, lower(last_name || ' ' || first_name));
CREATE INDEX pupil_by_first_last ON pupil (tenant_id, lower(first_name || ' ' || last_name));
CREATE INDEX guardian_by_last_first ON guardian (tenant_id, lower(last_name || ' ' || first_name));
CREATE INDEX guardian_by_first_last ON guardian (tenant_id, lower(first_name || ' ' || last_name));
