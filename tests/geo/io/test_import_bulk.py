"""The bulk path of the incident import (issue 20 target 2): the secondary indexes and foreign
keys of ``incident`` and of the rollup its trigger writes are dropped for the load and made
again, the same ones; the rollups equal the incidents after it; a re-import changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text

from geo.incidents import rollup
from geo.io.importer import ImportOptions, run_import, staging
from tests.geo.incidents.test_rollup import assert_equal

REGION = "141123"
_DEFINITIONS = text("""
SELECT 'index', pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = CAST(:t AS regclass)
UNION ALL
SELECT 'constraint ' || conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = CAST(:t AS regclass)
ORDER BY 1, 2
""")


def definitions(conn: Connection) -> dict[str, list[tuple[str, str]]]:
    """Every index and constraint of the incident table and of its daily rollup."""
    return {t: [tuple(r) for r in conn.execute(_DEFINITIONS, {"t": t})]
            for t in ("incident", rollup.TABLE)}


@pytest.fixture()
def engine(fresh_demo_url: str) -> Iterator[Engine]:
    e = create_engine(fresh_demo_url)
    yield e
    e.dispose()


def test_bulk_import_rebuilds_what_it_dropped(engine: Engine, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with engine.connect() as conn:
        before = definitions(conn)
        demo = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        cells = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
            "g JOIN boundary_set b ON b.id = g.boundary_set_id AND b.is_active "
            "WHERE g.kind = 'basic' ORDER BY g.code LIMIT 40) s")).all()
    # more rows than the table holds: the bulk path (its threshold lowered for a small file)
    n = demo + 5_000
    monkeypatch.setattr(staging, "BULK_ROWS", 1_000)
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(cells), n)
    df = pd.DataFrame({
        "code": [f"BULK{k:06d}" for k in range(n)],
        "category": rng.choice(["water", "power", "road"], n),
        "time": [f"2025-{1 + k % 12:02d}-{1 + k % 28:02d} {k % 24:02d}:{k % 60:02d}"
                 for k in range(n)],
        "lon": [cells[i][0] for i in pick], "lat": [cells[i][1] for i in pick]})
    path = tmp_path / "bulk.csv"
    df.to_csv(path, index=False)
    rep = run_import(engine, "incidents", path, ImportOptions(region=REGION, commit=True))
    assert rep.committed and rep.new == n and rep.routed == n, rep.summary_lines()
    bulk = [x for x in rep.notes if x.startswith("批量导入")]
    assert bulk and rollup.TABLE in bulk[0], rep.notes
    with engine.connect() as conn:
        assert definitions(conn) == before  # the same indexes and constraints again
        assert assert_equal(conn) == demo + n
        assert conn.execute(text(
            "SELECT count(*) FROM incident WHERE code LIKE 'BULK%' AND cell_code IS NULL"
        )).scalar_one() == 0
    # the same file again: not bulk (the table holds more), nothing changes
    again = run_import(engine, "incidents", path, ImportOptions(region=REGION, commit=True))
    assert again.new == 0 and again.updated == 0 and again.unchanged == n
    assert not [x for x in again.notes if x.startswith("批量导入")]
    with engine.connect() as conn:
        assert definitions(conn) == before
        assert assert_equal(conn) == demo + n


def migrated(url: str) -> Engine:
    """An engine of the empty database ``url`` with PostGIS and the migrations."""
    from geo.db.migrate import upgrade

    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        conn.commit()
    upgrade(engine)
    return engine


def grid(engine: Engine, tmp_path: Path, region: str) -> tuple[float, float, float]:
    """A 4 x 4 grid of cells of ``region``, active: its south-west corner and cell size."""
    x0, y0, step = 111.0, 38.5, 0.01
    cells = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f"F{i}{j}"}, "geometry": {
            "type": "Polygon", "coordinates": [[
                [x0 + j * step, y0 + i * step], [x0 + (j + 1) * step, y0 + i * step],
                [x0 + (j + 1) * step, y0 + (i + 1) * step],
                [x0 + j * step, y0 + (i + 1) * step], [x0 + j * step, y0 + i * step]]]}}
        for i in range(4) for j in range(4)]}
    path = tmp_path / f"grid_{region}.geojson"
    path.write_text(json.dumps(cells))
    rep = run_import(engine, "cells", path, ImportOptions(
        region=region, crs="EPSG:4490", commit=True, activate=True,
        valid_from=dt.date(2020, 1, 1)))
    assert rep.committed, rep.summary_lines()
    return x0, y0, step


def test_first_load_copies_straight_into_incident(empty_url: str, tmp_path: Path) -> None:
    """A region's first load COPYs into ``incident`` without staging (no ``stg_incident``);
    a file with a repeated code or a code of the intake's own form goes through staging as
    before (the last repeated row counts; the reserved code refused); a later load of the
    region is staged and merged; every time the rollups equal the incidents."""
    engine = migrated(empty_url)
    staged: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "stg_incident" in statement:
            staged.append(statement)

    try:
        x0, y0, _ = grid(engine, tmp_path, "DIR1")
        for region in ("DIR2", "DIR3"):
            grid(engine, tmp_path, region)
        event.listen(engine, "before_cursor_execute", seen)
        n = 200
        df = pd.DataFrame({
            "code": [f"D{k:04d}" for k in range(n)],
            "category": ["water", "power", "nosuch"] * 66 + ["water", "power"],
            "time": [f"2025-03-{1 + k % 28:02d} {k % 24:02d}:00" for k in range(n)],
            "lon": [x0 + 0.001 + 0.0001 * k for k in range(n)],
            "lat": [y0 + 0.001 + 0.0001 * k for k in range(n)],
            "description": ["one, \"two\"\nthree"] * n})
        df.loc[5, "time"] = "1999-01-01 00:00"  # refused on the way, as before
        path = tmp_path / "first.csv"
        df.to_csv(path, index=False)
        opts = {"commit": True, "skip_refused": True}
        rep = run_import(engine, "incidents", path, ImportOptions(region="DIR1", **opts))
        assert rep.committed and rep.new == n - 1 and rep.routed == n - 1, rep.summary_lines()
        assert rep.refused_count == 1 and not staged, staged[:1]
        with engine.connect() as conn:
            assert assert_equal(conn) == n - 1
            assert conn.execute(text(
                "SELECT description FROM incident WHERE code = 'D0002'")).scalar_one() == \
                "one, \"two\"\nthree"
        # a repeated code: staged, the last row counts
        df.loc[9, "code"] = "D0003"
        df.to_csv(path, index=False)
        rep = run_import(engine, "incidents", path, ImportOptions(region="DIR2", **opts))
        assert rep.committed and rep.duplicates == 1 and rep.new == n - 2, rep.summary_lines()
        assert staged
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT reported_at FROM incident WHERE region_code = 'DIR2' AND code = 'D0003'"
            )).scalar_one() == dt.datetime(2025, 3, 10, 1, tzinfo=dt.UTC)
            assert assert_equal(conn) == 2 * n - 3
        # a code of the intake's own form: staged, refused after the others
        staged.clear()
        df.loc[9, "code"] = "SJ20250101N0000001"
        df.to_csv(path, index=False)
        rep = run_import(engine, "incidents", path, ImportOptions(region="DIR3", **opts))
        assert rep.committed and rep.new == n - 2 and staged, rep.summary_lines()
        assert rep.refused_reasons.get("reserved code") == 1, rep.refused_reasons
        assert rep.refused[-1]["code"] == "SJ20250101N0000001", rep.refused
        # the region's next load: staged and merged
        staged.clear()
        again = run_import(engine, "incidents", path, ImportOptions(region="DIR3", **opts))
        assert again.unchanged == n - 2 and staged, again.summary_lines()
        with engine.connect() as conn:
            assert assert_equal(conn) == 3 * n - 5
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()


def test_first_bulk_load_of_a_region_adds_rollups_once(empty_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A region's first bulk load runs without the rollups' insert trigger and adds the
    rollups once at the end (:func:`geo.incidents.rollup.bulk_load`), counted in process as
    the rows go by (:class:`geo.incidents.rollup.DayGroups`, no grouped INSERT), or, when
    they are too many groups to hold, by grouped INSERTs: either way they equal the on-the-fly
    counts of the incidents (the SQL rule), the trigger is on again, the daily rollup's unique
    key is the same, and a later import (updates and new rows, through the trigger) keeps them
    equal."""
    engine = migrated(empty_url)
    grouped: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(f"INSERT INTO {rollup.TABLE} "):
            grouped.append(statement)

    try:
        x0, y0, step = grid(engine, tmp_path, "FIRST1")
        grid(engine, tmp_path, "FIRST2")
        with engine.connect() as conn:
            before = definitions(conn)
        event.listen(engine, "before_cursor_execute", seen)
        monkeypatch.setattr(staging, "BULK_ROWS", 1_000)
        n = 3_000
        rng = np.random.default_rng(3)
        df = pd.DataFrame({
            "code": [f"FIRST{k:05d}" for k in range(n)],
            "category": rng.choice(["water", "power", "road"], n),
            "time": [f"2025-{1 + k % 12:02d}-{1 + k % 28:02d} {k % 24:02d}:00" for k in range(n)],
            "lon": x0 + rng.uniform(0.0005, 4 * step - 0.0005, n),
            "lat": y0 + rng.uniform(0.0005, 4 * step - 0.0005, n)})
        df.loc[7, ["lon", "lat"]] = None  # no location: needs_location, counted as such
        # before the grid's validity (2020): located, in no cell (NULL keys of the rollup)
        df.loc[11:20, "time"] = [f"2019-06-{1 + k:02d} 23:30" for k in range(10)]
        path = tmp_path / "first.csv"
        df.to_csv(path, index=False)
        rep = run_import(engine, "incidents", path, ImportOptions(region="FIRST1", commit=True))
        assert rep.committed and rep.new == n and rep.routed == n - 11, rep.summary_lines()
        assert [x for x in rep.notes if x.startswith("区域首次批量导入")], rep.notes
        assert not grouped, grouped[:1]  # counted in process
        with engine.connect() as conn:
            assert definitions(conn) == before
            assert assert_equal(conn) == n
            assert conn.execute(text(
                "SELECT tgenabled FROM pg_trigger WHERE tgname = :t"),
                {"t": rollup.INSERT_TRIGGER}).scalar_one() == "O"
        # the next import of the region: updates and new rows, the trigger keeps the rollups
        df.loc[:99, "category"] = "power"
        more = pd.concat([df, df.iloc[:50].assign(code=[f"MORE{k}" for k in range(50)])])
        more.to_csv(path, index=False)
        again = run_import(engine, "incidents", path, ImportOptions(region="FIRST1",
                                                                    commit=True))
        assert again.committed and again.new == 50, again.summary_lines()
        assert not [x for x in again.notes if x.startswith("区域首次批量导入")]
        with engine.connect() as conn:
            assert assert_equal(conn) == n + 50
        # another region's first load of more groups than are held: the grouped INSERT
        monkeypatch.setattr(rollup.DayGroups, "MAX_GROUPS", 10)
        monkeypatch.setattr(rollup.DayGroups, "PENDING", 100)
        pd.concat([df, df.assign(code=[f"TWICE{k:05d}" for k in range(n)])]).to_csv(
            path, index=False)
        rep = run_import(engine, "incidents", path, ImportOptions(region="FIRST2", commit=True,
                                                                  status="closed"))
        assert rep.committed and rep.new == 2 * n and grouped, rep.summary_lines()
        assert [x for x in rep.notes if x.startswith("区域首次批量导入")], rep.notes
        with engine.connect() as conn:
            assert definitions(conn) == before
            assert assert_equal(conn) == 3 * n + 50
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()


