"""``wangge incidents``: import hotline exports, the holiday calendar, the overdue list, KPIs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

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
@click.option("--category-map", multiple=True,
              help="VALUE=category_code (repeatable): the source's own labels; labels matching "
                   "no category are filed as 待分类 for the command centre.")
@click.option("--profile", default=None,
              help="A saved import profile of the source (wangge incidents profile propose "
                   "FILE --save NAME): its columns, category map, time formats, channel.")
def import_cmd(file: Path, commit: bool, skip_refused: bool, region: str | None,
               category_map: tuple[str, ...], profile: str | None) -> None:
    """Import a hotline export (CSV or XLSX) as cases: every row routed, bad rows listed.

    The same pipeline and report as POST /incidents/bulk and ``wangge import incidents
    --as-cases``.
    """
    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.io.importer import ImportOptions, run_import

    s = Settings.from_env()
    from api.cli.importing import _parse_map

    opts = ImportOptions(region=s.region_or_default(region), commit=commit,
                         skip_refused=skip_refused, as_cases=True,
                         category_map=_parse_map(category_map), profile=profile)
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


@incidents.group("profile")
def profile_group() -> None:
    """Import mapping profiles (导入映射方案): one per source (e.g. 12345-xingxian)."""


@profile_group.command("propose")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--save", "save_as", default=None, metavar="NAME",
              help="Save the proposal under NAME (letters, digits, _ . -).")
@click.option("--region", default=None, help="Region code (default: WANGGE_REGION).")
@click.option("--json", "as_json", is_flag=True, help="Print the proposal as JSON.")
def profile_propose(file: Path, save_as: str | None, region: str | None,
                    as_json: bool) -> None:
    """Read a sample export and propose its mapping (nothing is imported): columns, category
    labels, time formats, and what could not be mapped. Edit the JSON and save it with
    'wangge incidents profile save NAME FILE.json', or save the proposal as it is (--save)."""
    import json
    from zoneinfo import ZoneInfo

    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.io.importer.cases import read_raw
    from geo.io.importer.profiles import MAX_SAMPLE, propose, save_proposal
    from geo.localtime import TZ_NAME

    s = Settings.from_env()
    region_code = s.region_or_default(region)
    try:
        header, rows = read_raw(file.read_bytes(), file.name, MAX_SAMPLE)
        with get_engine(s.database_url).begin() as conn:
            out = propose(conn, header, rows, ZoneInfo(TZ_NAME))
            if save_as:
                save_proposal(conn, region_code, save_as, out, CLI_PRINCIPAL.user)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    p = out["profile"]
    click.echo(f"{out['rows']} 行 rows; 列对应 columns:")
    for h, f in p["columns"].items():
        click.echo(f"  {h} -> {f}")
    if out["unmapped_columns"]:
        click.echo(f"未对应的列 unmapped columns (ignored): {out['unmapped_columns']}")
    for c in out["proposed_categories"]:
        click.echo(f"  类别 label {c['label']} ({c['rows']} 行) -> {c['code']} {c['name']} "
                   f"(相似度 score {c['score']}: please check)")
    if out["unmapped_categories"]:
        click.echo(f"未对应的类别 (导入为「待分类」) labels filed as unclassified: "
                   f"{out['unmapped_categories']}")
    click.echo(f"时间格式 time shapes: {out['time_shapes']}; extra formats: {p['time_formats']}")
    if out["unreadable_time_count"]:
        click.echo(f"无法识别的时间 unreadable times: {out['unreadable_time_count']}, e.g. "
                   f"{out['unreadable_times'][:3]}")
    if out["missing"]:
        click.echo(f"缺少 missing fields: {out['missing']}")
    if save_as:
        click.echo(f"已保存 saved as {save_as!r}: wangge incidents import FILE --profile "
                   f"{save_as} [--commit]")


@profile_group.command("save")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default=None, help="Region code (default: WANGGE_REGION).")
def profile_save(name: str, file: Path, region: str | None) -> None:
    """Save profile NAME from a JSON file (a proposal's "profile", edited)."""
    import json

    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.io.importer.profiles import save_profile

    s = Settings.from_env()
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} 不是 JSON / is not JSON: {exc}") from exc
    data = data.get("profile", data) if isinstance(data, dict) else data
    try:
        with get_engine(s.database_url).begin() as conn:
            saved = save_profile(conn, s.region_or_default(region), name, data,
                                 CLI_PRINCIPAL.user)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"已保存 saved {name!r}: {json.dumps(saved['profile'], ensure_ascii=False)}")


