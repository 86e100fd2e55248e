"""The Folium map frame shared by every Wangge map: offline assets, basemaps, texts, chrome.

- :class:`WanggeMap` is a ``folium.Map`` whose own ``default_js``/``default_css`` lists point at
  the locally served assets (folium's class-level CDN lists are never touched).
- Basemaps: ``none`` (our own boundaries on a plain background, the default and fully offline),
  ``tianditu`` (CGCS2000, needs ``WANGGE_TIANDITU_KEY``), ``amap`` (GCJ-02: every overlay is
  shifted to GCJ-02 with :mod:`geo.crs.transforms` so it sits on AMap's streets) and ``osm``.
- Labels and legends in Chinese by default, English with ``lang="en"``.
- :func:`csp_header` gives the Content-Security-Policy of a page: self + inline scripts/styles
  (Folium writes inline scripts), images from self, data: and the chosen basemap's tile host.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import HeatMap
from folium.template import Template

from geo.crs.transforms import transform_geometry, transform_xy
from geo.errors import InvalidInput
from maps import assets

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Basemap:
    """A tile basemap: URL template, subdomains, attribution, CRS its streets are drawn in."""

    key: str
    name: dict[str, str]
    tiles: str | None = None
    labels: str | None = None
    subdomains: str = "abc"
    attribution: str = ""
    overlay_crs: str = "EPSG:4490"
    hosts: tuple[str, ...] = ()
    needs_key: bool = False


BASEMAPS: dict[str, Basemap] = {
    "none": Basemap("none", {"zh": "无底图 (本系统边界)", "en": "No basemap (our boundaries)"}),
    "tianditu": Basemap(
        "tianditu", {"zh": "天地图 (CGCS2000)", "en": "Tianditu (CGCS2000)"},
        tiles="https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
              "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
              "&TILECOL={x}&tk={key}",
        labels="https://t{s}.tianditu.gov.cn/{lab}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
               "&VERSION=1.0.0&LAYER={lab}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
               "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        subdomains="01234567", attribution="&copy; 天地图 Tianditu (国家地理信息公共服务平台)",
        hosts=("https://*.tianditu.gov.cn",), needs_key=True,
    ),
    "amap": Basemap(
        "amap", {"zh": "高德地图 (GCJ-02)", "en": "AMap/Gaode (GCJ-02)"},
        tiles="https://webrd0{s}.is.autonavi.com/appmaptile?lang={amap_lang}&size=1&scale=1"
              "&style=8&x={x}&y={y}&z={z}",
        subdomains="1234", attribution="&copy; 高德地图 AMap", overlay_crs="GCJ02",
        hosts=("https://*.is.autonavi.com",),
    ),
    "osm": Basemap(
        "osm", {"zh": "OpenStreetMap", "en": "OpenStreetMap"},
        tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png", subdomains="",
        attribution="&copy; OpenStreetMap contributors", hosts=("https://tile.openstreetmap.org",),
    ),
}

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "townships": "乡镇界", "villages": "村/社区界", "cells": "网格", "dedicated": "专属网格",
        "incidents_open": "未办结事件", "incidents_counts": "事件数(按网格汇总)",
        "heat": "事件热力图", "cameras": "摄像头及视域", "compounds": "小区(物业管理方式)",
        "code": "编码", "name": "名称", "worker": "网格员", "phone": "电话", "village": "村/社区",
        "township": "乡镇", "households": "户数", "status": "状态", "urgency": "紧急程度",
        "reported": "上报时间", "description": "事件描述", "location": "位置", "cell": "网格",
        "department": "责任部门", "channel": "来源渠道", "overdue": "超期", "open": "未办结",
        "closed": "已办结", "total": "合计", "period": "时段", "from": "从", "to": "到",
        "apply": "查询", "go": "定位", "placeholder": "网格编码或小区名称",
        "notfound": "未找到", "online": "在线", "offline": "离线", "fault": "故障",
        "nobearing": "朝向未知(按圆形计)", "legend": "图例", "dispatch_title": "指挥调度图",
        "cell_title": "网格员地图", "here": "我的位置", "cam_cov_title": "摄像头覆盖率",
        "prop_title": "物业管理覆盖率", "no_data": "无数据/无小区", "gap": "网格空隙",
        "overlap": "网格重叠", "outside": "不在任何摄像头视域内的事件",
        "shown_of": "显示 {shown} / 共 {total}", "neighbours": "相邻网格",
        "mode_company": "物业服务企业", "mode_community": "社区托管",
        "mode_social_org": "社会组织代管",
        "mode_owners": "业主自管", "mode_none": "无物业管理", "unit_cell": "网格",
        "unit_community": "村/社区", "unit_township": "乡镇", "share": "覆盖率",
        "compounds_n": "小区数", "managed": "有物业管理", "cameras_n": "在线摄像头",
        "overdue_rule": "超期: 未办结且超过截止时间(无截止时间时: 上报超过 {days} 天)",
        "link_cell": "所在网格", "link_item": "事件详情(API)", "basemap": "底图",
        "open_not_overdue": "未办结(未超期)", "target": "目标",
        "urgent": "紧急", "normal": "一般", "live": "视野内全部事件(放大到 {z} 级加载)",
        "from_zoom": " (放大到 {z} 级显示)",
        "counts_note": "事件数(按网格汇总): 圆面积与事件数成正比; "
                       "红=有超期, 橙=有未办结, 蓝=均已办结",
        "hotspots": "事件热点 (Gi*)", "hot": "热点", "cold": "冷点",
        "confidence": "置信度", "gi_z": "Gi* z 值", "gi_p": "p 值", "per_km2": "每平方公里事件",
        "incidents_n": "事件数",
        "hot_note": "热点: Getis-Ord Gi* (esda), 每平方公里事件数, {perm} 次置换, 时段 {period}",
        "sites": "建议新增摄像头点位 (前 {k} 个)", "site": "建议点位", "rank": "排序",
        "bearing": "朝向", "fov": "视角", "range": "视距", "source": "候选来源",
        "src_entrance": "小区出入口", "src_lattice": "网格点阵", "compound": "小区",
        "gain_inc": "新增覆盖事件", "gain_weight": "新增覆盖权重(紧急计2)",
        "cum_inc": "累计新增覆盖事件", "standalone": "单独可见事件",
        "gain_area": "新增覆盖面积", "sector_area": "视域面积", "site_sector": "建议点位视域",
        "sites_note": "建议点位: {solver} 求解, k={k}, 候选 {cands} 个; 共新增覆盖 {n} 起事件 "
                      "({share} % 的未覆盖需求), 新增覆盖面积 {area} 平方公里",
        "sites_fallback": "时段较长, 候选点阵过大: 仅在小区出入口中选点",
        "live_tiles": "事件矢量瓦片 (放大到 {z} 级, 时段内全部)",
        "tiles_note": "放大到 {z} 级后, 时段内全部事件以矢量瓦片 (/tiles/incidents) 加载",
    },
    "en": {
        "townships": "Townships", "villages": "Villages / communities", "cells": "Grid cells",
        "dedicated": "Dedicated cells", "incidents_open": "Open incidents",
        "incidents_counts": "Incidents per cell", "heat": "Incident heat map",
        "cameras": "Cameras and view sectors", "compounds": "Compounds (property management)",
        "code": "Code", "name": "Name", "worker": "Grid worker", "phone": "Phone",
        "village": "Village/community", "township": "Township", "households": "Households",
        "status": "Status", "urgency": "Urgency", "reported": "Reported",
        "description": "Description", "location": "Location", "cell": "Cell",
        "department": "Department", "channel": "Channel", "overdue": "Overdue", "open": "Open",
        "closed": "Closed", "total": "Total", "period": "Period", "from": "From", "to": "To",
        "apply": "Apply", "go": "Go", "placeholder": "Cell code or compound name",
        "notfound": "Not found", "online": "online", "offline": "offline", "fault": "fault",
        "nobearing": "bearing unknown (circle)", "legend": "Legend",
        "dispatch_title": "Dispatch map", "cell_title": "Grid worker's map", "here": "I am here",
        "cam_cov_title": "Camera coverage", "prop_title": "Property-management coverage",
        "no_data": "No data / no compounds", "gap": "Grid gap", "overlap": "Grid overlap",
        "outside": "Incidents outside every camera view", "shown_of": "showing {shown} of {total}",
        "neighbours": "Neighbouring cells", "mode_company": "Management company",
        "mode_community": "Entrusted to community", "mode_social_org": "Social organisation",
        "mode_owners": "Self-managed by owners", "mode_none": "No property management",
        "unit_cell": "cell", "unit_community": "village/community", "unit_township": "township",
        "share": "Coverage", "compounds_n": "Compounds", "managed": "Managed",
        "cameras_n": "Online cameras",
        "overdue_rule": "Overdue: open past its due time (no due time: reported > {days} days ago)",
        "link_cell": "Cell at this point", "link_item": "Incident (API)", "basemap": "Basemap",
        "open_not_overdue": "Open (not overdue)", "target": "target",
        "urgent": "urgent", "normal": "normal", "live": "All incidents in view (zoom >= {z})",
        "from_zoom": " (from zoom {z})",
        "counts_note": "Incidents per cell: circle area ~ count; red = some overdue, orange = "
                       "some open, blue = all closed",
        "hotspots": "Incident hot spots (Gi*)", "hot": "Hot spot", "cold": "Cold spot",
        "confidence": "confidence", "gi_z": "Gi* z-score", "gi_p": "p-value",
        "per_km2": "Incidents per km²", "incidents_n": "Incidents",
        "hot_note": "Hot spots: Getis-Ord Gi* (esda) of incidents per km², {perm} permutations, "
                    "period {period}",
        "sites": "Recommended camera sites (top {k})", "site": "Recommended site",
        "rank": "Rank", "bearing": "Bearing", "fov": "Field of view", "range": "Range",
        "source": "Candidate", "src_entrance": "compound entrance", "src_lattice": "lattice",
        "compound": "Compound", "gain_inc": "Incidents newly covered",
        "gain_weight": "Weight newly covered (urgent = 2)", "cum_inc": "Cumulative incidents",
        "standalone": "Incidents seen alone", "gain_area": "Area newly covered",
        "sector_area": "Sector area", "site_sector": "Recommended sector",
        "sites_note": "Sites: {solver} solver, k={k}, {cands} candidates; {n} incidents newly "
                      "covered ({share} % of the uncovered demand), {area} km² newly covered",
        "sites_fallback": "Long period, candidate lattice too large: compound entrances only",
        "live_tiles": "Incident vector tiles (zoom >= {z}, whole period)",
        "tiles_note": "From zoom {z} every incident of the period loads as vector tiles "
                      "(/tiles/incidents)",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    "zh": {"reported": "已上报", "registered": "已立案", "dispatched": "已派遣",
           "in_progress": "处置中", "handled": "已处置待核查", "verified": "已核查",
           "closed": "已结案", "rework": "返工", "rejected": "不予立案", "cancelled": "已撤销",
           "merged": "已合并", "needs_location": "待定位"},
    "en": {s: s.replace("_", " ") for s in (
        "reported", "registered", "dispatched", "in_progress", "handled", "verified", "closed",
        "rework", "rejected", "cancelled", "merged", "needs_location")},
}
MGMT_COLORS = {"company": "#2e7d32", "community": "#66bb6a", "social_org": "#9ccc65",
               "owners": "#26a69a", "none": "#d32f2f"}
INCIDENT_STYLES = {
    "overdue": {"color": "#7f0000", "fill": "#e53935"},
    "open": {"color": "#e65100", "fill": "#ffb300"},
    "closed": {"color": "#1b5e20", "fill": "#43a047"},
}
CAMERA_STYLES = {"online": {"color": "#1565c0"}, "offline": {"color": "#757575"},
                 "fault": {"color": "#6a1b9a"}}


@dataclass(frozen=True)
class MapOptions:
    """What the user asked for: language, basemap, period, refresh, overdue rule."""

    lang: str = "zh"
    basemap: str = "none"
    tianditu_key: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    refresh: int = 0
    overdue_days: float = 3.0
    region_code: str = "141123"
    extra: dict[str, Any] = field(default_factory=dict)

    def validated(self) -> MapOptions:
        """Check lang/basemap/refresh; raise InvalidInput with a fix."""
        if self.lang not in LANGS:
            raise InvalidInput(f"lang 只能是 zh 或 en / lang must be zh or en, not {self.lang!r}",
                               field="lang")
        if self.basemap not in BASEMAPS:
            raise InvalidInput(
                f"未知底图 basemap={self.basemap!r}, 可选 {', '.join(BASEMAPS)} / unknown basemap: "
                f"use one of {', '.join(BASEMAPS)}", field="basemap")
        if BASEMAPS[self.basemap].needs_key and not self.tianditu_key:
            raise InvalidInput(
                "天地图需要密钥: 请设置环境变量 WANGGE_TIANDITU_KEY / Tianditu needs a key: set "
                "WANGGE_TIANDITU_KEY (or use basemap=none, amap or osm)", field="basemap")
        if self.refresh < 0 or self.refresh > 86400:
            raise InvalidInput("refresh 应在 0..86400 秒 / refresh must be 0..86400 seconds",
                               field="refresh")
        if self.overdue_days <= 0:
            raise InvalidInput("overdue_days 必须为正 / overdue_days must be > 0",
                               field="overdue_days")
        return self

    @property
    def t(self) -> dict[str, str]:
        """Texts in the chosen language."""
        return TEXTS[self.lang]

    @property
    def base(self) -> Basemap:
        """The chosen basemap."""
        return BASEMAPS[self.basemap]

    def status_name(self, status: str) -> str:
        """A status in the chosen language."""
        return STATUS_NAMES[self.lang].get(status, status)


class WanggeMap(folium.Map):
    """``folium.Map`` with Leaflet served by Wangge itself (no CDN), plus Wangge's own JS/CSS.

    Only what the Wangge maps use is linked (Leaflet, wangge.js/css): pages load faster and a
    standalone export stays small. :class:`WanggeIconMap` links folium's full set (jQuery,
    Bootstrap, Font Awesome, awesome-markers, glyphicons), also served locally, for maps that
    use ``folium.Icon`` markers.
    """

    default_js = [assets.LEAFLET_JS, assets.WANGGE_JS]
    default_css = [assets.LEAFLET_CSS, assets.WANGGE_CSS]


class WanggeIconMap(WanggeMap):
    """:class:`WanggeMap` with folium's complete default asset set, served locally."""

    default_js = [*assets.FOLIUM_JS, assets.WANGGE_JS]
    default_css = [*assets.FOLIUM_CSS, assets.WANGGE_CSS]


