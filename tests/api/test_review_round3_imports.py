"""Findings R8, R9, R10, R15, R16 and the ``timezone`` part of R3 of the outside review
(round 3), each reproduced as reported.

R8: the history import rewrote live cases (backdated, moved, re-worded, no case event) and took
report times the case flow refuses (2099, 1900). R9: an imported code of the intake's own form
``SJ<date>N<id>`` made a later report fail with 500. R10: imported codes were not checked: a
code ``../../x`` or ``/tmp/x`` sent every photo of the case outside the attachment store, a
code over 32 characters was a 500. R15: a photo with a long file name was a 422 after the case
was stored, its file orphaned; files written before a failed attachment insert stayed. R16: a
malformed XLSX, an entity bomb or a CSV field over the csv module's limit in the hotline intake
was a 500. R3: a 5,000-character ``timezone`` on the import form was a 500.
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.main import create_app
from geo import localtime
from geo.localtime import CST
from tests.conftest import create_database, demo_worker_spot, drop_database, make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PNG2 = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
FORM = {"code_field": "id", "category_field": "category", "time_field": "date",
        "lon_field": "longitude", "lat_field": "latitude"}
HEAD = "id,category,date,longitude,latitude,description\n"


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]],
        tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
    data_dir = tmp_path_factory.mktemp("wangge_r3_data")
    settings = make_settings(url, demo_open=False, data_dir=data_dir)
    with TestClient(create_app(settings)) as client:
        yield client, {"x": x, "y": y, "cell": cell, "h": role_headers, "engine": engine,
                       "data_dir": data_dir, "store": data_dir / "attachments"}
    engine.dispose()
    drop_database(admin_engine, url)


def _import(client: TestClient, s: dict[str, Any], csv: str, commit: bool = False,
            **form: str) -> Any:
    return client.post("/admin/import/incidents", params={"commit": str(commit).lower()},
                       headers=s["h"]["command"], files={"file": ("inc.csv", csv.encode())},
                       data={**FORM, **form})


def _report(client: TestClient, s: dict[str, Any], role: str = "worker", **kw: Any) -> Any:
    body = {"category": "water", "description": "r3", "lon": s["x"], "lat": s["y"], **kw}
    return client.post("/incidents", json=body, headers=s["h"][role])


def _case(s: dict[str, Any], code: str) -> dict[str, Any]:
    with s["engine"].connect() as conn:
        return dict(conn.execute(text(
            "SELECT i.*, (SELECT count(*) FROM incident_event e WHERE e.incident_id = i.id) "
            "AS events FROM incident i WHERE code = :c"), {"c": code}).mappings().one())


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------------------------ R10

def test_r10_unsafe_and_long_codes_are_refused_rows(env: tuple[TestClient, dict[str, Any]]
                                                    ) -> None:
    client, s = env
    x, y = s["x"], s["y"]
    csv = (HEAD + f"../../../../../tmp/wr3t,water,2026-01-04 05:42,{x},{y},trav\n"
           f"/tmp/wr3abs,water,2026-01-04 05:43,{x},{y},abs\n"
           f"{'A' * 33},water,2026-01-04 05:44,{x},{y},long\n"
           f"R10-ok.1,water,2026-01-04 05:45,{x},{y},fine\n")
    r = _import(client, s, csv, commit=True)
    assert r.status_code == 422, r.text  # a commit with refused rows writes nothing
    rep = r.json()
    assert rep["committed"] is False and rep["refused_count"] == 3
    assert [e["row"] for e in rep["refused"]] == [1, 2, 3]
    assert all("invalid incident code" in e["reason"] for e in rep["refused"])
    ok = _import(client, s, csv, commit=True, skip_refused="true").json()
    assert ok["committed"] and ok["new"] == 1
    with s["engine"].connect() as conn:
        codes = conn.execute(text("SELECT code FROM incident WHERE description IN "
                                  "('trav', 'abs', 'long', 'fine')")).scalars().all()
    assert codes == ["R10-ok.1"]


def test_r10_store_never_leaves_the_attachment_dir(env: tuple[TestClient, dict[str, Any]]
                                                   ) -> None:
    """Defence in depth: a code stored before imports checked them names no folder."""
    client, s = env
    outside = Path(f"/tmp/wgr3-{os.getpid()}")
    try:
        for bad in ("../../escaped", str(outside)):
            r = _report(client, s, role="command", description="r10 store")
            assert r.status_code == 201, r.text
            inc = r.json()
            with s["engine"].begin() as conn:
                conn.execute(text("UPDATE incident SET code = :c WHERE id = :i"),
                             {"c": bad, "i": inc["id"]})
            up = client.post(f"/incidents/{inc['id']}/attachments", headers=s["h"]["worker"],
                             files=[("files", ("a.png", PNG))])
            assert up.status_code == 201, up.text
            att = up.json()["attachments"][0]
            got = client.get(f"/incidents/{inc['id']}/attachments/{att['id']}",
                             headers=s["h"]["worker"])
            assert got.status_code == 200 and got.content == PNG
            assert list((s["store"] / "141123" / f"id-{inc['id']}").iterdir())
        assert not (s["data_dir"] / "escaped").exists()
        assert not outside.exists()
    finally:
        if outside.exists():
            for p in _files(outside):
                p.unlink()
            for d in sorted(outside.rglob("*"), reverse=True):
                d.rmdir()
            outside.rmdir()


# ------------------------------------------------------------------------------------ R9

def test_r9_import_refuses_the_intake_code_form(env: tuple[TestClient, dict[str, Any]]
                                                ) -> None:
    client, s = env
    csv = HEAD + f"SJ20261205N0020037,water,2026-01-04 05:42,{s['x']},{s['y']},preclaimed\n"
    r = _import(client, s, csv)
    assert r.status_code == 422, r.text  # every row refused
    reason = r.json()["report"]["refused"][0]["reason"]
    assert "reserved for Wangge's own intake" in reason


def test_r9_intake_skips_a_code_already_taken(env: tuple[TestClient, dict[str, Any]]) -> None:
    """Codes of the intake's form stored before the import refused them: reports go on."""
    client, s = env
    assert _report(client, s).status_code == 201
    today = localtime.now()
    with s["engine"].begin() as conn:
        last = conn.execute(text("SELECT last_value FROM pg_sequences WHERE sequencename = "
                                 "'incident_id_seq'")).scalar_one()
        victims = conn.execute(text("SELECT id FROM incident WHERE code LIKE 'SJ%' AND "
                                    "code NOT LIKE 'SJ%N%' ORDER BY id LIMIT 3")).scalars().all()
        taken = [f"SJ{today.astimezone(CST):%Y%m%d}N{int(last) + k:07d}" for k in (1, 3, 4)]
        for vid, code in zip(victims, taken, strict=True):
            conn.execute(text("UPDATE incident SET code = :c WHERE id = :i"),
                         {"c": code, "i": vid})
    got = []
    for _ in range(4):
        r = _report(client, s)
        assert r.status_code == 201, r.text  # was 500 (unique violation) for a taken code
        got.append(r.json()["code"])
    assert not set(got) & set(taken) and len(set(got)) == 4


