#!/usr/bin/env python3
"""HTTP load: a mixed workload from a second process on 127.0.0.1, for a bounded time.

By default this script starts the app itself (uvicorn, one process, on port 8191, against
the configured database: ``WANGGE_DATABASE_URL`` or the local cluster with the demo loaded)
and drives it from this process with an asyncio/httpx load generator; ``--url`` drives an
already running server instead.

The mix (weights) is built from the server's own OpenAPI schema:

* ``GET /cells/at``: random points in Xing County (CGCS2000, and GCJ-02 / BD-09 as phones
  send them); 200 or 404 (a point in no cell) are correct answers
* ``GET /health``
* every other GET operation without required parameters (lists, summaries, layers ... that
  later work adds), 2xx/3xx/4xx accepted, never 5xx
* writes: ``POST /incidents`` (the command centre's intake) by default; another ``POST``
  operation with a ``--write-body`` JSON file can be given with ``--write PATH``.

The load runs as one logged-in user (``POST /auth/login``; default: the demo's command-centre
user, ``--user``/``--password`` for another). The server started here has the per-client rate
limits off (``WANGGE_RATE_*_PER_MIN=0``): all the load comes from one address and would
otherwise be throttled (429) by design.

An *error* is a 5xx, an unexpected status, a timeout or a connection failure. The report
gives throughput, p50/p99 per operation and errors, and the ratio of the lookup's p50 to
``/health``'s p50 (the anchor, measured in the same run). Exit status 1 if any error.

Usage (the project cluster of ``./scripts/run.sh``, ``WANGGE_PG_PORT`` default 54329, with the
demo loaded; its intakes stay in that database as cases)::

    .venv/bin/python scripts/bench/load.py --duration 20 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
XING_BBOX = (110.55, 38.10, 111.47, 38.72)
# /events is a long-lived stream (scripts/bench/live.py measures it), not a request.
SKIP_PATHS = {"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/events"}
# Planners' reports and exports take seconds each: not part of the interactive mix (--heavy).
HEAVY_PREFIXES = ("/analysis", "/maps/coverage", "/export", "/kpi")
# The command centre's writes: one intake per request (routing, deadlines, duplicates).
DEFAULT_WRITE = ("/incidents", {"category": "ebike_charging", "channel": "12345",
                                "lon": 111.1305, "lat": 38.4602,
                                "description": "负载测试 load test"})


@dataclass
class Op:
    name: str
    weight: float
    ok: set[int]
    method: str = "GET"
    body: Any = None
    path: str = ""

    def request(self, rnd: random.Random) -> tuple[str, str, dict[str, Any] | None, Any]:
        if self.name == "GET /cells/at":
            lon = rnd.uniform(XING_BBOX[0], XING_BBOX[2])
            lat = rnd.uniform(XING_BBOX[1], XING_BBOX[3])
            crs = rnd.choice(["EPSG:4490", "EPSG:4490", "EPSG:4490", "GCJ02", "BD09"])
            if crs != "EPSG:4490":
                from geo.crs.transforms import from_cgcs2000

                x, y = from_cgcs2000(lon, lat, crs)
                lon, lat = float(x), float(y)
            return "GET", "/cells/at", {"lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
                                        "crs": crs}, None
        return self.method, self.path, None, self.body


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, op: str, ms: float, status: int, error: str | None) -> None:
        self.latencies.setdefault(op, []).append(ms)
        st = self.statuses.setdefault(op, {})
        st[status] = st.get(status, 0) + 1
        if error:
            self.errors.setdefault(op, []).append(error)


def build_mix(schema: dict[str, Any], write: str | None, write_body: Any,
              heavy: bool = False) -> list[Op]:
    ops = []
    paths = schema.get("paths", {})
    if "/cells/at" in paths:
        ops.append(Op("GET /cells/at", 50, {200, 404}))
    if "/health" in paths:
        ops.append(Op("GET /health", 10, {200}, path="/health"))
    for path, item in sorted(paths.items()):
        if path in ("/cells/at", "/health") or path in SKIP_PATHS or "{" in path:
            continue
        if not heavy and path.startswith(HEAVY_PREFIXES):
            continue
        get = item.get("get")
        if get and not any(p.get("required") for p in get.get("parameters", [])):
            ops.append(Op(f"GET {path}", 5, set(range(200, 500)), path=path))
    if write is None and "post" in paths.get(DEFAULT_WRITE[0], {}):
        write, write_body = DEFAULT_WRITE
    if write:
        ops.append(Op(f"POST {write}", 10, {200, 201, 202, 409}, method="POST",
                      body=write_body, path=write))
    return ops


async def worker(client: httpx.AsyncClient, ops: list[Op], stats: Stats, until: float,
                 seed: int) -> None:
    rnd = random.Random(seed)
    weights = [o.weight for o in ops]
    while time.monotonic() < until:
        op = rnd.choices(ops, weights)[0]
        method, path, params, body = op.request(rnd)
        t = time.perf_counter()
        try:
            r = await client.request(method, path, params=params, json=body)
            ms = (time.perf_counter() - t) * 1000
            err = None if r.status_code in op.ok else f"{r.status_code}: {r.text[:200]}"
            stats.add(op.name, ms, r.status_code, err)
        except httpx.HTTPError as exc:
            stats.add(op.name, (time.perf_counter() - t) * 1000, 0, repr(exc))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def drive(url: str, duration: float, concurrency: int, write: str | None,
                write_body: Any, heavy: bool = False,
                login: tuple[str, str] | None = None) -> tuple[Stats, list[Op], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
        if login:
            r = await client.post("/auth/login",
                                  json={"username": login[0], "password": login[1]})
            if r.status_code != 200:
                raise SystemExit(f"login as {login[0]} failed: {r.status_code} {r.text[:200]}")
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            client.cookies.clear()
        schema = (await client.get("/openapi.json")).json()
        ops = build_mix(schema, write, write_body, heavy)
        warm = Stats()
        await asyncio.gather(*(worker(client, ops, warm, time.monotonic() + 1.0, 1000 + k)
                               for k in range(concurrency)))
        stats = Stats()
        t0 = time.monotonic()
        await asyncio.gather(*(worker(client, ops, stats, t0 + duration, k)
                               for k in range(concurrency)))
        elapsed = time.monotonic() - t0
    return stats, ops, elapsed


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANGGE_RATE_LOGIN_PER_MIN": "0",
           "WANGGE_RATE_EXPENSIVE_PER_MIN": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("server exited; is the database up and the demo loaded?")
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not answer /health within 60 s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--url", help="drive this running server (default: start one)")
    p.add_argument("--port", type=int, default=8191, help="port for the server started here")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--write", help="path of a POST operation to include in the mix")
    p.add_argument("--write-body", type=Path, help="JSON body for --write")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--user", default=None,
                   help="log in as this user (default: the demo command-centre user)")
    p.add_argument("--password", default=None, help="password of --user")
    p.add_argument("--anonymous", action="store_true", help="send no token (a viewer)")
    p.add_argument("--heavy", action="store_true",
                   help="also drive planners' reports, exports and KPIs (seconds each)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))

    body = json.loads(args.write_body.read_text()) if args.write_body else None
    login = None
    if not args.anonymous:
        from geo.demo.users import DEMO_USERS

        user, password = DEMO_USERS["command"][:2]
        login = (args.user or user, args.password or password)
    proc = None if args.url else start_server(args.port)
    url = args.url or f"http://127.0.0.1:{args.port}"
    try:
        stats, ops, elapsed = asyncio.run(drive(url, args.duration, args.concurrency,
                                                args.write, body, args.heavy, login))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)

    total = sum(len(v) for v in stats.latencies.values())
    n_err = sum(len(v) for v in stats.errors.values())
    all_ms = [x for v in stats.latencies.values() for x in v]
    report: dict[str, Any] = {
        "url": url, "concurrency": args.concurrency, "seconds": round(elapsed, 1),
        "requests": total, "throughput_rps": round(total / elapsed, 1), "errors": n_err,
        "p50_ms": round(pct(all_ms, 0.5), 2), "p99_ms": round(pct(all_ms, 0.99), 2),
        "operations": {},
    }
    for op in ops:
        lat = stats.latencies.get(op.name, [])
        report["operations"][op.name] = {
            "requests": len(lat), "p50_ms": round(pct(lat, 0.5), 2),
            "p99_ms": round(pct(lat, 0.99), 2), "statuses": stats.statuses.get(op.name, {}),
            "errors": len(stats.errors.get(op.name, [])),
            "first_errors": stats.errors.get(op.name, [])[:3],
        }
    anchor = report["operations"].get("GET /health", {}).get("p50_ms")
    look = report["operations"].get("GET /cells/at", {}).get("p50_ms")
    if anchor and look:
        report["lookup_p50_over_health_p50"] = round(look / anchor, 2)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"{url}  concurrency {args.concurrency}, {elapsed:.1f} s: {total} requests, "
              f"{report['throughput_rps']} req/s, p50 {report['p50_ms']} ms, "
              f"p99 {report['p99_ms']} ms, errors {n_err}")
        print("| operation | requests | p50 ms | p99 ms | statuses | errors |")
        print("| --- | ---: | ---: | ---: | --- | ---: |")
        for name, o in report["operations"].items():
            print(f"| {name} | {o['requests']} | {o['p50_ms']} | {o['p99_ms']} | "
                  f"{o['statuses']} | {o['errors']} |")
            for e in o["first_errors"]:
                print(f"    error: {e}")
        if "lookup_p50_over_health_p50" in report:
            print(f"lookup p50 / health p50 (anchor): {report['lookup_p50_over_health_p50']}x")
    return 1 if n_err else 0


if __name__ == "__main__":
    raise SystemExit(main())