class LocalHeatMap(HeatMap):
    """HeatMap using the locally installed leaflet.heat 0.2.0."""

    default_js = assets.HEAT_JS


class JsLayer(Layer):
    """An overlay built by a ``Wangge.<factory>(data, options)`` call of maps/static/wangge.js."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = Wangge.{{ this.factory }}({{ this.data_json }},
            {{ this.options_json }});
        {% endmacro %}
    """)

    def __init__(self, factory: str, data: Any, options: dict[str, Any] | None = None,
                 name: str | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "WanggeLayer"
        self.factory = factory
        self.data_json = _js_json(data)
        self.options_json = _js_json(options or {})


class VectorTileLayer(JSCSSMixin, JsLayer):
    """A ``Wangge.tiles`` overlay: Wangge's vector tiles drawn by Leaflet.VectorGrid (npm)."""

    default_js = assets.VECTORGRID_JS
    default_css: list[tuple[str, str]] = []


class JsCall(MacroElement):
    """A ``Wangge.<func>(map, ...args)`` call added to the map (legend, search, period ...)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        Wangge.{{ this.func }}({{ this._parent.get_name() }}{% for a in this.args_json %},
            {{ a }}{% endfor %});
        {% endmacro %}
    """)

    def __init__(self, func: str, *args: Any) -> None:
        super().__init__()
        self._name = "WanggeCall"
        self.func = func
        self.args_json = [_js_json(a) for a in args]


