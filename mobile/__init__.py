"""The grid worker's web app ``/m/`` (H5, zh-CN, phones of 360-430 px, installable, offline).

The files in this folder are the app shell: ``index.html``, ``app.js``, ``app.css``, ``sw.js``
(the service worker), ``manifest.webmanifest`` and the icons. Leaflet is not copied here: it is
the npm package installed by ``maps/assets.sh`` and served under ``/static/vendor/``
(:mod:`maps.assets`, the one place naming its URLs). :func:`page` and :func:`service_worker`
write those URLs and the shell's version (a hash of every file the shell loads) into
``index.html`` and ``sw.js``, so that a changed file installs a new service worker, which
precaches the new shell and Leaflet, and the app opens offline after its first load.

Served by ``api/routes/mobile.py``; the app's writes go through one queue in IndexedDB with an
``Idempotency-Key`` each and the login cookie with its CSRF token (:mod:`api.csrf`).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from html import escape
from pathlib import Path

from geo.incidents.flow import OPEN_STATUSES, STEP_OF_STATUS, STEPS
from maps import assets
from maps.frame import BASEMAPS

HERE = Path(__file__).resolve().parent
PREFIX = "/m/"
# The shell's own files: URL name -> media type (served as they are, but index.html and sw.js).
FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
LEAFLET_FILES = ("leaflet/dist/leaflet.js", "leaflet/dist/leaflet.css",
                 "leaflet/dist/images/marker-icon.png", "leaflet/dist/images/marker-icon-2x.png",
                 "leaflet/dist/images/marker-shadow.png", "leaflet/dist/images/layers.png",
                 "leaflet/dist/images/layers-2x.png")
# A grid worker's part of a case ends with the handle step: an open case whose step is past it
# (handled: waiting for the command centre's verification; verified: for closing) is 已处置
# on her phone, no longer 待办. Derived from the case flow, written into index.html.
_AFTER_HANDLE = (*STEPS, "close")[STEPS.index("handle") + 1:]
DONE_STATUSES = tuple(s for s in OPEN_STATUSES if STEP_OF_STATUS.get(s) in _AFTER_HANDLE)


def vendor_urls() -> list[str]:
    """The Leaflet files the app loads (from :mod:`maps.assets`), precached by ``sw.js``."""
    urls = [assets.LEAFLET_JS[1], assets.LEAFLET_CSS[1]]
    return urls + [assets.vendor(f) for f in LEAFLET_FILES if assets.vendor(f) not in urls]


@lru_cache(maxsize=1)
def version() -> str:
    """A short hash of the shell's files and of the installed Leaflet (new hash, new worker)."""
    h = hashlib.sha256()
    for name in ("index.html", "sw.js", *FILES):
        h.update((HERE / name).read_bytes())
    for url in vendor_urls():
        path = assets.resolve(url)
        h.update(url.encode() + (path.read_bytes() if path is not None else b"-"))
    return h.hexdigest()[:12]


def _fill(text: str) -> str:
    return (text.replace("{{VERSION}}", version())
            .replace("{{LEAFLET_JS}}", assets.LEAFLET_JS[1])
            .replace("{{LEAFLET_CSS}}", assets.LEAFLET_CSS[1])
            .replace("{{AMAP_TILES}}", escape((BASEMAPS["amap"].tiles or "").replace(
                "{amap_lang}", "zh_cn")))
            .replace("{{DONE_STATUSES}}", " ".join(DONE_STATUSES))
            .replace("{{PRECACHE}}", json.dumps(precache(), ensure_ascii=False)))


def precache() -> list[str]:
    """Every URL the service worker stores at install: the shell and Leaflet."""
    own = [PREFIX, *(f"{PREFIX}{name}?v={version()}" for name in FILES)]
    return own + vendor_urls()


def page() -> str:
    """``index.html`` with the asset URLs and the version written in."""
    return _fill((HERE / "index.html").read_text(encoding="utf-8"))


def service_worker() -> str:
    """``sw.js`` with the version and the precache list written in."""
    return _fill((HERE / "sw.js").read_text(encoding="utf-8"))


def read(name: str) -> bytes:
    """One of the shell's static files (:data:`FILES`)."""
    if name not in FILES:
        raise KeyError(name)
    return (HERE / name).read_bytes()
