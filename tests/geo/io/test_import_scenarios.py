"""Scenario D (redrawn grid as a Gauss-Kruger Shapefile), Chicago acceptance, SIGKILL."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from geo.auth.principal import Principal
from geo.boundaries.activate import activate_set
from geo.crs.transforms import transform_geometry
from geo.io.export import export_layer
from geo.io.importer import ImportOptions, run_import
from geo.lookup.postgis import cell_at
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
# ../shared beside the checkout (as in CI); WANGGE_SHARED_DIR for other layouts (worktrees)
SHARED = Path(os.environ.get("WANGGE_SHARED_DIR") or REPO_ROOT.parent / "shared")
CHICAGO = SHARED / "data" / "realworld" / "chicago"
ADMIN = Principal(user="test", role="admin")


@pytest.fixture()
def demo_rw(fresh_demo_url: str) -> Any:
    """A private demo database (writes allowed)."""
    engine = create_engine(fresh_demo_url)
    yield engine
    engine.dispose()


def _zip_gdf(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    folder = path.with_suffix("")
    folder.mkdir()
    pyogrio.write_dataframe(gdf, folder / "grid.shp", encoding="UTF-8")
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return path


_PAIRS = text("""
SELECT DISTINCT ON (a.parent_code) a.code AS a, b.code AS b, a.parent_code
FROM grid_cell a JOIN grid_cell b ON b.boundary_set_id = a.boundary_set_id
 AND a.code < b.code AND a.parent_code = b.parent_code AND b.kind = 'basic'
 AND ST_Intersects(a.geom, b.geom)
JOIN boundary_set s ON s.id = a.boundary_set_id AND s.is_active AND s.region_code = '141123'
WHERE a.kind = 'basic'
  AND ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))::geography) > 300
