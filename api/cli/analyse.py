"""``wangge analyse ...``: the planners' analyses to CSV, XLSX or GeoJSON files.

Every file states its inputs (period, boundary set, parameters): GeoJSON as foreign members,
CSV as ``#`` comment lines, XLSX in a sheet 说明 (XLSX for people: Chinese sheet names and
headers, or ``--lang en``; CSV and GeoJSON for systems: column keys and codes). The CLI runs
as a planner by default (aggregates and geometries, never personal fields); ``--as-role
command`` unmasks names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

from geo.auth.principal import ROLES, Principal

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                     help="Output file: .csv, .xlsx or .geojson")(f)
    f = click.option("--table", default=None,
                     help="Table to write to CSV/GeoJSON (default the main one; XLSX: all)")(f)
    f = click.option("--region", default=None, help="Region (county) code")(f)
    f = click.option("--as-role", "role", default="planner", show_default=True,
                     type=click.Choice(ROLES), help="Role the analysis runs as")(f)
    f = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh",
                     show_default=True, help="XLSX sheet names, headers and labels")(f)
    return f


def _period(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--from", "from_", type=_DATE, default=None,
                     help="First day (default: the last full quarter)")(f)
    f = click.option("--to", "to", type=_DATE, default=None, help="Last day (inclusive)")(f)
    f = click.option("--at", type=_DATE, default=None,
                     help="Boundary set valid on this date (default: the active one)")(f)
    return f


def _run(fn: Callable[..., dict[str, Any]], output: str, table: str | None,
         region: str | None, role: str, lang: str = "zh", **kwargs: Any) -> None:
    from api.settings import Settings
    from geo.analysis import write_result
    from geo.db.engine import get_engine
    from geo.errors import WanggeError

    if not output.lower().endswith((".csv", ".xlsx", ".geojson", ".json")):
        raise click.ClickException(
            f"不支持的文件类型 / unsupported output {output!r}: use .csv, .xlsx or .geojson")
    s = Settings.from_env()
    principal = Principal(user="cli", role=role)
    try:
        with get_engine(s.database_url).connect() as conn:
            res = fn(conn, principal, s.region_or_default(region), **kwargs)
            path = write_result(res, output, table, conn, lang)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{res['analysis']}: wrote {path}")
    for key, value in res["summary"].items():
        if not isinstance(value, (dict, list)):
            click.echo(f"  {key}: {value}")


def register(main: click.Group) -> None:
    """Attach ``wangge analyse``."""

    @main.group("analyse")
    def analyse() -> None:
        """Planners' analyses: coverage, property management, grid health, hotspots, sites."""

    @analyse.command("camera-coverage")
    @click.option("--unit", default="cell", show_default=True,
                  type=click.Choice(["cell", "community", "township", "county", "compound"]))
    @click.option("--category", multiple=True, help="Incident category (repeatable)")
    @click.option("--top", default=20, show_default=True, help="Cells ranked (0 = all)")
    @_period
    @_common
    def camera_coverage_cmd(unit: str, category: tuple[str, ...], top: int,
                            from_: dt.datetime | None, to: dt.datetime | None,
                            at: dt.datetime | None, **common: Any) -> None:
        """Camera coverage per unit, blind compounds, incidents outside every sector."""
        from geo.analysis import camera_coverage, make_period

        _run(camera_coverage, unit=unit, period=make_period(_date(from_), _date(to)),
             at=_date(at), categories=list(category) or None, top=top, **common)

    @analyse.command("property")
    @click.option("--as-of", type=_DATE, default=None, help="State on this date (default today)")
    @click.option("--unit", default="community", show_default=True,
                  type=click.Choice(["community", "township", "county"]))
    @click.option("--targets", default=None,
                  help="DATE:PERCENT,... (default: the region's, see `analyse targets`)")
    @_common
    def property_cmd(as_of: dt.datetime | None, unit: str, targets: str | None,
                     **common: Any) -> None:
        """Property-management coverage per unit against the targets; unmanaged compounds."""
        from geo.analysis import parse_targets, property_management
        from geo.errors import WanggeError

        try:
            tg = parse_targets(targets) if targets else None
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        _run(property_management, as_of=_date(as_of), unit=unit, targets=tg, **common)

    @analyse.command("targets")
    @click.option("--region", default=None, help="Region (county) code")
    @click.option("--set", "spec", default=None,
                  help="New targets DATE:PERCENT,... (replace the region's targets)")
    @click.option("--commit", is_flag=True, help="Write them (without it: a dry run)")
    def targets_cmd(region: str | None, spec: str | None, commit: bool) -> None:
        """Show or set the property-management targets (物业覆盖目标) of a region."""
        from api.settings import Settings
        from geo.analysis.property import parse_targets, region_targets, set_region_targets
        from geo.db.engine import get_engine
        from geo.errors import WanggeError

        s = Settings.from_env()
        code = s.region_or_default(region)
        try:
            with get_engine(s.database_url).begin() as conn:
                current, source = region_targets(conn, code)
                click.echo(f"region {code} targets ({source}): " + ", ".join(
                    f"{d}:{round(100 * v, 2)}%" for d, v in current))
                if spec is None:
                    return
                new = parse_targets(spec)
                shown = ", ".join(f"{d}:{round(100 * v, 2)}%" for d, v in new)
                if not commit:
                    click.echo(f"would set: {shown} (dry run; add --commit to write)")
                    return
                set_region_targets(conn, code, new, set_by="cli")
                click.echo(f"set: {shown}")
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc

    @analyse.command("grid-health")
    @click.option("--sliver-m", default=0.05, show_default=True, type=float)
    @click.option("--min-area-m2", default=1.0, show_default=True, type=float)
    @click.option("--on", type=_DATE, default=None, help="Duty roster day (default today)")
    @_period
    @_common
    def grid_health_cmd(sliver_m: float, min_area_m2: float, on: dt.datetime | None,
                        from_: dt.datetime | None, to: dt.datetime | None,
                        at: dt.datetime | None, **common: Any) -> None:
        """Gaps, overlaps, cells without a worker on duty, worker load and imbalance."""
        from geo.analysis import grid_health, make_period

        _run(grid_health, period=make_period(_date(from_), _date(to)), at=_date(at),
             sliver_m=sliver_m, min_area_m2=min_area_m2, on=_date(on), **common)

    @analyse.command("hotspots")
    @click.option("--unit", default="cell", show_default=True, type=click.Choice(["cell", "h3"]))
    @click.option("--resolution", default=8, show_default=True, help="H3 resolution")
    @click.option("--measure", default=None,
                  type=click.Choice(["count", "per_km2", "per_1000_hh"]))
    @click.option("--category", multiple=True, help="Incident category (repeatable)")
    @click.option("--permutations", default=999, show_default=True)
    @click.option("--alpha", default=0.05, show_default=True)
    @click.option("--fdr", is_flag=True, help="Control the false discovery rate")
    @_period
    @_common
    def hotspots_cmd(unit: str, resolution: int, measure: str | None,
                     category: tuple[str, ...], permutations: int, alpha: float, fdr: bool,
                     from_: dt.datetime | None, to: dt.datetime | None,
                     at: dt.datetime | None, **common: Any) -> None:
        """Incident density per cell or H3 hexagon and Getis-Ord Gi* hot/cold spots."""
        from geo.analysis import hotspots, make_period

        _run(hotspots, period=make_period(_date(from_), _date(to)), unit=unit,
             categories=list(category) or None, measure=measure, resolution=resolution,
             permutations=permutations, alpha=alpha, at=_date(at), fdr=fdr, **common)

    @analyse.command("camera-sites")
    @click.option("-k", "k", default=10, show_default=True, help="Number of new cameras")
    @click.option("--within", default=None, help="Restrict to a unit code")
    @click.option("--candidates", default="both", show_default=True,
                  type=click.Choice(["entrances", "lattice", "both"]))
    @click.option("--spacing-m", default=100.0, show_default=True)
    @click.option("--bearings", default=8, show_default=True)
    @click.option("--fov-deg", default=90.0, show_default=True)
    @click.option("--range-m", default=80.0, show_default=True)
    @click.option("--solver", default="auto", show_default=True,
                  type=click.Choice(["auto", "mclp", "greedy"]))
    @click.option("--category", multiple=True, help="Incident category (repeatable)")
    @click.option("--urgent-weight", default=2.0, show_default=True)
    @_period
    @_common
    def camera_sites_cmd(k: int, within: str | None, candidates: str, spacing_m: float,
                         bearings: int, fov_deg: float, range_m: float, solver: str,
                         category: tuple[str, ...], urgent_weight: float,
                         from_: dt.datetime | None, to: dt.datetime | None,
                         at: dt.datetime | None, **common: Any) -> None:
        """The k new camera sites and bearings that cover the most uncovered incidents."""
        from geo.analysis import camera_sites, make_period

        _run(camera_sites, k=k, period=make_period(_date(from_), _date(to)), within=within,
             candidates=candidates, spacing_m=spacing_m, bearings=bearings, fov_deg=fov_deg,
             range_m=range_m, solver=solver, categories=list(category) or None,
             urgent_weight=urgent_weight, at=_date(at), **common)
