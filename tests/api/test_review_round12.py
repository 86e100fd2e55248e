"""Outside review, round 12 (helper-53), the low findings about audit filing and users:

- L1: the dispatch map's case panel (``/maps/dispatch/case/{code}?unmask=true``) filed its
  ``read_personal`` row under the caller's default county (兴县) with a 临县 case code in its
  path; a code spelt with %-escapes in a query was not blanked.
- ``wangge users add --region 999999`` made a user no county's admin sees; ``--scope`` of a
  prefecture that does not hold the user's county was accepted and did nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.cli import main as cli
from api.main import create_app
from geo.auth.audit import AuditEntry, filed_by_county
from geo.demo.grid_county import PREFECTURE_USER
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, cell_point, two_county_fixture

two_counties = two_county_fixture()


@pytest.fixture(scope="module")
def cases(two_counties: tuple[str, Engine]) -> dict[str, Any]:
    url, engine = two_counties
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        pref = bearer_for(engine, PREFECTURE_USER[0])
        out = {}
        for region in (LIN, XING):
            lon, lat = cell_point(engine, region)
            r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                            headers=pref)
            assert r.status_code == 201, r.text[:300]
            out[region] = r.json()
    return out


@pytest.mark.parametrize("path", ["/maps/dispatch/case/{code}", "/incidents/{code}",
                                  "/ogc/collections/incidents/items/{id}",
                                  "/open311/v2/requests/{code}.json"])
def test_a_case_in_the_path_files_the_row_under_its_county(
        two_counties: tuple[str, Engine], cases: dict[str, Any], path: str) -> None:
    lin = cases[LIN]
    with two_counties[1].connect() as conn:
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal", region_code=XING, query="unmask=true",
            path=path.format(code=lin["code"], id=lin["id"])))
    assert [r.region_code for r in rows] == [LIN], rows


def test_a_code_spelt_with_escapes_is_blanked_too(
        two_counties: tuple[str, Engine], cases: dict[str, Any]) -> None:
    lin, xing = cases[LIN]["code"], cases[XING]["code"]
    spelt = "%" + format(ord(lin[0]), "X") + lin[1:]  # SJ... as %53J...
    with two_counties[1].connect() as conn:
        rows = filed_by_county(conn, AuditEntry(
            action="read_personal", region_code=XING, query=f"a={spelt}&b={xing}"))
    got = {r.region_code: unquote_plus(r.query or "") for r in rows}
    assert lin not in got[XING] and xing in got[XING], got
    assert lin in got[LIN] and xing not in got[LIN], got


def test_users_belong_to_a_county_of_the_installation(
        two_counties: tuple[str, Engine]) -> None:
    env = {"WANGGE_DATABASE_URL": two_counties[0]}
    res = CliRunner().invoke(cli, ["users", "add", "r12-nowhere", "--role", "viewer",
                                   "--region", "999999"], env=env)
    assert res.exit_code != 0 and "unknown region 999999" in res.output, res.output
    res = CliRunner().invoke(cli, ["users", "add", "r12-elsewhere", "--role", "command",
                                   "--region", LIN, "--scope", "141000"], env=env)
    assert res.exit_code != 0 and "is not within 141000" in res.output, res.output
    res = CliRunner().invoke(cli, ["users", "add", "r12-pref", "--role", "command",
                                   "--region", LIN, "--scope", "141100"], env=env)
    assert res.exit_code == 0, res.output


def test_targets_of_a_county_without_compounds_have_no_data(
        two_counties: tuple[str, Engine]) -> None:
    """临县's demo has no compounds: its property-management targets are 无数据, not 已达标
    with 0 % managed (walk 12)."""
    url, engine = two_counties
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        r = client.get("/analysis/property-management", params={"region": LIN},
                       headers=bearer_for(engine, PREFECTURE_USER[0]))
    assert r.status_code == 200, r.text[:300]
    summary = r.json()["summary"]
    assert summary["compounds"] == 0, summary
    results = [t["result"] for t in summary["targets"]]
    assert results and set(results) == {"no_data"}, summary
    assert summary["no_unmanaged_urban"]["result"] == "no_data", summary
