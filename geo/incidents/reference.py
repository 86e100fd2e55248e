"""Reference data: departments and incident categories from the county document (seed).

The category table is configurable per installation; these rows are its initial content.
Time limits are in working minutes per step and urgency (one Shanxi city's published rule:
register/dispatch within 10 min if urgent, 30 min otherwise; verify within 1 h in town).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("zhujian", "住建局", "Housing and Urban-Rural Development Bureau"),
    ("ziran", "自然资源局", "Natural Resources Bureau"),
    ("gongan", "公安局", "Public Security Bureau (police)"),
    ("shichang", "市场监管局", "Market Regulation Bureau"),
    ("zonghe", "综合执法局", "Comprehensive Law Enforcement Bureau"),
    ("xiaofang", "消防救援大队", "Fire and Rescue Brigade"),
    ("chengguan", "城市管理局", "City Management Bureau"),
    ("sifa", "司法局(人民调解)", "Justice Bureau (mediation)"),
    ("water", "供水公司", "Water utility"),
    ("power", "供电公司", "Power utility"),
    ("gas", "燃气公司", "Gas utility"),
    ("heating", "供热公司", "Heating utility"),
    ("telecom", "通信运营商", "Telecom operators"),
    ("cable", "广电网络公司", "Cable TV operator"),
]

_STD = {"register": 30, "dispatch": 30, "handle": 5 * 480, "verify": 120}
_URG = {"register": 10, "dispatch": 10, "handle": 480, "verify": 60}


def _limits(handle_days: float, urgent_handle_h: float) -> dict[str, Any]:
    normal = dict(_STD, handle=int(handle_days * 480))
    urgent = dict(_URG, handle=int(urgent_handle_h * 60))
    return {"normal": normal, "urgent": urgent}


# code, name, name_en, department, group, dup_radius_m, dup_window_h, limits, weight (demo mix)
CATEGORIES: list[tuple[str, str, str, str, str, float, float, dict[str, Any], float]] = [
    ("illegal_construction", "违章搭建", "Illegal construction", "zhujian", "building",
     150, 168, _limits(10, 24), 0.08),
    ("animal_keeping", "违规饲养动物", "Illegal animal keeping", "zonghe", "nuisance",
     150, 72, _limits(5, 8), 0.06),
    ("dwelling_use_change", "擅自改变住宅性质", "Changing a dwelling's use", "zhujian",
     "building", 100, 168, _limits(10, 24), 0.03),
    ("fire_equipment", "消防设施器材故障", "Broken fire equipment", "xiaofang", "fire",
     100, 72, _limits(3, 4), 0.07),
    ("ebike_charging", "电动自行车违规停放充电", "E-bikes parked or charged illegally",
     "xiaofang", "fire", 100, 72, _limits(2, 2), 0.12),
    ("fire_lane_blocked", "占用消防通道", "Blocked fire lane", "xiaofang", "fire",
     150, 48, _limits(1, 2), 0.10),
    ("shared_space_business", "擅自侵占共有部分经营", "Business in shared spaces",
     "shichang", "nuisance", 150, 168, _limits(5, 24), 0.05),
    ("dispute", "矛盾纠纷", "Dispute (mediated at village level first)", "sifa", "dispute",
     100, 72, _limits(10, 24), 0.12),
    ("water", "供水故障", "Water supply fault", "water", "utility", 300, 24, _limits(2, 4),
     0.07),
    ("power", "供电故障", "Power supply fault", "power", "utility", 500, 24, _limits(1, 4),
     0.06),
    ("gas", "燃气隐患", "Gas hazard", "gas", "utility", 200, 24, _limits(1, 2), 0.03),
    ("heating", "供热问题", "Heating problem", "heating", "utility", 300, 72, _limits(2, 8),
     0.07),
    ("telecom", "通信故障", "Telecom fault", "telecom", "utility", 300, 72, _limits(3, 24),
     0.02),
    ("cable_tv", "有线电视故障", "Cable TV fault", "cable", "utility", 300, 72, _limits(5, 24),
     0.01),
    ("manhole_cover", "井盖缺失", "Missing manhole cover", "chengguan", "city", 100, 24,
     {"normal": dict(_STD, handle=120), "urgent": dict(_URG, handle=120)}, 0.03),
    ("public_security", "治安隐患", "Public-security hazard", "gongan", "security", 200, 24,
     _limits(1, 2), 0.04),
    ("land_use", "违法占地", "Illegal land use", "ziran", "building", 300, 168,
     _limits(15, 48), 0.03),
    ("city_appearance", "市容环境", "Street cleanliness and appearance", "chengguan", "city",
     150, 48, _limits(2, 8), 0.05),
]


# Where a hotline row whose category label matches no category goes: the command centre's
# queue of cases to classify (reclassified with POST /incidents/{code}/reassign, category_code).
UNCLASSIFIED = ("unclassified", "待分类", "To be classified")


def ensure_unclassified(conn: Connection, region_code: str) -> str:
    """The 待分类 category, created when absent (no department: the command centre's own);
    its code."""
    code, name, name_en = UNCLASSIFIED
    conn.execute(text(
        "INSERT INTO incident_category (code, region_code, name, name_en) VALUES "
        "(:c, :r, :n, :e) ON CONFLICT (code) DO NOTHING"),
        {"c": code, "r": region_code, "n": name, "e": name_en})
    return code


def ensure_reference(conn: Connection, region_code: str) -> None:
    """Insert the departments and categories if absent (idempotent)."""
    for code, name, name_en in DEPARTMENTS:
        conn.execute(
            text(
                "INSERT INTO department (code, region_code, name, name_en) "
                "VALUES (:c, :r, :n, :e) ON CONFLICT (code) DO NOTHING"
            ),
            {"c": code, "r": region_code, "n": name, "e": name_en},
        )
    import json

    for code, name, name_en, dept, group, radius, window, limits, _w in CATEGORIES:
        conn.execute(
            text(
                "INSERT INTO incident_category (code, region_code, name, name_en, "
                "department_code, \"group\", dup_radius_m, dup_window_h, limits) "
                "VALUES (:c, :r, :n, :e, :d, :g, :rad, :win, CAST(:lim AS jsonb)) "
                "ON CONFLICT (code) DO NOTHING"
            ),
            {"c": code, "r": region_code, "n": name, "e": name_en, "d": dept, "g": group,
             "rad": radius, "win": window, "lim": json.dumps(limits)},
        )


# A category's time limits in one county: the county's own (incident_category_limits, set by
# its admin), else the category's shared default. :lim_region names the county.
LIMITS_SQL = ("coalesce((SELECT l.limits FROM incident_category_limits l "
              "WHERE l.region_code = :lim_region AND l.category_code = c.code), c.limits)")


def county_limits(conn: Connection, region_code: str,
                  code: str | None = None) -> dict[str, Any]:
    """Category code -> its time limits in county ``region_code`` (:data:`LIMITS_SQL`); only
    ``code``'s when given."""
    where = "WHERE c.code = :c" if code is not None else ""
    return {str(c): lim for c, lim in conn.execute(text(
        f"SELECT c.code, {LIMITS_SQL} FROM incident_category c {where}"),
        {"lim_region": region_code, "c": code})}


def set_limits(conn: Connection, code: str, limits: Any, region_code: str) -> dict[str, Any]:
    """A county admin's time limits for a category (checked by
    :func:`geo.incidents.flow.check_limits`); new steps of her county's cases of the category
    follow them. Returns the limits and the clock of each step.

    The category table is shared by the counties of an installation; each county's limits are
    its own row of ``incident_category_limits`` (``region_code``: the admin's county, checked
    by the route), so no county's admin changes another's deadlines (review round 9, N-2).
    """
    import json

    from geo.db.upsert import upsert
    from geo.errors import NotFound
    from geo.incidents.flow import STEPS, check_limits, step_clock, step_limit

    checked = check_limits(limits)
    if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM incident_category WHERE code = :c)"),
                        {"c": code}).scalar():
        raise NotFound(f"未知事件类别 {code} / unknown category {code}")
    upsert(conn, "incident_category_limits",
           {"region_code": ":r", "category_code": ":c", "limits": "CAST(:l AS jsonb)"},
           key=("region_code", "category_code"), update={"limits": "CAST(:l AS jsonb)"},
           params={"r": region_code, "c": code, "l": json.dumps(checked)},
           returning="region_code")
    return {"code": code, "region_code": region_code, "limits": checked, "steps": {
        urgency: {s: {"minutes": step_limit(checked, urgency, s),
                      "clock": step_clock(checked, urgency, s)} for s in STEPS}
        for urgency in checked}}
