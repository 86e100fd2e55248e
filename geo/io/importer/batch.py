"""Batch work of the layer imports (cells, compounds, cameras) instead of per-row work.

:func:`ewkb_rows`: geometries of staged rows written as EWKB a batch at a time
(:func:`geo.io.importer.staging.ewkb_many`, one shapely call per batch instead of one per row).

:func:`spatial_batch`: planner settings for an import's set-based spatial statements (the
one place they are set).

The boundary checks of a new cell set (:mod:`geo.boundaries.checks`, the overlaps' self-join)
and the stored camera coverage's statement triggers (:mod:`geo.analysis.coverage`, the cells
each new sector or point touches) join a batch of geometries to ``grid_cell`` through its
spatial index. With bitmap scans allowed PostgreSQL ANDs that index with a btree one
(``(boundary_set_id, code)``, ``(region_code, code)``) that matches every cell of the set or
region, so each probe reads the whole set: quadratic in the set's size (20,000 cells: 15 s for
the overlaps instead of 0.6 s; 10,000 cameras into a 20,000-cell region: 6.1 s instead of
0.5 s, EXPLAIN ANALYZE in scripts/bench/import_layers.py's note). Without bitmap scans each
probe is a plain spatial-index scan. JIT is off too: compiling these statements cost about as
much as running them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from geo.io.importer.staging import ewkb_many

SPATIAL_BATCH_SETTINGS = {"enable_bitmapscan": "off", "jit": "off"}


@contextmanager
def spatial_batch(conn: Connection) -> Iterator[None]:
    """Run the block with :data:`SPATIAL_BATCH_SETTINGS`, local to the transaction, and put
    the previous values back after it (a block that raises ends the import's transaction,
    which drops them)."""
    before = {k: conn.execute(text("SELECT current_setting(:k)"), {"k": k}).scalar_one()
              for k in SPATIAL_BATCH_SETTINGS}
    for k, v in SPATIAL_BATCH_SETTINGS.items():
        conn.execute(text("SELECT set_config(:k, :v, true)"), {"k": k, "v": v})
    yield
    for k, v in before.items():
        conn.execute(text("SELECT set_config(:k, :v, true)"), {"k": k, "v": v})


EWKB_BATCH = 5_000


def ewkb_rows(rows: Iterator[tuple[Any, ...]], at: int) -> Iterator[tuple[Any, ...]]:
    """``rows`` with the geometry at position ``at`` replaced by its hex EWKB (SRID 4490, None
    kept), converted :data:`EWKB_BATCH` rows at a time; order and values as
    :func:`geo.io.importer.staging.ewkb` row by row."""
    while batch := list(itertools.islice(rows, EWKB_BATCH)):
        hexes = ewkb_many(np.array([r[at] for r in batch], dtype=object))
        for r, hx in zip(batch, hexes, strict=True):
            yield (*r[:at], hx, *r[at + 1:])
