"""Benchmark the live event stream (GET /events) with 50 connected screens.

    .venv/bin/python scripts/bench/live.py [--clients 50] [--burst 2000] [--writers 8]
                                           [--rate 20 --seconds 5]

Against the database of ``WANGGE_DATABASE_URL`` (default: the project-local demo; the demo
must be loaded). It starts the app with uvicorn in a process of its own, logs in as the demo
command user, opens ``--clients`` event streams (httpx, asyncio) and, side by side, the anchor:
a raw asyncpg ``LISTEN wangge_events`` connection (what PostgreSQL itself delivers, no app).
Then it writes case events on one demo incident (kind ``note``, each in its own transaction,
through :func:`geo.incidents.cases.add_event`, the one place events are written) and measures:

- **latency**: ``--rate`` events a second for ``--seconds``: time from the commit returning to
  the event arriving, at the anchor and at every stream (median, 95th percentile, max);
- **throughput**: ``--burst`` events committed as fast as ``--writers`` threads can (each
  event its own transaction; the writers' commit rate is the anchor): events per second
  delivered to every one of the clients (burst size / time from the first commit until the
  last client has the last event).

The events it wrote are deleted at the end (the incident's history is as before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.lifespan import asyncpg_dsn  # noqa: E402
from api.settings import Settings  # noqa: E402
from geo import localtime  # noqa: E402
from geo.db.engine import get_engine  # noqa: E402
from geo.demo.users import DEMO_USERS  # noqa: E402
from geo.incidents.cases import add_event  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def _fmt(name: str, xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return (f"{name:<28} n={len(ms):6d}  median {statistics.median(ms):7.1f} ms  "
            f"p95 {_pct(ms, 0.95):7.1f} ms  max {max(ms):7.1f} ms")


async def _client(base: str, token: str, got: dict[int, float], ready: asyncio.Event,
                  stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http:
        async with http.stream("GET", f"{base}/events",
                               headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200, r.status_code
            ready.set()
            async for line in r.aiter_lines():
                if line.startswith("id: "):  # the position "<event id>:<alert id>"
                    got[int(line[4:].split(":")[0])] = time.perf_counter()
                if stop.is_set():
                    break


async def _anchor(dsn: str, got: dict[int, float], ready: asyncio.Event,
                  stop: asyncio.Event) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    await conn.add_listener("wangge_events", lambda _c, _p, _ch, payload: got.__setitem__(
        int(payload), time.perf_counter()))
    ready.set()
    await stop.wait()
    await conn.close()


def _write(engine: object, incident: dict[str, object], n: int, rate: float | None,
           committed: dict[int, float]) -> None:
    for _ in range(n):
        t = time.perf_counter()
        with engine.begin() as conn:  # type: ignore[attr-defined]
            eid = add_event(conn, incident, "note", "bench", localtime.now(), "bench live")
        committed[eid] = time.perf_counter()
        if rate:
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - t)))


async def run(clients: int, burst: int, rate: float, seconds: float, writers: int) -> None:
    settings = Settings.from_env()
    engine = get_engine(settings.database_url)
    with engine.connect() as conn:
        incident = dict(conn.execute(text(
            "SELECT id, region_code FROM incident WHERE cell_code IS NOT NULL ORDER BY id "
            "LIMIT 1")).mappings().one())
    port = _port()
    env = {**os.environ, "WANGGE_EVENTS_MAX_PER_USER": str(clients + 5),
           "WANGGE_RATE_LOGIN_PER_MIN": "0", "WANGGE_RATE_EXPENSIVE_PER_MIN": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    committed: dict[int, float] = {}
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        user, password, _ = DEMO_USERS["command"]
        token = httpx.post(f"{base}/auth/login", json={"username": user, "password": password}
                           ).json()["access_token"]
        stop = asyncio.Event()
        streams: list[dict[int, float]] = [{} for _ in range(clients)]
        anchor: dict[int, float] = {}
        readies = [asyncio.Event() for _ in range(clients + 1)]
        tasks = [asyncio.create_task(_client(base, token, g, e, stop))
                 for g, e in zip(streams, readies, strict=False)]
        tasks.append(asyncio.create_task(_anchor(asyncpg_dsn(settings.database_url), anchor,
                                                 readies[-1], stop)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 30)
        await asyncio.sleep(1.0)
        print(f"{clients} streams + anchor connected; incident {incident['id']}")

        # latency at a steady rate
        n = int(rate * seconds)
        before = set(committed)
        await asyncio.to_thread(_write, engine, incident, n, rate, committed)
        await asyncio.sleep(2.0)
        ids = [i for i in committed if i not in before]
        print(f"latency, {n} events at {rate:g}/s (commit returned -> event received):")
        print("  " + _fmt("anchor (asyncpg LISTEN)", [anchor[i] - committed[i]
                                                     for i in ids if i in anchor]))
        lat = [s[i] - committed[i] for s in streams for i in ids if i in s]
        print("  " + _fmt(f"GET /events x{clients}", lat))
        missing = sum(1 for s in streams for i in ids if i not in s)
        print(f"  missing at streams: {missing}")

        # throughput: a burst
        before = set(committed)
        t0 = time.perf_counter()
        per = burst // writers
        await asyncio.gather(*(asyncio.to_thread(_write, engine, incident, per, None, committed)
                               for _ in range(writers)))
        burst = per * writers
        t_write = time.perf_counter() - t0
        ids = [i for i in committed if i not in before]
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and not all(
                all(i in s for i in ids) for s in streams):
            await asyncio.sleep(0.1)
        last = max((s[i] for s in streams for i in ids if i in s), default=float("nan"))
        got = sum(1 for s in streams for i in ids if i in s)
        anchor_last = max((anchor[i] for i in ids if i in anchor), default=float("nan"))
        print(f"throughput, burst of {burst} events ({writers} writers, one commit each):")
        print(f"  writer commits: {burst / t_write:8.1f} events/s")
        print(f"  anchor received all: {burst / (anchor_last - t0):8.1f} events/s")
        print(f"  every one of {clients} streams received all: {burst / (last - t0):8.1f} "
              f"events/s ({got} of {burst * clients} deliveries, "
              f"{got / (last - t0):,.0f} messages/s in total)")
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM incident_event WHERE id = ANY(:ids)"),
                         {"ids": list(committed)})
        print(json.dumps({"events_written_and_deleted": len(committed)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--burst", type=int, default=2000)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--writers", type=int, default=8, help="parallel writers of the burst")
    a = p.parse_args()
    asyncio.run(run(a.clients, a.burst, a.rate, a.seconds, a.writers))


if __name__ == "__main__":
    main()
