"""The monthly report as a document: HTML (self-contained), PDF (that HTML printed by headless
Chromium, fonts embedded) and XLSX (its tables).

One source: :func:`monthly_html` writes every sentence and table once; the PDF is that page
printed, so the two never disagree. Chinese first (``lang="zh"``), English with ``lang="en"``.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape
from typing import Any

import geopandas as gpd
from sqlalchemy import Connection

from geo.analysis.property import target_result
from geo.auth.principal import Principal
from geo.db.tables.vocab import ANALYSIS_UNIT, DATA_ORIGIN, ROLE, TARGET_RESULT
from geo.incidents.kpi import METRICS_EN as KPI_EN
from geo.incidents.kpi import METRICS_ZH as KPI_ZH
from geo.mapdata import foundation as gl
from geo.mapdata import incidents as gi
from geo.periods import Period, add_months
from reports import charts
from reports.monthly import HEADLINE, parse_month

T = {
    "zh": {
        "title": "网格化服务管理月报",
        "synthetic": f"演示数据 ({DATA_ORIGIN.label('synthetic')}), 非真实情况",
        "inputs": "本报告依据", "region": "区域", "period": "统计期", "as_of": "数据截至",
        "bset": "网格边界", "reader": "读者", "headline": "一、本月概况",
        "metric": "指标", "value": "本月", "mom": "环比", "yoy": "同比",
        "no_base": "上期无数据", "not_compared": "不作比较", "trend": "二、近 12 个月趋势",
        "trend_title": "上报数与结案率、按期结案率 (近 12 个月)",
        "townships": "三、各乡镇 (按结案率排序)", "rank": "排名", "name": "名称",
        "categories": "四、主要事件类别", "category": "类别", "change": "较上月",
        "overdue": "五、超期未办结事件", "overdue_total": "共 {n} 件, 列出超期最久的 {k} 件",
        "code": "编号", "township": "乡镇", "cell": "网格", "worker": "网格员",
        "department": "责任部门", "status": "状态", "reported": "上报时间",
        "due": "应办结时间", "late": "超期(天)", "map": "六、本月事件分布与热点",
        "scope_map": "六、本月各区县事件分布",
        "map_title": "{month} 事件分布与热点网格", "cameras": "七、视频监控覆盖",
        "property": "八、物业管理覆盖与目标", "sites": "九、建议新增摄像头点位",
        "definitions": "指标口径", "none": "无", "pp": "个百分点", "unit_cases": "件",
        "covered": "县域面积覆盖率", "uncovered": "本月事件中无摄像头覆盖",
        "cams": "在线摄像头", "blind": "无视频覆盖的小区",
        "managed": "有物业管理的小区占比", "target": "目标",
        "urban": "城区无物业管理小区清零",
        "units_meeting": "已达标 {n} / 共 {total} 个{unit}",
        "hidden": "按权限不显示明细: {role}只看统计数字, 不看逐件事件 (超期在办件数见「本月概况」)",
        "hidden_sheet": "按权限不显示明细 ({role})",
        "unmanaged": "仍无物业管理的小区", "compound": "小区", "address": "地址",
        "households": "户数", "site_rank": "序号", "gain": "新增覆盖事件",
        "bearing": "朝向(度)", "lonlat": "经纬度 (国家2000坐标系 CGCS2000)", "page_of": "第 {p} 页",
        "generated": "生成于",
        "sites_note": "按最大覆盖模型在 {cands} 个候选位置和朝向中选出 {k} 处, 可新覆盖本月无"
                      "摄像头覆盖的事件 {n} 件 (共 {total} 件, {share}%)",
        "hot_note": "热点分析 (Getis-Ord Gi*): 网格及其相邻网格 (二元邻接权重) 的事件密度, "
                    "{units} 个网格中热点 {hot} 个, 冷点 {cold} 个; 地图框出 95% 以上置信度的热点",
        "urban_value": "目标 100%", "zoom_title": "{month} 热点网格放大 (城区)",
        "system": "网格化服务管理系统 (Wangge)",
        "counties": "各区县本月对比", "county": "区县", "scope": "辖区",
        "total_row": "合计", "counties_ranked": "三、各区县 (按结案率排序)",
        "reports_before": "上月上报数",
        "per_county": "七、视频监控覆盖、物业管理与建议摄像头点位: 按区县分析, 见各区县月报 "
                      "(region=区县代码)",
        "scope_map_note": "区县界与本月事件; 热点网格按区县分析, 见各区县月报",
        "scope_map_title": "{month} 各区县事件分布",
    },
    "en": {
        "title": "Grid management monthly report",
        "synthetic": f"Demo data ({DATA_ORIGIN.label('synthetic', 'en')}), not a real county",
        "inputs": "Inputs", "region": "Region", "period": "Period",
        "as_of": "Data as of", "bset": "Grid boundaries", "reader": "Reader",
        "headline": "1. The month at a glance", "metric": "Metric", "value": "This month",
        "mom": "vs previous month", "yoy": "vs same month last year",
        "no_base": "no data", "not_compared": "not compared", "trend": "2. The last 12 months",
        "trend_title": "Reports, closing rate and on-time rate (12 months)",
        "townships": "3. Townships (ranked by closing rate)", "rank": "Rank", "name": "Name",
        "categories": "4. Main categories", "category": "Category", "change": "vs last month",
        "overdue": "5. Overdue cases still open", "overdue_total": "{n} in all; the {k} most "
        "overdue", "code": "Code", "township": "Township", "cell": "Cell",
        "worker": "Grid worker", "department": "Department", "status": "Status",
        "reported": "Reported", "due": "Due", "late": "Days late",
        "map": "6. Where the month's cases were, and hot spots",
        "scope_map": "6. Where the month's cases were, by county",
        "map_title": "{month}: incidents and hot-spot cells", "cameras": "7. Camera coverage",
        "property": "8. Property management against the targets",
        "sites": "9. Recommended new camera sites", "definitions": "Definitions",
        "none": "none", "pp": "points", "unit_cases": "",
        "covered": "Share of the county's area covered", "uncovered": "Incidents of the month "
        "no camera sees", "cams": "Online cameras", "blind": "Compounds no camera sees",
        "managed": "Compounds under property management", "target": "Target",
        "urban": "No unmanaged compound in the urban area",
        "units_meeting": "{n} of {total} {unit} units meet it",
        "hidden": "Not shown for your role ({role}: figures only, no case list); the count of "
                  "open overdue cases is in the headline",
        "hidden_sheet": "Not shown for your role ({role})",
        "unmanaged": "Compounds still without management",
        "compound": "Compound", "address": "Address", "households": "Households",
        "site_rank": "No.", "gain": "Incidents newly covered", "bearing": "Bearing (deg)",
        "lonlat": "Lon, lat (CGCS2000)", "page_of": "Page {p}", "generated": "Generated",
        "sites_note": "Maximal covering model over {cands} candidate positions and bearings: "
                      "{k} sites newly cover {n} of the month's {total} incidents no camera "
                      "sees ({share} %)",
        "hot_note": "Hot spots: Getis-Ord Gi* of incident density over each cell and the cells "
                    "touching it (binary contiguity); {hot} hot and {cold} cold of {units} "
                    "cells; the map outlines hot spots at 95 % confidence or more",
        "urban_value": "target 100 %", "zoom_title": "{month}: hot-spot cells, close-up",
        "system": "Wangge",
        "counties": "The counties this month", "county": "County", "scope": "Counties",
        "total_row": "Total", "counties_ranked": "3. Counties (ranked by closing rate)",
        "reports_before": "Reports last month",
        "per_county": "7. Camera coverage, property management and camera sites are analysed "
                      "per county: see each county's report (region=county code)",
        "scope_map_note": "County outlines and the month's incidents; hot spots are analysed "
                          "per county: see each county's report",
        "scope_map_title": "{month}: incidents by county",
    },
}
METRIC_NAMES = {
    "zh": {"reports": "上报数", "cases": "案件数", "closed": "结案数", "closing_rate": "结案率",
           "on_time_rate": "按期结案率", "open_overdue": "超期在办数",
           "avg_handling_h": "平均处置时长(工作小时)", "repeat_rate": "重复上报率"},
    "en": {"reports": "Reports", "cases": "Cases", "closed": "Closed",
           "closing_rate": "Closing rate", "on_time_rate": "On-time closing rate",
           "open_overdue": "Open and overdue", "avg_handling_h": "Avg handling (working h)",
           "repeat_rate": "Repeat-report rate"},
}
RATES = ("closing_rate", "on_time_rate", "repeat_rate")
CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; font-size: 10.5pt;
       color: #212121; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 20pt; margin: 0 0 4pt; } h2 { font-size: 13pt; margin: 14pt 0 6pt;
     border-bottom: 1.5pt solid #263238; padding-bottom: 2pt; break-after: avoid; }
.synthetic { color: #b71c1c; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0; font-size: 9pt;
        break-inside: auto; }
th, td { border: 0.5pt solid #90a4ae; padding: 2pt 4pt; text-align: left; }
th { background: #eceff1; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; } .inputs td { border: none; padding: 0 8pt 0 0; }
.kpis { display: flex; flex-wrap: wrap; gap: 6pt; margin: 6pt 0; }
.kpi { border: 0.8pt solid #90a4ae; border-radius: 3pt; padding: 4pt 8pt; min-width: 38mm; }
.kpi b { font-size: 15pt; display: block; } .up { color: #2e7d32; } .down { color: #c62828; }
img { max-width: 100%; } .note { color: #546e7a; font-size: 8.5pt; }
.defs { white-space: pre-wrap; font-size: 8pt; color: #455a64; }
"""


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in RATES:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def change_of(key: str, cmp: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """``(change, per cent)`` of ``key`` in a /kpi comparison (``yoy`` or ``pop``): counts and
    hours as a difference, rates in percentage points (no per cent); None when not compared."""
    if not cmp:
        return None, None
    if key in RATES:
        return (cmp.get("change_pp") or {}).get(key), None
    return (cmp.get("change") or {}).get(key), (cmp.get("change_pct") or {}).get(key)


def _change(key: str, cmp: dict[str, Any] | None, t: dict[str, str]) -> str:
    """'+3.2 个百分点' for rates, '+82 (+10.1%)' for counts; coloured by good/bad."""
    d, pct = change_of(key, cmp)
    if d is None:
        # no earlier period with reports, or a figure /kpi does not compare (open cases: an
        # earlier period has had longer to close them)
        why = t["no_base"] if not cmp else t["not_compared"]
        return f'<span class="note">{escape(why)}</span>'
    if key in RATES:
        text = f"{d:+.1f} {t['pp']}"
    elif isinstance(d, float) and not float(d).is_integer():
        text = f"{d:+.2f}"
    else:
        text = f"{int(d):+,}" + (f" ({pct:+.1f}%)" if pct is not None else "")
    worse_when_up = key in ("open_overdue", "avg_handling_h", "repeat_rate")
    good = (d > 0) != worse_when_up if d else None
    cls = "" if good is None else (' class="up"' if good else ' class="down"')
    return f"<span{cls}>{escape(text)}</span>"


def _unit_figures(g: dict[str, Any]) -> list[Any]:
    """A township's or county's figures as the report's tables show them."""
    return [g["reports"], g["cases"], g["closed"], _fmt("closing_rate", g["closing_rate"]),
            _fmt("on_time_rate", g["on_time_rate"]), g["open_overdue"]]


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{escape(str(c))}</td>'
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}">')