ORDER BY a.parent_code, a.code, b.code LIMIT 4
""")


def test_scenario_d_redrawn_grid(demo_rw: Engine, tmp_path: Path) -> None:
    """New boundaries arrive as a zipped Shapefile in EPSG:4546: the dry run reports 3
    overlaps and one gap with their areas; the repaired file imports into a new set, is
    checked and switched on; an incident of last year still resolves to its old cell."""
    with demo_rw.connect() as conn:
        pairs = conn.execute(_PAIRS).mappings().all()
        exported = export_layer(conn, ADMIN, "cells", "shp", "141123", crs="EPSG:4546")
        old_set = conn.execute(text("SELECT id FROM boundary_set WHERE is_active AND "
                                    "region_code = '141123'")).scalar_one()
    assert len(pairs) == 4
    folder = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
        zf.extractall(folder)
    grid = pyogrio.read_dataframe(next(folder.glob("*.shp")))
    assert grid.crs.to_epsg() == 4546
    by_code = {c: i for i, c in enumerate(grid["code"])}

    def strip(a: str, b: str) -> Any:  # the part of b within 20 m of a (metres: EPSG:4546)
        ga, gb = grid.geometry.iloc[by_code[a]], grid.geometry.iloc[by_code[b]]
        return gb.intersection(ga.buffer(20.0))

    broken = grid.copy()
    for p in pairs[:3]:  # a grows into b: an overlap
        i = by_code[p["a"]]
        broken.loc[i, "geometry"] = broken.geometry.iloc[i].union(strip(p["a"], p["b"]))
    gap_pair = pairs[3]  # b shrinks away from a: a gap
    j = by_code[gap_pair["b"]]
    gap_strip = strip(gap_pair["a"], gap_pair["b"])
    broken.loc[j, "geometry"] = broken.geometry.iloc[j].difference(gap_strip)
    broken_zip = _zip_gdf(broken, tmp_path / "grid_broken.zip")

    dry = run_import(demo_rw, "cells", broken_zip, ImportOptions(region="141123"))
    assert dry.dry_run and dry.crs["source"] == "EPSG:4546"
    assert dry.checks is not None
    assert dry.checks["overlap_count"] == 3 and dry.checks["gap_count"] == 1, dry.summary_lines()
    assert dry.checks["gaps"][0]["area_m2"] == pytest.approx(gap_strip.area, rel=0.02)
    assert all(o["area_m2"] > 1000 for o in dry.checks["overlaps"])
    assert {(o["a"], o["b"]) for o in dry.checks["overlaps"]} == {
        (p["a"], p["b"]) for p in pairs[:3]}
    assert dry.updated == 4 and dry.new == 0
    with demo_rw.connect() as conn:
        n_sets = conn.execute(text("SELECT count(*) FROM boundary_set")).scalar_one()
    assert n_sets == 1  # nothing written by the dry run

    # the repaired file: the boundary between the first pair moved, everything else as before
    moved = pairs[0]
    ia, ib = by_code[moved["a"]], by_code[moved["b"]]
    moved_strip = strip(moved["a"], moved["b"])
    repaired = grid.copy()
    repaired.loc[ia, "geometry"] = grid.geometry.iloc[ia].union(moved_strip)
    repaired.loc[ib, "geometry"] = grid.geometry.iloc[ib].difference(moved_strip)
    repaired_zip = _zip_gdf(repaired, tmp_path / "grid_repaired.zip")
    rep = run_import(demo_rw, "cells", repaired_zip, ImportOptions(
        region="141123", commit=True, set_name="兴县网格 2026 重划"))
    assert rep.committed and rep.checks and rep.checks["ok"], rep.summary_lines()
    assert (rep.new, rep.updated, rep.removed) == (0, 2, 0)
    with demo_rw.begin() as conn:
        res = activate_set(conn, "141123", "兴县网格 2026 重划")
    assert res["previous"] and res["valid_from"] == dt.date.today().isoformat()

    # a point in the strip that changed hands: last year's cell vs today's
    pt = transform_geometry(moved_strip.representative_point(), "EPSG:4546", "EPSG:4490")
    last_year = dt.date(dt.date.today().year - 1, 6, 1)
    with demo_rw.connect() as conn:
        assert cell_at(conn, pt.x, pt.y, "141123", at=last_year).code == moved["b"]
        assert cell_at(conn, pt.x, pt.y, "141123").code == moved["a"]
        # the demo's incidents of last year keep their cells and old boundary set
        stale = conn.execute(text(
            "SELECT count(*) FROM incident WHERE region_code = '141123' AND "
            "reported_at < now() - interval '60 days' AND boundary_set_id <> :s"),
            {"s": old_set}).scalar_one()
        assert stale == 0
    # an incident of last year imported today resolves to the cell of its date
    csv = tmp_path / "late.csv"
    pd.DataFrame({"code": ["LATE1"], "category": ["water"],
                  "time": [f"{last_year.isoformat()} 09:00"], "lon": [pt.x],
                  "lat": [pt.y]}).to_csv(csv, index=False)
    late = run_import(demo_rw, "incidents", csv, ImportOptions(region="141123", commit=True))
    assert late.committed
    with demo_rw.connect() as conn:
        got = conn.execute(text("SELECT cell_code, boundary_set_id FROM incident WHERE code = "
                                "'LATE1'")).one()
    assert tuple(got) == (moved["b"], old_set)


@pytest.mark.realworld
@pytest.mark.skipif(not CHICAGO.exists(), reason="../shared/data/realworld/chicago is absent")
def test_chicago_beats_and_crimes(empty_url: str) -> None:
    """Chicago police beats as cells (a new region, no parents), 2017 crimes as incidents:
    the assigned cell equals the official beat label at least as often as shapely finds the
    label's polygon strictly containing the point, and the label is among the answer's
    boundary candidates (10 m) for >= 99.9% of the crimes."""
    from geo.db.migrate import upgrade

    engine = create_engine(empty_url)
    upgrade(engine)
    beats_file = CHICAGO / "police_beats_evz_2014.geojson"
    crimes_file = CHICAGO / "chicago_crimes_2017_englewood_jaspreetKsohal.csv"
    rep = run_import(engine, "cells", beats_file, ImportOptions(
        region="CHI001", region_name="Chicago", crs="EPSG:4326", code_field="BEAT_NUM",
        valid_from=dt.date(2012, 12, 19), commit=True, activate=True))
    assert rep.committed and rep.new == 275 and rep.rows == 277
    assert [m["code"] for m in rep.merged] == ["3100"]
    assert rep.activation is not None
    inc = run_import(engine, "incidents", crimes_file, ImportOptions(
        region="CHI001", code_field="id", category_field="primary_type",
        default_category="other", time_field="date", timezone="America/Chicago",
        channel="110", lon_field="longitude", lat_field="latitude", commit=True))
    assert inc.committed and inc.new == 12_000 and inc.refused_count == 0
    crimes = pd.read_csv(crimes_file, dtype=str)
    label = dict(zip(crimes["id"], crimes["beat"].str.zfill(4), strict=True))
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT i.code, i.cell_code, ST_X(i.geom) AS x, ST_Y(i.geom) AS y,
                   ARRAY(SELECT g.code FROM grid_cell g
                         WHERE g.boundary_set_id = i.boundary_set_id AND g.kind = 'basic'
                           AND g.geom && ST_Expand(i.geom, 0.0002)
                           AND (ST_Covers(g.geom, i.geom)
                                OR ST_DWithin(g.geom::geography, i.geom::geography, 10)))
                   AS candidates
            FROM incident i WHERE i.region_code = 'CHI001'""")).mappings().all()
        # the lookup's own answer on a sample agrees with set-based routing
        for r in rows[:200]:
            hit = cell_at(conn, r["x"], r["y"], "CHI001", with_geometry=False,
                          at=dt.date(2017, 6, 1))
            assert hit.code == r["cell_code"]
            assert set(hit.candidates) == set(r["candidates"])
    n = len(rows)
    strict = sum(label[r["code"]] == r["cell_code"] for r in rows) / n
    cand = sum(label[r["code"]] in r["candidates"] for r in rows) / n
    # shapely's strict share: the labelled beat's polygon contains the point
    beats = gpd.read_file(beats_file)
    polys: dict[str, Any] = {}
    for code, g in zip(beats["BEAT_NUM"], beats.geometry, strict=True):
        polys[code] = g if code not in polys else polys[code].union(g)
    pts = dict(zip(crimes["id"], shapely.points(crimes["longitude"].astype(float),
                                               crimes["latitude"].astype(float)), strict=True))
    shapely_strict = float(np.mean([polys[label[k]].contains(p) if label[k] in polys else False
                                    for k, p in pts.items()]))
    assert shapely_strict > 0.85
    assert strict >= shapely_strict, (strict, shapely_strict)
    assert cand >= 0.999, cand
    engine.dispose()


