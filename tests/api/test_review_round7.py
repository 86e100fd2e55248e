"""Outside review, round 7 (helper-35): notes without a length limit, bidi controls in notes.

A 3,000,000-character note was stored and then served to everyone who opened the case (9 MB
per read, the phone app included); U+202E was refused in descriptions but kept in notes. Every
step's note is now checked in the one place case events are written
(``geo.incidents.cases.add_event``). The cross-county ``/incidents/nearby`` finding is tested
with two counties in ``tests/api/test_region_onboarding.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from geo.incidents.cases import MAX_NOTE
from tests.conftest import own_demo_client


@pytest.fixture(scope="module")
def demo(admin_engine: Engine, demo_template: str) -> Any:
    with own_demo_client(admin_engine, demo_template) as (client, env):
        yield client, env


def _command(client: Any) -> dict[str, str]:
    from geo.demo.users import DEMO_USERS

    user, pw, _ = DEMO_USERS["command"]
    r = client.post("/auth/login", json={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_notes_are_bounded_and_plain(demo: Any) -> None:
    client, env = demo
    hdr = _command(client)
    with env["engine"].connect() as conn:
        code = conn.execute(text("SELECT code FROM incident WHERE status = 'reported' "
                                 "ORDER BY id LIMIT 1")).scalar_one()
        before = conn.execute(text("SELECT count(*) FROM incident_event")).scalar_one()
    long_note = client.post(f"/incidents/{code}/notes", json={"note": "长" * (MAX_NOTE + 1)},
                            headers=hdr)
    assert long_note.status_code == 422, long_note.text
    assert str(MAX_NOTE) in long_note.json()["detail"] and long_note.json()["field"] == "note"
    bidi = client.post(f"/incidents/{code}/notes", json={"note": "已联系\u202e户主"},
                       headers=hdr)
    assert bidi.status_code == 422 and "U+202E" in bidi.json()["detail"]
    closing = client.post(f"/incidents/{code}/transition",
                          json={"to": "registered", "note": "x" * (MAX_NOTE + 1)}, headers=hdr)
    assert closing.status_code == 422, closing.text
    with env["engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_event")).scalar_one() == before
        assert conn.execute(text("SELECT status FROM incident WHERE code = :c"),
                            {"c": code}).scalar_one() == "reported"  # nothing half-written
    ok = client.post(f"/incidents/{code}/notes", json={"note": "长" * MAX_NOTE}, headers=hdr)
    assert ok.status_code in (200, 201), ok.text
