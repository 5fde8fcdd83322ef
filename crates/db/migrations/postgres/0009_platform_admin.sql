-- Platform administrators (staff_user.role = 'platform_admin', tenant_id NULL) log in at
-- /admin: their sessions and failed logins belong to no municipality. A session without a
-- tenant must be a staff user's (the application opens one only for an active platform
-- administrator and checks the role on every request). The SQLite tree rebuilds the tables.

ALTER TABLE web_session ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE web_session ADD CONSTRAINT web_session_tenant_or_staff
    CHECK (tenant_id IS NOT NULL OR staff_id IS NOT NULL);

-- tenant_id NULL: a failed login at /admin.
ALTER TABLE login_failure ALTER COLUMN tenant_id DROP NOT NULL;

-- UNIQUE (tenant_id, username) does not hold among NULL tenants: platform usernames are unique
-- on their own.
CREATE UNIQUE INDEX staff_user_platform_username ON staff_user (username) WHERE tenant_id IS NULL;