def test_times_with_mixed_offsets_take_the_row_by_row_path(empty_url: str,
                                                           tmp_path: Path) -> None:
    """A time column pandas cannot read as one (offsets that differ from row to row) sends
    every row of the chunk through the row-by-row checks: stored at the right instants, never
    an error (the column-at-a-time path compared such a column with the bounds and failed)."""
    engine = migrated(empty_url)
    try:
        path = tmp_path / "mixed.csv"
        pd.DataFrame({"code": ["M1", "M2", "M3"], "category": ["water"] * 3,
                      "time": ["2025-01-01T00:00:00+08:00", "2025-01-01T00:00:00+00:00",
                               "2025-01-01 08:00"],
                      "lon": [111.1, 111.2, 111.3], "lat": [38.4, 38.5, 38.6]}
                     ).to_csv(path, index=False)
        rep = run_import(engine, "incidents", path, ImportOptions(region="MIX1", commit=True))
        assert rep.committed and rep.new == 3, rep.summary_lines()
        with engine.connect() as conn:
            got = dict(conn.execute(text(
                "SELECT code, reported_at FROM incident WHERE region_code = 'MIX1'")).all())
        utc = dt.UTC
        assert got == {"M1": dt.datetime(2024, 12, 31, 16, tzinfo=utc),
                       "M2": dt.datetime(2025, 1, 1, 0, tzinfo=utc),
                       "M3": dt.datetime(2025, 1, 1, 0, tzinfo=utc)}
    finally:
        engine.dispose()