# ------------------------------------------------------------------------------------ R8

def test_r8_history_import_does_not_rewrite_live_cases(env: tuple[TestClient, dict[str, Any]]
                                                       ) -> None:
    client, s = env
    live = _report(client, s, role="command", description="t", channel="patrol").json()
    with s["engine"].connect() as conn:
        demo = conn.execute(text(
            "SELECT code FROM incident WHERE code LIKE 'SJ%' AND code NOT LIKE 'SJ%N%' AND "
            "status = 'in_progress' ORDER BY id LIMIT 1")).scalar_one()
    before = {c: _case(s, c) for c in (live["code"], demo)}
    csv = HEAD + "".join(f"{c},ebike_charging,2026-01-01 05:42,111.1301,38.4601,overwritten by "
                         "import\n" for c in (live["code"], demo))
    dry = _import(client, s, csv + f"R8-HIST-1,water,2026-01-02 08:00,{s['x']},{s['y']},old\n")
    assert dry.status_code == 200, dry.text
    rep = dry.json()
    assert (rep["new"], rep["updated"], rep["refused_count"]) == (1, 0, 2), rep
    assert {e["code"] for e in rep["refused"]} == {live["code"], demo}
    assert all("live case" in e["reason"] and "reassign" in e["reason"]
               for e in rep["refused"])
    for commit_form in ({}, {"skip_refused": "true"}):
        r = _import(client, s, csv, commit=True, **commit_form)
        assert r.status_code == 422, r.text  # every row refused
    for code, was in before.items():
        now = _case(s, code)
        for k in ("description", "reported_at", "category_code", "channel", "cell_code",
                  "worker_id", "version", "events"):
            assert now[k] == was[k], (code, k)
    # a history row (no case event) is still the history import's to update
    assert _import(client, s, HEAD + f"R8-HIST-2,water,2026-01-02 08:00,{s['x']},{s['y']},a\n",
                   commit=True).json()["new"] == 1
    again = _import(client, s, HEAD + f"R8-HIST-2,water,2026-01-02 08:00,{s['x']},{s['y']},b\n",
                    commit=True).json()
    assert again["committed"] and again["updated"] == 1
    assert _case(s, "R8-HIST-2")["description"] == "b"


