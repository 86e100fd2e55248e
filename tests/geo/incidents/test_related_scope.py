"""Issue 15, finding 4: answers that name related cases (duplicate candidates) never name a
case outside the caller's scope, and do not count it either."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text

from geo import localtime
from geo.auth.principal import Principal
from geo.errors import Forbidden
from geo.incidents.intake import Report, create_incident


def test_duplicates_outside_the_scope_are_not_named(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        tx = conn.begin()
        try:
            cell, lon, lat, cat = conn.execute(text(
                "SELECT c.code, ST_X(p), ST_Y(p), k.code FROM (SELECT code, "
                "ST_PointOnSurface(geom) AS p FROM grid_cell WHERE kind = 'basic' "
                "ORDER BY code LIMIT 1) c, (SELECT code FROM incident_category "
                "WHERE \"group\" IS NOT NULL ORDER BY code LIMIT 1) k")).one()
            # field staff report cases of the last 24 hours (finding 5)
            at = localtime.now() - dt.timedelta(hours=2)
            command = Principal(user="c", role="command")
            first = create_incident(conn, Report(category=cat, lon=lon, lat=lat, reported_at=at,
                                                 description="first"), command, "141123")
            assert first["cell_code"] == cell
            # the command centre sees the earlier report as a duplicate candidate
            second = create_incident(conn, Report(category=cat, lon=lon, lat=lat,
                                                  reported_at=at + dt.timedelta(minutes=5)),
                                     command, "141123")
            assert first["id"] in [d["id"] for d in second["routing"]["duplicates"]]
            # a worker of another cell reporting at the same point and time learns nothing:
            # the report is refused (outside her scope, finding 5) without naming the cases
            other = conn.execute(text("SELECT code FROM grid_cell WHERE kind = 'basic' "
                                      "AND code <> :c ORDER BY code LIMIT 1"), {"c": cell}).scalar()
            worker = Principal(user="w", role="worker", cell_codes=frozenset({other}))
            with conn.begin_nested():
                with pytest.raises(Forbidden) as refused:
                    create_incident(conn, Report(category=cat, lon=lon, lat=lat,
                                                 reported_at=at + dt.timedelta(minutes=9)),
                                    worker, "141123")
            assert first["code"] not in str(refused.value.__dict__)
            assert "duplicate" not in str(refused.value.__dict__)
            # the worker of that cell does see them
            own = Principal(user="o", role="worker", cell_codes=frozenset({cell}))
            fourth = create_incident(conn, Report(category=cat, lon=lon, lat=lat,
                                                  reported_at=at + dt.timedelta(minutes=12)),
                                     own, "141123")
            assert first["id"] in [d["id"] for d in fourth["routing"]["duplicates"]]
        finally:
            tx.rollback()
