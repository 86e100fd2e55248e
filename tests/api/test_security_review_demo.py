"""An outside review of the running demo: secrets in logs, control characters in exports,
forged patrol times, bad import time formats, unthrottled heavy reads, mixed identities.

Each test failed before its fix.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from api.middleware.security import RedactAccessLog
from geo.auth.audit import redact_secrets
from geo.demo.users import DEMO_USERS
from geo.errors import InvalidInput
from tests.conftest import create_database, drop_database, make_settings, own_demo_client

CST = dt.timezone(dt.timedelta(hours=8))
HOSTILE = "井盖\x01破损\x0b 请处理"


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as pair:
        yield pair


def login(client: Any, role: str) -> dict[str, str]:
    user, password, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def api_key(client: Any, h: dict[str, str]) -> str:
    r = client.post("/auth/tokens", json={"name": "review", "days": 1}, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


# 1. secrets in the audit log and the access log


def test_redaction_rule() -> None:
    assert redact_secrets("api_key=wgk_abc&x=1") == "api_key=***&x=1"
    assert redact_secrets("/o?a=1&access_token=t&PASSWORD=p;refresh_token=r") == (
        "/o?a=1&access_token=***&PASSWORD=***;refresh_token=***")
    assert redact_secrets("/cells/at?lon=1&lat=2") == "/cells/at?lon=1&lat=2"


def test_access_log_line_has_no_api_key() -> None:
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                            '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", "/open311/v2/requests.json?api_key=wgk_SECRET",
                             "1.1", 200), None)
    assert RedactAccessLog().filter(rec)
    line = rec.getMessage()
    assert "wgk_SECRET" not in line and "api_key=***" in line
    create_app(make_settings("postgresql://unused/x"))  # installs the filter on the logger
    assert any(isinstance(f, RedactAccessLog)
               for f in logging.getLogger("uvicorn.access").filters)


def test_open311_api_key_not_stored_in_audit(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    key = api_key(client, login(client, "command"))
    r = client.post("/open311/v2/requests.json", params={"api_key": key}, data={
        "service_code": "fire_lane_blocked", "lat": str(e["y"]), "long": str(e["x"]),
        "description": "review"})
    assert r.status_code == 201, r.text
    with e["engine"].connect() as conn:
        rows = conn.execute(text("SELECT query FROM audit_log WHERE path = "
                                 "'/open311/v2/requests.json' ORDER BY id DESC LIMIT 5")).all()
    assert rows and all(key not in (q or "") for (q,) in rows)
    assert any("api_key=***" in (q or "") for (q,) in rows)


# 2. control characters: refused at intake, never break a workbook or an XML answer


def test_control_characters_refused_at_intake(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    r = client.post("/incidents", headers=login(client, "command"), json={
        "category": "fire_lane_blocked", "lon": e["x"], "lat": e["y"], "description": HOSTILE})
    assert r.status_code == 422, r.text
    assert "description" in r.text and "U+0001" in r.text
    ok = client.post("/incidents", headers=login(client, "command"), json={
        "category": "fire_lane_blocked", "lon": e["x"], "lat": e["y"],
        "description": "第一行\n\t第二行\r\n"})
    assert ok.status_code == 201, ok.text


def test_exports_survive_control_characters_in_stored_text(
        env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    h = login(client, "command")
    r = client.post("/incidents", headers=h, json={
        "category": "fire_lane_blocked", "lon": e["x"], "lat": e["y"], "description": "x",
        "reported_at": (dt.datetime.now(CST) - dt.timedelta(days=30)).isoformat()})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    with e["engine"].begin() as conn:  # text stored before intake refused it (or imported)
        conn.execute(text("UPDATE incident SET description = :d, location_text = :p "
                          "WHERE code = :c"), {"d": HOSTILE, "p": "小区\x0c门口", "c": code})
        conn.execute(text("UPDATE incident SET description = :d WHERE id IN (SELECT id FROM "
                          "incident WHERE status NOT IN ('closed', 'cancelled') ORDER BY "
                          "due_at LIMIT 50)"), {"d": HOSTILE})
    r = client.get("/export/incidents", headers=h, params={"format": "xlsx",
                                                          "where": f"code = '{code}'"})
    assert r.status_code == 200, r.text
    cells = [c for ws in openpyxl.load_workbook(io.BytesIO(r.content)).worksheets
             for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("井盖\ufffd破损\ufffd 请处理" in c for c in cells)
    r = client.get("/incidents/overdue", headers=h, params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    openpyxl.load_workbook(io.BytesIO(r.content))
    key = api_key(client, h)
    r = client.get("/open311/v2/requests.xml", params={"api_key": key,
                                                      "service_request_id": code})
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)  # well-formed
    assert "井盖\ufffd破损" in (root.findtext("request/description") or "")


# 3. patrol and check-in times within field staff's window


def test_patrol_and_checkin_times_are_bounded(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    h = login(client, "worker")
    for when in ("2001-05-01T09:00:00+08:00", "2030-05-01T09:00:00+08:00"):
        r = client.post("/me/patrols", headers=h, json={
            "client_id": str(uuid.uuid4()), "started_at": when,
            "points": [{"t": when, "lon": e["x"], "lat": e["y"]}]})
        assert r.status_code == 422, r.text
        assert "24" in r.text and "started_at" in r.text and "allowed window" in r.text
        r = client.post("/me/checkins", headers=h, json={
            "key_point_id": 1, "lon": e["x"], "lat": e["y"], "at": when})
        assert r.status_code == 422, r.text
        assert "允许范围" in r.text and "allowed window" in r.text
    now = dt.datetime.now(CST).replace(microsecond=0)
    r = client.post("/me/patrols", headers=h, json={
        "client_id": str(uuid.uuid4()), "started_at": (now - dt.timedelta(hours=2)).isoformat(),
        "points": [{"t": (now - dt.timedelta(hours=2)).isoformat(), "lon": e["x"],
                    "lat": e["y"]},
                   {"t": (now - dt.timedelta(days=3)).isoformat(), "lon": e["x"],
                    "lat": e["y"]}]})
    assert r.status_code == 422 and "points[1].t" in r.text, r.text


# 4. a bad strptime format is a 4xx


def test_bad_time_format_is_invalid_input(tmp_path: Path, demo_engine: Engine) -> None:
    from geo.io.importer import ImportOptions, run_import

    f = tmp_path / "cases.csv"
    f.write_text("编号,时间,经度,纬度,类别\nA1,2025,111.13,38.46,fire_lane_blocked\n",
                 encoding="utf-8")
    for fmt in ("%Y%Y", "%Q"):
        with pytest.raises(InvalidInput) as err:
            run_import(demo_engine, "incidents", f, ImportOptions(
                region="141123", time_field="时间", time_format=fmt, lon_field="经度",
                lat_field="纬度", category_field="类别"))
        assert err.value.detail.get("field") == "time_format"


# 5. heavy reads cost from the expensive budget; everyday reads do not


@pytest.fixture(scope="module")
def limited_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    url = create_database(admin_engine, template=demo_template)
    yield url
    drop_database(admin_engine, url)


def test_heavy_reads_are_rate_limited(limited_url: str) -> None:
    app = create_app(make_settings(limited_url, demo_open=False, rate_expensive_per_min=2))
    with TestClient(app) as client:
        h = login(client, "command")
        light = [client.get("/incidents", headers=h, params={"limit": 5}).status_code
                 for _ in range(4)]
        assert light == [200] * 4
        heavy = [client.get("/incidents", headers=h, params={"limit": 10_000}).status_code
                 for _ in range(3)]
        assert heavy == [200, 200, 429]
        assert client.get("/incidents/overdue", headers=h,
                          params={"format": "xlsx"}).status_code == 429
        key = api_key(client, h)
        assert client.get("/open311/v2/requests.json",
                          params={"api_key": key}).status_code == 429
        assert client.get("/events", headers=h, params={"max_s": 1}).status_code == 429
        assert client.get("/incidents", headers=h, params={"limit": 5}).status_code == 200


# 6. Bearer and api_key together: the Bearer identity serves and is audited


def test_bearer_wins_over_api_key(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    command = login(client, "command")
    worker_key = api_key(client, login(client, "worker"))
    with e["engine"].connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    r = client.get("/open311/v2/requests.json", headers=command,
                   params={"api_key": worker_key, "unmask": "true"})
    assert r.status_code == 200, r.text
    alone = client.get("/open311/v2/requests.json", headers=command, params={"unmask": "true"})
    assert r.json() == alone.json()  # the command centre's answer, not the worker's
    with e["engine"].connect() as conn:
        names = {u for (u,) in conn.execute(text(
            "SELECT username FROM audit_log WHERE id > :i AND path = "
            "'/open311/v2/requests.json'"), {"i": last})}
    assert names == {DEMO_USERS["command"][0]}
