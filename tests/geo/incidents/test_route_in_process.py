"""The in-process router (history imports, issue 20) gives the set-based router's answers.

The demo's incidents were routed by :func:`geo.incidents.routing.route_incidents` (SQL: the
boundary set valid on the report day, ``ST_Covers`` with the lowest code, the worker on duty);
:class:`geo.incidents.routing.Router` must give every one of them the same set, cell,
community, township and worker, and the Python validity rule must agree with the SQL one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import Engine, text

from geo.boundaries.sets import valid_at_sql, valid_on
from geo.incidents.routing import Router
from geo.localtime import local_date


def test_router_matches_set_based_routing_on_the_demo(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom), reported_at, boundary_set_id, cell_code, "
            "community_code, township_code, worker_id FROM incident WHERE region_code = "
            "'141123' AND geom IS NOT NULL AND cell_code IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM incident_event e WHERE e.incident_id = incident.id "
            "AND e.kind = 'reassign') ORDER BY id")).all()
        router = Router.load(conn, "141123")
    assert len(rows) > 10_000
    lon = np.array([r[0] for r in rows], dtype=np.float64)
    lat = np.array([r[1] for r in rows], dtype=np.float64)
    days = [local_date(r[2]) for r in rows]
    got = router.route(lon, lat, days)
    for name, k in (("boundary_set_id", 3), ("cell_code", 4), ("community_code", 5),
                    ("township_code", 6), ("worker_id", 7)):
        want = [r[k] for r in rows]
        differ = [i for i, (a, b) in enumerate(zip(getattr(got, name).tolist(), want,
                                                   strict=True)) if a != b]
        assert not differ, (name, len(differ), [(want[i], getattr(got, name)[i])
                                                for i in differ[:5]])


def test_router_leaves_unusable_rows_unrouted(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        router = Router.load(conn, "141123")
    got = router.route(np.array([np.nan, 111.13, 0.0]), np.array([np.nan, 38.46, 0.0]),
                       [dt.date(2026, 1, 5), None, dt.date(2026, 1, 5)])
    assert got.cell_code.tolist() == [None, None, None]
    assert got.worker_id.tolist() == [None, None, None]


@pytest.mark.parametrize("day", ["2019-12-31", "2020-01-01", "2024-06-30", "2024-07-01",
                                 "2030-01-01"])
def test_valid_on_is_the_sql_rule(demo_engine: Engine, day: str) -> None:
    d = dt.date.fromisoformat(day)
    with demo_engine.connect() as conn:
        for f, t in ((dt.date(2020, 1, 1), None), (dt.date(2020, 1, 1), dt.date(2024, 7, 1)),
                     (dt.date(2024, 7, 1), dt.date(2024, 7, 1))):
            sql = conn.execute(text(
                "SELECT " + valid_at_sql("b", ":d") + " FROM (SELECT CAST(:f AS date) AS "
                "valid_from, CAST(:t AS date) AS valid_to) b"), {"d": d, "f": f, "t": t}).scalar()
            assert bool(sql) is valid_on(f, t, d), (f, t, d)