def test_r8_history_import_refuses_future_and_pre_2000_times(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    x, y = s["x"], s["y"]
    csv = (HEAD + f"R8-T1,water,2099-12-04 05:42,{x},{y},future\n"
           f"R8-T2,water,1900-01-01 00:00,{x},{y},old\n"
           f"R8-T3,water,2026-01-04 05:42,{x},{y},fine\n")
    rep = _import(client, s, csv).json()
    assert rep["new"] == 1 and rep["refused_count"] == 2, rep
    reasons = {e["code"]: e["reason"] for e in rep["refused"]}
    assert "in the future" in reasons["R8-T1"] and "before 2000" in reasons["R8-T2"]


# ------------------------------------------------------------------------------------ R15

def test_r15_long_photo_name_is_cut_before_anything_is_stored(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    name = "x" * 3000 + ".png"
    r = _report(client, s, description="ph", photos=[
        {"filename": name, "content_base64": base64.b64encode(PNG).decode()}])
    assert r.status_code == 201, r.text
    inc = r.json()
    assert "attachment_errors" not in inc
    stored = inc["attachments"][0]["filename"]
    assert len(stored) <= 200 and stored.endswith(".png") and stored.startswith("xxx")
    # the multipart upload: a long name next to a short one, both kept
    up = client.post(f"/incidents/{inc['id']}/attachments", headers=s["h"]["worker"],
                     files=[("files", ("ok.png", PNG2)), ("files", ("y" * 1500 + ".png", PNG))])
    assert up.status_code == 201, up.text
    assert [len(a["filename"]) <= 200 for a in up.json()["attachments"]] == [True, True]


def test_r15_photo_failure_after_the_case_is_kept_is_listed(
        env: tuple[TestClient, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo whose insert fails: the kept case answers 201 with ``attachment_errors``, and
    no file of a failed insert is left in the store."""
    import psycopg
    from sqlalchemy.exc import DataError

    from geo.incidents import attachments

    client, s = env
    real = attachments.add_event
    calls = {"n": 0}

    def second_fails(*a: Any, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise DataError("INSERT INTO incident_attachment", {},
                            psycopg.DataError("value too long"))
        return real(*a, **kw)

    monkeypatch.setattr(attachments, "add_event", second_fails)
    photos = [{"filename": n, "content_base64": base64.b64encode(d).decode()}
              for n, d in (("a.png", PNG), ("b.png", PNG2))]
    r = _report(client, s, description="ph2", photos=photos)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert [a["filename"] for a in inc["attachments"]] == ["a.png"]
    assert [e["filename"] for e in inc["attachment_errors"]] == ["b.png"]
    folder = s["store"] / "141123" / inc["code"]
    assert len(_files(folder)) == 1  # b.png's file is not there
    # the multipart upload fails as a whole: none of its files stays on disk
    calls["n"] = 0
    up = client.post(f"/incidents/{inc['id']}/attachments", headers=s["h"]["worker"],
                     files=[("files", ("c.png", PNG + b"c")), ("files", ("d.png", PNG + b"d"))])
    assert up.status_code == 422, up.text
    assert len(_files(folder)) == 1


# ------------------------------------------------------------------------------------ R16

def _xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_sheet(data: bytes, change: Any) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = change(body)
            z.writestr(item, body)
    return out.getvalue()


def _bomb(body: bytes) -> bytes:
    ents = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10))
    dtd = (f'<!DOCTYPE worksheet [<!ENTITY l0 "lol">{ents}'
           '<!ENTITY x SYSTEM "file:///etc/passwd">]>').encode()
    head, rest = body.split(b"?>", 1) if body.startswith(b"<?xml") else (b"", body)
    rest = rest.replace(b"<t>", b"<t>&l9;&x;", 1)
    return (head + b"?>" if head else b"") + dtd + rest


def test_r16_unreadable_hotline_files_are_422(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    base = _xlsx([["工单编号", "来电时间", "问题类型", "诉求内容", "经度", "纬度"],
                  ["B1", "2026-01-05 04:00", "water", "停水", s["x"], s["y"]]])
    ok = client.post("/incidents/bulk", headers=s["h"]["command"],
                     files={"file": ("base.xlsx", base)})
    assert ok.status_code == 200 and ok.json()["new"] == 1, ok.text
    broken = _with_sheet(base, lambda b: b[: len(b) // 2])
    lol = _with_sheet(base, _bomb)
    for name, data in (("broken.xlsx", broken), ("lol.xlsx", lol)):
        r = client.post("/incidents/bulk", headers=s["h"]["command"],
                        files={"file": (name, data)})
        assert r.status_code == 422, (name, r.text)
        assert "cannot read the spreadsheet" in r.json()["detail"]
        assert "root:" not in r.text
    r = client.post("/admin/import/incidents", headers=s["h"]["command"],
                    files={"file": ("lol.xlsx", lol)}, data={"as_cases": "true"})
    assert r.status_code == 422 and "cannot read the spreadsheet" in r.json()["detail"], r.text
    big = ("工单编号,来电时间,问题类型,诉求内容,事发地点,来电人,联系电话,经度,纬度\n"
           "A1,2026-01-05 04:00,dispute," + "x" * 2_000_000 + ",,z,139,111.13,38.46\n")
    r = client.post("/incidents/bulk", headers=s["h"]["command"],
                    files={"file": ("e6.csv", big.encode())})
    assert r.status_code == 422 and "cannot parse CSV" in r.json()["detail"], r.text


# ------------------------------------------------------------------------------------ R3

@pytest.mark.parametrize("tz", ["A" * 5000, "America", "Asia/Shanghai/.."])
def test_r3_bad_timezone_on_the_import_form_is_422(env: tuple[TestClient, dict[str, Any]],
                                                  tz: str) -> None:
    client, s = env
    csv = HEAD + f"TZ1,water,2026-01-04 05:42,{s['x']},{s['y']},tz\n"
    r = _import(client, s, csv, timezone=tz)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "timezone" and len(r.text) < 2000
