"""Outside review, round 7, the findings left open (issue 15): refused writes whose body holds
a lone surrogate lost their audit record; ``POST /incidents`` at (0, 0) answered 422 but kept a
case; phone numbers in other dress escaped the free-text mask; a county user naming another
county got ``200 []`` on some ways in and 403 on others; the router's 404 and the JSON parse
error spoke English only.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import own_demo_client


@pytest.fixture(scope="module")
def demo(admin_engine: Engine, demo_template: str) -> Any:
    with own_demo_client(admin_engine, demo_template) as (client, env):
        yield client, env


def _login(client: Any, role: str) -> dict[str, str]:
    from geo.demo.users import DEMO_USERS

    user, pw, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _count(env: dict[str, Any], sql: str, **params: Any) -> int:
    with env["engine"].connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_a_refused_write_with_a_lone_surrogate_is_still_audited(demo: Any) -> None:
    client, env = demo
    hdr = _login(client, "worker")
    audit = "SELECT count(*) FROM audit_log WHERE method = 'POST' AND path = '/incidents'"
    before = _count(env, audit)
    r = client.post("/incidents", content='{"category": "water", "region": "\\ud800", '
                    '"lon": 111.1, "lat": 38.5}',
                    headers={**hdr, "Content-Type": "application/json"})
    assert r.status_code in (403, 422), r.text
    assert _count(env, audit) == before + 1
    with env["engine"].connect() as conn:
        detail = conn.execute(text(
            "SELECT coalesce(detail::text, '') || coalesce(region_code, '') FROM audit_log "
            "WHERE method = 'POST' AND path = '/incidents' ORDER BY id DESC LIMIT 1")).scalar()
    assert "\ud800" not in (detail or "")


def test_storable_replaces_what_postgres_refuses() -> None:
    from geo.auth.audit import storable

    assert storable({"a": "x\ud800\x00", "b": ["\udfff", 1]}) == {
        "a": "x\ufffd\ufffd", "b": ["\ufffd", 1]}


@pytest.mark.parametrize(("lon", "lat", "why"), [
    (0.0, 0.0, "不在中国境内"),          # a phone without a fix
    (111.5, 38.2, "公里"),              # 9.5 km outside Xing County
])
def test_a_point_that_is_no_place_of_the_county_is_refused_and_nothing_kept(
        demo: Any, lon: float, lat: float, why: str) -> None:
    client, env = demo
    hdr = _login(client, "command")
    before = _count(env, "SELECT count(*) FROM incident")
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat,
                                        "description": "定位错误"}, headers=hdr)
    assert r.status_code == 422, r.text
    assert why in r.json()["detail"] and "incident" not in r.json()
    assert _count(env, "SELECT count(*) FROM incident") == before


def test_a_point_just_outside_every_cell_is_kept_for_the_command_centre(demo: Any) -> None:
    """Within NEAR_REGION_M of the county (a GPS error, a case over the county line) the
    report is kept as needs_location, as before."""
    from geo.incidents.routing import NEAR_REGION_M

    client, env = demo
    hdr = _login(client, "command")
    with env["engine"].connect() as conn:
        lon, lat = conn.execute(text(
            "WITH c AS (SELECT ST_Union(geom) g FROM admin_unit "
            "WHERE region_code = '141123' AND level = 'county'), "
            "p AS (SELECT ST_PointOnSurface(ST_Difference(ST_Buffer(g::geography, :m)::geometry, "
            "ST_Buffer(g::geography, 200)::geometry)) q FROM c) "
            "SELECT ST_X(q), ST_Y(q) FROM p"), {"m": NEAR_REGION_M / 2}).one()
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                    headers=hdr)
    assert r.status_code == 422, r.text
    assert r.json()["incident"]["status"] == "needs_location"


@pytest.mark.parametrize("written", [
    "电话一三八一二三四五六七八",          # Chinese numerals
    "电话幺三八 一二三四 五六七八",        # 幺 for 1, grouped
    "电话138\u200b1234\u200d5678",      # zero-width characters between the digits
    "电话138\u00ad12345678",            # a soft hyphen
    "电话١٣٨١٢٣٤٥٦٧٨",                 # Arabic-Indic digits
    "电话𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",                 # mathematical bold digits
    "电话①③⑧①②③④⑤⑥⑦⑧",                 # circled digits
    "电话138·1234·5678",                # a middle dot
    "电话138~1234~5678",
    "电话138\u20101234\u20105678",      # the Unicode hyphen
    "电话138一二三四五六七八",              # digits and Chinese numerals mixed (round 8)
    "电话138／1234／5678",               # full-width slashes (round 8)
    "电话138 - 1234 - 5678",             # round 9: any short run of punctuation between
    "电话138，1234，5678",
    "电话138、1234、5678",
    "电话138(1234)5678",
    "电话138：1234：5678",
    "电话138'1234'5678",
    "电话138#1234#5678",
])

def test_phone_numbers_in_other_dress_are_masked(written: str) -> None:
    from geo.auth.principal import mask_personal_text

    assert mask_personal_text(written) == "电话138****5678"


def test_two_numbers_in_one_list_are_each_masked() -> None:
    from geo.auth.principal import mask_personal_text

    assert mask_personal_text("136,5555,4444,137,6666,5555") == "136****4444,137****5555"
    for plain in ("金额1,234,567元", "坐标111.1234,38.4567", "共3, 5, 7户", "2026-11-05 12:30"):
        assert mask_personal_text(plain) == plain


def test_ordinary_text_is_left_alone_by_the_mask() -> None:
    from geo.auth.principal import mask_personal_text

    for plain in ("三三两两一二三", "一二三四五六七八九十", "⑩号楼", "家庭👨\u200d👩\u200d👧",
                  "2026-01-01 面积120.5", "网格141123100007005"):
        assert mask_personal_text(plain) == plain
    assert mask_personal_text("身份证一四二三〇一一九九〇〇一〇一一二三X") == (
        "身份证142301********123X")


def test_the_mask_reaches_the_api(demo: Any) -> None:
    """A phone in Chinese numerals in a description is masked for a role that gets masking."""
    client, env = demo
    cmd = _login(client, "command")
    r = client.post("/incidents", json={
        "category": "water", "lon": env["x"], "lat": env["y"],
        "description": "漏水, 户主电话幺三八一二三四五六七八"}, headers=cmd)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    clear = client.get(f"/incidents/{code}", params={"unmask": "true"}, headers=cmd)
    assert "幺三八一二三四五六七八" in clear.json()["description"]
    worker = client.get(f"/incidents/{code}", headers=_login(client, "worker"))
    assert worker.status_code == 200, worker.text
    assert "138****5678" in worker.json()["description"]


def test_another_county_is_refused_alike_on_every_way_in(demo: Any) -> None:
    """Generated from the routes: every GET without path parameters that takes ``region``
    refuses a county user naming a county outside her scope with 403 (never 200 with an empty
    answer). Routes that answer public data by the point (``/cells/at``) are listed."""
    client, _env = demo
    with _env["engine"].begin() as conn:  # a county of this installation, not of hers
        conn.execute(text("INSERT INTO region (code, region_code, name) VALUES "
                          "('141124', '141124', '临县') ON CONFLICT DO NOTHING"))
    spec = client.get("/openapi.json").json()
    hdr = _login(client, "command")
    public_by_point = {"/cells/at", "/cells/at/batch", "/lookup"}
    examples = {"from": "2026-11-01", "to": "2026-11-30", "month": "2026-11",
                "lon": _env["x"], "lat": _env["y"], "category": "water",
                "bbox": "111.0,38.3,111.3,38.6"}
    checked = []
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if not op or "{" in path or path in public_by_point:
            continue
        params = op.get("parameters", [])
        if not any(p.get("name") == "region" and p.get("in") == "query" for p in params):
            continue
        required = {p["name"] for p in params if p.get("required")} - {"region"}
        if required - set(examples):
            continue  # a parameter this test cannot fill would answer 422 first
        r = client.get(path, params={"region": "141124",
                                     **{k: examples[k] for k in required}}, headers=hdr)
        checked.append(path)
        assert r.status_code == 403, (path, r.status_code, r.text[:200])
    for must in ("/incidents", "/kpi", "/board", "/incidents/nearby", "/maps/data/incidents",
                 "/reports/monthly"):
        assert must in checked, checked


def test_router_answers_and_parse_errors_are_chinese_first(demo: Any) -> None:
    client, _env = demo
    r = client.get("/m/nope")
    assert r.status_code == 404 and r.json()["detail"].startswith("没有这个地址")
    assert client.delete("/health").json()["detail"].startswith("此地址不接受")
    bad = client.post("/auth/login", content="{bad", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422
    assert "请求体不是有效的 JSON" in bad.json()["detail"]
    assert bad.json()["errors"][0]["field"] == "body"
    short = client.post("/auth/login", json={})
    assert "缺少必填项" in short.json()["detail"]


def test_a_query_shape_beyond_the_vertex_limit_is_refused_before_the_database(
        demo: Any) -> None:
    """Review R11: a 200,000-vertex intersects query cost 2-4 s of database time, anonymous."""
    import math

    from geo.layers.spatial import MAX_QUERY_VERTICES

    client, env = demo

    def circle(n: int) -> dict[str, Any]:
        ring = [[env["x"] + 0.05 * math.cos(2 * math.pi * i / n),
                 env["y"] + 0.05 * math.sin(2 * math.pi * i / n)] for i in range(n)]
        return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}

    client.cookies.clear()  # anonymous: no login cookie from the tests above
    big = client.post("/spatial/cells/intersects",
                      json={"geometry": circle(MAX_QUERY_VERTICES + 10)})
    assert big.status_code == 413, big.text[:300]
    assert "简化" in big.json()["detail"] and "/spatial/inside/" in big.json()["detail"]
    fine = client.post("/spatial/cells/intersects", json={"geometry": circle(5000)})
    assert fine.status_code == 200 and fine.json()["numberMatched"] > 0, fine.text[:300]


@pytest.mark.parametrize("extreme", ["0001-01-01", "9999-12-31"])
def test_no_date_parameter_overflows(demo: Any, extreme: str) -> None:
    """Review round 8: five GETs answered 500 (OverflowError) for the year 1 or 9999
    (/maps/coverage/patrols?to=, /analysis/patrols?to=, Open311 end_date=). Generated from the
    OpenAPI: every date or date-time query parameter of every GET without path parameters,
    alone and with the other date parameters at the same extreme, as the command centre."""
    client, env = demo
    hdr = _login(client, "command")
    spec = client.get("/openapi.json").json()
    examples = {"from": "2026-11-01", "to": "2026-11-30", "month": "2026-11",
                "lon": env["x"], "lat": env["y"], "category": "water",
                "bbox": "111.0,38.3,111.3,38.6"}
    tried = 0
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if not op or "{" in path:
            continue
        params = op.get("parameters", [])

        def is_date(p: dict[str, Any]) -> bool:
            schemas = [p.get("schema", {})] + p.get("schema", {}).get("anyOf", [])
            return any(s.get("format") in ("date", "date-time") for s in schemas) or (
                p["name"] in ("from", "to", "start_date", "end_date", "as_of", "datetime"))

        dates = [p["name"] for p in params if p.get("in") == "query" and is_date(p)]
        required = {p["name"] for p in params if p.get("required")} - set(dates)
        if not dates or required - set(examples):
            continue
        base = {k: examples[k] for k in required}
        value = extreme + ("T00:00:00Z" if extreme else "")
        for name in [*dates, None]:
            chosen = dates if name is None else [name]
            for text_value in (extreme, value):
                q = {**base, **dict.fromkeys(chosen, text_value)}
                r = client.get(path, params=q, headers=hdr)
                tried += 1
                assert r.status_code < 500, (path, q, r.status_code, r.text[:300])
    assert tried >= 40, tried


def test_group_by_county_takes_no_region(demo: Any) -> None:
    """Review round 8 L4: /kpi?group_by=county&region=141124 answered region_code 141124 while
    grouping every county; a grouping by county is about the whole scope."""
    client, _env = demo
    hdr = _login(client, "command")
    for path in ("/kpi?from=2026-10-01&to=2026-11-01", "/board?period=all"):
        r = client.get(f"{path}&group_by=county&region=141123", headers=hdr)
        assert r.status_code == 422 and r.json()["field"] == "region", (path, r.text[:200])
        assert client.get(f"{path}&group_by=county", headers=hdr).status_code == 200, path
