"""Offline map assets (and Swagger UI): where they are installed, the URLs Wangge serves them at,
inlining.

``maps/assets.sh`` installs pinned npm packages (Leaflet 1.9.3 & co.) into the git-ignored
``.wangge/assets/node_modules`` (or ``$WANGGE_ASSETS_DIR``); Wangge serves them under
``/static/vendor/`` and its own small CSS/JS (``maps/static/``) under ``/static/wangge/``.
A standalone HTML export inlines every asset (fonts and images as data: URIs), so a file
written by ``wangge map ... -o FILE.html`` opens with no server and no internet.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from functools import lru_cache
from pathlib import Path

from geo.errors import Unavailable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OWN_STATIC = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
VENDOR_PREFIX = f"{STATIC_PREFIX}/vendor"
OWN_PREFIX = f"{STATIC_PREFIX}/wangge"


class AssetsMissing(Unavailable):
    """The npm assets are not installed (run ``bash maps/assets.sh``): HTTP 503, not a 500."""


def assets_dir() -> Path:
    """The ``node_modules`` folder holding the installed npm packages."""
    base = os.environ.get("WANGGE_ASSETS_DIR")
    root = Path(base) if base else PROJECT_ROOT / ".wangge" / "assets"
    return root / "node_modules"


def vendor(path: str) -> str:
    """URL of a file of an npm package, e.g. ``vendor('leaflet/dist/leaflet.js')``."""
    return f"{VENDOR_PREFIX}/{path}"


def own(path: str) -> str:
    """URL of one of Wangge's own static files (``maps/static/``)."""
    return f"{OWN_PREFIX}/{path}"


# Folium 0.20's CDN links and their local equivalents (same versions, from npm).
LEAFLET_JS = ("leaflet", vendor("leaflet/dist/leaflet.js"))
LEAFLET_CSS = ("leaflet_css", vendor("leaflet/dist/leaflet.css"))
FOLIUM_JS = [
    LEAFLET_JS,
    ("jquery", vendor("jquery/dist/jquery.min.js")),
    ("bootstrap", vendor("bootstrap/dist/js/bootstrap.bundle.min.js")),
    # the npm .min.js of awesome-markers is stale (ignores `angle`): use the plain file
    ("awesome_markers", vendor("leaflet.awesome-markers/dist/leaflet.awesome-markers.js")),
]
FOLIUM_CSS = [
    LEAFLET_CSS,
    ("bootstrap_css", vendor("bootstrap/dist/css/bootstrap.min.css")),
    ("glyphicons_css", vendor("bootstrap3/dist/css/glyphicons.css")),
    ("awesome_markers_font_css", vendor("@fortawesome/fontawesome-free/css/all.min.css")),
    ("awesome_markers_css", vendor("leaflet.awesome-markers/dist/leaflet.awesome-markers.css")),
]
HEAT_JS = [("leaflet-heat.js", vendor("leaflet.heat/dist/leaflet-heat.js"))]
MARKERCLUSTER_JS = [
    ("markerclusterjs", vendor("leaflet.markercluster/dist/leaflet.markercluster.js")),
]
MARKERCLUSTER_CSS = [
    ("markerclustercss", vendor("leaflet.markercluster/dist/MarkerCluster.css")),
    ("markerclusterdefaultcss", vendor("leaflet.markercluster/dist/MarkerCluster.Default.css")),
]
# Leaflet.VectorGrid 1.3.0 (bundled: pbf + vector-tile inside) draws /tiles/*.pbf client-side.
VECTORGRID_JS = [("vectorgrid_js",
                  vendor("leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"))]
# Swagger UI of the OpenAPI page /docs (api/routes/docs.py), from npm like the map assets.
SWAGGER_JS = vendor("swagger-ui-dist/swagger-ui-bundle.js")
SWAGGER_CSS = vendor("swagger-ui-dist/swagger-ui.css")
SWAGGER_FAVICON = vendor("swagger-ui-dist/favicon-32x32.png")
WANGGE_JS = ("wangge_js", own("wangge.js"))
WANGGE_CSS = ("wangge_css", own("wangge.css"))


# The kinds of file the map pages and /docs load (scripts, styles, images, fonts, source maps).
# Anything else in the npm packages is not served: above all their demo, example, spec and
# coverage HTML pages, which would run their inline scripts in Wangge's origin.
SERVED_SUFFIXES = frozenset({".js", ".css", ".map", ".json", ".png", ".gif", ".jpg", ".jpeg",
                             ".svg", ".woff", ".woff2", ".ttf", ".eot"})


def resolve(url_path: str) -> Path | None:
    """The file behind a ``/static/...`` URL path, or None (also for paths escaping the root
    and for files of a kind no page loads, :data:`SERVED_SUFFIXES`: no ``.html``)."""
    for prefix, root in ((VENDOR_PREFIX + "/", assets_dir()), (OWN_PREFIX + "/", OWN_STATIC)):
        if url_path.startswith(prefix):
            rel = url_path[len(prefix):].split("?", 1)[0].split("#", 1)[0]
            base = root.resolve()
            target = (base / rel).resolve()
            if base != target and base not in target.parents:
                return None
            if target.suffix.lower() not in SERVED_SUFFIXES:
                return None
            return target if target.is_file() else None
    return None


def check_installed(url: str = LEAFLET_JS[1]) -> None:
    """Raise :class:`AssetsMissing` when the asset at ``url`` (default: Leaflet) is not
    installed."""
    if resolve(url) is None:
        raise AssetsMissing(
            f"地图资源未安装 / map assets not installed in {assets_dir()}: "
            "run `bash maps/assets.sh`"
        )


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".woff2":
        mime = "font/woff2"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


_FALLBACK_FONT = re.compile(
    r",?\s*url\((['\"]?)[^)'\"]+\.(?:eot|ttf|woff|svg)(?:[?#][^)'\"]*)?\1\)\s*format\([^)]*\)"
)
_EOT_ONLY = re.compile(r"src:\s*url\((['\"]?)[^)'\"]+\.eot\1\);")
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


@lru_cache(maxsize=64)
def inline_css(path: Path) -> str:
    """CSS text with its url() references turned into data: URIs (woff2 fonts only)."""
    css = path.read_text(encoding="utf-8")
    css = _EOT_ONLY.sub("", css)
    css = _FALLBACK_FONT.sub("", css)

    def repl(m: re.Match[str]) -> str:
        ref = m.group(2)
        if ref.startswith(("data:", "#")):
            return m.group(0)
        target = (path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
        if target.is_file():
            return f"url({_data_uri(target)})"
        return "url(data:,)"

    css = _CSS_URL.sub(repl, css)
    return css.replace("src:,", "src:").replace("src: ,", "src:")


_SCRIPT = re.compile(r'<script src="(/static/[^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="(/static/[^"]+)"\s*/?>')


def inline_assets(html: str) -> str:
    """Replace every ``/static/...`` script and stylesheet link by the file's content.

    Raises
    ------
    AssetsMissing
        When a referenced file is not installed.
    """

    def need(url: str) -> Path:
        path = resolve(url)
        if path is None:
            raise AssetsMissing(f"资源缺失 / asset missing: {url} (run `bash maps/assets.sh`)")
        return path

    def js(m: re.Match[str]) -> str:
        body = need(m.group(1)).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{body}</script>"

    def css(m: re.Match[str]) -> str:
        return f"<style>{inline_css(need(m.group(1)))}</style>"

    html = _SCRIPT.sub(js, html)
    return _LINK.sub(css, html)
