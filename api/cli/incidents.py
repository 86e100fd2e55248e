"""``wangge incidents``: import hotline exports, the holiday calendar, the overdue list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from api.settings import Settings
from geo.auth.principal import Principal

CLI_PRINCIPAL = Principal(user="cli", role="admin")


def register(main: click.Group) -> None:
    """Attach the ``incidents`` group to the ``wangge`` command."""
    main.add_command(incidents)


@click.group()
def incidents() -> None:
    """Incidents (事件): import, holiday calendar, overdue cases."""


@incidents.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--commit", is_flag=True, help="Write the incidents (default: dry run).")
@click.option("--skip-refused", is_flag=True,
              help="Commit the other rows even when some are refused.")
@click.option("--region", default=None, help="Region code (default: WANGGE_REGION).")
def import_cmd(file: Path, commit: bool, skip_refused: bool, region: str | None) -> None:
    """Import a hotline export (CSV or XLSX) as cases: every row routed, bad rows listed.

    The same pipeline and report as POST /incidents/bulk and ``wangge import incidents
    --as-cases``.
    """
    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.io.importer import ImportOptions, run_import

    s = Settings.from_env()
    opts = ImportOptions(region=s.region_or_default(region), commit=commit,
                         skip_refused=skip_refused, as_cases=True)
    try:
        report = run_import(get_engine(s.database_url), "incidents", file, opts,
                            principal=CLI_PRINCIPAL)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    for line in report.summary_lines():
        click.echo(line)
    for case in report.cases:
        if case["status"] == "needs_location":
            click.echo(f"  row {case['row']}: {case['code']} needs a location")
    if report.error:
        raise click.ClickException(report.error)


@incidents.group("holidays")
def holidays() -> None:
    """China's holiday calendar used by working-time deadlines."""


@holidays.command("add")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--workday/--holiday", "workday", required=True,
              help="--holiday: a statutory day off; --workday: a make-up working day.")
@click.option("--name", default=None, help="e.g. 国庆节 / National Day")
@click.option("--region", default="CN", show_default=True,
              help="CN for nationwide, or a county code for a local rule.")
def holidays_add(day: dt.datetime, workday: bool, name: str | None, region: str) -> None:
    """Enter one day of a year's schedule (e.g. 2027's, published the November before)."""
    from geo.db.engine import get_engine
    from geo.incidents.calendar import set_day

    s = Settings.from_env()
    with get_engine(s.database_url).begin() as conn:
        row = set_day(conn, day.date(), workday, name, region)
    click.echo(f"{row['day']}: {row['kind']} ({row['name'] or '-'}) region {row['region_code']}")


@holidays.command("list")
@click.option("--year", type=int, default=None)
def holidays_list(year: int | None) -> None:
    """List the entered days (optionally of one year) and say which years are missing."""
    from geo.db.engine import get_engine
    from geo.incidents.calendar import list_days

    s = Settings.from_env()
    with get_engine(s.database_url).connect() as conn:
        rows = list_days(conn, year)
    for r in rows:
        click.echo(f"{r['day']}  {r['kind']:8s} {r['name'] or '':20s} {r['region_code']}")
    years = sorted({r["day"].year for r in rows})  # type: ignore[attr-defined]
    click.echo(f"{len(rows)} days; years entered: {years[0] if years else '-'}.."
               f"{years[-1] if years else '-'}")
    this_year = dt.date.today().year
    if year is None and years and years[-1] <= this_year:
        click.echo(f"warning: {this_year + 1} is not entered yet: deadlines reaching into it "
                   "count weekends only (calendar_incomplete)", err=True)


@incidents.command("overdue")
@click.option("--region", default=None)
@click.option("--json", "as_json", is_flag=True)
def overdue_cmd(region: str | None, as_json: bool) -> None:
    """Open cases past their current step's due time."""
    from geo.db.engine import get_engine
    from geo.incidents.views import list_incidents

    s = Settings.from_env()
    with get_engine(s.database_url).connect() as conn:
        items = list_incidents(conn, CLI_PRINCIPAL, s.region_or_default(region),
                               overdue_only=True, limit=10_000)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=1))
        return
    for i in items:
        click.echo(f"{i['code']}  {i['status']:12s} {i['category']:22s} due {i['due_at']}  "
                   f"cell {i['cell_code']}")
    click.echo(f"{len(items)} overdue")
