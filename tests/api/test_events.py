"""GET /events (issue 18, item 1): live case events over SSE, fed by LISTEN/NOTIFY, scoped to
the caller like GET /incidents, resumable with Last-Event-ID, across two app processes.

Two real uvicorn processes on a database of the test's own; streams read with httpx.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.api.test_auth_cache import _bearer, _login, app_process, db  # noqa: F401
from tests.conftest import demo_worker_spot


class Reader:
    """An SSE stream read in a thread: messages ({id, event, data}) into a queue."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status: int | None = None
        self.last_id: str | None = None
        self.opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5.0, read=None))
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "stream did not open"

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                self.status = r.status_code
                self.opened.set()
                msg: dict[str, Any] = {}
                for line in r.iter_lines():
                    if line == "":
                        if "id" in msg:  # as EventSource's lastEventId, also without data
                            self.last_id = msg["id"]
                        if "data" in msg or "event" in msg:
                            if "data" in msg:
                                msg["data"] = json.loads(msg["data"])
                            self.messages.put(msg)
                        msg = {}
                    elif line.startswith(":"):
                        continue
                    else:
                        key, _, value = line.partition(": ")
                        msg[key] = value
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self.opened.set()

    def until(self, check: Any, seconds: float = 2.0) -> dict[str, Any]:
        """The first message for which ``check`` holds, within ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            assert left > 0, "no such event in time"
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no such event in time") from None
            if check(m):
                return m

    def drain(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        out = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self._client.close()


def _event_id(m: dict[str, Any]) -> int:
    """The case event id of a message's position ``<event id>:<alert id>``."""
    return int(m["id"].split(":")[0])


def _other_cell_point(conn: Any, cell: str) -> tuple[float, float]:
    x, y = conn.execute(text(
        "SELECT ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom)) FROM grid_cell "
        "c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
        "WHERE c.code <> :c AND c.kind = 'basic' AND NOT ST_Intersects(c.geom, "
        "(SELECT geom FROM grid_cell g WHERE g.code = :c AND g.boundary_set_id = b.id)) "
        "ORDER BY c.code LIMIT 1"), {"c": cell}).one()
    return float(x), float(y)