def _big_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    lon = 111.13 + rng.uniform(-0.02, 0.02, n)
    lat = 38.46 + rng.uniform(-0.012, 0.012, n)
    day = rng.integers(0, 600, n)
    t = (pd.Timestamp("2025-01-01") + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d 10:00")
    pd.DataFrame({"code": [f"BIG{i:08d}" for i in range(n)], "category": "water",
                  "time": t, "lon": np.round(lon, 7), "lat": np.round(lat, 7)}).to_csv(
        path, index=False)


def test_sigkill_half_way_leaves_nothing(fresh_demo_url: str, tmp_path: Path) -> None:
    """Kill an import of a large file half-way: nothing partial is visible; a rerun
    completes (the import is one transaction)."""
    path = tmp_path / "big.csv"
    n = 60_000
    _big_csv(path, n)
    env = {**os.environ, "WANGGE_DATABASE_URL": fresh_demo_url}
    cmd = [sys.executable, "-c", "from api.cli import main; main()", "import", "incidents",
           str(path), "--region", "141123", "--commit", "--chunk-rows", "5000"]
    engine = create_engine(fresh_demo_url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        if line.startswith("progress:"):
            seen += 1
            if seen == 6:  # 30,000 of 60,000 rows streamed into the transaction
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the import ended before it was killed"
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        big = conn.execute(text("SELECT count(*) FROM incident WHERE code LIKE 'BIG%'")
                           ).scalar_one()
    assert after == before and big == 0
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with engine.connect() as conn:
        big = conn.execute(text("SELECT count(*) FROM incident WHERE code LIKE 'BIG%'")
                           ).scalar_one()
        routed = conn.execute(text("SELECT count(*) FROM incident WHERE code LIKE 'BIG%' "
                                   "AND cell_code IS NOT NULL")).scalar_one()
    assert big == n and routed > 0.9 * n
    engine.dispose()
