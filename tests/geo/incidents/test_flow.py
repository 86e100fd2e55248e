"""Incident intake, routing and the case flow through the API, on a private demo database."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from geo.localtime import CST
from tests.conftest import create_database, drop_database, make_settings

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture(scope="module")
def db_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    url = create_database(admin_engine, template=demo_template)
    yield url
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def api(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from api.main import create_app

    data_dir = tmp_path_factory.mktemp("wangge_data")
    with TestClient(create_app(make_settings(db_url, data_dir=data_dir))) as c:
        yield c


@pytest.fixture(scope="module")
def spot(engine: Engine) -> dict[str, Any]:
    """A point well inside a rural cell (no demo incident within a kilometre of it in 2024)."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT code, township_code, ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
            "SELECT code, township_code, ST_PointOnSurface(geom) AS p FROM grid_cell "
            "WHERE kind = 'basic' AND parent_code LIKE '141123203%' ORDER BY code LIMIT 1) s"
        )).mappings().one()
    return dict(row)


def report(api: TestClient, spot: dict[str, Any], **kw: Any) -> Any:
    body = {"category": "fire_lane_blocked", "channel": "patrol", "lon": spot["lon"],
            "lat": spot["lat"], "description": "杂物堆放占用消防通道",
            "reporter_name": "张三", "reporter_phone": "13812345678",
            "reported_at": "2024-06-03T09:00:00+08:00", **kw}
    return api.post("/incidents", json=body)


def move(api: TestClient, inc: dict[str, Any], to: str, at: str | None = None,
         **kw: Any) -> Any:
    body = {"to": to, "note": f"-> {to}", **kw}
    if at:
        body["at"] = at
    return api.post(f"/incidents/{inc['id']}/transition", json=body,
                    headers={"If-Match": f'"{inc["version"]}"'})


def test_intake_routes_in_one_go(api: TestClient, spot: dict[str, Any]) -> None:
    r = report(api, spot)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert r.headers["ETag"] == f'"{inc["version"]}"'
    assert inc["status"] == "reported" and inc["cell_code"] == spot["code"]
    assert inc["township_code"] == spot["township_code"]
    assert inc["department_code"] == "xiaofang"
    rt = inc["routing"]
    for key in ("cell", "worker", "community", "township", "department", "place"):
        assert rt[key]["reason"], key
    assert "2024-06-03" in rt["cell"]["reason"]
    assert isinstance(rt["cameras"], list) and isinstance(rt["duplicates"], list)
    # register within 30 working minutes of 09:00 Monday
    assert inc["due_at"] == "2024-06-03T09:30:00+08:00"
    assert inc["final_due_at"] is not None and inc["overdue"] is False or inc["overdue"]
    full = api.get(f"/incidents/{inc['id']}").json()
    assert [e["kind"] for e in full["events"]] == ["intake"]
    assert full["events"][0]["to_status"] == "reported"


def test_walk_every_step_with_rework(api: TestClient, spot: dict[str, Any]) -> None:
    inc = report(api, spot, reported_at="2024-06-04T09:00:00+08:00").json()
    steps = [("registered", "2024-06-04T09:10:00+08:00"),
             ("dispatched", "2024-06-04T09:20:00+08:00"),
             ("in_progress", "2024-06-04T10:00:00+08:00"),
             ("handled", "2024-06-04T15:00:00+08:00"),
             ("rework", "2024-06-04T16:00:00+08:00"),
             ("in_progress", "2024-06-05T09:00:00+08:00"),
             ("handled", "2024-06-05T10:00:00+08:00"),
             ("verified", "2024-06-05T10:30:00+08:00"),
             ("closed", "2024-06-05T11:00:00+08:00")]
    for to, at in steps:
        r = move(api, inc, to, at)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == inc["version"] + 1
        inc = r.json()
        assert inc["status"] == to
    assert inc["rework_count"] == 1 and inc["closed_at"] == "2024-06-05T11:00:00+08:00"
    trans = [(e["from_status"], e["to_status"], e["actor"]) for e in inc["events"]
             if e["kind"] == "transition"]
    assert [t[1] for t in trans] == [s for s, _ in steps]
    assert all(t[2] == "anonymous" for t in trans)
    # rework restarts the handling clock: 480 working minutes from Tue 16:00 (120 + 210 + 150)
    rework = next(e for e in inc["events"] if e["to_status"] == "rework")
    assert rework["data"]["due_at"] == "2024-06-05T16:00:00+08:00"
    # a closed case accepts nothing more; 409 names both states
    r = move(api, inc, "in_progress")
    assert r.status_code == 409
    assert "closed" in r.json()["detail"] and "in_progress" in r.json()["detail"]


