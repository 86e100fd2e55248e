"""``wangge import``, ``wangge export`` and ``wangge boundaries`` (list, check, activate)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from api.settings import Settings
from geo.io import LAYERS
from geo.localtime import TZ_NAME


def _engine() -> Any:
    from geo.db.engine import get_engine

    return get_engine(Settings.from_env().database_url)


class _Progress:
    """A progress bar on a terminal; one line per chunk otherwise (logs, pipes)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int | None) -> None:
        rate = done / max(time.monotonic() - self.t0, 1e-6)
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            msg = f"[{bar:<30}] {done:,}/{total:,} rows ({rate:,.0f}/s)"
        else:
            msg = f"{done:,} rows read ({rate:,.0f}/s)"
        if self.tty:
            click.echo("\r" + msg, nl=False, err=True)
        else:
            click.echo(f"progress: {msg}", err=True)

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


def _parse_map(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"expected VALUE=code, got {item!r}",
                                     param_hint="--category-map")
        k, v = item.rsplit("=", 1)
        out[k.strip()] = v.strip()
    return out


def register(main: click.Group) -> None:
    """Attach ``import``, ``export`` and ``boundaries`` to the ``wangge`` command."""

    @main.command("import")
    @click.argument("layer", type=click.Choice(LAYERS))
    @click.argument("file", type=click.Path(exists=True, path_type=Path))
    @click.option("--region", help="Region (county) code; created on first import. "
                  "[default: WANGGE_REGION or 141123]")
    @click.option("--region-name", help="Name of a region created by this import.")
    @click.option("--crs", help="CRS of the coordinates: EPSG code, GCJ02 or BD09 (a file's "
                  "own CRS is used when present; a conflicting --crs is an error).")
    @click.option("--layer", "src_layer", help="Layer in a GeoPackage / KML / folder.")
    @click.option("--lon-field", help="CSV/XLSX column of longitude (or x).")
    @click.option("--lat-field", help="CSV/XLSX column of latitude (or y).")
    @click.option("--wkt-field", help="CSV/XLSX column holding WKT geometry.")
    @click.option("--code-field")
    @click.option("--name-field")
    @click.option("--parent-field", help="Village/community code of a cell (parent unit).")
    @click.option("--township-field")
    @click.option("--kind-field", help="basic/dedicated (cells).")
    @click.option("--level", type=click.Choice(["county", "township", "village", "community"]),
                  help="Admin level of every row (admin; else from a field or the code length).")
    @click.option("--level-field")
    @click.option("--category-field")
    @click.option("--category-map", multiple=True, help="VALUE=category_code (repeatable).")
    @click.option("--default-category", help="Category for values not mapped (created as "
                  "'其他(导入) / Other (imported)' when absent).")
    @click.option("--time-field")
    @click.option("--time-format", help="strftime format, e.g. '%Y/%m/%d %H:%M'.")
    @click.option("--timezone", default=TZ_NAME, show_default=True,
                  help="Time zone of times without one.")
    @click.option("--description-field")
    @click.option("--address-field")
    @click.option("--bearing-field", help="Degrees, compass points or approach codes (NB/SEB).")
    @click.option("--cell-field", help="Cell code a worker is assigned to (workers).")
    @click.option("--phone-field")
    @click.option("--channel", default="12345", show_default=True)
    @click.option("--status", default="reported", show_default=True,
                  help="Status of new incidents.")
    @click.option("--strict", is_flag=True, help="Refuse invalid polygons instead of repairing.")
    @click.option("--skip-refused", is_flag=True,
                  help="Commit the other rows even when some are refused.")
    @click.option("--commit", is_flag=True, help="Write (default: dry run).")
    @click.option("--activate", is_flag=True, help="Cells: switch the new set on after checks.")
    @click.option("--force", is_flag=True, help="Cells: activate even when checks fail.")
    @click.option("--set-name", help="Cells: name of the new boundary set.")
    @click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]),
                  help="Cells: date from which the new set applies [default: today].")
    @click.option("--min-area-m2", default=10.0, show_default=True,
                  help="Gaps/overlaps smaller than this are ignored.")
    @click.option("--no-route", is_flag=True, help="Incidents: do not route to cells.")
    @click.option("--as-cases", is_flag=True,
                  help="Incidents: each row a live case (routing reasons, deadlines, duplicate "
                  "flags), as POST /incidents/bulk; default: a staged history import.")
    @click.option("--profile", help="Incidents: a saved import profile (wangge incidents "
                  "profile propose FILE --save NAME): columns, category map, time formats.")
    @click.option("--chunk-rows", default=50_000, show_default=True,
                  help="Rows per chunk (CSV is streamed; memory grows with this).")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    def import_cmd(layer: str, file: Path, **kw: Any) -> None:
        """Import FILE into LAYER (cells, admin, compounds, cameras, incidents, workers).

        A dry run unless --commit: it prints what would be new, updated, unchanged, repaired
        and refused. With --commit everything is written in one transaction, or nothing.
        """
        from geo.errors import WanggeError
        from geo.io.importer import ImportOptions, run_import

        as_json = kw.pop("as_json")
        vf = kw.pop("valid_from")
        opts = ImportOptions(
            region=Settings.from_env().region_or_default(kw.pop("region")),
            region_name=kw.pop("region_name"), layer=kw.pop("src_layer"),
            category_map=_parse_map(kw.pop("category_map")),
            valid_from=vf.date() if vf else None, route=not kw.pop("no_route"),
            **kw,
        )
        progress = _Progress()
        try:
            report = run_import(_engine(), layer, file, opts, progress=progress)
        except WanggeError as exc:
            progress.close()
            raise click.ClickException(exc.message) from exc
        progress.close()
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        else:
            for line in report.summary_lines():
                click.echo(line)
        if report.error:
            raise click.ClickException(report.error)

    @main.command("export")
    @click.argument("layer", type=click.Choice(LAYERS))
    @click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "shp", "csv", "xlsx"]),
                  default="geojson", show_default=True)
    @click.option("--crs", default="EPSG:4490", show_default=True)
    @click.option("--where", help="ECQL filter, e.g. \"status = 'closed'\".")
    @click.option("--bbox", help="minx,miny,maxx,maxy in --crs.")
    @click.option("--region", help="Region code [default: WANGGE_REGION or 141123].")
    @click.option("--at", type=click.DateTime(["%Y-%m-%d"]), help="Cells valid on this date.")
    @click.option("--set", "set_ref", help="Cells of this boundary set (id or name).")
    @click.option("-o", "--output", type=click.Path(path_type=Path),
                  help="Output file [default: LAYER_REGION.ext in the current folder].")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                  help="XLSX headers, sheet names and labels (other formats keep keys and "
                       "codes).")
    def export_cmd(layer: str, fmt: str, crs: str, where: str | None, bbox: str | None,
                   region: str | None, at: dt.datetime | None, set_ref: str | None,
                   output: Path | None, lang: str) -> None:
        """Export LAYER to a file (the command line runs as the command centre)."""
        from geo.auth.principal import Principal
        from geo.errors import WanggeError
        from geo.io.export import export_layer

        principal = Principal(user="cli", role="admin")
        try:
            with _engine().connect() as conn:
                region_code = Settings.from_env().region_or_default(region)
                res = export_layer(conn, principal, layer, fmt, region_code,
                                   crs, where, bbox, at.date() if at else None, set_ref, lang)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        path = output or Path(res.filename)
        path.write_bytes(res.content)
        click.echo(f"{res.rows} rows -> {path} ({len(res.content):,} bytes, {crs})")

    @main.group("boundaries")
    def boundaries() -> None:
        """Grid boundary sets: list, check, activate (switch on)."""

    @boundaries.command("list")
    @click.option("--region")
    def b_list(region: str | None) -> None:
        """List boundary sets (active, pending, history)."""
        from geo.boundaries.sets import list_sets

        with _engine().connect() as conn:
            for s in list_sets(conn, region):
                ok = {True: "checks ok", False: "checks FAIL", None: ""}[s["checks_ok"]]
                click.echo(f"{s['id']:>5} {s['region_code']:<8} {s['state']:<8} "
                           f"{s['valid_from']}..{s['valid_to'] or ''} {s['cells']:>6} cells "
                           f"{ok:<11} {s['name']}")

    @boundaries.command("check")
    @click.argument("set_ref")
    @click.option("--region")
    @click.option("--min-area-m2", default=10.0, show_default=True)
    def b_check(set_ref: str, region: str | None, min_area_m2: float) -> None:
        """Check a set: gaps, overlaps, cells outside their parent (areas in m²)."""
        from geo.boundaries.checks import check_boundary_set, describe_checks
        from geo.boundaries.sets import find_set
        from geo.errors import WanggeError

        try:
            with _engine().connect() as conn:
                bs = find_set(conn, region, set_ref)
                checks = check_boundary_set(conn, int(bs["id"]), min_area_m2)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{bs['name']}: {'OK' if checks['ok'] else 'PROBLEMS'}")
        for line in describe_checks(checks):
            click.echo(line)

    @boundaries.command("activate")
    @click.argument("set_ref")
    @click.option("--region")
    @click.option("--force", is_flag=True, help="Switch on even when checks fail.")
    @click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]))
    def b_activate(set_ref: str, region: str | None, force: bool,
                   valid_from: dt.datetime | None) -> None:
        """Switch a pending set on after its checks (the old set stays for history)."""
        from geo.boundaries.activate import activate_set
        from geo.errors import WanggeError

        try:
            with _engine().begin() as conn:
                res = activate_set(conn, region, set_ref, force,
                                   valid_from.date() if valid_from else None)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"已启用 activated {res['activated']} (region {res['region']}, from "
                   f"{res['valid_from']}); previous: {res['previous']}; incidents re-routed: "
                   f"{res['incidents_rerouted']}")
