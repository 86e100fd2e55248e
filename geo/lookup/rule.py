"""The answer of a "which cell" lookup and the shared-edge rule every lookup applies.

Rule for a point on a shared edge (or vertex): every basic cell that covers the point is a
candidate and the answer is the candidate with the lowest code; all candidates are returned.
``near_boundary`` reports the distance in metres (on the ellipsoid) from the point to the edge
of the answering cell and the codes of every basic cell within the tolerance.

Used by :mod:`geo.lookup.postgis` (SQL), :mod:`geo.lookup.single_async` (in-process index, the
hot path) and, vectorised with the same outcome, :mod:`geo.lookup.batch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CellHit:
    """The answer of a single "which cell" lookup."""

    code: str
    name: str
    kind: str
    boundary_set_id: int
    boundary_set_name: str
    parent: dict[str, Any] | None
    township: dict[str, Any] | None
    worker: dict[str, Any] | None
    distance_to_edge_m: float
    near_boundary: bool
    candidates: list[str]
    covering: list[str]
    dedicated: list[dict[str, Any]] = field(default_factory=list)
    geometry: dict[str, Any] | None = None
    # The same geometry as GeoJSON text, when the lookup has it ready (geo.lookup.single_async
    # caches it per cell): the HTTP answer splices it in instead of encoding the dict again.
    geometry_json: str | None = field(default=None, compare=False, repr=False)


def edge_rule(
    codes: list[str], covers: list[bool], edge_m: list[float], tolerance_m: float
) -> tuple[int | None, list[str], list[str]]:
    """The shared-edge rule, for the basic cells near a point given in code order.

    Parameters
    ----------
    codes
        Codes of the basic cells near the point, in code order.
    covers
        ``covers[i]``: cell i covers the point.
    edge_m
        Metres from the point to the edge of cell i (only compared with the tolerance for
        cells that do not cover the point).
    tolerance_m
        Distance under which a cell is a candidate.

    Returns
    -------
    tuple
        The position of the answering cell (the covering cell with the lowest code, None when
        no cell covers the point), the codes of every covering cell, and the candidates: every
        cell covering the point or within ``tolerance_m`` of it.
    """
    covering = [c for c, cov in zip(codes, covers, strict=True) if cov]
    candidates = [c for c, cov, d in zip(codes, covers, edge_m, strict=True)
                  if cov or d <= tolerance_m]
    hit = covers.index(True) if covering else None
    return hit, covering, candidates
