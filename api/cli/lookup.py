"""``wangge lookup``: batch "which cell" for CSV files."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click


def register(main: click.Group) -> None:
    """Attach the ``lookup`` group to the ``wangge`` command."""
    main.add_command(lookup)


@click.group()
def lookup() -> None:
    """Spatial lookups from files (批量查询)."""


@lookup.command("cells")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lon-field", required=True, help="Column holding x / longitude.")
@click.option("--lat-field", required=True, help="Column holding y / latitude.")
@click.option("--crs", default="EPSG:4490", show_default=True,
              help="CRS of the coordinates: EPSG:4490, EPSG:4326, GCJ02, BD09, EPSG:nnnn.")
@click.option("--region", default=None, help="Region (county) code [default: WANGGE_REGION].")
@click.option("--at", "at", default=None, help="Use the boundaries valid on this date.")
@click.option("--tolerance-m", default=None, type=float,
              help="Edge distance counted as near_boundary [default: settings, 10 m].")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output CSV (input columns + cell_code, near_boundary, candidates, error).")
def lookup_cells(
    file: Path, lon_field: str, lat_field: str, crs: str, region: str | None, at: str | None,
    tolerance_m: float | None, output: Path,
) -> None:
    """Add the grid cell of every row of FILE.csv (网格批量匹配).

    Every input column is kept; rows with unusable coordinates are kept with the reason in
    ``error``. At most 100,000 rows per run.
    """
    from api.settings import Settings
    from geo.crs.names import UnknownCRSError, normalize_crs
    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.lookup.batch import lookup_table, read_csv_text

    settings = Settings.from_env()
    try:
        normalize_crs(crs)
    except UnknownCRSError as exc:
        raise click.BadParameter(str(exc), param_hint="--crs") from exc
    day = None
    if at:
        try:
            day = dt.date.fromisoformat(at)
        except ValueError as exc:
            raise click.BadParameter(f"not a date YYYY-MM-DD: {at!r}", param_hint="--at") from exc
    started = time.perf_counter()
    engine = get_engine(settings.database_url)
    try:
        table = read_csv_text(file.read_bytes())
        click.echo(f"read {len(table)} rows from {file}", err=True)
        with engine.connect() as conn:
            out = lookup_table(
                conn, table, lon_field, lat_field, crs, settings.region_or_default(region), day,
                settings.boundary_tolerance_m if tolerance_m is None else tolerance_m,
                settings.max_batch_points,
            )
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    out.to_csv(output, index=False, encoding="utf-8-sig")
    found = int((out["cell_code"] != "").sum())
    near = int((out["near_boundary"] == "true").sum())
    bad = int((out["error"] != "").sum())
    click.echo(
        f"wrote {output}: {len(out)} rows, {found} in a cell, {near} near a boundary, "
        f"{bad} with unusable coordinates ({time.perf_counter() - started:.2f} s)",
        err=True,
    )
