"""The Folium map frame shared by every Wangge map: offline assets, basemaps, texts, chrome.

- :class:`WanggeMap` is a ``folium.Map`` whose own ``default_js``/``default_css`` lists point at
  the locally served assets (folium's class-level CDN lists are never touched).
- Basemaps: ``none`` (our own boundaries on a plain background, the default and fully offline),
  ``tianditu`` (CGCS2000, needs ``WANGGE_TIANDITU_KEY``), ``amap`` (GCJ-02: every overlay is
  shifted to GCJ-02 with :mod:`geo.crs.transforms` so it sits on AMap's streets) and ``osm``.
- Labels and legends in Chinese by default, English with ``lang="en"`` (the tables are data in
  :mod:`maps.texts`); every colour comes from the one palette in :mod:`maps.styles`.
- :func:`csp_header` gives the Content-Security-Policy of a page: scripts from self plus the
  SHA-256 hashes of the page's own inline scripts (Folium writes inline scripts; no
  ``'unsafe-inline'`` for scripts, so markup smuggled into the page in data cannot run), inline
  styles (Leaflet and the legend set ``style`` attributes), images from self, data: and the
  chosen basemap's tile host.
- :class:`Tooltip` is the one tooltip of GeoJSON layers: values are written as text
  (``Wangge.detail`` builds the table with ``textContent``), never parsed as HTML.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
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
from maps.texts import LANGS, STATUS_NAMES, TEXTS


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


class Tooltip(folium.GeoJsonTooltip):
    """``folium.GeoJsonTooltip`` whose names and values are text, never HTML (issue 15, 8).

    Folium's own tooltip joins the properties into a string set as ``innerHTML``: a compound
    named ``<img src=x onerror=...>`` ran script for every map user. Here the table is built
    by ``Wangge.detail`` (maps/static/wangge.js) with ``textContent``. Use this class for every
    GeoJSON tooltip of a Wangge map.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindTooltip(function (layer) {
            return Wangge.detail(layer.feature.properties, {{ this.fields_json }},
                {{ this.aliases_json }}, {{ this.labels_json }});
        }, {{ this.tooltip_options | tojavascript }});
        {% endmacro %}
    """)

    def __init__(self, fields: Sequence[str], aliases: Sequence[str] | None = None,
                 sticky: bool = True, labels: bool = True) -> None:
        super().__init__(list(fields), aliases=list(aliases) if aliases is not None else None,
                         labels=labels, sticky=sticky)
        self.fields_json = _js_json(list(self.fields))
        self.aliases_json = _js_json(list(self.aliases))
        self.labels_json = _js_json(labels)


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
    """JSON safe to embed in an inline <script>: every ``<``, ``>`` and ``&`` escaped.

    ``</`` alone is not enough: ``<!--<script>`` in a description switches the HTML parser
    into its "script data escaped" states and the page stops rendering (issue 15, finding 7).
    The escapes only occur inside JSON strings, where JavaScript reads them back unchanged.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def fit_bounds(bounds: tuple[float, float, float, float], opts: MapOptions
               ) -> list[list[float]]:
    """``bounds`` (x0, y0, x1, y1 in EPSG:4490) as Leaflet's ``[[s, w], [n, e]]`` in the
    basemap's CRS (GCJ-02 for AMap)."""
    x0, y0, x1, y1 = bounds
    if opts.base.overlay_crs != "EPSG:4490":
        xs, ys = transform_xy(np.array([x0, x1]), np.array([y0, y1]), "EPSG:4490",
                              opts.base.overlay_crs)
        x0, x1, y0, y1 = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
    return [[y0, x0], [y1, x1]]


def new_map(opts: MapOptions, bounds: tuple[float, float, float, float], title: str,
            subtitle: str = "") -> WanggeMap:
    """An empty map fitted to ``bounds`` (EPSG:4490) with the chosen basemap and title.

    Every Wangge map is made here, with the same chrome (``Wangge.chrome`` and
    ``Wangge.title`` in wangge.js): a title box saying what the map shows, ``subtitle`` (the
    data's period or date) and the basemap, so a PNG of the map carries them too; the
    attribution without Leaflet's default "Leaflet" prefix and flag (only the basemap's own
    attribution, none without a basemap); a metric-only scale bar (no miles or feet); half
    zoom steps, so the fitted county fills the window (and a PNG) better.
    """
    assets.check_installed()
    (y0, x0), (y1, x1) = fit_bounds(bounds, opts)
    m = WanggeMap(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=11, tiles=None,
                  max_zoom=19, min_zoom=5, control_scale=False, zoom_snap=0.5)
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
    m.add_child(JsCall("chrome"))
    sub = " · ".join(x for x in (subtitle, base.name[opts.lang]) if x)
    m.add_child(JsCall("title", title, sub))
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


