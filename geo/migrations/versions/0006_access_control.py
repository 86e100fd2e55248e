"""access control: app_user, api_token, append-only audit_log

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "command", "department", "worker", "planner", "viewer")

# Append-only whoever the role is (a superuser too): UPDATE, DELETE and TRUNCATE raise.
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION wangge_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION wangge_audit_append_only();
CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_audit_append_only();
"""


# Second line behind the application's checks (used when WANGGE_DB_RLS=1): requests run their
# transaction as the non-superuser role wangge_app with their scope in wangge.* settings
# (api.deps.get_conn); row-level security on incident then filters what SQL can read or write.
# Planners and viewers keep row access (aggregates); the application withholds their personal
# fields. Without wangge.role set, wangge_app sees no incident (fail closed).
APP_ROLE_SQL = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wangge_app') THEN
        CREATE ROLE wangge_app NOLOGIN;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT wangge_app TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO wangge_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO wangge_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO wangge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO wangge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO wangge_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM wangge_app;

CREATE OR REPLACE FUNCTION wangge_incident_visible(p_region text, p_cell text, p_dept text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (CASE coalesce(current_setting('wangge.role', true), '')
                WHEN 'admin' THEN true
                WHEN 'command' THEN true
                WHEN 'planner' THEN true
                WHEN 'viewer' THEN true
                WHEN 'worker' THEN p_cell = ANY(string_to_array(
                    coalesce(current_setting('wangge.cells', true), ''), ','))
                WHEN 'department' THEN p_dept = nullif(
                    current_setting('wangge.department', true), '')
                ELSE false
            END)
       AND (coalesce(current_setting('wangge.regions', true), '') = ''
            OR p_region = ANY(string_to_array(current_setting('wangge.regions', true), ',')))
$$;
ALTER TABLE incident ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS incident_scope ON incident;
CREATE POLICY incident_scope ON incident TO wangge_app
    USING (wangge_incident_visible(region_code, cell_code, department_code))
    WITH CHECK (wangge_incident_visible(region_code, cell_code, department_code));
"""


def upgrade() -> None:
    """Apply."""
    roles = ", ".join(f"'{r}'" for r in ROLES)
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.CheckConstraint(f"role IN ({roles})", name="ck_app_user_role"),
        sa.CheckConstraint("role <> 'department' OR department_code IS NOT NULL",
                           name="ck_app_user_dept"),
        sa.ForeignKeyConstraint(["department_code"], ["department.code"]),
        sa.ForeignKeyConstraint(["worker_id"], ["grid_worker.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_token_user", "api_token", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region_code", sa.String(length=12), server_default="", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=100), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_at", "audit_log", ["username", "at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.execute(APPEND_ONLY_SQL)
    op.execute(APP_ROLE_SQL)


def downgrade() -> None:
    """Revert (the cluster-wide role wangge_app stays)."""
    op.execute("DROP POLICY IF EXISTS incident_scope ON incident")
    op.execute("ALTER TABLE incident DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS wangge_incident_visible(text, text, text)")
    op.execute("DROP TABLE IF EXISTS audit_log CASCADE")
    op.execute("DROP FUNCTION IF EXISTS wangge_audit_append_only()")
    op.drop_table("api_token")
    op.drop_table("app_user")
