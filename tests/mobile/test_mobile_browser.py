"""Scenario A on the phone: the grid worker's web app /m/ in headless Chromium with phone
emulation (390x844, touch, zh-CN) and her position overridden inside her cell.

She logs in on /m/, sees that she is in her cell, reports a case with a photo, loses the network
(context.set_offline), adds a note and a photo to that case and walks a patrol segment, reopens
the app offline (service worker), comes back online, and every write arrives exactly once and in
order (checked in the database: events, attachments, the Idempotency-Key records, the patrol);
the command centre sees the case (and the track). Also: manifest and service worker, no request
leaves 127.0.0.1, the first screen's time (printed, not asserted). Screenshots:
artifacts/screenshots/mobile-*.png.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.tokens import issue_session_token
from geo.demo.users import DEMO_USERS
from tests.conftest import (
    REPO_ROOT,
    create_database,
    demo_worker_spot,
    drop_database,
    make_settings,
    serve_in_thread,
)

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_MOBILE_HTTP_PORT", "8179"))
BASE = f"http://{HOST}:{PORT}"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "timezone_id": "Asia/Shanghai",
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
                       "like Gecko) Chrome/120.0 Mobile Safari/537.36"}
NOTE = "消防通道已清理一半, 物业下午继续 (离线备注)"
REPORT = "3号楼消防通道被杂物堵塞 (手机上报)"


@pytest.fixture(scope="module")
def mobile_db(admin_engine: Engine, demo_template: str) -> Iterator[tuple[str, Engine]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def server(mobile_db: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    settings = make_settings(mobile_db[0], demo_open=False,
                             data_dir=tmp_path_factory.mktemp("mobile-data"))
    with serve_in_thread(settings, HOST, PORT) as url:
        yield url


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


def _command_headers(engine: Engine) -> dict[str, str]:
    username = DEMO_USERS["command"][0]
    with engine.connect() as conn:
        uid, ver = conn.execute(text("SELECT id, token_version FROM app_user WHERE username = "
                                     ":u"), {"u": username}).one()
    token, _ = issue_session_token(make_settings("unused").secret_key, uid, username, ver, 3600)
    return {"Authorization": f"Bearer {token}"}


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"mobile-{name}.png"))


def _queue_n(page: Any) -> int:
    return int(page.eval_on_selector("#queue-n", "e => e.textContent"))


def _wait_sent(page: Any, sent: int, timeout: float = 30_000) -> None:
    """Wait until the app has sent ``sent`` writes since it was loaded and none waits."""
    page.wait_for_function(f"() => Number(document.body.dataset.sent || 0) >= {sent} && "
                           "document.body.dataset.queue === '0'", timeout=timeout)


def test_scenario_a_on_the_phone(server: str, mobile_db: tuple[str, Engine],
                                 browser: Any) -> None:
    _, engine = mobile_db
    with engine.connect() as conn:
        cell, lon, lat = demo_worker_spot(conn)
        worker_uid, worker_code = conn.execute(text(
            "SELECT u.id, w.code FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
            "WHERE u.username = :u"), {"u": DEMO_USERS["worker"][0]}).one()
    context = browser.new_context(**PHONE, geolocation={"longitude": lon, "latitude": lat,
                                                        "accuracy": 8},
                                  permissions=["geolocation"])
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # -- log in on /m/: the app sends her to the login form and back
    page.goto(f"{BASE}/m/")
    page.wait_for_url("**/login?next=*")
    _shot(page, "login")
    username, password, _ = DEMO_USERS["worker"]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{BASE}/m/")
    assert context.cookies(BASE) and any(c["name"] == "wangge_csrf"
                                         for c in context.cookies(BASE))

    # -- first screen on the phone profile: from navigation to "in my cell" on the map
    t0 = time.perf_counter()
    page.goto(f"{BASE}/m/")
    page.wait_for_function("() => document.getElementById('cell-status').dataset.inside")
    first_screen = time.perf_counter() - t0
    fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || "
                        "{startTime: null}).startTime")
    print(f"\n/m/ first screen (phone profile, '在网格内' shown): {first_screen:.2f} s; "
          f"first contentful paint {fcp} ms")
    status = page.inner_text("#cell-status")
    assert "您在网格内" in status and re.search(r"距.*边界 \d+ 米", status), status
    assert page.locator(".leaflet-container path.leaflet-interactive").count() >= 1
    _shot(page, "cell")

    # -- installable: manifest with icons, a service worker controlling the page
    manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href)"
                             ".then(r => r.json())")
    assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    sw = page.evaluate("navigator.serviceWorker.controller.scriptURL")
    assert sw == f"{BASE}/m/sw.js"

    # -- report a case with a photo (online), possible duplicates shown before sending
    page.click("nav.tabs button[data-view=view-report]")
    options = page.eval_on_selector_all("#r-cat option", "os => os.map(o => o.value)")
    assert len(options) > 2, options  # from /incidents/categories
    page.select_option("#r-cat", options[1])
    page.set_input_files("#r-photo", files=[{"name": "fire-lane.png", "mimeType": "image/png",
                                             "buffer": _png((200, 40, 40))}])
    page.fill("#r-note", REPORT)
    page.wait_for_selector("#r-nearby:not([hidden])")
    _shot(page, "report")
    page.click("#r-send")
    _wait_sent(page, 2)  # the report, then its photo
    with engine.connect() as conn:
        code, inc_id, reported_cell = conn.execute(text(
            "SELECT code, id, cell_code FROM incident WHERE description = :d"),
            {"d": REPORT}).one()
    assert reported_cell == cell
    card = f"#todo li[data-code='{code}']"
    page.wait_for_selector(card)
    _shot(page, "todo")

    # -- offline: a note and a photo on that case, and a patrol segment
    context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    page.click(f"{card} button[data-action=note]")
    page.fill(f"{card} .actform textarea", NOTE)
    page.click(f"{card} .actform button[type=submit]")
    page.click(f"{card} button[data-action=photo]")
    page.set_input_files(f"{card} .actform input[type=file]", files=[
        {"name": "after.png", "mimeType": "image/png", "buffer": _png((40, 160, 40))}])
    page.click(f"{card} .actform button[type=submit]")
    page.click("nav.tabs button[data-view=view-patrol]")
    page.click("#patrol-btn")  # start: the first point where she stands
    for step in (1, 2):  # she walks north-east, ~23 m a step (>= 20 m: a point each)
        page.wait_for_timeout(1100)  # below 150 km/h, or the server flags the points
        context.set_geolocation({"longitude": lon + 0.00022 * step,
                                 "latitude": lat + 0.00012 * step, "accuracy": 8})
    page.wait_for_function("() => /已记录 [3-9]/.test(document.getElementById('patrol-status')"
                           ".textContent)", timeout=10_000)
    page.click("#patrol-btn")  # stop: the segment goes to the queue
    page.wait_for_function("() => document.body.dataset.queue === '3'")
    assert _queue_n(page) == 3
    _shot(page, "offline-patrol")
    with engine.connect() as conn:  # nothing has left the phone
        assert conn.execute(text("SELECT count(*) FROM incident_attachment WHERE incident_id "
                                 "= :i"), {"i": inc_id}).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM incident_event WHERE incident_id = :i "
                                 "AND note = :n"), {"i": inc_id, "n": NOTE}).scalar_one() == 0

    # -- the app reopens offline (service worker), the queue kept in IndexedDB
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert _queue_n(page) == 3
    assert "您在网格内" in page.inner_text("#cell-status")
    page.click("#queue-btn")
    _shot(page, "offline-queue")

    # -- back online: sent in order, each once
    context.set_offline(False)
    _wait_sent(page, 3)  # this page was reloaded: the note, the photo, the patrol
    _shot(page, "synced")
    with engine.connect() as conn:
        notes = conn.execute(text("SELECT id FROM incident_event WHERE incident_id = :i AND "
                                  "note = :n"), {"i": inc_id, "n": NOTE}).scalars().all()
        photos = conn.execute(text("SELECT filename FROM incident_attachment WHERE "
                                   "incident_id = :i ORDER BY id"), {"i": inc_id}
                              ).scalars().all()
        keys = conn.execute(text(
            "SELECT method, path, status FROM idempotency_key WHERE user_id = :u ORDER BY "
            "created_at, key"), {"u": worker_uid}).all()
        patrols = conn.execute(text(
            "SELECT client_id, points, ended_at IS NOT NULL FROM patrol p JOIN app_user u ON "
            "u.worker_id = p.worker_id WHERE u.id = :u AND NOT p.synthetic"),
            {"u": worker_uid}).all()
    assert len(notes) == 1
    assert photos == ["fire-lane.png", "after.png"]
    paths = [p for _, p, _ in keys]
    # the case's own action forms name it by id (a code may be held by two counties), and
    # so does a photo queued with the report before it had one (its answer's id)
    assert paths == ["/incidents", f"/incidents/{inc_id}/attachments",
                     f"/incidents/{inc_id}/notes", f"/incidents/{inc_id}/attachments",
                     "/me/patrols"], keys
    assert all(200 <= s < 300 for *_, s in keys), keys
    assert len(patrols) == 1 and patrols[0][1] >= 3 and patrols[0][2], patrols

    # -- the command centre sees the case, the note, the photos and the track
    with httpx.Client(base_url=server, headers=_command_headers(engine)) as cmd:
        case = cmd.get(f"/incidents/{code}").json()
        assert case["code"] == code and case["cell_code"] == cell
        assert [e["note"] for e in case["events"]].count(NOTE) == 1
        tracks = cmd.get("/patrols", params={"worker": worker_code}).json()
        found = [p for p in tracks["items"] if p.get("client_id") == patrols[0][0]]
        assert found, [(p["client_id"], p["started_at"]) for p in tracks["items"][:5]]
        assert found[0]["points_flagged"] == 0 and found[0]["length_m"] > 30, found
        assert found[0]["track"]["type"] == "LineString", found

    # -- nothing left 127.0.0.1
    outside = [u for u in requests if not u.startswith((BASE + "/", "data:", "blob:"))]
    assert outside == [], outside
    # reads tried while offline are logged by Chromium; any other console error fails
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == [], errors
    context.close()
