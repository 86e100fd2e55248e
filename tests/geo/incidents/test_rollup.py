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


#: The monthly and per-cell rollups (migration 0017) as stored, and counted from ``incident``.
MONTH_STORED = (f"SELECT region_code, status, month, n, on_time, handled, reworked "
                f"FROM {rollup.MONTH_TABLE} ORDER BY 1, 2, 3")
MONTH_FLY = (f"SELECT region_code, status, date_trunc('month', "
             f"{rollup.local_date_sql('reported_at')})::date, count(*), "
             f"count(*) FILTER (WHERE {rollup.flag_sql(rollup.ON_TIME_SQL)}), "
             f"count(*) FILTER (WHERE {rollup.flag_sql(rollup.HANDLED_SQL)}), "
             f"count(*) FILTER (WHERE {rollup.flag_sql(rollup.REWORKED_SQL)}) "
             "FROM incident GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
CELL_STORED = (f"SELECT region_code, boundary_set_id, township_code, cell_code, n, open "
               f"FROM {rollup.CELL_TABLE} ORDER BY 1, 2, 3, 4")
CELL_FLY = ("SELECT region_code, boundary_set_id, township_code, cell_code, count(*), "
            f"count(*) FILTER (WHERE {rollup.open_status_sql('status')}) FROM incident "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")


def assert_equal(conn: Connection) -> int:
    """The rollups (daily, monthly, per cell) equal the on-the-fly counts, hold no zero row,
    and one row per key."""
    roll, fly = both(conn)
    assert roll == fly
    assert conn.execute(text(f"SELECT count(*) FROM {rollup.TABLE} WHERE n <= 0")).scalar() == 0
    assert conn.execute(text(f"SELECT count(*) FROM {rollup.TABLE}")).scalar() == len(roll)
    for stored, counted in ((MONTH_STORED, MONTH_FLY), (CELL_STORED, CELL_FLY)):
        assert [tuple(r) for r in conn.execute(text(stored))] == [
            tuple(r) for r in conn.execute(text(counted))]
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
    for table in (rollup.MONTH_TABLE, rollup.CELL_TABLE):
        with engine.connect() as conn:
            assert_equal(conn)
            conn.execute(text(f"UPDATE {table} SET n = n + 1 WHERE id = "
                              f"(SELECT min(id) FROM {table})"))
            with pytest.raises(AssertionError):
                assert_equal(conn)
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


def test_month_pieces_equal_on_the_fly(demo_engine: Engine) -> None:
    """Counts over whole months read the monthly rollup, the ragged days around them the daily
    one, and answer what ``incident`` answers, for every caller; a month row off by one shows
    (so the monthly table did answer); callers scoped to cells or a department, and counts by
    a column the monthly rollup lacks, are answered from the daily rollup."""
    periods = [(None, None), (t("2026-01-01T00:00"), None), (None, t("2025-06-17T00:00")),
               (t("2025-03-15T00:00"), t("2026-02-10T00:00")),
               (t("2025-03-01T00:00"), t("2025-05-01T00:00")),
               (t("2025-03-05T00:00"), t("2025-03-20T00:00"))]
    assert rollup.months_for(dt.date(2025, 3, 15), dt.date(2026, 2, 10), ["status"]) == (
        dt.date(2025, 4, 1), dt.date(2026, 2, 1))
    assert rollup.months_for(dt.date(2025, 3, 5), dt.date(2025, 3, 20), ["status"]) is None
    assert rollup.months_for(None, None, ["cell_code"]) is None
    with demo_engine.connect() as conn:
        for who in [None, *principals(conn)]:
            for start, end in periods:
                for by in (["region_code", "status"], ["status"], ["cell_code"]):
                    got = [_sorted(rollup.counts(conn, who, by, start=start, end=end,
                                                 source=src), by[-1])
                           for src in ("rollup", "incident")]
                    assert got[0] == got[1], (who, start, end, by)
        conn.execute(text(f"UPDATE {rollup.MONTH_TABLE} SET n = n + 1 WHERE month = "
                          "'2025-04-01' AND status = 'closed'"))
        roll = rollup.counts(conn, BOSS, ["status"], start=t("2025-03-15T00:00"),
                             end=t("2026-02-10T00:00"), source="rollup")
        fly = rollup.counts(conn, BOSS, ["status"], start=t("2025-03-15T00:00"),
                            end=t("2026-02-10T00:00"), source="incident")
        assert _sorted(roll, "status") != _sorted(fly, "status")
        conn.rollback()


def test_cell_counts_equal_on_the_fly(demo_engine: Engine) -> None:
    """The overview's per-cell counts (all time: the per-cell rollup; whole days: the daily
    one) equal ``incident``'s, and the per-cell table is what answers all time."""
    def read(conn: Connection, **kw: Any) -> list[tuple[Any, ...]]:
        sql, params = rollup.cell_counts_sql(**kw)
        return sorted(tuple(r) for r in conn.execute(text(sql), params))

    with demo_engine.connect() as conn:
        for start, end in [(None, None), (t("2026-01-01T00:00"), t("2026-04-01T00:00"))]:
            fast = read(conn, start=start, end=end)
            assert fast == read(conn, start=start, end=end, rollup=False)
            assert sum(r[2] for r in fast) > 1000
        assert rollup.CELL_TABLE in rollup.cell_counts_sql()[0]
        assert rollup.CELL_TABLE not in rollup.cell_counts_sql(start=t("2026-01-01T00:00"))[0]
        assert "FROM incident" in rollup.cell_counts_sql(start=t("2026-01-01T08:00"))[0]


def test_overview_tiles_equal_on_the_fly(demo_engine: Engine) -> None:
    """The overview tile (per township at z7, per cell at z12) from the rollups answers the
    features, reports and open ones the on-the-fly tile answers, all time and for a month."""
    from geo.mapdata.incidents import overview_tile

    march = {"start": t("2026-03-01T00:00"), "end": t("2026-04-01T00:00")}
    with demo_engine.connect() as conn:
        for z, x, y in [(7, 103, 49), (12, 3312, 1573)]:
            for kw in ({}, march, {"regions": [REGION]}, {"regions": ["999999"]}):
                fast = overview_tile(conn, z, x, y, **kw)  # type: ignore[arg-type]
                slow = overview_tile(conn, z, x, y, use_rollup=False, **kw)  # type: ignore
                assert fast[:3] == slow[:3], (z, kw)
                assert (fast[0] > 0 and len(fast[3]) > 0) == (kw != {"regions": ["999999"]})


# --- the readers: the rollup path answers what the on-the-fly query answers -----------------

AS_OF = t("2026-10-20T10:00")


def principals(conn: Connection) -> list[Principal]:
    cells = frozenset(c for (c,) in conn.execute(text(
        "SELECT DISTINCT cell_code FROM incident WHERE cell_code IS NOT NULL "
        "ORDER BY 1 LIMIT 3")))
    dept = conn.execute(text("SELECT department_code FROM incident WHERE department_code IS "
                             "NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
    return [BOSS, Principal(user="w", role="worker", cell_codes=cells),
            Principal(user="d", role="department", department_code=dept),
            Principal(user="p", role="planner"),
            Principal(user="other", role="command", regions=frozenset({"999999"}))]


@pytest.fixture()
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources :func:`rollup.counts` read (to prove the rollup path ran)."""
    seen: list[str] = []
    real = rollup.counts

    def counts(*args: Any, **kw: Any) -> list[dict[str, Any]]:
        seen.append(kw.get("source") or rollup.source_for(start=kw.get("start"),
                                                          end=kw.get("end")))
        return real(*args, **kw)

    monkeypatch.setattr(rollup, "counts", counts)
    return seen


def _sorted(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r[key]))


def test_board_from_rollup_equals_on_the_fly(demo_engine: Engine, spy: list[str]) -> None:
    from geo.incidents.views import board

    with demo_engine.connect() as conn:
        for who in principals(conn):
            for period in ("all", "month", "week", "today"):
                fast = board(conn, who, REGION, AS_OF, period=period)
                slow = board(conn, who, REGION, AS_OF, period=period, use_rollup=False)
                for k in ("by_category", "by_township"):
                    key = "category_code" if k == "by_category" else "township_code"
                    assert _sorted(fast.pop(k), key) == _sorted(slow.pop(k), key), (who, k)
                assert fast == slow, (who, period)
        whole = board(conn, BOSS, REGION, AS_OF)
        assert sum(whole["by_status"].values()) > 10_000 and whole["overdue_total"] > 0
        assert board(conn, principals(conn)[1], REGION, AS_OF)["by_status"]
    assert spy and set(spy) == {"rollup"}


def test_counts_by_cell_from_rollup_equal_on_the_fly(demo_engine: Engine,
                                                     spy: list[str]) -> None:
    from geo.mapdata.incidents import incident_counts_by_cell
    from geo.periods import Period

    month = Period(start=t("2026-09-01T00:00"), end=t("2026-10-01T00:00"), as_of=AS_OF)
    odd = Period(start=t("2026-09-01T08:00"), end=t("2026-10-01T00:00"), as_of=AS_OF)
    with demo_engine.connect() as conn:
        for who in principals(conn):
            for period in (None, month, odd):
                fast = incident_counts_by_cell(conn, who, REGION, period)
                slow = incident_counts_by_cell(conn, who, REGION, period, use_rollup=False)
                assert _sorted(fast, "cell_code") == _sorted(slow, "cell_code"), (who, period)
        assert sum(r["total"] for r in incident_counts_by_cell(conn, BOSS, REGION, None)) > 10_000
    # 5 callers x (all, September) + the sum; the 08:00 start is answered on the fly
    assert spy == ["rollup"] * 11


@pytest.fixture(scope="module")
def called_back(admin_engine: Engine, demo_template: str) -> Iterator[Engine]:
    """The demo with callbacks (satisfied and not) on 40 cases closed in the KPI range."""
    from geo.incidents.callback import record_callback
    from tests.conftest import create_database, drop_database

    url = create_database(admin_engine, template=demo_template)
    e = create_engine(url)
    with e.begin() as conn:
        ids = conn.execute(text(
            "SELECT id FROM incident WHERE status = 'closed' AND reported_at >= "
            "'2026-07-01' AND reported_at < '2026-10-01' ORDER BY reported_at DESC LIMIT 40"),
        ).scalars().all()
        for k, i in enumerate(ids):
            record_callback(conn, i, BOSS, ("satisfied", "dissatisfied", "basically_satisfied")
                            [k % 3])
    yield e
    e.dispose()
    drop_database(admin_engine, url)


@pytest.mark.parametrize("group_by,period", [
    ("township", None), ("cell", None), ("department", None), ("worker", None),
    ("category", None), ("month", None), ("day", None), ("township", "month"),
    ("category", "week")])
def test_kpi_from_rollup_equals_on_the_fly(called_back: Engine, spy: list[str], group_by: str,
                                           period: str | None) -> None:
    from geo.incidents.kpi import kpi

    first, end = dt.date(2026, 7, 1), dt.date(2026, 10, 1)
    if group_by == "day":
        first = dt.date(2026, 9, 1)
    with called_back.connect() as conn:
        for who in principals(conn)[:4]:
            fast = kpi(conn, who, REGION, first, end, group_by, AS_OF, period)
            slow = kpi(conn, who, REGION, first, end, group_by, AS_OF, period, use_rollup=False)
            assert fast == slow, (who, group_by)
        total = kpi(conn, BOSS, REGION, first, end, group_by, AS_OF, period)["total"]
        assert total["reports"] > 500 and total["closed"] > 0 and total["due"] > total["closed"]
        assert total["avg_handling_h"] and 0 < total["satisfied"] < total["called_back"]
    assert "rollup" in spy