class RawScript(MacroElement):
    """A script line run after the map exists (``{map}`` is replaced by its variable)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.code.replace('{map}', this._parent.get_name()) }}
        {% endmacro %}
    """)

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


def _js_json(value: Any) -> str:
    """JSON safe to embed in an inline <script> (no ``</`` sequences)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).replace(
        "</", "<\\/")


def new_map(opts: MapOptions, bounds: tuple[float, float, float, float], title: str) -> WanggeMap:
    """An empty map fitted to ``bounds`` (EPSG:4490) with the chosen basemap and title."""
    assets.check_installed()
    x0, y0, x1, y1 = bounds
    if opts.base.overlay_crs != "EPSG:4490":
        xs, ys = transform_xy(np.array([x0, x1]), np.array([y0, y1]), "EPSG:4490",
                              opts.base.overlay_crs)
        x0, x1, y0, y1 = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
    m = WanggeMap(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=11, tiles=None,
                  max_zoom=19, min_zoom=5, control_scale=True)
    m.fit_bounds([[y0, x0], [y1, x1]])
    base = opts.base
    if base.tiles:
        lab = "cva" if opts.lang == "zh" else "eva"
        fill = {"key": opts.tianditu_key, "amap_lang": "zh_cn" if opts.lang == "zh" else "en",
                "lab": lab}
        url = base.tiles
        for k, v in fill.items():
            url = url.replace("{" + k + "}", v)
        folium.TileLayer(url, name=base.name[opts.lang], attr=base.attribution, max_zoom=19,
                         subdomains=base.subdomains or "abc", overlay=False,
                         control=False).add_to(m)
        if base.labels:
            lab_url = base.labels
            for k, v in fill.items():
                lab_url = lab_url.replace("{" + k + "}", v)
            folium.TileLayer(lab_url, name=base.name[opts.lang] + " labels", attr=base.attribution,
                             max_zoom=19, subdomains=base.subdomains, overlay=True,
                             control=False).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(f"<title>{_html_escape(title)} · Wangge 网格</title>"),
                          name="wangge_title")
    root.header.add_child(Element('<meta name="referrer" content="no-referrer">'),
                          name="wangge_referrer")
    m.add_child(JsCall("title", title + " · " + base.name[opts.lang]))
    return m


def _html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shift(gdf: gpd.GeoDataFrame, opts: MapOptions) -> gpd.GeoDataFrame:
    """Geometries moved to the basemap's CRS (GCJ-02 for AMap); unchanged otherwise."""
    dst = opts.base.overlay_crs
    if dst == "EPSG:4490" or gdf.empty:
        return gdf
    out = gdf.copy()
    out[gdf.geometry.name] = transform_geometry(np.asarray(gdf.geometry.values, dtype=object),
                                                "EPSG:4490", dst)
    for col in out.columns:
        if col != gdf.geometry.name and out[col].dtype == object and len(out) and \
                hasattr(out[col].iloc[0], "geom_type"):
            out[col] = [transform_geometry(g, "EPSG:4490", dst) if g is not None else None
                        for g in out[col]]
    return out


