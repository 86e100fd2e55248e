"""scripts/bench/load.py runs end to end: its own server process, a mixed load, zero errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT


def _free_http_port() -> int:
    for port in range(8190, 8200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8190-8199")


def test_load_script_reports_a_clean_mixed_run(demo_url: str) -> None:
    env = {**os.environ, "WANGGE_DATABASE_URL": demo_url}
    res = subprocess.run(
        [sys.executable, "scripts/bench/load.py", "--duration", "2", "--concurrency", "4",
         "--port", str(_free_http_port()), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["errors"] == 0 and report["requests"] > 10
    ops = report["operations"]
    assert ops["GET /cells/at"]["statuses"].get("200", 0) > 0
    assert ops["GET /health"]["requests"] > 0
    assert report["p99_ms"] >= report["p50_ms"] > 0
