"""PostgreSQL row-level security, the second line behind ``geo.auth.principal.incident_scope_sql``.

With ``WANGGE_DB_RLS=1`` every request transaction (``api.deps.get_conn``) runs as the
non-superuser role ``wangge_app`` with the caller's scope in ``wangge.*`` settings; the policy
``incident_scope`` (migration 0006) then lets SQL see and write only the incidents of the
caller's cells (worker) or department (department handler). Admins, the command centre,
planners and viewers keep row access (planners' aggregates); personal fields stay the
application's job. Off by default: a worker's county-wide aggregate counts are then limited
to their own cells, and every table a later migration adds must be granted to ``wangge_app``
(migration 0006 sets default privileges for tables created by the migrating role).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.auth.principal import Principal

APP_ROLE = "wangge_app"


def set_db_scope(conn: Connection, principal: Principal) -> None:
    """Switch the current transaction to ``wangge_app`` with the caller's scope."""
    conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
    conn.execute(
        text("SELECT set_config('wangge.role', :role, true), "
             "set_config('wangge.cells', :cells, true), "
             "set_config('wangge.department', :dept, true), "
             "set_config('wangge.regions', :regions, true)"),
        {"role": principal.role, "cells": ",".join(sorted(principal.cell_codes)),
         "dept": principal.department_code or "",
         "regions": ",".join(sorted(principal.regions)) if principal.regions is not None
         else ""},
    )
