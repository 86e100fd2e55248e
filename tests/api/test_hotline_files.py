"""12345 files as they really come (issue 19, item 2, part): the headers hotline systems use
(诉求类型, 受理时间, 诉求地址, 诉求人 ...), Excel-style times (2026/12/4 10:20:00), the
source's own category labels mapped (category_map, also on the CLI) and unknown labels filed
as 待分类 for the command centre (never a refused row), who classifies them with reassign."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import own_demo_client


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        with s["engine"].connect() as conn:
            s["compound"] = conn.execute(text(
                "SELECT name FROM compound WHERE entrance IS NOT NULL ORDER BY length(name) "
                "DESC, code LIMIT 1")).scalar_one()
        yield client, {**s, "h": role_headers}


def _csv(compound: str, prefix: str) -> bytes:
    rows = ["工单编号,诉求类型,受理时间,诉求地址,诉求人,诉求人电话,诉求内容",
            f"{prefix}1,电瓶车充电,2026/12/4 10:20:00,{compound} 3号楼,张三,13800001111,楼道充电",
            f"{prefix}2,占用消防通道,2026年12月4日 9:05,{compound},李四,13800002222,通道堵塞",
            f"{prefix}3,共享单车乱停,2026-12-04T08:00:00+08:00,{compound},王五,13800003333,乱停"]
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_hotline_headers_times_map_and_unclassified(env: tuple[TestClient, dict[str, Any]]
                                                    ) -> None:
    client, s = env
    r = client.post("/incidents/bulk", headers=s["h"]["command"],
                    files={"file": ("12345.csv", _csv(s["compound"], "GD-A"))},
                    data={"commit": "true", "category_map": "电瓶车充电=ebike_charging"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["new"] == 3 and not report["refused"], report
    assert any("待分类" in n and "共享单车乱停" in n for n in report["notes"])
    with s["engine"].connect() as conn:
        got = {ref: (cat, when) for ref, cat, when in conn.execute(text(
            "SELECT routing->>'source_ref', category_code, "
            "to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') "
            "FROM incident WHERE routing->>'source_ref' LIKE 'GD-A%'"))}
        label = conn.execute(text(
            "SELECT routing->'category_label'->>'label', code FROM incident "
            "WHERE routing->>'source_ref' = 'GD-A3'")).one()
    assert got == {"GD-A1": ("ebike_charging", "2026-12-04 10:20"),
                   "GD-A2": ("fire_lane_blocked", "2026-12-04 09:05"),
                   "GD-A3": ("unclassified", "2026-12-04 08:00")}
    assert label[0] == "共享单车乱停"
    # the command centre classifies the case; the department follows the category
    r = client.post(f"/incidents/{label[1]}/reassign", headers=s["h"]["command"],
                    json={"category_code": "city_appearance", "note": "归类"})
    assert r.status_code == 200, r.text
    assert r.json()["category"] == "city_appearance" and r.json()["department_code"]
    assert r.json()["category_name"] == "市容环境"
    # a map naming an unknown code is refused plainly
    r = client.post("/incidents/bulk", headers=s["h"]["command"],
                    files={"file": ("12345.csv", _csv(s["compound"], "GD-B"))},
                    data={"category_map": "电瓶车充电=no_such_code"})
    assert r.status_code == 422 and "no_such_code" in r.text


def test_cli_incidents_import_has_the_category_map(env: tuple[TestClient, dict[str, Any]],
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import main

    _client, s = env
    path = tmp_path / "12345.csv"
    path.write_bytes(_csv(s["compound"], "GD-C"))
    monkeypatch.setenv("WANGGE_DATABASE_URL", s["engine"].url.render_as_string(
        hide_password=False))
    out = CliRunner().invoke(main, ["incidents", "import", str(path), "--category-map",
                                    "电瓶车充电=ebike_charging"])
    assert out.exit_code == 0, out.output
    assert "待分类" in out.output and "refused: 0" in out.output.replace("拒绝 refused", "refused")