def test_texts_the_intake_refuses_are_refused(empty_url: str, tmp_path: Path) -> None:
    """A row whose description (or place, reporter name or phone) is longer than a report
    through POST /incidents may be, or holds a control character the intake refuses (a NUL
    byte, a bidirectional override: geo.io.text), is refused with the intake's message, on
    the first-load path and after it; the other rows go in (review round 12, L2: a
    5,000,000-character description was stored; review 14: a NUL byte in a description was a
    500 from the import endpoint and a psycopg traceback in the CLI, with nothing named)."""
    engine = migrated(empty_url)
    try:
        for n, region in enumerate(("LEN1", "LEN1")):  # the first load, then a second one
            path = tmp_path / f"long{n}.csv"
            pd.DataFrame({"code": [f"L{n}{c}" for c in "abcde"], "category": ["water"] * 5,
                          "time": ["2025-01-01 08:00"] * 5,
                          "description": ["正常", "x" * 5001, None, "a\x00b", None],
                          "reporter_name": [None, None, None, None, "张\u202e三"],
                          "reporter_phone": [None, None, "1" * 33, None, None],
                          "lon": [111.1, 111.2, 111.3, 111.1, 111.2],
                          "lat": [38.4, 38.5, 38.6, 38.4, 38.5]}
                         ).to_csv(path, index=False)
            rep = run_import(engine, "incidents", path,
                             ImportOptions(region=region, commit=True, skip_refused=True))
            assert rep.committed and rep.new == 1, rep.summary_lines()
            text_ = "\n".join(rep.summary_lines())
            assert "description is longer than 5000" in text_, text_
            assert "reporter_phone is longer than 32" in text_, text_
            assert "description holds the control character U+0000" in text_, text_
            assert "reporter_name holds the control character U+202E" in text_, text_
            assert rep.refused_reasons == {"too long": 2, "control character": 2}, \
                rep.refused_reasons
        with engine.connect() as conn:
            got = sorted(conn.execute(text(
                "SELECT code FROM incident WHERE region_code = 'LEN1'")).scalars())
        assert got == ["L0a", "L1a"]
    finally:
        engine.dispose()


