"""The second county's demo (``wangge demo load --region 141124``) is like the Xing demo.

Reviewer's finding M2: 临县 was filled without deadlines or case events, so it showed a 100 %
closing and on-time rate, no overdue case and no alert. On the two-county database: every
临县 case has its deadlines (``due_at``, ``final_due_at``, the deadline JSON) and a history
whose last step is its status; some open ones are overdue; ``/kpi?group_by=county`` and
``/board?group_by=county`` show 临县 overdue with rates below 100 %.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from geo.demo.grid_county import PREFECTURE_USER
from geo.incidents.flow import open_status_sql
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, two_county_fixture

two_counties = two_county_fixture()
RANGE = "from=2025-01-01&to=2026-12-31"


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


def test_every_lin_case_has_deadlines_and_a_history(two_counties: tuple[str, Engine]) -> None:
    with two_counties[1].connect() as conn:
        row = conn.execute(text(f"""
            SELECT count(*) AS n,
                   count(*) FILTER (WHERE due_at IS NULL OR final_due_at IS NULL
                                    OR deadline IS NULL OR deadline->>'due_at' IS NULL)
                       AS no_deadline,
                   count(*) FILTER (WHERE {open_status_sql('status')}) AS open,
                   count(*) FILTER (WHERE {open_status_sql('status')} AND paused_at IS NULL
                                    AND due_at < now()) AS overdue
            FROM incident WHERE region_code = :r"""), {"r": LIN}).mappings().one()
        assert row["n"] > 1000 and row["no_deadline"] == 0, dict(row)
        assert 0 < row["overdue"] <= row["open"], dict(row)
        bad = conn.execute(text("""
            SELECT i.code, i.status, last.to_status, first.kind
            FROM incident i
            LEFT JOIN LATERAL (SELECT e.to_status FROM incident_event e
                               WHERE e.incident_id = i.id ORDER BY e.at DESC, e.id DESC
                               LIMIT 1) last ON true
            LEFT JOIN LATERAL (SELECT e.kind, e.at FROM incident_event e
                               WHERE e.incident_id = i.id ORDER BY e.at, e.id LIMIT 1)
                first ON true
            WHERE i.region_code = :r AND (last.to_status IS DISTINCT FROM i.status
                  OR first.kind IS DISTINCT FROM 'intake' OR first.at <> i.reported_at
                  OR (i.closed_at IS NOT NULL AND i.closed_at < i.reported_at))
            LIMIT 5"""), {"r": LIN}).all()
        assert bad == []


def test_lin_overdue_and_rates_on_the_kpi_and_the_board(client: TestClient,
                                                        two_counties: tuple[str, Engine]) -> None:
    pref = bearer_for(two_counties[1], PREFECTURE_USER[0])
    kpi = client.get(f"/kpi?group_by=county&{RANGE}", headers=pref)
    assert kpi.status_code == 200, kpi.text
    lin = {g["key"]: g for g in kpi.json()["groups"]}[LIN]
    assert lin["open_overdue"] > 0, lin
    assert lin["closing_rate"] < 1 and lin["on_time_rate"] < 1, lin
    assert lin["no_deadline"] == 0, lin
    board = client.get("/board?group_by=county", headers=pref)
    assert board.status_code == 200, board.text
    row = {c["region_code"]: c for c in board.json()["counties"]}[LIN]
    assert row["overdue_total"] > 0 and row["open"] >= row["overdue_total"], row
