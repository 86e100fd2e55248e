"""The landing page ``GET /``: what this service is and where everything is, in Chinese
(``?lang=en`` for English). No login, no script, no outside request: plain HTML with its own
strict Content-Security-Policy, every text escaped (as the login page, api/routes/auth.py).

Links are listed only when the app serves their route (the monthly report appears when its
router is installed); links that need a login say so.

The page follows who opens it (the login cookie of the browser; a bad or expired one reads as
no login, the page never fails on it): anonymous, the public entry points of the service's
county; a county user, her county; a user whose scope holds several counties (a prefecture
or province command centre, :func:`geo.regions.scope.counties_in_scope`), her counties: the
wall screen and dispatch map across them, the report of her whole scope, and each county's
own maps and reports (``?region=CODE``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from html import escape
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from api.deps import SettingsDep, get_principal
from geo import localtime
from geo.auth.principal import ROLE_NAMES, Principal
from geo.db.tables.vocab import DATA_ORIGIN
from geo.errors import WanggeError
from geo.regions.scope import counties_in_scope
from maps.texts import TEXTS

router = APIRouter(tags=["meta"])

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'")

_T = {
    "zh": {
        "title": "网格 Wangge: 网格化服务管理",
        "lead": "县级指挥中心的网格化服务管理系统: 网格和网格员、小区和物业、公共视频 (雪亮工程) "
                "和来自 12345 热线、110、网格员巡查、群众随手拍的事件, 存于空间数据库 PostGIS "
                "(国家2000坐标系 CGCS2000, EPSG:4490), 通过 HTTP 提供地图、报表和接口。",
        "demo": "演示县: {name} ({code})。县界为真实数据; 乡镇、村/社区、网格、网格员、小区、摄像头"
                "和事件均为{synthetic}, 不涉及真实人员。",
        "region": "服务区域: {name} ({code})。",
        "login": "需登录", "open": "无需登录",
        "maps": "地图", "worker": "网格员", "reports": "报表和导出 (Excel)", "api": "接口",
        "other_lang": "English",
        "note_login": "标「需登录」的链接会先打开登录页; 登录后按角色显示 (网格员只看自己的网格)。",
        "signed_in": "已登录: {user} ({role})。",
        "scope": "我的区县 ({n} 个)", "scope_map": "跨区县指挥调度地图 (各区县界和计数)",
        "scope_report": "全部区县的月报 ({month})",
        "my_county": "我的区县: {name} ({code})。",
        "no_grid": "{name} ({code}) 尚无网格: 请先导入网格 {command} (或用 wangge demo load "
                   "--region {code} 填入演示数据); 网格启用后, 这里列出该区县的覆盖地图、月报和"
                   "分析。",
    },
    "en": {
        "title": "Wangge: grid-based service management",
        "lead": "Grid-based service management (网格化服务管理) for a county command centre: "
                "grid cells and their workers, residential compounds and their property "
                "management, public cameras and incidents from the 12345 hotline, 110, patrols "
                "and residents' photos, in PostGIS (CGCS2000, EPSG:4490), served as maps, "
                "reports and an API.",
        "demo": "Demo county: {name} ({code}). The county boundary is real; townships, "
                "villages, cells, workers, compounds, cameras and incidents are {synthetic}.",
        "region": "Region: {name} ({code}).",
        "login": "login", "open": "open",
        "maps": "Maps", "worker": "Grid workers", "reports": "Reports and exports (Excel)",
        "api": "API", "other_lang": "中文",
        "note_login": "Links marked 'login' open the login page first; what you see then "
                      "depends on your role (a grid worker sees her own cells).",
        "signed_in": "Signed in: {user} ({role}).",
        "scope": "My counties ({n})", "scope_map": "Dispatch map across the counties "
        "(outlines and counters)", "scope_report": "Monthly report of all the counties ({month})",
        "my_county": "My county: {name} ({code}).",
        "no_grid": "{name} ({code}) has no grid yet: import it first with {command} (or fill "
                   "it with demo data: wangge demo load --region {code}); once the grid is "
                   "active, the county's coverage maps, monthly report and analyses are listed "
                   "here.",
    },
}

# (section, path, needs login, Chinese label, English label); {cell} is an example cell code.
Link = tuple[str, str, bool, str, str]
_LINKS: list[Link] = [
    ("maps", "/maps/dispatch", True, "指挥调度地图 (事件、网格、摄像头)",
     "Dispatch map (incidents, cells, cameras)"),
    ("maps", "/maps/cells/{cell}", True, "单个网格的地图 (示例网格)",
     "Map of one cell (an example cell)"),
    ("maps", "/maps/coverage/cameras", True, "摄像头覆盖、热点和新增点位",
     "Camera coverage, hot spots and new sites"),
    ("maps", "/maps/coverage/property", True, "物业管理覆盖 (对照目标)",
     "Property-management coverage against the targets"),
    ("maps", "/maps/coverage/patrols", True, "巡查覆盖 (近 7 天巡查过和未巡查的网格)",
     "Patrol coverage (cells patrolled or not in the last 7 days)"),
    ("worker", "/m/", True, "网格员手机端 (我的网格、待办、上报、巡查; 可添加到手机桌面)",
     "Grid worker's phone app (my cells, to do, report, patrol; add it to the home screen)"),
    ("worker", "/me/cell", True, "我的网格 (网格员手机端, JSON)", "My cells (worker app, JSON)"),
    ("worker", "/me/incidents", True, "我网格内的在办事件 (JSON)",
     "Open incidents in my cells (JSON)"),
    ("reports", "/reports/monthly?month={month}&format=html", True, "网格化服务管理月报",
     "Monthly report"),
    ("reports", "/incidents/overdue?format=xlsx", True, "超期事件清单 (督办用)",
     "Overdue cases (for follow-up)"),
    ("reports", "/export/incidents?format=xlsx", True, "事件清单", "Incident list"),
    ("reports", "/analysis/property-management?format=xlsx", True, "物业管理覆盖分析",
     "Property-management coverage"),
    ("reports", "/analysis/camera-coverage?format=xlsx", True, "摄像头覆盖分析",
     "Camera coverage"),
    ("reports", "/analysis/grid-health?format=xlsx", True, "网格体检 (缝隙、重叠、网格员负荷)",
     "Grid health (gaps, overlaps, worker load)"),
    ("reports", "/analysis/hotspots?format=xlsx", True, "事件热点分析", "Incident hot spots"),
    ("reports", "/export/cells?format=xlsx", False, "网格清单", "Grid cells"),
    ("reports", "/export/compounds?format=xlsx", False, "小区清单", "Compounds"),
    ("reports", "/export/cameras?format=xlsx", False, "摄像头清单", "Cameras"),
    ("api", "/docs", False, "接口文档 (OpenAPI)", "API documentation (OpenAPI)"),
    ("api", "/ogc", False, "OGC API - Features (QGIS 可直接连接)",
     "OGC API - Features (for QGIS)"),
    ("api", "/health", False, "健康检查", "Health check"),
    ("api", "/login", False, "登录", "Log in"),
]
# The links that answer only for a county with a grid (an active boundary set): a county just
# added by ``wangge region add`` gets the note ``no_grid`` (what to do) instead of them.
_NEEDS_GRID = {"/maps/cells/{cell}", "/maps/coverage/cameras", "/maps/coverage/property",
               "/maps/coverage/patrols", "/reports/monthly", "/analysis/camera-coverage",
               "/analysis/grid-health", "/analysis/hotspots", "/export/cells"}


def _served(request: Request) -> list[re.Pattern[str]]:
    """The app's route paths as patterns (``/export/{layer}`` matches ``/export/cells``)."""
    from api.access_policy import walk_routes

    return [re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
            for path, _ in walk_routes(list(request.app.routes), "")]


