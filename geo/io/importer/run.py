"""``run_import``: one transaction, a dry run unless ``opts.commit``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine

from geo.auth.principal import Principal
from geo.errors import InvalidInput
from geo.io import LAYERS
from geo.io.importer.admin import import_admin
from geo.io.importer.cameras import import_cameras
from geo.io.importer.cases import import_cases
from geo.io.importer.cells import import_cells
from geo.io.importer.compounds import import_compounds
from geo.io.importer.crs_plan import plan_crs
from geo.io.importer.fields import map_fields
from geo.io.importer.incidents import import_incidents
from geo.io.importer.options import ImportOptions, Progress
from geo.io.importer.register import import_addresses, import_buildings
from geo.io.importer.report import ImportReport, finish
from geo.io.importer.rows import ImportContext, ensure_region, region_extent
from geo.io.importer.workers import import_workers
from geo.io.parse import check_time_format
from geo.io.read import Source, crs_label, open_source

SYSTEM = Principal(user="system", role="admin")  # imports run from the CLI or by admins
_HANDLERS: dict[str, Callable[[Connection, ImportContext, Progress | None], None]] = {
    "cells": import_cells, "admin": import_admin, "compounds": import_compounds,
    "cameras": import_cameras, "incidents": import_incidents, "workers": import_workers,
    "buildings": import_buildings, "addresses": import_addresses,
}


def run_import(
    engine: Engine,
    layer: str,
    path: str | Path,
    opts: ImportOptions,
    progress: Progress | None = None,
    display_name: str | None = None,
    principal: Principal | None = None,
) -> ImportReport:
    """Import ``path`` into ``layer`` of region ``opts.region``; dry run unless ``opts.commit``.

    Parameters
    ----------
    engine
        Engine of a migrated database.
    layer
        One of :data:`geo.io.LAYERS`.
    path
        The file (or Shapefile folder / zip).
    opts
        Options: CRS, field mapping, strictness, commit.
    progress
        Called with (rows read, total rows or None) after each chunk.
    display_name
        The name shown in the report (an upload's original file name).
    principal
        Who imports: the actor of each case with ``opts.as_cases`` (default: the system).

    Returns
    -------
    ImportReport
        ``committed`` True only when everything was written. A commit refused because of
        refused rows carries ``error`` and leaves the database untouched.

    Raises
    ------
    InvalidInput
        Unreadable file, unknown CRS or a conflicting one, a layer whose coordinates cannot be
        in the claimed CRS (with the reason and an example row). Nothing is written.
    """
    t0 = time.monotonic()
    if layer not in LAYERS:
        raise InvalidInput(f"未知图层 {layer!r}，可选 {LAYERS} / unknown layer {layer!r}; "
                           f"layers: {LAYERS}", field="layer")
    tz = _zone(opts.timezone)
    check_time_format(opts.time_format)
    for fmt in opts.time_formats:
        check_time_format(fmt, "time_formats")
    if opts.profile:
        if layer != "incidents":
            raise InvalidInput("导入映射方案只用于事件 / import profiles are for incidents",
                               field="profile")
        from geo.io.importer.profiles import apply_profile, load_profile

        with engine.connect() as conn:
            opts = apply_profile(opts, load_profile(conn, opts.region, opts.profile))
        if not opts.as_cases:  # the staged importer names its columns by options
            opts = _profile_fields(opts)
    if layer == "incidents" and opts.as_cases:
        return import_cases(engine, path, opts, principal or SYSTEM, display_name)
    src = open_source(path, layer=opts.layer, lon_field=opts.lon_field,
                      lat_field=opts.lat_field, wkt_field=opts.wkt_field,
                      geometry_required=layer not in ("workers", "incidents"),
                      chunk_rows=opts.chunk_rows)
    try:
        return _run(engine, layer, path, opts, src, tz, t0, progress, display_name)
    finally:
        src.close()


_FIELD_OPTION = {"source_ref": "code_field", "category": "category_field",
                 "reported_at": "time_field", "place": "address_field",
                 "description": "description_field", "lon": "lon_field", "lat": "lat_field"}


def _profile_fields(opts: ImportOptions) -> ImportOptions:
    """A profile's columns as the staged importer's field options (options given win)."""
    from dataclasses import replace

    given = {opt: getattr(opts, opt) for opt in _FIELD_OPTION.values()}
    for header, fld in opts.columns.items():
        opt = _FIELD_OPTION.get(fld)
        if opt and not given[opt]:
            given[opt] = header
    if opts.time_formats and not opts.time_format:
        given["time_format"] = opts.time_formats[0]
    return replace(opts, **given)


def _zone(name: str) -> ZoneInfo:
    """The import's time zone; 422 naming ``timezone`` for anything else (an IANA name is at
    most a few dozen characters: a long one, a folder such as ``America`` or a path made the
    zone database lookup fail with OSError, review round 3, R3)."""
    bad = InvalidInput(f"未知时区 / unknown timezone {name[:64]!r}"
                       + ("..." if len(name) > 64 else "")
                       + " (IANA 名称, 例 Asia/Shanghai / an IANA name such as Asia/Shanghai)",
                       field="timezone")
    if len(name) > 64:
        raise bad
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise bad from exc


def _run(engine: Engine, layer: str, path: str | Path, opts: ImportOptions, src: Source,
         tz: ZoneInfo, t0: float, progress: Progress | None, display_name: str | None
         ) -> ImportReport:
    plan = plan_crs(src.file_crs, opts.crs)
    report = ImportReport(
        layer=layer, region=opts.region, file=display_name or Path(path).name, format=src.fmt,
        crs={"source": plan.label, "from": plan.source, "file_crs": crs_label(src.file_crs)},
        dry_run=not opts.commit, notes=list(src.notes),
    )
    fields = map_fields(layer, src.columns, opts)
    report.notes.append("fields: " + ", ".join(f"{k}={v!r}" for k, v in fields.items() if v))
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            ensure_region(conn, opts, report)
            ctx = ImportContext(layer, opts, src, plan, report, region_extent(conn, opts.region),
                       fields, tz, {})
            _HANDLERS[layer](conn, ctx, progress)
            finish(trans, report, opts)
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
    report.seconds = round(time.monotonic() - t0, 2)
    return report