LINE_KINDS = {"line": ("solid", 3.0), "line-solid": ("solid", 3.5),
              "line-dashed": ("dashed", 2.5), "line-dotted": ("dotted", 2.0)}


def legend_html(title: str, rows: list[tuple[str, str, str]], notes: Sequence[str] = (),
                links: Sequence[tuple[str, str]] = (), links_label: str = "") -> str:
    """Legend HTML: rows of (kind, colour, label); kind is sw (swatch), dot, ring (a thick
    outline), line (or line-solid, line-dashed, line-dotted: outlines by weight and dash);
    ``links`` (label, same-site URL): downloads of the same analysis, after the notes."""
    parts = [f"<h4>{_html_escape(title)}</h4>"] if title else []
    for kind, color, label in rows:
        if kind in LINE_KINDS:
            style, width = LINE_KINDS[kind]
            sw = (f"<i class='line' style='border-top-color:{color};border-top-style:{style};"
                  f"border-top-width:{width:g}px'></i>")
        elif kind == "ring":  # an outline only (urgent incidents: a thick ring)
            sw = f"<i class='dot' style='background:transparent;border:3px solid {color}'></i>"
        else:
            sw = f"<i class='{kind}' style='background:{color}'></i>"
        parts.append(f"<div class='wangge-row'>{sw}<span>{_html_escape(label)}</span></div>")
    for n in notes:
        parts.append(f"<div class='note'>{_html_escape(n)}</div>")
    if links:
        hrefs = " · ".join(
            f"<a class='wangge-download' href=\"{_html_escape(url).replace(chr(34), '&quot;')}\" "
            f"download>{_html_escape(label)}</a>" for label, url in links)
        parts.append(f"<div class='wangge-downloads'>{_html_escape(links_label)}: {hrefs}</div>")
    return "".join(parts)


def render_page(m: folium.Map) -> str:
    """The full HTML page of a map (assets linked under /static/)."""
    return m.get_root().render()  # type: ignore[no-any-return]


def render_standalone(m: folium.Map) -> str:
    """The full HTML page with every asset inlined: opens from a file with no server."""
    return assets.inline_assets(render_page(m))


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) of every inline ``<script>`` of ``html``.

    The browser hashes a script's text after the HTML parser has turned CR LF and CR into LF,
    so the same is done here. With these in ``script-src`` instead of ``'unsafe-inline'`` the
    scripts the server wrote run and nothing else inline does (no injected ``<script>``, no
    ``onerror=`` attribute, no ``javascript:`` URL).
    """
    out: list[str] = []
    for body in _INLINE_SCRIPT.findall(html):
        text = body.replace("\r\n", "\n").replace("\r", "\n")
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
        source = f"'sha256-{digest}'"
        if source not in out:
            out.append(source)
    return out


def script_src(html: str) -> str:
    """The ``script-src`` directive of a page rendered on the server: self + its inline scripts.

    Also used for the OpenAPI page (``/docs``, api/main.py), the other page with an inline script.
    """
    return " ".join(("script-src 'self'", *inline_script_hashes(html)))


def csp_header(opts: MapOptions, html: str = "") -> str:
    """Content-Security-Policy for the map page ``html``: scripts from self and the page's own
    inline scripts (by hash), inline styles, images from self and the basemap's tile host.

    ``style-src`` keeps ``'unsafe-inline'``: Leaflet positions everything with ``style``
    attributes; a style cannot run script.
    """
    img = " ".join(("'self'", "data:", *opts.base.hosts))
    return (f"default-src 'self'; {script_src(html)}; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src {img}; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


def security_headers(opts: MapOptions, html: str = "") -> dict[str, str]:
    """Every security header of the HTML map page ``html``."""
    return {
        "Content-Security-Policy": csp_header(opts, html),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-store",
    }
