"""Planners' analyses on a tiny hand-made county whose answers are computed by hand.

The tiny county (code 999999) is built in metres in EPSG:4546 around (500000, 4262998.63),
i.e. 111 E 38.5 N on the zone's central meridian (scale factor 1), and stored in EPSG:4490:

    community A = [0,1000] x [0,1000]  cells A1 = [0,500] x [0,1000], A2 = [500,1000] x [0,1000]
    community B = [1000,2000] x [0,1000]  cells B1 = [1000,1600], B2 = [1500,1950] (x ranges)
        -> overlap B1/B2 = 100 m x 1000 m = 100,000 m^2, gap = 50 m x 1000 m = 50,000 m^2
    cameras: C1 (250,500) bearing 0, C2 (250,500) bearing 45, both fov 90, range 100, online
             -> union = a 135 deg sector = pi * 100^2 * 135/360 = 11,780.97 m^2 (not 2 x 7,853.98)
             C3 (600,500) bearing 90 offline (excluded); C4 (750,500) no bearing, range 50
             (full circle: a 64-gon, 32 sin(2 pi/64) 50^2 = 7,841.37 m^2)
    compounds: K1 [200,300] x [450,550] (seen by C1), K2 [600,700] x [100,200] (no camera)
    incidents (2026-07..09): I1 (250,550) seen, I2 (250,400) urgent unseen, I3 (650,150)
             unseen, I4 (750,520) seen by C4, I7 (300,300) unseen; plus one merged and one
             outside the period (both ignored).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine

from geo.analysis import (
    camera_coverage,
    camera_sectors,
    camera_sites,
    grid_health,
    hotspots,
    make_period,
    property_management,
    sector_polygon,
)
from geo.analysis.sectors import geodesic_area_m2
from geo.analysis.sites import greedy_max_cover, mclp_max_cover
from geo.analysis.spots import getis_ord, star_weights
from geo.auth.principal import Principal
from geo.errors import Forbidden, InvalidInput
from geo.localtime import CST
from tests.conftest import create_database, drop_database

R = "999999"
X0, Y0 = 500000.0, 4262998.63
INV = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
PLANNER = Principal(user="p", role="planner")
COMMAND = Principal(user="c", role="command")
PERIOD = make_period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))


def ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = INV.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def ewkt_box(x0: float, y0: float, x1: float, y1: float) -> str:
    g = shapely.segmentize(box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1), 50.0)
    g = shapely.transform(g, lambda xy: np.column_stack(INV.transform(xy[:, 0], xy[:, 1])))
    return "SRID=4490;" + shapely.to_wkt(g, rounding_precision=10)


def pt(x: float, y: float) -> str:
    lon, lat = ll(x, y)
    return f"SRID=4490;POINT({lon:.10f} {lat:.10f})"


def build_tiny(conn: Connection) -> None:
    """Insert the tiny county described in the module docstring."""
    from geo.incidents.reference import ensure_reference
    from geo.incidents.routing import route_incidents

    conn.execute(text("INSERT INTO region (code, region_code, name) VALUES (:r, :r, '小县')"),
                 {"r": R})
    ensure_reference(conn, R)
    units = [(R, "小县", "county", None, (0, 0, 2000, 1000)),
             (R + "100", "甲镇", "township", R, (0, 0, 2000, 1000)),
             (R + "100001", "甲社区", "community", R + "100", (0, 0, 1000, 1000)),
             (R + "100002", "乙社区", "community", R + "100", (1000, 0, 2000, 1000))]
    for code, name, level, parent, b in units:
        conn.execute(text("INSERT INTO admin_unit (region_code, code, name, level, parent_code,"
                          " geom) VALUES (:r, :c, :n, :l, :p, ST_Multi(ST_GeomFromEWKT(:g)))"),
                     {"r": R, "c": code, "n": name, "l": level, "p": parent, "g": ewkt_box(*b)})
    set_id = conn.execute(text("INSERT INTO boundary_set (region_code, name, valid_from, "
                               "is_active) VALUES (:r, 'tiny', '2020-01-01', true) RETURNING id"),
                          {"r": R}).scalar_one()
    cells = [("001", "100001", (0, 0, 500, 1000), 300), ("002", "100001", (500, 0, 1000, 1000),
                                                          200),
             ("001", "100002", (1000, 0, 1600, 1000), 100),
             ("002", "100002", (1500, 0, 1950, 1000), 100)]
    for seq, parent, b, hh in cells:
        conn.execute(text("INSERT INTO grid_cell (region_code, boundary_set_id, code, name, kind,"
                          " parent_code, township_code, households, geom) VALUES (:r, :s, :c, "
                          ":c, 'basic', :p, :t, :hh, ST_Multi(ST_GeomFromEWKT(:g)))"),
                     {"r": R, "s": set_id, "c": R + parent + seq, "p": R + parent,
                      "t": R + "100", "hh": hh, "g": ewkt_box(*b)})
    wid = conn.execute(text("INSERT INTO grid_worker (region_code, code, name, phone) VALUES "
                            "(:r, 'W1', '王丽', '13800001234') RETURNING id"), {"r": R}).scalar()
    conn.execute(text("INSERT INTO worker_assignment (region_code, worker_id, cell_code, "
                      "valid_from) VALUES (:r, :w, :c, '2020-01-01')"),
                 {"r": R, "w": wid, "c": R + "100001001"})
    cams = [("C1", 0.0, 90, 100, "online", (250, 500)), ("C2", 45.0, 90, 100, "online",
                                                           (250, 500)),
            ("C3", 90.0, 90, 100, "offline", (600, 500)), ("C4", None, 90, 50, "online",
                                                            (750, 500))]
    for i, (name, bearing, fov, rng, status, (x, y)) in enumerate(cams):
        conn.execute(text("INSERT INTO camera (region_code, gb_id, name, bearing_deg, fov_deg, "
                          "range_m, status, geom) VALUES (:r, :gb, :n, :b, :f, :rg, :st, "
                          "ST_GeomFromEWKT(:g))"),
                     {"r": R, "gb": f"9999990000131{i:07d}", "n": name, "b": bearing, "f": fov,
                      "rg": rng, "st": status, "g": pt(x, y)})
    comps = [("K1", (200, 450, 300, 550), 100, "company", "established", (250, 451)),
             ("K2", (600, 100, 700, 200), 300, "none", "none", (650, 101))]
    ids = {}
    for code, b, hh, mode, oc, ent in comps:
        ids[code] = conn.execute(text(
            "INSERT INTO compound (region_code, code, name, community_code, households, "
            "mgmt_mode, owners_committee, geom, entrance) VALUES (:r, :c, :c, :cc, :hh, :m, "
            ":oc, ST_Multi(ST_GeomFromEWKT(:g)), ST_GeomFromEWKT(:e)) RETURNING id"),
            {"r": R, "c": code, "cc": R + "100001", "hh": hh, "m": mode, "oc": oc,
             "g": ewkt_box(*b), "e": pt(*ent)}).scalar()
    hist = [(ids["K1"], "none", "2018-01-01", "2022-04-01"),
            (ids["K1"], "company", "2022-04-01", None)]
    for cid, mode, f, t in hist:
        conn.execute(text("INSERT INTO compound_mgmt_history (region_code, compound_id, "
                          "mgmt_mode, owners_committee, valid_from, valid_to) VALUES (:r, :c, "
                          ":m, 'established', :f, :t)"),
                     {"r": R, "c": cid, "m": mode, "f": f, "t": t})
    incs = [("I1", (250, 550), "normal", "closed", dt.datetime(2026, 7, 5, 10, tzinfo=CST)),
            ("I2", (250, 400), "urgent", "closed", dt.datetime(2026, 7, 6, 10, tzinfo=CST)),
            ("I3", (650, 150), "normal", "closed", dt.datetime(2026, 8, 6, 10, tzinfo=CST)),
            ("I4", (750, 520), "normal", "closed", dt.datetime(2026, 9, 6, 10, tzinfo=CST)),
            ("I5", (250, 400), "normal", "merged", dt.datetime(2026, 7, 6, 11, tzinfo=CST)),
            ("I6", (250, 400), "normal", "closed", dt.datetime(2026, 1, 6, 11, tzinfo=CST)),
            ("I7", (300, 300), "normal", "closed", dt.datetime(2026, 9, 30, 23, tzinfo=CST))]
    for code, (x, y), urg, status, at in incs:
        conn.execute(text("INSERT INTO incident (region_code, code, category_code, channel, "
                          "status, urgency, reported_at, reporter_name, reporter_phone, geom) "
                          "VALUES (:r, :c, 'fire_lane_blocked', '12345', :st, :u, :t, '张三', "
                          "'13912345678', ST_GeomFromEWKT(:g))"),
                     {"r": R, "c": code, "st": status, "u": urg, "t": at, "g": pt(x, y)})
    route_incidents(conn, R)


@pytest.fixture(scope="module")
def tiny(admin_engine: Engine) -> Iterator[Engine]:
    """Engine on a migrated database holding only the tiny county."""
    from geo.db.migrate import upgrade

    url = create_database(admin_engine)
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        build_tiny(conn)
    yield engine
    engine.dispose()
    drop_database(admin_engine, url)


QUARTER_SECTOR = math.pi * 100**2 / 4          # 7853.98 m^2
UNION_135 = math.pi * 100**2 * 135 / 360        # 11780.97 m^2
CIRCLE_64 = 32 * math.sin(2 * math.pi / 64) * 50**2  # 7841.37 m^2 (a 64-gon of radius 50)


def rel(a: float, b: float) -> float:
    return abs(a - b) / b


# --- 1. sectors -------------------------------------------------------------------------------

def test_sector_of_90_deg_and_100_m_has_a_quarter_disc_area(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = camera_sectors(conn, PLANNER, R)
    cams = res["tables"]["cameras"].set_index("name")
    assert rel(cams.loc["C1", "sector_area_m2"], QUARTER_SECTOR) < 1e-3
    assert rel(cams.loc["C2", "sector_area_m2"], QUARTER_SECTOR) < 1e-3
    assert rel(cams.loc["C4", "sector_area_m2"], CIRCLE_64) < 1e-3
    assert bool(cams.loc["C4", "no_bearing"]) and not bool(cams.loc["C1", "no_bearing"])
    assert not bool(cams.loc["C3", "counts_for_coverage"])  # offline
    assert res["summary"]["no_bearing"] == 1 and res["summary"]["counting_for_coverage"] == 3
    # The Python sector (for candidate sites) is the same polygon as the trigger's.
    lon, lat = ll(250, 500)
    py = sector_polygon(lon, lat, 0.0, 90.0, 100.0)
    assert rel(geodesic_area_m2(py), QUARTER_SECTOR) < 1e-3
    assert py.symmetric_difference(cams.loc["C1", "geometry"]).area / py.area < 1e-6


def test_sector_follows_camera_changes(tiny: Engine) -> None:
    with tiny.begin() as conn:
        conn.execute(text("UPDATE camera SET range_m = 200 WHERE name = 'C1'"))
        area = conn.execute(text("SELECT ST_Area(sector::geography) FROM camera "
                                 "WHERE name = 'C1'")).scalar()
        assert rel(area, 4 * QUARTER_SECTOR) < 1e-3
        conn.rollback()


# --- 2. camera coverage ----------------------------------------------------------------------

def test_overlapping_sectors_are_not_double_counted(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = camera_coverage(conn, COMMAND, R, "cell", PERIOD)
    u = res["tables"]["units"].set_index("code")
    a1, a2 = u.loc[R + "100001001"], u.loc[R + "100001002"]
    assert rel(a1["covered_m2"], UNION_135) < 1e-3          # not 2 x 7854
    assert rel(a1["area_m2"], 500_000) < 1e-3
    assert abs(a1["covered_pct"] - 100 * UNION_135 / 500_000) < 0.01
    # A2: the offline camera C3 sees nothing; C4 without bearing is a full circle.
    assert rel(a2["covered_m2"], CIRCLE_64) < 1e-3
    assert (a2["cameras_online"], a2["cameras_not_online"], a2["cameras_no_bearing"]) == (1, 1, 1)
    assert res["summary"]["cameras_excluded_offline_or_fault"] == 1
    assert rel(res["summary"]["covered_m2"], UNION_135 + CIRCLE_64) < 1e-3


def test_incidents_outside_every_sector_and_blind_compounds(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = camera_coverage(conn, COMMAND, R, "cell", PERIOD)
    s = res["summary"]
    assert (s["incidents"], s["incidents_uncovered"]) == (5, 3)   # merged + out of period out
    unc = res["tables"]["uncovered_incidents"]
    assert sorted(unc["code"]) == ["I2", "I3", "I7"]
    assert "reporter_name" not in unc.columns and "reporter_phone" not in unc.columns
    u = res["tables"]["units"].set_index("code")
    assert (u.loc[R + "100001001", "incidents"], u.loc[R + "100001001", "incidents_uncovered"]) \
        == (3, 2)
    assert (u.loc[R + "100001002", "incidents"], u.loc[R + "100001002", "incidents_uncovered"]) \
        == (2, 1)
    ranked = res["tables"]["cells_by_uncovered_incidents"]
    assert list(ranked["code"]) == [R + "100001001", R + "100001002"]
    assert list(ranked["rank"]) == [1, 2]
    assert list(res["tables"]["blind_compounds"]["code"]) == ["K2"]


def test_the_maps_incidents_outside_every_sector_are_the_analysis_ones(tiny: Engine) -> None:
    """The coverage map's layer (and its legend's count) is the analysis's list: a merged
    case is no demand on either (walk 12: the map counted 1,882, its workbook 1,792)."""
    from geo.mapdata import incidents as gi

    with tiny.connect() as conn:  # a cancelled copy of I2 (outside every sector), rolled back
        conn.execute(text(
            "INSERT INTO incident (region_code, code, category_code, channel, status, urgency,"
            " reported_at, geom, boundary_set_id) SELECT region_code, 'I2-void', category_code,"
            " channel, 'cancelled', urgency, reported_at, geom, boundary_set_id FROM incident"
            " WHERE code = 'I2'"))
        res = camera_coverage(conn, COMMAND, R, "cell", PERIOD)
        rows, total = gi.incidents(conn, COMMAND, R, PERIOD, outside_cameras=True)
        conn.rollback()
    assert total == res["summary"]["incidents_uncovered"] == 3
    assert sorted(rows["code"]) == sorted(
        res["tables"]["uncovered_incidents"]["code"])


def test_coverage_per_compound_community_and_planner_view(tiny: Engine) -> None:
    with tiny.connect() as conn:
        comp = camera_coverage(conn, PLANNER, R, "compound", PERIOD)
        comm = camera_coverage(conn, PLANNER, R, "community", PERIOD)
    k = comp["tables"]["units"].set_index("code")
    assert k.loc["K2", "covered_m2"] == 0
    # K1 = 100 m x 100 m around C1: C1+C2 see the part y >= 500 between bearings -45..90.
    # Inside the 50 m half-square north of the camera: the 135 deg wedge clipped to the box.
    assert 0 < k.loc["K1", "covered_pct"] < 100
    c = comm["tables"]["units"].set_index("code")
    assert rel(c.loc[R + "100001", "covered_m2"], UNION_135 + CIRCLE_64) < 1e-3
    assert c.loc[R + "100002", "covered_m2"] == 0
    unc = comm["tables"]["uncovered_incidents"]
    assert "code" not in unc.columns                        # planners: no incident codes
    assert len(unc) == 3


# --- 3. property management ------------------------------------------------------------------

def test_property_management_two_compounds_as_of_dates(tiny: Engine) -> None:
    with tiny.connect() as conn:
        before = property_management(conn, PLANNER, R, dt.date(2021, 1, 1), "community")
        after = property_management(conn, PLANNER, R, dt.date(2023, 1, 1), "community")
    b = before["tables"]["units"].iloc[0]
    assert (b["compounds"], b["managed_compounds"], b["managed_pct"]) == (2, 0, 0.0)
    assert before["summary"]["binding_target"]["state"] == "upcoming"
    a = after["tables"]["units"].iloc[0]
    assert (a["compounds"], a["managed_compounds"]) == (2, 1)
    assert a["managed_pct"] == 50.0
    assert a["managed_households_pct"] == 25.0                # 100 of 400 households
    assert a["target_pct"] == 80.0 and not a["meets_target"]
    assert a["compounds_to_target"] == 1                     # ceil(2 * 0.8) - 1
    assert (a["compounds_company"], a["compounds_none"]) == (1, 1)
    assert (a["owners_committee_established"], a["owners_committee_none"]) == (1, 1)
    assert list(after["tables"]["unmanaged_compounds"]["code"]) == ["K2"]
    assert sorted(before["tables"]["unmanaged_compounds"]["code"]) == ["K1", "K2"]


def test_property_targets_are_configurable(tiny: Engine) -> None:
    from geo.analysis import parse_targets

    with tiny.connect() as conn:
        res = property_management(conn, PLANNER, R, dt.date(2023, 1, 1), "township",
                                  parse_targets("2022-06-30:50"))
    u = res["tables"]["units"].iloc[0]
    assert u["target_pct"] == 50.0 and bool(u["meets_target"])
    with pytest.raises(InvalidInput):
        parse_targets("2022:80")
    with pytest.raises(InvalidInput):
        parse_targets("2022-12-31:180")


# --- 4. grid health --------------------------------------------------------------------------

def test_grid_health_finds_the_known_gap_and_overlap(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = grid_health(conn, COMMAND, R, PERIOD)
    s = res["summary"]
    gaps = res["tables"]["gaps"]
    parent = gaps[gaps["scope"] == "parent"]
    assert list(parent["unit_code"]) == [R + "100002"]
    assert rel(float(parent["area_m2"].iloc[0]), 50_000) < 1e-3
    assert s["county_gaps"] == 1 and rel(s["county_gaps_area_m2"], 50_000) < 1e-3
    ov = res["tables"]["overlaps"]
    assert len(ov) == 1 and (ov["cell_a"].iloc[0], ov["cell_b"].iloc[0]) == (
        R + "100002001", R + "100002002")
    assert rel(float(ov["area_m2"].iloc[0]), 100_000) < 1e-3
    # A1/A2 share an edge: no overlap, no gap there. Only A1 has a worker.
    assert sorted(res["tables"]["vacant_cells"]["code"]) == [
        R + "100001002", R + "100002001", R + "100002002"]
    load = res["tables"]["worker_load"]
    assert len(load) == 1 and load["households"].iloc[0] == 300
    assert load["incidents"].iloc[0] == 3                    # I1, I2, I7 routed to A1's worker
    assert load["worker_name"].iloc[0] == "王丽"             # command sees the name
    assert s["households_per_worker"]["gini"] == 0.0


def test_grid_health_masks_worker_names_for_planners(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = grid_health(conn, PLANNER, R, PERIOD)
    assert res["tables"]["worker_load"]["worker_name"].iloc[0] == "王*"
    assert "phone" not in " ".join(res["tables"]["worker_load"].columns)


def test_gini_by_hand() -> None:
    from geo.analysis.common import gini
    from geo.analysis.grid import imbalance

    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert abs(gini(np.array([0, 0, 0, 4])) - 0.75) < 1e-12    # (n-1)/n
    imb = imbalance(np.array([100, 300]))
    assert imb["max_over_mean"] == 1.5 and abs(imb["gini"] - 0.25) < 1e-9


# --- 5. hotspots -----------------------------------------------------------------------------

def test_density_per_cell_by_hand(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = hotspots(conn, PLANNER, R, PERIOD, "cell", permutations=0)
    u = res["tables"]["units"].set_index("code")
    a1 = u.loc[R + "100001001"]
    assert a1["incidents"] == 3
    assert abs(a1["per_1000_hh"] - 10.0) < 1e-9              # 3 / 300 households
    assert abs(a1["per_km2"] - 6.0) < 0.01                   # 3 / 0.5 km^2
    assert res["summary"]["incidents"] == 5


def test_gi_star_matches_the_formula_and_finds_the_cluster() -> None:
    n = 10
    ids = [(i, j) for i in range(n) for j in range(n)]
    nb = {(i, j): [(a, b) for a, b in ((i + di, j + dj) for di in (-1, 0, 1)
                                       for dj in (-1, 0, 1)) if (a, b) != (i, j)
                   and 0 <= a < n and 0 <= b < n] for i, j in ids}
    y = np.array([10.0 if i < 3 and j < 3 else float((i * 7 + j * 3) % 2) for i, j in ids])
    w = star_weights(nb, ids)
    g = getis_ord(y, w, permutations=0)
    # Gi* by hand: (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))
    N, xbar, S = len(y), y.mean(), math.sqrt((y**2).mean() - y.mean() ** 2)
    for k in (0, 11, 55):
        js = [ids.index(v) for v in [ids[k], *nb[ids[k]]]]
        wi = len(js)
        z = (y[js].sum() - xbar * wi) / (S * math.sqrt((N * wi - wi**2) / (N - 1)))
        assert abs(g["gi_z"].iloc[k] - z) < 1e-3
    hot = {ids[k] for k in range(N) if g["spot"].iloc[k] == "hot"}
    assert {(0, 0), (1, 1), (2, 2)} <= hot
    assert all(i < 5 and j < 5 for i, j in hot)
    perm = getis_ord(y, w, permutations=199, seed=1)
    assert perm.loc[[(1, 1)], "spot"].iloc[0] == "hot"


def test_h3_hexagons_count_every_incident(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = hotspots(conn, PLANNER, R, PERIOD, "h3", resolution=9, permutations=0)
    u = res["tables"]["units"]
    assert int(u["incidents"].sum()) == 5
    assert (u["code"].str.len() == 15).all()
    assert res["inputs"]["h3_resolution"] == 9


# --- 6. where to add cameras -----------------------------------------------------------------

def test_greedy_is_not_optimal_but_mclp_is() -> None:
    # A = {0,1,2,3}, B = {0,2,4}, C = {1,3,5}; k = 2: greedy takes A then adds 1 -> 5,
    # the optimum is B + C = 6.
    sets = [np.array([0, 1, 2, 3]), np.array([0, 2, 4]), np.array([1, 3, 5])]
    w = np.ones(6)
    greedy = greedy_max_cover(sets, w, 2)
    assert [j for j, _ in greedy] == [0, 1] and sum(g for _, g in greedy) == 5
    chosen, status = mclp_max_cover(sets, w, 2)
    assert status == "Optimal" and sorted(chosen) == [1, 2]


def test_mclp_equals_brute_force_and_spopt_on_small_cases() -> None:
    from spopt.locate import MCLP

    rng = np.random.default_rng(7)
    for _ in range(12):
        n_dem, n_cand, k = int(rng.integers(5, 14)), int(rng.integers(3, 8)), int(
            rng.integers(1, 4))
        cover = rng.random((n_dem, n_cand)) < 0.3
        w = rng.integers(1, 5, n_dem).astype(float)
        sets = [np.flatnonzero(cover[:, j]) for j in range(n_cand)]
        brute = max(w[np.any(cover[:, list(c)], axis=1)].sum()
                    for c in itertools.combinations(range(n_cand), min(k, n_cand)))
        chosen, _ = mclp_max_cover(sets, w, k)
        exact = w[np.any(cover[:, chosen], axis=1)].sum() if chosen else 0.0
        assert exact == brute
        greedy = sum(g for _, g in greedy_max_cover(sets, w, k))
        assert brute * (1 - 1 / math.e) - 1e-9 <= greedy <= brute
        if n_cand >= k:
            import pulp

            cost = np.where(cover, 0.0, 10.0)
            m = MCLP.from_cost_matrix(cost, w, service_radius=1.0, p_facilities=k)
            m = m.solve(pulp.PULP_CBC_CMD(msg=False))
            sp = w[np.any(cover[:, np.flatnonzero(
                [v.value() > 0.5 for v in m.fac_vars])], axis=1)].sum()
            assert sp == brute


def test_camera_sites_on_the_tiny_county(tiny: Engine) -> None:
    with tiny.connect() as conn:
        one = camera_sites(conn, PLANNER, R, 1, PERIOD, candidates="entrances")
        two = camera_sites(conn, PLANNER, R, 2, PERIOD, candidates="entrances", solver="greedy")
    s = one["summary"]
    assert (s["incidents"], s["covered_by_existing_cameras"]) == (5, 2)
    assert s["uncovered_demand_incidents"] == 3 and s["uncovered_demand_weight"] == 4.0
    site = one["tables"]["sites"].iloc[0]
    # I2 (urgent, weight 2) lies 51 m south of K1's entrance: bearing 180 wins.
    assert site["compound"].startswith("K1") and site["bearing_deg"] == 180.0
    assert (site["gain_incidents"], site["gain_weight"]) == (1, 2.0)
    assert site["cell_code"] == R + "100001001"
    assert s["solver"] == "mclp" and s["solver_status"] == "Optimal"
    sites2 = two["tables"]["sites"]
    assert list(sites2["gain_weight"]) == [2.0, 1.0]                 # then I3 north of K2
    assert sites2["compound"].iloc[1].startswith("K2") and sites2["bearing_deg"].iloc[1] == 0.0
    assert two["summary"]["newly_covered_incidents"] == 2
    demand = two["tables"]["demand"]
    assert "code" not in demand.columns and sorted(demand["new_site_rank"]) == [0, 1, 2]


def test_camera_sites_lattice_within_a_unit(tiny: Engine) -> None:
    with tiny.connect() as conn:
        res = camera_sites(conn, PLANNER, R, 3, PERIOD, within=R + "100001001",
                           candidates="lattice", spacing_m=25)
    s = res["summary"]
    assert s["incidents"] == 3 and s["uncovered_demand_incidents"] == 2   # I2, I7 in A1
    assert s["newly_covered_incidents"] == 2
    assert res["inputs"]["within"]["code"] == R + "100001001"
    # A single camera cannot see both (I2 and I7 are 112 m apart, range 80): two sites.
    assert len(res["tables"]["sites"]) == 2


def test_bad_inputs_are_clear_errors(tiny: Engine) -> None:
    with tiny.connect() as conn:
        with pytest.raises(InvalidInput):
            camera_coverage(conn, PLANNER, R, "street", PERIOD)
        with pytest.raises(InvalidInput):
            camera_sites(conn, PLANNER, R, 0, PERIOD)
        with pytest.raises(InvalidInput):
            hotspots(conn, PLANNER, R, PERIOD, "h3", measure="per_1000_hh")
        with pytest.raises(InvalidInput):
            camera_coverage(conn, PLANNER, R, "cell", PERIOD, categories=["nope"])
    with pytest.raises(InvalidInput):
        make_period(dt.date(2026, 9, 1), dt.date(2026, 1, 1))




# --- map layers (the shape the Folium maps consume) ------------------------------------------

def test_map_layers_agree_with_the_analyses(tiny: Engine) -> None:
    from geo.mapdata import analysis as maplayers

    with tiny.connect() as conn:
        cov = maplayers.camera_coverage(conn, R, "cell").set_index("code")
        prop = maplayers.property_share(conn, R, "cell", dt.date(2023, 1, 1)).set_index("code")
        comm = maplayers.property_share(conn, R, "community", dt.date(2023, 1, 1))
        gaps = maplayers.grid_gaps_overlaps(conn, R)
        with pytest.raises(InvalidInput):
            maplayers.camera_coverage(conn, R, "street")
    assert rel(cov.loc[R + "100001001", "share"], UNION_135 / 500_000) < 1e-3
    assert cov.loc[R + "100002001", "share"] == 0 and cov.loc[R + "100001002", "cameras"] == 1
    # K1 lies in A1, K2 in A2: one managed compound each side of the edge.
    assert (prop.loc[R + "100001001", "managed"], prop.loc[R + "100001002", "unmanaged"]) == (1, 1)
    assert np.isnan(prop.loc[R + "100002001", "share"])
    c = comm.set_index("code").loc[R + "100001"]
    assert (c["compounds"], c["share"], c["share_households"]) == (2, 0.5, 0.25)
    assert sorted(gaps["kind"]) == ["gap", "overlap"]
    assert rel(float(gaps.set_index("kind").loc["overlap", "area_m2"]), 100_000) < 1e-3


def test_fdr_is_stricter_than_per_unit_alpha() -> None:
    n = 12
    ids = [(i, j) for i in range(n) for j in range(n)]
    nb = {(i, j): [(a, b) for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))
                   if 0 <= a < n and 0 <= b < n] for i, j in ids}
    y = np.random.default_rng(3).poisson(2.0, len(ids)).astype(float)
    y[:5] += 6  # a weak cluster on the first row
    w = star_weights(nb, ids)
    plain = getis_ord(y, w, permutations=0, alpha=0.05)
    strict = getis_ord(y, w, permutations=0, alpha=0.05, fdr=True)
    assert (strict["spot"] != "none").sum() <= (plain["spot"] != "none").sum()
    assert (plain["spot"] != "none").sum() > 0


def test_a_worker_sees_only_their_cells_incidents_but_all_aggregates(tiny: Engine) -> None:
    worker = Principal(user="w", role="worker", cell_codes=frozenset({R + "100001002"}))
    with tiny.connect() as conn:
        res = camera_coverage(conn, worker, R, "cell", PERIOD)
    assert list(res["tables"]["uncovered_incidents"]["code"]) == ["I3"]
    assert res["summary"]["incidents_uncovered"] == 3                 # counts: whole county
    other = Principal(user="x", role="planner", regions=frozenset({"141123"}))
    with tiny.connect() as conn, pytest.raises(Forbidden):
        camera_coverage(conn, other, R, "cell", PERIOD)


@pytest.mark.parametrize("role", ["planner", "command", "viewer"])
def test_a_period_without_incidents_gives_zeros_not_errors(tiny: Engine, role: str) -> None:
    from geo.analysis.common import to_payload

    empty = make_period(dt.date(2019, 1, 1), dt.date(2019, 3, 31))
    who = Principal(user="u", role=role)
    with tiny.connect() as conn:
        cov = camera_coverage(conn, who, R, "cell", empty)
        hot = hotspots(conn, who, R, empty, "cell", permutations=0)
        sites = camera_sites(conn, who, R, 2, empty)
        health = grid_health(conn, who, R, empty)
    assert cov["summary"]["incidents"] == 0 and len(cov["tables"]["uncovered_incidents"]) == 0
    assert rel(cov["summary"]["covered_m2"], UNION_135 + CIRCLE_64) < 1e-3
    assert hot["summary"]["hot_units"] == 0 and sites["summary"]["sites_recommended"] == 0
    assert health["summary"]["incidents_per_worker"]["max"] == 0
    for res in (cov, hot, sites, health):
        to_payload(res)