def _local(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M") if iso else "—"


def map_pictures(conn: Connection, principal: Principal, report: dict[str, Any],
                 lang: str = "zh") -> list[bytes]:
    """The month's incidents the reader may see (anonymous points for planners), townships
    and hot-spot cells (Gi* bin >= 2, 95 % and more), as PNGs: the county, and a close-up of
    the hot spots when there are any."""
    inp = report["inputs"]
    first = parse_month(inp["month"])
    period = Period.from_dates(first, add_months(first, 1) - dt.timedelta(days=1))
    # a report of several counties: their outlines and every county's incidents, no hot spots
    codes = ([c["code"] for c in inp["counties"]] if inp.get("scope")
             else [inp["region_code"]])
    level = ("county",) if inp.get("scope") else ("township",)
    # planners see the month's incidents as anonymous points (the maps' rule), never none
    read = gi.incident_points if gi.points_only(principal) else gi.incidents
    towns, points = [], []
    for code in codes:
        towns.append(gl.admin_units(conn, code, level))
        points.append(read(conn, principal, code, period, limit=20_000)[0])
    town = _concat(towns)
    pts = _concat(points)
    if not pts.empty:
        pts = pts.copy()
        pts["cls"] = ["overdue" if o else ("open" if op else "closed")
                      for o, op in zip(pts["overdue"], pts["is_open"], strict=True)]
    units = report["hotspots"]["table"].get("units") if report.get("hotspots") else None
    hot = (units[units["gi_bin"] >= 2] if units is not None and not units.empty
           else gpd.GeoDataFrame(geometry=[]))
    t = T[lang]
    title = t["scope_map_title" if inp.get("scope") else "map_title"]
    county = charts.incident_map(town, pts, hot, title.format(month=inp["month"]),
                                 f"{inp['region_name']} · {t['as_of']} {_local(inp['as_of'])}",
                                 lang)
    zoom = charts.zoom_map(units if units is not None else gpd.GeoDataFrame(geometry=[]), pts,
                           hot, t["zoom_title"].format(month=inp["month"]), lang)
    return [county] + ([zoom] if zoom else [])


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """One frame of the counties' frames (the one county's frame as it is)."""
    if len(frames) == 1:
        return frames[0]
    import pandas as pd

    full = [f for f in frames if not f.empty]
    if not full:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(full, ignore_index=True), crs=full[0].crs)


