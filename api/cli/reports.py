"""``wangge report monthly``: the monthly leadership report as PDF, XLSX or HTML.

    wangge report monthly --month 2026-10 -o 月报-2026-10.pdf      # .pdf, .xlsx or .html
    wangge report monthly --month 2026-10 -o report.pdf --lang en
    wangge report monthly --month 2026-10 --region 141100 -o 吕梁市.pdf   # every county below
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from api.cli.maps import REGION_HELP
from api.settings import Settings
from geo.auth.principal import Principal
from geo.errors import WanggeError

# The command line is the installation's operator: the whole region, reporter fields masked
# as for the command centre's default view (the report never needs them).
CLI_READER = Principal(user="cli", role="command")
SUFFIXES = (".pdf", ".xlsx", ".html")


def register(main: click.Group) -> None:
    """Attach ``wangge report``."""

    @main.group("report")
    def report() -> None:
        """Reports for officials: the monthly leadership report."""

    @report.command("monthly")
    @click.option("--month", required=True, help="YYYY-MM, e.g. 2026-10")
    @click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
                  help="File to write: .pdf, .xlsx or .html (the format follows the suffix)")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--region", default=None, help=REGION_HELP)
    def monthly_cmd(month: str, out: Path, lang: str, region: str | None) -> None:
        """网格化服务管理月报: headline figures with 同比/环比, trend, townships, categories,
        overdue cases, map with hot spots, cameras, property management, camera sites."""
        from api.cli.maps import reader_for
        from geo.db.engine import get_engine
        from reports.monthly import monthly_report, scope_report
        from reports.render import html_to_pdf, monthly_html, monthly_xlsx

        suffix = out.suffix.lower()
        if suffix not in SUFFIXES:
            raise click.BadParameter(f"文件后缀须为 {', '.join(SUFFIXES)} / the output must end "
                                     f"in {', '.join(SUFFIXES)}; got {out.name!r}",
                                     param_hint="--output")
        s = Settings.from_env()
        t0 = time.perf_counter()
        try:
            with get_engine(s.database_url).connect() as conn:
                reader, counties = reader_for(conn, region)
                if counties:  # a prefecture or province: the report of every county below
                    data = scope_report(conn, reader, counties, month, scope_code=region)
                else:
                    reader = CLI_READER
                    data = monthly_report(conn, reader, s.region_or_default(region), month)
                if suffix == ".xlsx":
                    body = monthly_xlsx(data, lang)
                else:
                    html = monthly_html(conn, reader, data, lang)
                    body = html.encode() if suffix == ".html" else html_to_pdf(html)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        out.write_bytes(body)
        click.echo(f"wrote {out} ({len(body) / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s)")
