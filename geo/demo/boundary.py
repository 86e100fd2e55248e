"""The real Xing County boundary and the planar geometry helpers of the demo generator.

The county boundary is real (``data/boundaries/xing_county_141123.geojson``, see the README
there). Geometry is generated in metres (EPSG:4546, CGCS2000 / 3-degree Gauss-Kruger CM 111E)
and stored in EPSG:4490: :func:`to_metric` and :func:`to_lonlat` convert between the two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely
import shapely.prepared
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

REGION = "141123"
BOUNDARY_FILE = (
    Path(__file__).resolve().parents[2] / "data" / "boundaries" / "xing_county_141123.geojson"
)
METRIC_CRS = "EPSG:4546"


def to_lonlat() -> Transformer:
    """Transformer from the demo's metric CRS to CGCS2000 lon/lat (EPSG:4490)."""
    return Transformer.from_crs(METRIC_CRS, "EPSG:4490", always_xy=True)


def to_metric() -> Transformer:
    """Transformer from CGCS2000 lon/lat (EPSG:4490) to the demo's metric CRS."""
    return Transformer.from_crs("EPSG:4490", METRIC_CRS, always_xy=True)


def load_county_boundary(path: Path = BOUNDARY_FILE) -> MultiPolygon:
    """Read the committed county boundary (EPSG:4490 lon/lat)."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/extract_boundary.py` to regenerate it"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    geom = shape(data["features"][0]["geometry"])
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    assert isinstance(geom, MultiPolygon)
    return geom


def multi(g: BaseGeometry) -> MultiPolygon:
    """``g`` made valid, as a MultiPolygon of its polygon parts of positive area."""
    g = shapely.make_valid(g)
    polys: list[Polygon] = []
    if isinstance(g, Polygon):
        polys = [g]
    elif hasattr(g, "geoms"):
        for part in g.geoms:  # type: ignore[attr-defined]
            if isinstance(part, Polygon) and part.area > 0:
                polys.append(part)
            elif isinstance(part, MultiPolygon):
                polys.extend(p for p in part.geoms if p.area > 0)
    return MultiPolygon(polys)


def random_points_in(poly: BaseGeometry, n: int, rng: np.random.Generator) -> list[Point]:
    """``n`` uniformly random points inside ``poly`` (rejection sampling on its bounds)."""
    minx, miny, maxx, maxy = poly.bounds
    prepared = shapely.prepared.prep(poly)
    out: list[Point] = []
    while len(out) < n:
        xs = rng.uniform(minx, maxx, n * 4)
        ys = rng.uniform(miny, maxy, n * 4)
        for x, y in zip(xs, ys, strict=True):
            p = Point(x, y)
            if prepared.contains(p):
                out.append(p)
                if len(out) == n:
                    break
    return out


def voronoi_split(
    poly: BaseGeometry, seeds: list[Point], relax: int = 2, fixed: set[int] | None = None
) -> list[MultiPolygon]:
    """Partition ``poly`` by the Voronoi cells of ``seeds`` (Lloyd-relaxed)."""
    fixed = fixed or set()
    if len(seeds) == 1:
        return [multi(poly)]
    env = box(*poly.buffer(1000).bounds)
    pts = list(seeds)
    for it in range(relax + 1):
        cells = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=env, ordered=True)
        pieces = [poly.intersection(c) for c in cells.geoms]
        if it == relax:
            break
        new_pts = []
        for i, (p, piece) in enumerate(zip(pts, pieces, strict=True)):
            if i in fixed or piece.is_empty:
                new_pts.append(p)
            else:
                c = piece.representative_point() if not piece.contains(piece.centroid) else (
                    piece.centroid)
                new_pts.append(c)
        pts = new_pts
    return [multi(p) for p in pieces]


def order_west_east_north_south(geoms: Sequence[BaseGeometry], row_m: float) -> list[int]:
    """Indices sorted in rows north->south, within a row west->east (grid code numbering)."""
    cents = [g.representative_point() for g in geoms]
    top = max(c.y for c in cents)
    return sorted(range(len(geoms)), key=lambda i: (int((top - cents[i].y) // row_m), cents[i].x))
