"""``wangge map ...``: write a map as a standalone HTML file (assets inlined), optionally a PNG.

    wangge map dispatch -o dispatch.html [--png dispatch.png] [--from D --to D]
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

import click

from api.settings import Settings
from geo.auth.principal import ANONYMOUS_COMMAND
from geo.errors import WanggeError

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


def _write(build: Callable[..., object], out: Path, png: Path | None, **kw: object) -> None:
    from geo.db.engine import get_engine
    from maps.frame import render_standalone

    s = Settings.from_env()
    t0 = time.perf_counter()
    try:
        with get_engine(s.database_url).connect() as conn:
            m = build(conn, ANONYMOUS_COMMAND, **kw)
    except WanggeError as exc:
        raise click.ClickException(exc.message) from exc
    html = render_standalone(m)  # type: ignore[arg-type]
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} ({len(html.encode()) / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s,"
               " standalone: opens offline)")
    if png is not None:
        blocked = snapshot(out, png)
        click.echo(f"wrote {png}" + (f" (blocked {len(blocked)} requests)" if blocked else ""))


def _opts(lang: str, basemap: str, start: dt.datetime | None = None,
          end: dt.datetime | None = None) -> object:
    from maps.frame import MapOptions

    s = Settings.from_env()
    return MapOptions(lang=lang, basemap=basemap, tianditu_key=s.tianditu_key,
                      region_code=s.default_region, start=start.date() if start else None,
                      end=end.date() if end else None)


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
    def dispatch(out: Path, png: Path | None, lang: str, basemap: str,
                 start: dt.datetime | None, end: dt.datetime | None) -> None:
        """The command centre's dispatch map."""
        from maps.dispatch import build_dispatch_map

        _write(build_dispatch_map, out, png, opts=_opts(lang, basemap, start, end))

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