def _region(request: Request, code: str) -> tuple[str, str, str | None, bool, str]:
    """Name, English name, an example cell code, whether the data are synthetic and the month
    of the monthly report link: the latest complete month (before this one) with reports, so
    the demo's link opens its last month of data, not an empty current month; the month
    before this one when no complete month has reports. The page still renders when the
    database does not answer."""
    this_month = dt.datetime.combine(localtime.now().date().replace(day=1), dt.time(),
                                     localtime.CST)
    try:
        with request.app.state.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT r.name, coalesce(r.name_en, r.name), "
                "(SELECT c.code FROM grid_cell c JOIN boundary_set b ON b.id = "
                " c.boundary_set_id AND b.is_active WHERE c.region_code = r.code "
                " AND c.kind = 'basic' ORDER BY c.code LIMIT 1), "
                "EXISTS (SELECT 1 FROM grid_cell c WHERE c.region_code = r.code "
                " AND c.synthetic), "
                "(SELECT max(i.reported_at) FROM incident i WHERE i.region_code = r.code "
                " AND i.reported_at < :this_month) "
                "FROM region r WHERE r.code = :r"), {"r": code, "this_month": this_month}).first()
    except Exception:  # noqa: BLE001 - the landing page never fails on the database
        row = None
    month = _last_month()
    if row is None:
        return code, code, None, False, month
    if row[4] is not None:
        month = row[4].astimezone(localtime.CST).strftime("%Y-%m")
    return str(row[0]), str(row[1]), row[2], bool(row[3]), month