def test_disallowed_transition_names_both_states(api: TestClient, spot: dict[str, Any]) -> None:
    inc = report(api, spot).json()
    r = move(api, inc, "closed")
    assert r.status_code == 409
    body = r.json()
    assert body["current"] == "reported" and body["target"] == "closed"
    assert "reported" in body["detail"] and "closed" in body["detail"]
    assert move(api, inc, "flying").status_code == 422
    for final in ("rejected", "cancelled"):
        inc2 = report(api, spot).json()
        r = move(api, inc2, final)
        assert r.status_code == 200 and r.json()["status"] == final
        assert move(api, r.json(), "registered").status_code == 409


def test_stale_if_match_loses(api: TestClient, spot: dict[str, Any]) -> None:
    inc = report(api, spot).json()
    first = move(api, inc, "registered")
    assert first.status_code == 200
    second = move(api, inc, "rejected")  # same stale version
    assert second.status_code == 409
    assert second.json()["current_version"] == inc["version"] + 1
    assert api.get(f"/incidents/{inc['id']}").json()["status"] == "registered"
    assert api.post(f"/incidents/{inc['id']}/transition", json={"to": "dispatched"},
                    headers={"If-Match": "garbage"}).status_code == 422


def test_two_threads_race_one_wins(engine: Engine, api: TestClient,
                                   spot: dict[str, Any]) -> None:
    from geo.errors import Conflict
    from geo.incidents.cases import transition

    inc = report(api, spot).json()
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()
    boss = Principal(user="", role="command")

    def worker(name: str, target: str) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                transition(conn, inc["id"], target,
                           Principal(user=name, role=boss.role), version=inc["version"])
            out = f"{name}:ok"
        except Conflict:
            out = f"{name}:409"
        with lock:
            results.append(out)

    threads = [threading.Thread(target=worker, args=("a", "registered")),
               threading.Thread(target=worker, args=("b", "rejected"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(r.split(":")[1] for r in results) == ["409", "ok"], results
    final = api.get(f"/incidents/{inc['id']}").json()
    moved = [e for e in final["events"] if e["kind"] == "transition"]
    assert len(moved) == 1 and final["version"] == inc["version"] + 1
    winner = next(r.split(":")[0] for r in results if r.endswith("ok"))
    assert moved[0]["actor"] == winner


def test_merge_keeps_every_report_and_channel(api: TestClient, spot: dict[str, Any]) -> None:
    a = report(api, spot, reported_at="2024-07-01T10:00:00+08:00").json()
    b = report(api, spot, channel="12345", lon=spot["lon"] + 0.0003,
               reported_at="2024-07-01T15:00:00+08:00").json()
    assert a["id"] in [d["id"] for d in b["routing"]["duplicates"]]
    far = report(api, spot, lat=spot["lat"] + 0.01,
                 reported_at="2024-07-01T15:00:00+08:00").json()
    assert a["id"] not in [d["id"] for d in far["routing"]["duplicates"]]
    r = api.post(f"/incidents/{a['id']}/merge", json={"duplicate_ids": [b["id"]]})
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["channels"] == ["12345", "patrol"]
    assert {x["code"] for x in merged["reports"]} == {a["code"], b["code"]}
    dup = api.get(f"/incidents/{b['id']}").json()
    assert dup["status"] == "merged" and dup["merged_into_id"] == a["id"]
    assert dup["events"][-1]["to_status"] == "merged"
    # a merged report cannot be merged again, nor moved
    assert api.post(f"/incidents/{a['id']}/merge",
                    json={"duplicate_ids": [b["id"]]}).status_code == 409
    assert move(api, dup, "registered").status_code == 409


def test_reassign_to_another_cell_and_department(api: TestClient, engine: Engine,
                                                 spot: dict[str, Any]) -> None:
    inc = report(api, spot).json()
    with engine.connect() as conn:
        other = conn.execute(text(
            "SELECT code FROM grid_cell WHERE kind = 'basic' AND code <> :c ORDER BY code "
            "LIMIT 1"), {"c": spot["code"]}).scalar_one()
    r = api.post(f"/incidents/{inc['id']}/reassign",
                 json={"cell_code": other, "department_code": "zonghe", "note": "属地调整"},
                 headers={"If-Match": f'"{inc["version"]}"'})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["cell_code"] == other and out["department_code"] == "zonghe"
    ev = out["events"][-1]
    assert ev["kind"] == "reassign" and ev["data"]["cell"] == {"from": spot["code"],
                                                               "to": other}
    assert ev["data"]["department"] == {"from": "xiaofang", "to": "zonghe"}
    bad = api.post(f"/incidents/{inc['id']}/reassign", json={"department_code": "nasa"})
    assert bad.status_code == 422 and "zhujian" in bad.json()["detail"]
    bad = api.post(f"/incidents/{inc['id']}/reassign", json={"cell_code": "999"})
    assert bad.status_code == 422


def test_pause_resume_extend_move_the_clock(api: TestClient, spot: dict[str, Any]) -> None:
    inc = report(api, spot, reported_at="2024-06-03T09:00:00+08:00").json()
    inc = move(api, inc, "registered", "2024-06-03T09:05:00+08:00").json()
    inc = move(api, inc, "dispatched", "2024-06-03T09:10:00+08:00").json()
    # 480 working minutes: Mon 09:10-12:00 170 + 13:30-18:00 270, Tue 08:30-09:10 40
    assert inc["due_at"] == "2024-06-04T09:10:00+08:00"
    r = api.post(f"/incidents/{inc['id']}/pause",
                 json={"note": "等待业主", "at": "2024-06-03T10:10:00+08:00"})
    assert r.status_code == 200 and r.json()["paused"] is True
    over = api.get("/incidents/overdue", params={"as_of": "2024-06-10T09:00:00+08:00"}).json()
    assert inc["id"] not in [i["id"] for i in over["items"]]  # paused: never overdue
    r = api.post(f"/incidents/{inc['id']}/resume",
                 json={"at": "2024-06-04T09:00:00+08:00"})
    assert r.status_code == 200, r.text
    # 420 working minutes were left at the pause (110 + 270 + 40): Tue 09:00 + 420 = 17:30
    assert r.json()["due_at"] == "2024-06-04T17:30:00+08:00"
    r = api.post(f"/incidents/{inc['id']}/extend", json={"minutes": 480, "note": "材料采购"})
    assert r.status_code == 200 and r.json()["due_at"] == "2024-06-05T17:30:00+08:00"
    assert [e["kind"] for e in r.json()["events"]][-3:] == ["pause", "resume", "extend"]
    assert api.post(f"/incidents/{inc['id']}/resume", json={}).status_code == 409
    assert api.post(f"/incidents/{inc['id']}/extend", json={"minutes": 0}).status_code == 422


def test_overdue_list_and_flag(api: TestClient, spot: dict[str, Any]) -> None:
    inc = report(api, spot, reported_at="2024-06-07T17:00:00+08:00").json()  # a Friday
    # 30 working minutes: Fri 17:00-17:30
    assert inc["due_at"] == "2024-06-07T17:30:00+08:00"
    before = api.get("/incidents/overdue", params={"as_of": "2024-06-07T17:20:00+08:00"})
    after = api.get("/incidents/overdue", params={"as_of": "2024-06-07T17:40:00+08:00"})
    assert inc["id"] not in [i["id"] for i in before.json()["items"]]
    assert inc["id"] in [i["id"] for i in after.json()["items"]]
    one = api.get(f"/incidents/{inc['id']}", params={"as_of": "2024-06-07T17:40:00+08:00"})
    assert one.json()["overdue"] is True
    assert api.get("/incidents/overdue", params={"as_of": "2024-06-07T17:40"}).status_code == 422


def test_unknown_category_channel_and_outside_point(api: TestClient,
                                                    spot: dict[str, Any]) -> None:
    r = report(api, spot, category="ufo_sighting")
    assert r.status_code == 422
    assert "ebike_charging" in r.json()["detail"] and "ebike_charging" in r.json()["valid"]
    r = report(api, spot, department="nasa")
    assert r.status_code == 422 and "xiaofang" in r.json()["valid"]
    assert report(api, spot, channel="pigeon").status_code == 422
    assert report(api, spot, lat=138.0).status_code == 422
    # Beijing: valid coordinates but no place of the county (far from it) -> 422, nothing
    # kept (routing.far_from_region; a point within 5 km of the county would be kept)
    r = report(api, spot, lon=116.39, lat=39.91)
    assert r.status_code == 422 and "incident" not in r.json(), r.text[:300]
    assert "公里" in r.json()["detail"]
    # a place name nobody knows: kept for the command centre
    r = api.post("/incidents", json={"category": "dispute", "place": "不存在的地方",
                                     "reported_at": "2024-06-03T09:00:00+08:00"})
    assert r.status_code == 422
    kept = r.json()["incident"]
    assert kept["status"] == "needs_location" and kept["cell_code"] is None
    got = api.get(f"/incidents/{kept['id']}").json()
    assert got["status"] == "needs_location"
    # locating it routes it and makes it a normal report
    r = api.post(f"/incidents/{kept['id']}/locate",
                 json={"lon": spot["lon"], "lat": spot["lat"]})
    assert r.status_code == 200 and r.json()["status"] == "reported"
    assert r.json()["cell_code"] == spot["code"]


def test_place_name_resolves_to_compound_entrance(api: TestClient, engine: Engine) -> None:
    """Address text without coordinates is placed by the offline address matcher on the
    demo's (synthetic) register: a building it knows at the building, a building it does not
    know at the compound's gate, a typo in the compound's name at that compound (or suggested
for review when a similar name exists); a text
    naming only a township waits for the command centre (needs_location) with the matcher's
    suggestion; another county's address is not forced onto ours."""
    with engine.connect() as conn:
        c = conn.execute(text(
            "SELECT c.id, c.name, ST_X(c.entrance) AS x, ST_Y(c.entrance) AS y, b.name AS b, "
            "ST_X(b.point) AS bx, ST_Y(b.point) AS by FROM compound c JOIN building b "
            "ON b.compound_code = c.code AND b.region_code = c.region_code "
            "WHERE c.entrance IS NOT NULL AND b.synthetic AND length(c.name) >= 4 "
            "ORDER BY length(c.name) DESC, c.code, b.code LIMIT 1")).mappings().one()

    def place(text_: str) -> dict[str, Any]:
        r = api.post("/incidents", json={"category": "电动自行车违规停放充电",
                                         "channel": "12345", "place": text_,
                                         "reported_at": "2024-06-03T09:00:00+08:00"})
        assert r.status_code in (201, 422), r.text
        return r.json() if r.status_code == 201 else r.json()["incident"]

    inc = place(f"兴县{c['name']}{c['b'].replace('号楼', '栋')}")
    assert inc["compound_id"] == c["id"] and inc["category"] == "ebike_charging"
    assert inc["lon"] == pytest.approx(c["bx"]) and inc["lat"] == pytest.approx(c["by"])
    got = inc["routing"]["place"]
    assert got["source"] == "building" and got["match"]["confidence"] >= 0.9
    inc = place(f"{c['name']} 99号楼")
    assert inc["compound_id"] == c["id"]
    assert inc["lon"] == pytest.approx(c["x"]) and inc["lat"] == pytest.approx(c["y"])
    assert inc["routing"]["place"]["source"] == "compound"
    typo = c["name"][:-2] + ("华" if c["name"][-2] != "华" else "化") + c["name"][-1]
    inc = place(typo)  # the right compound: placed, or suggested when a namesake is close
    got = inc["routing"]["place"]
    assert got["match"]["level"] == "compound" and got["match"]["matched"] == c["name"]
    assert inc["compound_id"] == c["id"] or (got.get("review") and inc["lon"] is None)
    inc = place("兴县蔚汾镇")
    assert inc["status"] == "needs_location" and inc["lon"] is None
    got = inc["routing"]["place"]
    assert got["review"] is True and got["match"]["level"] == "township"
    assert "待指挥中心核实" in got["reason"]
    inc = place("北京市朝阳区建国路1号")
    assert inc["status"] == "needs_location"
    assert inc["routing"]["place"]["source"] == "unresolved"
    assert "其他地区" in inc["routing"]["place"]["reason"]


def test_photos_checked_and_stored(api: TestClient, spot: dict[str, Any]) -> None:
    photo = {"filename": "fire.jpg", "content_base64": base64.b64encode(JPEG).decode()}
    r = report(api, spot, photos=[photo])
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["attachments"][0]["content_type"] == "image/jpeg"
    r = api.post(f"/incidents/{inc['id']}/attachments",
                 files=[("files", ("after.png", PNG, "image/png"))], data={"note": "处置后"})
    assert r.status_code == 201, r.text
    png_id = r.json()["attachments"][0]["id"]
    got = api.get(f"/incidents/{inc['id']}/attachments/{png_id}")
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    # a photo id used in a transition lands in the event
    moved = move(api, inc | {"version": api.get(f"/incidents/{inc['id']}").json()["version"]},
                 "registered", photo_ids=[png_id]).json()
    assert moved["events"][-1]["data"]["photos"] == [png_id]
    # named .jpg but really a script: refused by content
    r = api.post(f"/incidents/{inc['id']}/attachments",
                 files=[("files", ("x.jpg", b"#!/bin/sh\nrm -rf /", "image/jpeg"))])
    assert r.status_code == 422 and "content" in r.json()["detail"]
    big = b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024 + 1)
    r = api.post(f"/incidents/{inc['id']}/attachments", files=[("files", ("big.jpg", big))])
    assert r.status_code == 413


def test_unwritable_store_keeps_the_incident(db_url: str, tmp_path: Path,
                                             spot: dict[str, Any]) -> None:
    from api.main import create_app

    blocked = tmp_path / "data"
    blocked.mkdir()
    (blocked / "attachments").write_text("a file where the store's directory should be")
    with TestClient(create_app(make_settings(db_url, data_dir=blocked))) as c:
        photo = {"filename": "p.jpg", "content_base64": base64.b64encode(JPEG).decode()}
        r = report(c, spot, photos=[photo])
        assert r.status_code == 201, r.text
        inc = r.json()
        assert inc["attachments"] == []
        err = inc["attachment_errors"][0]["error"]
        assert "不可写" in err and "cannot be written" in err and inc["code"] in err
        assert c.get(f"/incidents/{inc['id']}").json()["status"] == "reported"
        r = c.post(f"/incidents/{inc['id']}/attachments", files=[("files", ("p.jpg", JPEG))])
        assert r.status_code == 503 and "cannot be written" in r.json()["detail"]
        assert c.get(f"/incidents/{inc['id']}").status_code == 200


def test_worker_views_and_masking(api: TestClient, spot: dict[str, Any]) -> None:
    from api.deps import get_principal

    inc = report(api, spot).json()
    me = Principal(user="wang", role="worker", cell_codes=frozenset({spot["code"]}))
    api.app.dependency_overrides[get_principal] = lambda: me  # type: ignore[attr-defined]
    try:
        cells = api.get("/me/cell").json()["cells"]
        assert [c["code"] for c in cells] == [spot["code"]] and cells[0]["open_incidents"] >= 1
        mine = api.get("/me/incidents").json()["items"]
        assert inc["id"] in [i["id"] for i in mine]
        assert all(i["cell_code"] == spot["code"] for i in mine)
        own = next(i for i in mine if i["id"] == inc["id"])
        assert own["reporter_phone"] == "138****5678"  # masked unless ?unmask=true
        # the worker cannot register (the command centre's step) ...
        assert move(api, inc, "registered").status_code == 403
        api.app.dependency_overrides.clear()  # type: ignore[attr-defined]
        inc = move(api, inc, "registered").json()
        inc = move(api, inc, "dispatched").json()
        api.app.dependency_overrides[get_principal] = lambda: me  # type: ignore
        # ... but works the case in her cell: on site, a note with a photo, handled
        inc = move(api, inc, "in_progress").json()
        up = api.post(f"/incidents/{inc['id']}/attachments",
                      files=[("files", ("door.jpg", JPEG))]).json()["attachments"][0]
        r = api.post(f"/incidents/{inc['id']}/notes",
                     json={"note": "通道已清理", "photo_ids": [up["id"]]})
        assert r.status_code == 200 and r.json()["events"][-1]["actor"] == "wang"
        r = move(api, r.json(), "handled")
        assert r.status_code == 200 and r.json()["status"] == "handled"
        assert move(api, r.json(), "verified").status_code == 403
        # another cell's worker sees nothing of it
        other = Principal(user="li", role="worker", cell_codes=frozenset({"141123100001001"}))
        api.app.dependency_overrides[get_principal] = lambda: other  # type: ignore[attr-defined]
        assert api.get(f"/incidents/{inc['id']}").status_code == 404
        planner = Principal(user="p", role="planner", authenticated=True)
        api.app.dependency_overrides[get_principal] = lambda: planner  # type: ignore
        assert api.get("/board").status_code == 403  # planners: aggregates (/kpi), no cases
    finally:
        api.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_board_counts(api: TestClient) -> None:
    b = api.get("/board", params={"as_of": "2026-10-31T23:00:00+08:00"}).json()
    assert sum(b["by_status"].values()) >= 20_000
    assert b["open"] > 0 and b["overdue_total"] > 0 and b["overdue"]
    assert {t["township_code"] for t in b["by_township"]} >= {"141123100"}
    assert sum(c["n"] for c in b["by_category"]) == sum(b["by_status"].values())
    assert b["overdue_total"] < b["open"]  # as of the demo's end some open cases are in time


def test_bulk_import_csv_xlsx_and_cli(api: TestClient, engine: Engine, db_url: str,
                                      spot: dict[str, Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import openpyxl
    from click.testing import CliRunner

    from api.cli import main

    with engine.connect() as conn:
        cname = conn.execute(text("SELECT name FROM compound ORDER BY code LIMIT 1")).scalar()
    csv_text = (
        "工单编号,来电时间,问题类型,诉求内容,事发地点,来电人,联系电话,经度,纬度\n"
        f"H001,2024-08-01 10:00,电动自行车违规停放充电,电动车在楼道充电,{cname} 3号楼,李四,"
        "13900001111,,\n"
        f"H002,2024-08-01 11:00,fire_lane_blocked,堵塞,,王五,13900002222,{spot['lon']},"
        f"{spot['lat']}\n"
        "H003,外星时间,外星人,?,某地,,,,\n"
        "H004,2024-08-01 12:30,dispute,吵架,火星小区,,,,\n"
    )
    data = csv_text.encode("gb18030")
    dry = api.post("/incidents/bulk", files={"file": ("hotline.csv", data)},
                   data={"commit": "false"}).json()
    # the one import report (same shape as /admin/import and `wangge import`)
    assert dry["new"] == 3 and dry["committed"] is False and dry["dry_run"] is True
    assert dry["layer"] == "incidents" and dry["refused_count"] == 1
    # Without commit: a dry run too (every import path defaults to a dry run).
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar()
    default = api.post("/incidents/bulk", files={"file": ("hotline.csv", data)})
    assert default.status_code == 200 and default.json()["committed"] is False
    assert default.json()["new"] == 3
    # A commit with a refused row writes nothing (all or nothing) unless skip_refused.
    refused = api.post("/incidents/bulk", files={"file": ("hotline.csv", data)},
                       data={"commit": "true"})
    assert refused.status_code == 422 and refused.json()["committed"] is False
    assert "skip-refused" in refused.json()["error"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == before
    commit = {"commit": "true", "skip_refused": "true"}
    r = api.post("/incidents/bulk", files={"file": ("hotline.csv", data)}, data=commit)
    rep = r.json()
    assert r.status_code == 200 and rep["new"] == 3 and rep["rows"] == 4, rep
    assert [e["row"] for e in rep["refused"]] == [4] and "外星时间" in rep["refused"][0]["reason"]
    assert [c["row"] for c in rep["cases"] if c["status"] == "needs_location"] == [5]
    assert rep["no_location"] == 1
    again = api.post("/incidents/bulk", files={"file": ("hotline.csv", data)},
                     data=commit).json()
    assert again["new"] == 0 and again["unchanged"] == 3
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工单号", "上报时间", "类别", "内容", "经度", "纬度", "渠道"])
    ws.append(["X1", dt.datetime(2024, 8, 2, 9, 0), "water", "停水", spot["lon"], spot["lat"],
               "12345"])
    buf = io.BytesIO()
    wb.save(buf)
    r = api.post("/incidents/bulk", files={"file": ("export.xlsx", buf.getvalue())},
                 data=commit)
    assert r.json()["new"] == 1, r.text
    path = tmp_path / "hotline.csv"
    path.write_text(csv_text.replace("H00", "C00"), encoding="utf-8")
    monkeypatch.setenv("WANGGE_DATABASE_URL", db_url)
    res = CliRunner().invoke(main, ["incidents", "import", str(path)])
    assert res.exit_code == 0 and "DRY RUN" in res.output, res.output
    res = CliRunner().invoke(main, ["incidents", "import", str(path), "--commit"])
    assert res.exit_code == 1 and "nothing written" in res.output, res.output
    res = CliRunner().invoke(main, ["incidents", "import", str(path), "--commit",
                                    "--skip-refused"])
    assert res.exit_code == 0 and "new: 3" in res.output, res.output
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incident WHERE routing->>'source_ref' "
                              "LIKE 'C00%'")).scalar()
    assert n == 3
    bad = api.post("/incidents/bulk", files={"file": ("x.pdf", b"%PDF")})
    assert bad.status_code == 422


def test_future_and_naive_times_refused(api: TestClient, spot: dict[str, Any]) -> None:
    future = (dt.datetime.now(CST) + dt.timedelta(days=2)).isoformat()
    assert report(api, spot, reported_at=future).status_code == 422
    assert report(api, spot, reported_at="2024-06-03T09:00:00").status_code == 422


def test_hostile_input_is_4xx_never_500(api: TestClient, spot: dict[str, Any]) -> None:
    assert report(api, spot, place="x" * 301, lon=None, lat=None).status_code == 422
    assert report(api, spot, reporter_phone="1" * 40).status_code == 422
    assert api.get(f"/incidents/{10**30}").status_code == 404
    assert api.get(f"/incidents/1/attachments/{10**30}").status_code == 404
    inc = report(api, spot).json()
    assert api.post(f"/incidents/{inc['id']}/merge",
                    json={"duplicate_ids": [10**30]}).status_code == 404
    r = move(api, inc, "registered", photo_ids=[10**30])
    assert r.status_code == 422
    r = report(api, spot, reported_at="0001-01-01T00:00:00+08:00")
    assert r.status_code == 422 and "2000" in r.json()["detail"]
    assert api.get("/incidents/overdue",
                   params={"as_of": "0001-01-01T00:00:00+08:00"}).status_code == 422
