-- The school's validation of enrolments: the school confirms that a pupil enrolled in the
-- canteen is really in the class the enrolment says, or reports it to the office with a
-- reason. An enrolment the office or the import creates starts not validated; a class change
-- makes it not validated again. Meals never depend on it: the close does not read these columns.
ALTER TABLE enrolment ADD COLUMN validated_at BIGINT;
ALTER TABLE enrolment ADD COLUMN validated_by TEXT;
ALTER TABLE enrolment ADD COLUMN reported_at BIGINT;
ALTER TABLE enrolment ADD COLUMN reported_by TEXT;
ALTER TABLE enrolment ADD COLUMN report_reason TEXT;
-- What is already running stays as it is: every existing enrolment counts as validated.
UPDATE enrolment SET validated_at = 0, validated_by = 'migrazione';