def _last_month() -> str:
    first = localtime.now().date().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def landing_links(request: Request, cell: str | None, month: str) -> list[Link]:
    """The page's links whose route the app serves (example cell and month filled in); with
    no ``cell`` (a county without a grid) none of :data:`_NEEDS_GRID`: they would be a 404."""
    served = _served(request)
    out = []
    for section, path, login, zh, en in _LINKS:
        if cell is None and path.split("?")[0] in _NEEDS_GRID:
            continue
        if "{cell}" in path:
            path = path.format(cell=cell)
        if "{month}" in path:  # the link says which month it opens, and why that one
            path = path.replace("{month}", month)
            zh, en = (f"{zh} ({month}, 最近有数据的完整月份)",
                      f"{en} ({month}, the latest complete month with data)")
        route = path.split("?")[0]
        if any(p.fullmatch(route) for p in served):
            out.append((section, path, login, zh, en))
    return out


def _with_region(links: list[Link], code: str) -> list[Link]:
    """``links`` about county ``code`` (``?region=CODE``), for a caller of several counties."""
    return [(sec, path + ("&" if "?" in path else "?") + f"region={code}", login, zh, en)
            for sec, path, login, zh, en in links]


def _items(lang: str, links: list[Link]) -> str:
    t = _T[lang]
    items = []
    for _sec, path, login, zh, en in links:
        href = path
        if lang == "en" and (path.startswith("/maps/") or path.startswith("/login")
                             or "format=xlsx" in path):
            href += ("&" if "?" in path else "?") + "lang=en"
        tag = t["login"] if login else t["open"]
        items.append(f'<li><a href="{escape(href)}">{escape(en if lang == "en" else zh)}'
                     f'</a> <span class="tag">{escape(tag)}</span> '
                     f'<code>{escape(path)}</code></li>')
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _sections(lang: str, links: list[Link],
              names: tuple[str, ...] = ("maps", "worker", "reports", "api")) -> list[str]:
    t = _T[lang]
    parts = []
    for section in names:
        ul = _items(lang, [link for link in links if link[0] == section])
        if ul:
            parts.append(f"<h2>{escape(t[section])}</h2>{ul}")
    return parts


def _page(lang: str, about: list[str], parts: list[str]) -> str:
    t = _T[lang]
    other = "/" if lang == "en" else "/?lang=en"
    paras = "".join(f"<p>{escape(x)}</p>" for x in about)
    return f"""<!DOCTYPE html>
<html lang="{'en' if lang == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t["title"])}</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em;
line-height:1.6;color:#222}}h1{{font-size:1.6em}}h2{{font-size:1.2em;margin-top:1.5em;
border-bottom:1px solid #ddd}}h3{{font-size:1.05em;margin-bottom:0}}ul{{padding-left:1.2em}}
.tag{{font-size:.8em;color:#666;border:1px solid #ccc;border-radius:3px;padding:0 .3em}}
code{{color:#666;font-size:.85em}}.lang{{float:right}}.note{{color:#555;font-size:.9em}}
</style>
</head><body><p class="lang"><a href="{other}">{escape(t["other_lang"])}</a></p>
<h1>{escape(t["title"])}</h1>
<p>{escape(t["lead"])}</p>
{paras}
{''.join(parts)}
<p class="note">{escape(t["note_login"])}</p>
</body></html>"""


def _about(lang: str, region: tuple[str, str, str | None, bool, str], code: str) -> str:
    t = _T[lang]
    name = region[1] if lang == "en" else region[0]
    return (t["demo"] if region[3] else t["region"]).format(
        name=name, code=code, synthetic=DATA_ORIGIN.label("synthetic", lang))


def _county_page(request: Request, lang: str, code: str, principal: Principal | None) -> str:
    """The page of one county: the public's (the service's county) or a county user's."""
    region = _region(request, code)
    about = [_about(lang, region, code)]
    name = region[1] if lang == "en" else region[0]
    if principal is not None:
        about = [_signed_in(lang, principal), _T[lang]["my_county"].format(name=name, code=code),
                 *about]
    if region[2] is None:
        about.append(_no_grid(lang, name, code))
    return _page(lang, about, _sections(lang, landing_links(request, region[2], region[4])))


def _no_grid(lang: str, name: str, code: str) -> str:
    """What to do for a county without a grid, instead of links that would be a 404."""
    from geo.regions.onboard import import_cells_command

    return _T[lang]["no_grid"].format(name=name, code=code, command=import_cells_command(code))


