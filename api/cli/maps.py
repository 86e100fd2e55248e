"""``wangge map ...``: write a map as a standalone HTML file (assets inlined), optionally a PNG.

    wangge map dispatch -o dispatch.html [--png dispatch.png] [--from D --to D]
    wangge map dispatch --region 141124 -o 临县.html       # another county of the installation
    wangge map dispatch --region 141100 -o 吕梁市.html     # a prefecture (or province 140000):
                                                            # every county below it
    wangge map cell 141123100001001 -o cell.html [--lon X --lat Y --crs GCJ02]
    wangge map coverage-cameras -o cameras.html [--unit cell|community|township] [-k 10]
        [--candidates both|entrances|lattice] [--no-hotspots] [--from D --to D]
    wangge map coverage-property -o property.html [--unit community|cell|township]

The HTML opens from disk with no server and no internet (no CDN URL anywhere). The PNG is a
snapshot taken by headless Chromium (``/usr/bin/chromium`` or ``$WANGGE_CHROMIUM``) with every
network request blocked; it shows what the page shows (maps.frame.new_map): the title box with
the data's period or date, township names on the map, the legend, a metric scale bar and no
Leaflet attribution prefix.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import click

from api.settings import Settings
from geo.auth.principal import ANONYMOUS_COMMAND, Principal
from geo.errors import WanggeError

REGION_HELP = ("County code (default: the installation's), or a prefecture / province code "
               "(141100, 140000): every county of the installation below it")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str:
    """The Chromium executable used for PNG snapshots."""
    return os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")


def snapshot(html_file: Path, png: Path, width: int = 1600, height: int = 1100) -> list[str]:
    """Render ``html_file`` in headless Chromium with the network cut off; write ``png``.

    Returns the URLs the page tried to fetch from the network (blocked; should be empty).
    """
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as _profile:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})

            def route(r: object) -> None:
                url = r.request.url  # type: ignore[attr-defined]
                if url.startswith(("file:", "data:", "about:")):
                    r.continue_()  # type: ignore[attr-defined]
                else:
                    blocked.append(url)
                    r.abort()  # type: ignore[attr-defined]

            page.route("**/*", route)
            page.goto(html_file.resolve().as_uri())
            page.wait_for_load_state("networkidle")
            page.evaluate("() => document.fonts.ready.then(() => true)")  # CJK labels drawn
            page.wait_for_timeout(400)  # let Leaflet finish its last frame
            page.screenshot(path=str(png))
        finally:
            browser.close()
    return blocked


def _write(build: Callable[..., object], out: Path, png: Path | None,
           region: str | None = None, **kw: object) -> None:
    """Build the map and write it; ``region`` (``--region``) as :func:`reader_for` reads it:
    a prefecture's or province's code builds with ``build(..., counties=...)``."""
    from geo.db.engine import get_engine
    from maps.frame import render_standalone

    s = Settings.from_env()
    t0 = time.perf_counter()
    try:
        with get_engine(s.database_url).connect() as conn:
            reader, counties = reader_for(conn, region)
            if counties:
                kw["counties"] = counties
            m = build(conn, reader, **kw)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    html = render_standalone(m)  # type: ignore[arg-type]
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} ({len(html.encode()) / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s,"
               " standalone: opens offline)")
    if png is not None:
        blocked = snapshot(out, png)
        click.echo(f"wrote {png}" + (f" (blocked {len(blocked)} requests)" if blocked else ""))


def reader_for(conn: object, code: str | None) -> tuple[Principal, list[tuple[str, str]]]:
    """The command line's reader for ``--region``: a county code (or none: the installation's
    county) is the installation's operator over that county (no counties listed); a
    prefecture or province code (GB/T 2260, :mod:`geo.regions.codes`) is a command centre
    over every county of this installation below it, listed as (code, name). Anything else
    is a :class:`click.BadParameter` naming the known counties and the form of a
    prefecture's code."""
    from sqlalchemy import Connection, text

    from geo.regions.codes import check_scope_code, scope_prefix

    assert isinstance(conn, Connection)
    known = {str(c): str(n) for c, n in conn.execute(text(
        "SELECT code, name FROM region ORDER BY code"))}
    if code is None or code in known:
        return ANONYMOUS_COMMAND, []
    listed = ", ".join(f"{c} {n}" for c, n in list(known.items())[:20])
    try:
        check_scope_code(code)
    except WanggeError:
        raise click.BadParameter(
            f"未知区域 {code!r}: 须为本系统的区县代码 ({listed}), 或地级市/省代码 (6 位, 以 00 / "
            f"0000 结尾, 如 141100) / unknown region {code!r}: give a county code of this "
            f"installation ({listed}) or a prefecture / province code (6 digits ending in 00 "
            "/ 0000, e.g. 141100)", param_hint="--region") from None
    below = [(c, n) for c, n in known.items() if c.startswith(scope_prefix(code))]
    if not below:
        raise click.BadParameter(
            f"本系统在 {code} 之下没有区县; 已有: {listed} / no county of this installation "
            f"is below {code}; known: {listed}", param_hint="--region")
    return Principal(user="cli", role="command", regions=frozenset(c for c, _n in below)), below