def _report(http: httpx.Client, base: str, token: str, x: float, y: float) -> dict[str, Any]:
    r = http.post(f"{base}/incidents", headers=_bearer(token), json={
        "category": "fire_lane_blocked", "lon": x, "lat": y, "description": "消防通道堵塞"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture()
def two(db: tuple[str, Engine]) -> Iterator[tuple[str, str, Engine]]:  # noqa: F811
    url, engine = db
    with app_process(url) as p1, app_process(url) as p2:
        yield p1, p2, engine


def test_live_scoped_resumable_across_processes(two: tuple[str, str, Engine]) -> None:
    p1, p2, engine = two
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
        ox, oy = _other_cell_point(conn, cell)
    http = httpx.Client(timeout=10)
    command, worker = _login(http, p1, "command"), _login(http, p1, "worker")
    viewer = _login(http, p1, "viewer")
    http.cookies.clear()  # Bearer only from here (the logins set session cookies)
    # who may not: anonymous 401, viewer 403
    assert http.get(f"{p1}/events").status_code == 401
    assert http.get(f"{p1}/events", headers=_bearer(viewer)).status_code == 403
    # the command centre listens on process 2, the worker on process 1
    boss = Reader(f"{p2}/events", _bearer(command))
    mine = Reader(f"{p1}/events?crs=GCJ02", _bearer(worker))
    assert boss.status == mine.status == 200
    time.sleep(0.5)  # both listeners listen
    t0 = time.monotonic()
    inside = _report(http, p1, command, x, y)  # made through process 1
    got = boss.until(lambda m: m.get("data", {}).get("code") == inside["code"])
    assert time.monotonic() - t0 < 2.0
    assert got["event"] == "incident" and _event_id(got) == got["data"]["event_id"]
    d = got["data"]
    assert d["kind"] == "intake" and d["status_name"] and d["category_name"] == "占用消防通道"
    assert d["lon"] == pytest.approx(x) and isinstance(d["overdue"], bool)
    seen = mine.until(lambda m: m.get("data", {}).get("code") == inside["code"])
    assert seen["data"]["lon"] != pytest.approx(x, abs=1e-6)  # GCJ-02 as asked
    outside = _report(http, p1, command, ox, oy)
    boss.until(lambda m: m.get("data", {}).get("code") == outside["code"])
    # the worker never sees the case in another cell
    assert all(m.get("data", {}).get("code") != outside["code"] for m in mine.drain(1.0))
    last = _event_id(got)
    boss.close()
    # missed while away: two more cases and a step on the first
    missed = [_report(http, p1, command, x, y)["code"], _report(http, p1, command, ox, oy)["code"]]
    r = http.post(f"{p1}/incidents/{inside['code']}/transition", headers=_bearer(command),
                  json={"to": "registered"})
    assert r.status_code == 200, r.text
    with engine.connect() as conn:
        expected = [i for (i,) in conn.execute(text(
            "SELECT id FROM incident_event WHERE id > :a ORDER BY id"), {"a": last})]
        mine_expected = [i for (i,) in conn.execute(text(
            "SELECT e.id FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            "WHERE e.id > :a AND i.cell_code = :c ORDER BY e.id"), {"a": last, "c": cell})]
    back = Reader(f"{p2}/events", {**_bearer(command), "Last-Event-ID": str(last)})
    replayed = [_event_id(m) for m in back.drain(1.5) if m.get("event") == "incident"]
    assert replayed == expected and len(expected) >= 4
    assert {missed[0], missed[1], inside["code"]} <= {
        c for (c,) in engine.connect().execute(text(
            "SELECT i.code FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            "WHERE e.id = ANY(:ids)"), {"ids": replayed})}
    again = Reader(f"{p1}/events?last_event_id={last}", _bearer(worker))
    assert [_event_id(m) for m in again.drain(1.5) if m.get("event") == "incident"] \
        == mine_expected
    for r_ in (mine, back, again):
        r_.close()


def test_per_user_cap(two: tuple[str, str, Engine]) -> None:
    p1, _p2, _engine = two
    http = httpx.Client(timeout=10)
    token = _login(http, p1, "worker")
    http.cookies.clear()
    readers = [Reader(f"{p1}/events", _bearer(token)) for _ in range(5)]
    assert all(r.status == 200 for r in readers)
    r = http.get(f"{p1}/events", headers=_bearer(token))
    assert r.status_code == 429 and "实时事件流" in r.json()["detail"]
    # an id past any event (beyond a bigint) or not ASCII digits: 422, never a silent stream
    for bad in ("9" * 23, str(2**63), "1e3", "1:2:3", f"1:{2**63}", "1:", ":1", "1:-2"):
        r = http.get(f"{p1}/events", headers={**_bearer(token), "Last-Event-ID": bad})
        assert r.status_code == 422, (bad, r.status_code)
    r = http.get(f"{p1}/events", params={"last_event_id": "9" * 23}, headers=_bearer(token))
    assert r.status_code == 422
    for reader in readers:
        reader.close()


def test_streams_end_when_the_login_ends(two: tuple[str, str, Engine]) -> None:
    """A logout (in another process) ends that session's streams at once with ``event:
    logout`` and frees the per-user cap; a disable (announced by a third process, as ``wangge
    users disable`` does) ends the streams of every session of the user; another user's stream
    goes on."""
    from geo.auth.users import set_disabled

    p1, p2, engine = two
    http = httpx.Client(timeout=10)
    first = _login(http, p1, "worker")
    command = _login(http, p1, "command")
    http.cookies.clear()
    held = [Reader(f"{p2}/events", _bearer(first)) for _ in range(5)]
    boss = Reader(f"{p2}/events", _bearer(command))
    assert all(r.status == 200 for r in held) and boss.status == 200
    time.sleep(0.5)
    t0 = time.monotonic()
    assert http.post(f"{p1}/auth/logout", headers=_bearer(first)).status_code in (200, 204)
    for r in held:
        m = r.until(lambda m: m.get("event") == "logout", 3.0)
        assert "重新登录" in m["data"]["message"]
    assert time.monotonic() - t0 < 3.0
    # the cap is free again for the next login of the same worker
    second = _login(http, p1, "worker")
    http.cookies.clear()
    fresh = [Reader(f"{p2}/events", _bearer(second)) for _ in range(2)]
    assert all(r.status == 200 for r in fresh)
    time.sleep(0.3)
    with engine.begin() as conn:
        set_disabled(conn, "demo-worker")
    try:
        for r in fresh:
            r.until(lambda m: m.get("event") == "logout", 3.0)
        # the command centre's stream is not touched
        assert all(m.get("event") != "logout" for m in boss.drain(0.5))
    finally:
        with engine.begin() as conn:
            set_disabled(conn, "demo-worker", False)
    for r in (*held, *fresh, boss):
        r.close()