@profile_group.command("list")
@click.option("--region", default=None, help="Region code (default: WANGGE_REGION).")
def profile_list(region: str | None) -> None:
    """The saved profiles."""
    from geo.db.engine import get_engine
    from geo.io.importer.profiles import list_profiles

    s = Settings.from_env()
    with get_engine(s.database_url).connect() as conn:
        rows = list_profiles(conn, s.region_or_default(region))
    for r in rows:
        click.echo(f"{r['name']:24s} {len(r['profile'].get('columns', {}))} columns, "
                   f"{len(r['profile'].get('category_map', {}))} labels mapped; saved by "
                   f"{r['saved_by'] or '-'} at {r['updated_at']:%Y-%m-%d %H:%M}")
    if not rows:
        click.echo("没有已保存的方案 / no profiles saved")


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


@holidays.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default="CN", show_default=True,
              help="CN for nationwide, or a county code for a local rule.")
def holidays_load(file: Path, region: str) -> None:
    """Enter a year's schedule from a CSV file (date,kind,name: 2027-01-01,holiday,元旦 /
    2027-02-07,workday,春节调休), all lines or none."""
    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.incidents.calendar import load_days

    s = Settings.from_env()
    try:
        with get_engine(s.database_url).begin() as conn:
            rows = load_days(conn, file.read_text(encoding="utf-8-sig"), region, file.name)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    years = sorted({str(r["day"])[:4] for r in rows})
    click.echo(f"{len(rows)} days entered for {', '.join(years)} (region {region})")


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


@incidents.command("kpi")
@click.option("--from", "date_from", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day (CST).")
@click.option("--to", "date_to", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Day after the last one (exclusive).")
@click.option("--group-by", default="township", show_default=True,
              help="township|cell|department|worker|category, or month|week|day (a trend).")
@click.option("--period", default=None,
              help="month|week|day: split a township/cell/... grouping by period.")
@click.option("--as-of", "as_of", default=None,
              help="Judge overdue at this time (ISO, with +08:00); default now.")
@click.option("--region", default=None, help="Region code (default: WANGGE_REGION).")
@click.option("--json", "as_json", is_flag=True, help="The whole answer as JSON (as GET /kpi).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write an XLSX workbook (as GET /kpi?format=xlsx).")
def kpi_cmd(date_from: dt.datetime, date_to: dt.datetime, group_by: str, period: str | None,
            as_of: str | None, region: str | None, as_json: bool, output: Path | None) -> None:
    """KPIs (考核指标) of the reports in [--from, --to): as GET /kpi, same options, with
    同比 (yoy) and 环比 (pop)."""
    from geo.db.engine import get_engine
    from geo.errors import WanggeError
    from geo.incidents.kpi import kpi, kpi_xlsx

    s = Settings.from_env()
    try:
        when = dt.datetime.fromisoformat(as_of) if as_of else None
        if when is not None and when.tzinfo is None:
            raise click.BadParameter("add a time zone, e.g. +08:00", param_hint="--as-of")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from exc
    try:
        with get_engine(s.database_url).connect() as conn:
            result = kpi(conn, CLI_PRINCIPAL, s.region_or_default(region), date_from.date(),
                         date_to.date(), group_by, when, period)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    if output is not None:
        output.write_bytes(kpi_xlsx(result))
        click.echo(f"wrote {output}")
        return
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    for row in [*result["groups"], result["total"]]:
        click.echo(_kpi_line(row))


def _kpi_line(row: dict[str, Any]) -> str:
    """One KPI row as a line: period, group, counts, rates, 同比/环比 of reports and 结案率."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    def versus(cmp: dict[str, Any] | None) -> str:
        if not cmp:
            return "-"
        return (f"{cmp['change_pct']['reports'] or 0:+.1f}% "
                f"{cmp['change_pp']['closing_rate'] or 0:+.1f}pp")

    where = " ".join(str(x) for x in (row.get("period"), row["key"], row["name"]) if x)
    return (f"{where}: 上报 {row['reports']} 应结 {row['due']} 结案 {row['closed']} "
            f"结案率 {pct(row['closing_rate'])} 按期 {pct(row['on_time_rate'])} "
            f"超期在办 {row['open_overdue']}  同比 {versus(row.get('yoy'))}  "
            f"环比 {versus(row.get('pop'))}")
