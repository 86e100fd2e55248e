"""Bucket grids over a region's cells: the cells near a point by arithmetic, not a tree.

:class:`BucketGrid` (coarse; cells whose box touches each bucket) serves the single lookup and
the batch path's candidate pairs; :class:`DeepGrid` (fine; buckets lying wholly inside one
cell's core) answers most batch points with no geometry at all. Both belong to a
:class:`geo.lookup.index.CellIndex`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely


@dataclass
class BucketGrid:
    """A uniform grid over the region: bucket -> cells whose box (+ margin) touches it.

    Finding the few cells near one point costs two divisions and a slice, where an STRtree
    query costs ~100 microseconds of Python wrapper; this is what keeps the single lookup lean.
    """

    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int
    margin_deg: float
    start: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]

    def near(self, x: float, y: float) -> list[int] | None:
        """Cells whose box grown by ``margin_deg`` may contain (x, y); None outside the grid."""
        ix = int((x - self.x0) // self.dx)
        iy = int((y - self.y0) // self.dy)
        if not (0 <= ix < self.nx and 0 <= iy < self.ny):
            return None
        b = iy * self.nx + ix
        return self.items[self.start[b]:self.start[b + 1]].tolist()  # type: ignore[no-any-return]


def bucket_grid(bounds: npt.NDArray[np.float64], margin_deg: float) -> BucketGrid:
    """The bucket grid of cells with these bounds.

    Parameters
    ----------
    bounds
        (n, 4) array of minx, miny, maxx, maxy per cell, in cell order.
    margin_deg
        Margin added around every box (the tolerance in degrees, at least).

    Returns
    -------
    BucketGrid
        Buckets about as small as the small cells, at most 2048 a side.
    """
    n = len(bounds)
    if n == 0:
        return BucketGrid(0.0, 0.0, 1.0, 1.0, 0, 0, margin_deg, np.zeros(1, dtype=np.int64),
                          np.zeros(0, dtype=np.int64))
    lo = bounds[:, :2].min(axis=0) - margin_deg
    hi = bounds[:, 2:].max(axis=0) + margin_deg
    # buckets about as small as the small (10th percentile) cells, at most 2048 a side
    w = np.percentile(bounds[:, 2] - bounds[:, 0], 10) or 1e-3
    h = np.percentile(bounds[:, 3] - bounds[:, 1], 10) or 1e-3
    nx = int(min(2048, max(1, math.ceil((hi[0] - lo[0]) / w))))
    ny = int(min(2048, max(1, math.ceil((hi[1] - lo[1]) / h))))
    dx = float(hi[0] - lo[0]) / nx or 1.0
    dy = float(hi[1] - lo[1]) / ny or 1.0
    ix0 = np.clip(((bounds[:, 0] - margin_deg - lo[0]) // dx).astype(np.int64), 0, nx - 1)
    ix1 = np.clip(((bounds[:, 2] + margin_deg - lo[0]) // dx).astype(np.int64), 0, nx - 1)
    iy0 = np.clip(((bounds[:, 1] - margin_deg - lo[1]) // dy).astype(np.int64), 0, ny - 1)
    iy1 = np.clip(((bounds[:, 3] + margin_deg - lo[1]) // dy).astype(np.int64), 0, ny - 1)
    buckets: list[npt.NDArray[np.int64]] = []
    cells: list[npt.NDArray[np.int64]] = []
    for i in range(n):
        xs = np.arange(ix0[i], ix1[i] + 1)
        ys = np.arange(iy0[i], iy1[i] + 1)
        b = (ys[:, None] * nx + xs[None, :]).ravel()
        buckets.append(b)
        cells.append(np.full(len(b), i, dtype=np.int64))
    all_b = np.concatenate(buckets)
    all_c = np.concatenate(cells)
    order = np.lexsort((all_c, all_b))  # by bucket, then by cell (= code order)
    all_b, all_c = all_b[order], all_c[order]
    start = np.searchsorted(all_b, np.arange(nx * ny + 1)).astype(np.int64)
    return BucketGrid(float(lo[0]), float(lo[1]), dx, dy, nx, ny, margin_deg, start, all_c)


@dataclass
class DeepGrid:
    """Fine buckets lying wholly inside one cell's core: their points need no geometry at all.

    ``owner[b]`` is the cell whose core contains bucket b (grown by a hair for rounding) and
    which no other core touches, else -1. A point in such a bucket is inside exactly one core,
    the fast path's condition, found by two divisions and a lookup.
    """

    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int
    owner: npt.NDArray[np.int32]

    def owners(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """The owning cell of each point's bucket (-1: none, or outside the grid)."""
        with np.errstate(invalid="ignore"):
            fx = np.floor((x - self.x0) / self.dx)
            fy = np.floor((y - self.y0) / self.dy)
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        out = np.full(len(x), -1, dtype=np.int64)
        b = fy[inside].astype(np.int64) * self.nx + fx[inside].astype(np.int64)
        out[inside] = self.owner[b]
        return out


def make_deep_grid(cores: npt.NDArray[np.object_], coarse: BucketGrid,
                   max_buckets: int = 1_000_000) -> DeepGrid | None:
    """The fine grid of buckets lying wholly inside exactly one core.

    Parameters
    ----------
    cores
        The cells' cores (shrunk by more than the tolerance), in cell order.
    coarse
        The index's bucket grid; the fine grid splits its buckets up to 4x4.
    max_buckets
        Upper bound of the number of fine buckets.

    Returns
    -------
    DeepGrid or None
        None when there are no cells.
    """
    if len(cores) == 0 or coarse.nx == 0:
        return None
    f = int(max(1, min(4, math.sqrt(max_buckets / (coarse.nx * coarse.ny)))))
    nx, ny = coarse.nx * f, coarse.ny * f
    dx, dy = coarse.dx / f, coarse.dy / f
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    x0 = coarse.x0 + ix.ravel() * dx
    y0 = coarse.y0 + iy.ravel() * dy
    hair = 1e-9  # degrees (0.1 mm): covers the rounding of the bucket arithmetic
    boxes = shapely.box(x0 - hair, y0 - hair, x0 + dx + hair, y0 + dy + hair)
    tree = shapely.STRtree(cores)
    b_i, c_i = tree.query(boxes, predicate="intersects")
    touching = np.bincount(b_i, minlength=len(boxes))
    one = touching[b_i] == 1
    b_i, c_i = b_i[one], c_i[one]
    inside = shapely.contains_properly(cores[c_i], boxes[b_i])
    owner = np.full(len(boxes), -1, dtype=np.int32)
    owner[b_i[inside]] = c_i[inside]
    return DeepGrid(coarse.x0, coarse.y0, dx, dy, nx, ny, owner)
