"""Benchmark: where the monthly report's time goes, as ratios to the ``/kpi`` call it is built
from (the anchor, measured in the same run).

Each step of ``GET /reports/monthly`` runs ``--repeat`` times in one warm process (imports and
the first call's caches paid once, before timing: a server pays them once too); the median of
each is printed with its ratio to the anchor:

* ``anchor: kpi``: :func:`geo.incidents.kpi.kpi` of the county for the month by township
  (what ``/kpi?from=..&to=..`` answers);
* ``figures``: :func:`reports.monthly.monthly_report` (every KPI, the analyses: cameras,
  property, hot spots, new camera sites);
* ``  hotspots``, ``  camera_sites``: the two costliest analyses inside it, alone;
* ``html``: :func:`reports.render.monthly_html` (charts and the two map pictures,
  matplotlib), of which ``  map_pictures`` alone;
* ``xlsx``: :func:`reports.render.monthly_xlsx`;
* ``pdf``: :func:`reports.render.html_to_pdf` (headless Chromium prints the HTML).

Usage::

    WANGGE_DATABASE_URL=postgresql://postgres@127.0.0.1:54329/wangge \\
        .venv/bin/python scripts/bench/report.py [--region 141123] [--month 2026-10] \\
        [--repeat 3] [--no-pdf]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.settings import Settings  # noqa: E402
from geo.auth.principal import Principal  # noqa: E402


def _median(f: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--region", default="141123")
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-pdf", action="store_true", help="skip the Chromium print")
    args = ap.parse_args()

    from geo.analysis.sites import camera_sites
    from geo.analysis.spots import hotspots
    from geo.incidents.kpi import kpi
    from geo.periods import Period, add_months
    from reports.monthly import HOTSPOT_PERMUTATIONS, SITES, monthly_report, parse_month
    from reports.render import html_to_pdf, map_pictures, monthly_html, monthly_xlsx

    engine = create_engine(Settings.from_env().database_url)
    reader = Principal(user="bench", role="command")
    first = parse_month(args.month)
    after = add_months(first, 1)
    last_day = after - dt.timedelta(days=1)
    period = Period.from_dates(first, last_day)
    with engine.connect() as conn:
        report = monthly_report(conn, reader, args.region, args.month)  # warm: imports, caches
        html = monthly_html(conn, reader, report)
        as_of = dt.datetime.fromisoformat(report["inputs"]["as_of"])
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("anchor: kpi", lambda: kpi(conn, reader, args.region, first, after, "township",
                                        as_of)),
            ("figures", lambda: monthly_report(conn, reader, args.region, args.month)),
            ("  hotspots", lambda: hotspots(conn, reader, args.region, period,
                                            permutations=HOTSPOT_PERMUTATIONS,
                                            by_category=False, at=last_day)),
            ("  camera_sites", lambda: camera_sites(conn, reader, args.region, SITES, period,
                                                    at=last_day)),
            ("html", lambda: monthly_html(conn, reader, report)),
            ("  map_pictures", lambda: map_pictures(conn, reader, report)),
            ("xlsx", lambda: monthly_xlsx(report)),
        ]
        if not args.no_pdf:
            steps.append(("pdf", lambda: html_to_pdf(html)))
        out = [(name, _median(f, args.repeat)) for name, f in steps]
    anchor = out[0][1]
    print(f"monthly report {args.region} {args.month}, median of {args.repeat}, warm process")
    for name, sec in out:
        print(f"{name:<16} {sec * 1000:9.0f} ms   {sec / anchor:6.1f} x kpi")
    return 0


if __name__ == "__main__":
    sys.exit(main())