def test_copy_refuses_what_postgresql_cannot_store(empty_url: str) -> None:
    """Any layer's values go through the COPY writers' gate: a NUL byte or a lone surrogate
    is an InvalidInput naming the row and the field (never the database's encoding error,
    a 500)."""
    from geo.errors import InvalidInput
    from geo.io.importer.staging import copy_frames, copy_rows

    engine = migrated(empty_url)
    try:
        for write in ("rows", "frames"):
            with engine.begin() as conn:
                conn.execute(text("CREATE TEMP TABLE stg_x (_rn int, name text) "
                                  "ON COMMIT DROP"))
                values = ["ok", "bad\x00", "also"]
                with pytest.raises(InvalidInput) as err:
                    if write == "rows":
                        copy_rows(conn, "stg_x", ["_rn", "name"],
                                  iter([(i, v) for i, v in enumerate(values)]))
                    else:
                        copy_frames(conn, "stg_x", iter([{"_rn": [0, 1, 2], "name": values}]))
                assert "第 2 行字段 name" in err.value.message, err.value.message
                assert "NUL" in err.value.message, err.value.message
    finally:
        engine.dispose()


#: descriptions COPY could mistake for its NULL marker, an escape or the end of the data
AWKWARD = ["NULL", "\\N", "a\\b", "\\", "a\tb", "a\nb", "\\.", '"', ",", "null", " NULL "]


def test_awkward_texts_round_trip_exactly(empty_url: str, tmp_path: Path) -> None:
    """A description of literally ``NULL``, ``\\N``, a backslash, a tab, a newline (and
    ``\\.``, COPY's end of data) is stored as written, never as SQL NULL or cut: on a
    region's first load (COPY straight into ``incident``), through staging (a repeated code
    sends it there) and on a later, merged load (review: ``NULL`` was stored as NULL)."""
    engine = migrated(empty_url)
    try:
        n = len(AWKWARD)
        for region, repeat in (("AWK1", False), ("AWK2", True), ("AWK1", False)):
            codes = [f"W{k:02d}" for k in range(n)] + (["W00"] if repeat else [])
            descs = [*AWKWARD, AWKWARD[0]] if repeat else AWKWARD
            path = tmp_path / f"awkward_{region}.csv"
            pd.DataFrame({"code": codes, "category": ["water"] * len(codes),
                          "time": ["2025-01-01 08:00"] * len(codes), "description": descs,
                          "lon": [111.1] * len(codes), "lat": [38.4] * len(codes)}
                         ).to_csv(path, index=False)
            rep = run_import(engine, "incidents", path, ImportOptions(region=region,
                                                                      commit=True))
            assert rep.committed, rep.summary_lines()
            with engine.connect() as conn:
                got = dict(conn.execute(text(
                    "SELECT code, description FROM incident WHERE region_code = :r"),
                    {"r": region}).all())
            assert got == {f"W{k:02d}": d for k, d in enumerate(AWKWARD)}, region
    finally:
        engine.dispose()
