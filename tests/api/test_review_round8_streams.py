"""Outside review, round 8: M1 (``/events`` replayed into a closed connection), L2 (an
``Idempotency-Key`` reused with another body answered the first case) and L8 (an attachment's
path-like file name kept and sent back).

M1 runs the app under uvicorn in a thread of this process (the server's log is caught by
``caplog``; its event hub is read for the rows the replays sent) and leaves each stream from
a client in another process that closes after the first bytes, as ``curl | head -c 200`` did.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

import api.main
from api.main import create_app
from geo.notify.events import REPLAY_MAX
from tests.api.test_auth_cache import db  # noqa: F401 - a demo database of the test's own
from tests.conftest import demo_worker_spot, make_settings, serve_in_thread

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

# Opens GET /events?last_event_id=0 N times; each time reads the first 200 bytes and leaves
# (a reset, as a closed pipe makes curl do). Small receive buffer: the server cannot push the
# whole replay into the kernel before the client leaves.
LEAVER = r"""
import socket, struct, sys
host, port, token, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.sendall(("GET /events?last_event_id=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + token + "\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 200:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got.startswith(b"HTTP/1.1 200"), got[:200]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
"""


@pytest.fixture()
def served(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch  # noqa: F811
           ) -> Iterator[Any]:
    """``serve(**settings)``: the app served in a thread; yields ``(base URL, app)``."""
    url, _ = db
    apps: list[Any] = []

    def keep(settings: Any) -> Any:
        app = create_app(settings)
        apps.append(app)
        return app

    monkeypatch.setattr(api.main, "create_app", keep)

    from contextlib import ExitStack
    with ExitStack() as stack:
        def serve(**overrides: Any) -> tuple[str, Any]:
            base = stack.enter_context(serve_in_thread(
                make_settings(url, demo_open=False, **overrides)))
            return base, apps[-1]
        yield serve


def _command_token(role_headers: dict[str, dict[str, str]]) -> str:
    return role_headers["command"]["Authorization"].split(" ", 1)[1]


# ------------------------------------------------------------------------------------- M1

def test_m1_a_client_that_leaves_stops_the_replay_and_logs_nothing(
        served: Any, role_headers: dict[str, dict[str, str]],
        caplog: pytest.LogCaptureFixture) -> None:
    base, app = served(rate_expensive_per_min=0, events_max_per_user=100)
    hub = app.state.events_hub
    token = _command_token(role_headers)
    # positive control: a client that stays gets the whole replay, counted by the hub
    with httpx.Client(timeout=30) as http:
        r = http.get(f"{base}/events", params={"last_event_id": "0", "max_s": "0.5"},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.text.count("event: incident\n") == REPLAY_MAX == hub.replayed
    assert "event: reset" in r.text  # the demo holds more than a replay
    caplog.clear()
    n = 20
    host, port = base.removeprefix("http://").split(":")
    with caplog.at_level("WARNING"):
        subprocess.run([sys.executable, "-c", LEAVER, host, port, token, str(n)],
                       check=True, timeout=120)
        end = time.monotonic() + 10
        while hub.streams and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.3)
    assert not hub.streams, "streams of gone clients still open"
    flood = [r for r in caplog.records if "socket.send() raised" in r.getMessage()]
    assert len(flood) <= n, f"{len(flood)} 'socket.send() raised exception.' lines for {n} " \
                            "clients that left"
    sent = hub.replayed - REPLAY_MAX
    print(f"M1: {n} clients left: {len(flood)} log lines, {sent} replayed rows sent "
          f"(a client that stays: {REPLAY_MAX})")
    # each gone client got at most the first few writes of its replay, not REPLAY_MAX rows
    assert sent <= n * 4 * 50, f"{sent} replayed rows sent to {n} clients that left"


def test_m1_opening_streams_counts_against_the_callers_budget(
        served: Any, role_headers: dict[str, dict[str, str]]) -> None:
    budget = 4
    base, _ = served(rate_expensive_per_min=budget, events_max_per_user=100)
    token = _command_token(role_headers)
    # the same caller however the header is spelled: one bucket (keyed on the principal)
    spellings = ["Bearer", "bearer", "BEARER", "Bearer"]
    with httpx.Client(timeout=30) as http:
        for word in spellings[:budget]:
            r = http.get(f"{base}/events", params={"max_s": "0.1"},
                         headers={"Authorization": f"{word} {token}"})
            assert r.status_code == 200, r.text
        r = http.get(f"{base}/events", params={"last_event_id": "0", "max_s": "0.1"},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert "请求过于频繁" in r.json()["detail"]


# ----------------------------------------------------------------------------- L2 and L8

@pytest.fixture()
def client(db: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory  # noqa: F811
           ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    url, engine = db
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
    data_dir = tmp_path_factory.mktemp("wangge_r8_data")
    with TestClient(create_app(make_settings(url, demo_open=False, data_dir=data_dir))) as c:
        yield c, {"x": x, "y": y, "engine": engine, "store": data_dir / "attachments"}


def _report(s: dict[str, Any], description: str, **kw: Any) -> dict[str, Any]:
    return {"category": "water", "description": description, "lon": s["x"], "lat": s["y"],
            **kw}


def test_l2_a_key_reused_with_another_body_is_refused(
        client: tuple[TestClient, dict[str, Any]],
        role_headers: dict[str, dict[str, str]]) -> None:
    c, s = client
    h = {**role_headers["worker"], "Idempotency-Key": "r8-case1-key"}
    first = c.post("/incidents", json=_report(s, "井盖缺失 r8"), headers=h)
    assert first.status_code == 201, first.text
    again = c.post("/incidents", json=_report(s, "井盖缺失 r8"), headers=h)
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["code"] == first.json()["code"]
    other = c.post("/incidents", json=_report(s, "另一个事件 r8"), headers=h)
    assert other.status_code == 422, other.text
    assert other.json()["detail"].startswith("Idempotency-Key 已用于另一个请求")
    assert "was used with a different request" in other.json()["detail"]
    assert "idempotent-replayed" not in other.headers
    # another query on the same path is another request too
    q = c.post("/incidents", params={"crs": "EPSG:4326"}, json=_report(s, "井盖缺失 r8"),
               headers=h)
    assert q.status_code == 422, q.text
    with s["engine"].connect() as conn:
        made = conn.execute(text("SELECT count(*) FROM incident WHERE description IN "
                                 "('井盖缺失 r8', '另一个事件 r8')")).scalar_one()
    assert made == 1
    # the kept fingerprint is no header of the replayed answer
    assert not any(k.startswith(":") for k in again.headers)


def test_l8_a_photo_keeps_its_base_name_only(
        client: tuple[TestClient, dict[str, Any]],
        role_headers: dict[str, dict[str, str]]) -> None:
    c, s = client
    names = ["../../../etc/x.png", "..\\..\\windows\\y.png", "a\u202egnp.png", ".."]
    photos = [{"filename": n, "content_base64": base64.b64encode(PNG + bytes([i])).decode()}
              for i, n in enumerate(names)]
    r = c.post("/incidents", json=_report(s, "照片 r8", photos=photos),
               headers=role_headers["worker"])
    assert r.status_code == 201, r.text
    inc = r.json()
    kept = [a["filename"] for a in inc["attachments"]]
    assert kept == ["x.png", "y.png", "a_gnp.png", None], kept
    with s["engine"].connect() as conn:
        stored = conn.execute(text(
            "SELECT filename FROM incident_attachment WHERE incident_id = :i ORDER BY id"),
            {"i": inc["id"]}).scalars().all()
    assert stored == kept
    first = inc["attachments"][0]["id"]
    got = c.get(f"/incidents/{inc['code']}/attachments/{first}",
                headers=role_headers["worker"])
    assert got.status_code == 200, got.text
    disposition = got.headers["content-disposition"]
    assert "filename*=UTF-8''x.png" in disposition and "%2F" not in disposition, disposition
    # a name kept raw before the fix is sent back cleaned
    with s["engine"].begin() as conn:
        conn.execute(text("UPDATE incident_attachment SET filename = '../../../etc/z.png' "
                          "WHERE id = :a"), {"a": first})
    got = c.get(f"/incidents/{inc['code']}/attachments/{first}",
                headers=role_headers["worker"])
    assert "filename*=UTF-8''z.png" in got.headers["content-disposition"]
    files = [p for p in Path(s["store"]).rglob("*") if p.is_file()]
    assert files and all(Path(s["store"]) in p.parents for p in files)
