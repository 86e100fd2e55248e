"""Batch work of the cells, compounds and cameras imports (geo.io.importer.batch): geometries
converted a batch at a time stay with their rows, and the set-based spatial statements (the
boundary checks, the stored coverage's triggers) run without bitmap scans and JIT, the
session's settings put back after them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import Engine, create_engine, event, text

from geo.io.importer import ImportOptions, batch, run_import

X0, Y0, STEP = 111.10, 38.48, 0.004


@pytest.fixture()
def empty_engine(empty_url: str) -> Iterator[Engine]:
    """A migrated, empty database."""
    from geo.db.migrate import upgrade

    engine = create_engine(empty_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _cells(tmp_path: Path, n: int = 4) -> Path:
    return _write(tmp_path / "cells.csv", ["code", "name", "wkt"], [
        [f"99900100100{i}{j}", f"网格{i}{j}",
         box(X0 + j * STEP, Y0 - (i + 1) * STEP, X0 + (j + 1) * STEP, Y0 - i * STEP).wkt]
        for i in range(n) for j in range(n)])


def _settings_at(engine: Engine, marker: str) -> list[tuple[str, str]]:
    """Record (enable_bitmapscan, jit) as each statement containing ``marker`` starts."""
    seen: list[tuple[str, str]] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if marker in statement:
            raw = conn.connection.driver_connection
            seen.append(tuple(raw.execute("SELECT current_setting('enable_bitmapscan'), "
                                          "current_setting('jit')").fetchone()))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_checks_and_coverage_run_without_bitmap_scans(empty_engine: Engine,
                                                      tmp_path: Path) -> None:
    with empty_engine.connect() as conn:  # the server's settings
        default = tuple(conn.execute(text("SELECT current_setting('enable_bitmapscan'), "
                                          "current_setting('jit')")).one())
    assert default != ("off", "off")
    checks = _settings_at(empty_engine, "ST_Relate(a.geom, b.geom")  # the overlaps check
    between = _settings_at(empty_engine, "UPDATE boundary_set SET checks = CAST")
    rep = run_import(empty_engine, "cells", _cells(tmp_path), ImportOptions(
        region="BATCH1", crs="EPSG:4490", wkt_field="wkt", commit=True, activate=True))
    assert rep.new == 16 and rep.checks is not None and rep.checks["ok"], rep.summary_lines()
    # the import's checks, with the batch settings; the activation right after takes them
    # (the set is not checked twice)
    assert checks == [("off", "off")]
    assert rep.activation is not None and rep.activation["checks"] == {
        k: v for k, v in rep.checks.items() if k != "content_hash"}
    assert between == [default]  # put back after the import's checks

    inserts = _settings_at(empty_engine, "INSERT INTO camera")
    cams = _write(tmp_path / "cams.csv", ["code", "bearing", "lon", "lat"], [
        [f"141123000013200000{k:02d}", 90, X0 + 0.001 + k * 0.003, Y0 - 0.002]
        for k in range(5)])
    rep = run_import(empty_engine, "cameras", cams, ImportOptions(
        region="BATCH1", crs="EPSG:4490", lon_field="lon", lat_field="lat", commit=True))
    assert rep.new == 5, rep.summary_lines()
    assert inserts == [("off", "off")]

    # the region the cells import created has its camera coverage stored (by the import, not
    # by a read): a read-only read takes the stored rows, equal to the on-the-fly answer
    from geo.analysis.common import region_metric_srid
    from geo.analysis.coverage import REGION_TABLE, coverage_by_unit
    from geo.boundaries.sets import set_valid_at

    with empty_engine.connect() as conn:
        conn.execute(text("SET TRANSACTION READ ONLY"))
        assert conn.execute(text(f"SELECT srid FROM {REGION_TABLE} WHERE region_code = "
                                 "'BATCH1'")).scalar() == region_metric_srid(conn, "BATCH1")
        set_id = set_valid_at(conn, "BATCH1", None)[0]
        got, want = (coverage_by_unit(conn, "BATCH1", "cell", set_id, stored=s).drop(
            columns="geometry").to_dict("records") for s in (True, False))
        assert got == want and len(got) == 16 and sum(r["covered_m2"] for r in got) > 0


def test_geometries_converted_in_batches_stay_with_their_rows(
        empty_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "EWKB_BATCH", 3)
    run_import(empty_engine, "cells", _cells(tmp_path), ImportOptions(
        region="BATCH1", crs="EPSG:4490", wkt_field="wkt", commit=True, activate=True))
    shapes = {f"XQ{k}": box(X0 + 0.001 * k, Y0 - 0.001 * (k + 1), X0 + 0.001 * (k + 1),
                            Y0 - 0.001 * k) for k in range(8)}
    rows = [[code, "company" if code != "XQ4" else "nonsense", g.wkt]
            for code, g in shapes.items()]  # XQ4 refused: the batches around it shift
    rep = run_import(empty_engine, "compounds", _write(
        tmp_path / "compounds.csv", ["code", "mgmt_mode", "wkt"], rows), ImportOptions(
        region="BATCH1", crs="EPSG:4490", wkt_field="wkt", commit=True, skip_refused=True))
    assert rep.new == 7 and len(rep.refused) == 1, rep.summary_lines()
    with empty_engine.connect() as conn:
        stored = dict(conn.execute(text(
            "SELECT code, ST_AsBinary(geom) FROM compound WHERE region_code = 'BATCH1'")).all())
    assert set(stored) == set(shapes) - {"XQ4"}
    for code, wkb in stored.items():
        assert shapely.equals(shapely.from_wkb(bytes(wkb)), shapes[code]), code


def _coverage_and_sectors(engine: Engine, region: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The stored coverage per cell and each camera's sector (hex EWKB) of ``region``; the
    stored coverage equals the on-the-fly one."""
    from geo.analysis.coverage import CELL_TABLE, coverage_by_unit
    from geo.boundaries.sets import set_valid_at

    with engine.connect() as conn:
        set_id = set_valid_at(conn, region, None)[0]
        got, want = (coverage_by_unit(conn, region, "cell", set_id, stored=s).drop(
            columns="geometry").to_dict("records") for s in (True, False))
        assert got == want and len(got) > 0
        stored = {r[0]: tuple(r[1:]) for r in conn.execute(text(
            f"SELECT g.code, v.* FROM {CELL_TABLE} v JOIN grid_cell g ON g.id = v.cell_id "
            "WHERE g.region_code = :r"), {"r": region})}
        sectors = dict(conn.execute(text(
            "SELECT gb_id, encode(ST_AsEWKB(sector), 'hex') FROM camera WHERE region_code = :r"
            ), {"r": region}).all())
        # the sector is the one rule's (wangge_camera_sector), whichever path wrote it
        assert conn.execute(text(
            "SELECT count(*) FROM camera WHERE region_code = :r AND sector IS DISTINCT FROM "
            "wangge_camera_sector(geom, bearing_deg, fov_deg, range_m)"), {"r": region}
        ).scalar_one() == 0
        # the coverage triggers are on again after the import
        assert set(conn.execute(text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'camera'::regclass AND "
            "tgname LIKE 'trg_camera_coverage%'")).all()) == {
            ("trg_camera_coverage_ins", "O"), ("trg_camera_coverage_upd", "O"),
            ("trg_camera_coverage_del", "O")}
    return stored, sectors