def shift_xy(lon: Any, lat: Any, opts: MapOptions) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates moved to the basemap's CRS (arrays)."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    if opts.base.overlay_crs == "EPSG:4490" or x.size == 0:
        return x, y
    return transform_xy(x, y, "EPSG:4490", opts.base.overlay_crs)


def legend_html(title: str, rows: list[tuple[str, str, str]], notes: Sequence[str] = ()) -> str:
    """Legend HTML: rows of (kind, colour, label); kind is sw (swatch), dot or line."""
    parts = [f"<h4>{_html_escape(title)}</h4>"] if title else []
    for kind, color, label in rows:
        if kind == "line":
            sw = f"<i class='line' style='border-top-color:{color}'></i>"
        else:
            sw = f"<i class='{kind}' style='background:{color}'></i>"
        parts.append(f"<div class='wangge-row'>{sw}<span>{_html_escape(label)}</span></div>")
    for n in notes:
        parts.append(f"<div class='note'>{_html_escape(n)}</div>")
    return "".join(parts)


def render_page(m: folium.Map) -> str:
    """The full HTML page of a map (assets linked under /static/)."""
    return m.get_root().render()  # type: ignore[no-any-return]


def render_standalone(m: folium.Map) -> str:
    """The full HTML page with every asset inlined: opens from a file with no server."""
    return assets.inline_assets(render_page(m))


def csp_header(opts: MapOptions) -> str:
    """Content-Security-Policy for a map page: only self (+ inline) and the basemap's tiles."""
    img = " ".join(("'self'", "data:", *opts.base.hosts))
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src {img}; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


def security_headers(opts: MapOptions) -> dict[str, str]:
    """Every security header of an HTML map page."""
    return {
        "Content-Security-Policy": csp_header(opts),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-store",
    }