def _signed_in(lang: str, principal: Principal) -> str:
    zh, _, en = ROLE_NAMES.get(principal.role, principal.role).partition(" / ")
    return _T[lang]["signed_in"].format(user=principal.user, role=en if lang == "en" else zh)


def _scope_page(request: Request, lang: str, principal: Principal,
                counties: list[tuple[str, str]]) -> str:
    """The page of a caller of several counties: her whole scope first (wall screen, dispatch
    map and monthly report across the counties), then each county's own maps and reports."""
    t, mt = _T[lang], TEXTS[lang]
    regions = {code: _region(request, code) for code, _ in counties}
    month = max(r[4] for r in regions.values())
    scope: list[Link] = [
        ("scope", "/maps/dispatch?wall=1", True, TEXTS["zh"]["wall_title_scope"],
         TEXTS["en"]["wall_title_scope"]),
        ("scope", "/maps/dispatch", True, _T["zh"]["scope_map"], _T["en"]["scope_map"]),
        ("scope", f"/reports/monthly?month={month}&format=html", True,
         _T["zh"]["scope_report"].format(month=month),
         _T["en"]["scope_report"].format(month=month)),
    ]
    served = _served(request)
    scope = [x for x in scope if any(p.fullmatch(x[1].split("?")[0]) for p in served)]
    parts = [f"<h2>{escape(t['scope'].format(n=len(counties)))}</h2>{_items(lang, scope)}"]
    for code, _name in counties:
        region = regions[code]
        links = [("maps", "/maps/dispatch?wall=1", True, TEXTS["zh"]["wall_title"],
                  TEXTS["en"]["wall_title"]),
                 *landing_links(request, region[2], region[4])]
        own = _with_region([x for x in links if x[0] in ("maps", "reports")], code)
        name = region[1] if lang == "en" else region[0]
        note = ("" if region[2] is not None else
                f'<p class="note no-grid">{escape(_no_grid(lang, name, code))}</p>')
        parts.append(f'<section class="county" data-region="{escape(code)}">'
                     f"<h3>{escape(mt['county'])}: {escape(name)} ({escape(code)})</h3>"
                     f"{note}{_items(lang, own)}</section>")
    parts += _sections(lang, landing_links(request, None, month), ("api",))
    return _page(lang, [_signed_in(lang, principal)], parts)


async def _caller(request: Request) -> Principal | None:
    """The signed-in caller (the login cookie or a Bearer token), or None: anonymous, the
    open demo's anonymous command centre, or a credential that no longer holds (the landing
    page never refuses anyone)."""
    try:
        principal = await get_principal(request)
    except (WanggeError, HTTPException):
        return None
    return None if principal.is_anonymous else principal


def _counties(request: Request, principal: Principal) -> list[tuple[str, str]]:
    try:
        with request.app.state.engine.connect() as conn:
            return counties_in_scope(conn, principal)
    except Exception:  # noqa: BLE001 - the landing page never fails on the database
        return []


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """The site's icon: a 3 x 3 grid (网格) in the grid's blue, so a browser's request for it
    is not a 404 in every log."""
    return Response(_favicon_png(), media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400",
                             "X-Content-Type-Options": "nosniff"})


@cache
def _favicon_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    from maps.styles import CELL_LINE

    im = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.rounded_rectangle((0, 0, 31, 31), radius=5, fill="white", outline=CELL_LINE, width=3)
    for x in (11, 20):
        draw.line((x, 3, x, 28), fill=CELL_LINE, width=2)
        draw.line((3, x, 28, x), fill=CELL_LINE, width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@router.get("/", response_class=HTMLResponse, include_in_schema=True,
            summary="Landing page / 首页 (Chinese; ?lang=en for English)")
async def landing(request: Request, settings: SettingsDep, lang: str = "zh") -> HTMLResponse:
    """What this service is, the demo county, links to the maps, reports, API docs, health;
    for a signed-in caller, her county, or her counties with the views across them."""
    lang = "en" if lang == "en" else "zh"
    principal = await _caller(request)

    def render() -> str:
        # a county's user has one county: no look-up (the same page for fewer queries)
        if principal is not None and (principal.regions is None or len(principal.regions) > 1):
            counties = _counties(request, principal)
            if len(counties) > 1:
                return _scope_page(request, lang, principal, counties)
        code = settings.region_or_default(None, principal.regions if principal else None)
        return _county_page(request, lang, code, principal)

    body = await anyio.to_thread.run_sync(render)
    return HTMLResponse(body, headers={
        "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
        "Cache-Control": "no-store", "Vary": "Cookie, Authorization"})


__all__: list[Any] = ["router", "landing_links"]
