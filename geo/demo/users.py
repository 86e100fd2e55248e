"""Demo users, one per role, for the Xing County demo (``demo_hook`` of ``geo.demo.county``).

The passwords are fixed and published (below, and printed by ``./scripts/run.sh`` through
``wangge users demo-credentials``): the accounts are marked ``synthetic`` and **cannot log in
outside demo mode** (``WANGGE_DEMO_MODE=0``).

- ``demo-worker`` is bound to the grid worker on duty now in the 蔚汾镇 (county seat) cell with
  the most fire-department (消防) incidents that carry a reporter's phone, so the worker and the
  department user share cases and the authorisation tests have personal data to guard.
- ``demo-xiaofang`` handles the cases routed to 消防救援大队 (``xiaofang``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from geo.auth.changes import auth_changed
from geo.auth.users import add_user
from geo.localtime import local_date_sql
from geo.workers import on_duty_sql

DEMO_DEPARTMENT = "xiaofang"
SEAT_TOWNSHIP_SUFFIX = "100"  # 蔚汾镇
# role -> (user name, password, display name)
DEMO_USERS: dict[str, tuple[str, str, str]] = {
    "admin": ("demo-admin", "admin-demo-2026", "系统管理员(演示)"),
    "command": ("demo-command", "command-demo-2026", "县指挥中心值班员(演示)"),
    "department": ("demo-xiaofang", "xiaofang-demo-2026", "消防救援大队处置员(演示)"),
    "worker": ("demo-worker", "worker-demo-2026", "蔚汾镇网格员(演示)"),
    "planner": ("demo-planner", "planner-demo-2026", "住建局规划分析(演示)"),
    "viewer": ("demo-viewer", "viewer-demo-2026", "访客(演示)"),
}


def pick_demo_worker(conn: Connection, region_code: str) -> tuple[str, str]:
    """The (worker code, cell code) the demo worker user is bound to (deterministic)."""
    row = conn.execute(text(f"""
        SELECT w.code, a.cell_code FROM worker_assignment a
        JOIN grid_worker w ON w.id = a.worker_id
        JOIN boundary_set b ON b.region_code = a.region_code AND b.is_active
        JOIN grid_cell g ON g.boundary_set_id = b.id AND g.code = a.cell_code
             AND g.kind = 'basic' AND g.township_code = :t
        WHERE a.region_code = :r AND a.valid_to IS NULL
          AND {on_duty_sql("a", local_date_sql("now()"))}
        ORDER BY (SELECT count(*) FROM incident i WHERE i.region_code = a.region_code
                  AND i.cell_code = a.cell_code AND i.reporter_phone IS NOT NULL
                  AND i.department_code = :d) DESC, a.cell_code
        LIMIT 1"""), {"r": region_code, "t": region_code + SEAT_TOWNSHIP_SUFFIX,
                      "d": DEMO_DEPARTMENT}).first()
    if row is None:
        raise RuntimeError("demo: no grid worker on duty in 蔚汾镇 to bind demo-worker to")
    return str(row[0]), str(row[1])


def demo_hook(conn: Connection, region_code: str, rng: np.random.Generator) -> None:
    """Create one synthetic user per role (idempotent within a load)."""
    demo_delete_hook(conn, region_code)
    worker_code, _cell = pick_demo_worker(conn, region_code)
    for role, (username, password, display) in DEMO_USERS.items():
        add_user(conn, username, role, region_code, password=password,
                 department_code=DEMO_DEPARTMENT if role == "department" else None,
                 worker_code=worker_code if role == "worker" else None,
                 display_name=display, synthetic=True)


def demo_delete_hook(conn: Connection, region_code: str) -> None:
    """Remove the synthetic users of a region (their API tokens go with them)."""
    conn.execute(text("DELETE FROM app_user WHERE region_code = :r AND synthetic"),
                 {"r": region_code})
    auth_changed(conn)  # with the region's assignments: every cached principal is stale


def demo_credentials(conn: Connection) -> list[dict[str, Any]]:
    """The demo users present in the database with their published passwords and scope."""
    rows = conn.execute(text("""
        SELECT u.username, u.role, u.department_code, w.code AS worker_code,
               (SELECT string_agg(a.cell_code, ',') FROM worker_assignment a
                 WHERE a.worker_id = u.worker_id AND a.valid_to IS NULL) AS cells
        FROM app_user u LEFT JOIN grid_worker w ON w.id = u.worker_id
        WHERE u.synthetic AND NOT u.disabled ORDER BY u.id""")).mappings().all()
    passwords = {name: pw for name, pw, _ in DEMO_USERS.values()}
    return [{**dict(r), "password": passwords.get(r["username"])} for r in rows
            if r["username"] in passwords]