def test_bulk_cameras_import_stores_the_coverage_the_triggers_store(
        empty_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk cameras import (its thresholds lowered for a small file) turns the coverage
    triggers off and recomputes the region's stored coverage once: the same stored coverage
    and sectors as the per-statement triggers give for the same file, for a first load and for
    a re-import that turns, moves and switches off cameras (the old cells recomputed too).
    Indexes and foreign keys are made once for a first load only (an index made again after
    the re-import's UPDATE would be unusable for the refresh in the same transaction)."""
    from geo.io.importer import cameras, staging

    run_import(empty_engine, "cells", _cells(tmp_path, 6), ImportOptions(
        region="BATCH1", crs="EPSG:4490", wkt_field="wkt", commit=True, activate=True))
    n = 60
    first = [[f"1411230000132000{k:04d}", (k * 37) % 360 if k % 7 else "",
              [60, 90, 120, 360][k % 4], [30, 80, 150, 300][k % 4],
              ["在线", "online", "离线"][k % 3],
              X0 + 0.0005 + (k % 10) * 0.0023, Y0 - 0.0005 - (k // 10) * 0.0039]
             for k in range(n)]
    second = [[r[0], (int(r[1] or 0) + 90) % 360, r[2], r[3], "fault" if k % 5 == 0 else r[4],
               r[5] + (0.004 if k % 6 == 0 else 0), r[6]] for k, r in enumerate(first)]
    header = ["code", "bearing", "fov", "range", "status", "lon", "lat"]
    opts = ImportOptions(region="BATCH1", crs="EPSG:4490", lon_field="lon", lat_field="lat",
                         commit=True)
    files = [_write(tmp_path / f"cams{i}.csv", header, rows)
             for i, rows in enumerate((first, second))]
    results = {}
    # both bulk steps (coverage once, indexes and foreign keys once), the coverage once only
    # (from cameras.BULK_CAMERAS rows, below staging.BULK_ROWS), then the triggers' path
    for bulk_rows, bulk_cameras in ((10, 10), (staging.BULK_ROWS, 10),
                                    (staging.BULK_ROWS, cameras.BULK_CAMERAS)):
        monkeypatch.setattr(staging, "BULK_ROWS", bulk_rows)
        monkeypatch.setattr(cameras, "BULK_CAMERAS", bulk_cameras)
        with empty_engine.begin() as conn:  # the delete trigger clears the stored coverage
            conn.execute(text("DELETE FROM camera"))
        runs = []
        for path, new in zip(files, (n, 0), strict=True):
            rep = run_import(empty_engine, "cameras", path, opts)
            assert rep.committed and rep.new == new and rep.new + rep.updated == n, (
                rep.summary_lines())
            notes = [x for x in rep.notes if x.startswith("批量导入")]
            assert [("覆盖" in x, "索引" in x) for x in notes] == (
                [(True, False)] if bulk_cameras == 10 else []) + (
                [(False, True)] if bulk_rows == 10 and new else []), rep.notes
            runs.append(_coverage_and_sectors(empty_engine, "BATCH1"))
        results[bulk_rows, bulk_cameras] = runs
    bulk, coverage_only, triggers = results.values()
    assert bulk == coverage_only == triggers
    (cov1, _), (cov2, _) = bulk
    assert cov1 != cov2 and sum(v[1] for v in cov1.values()) > 0  # the re-import changed it