def sibling(out: Path, code: str) -> Path:
    """The file of county ``code`` written beside a prefecture's ``out`` (吕梁市-141124.html)."""
    return out.with_name(f"{out.stem}-{code}{out.suffix}")


def _opts(lang: str, basemap: str, start: dt.datetime | None = None,
          end: dt.datetime | None = None, region: str | None = None) -> object:
    from maps.frame import MapOptions

    s = Settings.from_env()
    return MapOptions(lang=lang, basemap=basemap, tianditu_key=s.tianditu_key,
                      region_code=region or s.default_region,
                      start=start.date() if start else None, end=end.date() if end else None)


def register(main: click.Group) -> None:
    """Attach ``wangge map``."""

    @main.group("map")
    def map_group() -> None:
        """Write maps as standalone HTML files (offline) and PNG snapshots."""

    common = [
        click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
                     required=True, help="HTML file to write"),
        click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Also write a PNG snapshot (headless Chromium)"),
        click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
        click.option("--basemap", type=click.Choice(["none", "tianditu", "amap", "osm"]),
                     default="none", show_default=True,
                     help="none works offline; the others need their tile server"),
    ]

    def with_common(f: Callable[..., None]) -> Callable[..., None]:
        for opt in reversed(common):
            f = opt(f)
        return f

    @map_group.command("dispatch")
    @with_common
    @click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None)
    @click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None)
    @click.option("--region", default=None, help=REGION_HELP)
    def dispatch(out: Path, png: Path | None, lang: str, basemap: str,
                 start: dt.datetime | None, end: dt.datetime | None, region: str | None
                 ) -> None:
        """The command centre's dispatch map: one county's, or with a prefecture's or
        province's code every county below it (outlines and each county's counters)."""
        from maps.dispatch import build_dispatch_map, build_prefecture_map

        written: list[tuple[str, str]] = []

        def build(conn: object, reader: Principal, opts: object,
                  counties: list[tuple[str, str]] | None = None) -> object:
            if counties:
                written[:] = counties
                return build_prefecture_map(conn, reader, opts, counties,  # type: ignore
                                            county_link=lambda c: quote(sibling(out, c).name))
            return build_dispatch_map(conn, reader, opts)  # type: ignore[arg-type]

        code = region if region is None else region.strip()
        county = None if code is None or code.endswith("00") else code
        _write(build, out, png, region=code,
               opts=_opts(lang, basemap, start, end, county))
        # a prefecture's file links each county to that county's map, written beside it (no
        # server URL: the files open offline from a folder or a USB stick)
        for c, _name in written:
            _write(build, sibling(out, c), None, region=c,
                   opts=_opts(lang, basemap, start, end, c))

    @map_group.command("cell")
    @click.argument("code")
    @with_common
    @click.option("--lon", type=float, default=None, help="Where am I (longitude in --crs)")
    @click.option("--lat", type=float, default=None, help="Where am I (latitude in --crs)")
    @click.option("--crs", default="EPSG:4490", show_default=True)
    def cell(code: str, out: Path, png: Path | None, lang: str, basemap: str,
             lon: float | None, lat: float | None, crs: str) -> None:
        """A grid worker's map of one cell."""
        from maps.cell import build_cell_map

        here = (lon, lat) if lon is not None or lat is not None else None
        _write(build_cell_map, out, png, opts=_opts(lang, basemap), code=code, here=here,
               crs=crs)

    @map_group.command("coverage-cameras")
    @with_common
    @click.option("--unit", type=click.Choice(["cell", "community", "township"]),
                  default="cell", show_default=True)
    @click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
                  help="Period start (default: 92 days before the latest report)")
    @click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None)
    @click.option("-k", "k", type=click.IntRange(0, 50), default=10, show_default=True,
                  help="Recommended new camera sites (0 = none)")
    @click.option("--candidates", type=click.Choice(["both", "entrances", "lattice"]),
                  default="both", show_default=True)
    @click.option("--hotspots/--no-hotspots", default=True, show_default=True)
    def coverage_cameras(out: Path, png: Path | None, lang: str, basemap: str, unit: str,
                         start: dt.datetime | None, end: dt.datetime | None, k: int,
                         candidates: str, hotspots: bool) -> None:
        """Camera coverage per unit, gaps/overlaps, uncovered incidents, hot spots, new sites."""
        from maps.coverage import build_camera_coverage_map

        _write(build_camera_coverage_map, out, png, opts=_opts(lang, basemap, start, end),
               unit=unit, k=k, candidates=candidates, hotspots=hotspots)

    @map_group.command("coverage-property")
    @with_common
    @click.option("--unit", type=click.Choice(["community", "cell", "township"]),
                  default="community", show_default=True)
    def coverage_property(out: Path, png: Path | None, lang: str, basemap: str,
                          unit: str) -> None:
        """Property-management coverage per unit, unmanaged compounds highlighted."""
        from maps.coverage import build_property_coverage_map

        _write(build_property_coverage_map, out, png, opts=_opts(lang, basemap), unit=unit)
