"""The per-cell per-day rollup (``geo.incidents.rollup``, migration 0014) equals the on-the-fly
counts of ``incident`` after every kind of change: intake, the case flow (dispatch, handling,
rework, closing, rejection), merges, deletes, an import (and a refused one), a change of no
counted column; and the readers that switched to it (board, per-cell counts, KPIs) answer
exactly what their on-the-fly query answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from geo.incidents import rollup
from geo.localtime import CST

BOSS = Principal(user="duty", role="command")
REGION = "141123"


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=CST)


def both(conn: Connection, **kw: Any) -> tuple[list[Any], list[Any]]:
    """Every dimension and day from the rollup and on the fly, sorted."""
    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(r[k]) for k in sorted(r))

    got = [rollup.counts(conn, None, rollup.DIMENSIONS, with_day=True, source=s, **kw)
           for s in ("rollup", "incident")]
    return sorted(got[0], key=key), sorted(got[1], key=key)


def assert_equal(conn: Connection) -> int:
    """The rollup equals the on-the-fly counts, holds no zero row, and one row per key."""
    roll, fly = both(conn)
    assert roll == fly
    assert conn.execute(text(f"SELECT count(*) FROM {rollup.TABLE} WHERE n <= 0")).scalar() == 0
    assert conn.execute(text(f"SELECT count(*) FROM {rollup.TABLE}")).scalar() == len(roll)
    return sum(r["n"] for r in roll)


@pytest.fixture()
def engine(fresh_demo_url: str) -> Iterator[Engine]:
    e = create_engine(fresh_demo_url)
    yield e
    e.dispose()


def test_the_comparison_can_fail(engine: Engine) -> None:
    """The backfill matches; a rollup row off by one is seen (the check is not vacuous)."""
    with engine.begin() as conn:
        assert assert_equal(conn) == conn.execute(text("SELECT count(*) FROM incident")).scalar()
        assert assert_equal(conn) > 10_000  # the demo's 20,000 reports are in it
        conn.execute(text(f"UPDATE {rollup.TABLE} SET on_time = on_time + 1 WHERE id = "
                          f"(SELECT min(id) FROM {rollup.TABLE})"))
        roll, fly = both(conn)
        assert roll != fly
        conn.rollback()


def test_rollup_follows_intake_flow_merge_delete(engine: Engine) -> None:
    from geo.incidents.cases import merge, transition
    from geo.incidents.intake import Report, create_incident

    with engine.begin() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
            "WHERE kind = 'basic' ORDER BY code LIMIT 1) s")).one()
        before = assert_equal(conn)

        def new(at: str, dx: float = 0.0, **kw: Any) -> dict[str, Any]:
            return create_incident(conn, Report(
                category="fire_lane_blocked", channel="patrol", lon=lon + dx, lat=lat,
                reported_at=t(at), **kw), BOSS, REGION)

        def walk(inc: dict[str, Any], *steps: tuple[str, str]) -> None:
            for to, at in steps:
                transition(conn, inc["id"], to, BOSS, at=t(at))
                assert_equal(conn)

        a = new("2024-03-04T09:00")
        b = new("2024-03-04T23:30")  # 23:30 CST: still 03-04 locally, 15:30 UTC
        c = new("2024-03-05T00:10", urgency="urgent")  # after local midnight
        assert assert_equal(conn) == before + 3
        days = {r["day"] for r in rollup.counts(conn, None, ["cell_code"], with_day=True,
                                                regions=[REGION], start=t("2024-03-04T00:00"),
                                                end=t("2024-03-06T00:00"))}
        assert days == {dt.date(2024, 3, 4), dt.date(2024, 3, 5)}
        walk(a, ("registered", "2024-03-04T09:10"), ("dispatched", "2024-03-04T09:20"))
        dup = new("2024-03-04T09:30", dx=0.0002)
        merge(conn, a["id"], [dup["id"]], BOSS)
        assert_equal(conn)
        walk(a, ("in_progress", "2024-03-04T10:00"), ("handled", "2024-03-04T15:00"),
             ("rework", "2024-03-04T16:00"), ("in_progress", "2024-03-05T09:00"),
             ("handled", "2024-03-05T17:00"), ("verified", "2024-03-06T09:00"),
             ("closed", "2024-03-06T10:00"))
        walk(b, ("rejected", "2024-03-05T09:00"))
        walk(c, ("registered", "2024-03-05T00:20"), ("dispatched", "2024-03-05T00:30"),
             ("registered", "2024-03-05T01:00"))  # given back (退单)
        row = conn.execute(text(
            f"SELECT n, on_time, handled, reworked FROM {rollup.TABLE} WHERE status = 'closed' "
            "AND day = '2024-03-04' AND category_code = 'fire_lane_blocked'")).one()
        assert tuple(row) == (1, 0, 1, 1)  # closed late, handled, reworked
        # a change of no counted column leaves the rollup as it was
        snap = both(conn)[0]
        conn.execute(text("UPDATE incident SET description = 'x', version = version + 1 "
                          "WHERE id = :i"), {"i": a["id"]})
        assert both(conn)[0] == snap
        # re-routing a case to another cell moves its count
        conn.execute(text("UPDATE incident SET cell_code = NULL WHERE id = :i"), {"i": c["id"]})
        assert_equal(conn)
        # deletes (a demo reload deletes a region's incidents): events first, then cases
        ids = [a["id"], b["id"], c["id"], dup["id"]]
        conn.execute(text("UPDATE incident SET merged_into_id = NULL WHERE id = ANY(:i)"),
                     {"i": ids})
        conn.execute(text("DELETE FROM incident_event WHERE incident_id = ANY(:i)"), {"i": ids})
        conn.execute(text("DELETE FROM incident WHERE id = ANY(:i)"), {"i": ids})
        assert assert_equal(conn) == before
        conn.execute(text("DELETE FROM incident WHERE id IN (SELECT id FROM incident "
                          "WHERE merged_into_id IS NULL AND id NOT IN (SELECT merged_into_id "
                          "FROM incident WHERE merged_into_id IS NOT NULL) ORDER BY id LIMIT 500)"
                          " AND NOT EXISTS (SELECT 1 FROM incident_event e WHERE "
                          "e.incident_id = incident.id)"))
        assert_equal(conn)


def test_rollup_follows_imports(engine: Engine, tmp_path: Path) -> None:
    from geo.errors import InvalidInput
    from geo.io.importer import ImportOptions, run_import

    with engine.connect() as conn:
        before = assert_equal(conn)
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
            "WHERE kind = 'basic' ORDER BY code LIMIT 1) s")).one()
    n = 300
    df = pd.DataFrame({
        "code": [f"RU{k:04d}" for k in range(n)], "category": ["water"] * n,
        "time": [f"2025-05-{1 + k % 28:02d} {k % 24:02d}:30" for k in range(n)],
        "lon": [lon + (k % 10) * 1e-4 for k in range(n)], "lat": [lat] * n})
    path = tmp_path / "inc.csv"
    df.to_csv(path, index=False)
    rep = run_import(engine, "incidents", path, ImportOptions(region=REGION, commit=True))
    assert rep.committed and rep.new == n, rep.summary_lines()
    with engine.connect() as conn:
        assert assert_equal(conn) == before + n
    # the same file again: nothing new, the rollup unchanged
    run_import(engine, "incidents", path, ImportOptions(region=REGION, commit=True))
    with engine.connect() as conn:
        assert assert_equal(conn) == before + n
    # a refused import changes neither the incidents nor the rollup (all or nothing)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"code": ["S1", "S2"], "category": ["water", "water"],
                  "time": ["2025-05-01 10:00", "2025-05-01 11:00"],
                  "lon": [38.46, 38.461], "lat": [111.13, 111.131]}).to_csv(bad, index=False)
    with pytest.raises(InvalidInput):
        run_import(engine, "incidents", bad, ImportOptions(region=REGION, commit=True))
    with engine.connect() as conn:
        assert assert_equal(conn) == before + n


def test_source_for_decides_once() -> None:
    assert rollup.source_for(start=t("2026-01-01T00:00"), end=t("2026-02-01T00:00"),
                             columns=["cell_code", "status"]) == "rollup"
    assert rollup.source_for() == "rollup"
    assert rollup.source_for(start=t("2026-01-01T08:00")) == "incident"  # not a CST day
    assert rollup.source_for(start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == "incident"
    assert rollup.source_for(columns=["compound_id"]) == "incident"
    assert rollup.source_for(rollup=False) == "incident"