def monthly_html(conn: Connection, principal: Principal, report: dict[str, Any],
                 lang: str = "zh") -> str:
    """The report as one self-contained HTML page (pictures inlined, no outside request)."""
    lang = "en" if lang == "en" else "zh"
    t, names = T[lang], METRIC_NAMES[lang]
    inp, h = report["inputs"], report["headline"]
    parts: list[str] = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{escape(inp["region_name"])} {escape(inp["month"])} '
        f'{escape(t["title"])}</title><style>{CSS}</style></head><body>',
        f'<h1>{escape(inp["region_name"])} {escape(inp["month"])} {escape(t["title"])}</h1>',
    ]
    if inp["synthetic"]:
        parts.append(f'<p class="synthetic">{escape(t["synthetic"])}</p>')
    parts.append('<table class="inputs">' + "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in (
            (t["region"], f"{inp['region_name']} ({inp['region_code']})"),
            (t["period"], f"{inp['from']} — {_last_day(inp['to'])}"),
            (t["as_of"], _local(inp["as_of"])), (t["bset"], inp["boundary_set"]),
            (t["reader"], _reader(inp, lang)),
            *([(t["scope"], "、".join(c["name"] for c in inp["counties"]))]
              if inp.get("counties") else []))) + "</table>")
    # 1. headline
    parts.append(f"<h2>{escape(t['headline'])}</h2><div class=kpis>")
    for key in ("reports", "closing_rate", "on_time_rate", "open_overdue"):
        parts.append(f'<div class=kpi>{escape(names[key])}<b>{escape(_fmt(key, h[key]))}</b>'
                     f'{escape(t["mom"])} {_change(key, report["mom"], t)}<br>'
                     f'{escape(t["yoy"])} {_change(key, report["yoy"], t)}'
                     "</div>")
    parts.append("</div>")
    rows = "".join(
        f"<tr><td>{escape(names[k])}</td><td class=n>{escape(_fmt(k, h[k]))}</td>"
        f"<td>{_change(k, report['mom'], t)}</td>"
        f"<td>{_change(k, report['yoy'], t)}</td></tr>" for k in HEADLINE)
    parts.append(f"<table><thead><tr><th>{escape(t['metric'])}</th><th>{escape(t['value'])}"
                 f"</th><th>{escape(t['mom'])}</th><th>{escape(t['yoy'])}</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    scope = bool(inp.get("scope"))
    county_headers = [t["county"], names["reports"], names["cases"], names["closed"],
                      names["closing_rate"], names["on_time_rate"], names["open_overdue"]]
    # a prefecture or province reader: every county in scope, side by side
    if report.get("counties") and not scope:
        parts.append(f"<h2>{escape(t['counties'])}</h2>")
        parts.append(_table(
            county_headers,
            [[g["name"], *_unit_figures(g)] for g in (
                *report["counties"]["rows"], {**report["counties"]["total"],
                                              "name": t["total_row"]})],
            {1, 2, 3, 4, 5, 6}))
    # 2. trend
    parts.append(f"<h2>{escape(t['trend'])}</h2>")
    parts.append(_img(charts.trend_chart(report["trend"], t["trend_title"], lang),
                      t["trend_title"]))
    parts.append(_table(
        [t["period"], names["reports"], names["cases"], names["closed"], names["closing_rate"],
         names["on_time_rate"]],
        [[m["month"], m["reports"], m["cases"], m["closed"], _fmt("closing_rate",
          m["closing_rate"]), _fmt("on_time_rate", m["on_time_rate"])]
         for m in report["trend"]], {1, 2, 3, 4, 5}))
    # 3. townships (the whole scope: counties) ranked
    if scope:
        parts.append(f"<h2>{escape(t['counties_ranked'])}</h2>")
        parts.append(_table(
            [t["rank"], *county_headers],
            [[i + 1, g["name"], *_unit_figures(g)] for i, g in enumerate(
                report["counties"]["rows"])] + [["", t["total_row"], *_unit_figures(
                    report["counties"]["total"])]], {0, 2, 3, 4, 5, 6, 7}))
    else:
        parts.append(f"<h2>{escape(t['townships'])}</h2>")
        parts.append(_table(
            [t["rank"], t["township"], names["reports"], names["cases"], names["closed"],
             names["closing_rate"], names["on_time_rate"], names["open_overdue"]],
            [[i + 1, g["name"], *_unit_figures(g)] for i, g in enumerate(report["townships"])],
            {0, 2, 3, 4, 5, 6, 7}))
    # 4. categories
    parts.append(f"<h2>{escape(t['categories'])}</h2>")
    if scope:  # each county's reports of the category, their sum and last month's
        counties = inp["counties"]
        parts.append(_table(
            [t["category"], *(c["name"] for c in counties), names["reports"],
             t["reports_before"]],
            [[c["name"], *(f"{c['by_county'].get(k['code'], 0):,}" for k in counties),
              f"{c['reports']:,}", f"{c['reports_before']:,}"] for c in report["categories"]],
            set(range(1, len(counties) + 3))))
    cat_rows = "" if scope else "".join(
        f"<tr><td>{escape(str(c['name']))}</td><td class=n>{c['reports']:,}</td>"
        f"<td>{_change('reports', c['change'], t)}</td>"
        f"<td class=n>{escape(_fmt('closing_rate', c['closing_rate']))}</td></tr>"
        for c in report["categories"])
    if not scope:
        parts.append(f"<table><thead><tr><th>{escape(t['category'])}</th><th>"
                     f"{escape(names['reports'])}</th><th>{escape(t['change'])}</th><th>"
                     f"{escape(names['closing_rate'])}</th></tr></thead><tbody>{cat_rows}"
                     "</tbody></table>")
    # 5. overdue
    od = report["overdue"]
    parts.append(f"<h2>{escape(t['overdue'])}</h2><p>" + escape(
        t["hidden"].format(role=ROLE.label(inp["role"], lang)) if od.get("hidden") else
        t["overdue_total"].format(n=od["total"], k=len(od["rows"]))) + "</p>")
    if od["rows"]:
        first = [t["county"]] if scope else []
        parts.append(_table(
            [*first, t["code"], t["category"], t["township"], t["worker"], t["department"],
             t["status"], t["reported"], t["due"], t["late"]],
            [[*([r["county"]] if scope else []), r["code"], r["category"], r["township"],
              r["worker"], r["department"], r["status"], _local(r["reported_at"]),
              _local(r["due_at"]), r["overdue_days"]]
             for r in od["rows"]], {8 + len(first)}))
    # 6. map
    heading = t["scope_map" if scope else "map"]  # a scope's map has no hot spots
    parts.append(f"<h2>{escape(heading)}</h2>")
    parts.extend(_img(png, heading) for png in map_pictures(conn, principal, report, lang))
    if scope:  # the analyses of one county each: in the counties' own reports
        parts.append(f'<p class="note">{escape(t["scope_map_note"])}</p>')
        parts.append(f"<h2>{escape(t['per_county'])}</h2>")
        return _end(parts, report, t, lang)
    sp = report["hotspots"]["summary"]
    parts.append('<p class="note">' + escape(t["hot_note"].format(
        units=sp.get("units"), hot=sp.get("hot_units"), cold=sp.get("cold_units"))) + "</p>")
    # 7. cameras
    cs = report["cameras"]["summary"]
    parts.append(f"<h2>{escape(t['cameras'])}</h2>")
    parts.append(_table([t["metric"], t["value"]], [
        [t["covered"], f"{cs['covered_pct']:.2f}%"],
        [t["cams"], f"{cs['cameras_counted']:,} / {cs['cameras']:,}"],
        [t["uncovered"], f"{cs['incidents_uncovered']:,} / {cs['incidents']:,}"],
        [t["blind"], f"{cs['compounds_without_camera_view']:,}"]], {1}))
    # 8. property
    ps = report["property"]["summary"]
    parts.append(f"<h2>{escape(t['property'])}</h2>")
    target_rows = [[t["managed"], f"{ps['managed_pct']:.1f}%", ""]]
    urban = ps.get("no_unmanaged_urban") or {}
    if urban:
        target_rows.append([f"{t['urban']} ({urban.get('from')})", t["urban_value"],
                            TARGET_RESULT.label(target_result(urban), lang)])
    unit = ANALYSIS_UNIT.label(report["property"].get("unit", "community"), lang)
    for tg in ps.get("targets", []):
        target_rows.append([f"{t['target']} {tg['target_pct']:g}% ({tg['by']})",
                            t["units_meeting"].format(n=tg.get("units_meeting"),
                                                      total=tg.get("units"), unit=unit),
                            TARGET_RESULT.label(target_result(tg), lang)])
    parts.append(_table([t["metric"], t["value"], t["status"]], target_rows, {1}))
    un = report["property"]["unmanaged"]
    if un is not None and not un.empty:
        parts.append(f"<p>{escape(t['unmanaged'])}: {len(un)}</p>")
        cols = [c for c in ("name", "township_name", "address", "households") if c in un]
        parts.append(_table([{"name": t["compound"], "township_name": t["township"],
                              "address": t["address"], "households": t["households"]}[c]
                             for c in cols],
                            [[_cell(r[c]) for c in cols] for _, r in un.head(30).iterrows()],
                            {len(cols) - 1} if "households" in cols else set()))
    # 9. sites
    parts.append(f"<h2>{escape(t['sites'])}</h2>")
    sites = report["sites"]["rows"]
    cell_names = report["sites"].get("cell_names") or {}
    if sites is not None and not sites.empty:
        parts.append(_table([t["site_rank"], t["cell"], t["bearing"], t["gain"], t["lonlat"]],
                            [[int(r["rank"]), f"{_cell(cell_names.get(r.get('cell_code')))} "
                              f"({_cell(r.get('cell_code'))})",
                              f"{float(r['bearing_deg']):.0f}", int(r["gain_incidents"]),
                              f"{float(r['lon']):.5f}, {float(r['lat']):.5f}"]
                             for _, r in sites.iterrows()], {0, 2, 3}))
    ss = report["sites"]["summary"]
    parts.append('<p class="note">' + escape(t["sites_note"].format(
        k=ss.get("sites_recommended"), n=ss.get("newly_covered_incidents"),
        total=ss.get("uncovered_demand_incidents"), share=ss.get("newly_covered_share_pct"),
        cands=ss.get("candidates"))) + "</p>")
    return _end(parts, report, t, lang)


def _end(parts: list[str], report: dict[str, Any], t: dict[str, str], lang: str) -> str:
    """The definitions, the line saying when it was made, and the page's end."""
    defs = report["definitions_zh"] if lang == "zh" else report["definitions"]
    parts.append(f"<h2>{escape(t['definitions'])}</h2><p class=defs>{escape(defs)}</p>")
    parts.append(f'<p class="note">{escape(t["generated"])} {_local(report["inputs"]["as_of"])}'
                 f' · {escape(t["system"])}</p>')
    parts.append("</body></html>")
    return "".join(parts)


def _reader(inp: dict[str, Any], lang: str) -> str:
    """The reader as a person reads it: display name and the role's name; in Chinese the
    role's name alone when the reader has no display name (the command line, a login name
    that is not a name)."""
    role = ROLE.label(inp["role"], lang)
    if lang == "zh":
        who = inp.get("reader_name")
        return f"{who} ({role})" if who else role
    return f"{inp['reader']} ({role})"


def _last_day(to: str) -> str:
    """The last day of a period given its exclusive end date."""
    return (dt.date.fromisoformat(to) - dt.timedelta(days=1)).isoformat()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return str(value)


def html_to_pdf(html: str) -> bytes:
    """Print an HTML page to PDF (A4) in headless Chromium, network cut off: fonts embedded,
    pictures as they are on screen."""
    from playwright.sync_api import sync_playwright

    from api.cli.maps import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda r: r.abort() if not r.request.url.startswith(
                ("data:", "about:")) else r.continue_())
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()


