"""Dispatch speed against an anchor measured in the same run (no absolute timings asserted).

Anchor: ``GET /cells/at`` (one point lookup). Measured: ``POST /incidents`` (intake with full
routing, one transaction), ``GET /board``, ``GET /kpi`` over the whole demo (20,000 cases),
``GET /incidents/overdue``. Prints each as a ratio to the anchor.

Every call is made as the demo command user (``demo-command``, logged in with
``POST /auth/login``; the anchor too, so both pay the same login overhead).

Run against a database holding the demo (``wangge demo load``, done by ``./scripts/run.sh``);
it adds incidents, so use a scratch database
(``WANGGE_DATABASE_URL=postgresql://.../scratch``, a copy of the demo), e.g.
``.venv/bin/python scripts/bench/bench_dispatch.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# the project first: run as a script, scripts/bench/ is sys.path[0] and its maps.py would
# shadow the maps package
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fastapi.testclient import TestClient  # noqa: E402

from api.main import create_app  # noqa: E402
from geo.demo.users import DEMO_USERS  # noqa: E402


def timed(fn: Callable[[], object], n: int) -> float:
    """Median seconds of ``n`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def ok(r: object) -> None:
    """A timed call that failed is no figure."""
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]


def main() -> None:
    """Measure and print ratios."""
    with TestClient(create_app()) as c:
        username, password, _ = DEMO_USERS["command"]
        r = c.post("/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        c.cookies.clear()

        def anchor() -> None:
            assert c.get("/cells/at", params={"lon": 111.13, "lat": 38.46}).status_code == 200

        def intake() -> None:
            r = c.post("/incidents", json={"category": "ebike_charging", "channel": "12345",
                                           "lon": 111.13, "lat": 38.46,
                                           "reported_at": "2026-10-30T10:00:00+08:00"})
            assert r.status_code == 201, r.text

        base = timed(anchor, 30)
        rows = [("GET /cells/at (anchor)", base), ("POST /incidents", timed(intake, 30)),
                ("GET /incidents/overdue", timed(lambda: ok(c.get("/incidents/overdue")), 5)),
                ("GET /board", timed(lambda: ok(c.get("/board")), 5)),
                ("GET /kpi (20k cases, township)", timed(
                    lambda: ok(c.get("/kpi", params={"from": "2025-01-01",
                                                    "to": "2026-11-01"})), 3))]
    for name, sec in rows:
        print(f"{name:34s} {sec * 1000:9.1f} ms  {sec / base:7.1f} x anchor")


if __name__ == "__main__":
    main()
