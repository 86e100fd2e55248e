"""Import of grid cells: a new pending boundary set (see :mod:`geo.boundaries.sets`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.boundaries.activate import activate_set
from geo.boundaries.checks import check_boundary_set
from geo.boundaries.sets import active_set_id
from geo.errors import InvalidInput
from geo.io.geometry import polygonal_parts
from geo.io.importer.batch import spatial_batch
from geo.io.importer.fields import code_of, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, polygon_rows
from geo.io.importer.staging import copy_rows, ewkb_many, stage
from geo.io.parse import parse_int


def import_cells(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import cells as a new pending boundary set (parts of one code merged), with its checks."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    parts: dict[str, list[dict[str, Any]]] = {}
    for a, i, row, code, g in polygon_rows(ctx, progress):
        kind = str(field_value(a, f["kind"], i) or "basic").strip().lower()
        kind = {"基础网格": "basic", "专属网格": "dedicated"}.get(kind, kind)
        if kind not in ("basic", "dedicated"):
            report.refuse(row, code, f"网格类型应为 basic/dedicated / kind must be basic or "
                                     f"dedicated, got {kind!r}")
            continue
        try:
            hh = parse_int(field_value(a, f["households"], i))
            pop = parse_int(field_value(a, f["population"], i))
        except ValueError as exc:
            report.refuse(row, code, str(exc))
            continue
        parts.setdefault(code, []).append({
            "row": row, "name": str(field_value(a, f["name"], i) or code), "kind": kind,
            "parent": code_of(field_value(a, f["parent"], i)),
            "township": code_of(field_value(a, f["township"], i)), "households": hh,
            "population": pop, "geom": g})
    cells = []
    for code, items in parts.items():
        first = items[0]
        geom = first["geom"]
        if len(items) > 1:
            geom = polygonal_parts(shapely.make_valid(
                shapely.union_all([p["geom"] for p in items])))
            report.merged.append({"code": code, "parts": len(items),
                                  "rows": [p["row"] for p in items][:20]})
        hhs = [int(p["households"]) for p in items if p["households"] is not None]
        pops = [int(p["population"]) for p in items if p["population"] is not None]
        cells.append({**first, "code": code, "geom": geom,
                      "households": sum(hhs) if hhs else None,
                      "population": sum(pops) if pops else None})
    cells.sort(key=lambda c: c["code"])
    if not cells:
        raise InvalidInput("文件中没有可导入的网格 / no importable cell in the file")
    # Parents: given, or the first 12 digits of a 15-digit code when that unit exists.
    units: dict[str, str | None] = dict(conn.execute(
        text("SELECT code, parent_code FROM admin_unit WHERE region_code = :r"),
        {"r": opts.region}).all())
    unknown_parents: set[str] = set()
    for c in cells:
        if c["parent"] is None and len(c["code"]) == 15 and c["code"][:12] in units:
            c["parent"] = c["code"][:12]
        if c["parent"] is not None and c["parent"] not in units and units:
            unknown_parents.add(c["parent"])
        if c["township"] is None and c["parent"] in units:
            c["township"] = units[c["parent"]]
    if unknown_parents:
        report.notes.append(f"parent codes not among the region's admin units (no parent "
                            f"checks for them): {sorted(unknown_parents)[:20]}")
    digest = hashlib.sha256()
    wkbs = shapely.to_wkb(shapely.normalize(shapely.set_precision(
        np.array([c["geom"] for c in cells], dtype=object), 1e-9)))
    for c, wkb in zip(cells, wkbs.tolist(), strict=True):
        digest.update(json.dumps([c["code"], c["name"], c["kind"], c["parent"],
                                  c["township"], c["households"]]).encode() + wkb)
    content_hash = digest.hexdigest()
    same = conn.execute(
        text("SELECT id, name, is_active, valid_to = valid_from AS pending FROM boundary_set "
             "WHERE region_code = :r AND checks->>'content_hash' = :h ORDER BY id DESC LIMIT 1"),
        {"r": opts.region, "h": content_hash},
    ).mappings().first()
    if same is not None:
        report.unchanged = len(cells)
        report.boundary_set = {"id": same["id"], "name": same["name"],
                               "state": "active" if same["is_active"] else (
                                   "pending" if same["pending"] else "history"),
                               "note": "identical content already imported: nothing to do"}
        if opts.activate and same["pending"]:
            with spatial_batch(conn):
                report.activation = activate_set(conn, opts.region, str(same["id"]),
                                                  opts.force, None, opts.min_area_m2)
        return
    vf = opts.valid_from or dt.date.today()
    name = opts.set_name or f"{Path(report.file).stem} ({dt.date.today().isoformat()})"
    base, k = name, 1
    while conn.execute(text("SELECT 1 FROM boundary_set WHERE region_code = :r AND name = :n"),
                       {"r": opts.region, "n": name}).scalar():
        k += 1
        name = f"{base} #{k}"
    set_id = conn.execute(
        text("INSERT INTO boundary_set (region_code, name, valid_from, valid_to, is_active, "
             "source, checks) VALUES (:r, :n, :vf, :vf, false, :src, CAST(:c AS jsonb)) "
             "RETURNING id"),
        {"r": opts.region, "n": name, "vf": vf, "src": report.file,
         "c": json.dumps({"content_hash": content_hash})},
    ).scalar_one()
    cols = ["region_code", "boundary_set_id", "code", "name", "kind", "parent_code",
            "township_code", "households", "population", "attrs", "geom"]
    hexes = ewkb_many(np.array([c["geom"] for c in cells], dtype=object))
    # staged, then written once with their areas (not written and then updated: the stored
    # coverage's triggers on grid_cell would recompute the new cells twice)
    stg = stage(conn, "grid_cell", cols)
    copy_rows(conn, stg, cols, (
        (opts.region, set_id, c["code"], c["name"], c["kind"], c["parent"], c["township"],
         c["households"], c["population"], json.dumps({"source_row": c["row"]}), hx)
        for c, hx in zip(cells, hexes, strict=True)))
    # a region the stored camera coverage does not know yet (created by an import, not by
    # `wangge region add`) is stored first: the triggers then keep its new cells. Imported
    # here, not at the top: the analyses load geopandas (+28 MiB), which only a cells import
    # should pay, not every process importing the importers.
    from geo.analysis.coverage import ensure_region

    ensure_region(conn, opts.region)
    conn.execute(text(f"INSERT INTO grid_cell ({', '.join(cols)}, area_m2) SELECT "
                      f"{', '.join(cols)}, ST_Area(geom::geography) FROM {stg} ORDER BY code"))
    # the planner must know the new set's rows before the checks' self-join (statistics
    # without them make an index range over the set look cheaper than the spatial index)
    conn.execute(text("ANALYZE grid_cell"))
    prev = active_set_id(conn, opts.region)
    if prev is None:
        report.new = len(cells)
    else:
        diff = conn.execute(text("""
            SELECT count(*) FILTER (WHERE o.code IS NULL) AS new,
                   count(*) FILTER (WHERE o.code IS NOT NULL AND (
                        (n.name, n.kind, n.parent_code) IS DISTINCT FROM
                        (o.name, o.kind, o.parent_code)
                        OR (NOT ST_OrderingEquals(n.geom, o.geom) AND
                            ST_Area(ST_SymDifference(n.geom, o.geom)::geography) >= 1.0)))
                        AS updated,
                   count(o.code) AS matched
            FROM grid_cell n LEFT JOIN grid_cell o ON o.boundary_set_id = :o AND o.code = n.code
            WHERE n.boundary_set_id = :s"""), {"s": set_id, "o": prev}).mappings().one()
        report.new = int(diff["new"])
        report.updated = int(diff["updated"])
        report.unchanged = int(diff["matched"]) - report.updated
        report.removed = int(conn.execute(
            text("SELECT count(*) FROM grid_cell o WHERE o.boundary_set_id = :o AND NOT EXISTS "
                 "(SELECT 1 FROM grid_cell n WHERE n.boundary_set_id = :s AND n.code = o.code)"),
            {"s": set_id, "o": prev}).scalar_one())
    with spatial_batch(conn):
        checks = check_boundary_set(conn, set_id, opts.min_area_m2)
    made = dict(checks)  # for --activate below: the set is not checked twice
    checks["content_hash"] = content_hash
    conn.execute(text("UPDATE boundary_set SET checks = CAST(:c AS jsonb) WHERE id = :s"),
                 {"c": json.dumps(checks, default=str), "s": set_id})
    report.checks = checks
    report.boundary_set = {"id": set_id, "name": name, "valid_from": vf.isoformat(),
                           "state": "pending",
                           "activate_with": f"wangge boundaries activate {set_id} "
                                            f"--region {opts.region}"}
    if opts.activate:
        with spatial_batch(conn):
            report.activation = activate_set(conn, opts.region, str(set_id), opts.force, None,
                                              opts.min_area_m2, checks=made)
        report.boundary_set["state"] = "active"