def monthly_xlsx(report: dict[str, Any], lang: str = "zh") -> bytes:
    """The report's tables as a workbook written by the one Excel writer
    (:mod:`geo.io.workbook`): 概况, 趋势, 乡镇, 类别, 超期事件 and the 说明 sheet."""
    from geo.io.workbook import About, Column, Sheet, write_workbook

    zh, en = METRIC_NAMES["zh"], METRIC_NAMES["en"]
    tz, te = T["zh"], T["en"]

    def metric(key: str, **kw: Any) -> Column:
        kind = "percent" if key in RATES else ("float" if key == "avg_handling_h" else "int")
        return Column(key, zh[key], en[key], kind, **kw)

    h = report["headline"]
    # one figure per row: each row says its kind (rates as 84.2 %, counts as integers) and the
    # unit of its 环比/同比 (a difference of rates is in percentage points, not per cent)
    headline_rows = [{"metric": zh[k] if lang != "en" else en[k], "value": h[k],
                      "kind": metric(k).kind, "change_kind": "int" if metric(k).kind == "int"
                      else "float", "mom": change_of(k, report["mom"])[0],
                      "yoy": change_of(k, report["yoy"])[0],
                      "unit": CHANGE_UNITS[_change_unit(k)][0 if lang != "en" else 1]}
                     for k in HEADLINE]
    trend = Sheet("趋势", "Trend", [
        Column("month", tz["period"], te["period"]), metric("reports", total=True),
        metric("cases", total=True), metric("closed", total=True),
        metric("closing_rate", ratio=("closed", "due")), metric("on_time_rate")],
        [{**m} for m in report["trend"]], totals=False)
    def unit_figures() -> list[Column]:  # the KPI columns of a row per township or county
        return [
            metric("reports", total=True), metric("cases", total=True),
            metric("closed", total=True), Column("due", "应结案数", "Due", "int", total=True),
            metric("closing_rate", ratio=("closed", "due")),
            metric("on_time_rate", ratio=("closed_on_time", "due_timed")),
            Column("closed_on_time", "按期结案数", "Closed on time", "int", total=True),
            metric("open_overdue", total=True),
            *(Column(k, KPI_ZH[k], KPI_EN[k], "int", total=True)
              for k in ("due_timed", "no_deadline"))]

    scope = bool(report["inputs"].get("scope"))
    if scope:  # the whole scope: the counties ranked instead of the townships
        towns = Sheet("区县", "Counties", [
            Column("rank", tz["rank"], te["rank"], "int"), Column("name", tz["county"],
                                                                te["county"]),
            *unit_figures()],
            [{**g, "rank": i + 1} for i, g in enumerate(report["counties"]["rows"])],
            totals=True)
        counties = report["inputs"]["counties"]
        cats = Sheet("类别", "Categories", [
            Column("name", tz["category"], te["category"]),
            *(Column(f"n_{c['code']}", c["name"], c["name"], "int", total=True)
              for c in counties), metric("reports", total=True),
            Column("reports_before", tz["reports_before"], te["reports_before"], "int",
                   total=True)],
            [{**c, **{f"n_{k['code']}": c["by_county"].get(k["code"], 0) for k in counties}}
             for c in report["categories"]])
    else:
        towns = Sheet("乡镇", "Townships", [
            Column("rank", tz["rank"], te["rank"], "int"), Column("name", tz["township"],
                                                                te["township"]),
            *unit_figures()],
            [{**g, "rank": i + 1} for i, g in enumerate(report["townships"])], totals=True)
        cats = Sheet("类别", "Categories", [
            Column("name", tz["category"], te["category"]), metric("reports", total=True),
            Column("change", tz["change"], te["change"], "int"), metric("closing_rate")],
            [{**c, "change": change_of("reports", c["change"])[0]}
             for c in report["categories"]])
    overdue = Sheet("超期事件", "Overdue", [
        *([Column("county", tz["county"], te["county"])] if scope else []),
        Column("code", tz["code"], te["code"]), Column("category", tz["category"],
                                                      te["category"]),
        Column("township", tz["township"], te["township"]),
        Column("worker", tz["worker"], te["worker"]),
        Column("department", tz["department"], te["department"]),
        Column("status", tz["status"], te["status"]),
        Column("reported", tz["reported"], te["reported"], "datetime"),
        Column("due", tz["due"], te["due"], "datetime"),
        Column("overdue_days", tz["late"], te["late"], "float")],
        [{**r, "reported": _aware(r["reported_at"]), "due": _aware(r["due_at"])}
         for r in report["overdue"]["rows"]] or _hidden_rows(report, lang))
    headline = Sheet("概况", "Headline", [
        Column("metric", tz["metric"], te["metric"]),
        Column("value", tz["value"], te["value"], "float", kind_of="kind",
               note_zh="率以百分比显示, 其余为件数或小时",
               note_en="rates as percentages, others as counts or hours"),
        Column("mom", tz["mom"], te["mom"], "float", kind_of="change_kind",
               note_zh="与上月之差: 率为百分点之差, 其余为件数或小时之差",
               note_en="difference from the month before: rates in percentage points, "
                       "others in cases or hours"),
        Column("yoy", tz["yoy"], te["yoy"], "float", kind_of="change_kind",
               note_zh="与上年同月之差, 单位同环比", note_en="difference from the same month a "
               "year earlier, in the same units"),
        Column("unit", "环比、同比单位", "Unit of the changes")], headline_rows)
    sheets = [headline, trend, towns, cats, overdue]
    if report.get("counties") and not scope:  # a prefecture or province reader's county
        sheets.insert(1, Sheet("区县", "Counties", [
            Column("name", tz["county"], te["county"]), *unit_figures()],
            report["counties"]["rows"], totals=True))
    inp = report["inputs"]
    about = About(
        f"{inp['region_name']} {inp['month']} {tz['title']}",
        f"{inp['region_name']} {inp['month']} {te['title']}",
        inputs=[("区域", "Region", f"{inp['region_name']} ({inp['region_code']})"),
                ("统计期", "Period", f"{inp['from']} — {_last_day(inp['to'])}"),
                ("数据截至", "Data as of", _local(inp["as_of"])),
                ("网格边界", "Grid boundaries", inp["boundary_set"]),
                *([("辖区", "Counties", "、".join(c["name"] for c in inp["counties"]))]
                  if inp.get("counties") else [])],
        notes=([(tz["synthetic"], te["synthetic"])] if inp["synthetic"] else [])
        + [(report["definitions_zh"], report["definitions"])])
    return write_workbook(sheets, about, lang)


CHANGE_UNITS = {"pp": ("百分点", "percentage points"), "cases": ("件", "cases"),
                "hours": ("小时", "hours")}


def _change_unit(key: str) -> str:
    return "pp" if key in RATES else ("hours" if key == "avg_handling_h" else "cases")


def _hidden_rows(report: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The overdue sheet's one line when the reader's role reads no case list: the sheet says
    why it is empty instead of looking like nothing is overdue."""
    if not report["overdue"].get("hidden"):
        return []
    role = ROLE.label(report["inputs"]["role"], lang)
    return [{"code": T[lang]["hidden_sheet"].format(role=role)}]


def _aware(iso: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso) if iso else None
