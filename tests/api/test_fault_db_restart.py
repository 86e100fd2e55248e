"""Fault: the database restarts under traffic.

A dedicated throwaway PostgreSQL cluster (its own data directory and port) holds a small demo;
the app runs in a real uvicorn subprocess; threads hammer it; the cluster is stopped with
``pg_ctl stop -m immediate`` (a crash, as far as clients can tell) and started again.
During the outage every answer must be 200 or 503 with ``Retry-After`` (never a 500, never a
trace); after the restart the service must answer 200 again by itself within seconds.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.localdb import PG_BIN
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
HTTP_PORTS = range(8190, 8200)
RECOVERY_LIMIT_S = 15.0


def _free_port(candidates: range | None = None) -> int:
    for port in candidates or range(0, 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in {candidates}")


def _as_pg(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Cluster:
    base: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.base / "data"

    def url(self, db: str = "wangge") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), *args]
        return subprocess.run(_as_pg(cmd), cwd="/", text=True, capture_output=True, check=False)

    def start(self) -> None:
        res = self.ctl("-l", str(self.base / "server.log"), "-w", "-t", "60", "-o",
                       f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1", "start")
        assert res.returncode == 0, res.stderr + (self.base / "server.log").read_text()

    def crash(self) -> None:
        res = self.ctl("-m", "immediate", "-w", "stop")
        assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster (initdb into a temp dir) with a migrated 500-incident demo."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not in {PG_BIN}")
    base = Path(tempfile.mkdtemp(prefix="wangge-fault-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    c = Cluster(base, _free_port())
    res = subprocess.run(
        _as_pg([str(PG_BIN / "initdb"), "-D", str(c.pgdata), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8"]),
        cwd="/", text=True, capture_output=True, check=False,
    )
    assert res.returncode == 0, res.stderr
    c.start()
    try:
        admin = create_engine(c.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "wangge"'))
        admin.dispose()
        engine = create_engine(c.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
        from geo.db.migrate import upgrade
        from geo.demo.county import load_demo

        engine = create_engine(c.url())
        upgrade(engine)
        load_demo(engine, n_incidents=500)
        engine.dispose()
        yield c
    finally:
        c.ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def running_app(cluster: Cluster, healthy: bool = True) -> Iterator[str]:
    """The app in a uvicorn subprocess on one of this issue's HTTP ports.

    ``healthy``: wait until /health answers 200; otherwise only until it answers at all.
    """
    port = _free_port(HTTP_PORTS)
    env = {**os.environ, "WANGGE_DATABASE_URL": cluster.url(), "PYTHONUNBUFFERED": "1"}
    log = open(cluster.base / "uvicorn.log", "a+", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = httpx.get(base + "/health", timeout=2).status_code
                if status == 200 or not healthy:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "uvicorn exited: " + _log_tail(cluster)
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[str]:
    with running_app(cluster) as base:
        yield base


def _log_tail(cluster: Cluster) -> str:
    path = cluster.base / "uvicorn.log"
    return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Answer:
    t: float
    path: str
    status: int  # 0: no HTTP answer at all (connection error, timeout)
    retry_after: str | None
    body: str


@dataclass
class Hammer:
    base: str
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    PATHS = ("/cells/at?lon=111.13&lat=38.46", "/health",
             "/cells/at?lon=111.1362&lat=38.4614&crs=GCJ02")

    def _run(self, k: int) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            i = k
            while not self.stop.is_set():
                path = self.PATHS[i % len(self.PATHS)]
                i += 1
                try:
                    r = client.get(path)
                    a = Answer(time.monotonic(), path, r.status_code,
                               r.headers.get("retry-after"), r.text[:500])
                except httpx.HTTPError as exc:
                    a = Answer(time.monotonic(), path, 0, None, repr(exc))
                with self._lock:
                    self.answers.append(a)

    def __enter__(self) -> Hammer:
        self._workers = [threading.Thread(target=self._run, args=(k,), daemon=True)
                         for k in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for w in self._workers:
            w.join(15)

    def between(self, t0: float, t1: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if t0 <= a.t < t1]


def test_database_restart_under_traffic(cluster: Cluster, server: str) -> None:
    with Hammer(server) as hammer:
        t_start = time.monotonic()
        time.sleep(1.5)
        t_crash = time.monotonic()
        cluster.crash()
        time.sleep(2.5)
        t_restart = time.monotonic()
        cluster.start()  # returns when the server accepts connections (after crash recovery)
        t_ready = time.monotonic()
        # Recovery: the first moment from which every answer is a 200, for 1 s, on all paths.
        deadline = t_ready + RECOVERY_LIMIT_S
        recovered_at = None
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = time.monotonic()
            recent = hammer.between(now - 1.0, now)
            if (len(recent) >= 6 and all(a.status == 200 for a in recent)
                    and {a.path for a in recent} == set(Hammer.PATHS)):
                recovered_at = now - 1.0
                break
        time.sleep(1.0)
        t_end = time.monotonic()

    before = hammer.between(t_start, t_crash)
    outage = hammer.between(t_crash, t_restart)
    after = hammer.between(t_restart, t_end)
    assert before and all(a.status == 200 for a in before), {a.status for a in before}

    # During the outage: only 200 (served before the crash hit) or 503 with Retry-After.
    statuses = {a.status for a in outage}
    assert statuses <= {200, 503}, (
        [a for a in outage if a.status not in (200, 503)][:3], _log_tail(cluster))
    unavailable = [a for a in outage if a.status == 503]
    assert len(unavailable) >= 10, f"the outage was not observed: {statuses}"
    for a in unavailable:
        assert a.retry_after and a.retry_after.isdigit(), a
        assert "Traceback" not in a.body and "psycopg" not in a.body, a.body
        assert "数据库" in a.body and "database" in a.body

    # After the restart: still nothing but 200/503, and back to 200 by itself, quickly.
    assert {a.status for a in after} <= {200, 503}, [a for a in after if a.status >= 500
                                                     and a.status != 503][:3]
    assert recovered_at is not None, (
        f"no recovery within {RECOVERY_LIMIT_S} s: "
        f"{[(a.path, a.status) for a in hammer.between(t_end - 1, t_end)][:10]}"
    )
    if os.environ.get("WANGGE_FAULT_DEBUG"):
        for k in range(int((t_end - t_restart) / 0.5) + 1):
            b = hammer.between(t_restart + k * 0.5, t_restart + (k + 1) * 0.5)
            ready = "ready" if t_restart + k * 0.5 >= t_ready else ""
            counts = {st: sum(1 for a in b if a.status == st) for st in {a.status for a in b}}
            print(f"+{k * 0.5:4.1f}s {ready} {counts}")
    tail = hammer.between(recovered_at, t_end)
    assert tail and all(a.status == 200 for a in tail)
    print(f"\nanswers: before {len(before)}, outage {len(outage)} "
          f"({len(unavailable)} x 503), after {len(after)}; "
          f"database back {t_ready - t_restart:.2f} s after pg_ctl start; service "
          f"recovered {recovered_at - t_ready:.2f} s after that")


def test_app_started_while_the_database_is_down(cluster: Cluster) -> None:
    """The app comes up without its database, says 503, and serves once the database is up."""
    cluster.crash()
    try:
        with running_app(cluster, healthy=False) as base:
            for path in ("/health", "/cells/at?lon=111.13&lat=38.46"):
                r = httpx.get(base + path, timeout=10)
                assert r.status_code == 503 and r.headers.get("retry-after"), (path, r.text)
                assert "Traceback" not in r.text
            cluster.start()
            t0 = time.monotonic()
            statuses: list[int] = []
            while time.monotonic() - t0 < RECOVERY_LIMIT_S:
                r = httpx.get(base + "/cells/at?lon=111.13&lat=38.46", timeout=10)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    break
                time.sleep(0.2)
            assert statuses[-1] == 200, statuses
            assert set(statuses) <= {200, 503}, statuses
    finally:
        if cluster.ctl("status").returncode != 0:
            cluster.start()
