"""Notifications (issue 18, item 6): the outbox written with the case change, the delivery
worker (HMAC, kill -9 mid-batch, retries with backoff and a dead state, the case flow never
blocked), the time-driven scan (overdue, escalation once), the 12345 write-back and the 回访
(callback) with its satisfaction rate in /kpi. On a database of the test's own."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.cli.notify import stub_server
from geo.auth.principal import ANONYMOUS_COMMAND
from geo.incidents import cases
from geo.notify.deliver import DeliveryConfig, deliver_one, sign, sms_text, verify
from geo.notify.rules import enqueue, scan
from tests.conftest import own_demo_client

ROOT = Path(__file__).resolve().parents[3]
SECRET = "w" * 48
Env = tuple[Any, dict[str, Any]]


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str,
        role_headers: dict[str, dict[str, str]]) -> Iterator[Env]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        yield client, {**s, "h": role_headers}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _case(env: Env, channel: str = "12345", to: tuple[str, ...] = ()) -> dict[str, Any]:
    client, s = env
    r = client.post("/incidents", headers=s["h"]["command"], json={
        "category": "fire_lane_blocked", "lon": s["x"], "lat": s["y"], "channel": channel,
        "description": "消防通道堵塞"})
    assert r.status_code == 201, r.text
    case = r.json()
    for step in to:
        r = client.post(f"/incidents/{case['code']}/transition", headers=s["h"]["command"],
                        json={"to": step})
        assert r.status_code == 200, r.text
        case = r.json()
    return case  # type: ignore[no-any-return]


def _rows(engine: Engine, incident_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT o.*, (SELECT e.to_status FROM incident_event e WHERE e.id = o.event_id) "
            "AS event_to FROM outbox o WHERE incident_id = :i ORDER BY id"),
            {"i": incident_id}).mappings()]


def test_dispatch_tells_worker_and_department_in_the_same_transaction(env: Env) -> None:
    client, s = env
    engine = s["engine"]
    case = _case(env, channel="patrol", to=("registered", "dispatched"))
    rows = [r for r in _rows(engine, case["id"]) if r["rule"] == "dispatch"]
    assert {(r["channel"], r["recipient"]) for r in rows} == {
        ("sms", f"worker:{case['worker_id']}"),
        ("webhook", f"department:{case['department_code']}")}
    assert all(r["event_to"] == "dispatched" and r["state"] == "pending" for r in rows)
    assert rows[0]["payload"]["category_name"] == "占用消防通道"
    assert len({r["message_id"] for r in rows}) == 2
    # SMS text from the template, in Chinese
    text_ = sms_text(DeliveryConfig(secret=SECRET).sms_template, rows[0]["payload"])
    assert text_.startswith("【兴县网格】事件" + case["code"] + "（占用消防通道）已派发给您，请于")
    # a rolled-back dispatch leaves no message (and no event)
    other = _case(env, channel="patrol", to=("registered",))
    with engine.connect() as conn:
        conn.begin()
        cases.transition(conn, other["id"], "dispatched", ANONYMOUS_COMMAND)
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE incident_id = :i"),
                            {"i": other["id"]}).scalar_one() == 2
        conn.rollback()
    assert _rows(engine, other["id"]) == []


def test_hotline_write_back_rework_and_callback(env: Env) -> None:
    client, s = env
    engine = s["engine"]
    case = _case(env, to=("registered", "dispatched", "handled", "rework", "handled",
                          "verified", "closed"))
    rows = _rows(engine, case["id"])
    assert [r["recipient"] for r in rows if r["rule"] == "rework"] == ["command"]
    hot = [r for r in rows if r["rule"] == "hotline"]
    # every status change of a 12345 case goes back, the closing one with its result
    assert [r["event_to"] for r in hot] == ["registered", "dispatched", "handled",
                                            "rework", "handled", "verified", "closed"]
    assert hot[-1]["payload"]["result"]["on_time"] is True
    assert hot[-1]["payload"]["status_name"] == "已结案"
    # 回访: command only, version-checked, once; written back; in /kpi
    url = f"/incidents/{case['code']}/callback"
    assert client.post(url, json={"satisfaction": "satisfied"},
                       headers=s["h"]["worker"]).status_code == 403
    assert client.post(url, json={"satisfaction": "satisfied", "version": 1},
                       headers=s["h"]["command"]).status_code == 409
    r = client.post(url, json={"satisfaction": "basically_satisfied", "note": "还行"},
                    headers={**s["h"]["command"], "If-Match": f'"{case["version"]}"'})
    assert r.status_code == 200, r.text
    assert r.json()["events"][-1]["kind"] == "callback"
    assert client.post(url, json={"satisfaction": "satisfied"},
                       headers=s["h"]["command"]).status_code == 409
    last = _rows(engine, case["id"])[-1]
    assert last["rule"] == "hotline" and last["payload"]["callback"] == {
        "satisfaction": "basically_satisfied", "satisfaction_name": "基本满意"}
    open_case = _case(env)
    assert client.post(f"/incidents/{open_case['code']}/callback",
                       json={"satisfaction": "satisfied"},
                       headers=s["h"]["command"]).status_code == 409
    today = dt.date.today()
    k = client.get("/kpi", params={"from": str(today - dt.timedelta(days=2)),
                                   "to": str(today + dt.timedelta(days=2))},
                   headers=s["h"]["command"]).json()
    total = k["total"]
    assert total["called_back"] == 1 and total["satisfied"] == 1
    assert total["satisfaction_rate"] == 1.0 and k["metrics_zh"]["satisfaction_rate"] == "满意率"


def test_scan_enqueues_overdue_and_escalation_once(env: Env) -> None:
    _client, s = env
    engine = s["engine"]
    case = _case(env, channel="patrol", to=("registered", "dispatched"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE incident SET due_at = now() - interval '30 hours' "
                          "WHERE id = :i"), {"i": case["id"]})
        first = scan(conn, dt.datetime.now(dt.UTC), escalate_after_h=24)
    with engine.begin() as conn:
        second = scan(conn, dt.datetime.now(dt.UTC), escalate_after_h=24)
    assert first["overdue"] >= 1 and first["escalation"] >= 1
    assert second == {"overdue": 0, "escalation": 0}
    rows = [r for r in _rows(engine, case["id"]) if r["rule"] in ("overdue", "escalation")]
    assert sorted((r["rule"], r["recipient"]) for r in rows) == [
        ("escalation", f"township:{case['township_code']}"), ("overdue", "command")]


def _fill(engine: Engine, incident_id: int, n: int) -> list[str]:
    with engine.begin() as conn:
        case = dict(conn.execute(text(
            "SELECT i.*, NULL AS source_ref, 'x' AS category_name, NULL AS department_name, "
            "NULL AS township_name, '兴县' AS county_name FROM incident i WHERE id = :i"),
            {"i": incident_id}).mappings().one())
        conn.execute(text("UPDATE outbox SET state = 'skipped' WHERE state = 'pending'"))
        for k in range(n):
            enqueue(conn, case, "test", "webhook", "command", {"k": k})
        return [m for (m,) in conn.execute(text(
            "SELECT message_id FROM outbox WHERE state = 'pending' ORDER BY id"))]


class Slow:
    """A stub receiver (signature checked) in a thread, slowed down by ``delay`` seconds."""

    def __init__(self, log: Path, delay: float = 0.0, fail: int = 0) -> None:
        self.port = _port()
        self.server = stub_server(self.port, SECRET, log, fail)
        handler = self.server.RequestHandlerClass
        original = handler.do_POST  # type: ignore[attr-defined]

        def slow(h: Any) -> None:
            time.sleep(delay)
            original(h)
        handler.do_POST = slow  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _worker(url: str, webhook: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WANGGE_DATABASE_URL": url, "WANGGE_WEBHOOK_URL": webhook,
           "WANGGE_WEBHOOK_SECRET": SECRET, "WANGGE_SECRET_KEY": "s" * 48}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "notify", "run", "--poll", "0.1",
                             "--scan-every", "3600"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_the_worker_mid_batch_every_message_once(env: Env, tmp_path: Path) -> None:
    _client, s = env
    engine = s["engine"]
    case = _case(env, channel="patrol")
    ids = _fill(engine, case["id"], 40)
    log = tmp_path / "received.jsonl"
    receiver = Slow(log, delay=0.05)
    url = engine.url.render_as_string(hide_password=False)
    try:
        proc = _worker(url, receiver.url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 10:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch
        proc.wait()
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM outbox WHERE state = 'pending'")
                                ).scalar_one()
        assert 0 < left < 40
        proc = _worker(url, receiver.url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.execute(text("SELECT count(*) FROM outbox WHERE state = 'pending'")
                                    ).scalar_one():
                    break
            time.sleep(0.1)
        proc.terminate()
        proc.wait(timeout=10)
    finally:
        receiver.close()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    counted = [m["message_id"] for m in lines if not m["duplicate"]]
    assert sorted(counted) == sorted(ids)  # each message counted exactly once
    assert len(lines) - len(counted) <= 1  # at most the one in flight when killed came twice
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE message_id = ANY(:m) AND "
                                 "state = 'delivered'"), {"m": ids}).scalar_one() == 40
    # signed with the installation's webhook secret (the receiver refused anything else)
    body = json.dumps(lines[0]["body"], ensure_ascii=False).encode()
    assert verify(SECRET, body, sign(SECRET, body)) and not verify("x" * 48, body,
                                                                   sign(SECRET, body))


def test_failing_receiver_retries_with_backoff_then_dead(env: Env, tmp_path: Path) -> None:
    client, s = env
    engine = s["engine"]
    case = _case(env, channel="patrol", to=("registered",))
    [mid] = _fill(engine, case["id"], 1)
    receiver = Slow(tmp_path / "r.jsonl", delay=1.5, fail=1)
    cfg = DeliveryConfig(secret=SECRET, webhook_url=receiver.url, backoff_s=0.3,
                         max_attempts=3)
    try:
        delays, states = [], []
        # while the worker waits on the failing receiver (row locked), the case flow goes on
        t = threading.Thread(target=lambda: states.append(deliver_one(engine, cfg)))
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        r = client.post(f"/incidents/{case['code']}/transition", headers=s["h"]["command"],
                        json={"to": "dispatched"})
        assert r.status_code == 200 and time.monotonic() - t0 < 1.0
        t.join()
        with engine.begin() as conn:  # the dispatch's own messages are not this test's
            conn.execute(text("UPDATE outbox SET state = 'skipped' WHERE state = 'pending' "
                              "AND message_id <> :m"), {"m": mid})
        for _ in range(2):
            with engine.connect() as conn:
                gap = conn.execute(text("SELECT extract(epoch FROM next_at - now()) FROM outbox "
                                        "WHERE message_id = :m"), {"m": mid}).scalar_one()
            delays.append(float(gap))
            assert deliver_one(engine, cfg) is None  # not due yet
            time.sleep(max(float(gap), 0) + 0.05)
            states.append(deliver_one(engine, cfg))
    finally:
        receiver.close()
    assert states == ["retry", "retry", "dead"]
    assert 0.1 < delays[0] < 0.3 < delays[1] < 0.6  # 0.3 s, then 0.6 s (less the time spent)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT state, attempts, last_error FROM outbox WHERE "
                                "message_id = :m"), {"m": mid}).one()
    assert row.state == "dead" and row.attempts == 3 and "500" in row.last_error
