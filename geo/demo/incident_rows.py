"""Synthetic incidents of the demo: where, when, what, and a status consistent with the flow.

Generated in metres by :func:`make_incidents` (before the load transaction, from the same random
generator as the rest of the demo) and written with COPY by :func:`copy_incidents`; routing
(cell, worker, department) is done afterwards by ``geo.incidents.routing.route_incidents``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
import shapely.prepared
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from geo.demo.boundary import REGION
from geo.demo.generate import person_name, phone
from geo.incidents.reference import CATEGORIES
from geo.localtime import CST

DEMO_START = dt.datetime(2025, 1, 1, tzinfo=CST)
DEMO_END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=CST)

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


def make_incidents(
    rng: np.random.Generator,
    n: int,
    compounds: list[dict[str, Any]],
    urban: BaseGeometry,
    village_pts: list[Point],
    county: BaseGeometry,
) -> list[dict[str, Any]]:
    """``n`` synthetic incidents (2025-01-01 .. 2026-10-31) in metres, not yet stored.

    Half in compounds, some on the county seat's streets, the rest near villages (rural
    category weights); heating complaints fall in winter. ``fate`` and ``speed`` drive
    :func:`status_and_times`.
    """
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
            "reporter_name": person_name(rng) if personal else None,
            "reporter_phone": phone(rng) if personal else None,
            "geom": pt, "compound_code": compound_code,
            "fate": float(rng.random()), "speed": float(rng.lognormal(0, 0.8)),
        })
    return out


def status_and_times(inc: dict[str, Any]) -> dict[str, Any]:
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


def copy_incidents(
    conn: Connection, incidents: list[dict[str, Any]], ll: Callable[[BaseGeometry], BaseGeometry]
) -> None:
    """COPY the incidents into ``incident`` (points through ``ll`` to EPSG:4490), unrouted."""
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
            st = status_and_times(inc)
            copy.write_row((
                REGION, inc["code"], inc["category"], inc["channel"], st["status"],
                inc["urgency"], inc["reported_at"], inc["description"], inc["location_text"],
                inc["reporter_name"], inc["reporter_phone"], f"SRID=4490;POINT({x:.8f} {y:.8f})",
                compound_ids.get(inc["compound_code"]), st["registered_at"], st["dispatched_at"],
                st["handled_at"], st["closed_at"], st["rework"], True,
            ))
