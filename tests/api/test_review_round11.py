"""Outside review, round 11 (helper-48), the low findings:

- N-A: the free-text mask wrote Chinese numerals next to a phone number as digits
  (``张三 138-1234-5678`` came out as ``张3 138****5678``).
- N-B: a prefecture read's audit row was filed under one county while its query string named
  the other county's cases, which that county's admin then read.
- N-C: ``wangge users add/disable/enable`` wrote audit rows with no county, which every
  county's admin saw.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus, urlencode

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.cli import main as cli
from api.main import create_app
from geo.auth.audit import AuditEntry, filed_by_county
from geo.demo.grid_county import PREFECTURE_USER
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, cell_point, two_county_fixture

two_counties = two_county_fixture()


@pytest.mark.parametrize(("written", "masked"), [
    ("张三 138-1234-5678", "张三 138****5678"),
    ("三 13812345678 二", "三 138****5678 二"),
    ("二 一四二三〇一一九九〇〇一〇一一二三四", "二 142301********1234"),
    ("王五 〇三五八-12345678", "王五 0358-****5678"),
    # the number itself still comes out in digits
    ("电话一三八一二三四五六七八", "电话138****5678"),
    ("共3, 一三八一二三四五六七八", "共3, 138****5678"),
])
def test_chinese_numerals_around_a_masked_number_are_kept(written: str, masked: str) -> None:
    from geo.auth.principal import mask_personal_text

    assert mask_personal_text(written) == masked


def _case(client: TestClient, engine: Engine, region: str, auth: dict[str, str]) -> Any:
    lon, lat = cell_point(engine, region)
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                    headers=auth)
    assert r.status_code == 201 and r.json()["region_code"] == region, r.text[:300]
    return r.json()


def test_a_query_naming_cases_is_filed_under_their_counties_only(
        two_counties: tuple[str, Engine]) -> None:
    url, engine = two_counties
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        pref = bearer_for(engine, PREFECTURE_USER[0])
        lin, xing = _case(client, engine, LIN, pref), _case(client, engine, XING, pref)
    with engine.connect() as conn:
        # the header row of an unmasked read, filed under the caller's default county (兴县),
        # whose query names a 临县 case: 临县's row, not 兴县's
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal", region_code=XING, query=f"unmask=true&q={lin['code']}"))
        assert [(r.region_code, r.query) for r in rows] == [
            (LIN, f"unmask=true&q={lin['code']}")]
        # both counties' cases: one row each, the other county's code blanked
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal", region_code=XING,
            query=f"unmask=true&q={lin['code']},{xing['code']}&limit=100"))
        got = {r.region_code: r.query for r in rows}
        assert got == {LIN: f"unmask=true&q={lin['code']},***&limit=100",
                       XING: f"unmask=true&q=***,{xing['code']}&limit=100"}, got
        # a record about a case goes by that case; its query's other codes are blanked
        # (the query as the request carried it, URL-encoded)
        where = urlencode({"where": f"code IN ('{lin['code']}', '{xing['code']}')"})
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal_items", region_code=XING, query=where,
            detail={"incident_ids": [xing["id"]]}))
        assert [(r.region_code, unquote_plus(r.query or "")) for r in rows] == [
            (XING, f"where=code IN ('***', '{xing['code']}')")]
        # words that name no case leave the row as it was
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal", region_code=XING, query="unmask=true&limit=100&cell=abcdef"))
        assert [r.region_code for r in rows] == [XING]


def test_cli_user_changes_are_filed_under_the_users_county(
        two_counties: tuple[str, Engine]) -> None:
    url, engine = two_counties
    env = {"WANGGE_DATABASE_URL": url}
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    for args in (["users", "add", "r11-lin-viewer", "--role", "viewer", "--region", LIN],
                 ["users", "disable", "r11-lin-viewer"], ["users", "enable", "r11-lin-viewer"]):
        res = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT action, region_code FROM audit_log WHERE id > :a AND object_id = :u "
            "ORDER BY id"), {"a": before, "u": "r11-lin-viewer"}).all()
    assert [tuple(r) for r in rows] == [("user_add", LIN), ("user_disable", LIN),
                                        ("user_enable", LIN)], rows
    # and 兴县's admin does not see them
    from geo.auth.audit import query_audit

    with engine.connect() as conn:
        seen = query_audit(conn, region_codes=frozenset({XING}), limit=1000)
    assert not any(r.get("object_id") == "r11-lin-viewer" for r in seen["items"]), seen
