"""Uploads (review findings): commit is also read from the query, never silently ignored; an
unreadable file's error names the file as it was sent, not the server's temporary folder."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def _compounds(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM compound")).scalar_one())


def test_commit_in_the_query_is_read_and_a_contradiction_refused(
    client: Any, demo_engine: Engine,
) -> None:
    csv = "工单编号,来电时间,问题类型,诉求内容,事发地点\nQ1,2026-12-01 10:00,占道经营,x,无此地点\n"
    files = {"file": ("hotline.csv", csv.encode())}
    # form and query disagree: refused, nothing written
    r = client.post("/incidents/bulk", params={"commit": "true"}, data={"commit": "false"},
                    files=files)
    assert r.status_code == 422 and "commit" in r.text, r.text
    # the query alone is read (a dry run would answer committed: false)
    before = _compounds(demo_engine)
    r = client.post("/admin/import/compounds", params={"commit": "false"},
                    files={"file": ("c.geojson", b'{"type":"FeatureCollection","features":[]}')})
    assert r.status_code in (200, 422), r.text
    assert r.json().get("committed") in (False, None)
    assert _compounds(demo_engine) == before


def test_unreadable_upload_does_not_name_the_server_folder(client: Any) -> None:
    for name, body in (("broken.gpkg", b"not a geopackage"), ("broken.geojson", b"{oops"),
                       ("broken.zip", b"PK\x03\x04garbage"), ("破损.kml", b"<kml><oops")):
        r = client.post("/admin/import/compounds", files={"file": (name, body)})
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:200])
        assert "wangge_upload_" not in r.text and "/tmp" not in r.text, (name, r.text[:300])
