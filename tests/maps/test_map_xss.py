"""Stored XSS through names (issue 15, finding 8), in headless Chromium.

A copy of the demo where a cell, its village, its worker, a compound, a camera and an open
incident carry markup that would set ``window.__xss`` if it ever ran. A command-centre user logs
in through the browser form and opens each map page; every tooltip and popup is opened (the
mouseover and click a person would make). Nothing may run, the names must show as text, the
map must still draw, and the console must show no error: a CSP violation there would mean the
page's own inline scripts were blocked, or that markup reached the DOM.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import create_database, drop_database, make_settings, serve_in_thread

pytestmark = pytest.mark.browser
CELL = "141123100001001"
USER, PASSWORD = "demo-command", "command-demo-2026"


def payload(tag: str) -> str:
    """Markup that records ``tag`` in ``window.__xss`` if a browser ever runs it."""
    return f"<img src=x onerror=\"window.__xss=(window.__xss||[]).concat('{tag}')\">{tag}"


SCRIPT = "</script><script>window.__xss=['script']</script><!--<script>"


@pytest.fixture(scope="module")
def hostile_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    """A clone of the demo whose names around cell :data:`CELL` are hostile markup."""
    url = create_database(admin_engine, demo_template)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE grid_cell SET name = :n WHERE code = :c"),
                     {"n": payload("cell"), "c": CELL})
        conn.execute(text("UPDATE admin_unit SET name = :n, name_en = :n WHERE code = "
                          "(SELECT parent_code FROM grid_cell WHERE code = :c LIMIT 1)"),
                     {"n": payload("village"), "c": CELL})
        conn.execute(text("UPDATE grid_worker SET name = :n WHERE id IN (SELECT worker_id "
                          "FROM worker_assignment WHERE cell_code = :c)"),
                     {"n": payload("worker"), "c": CELL})
        cell_geom = "(SELECT geom FROM grid_cell WHERE code = :c LIMIT 1)"
        conn.execute(text(f"UPDATE compound SET name = :n, address = :n, company_name = :n "
                          f"WHERE ST_Intersects(geom, {cell_geom})"),
                     {"n": payload("compound"), "c": CELL})
        conn.execute(text(f"UPDATE camera SET name = :n WHERE ST_Intersects(geom, {cell_geom})"),
                     {"n": payload("camera"), "c": CELL})
        conn.execute(text("UPDATE incident SET description = :d, location_text = :n "
                          "WHERE cell_code = :c"),
                     {"d": SCRIPT + payload("incident"), "n": payload("location"), "c": CELL})
    engine.dispose()
    yield url
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def hostile_server(hostile_url: str) -> Iterator[str]:
    """The app on the hostile copy with logins required (no open demo)."""
    with serve_in_thread(make_settings(hostile_url, demo_open=False)) as url:
        yield url


# Opens every tooltip and popup of every layer on the map, as a mouseover and a click would.
OPEN_ALL = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const texts = [];
  map.eachLayer(l => {
    if (!(l instanceof L.Path || l instanceof L.Marker)) { return; }
    const at = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
    l.fire('mouseover', {latlng: at}, true);
    document.querySelectorAll('.leaflet-tooltip').forEach(e => texts.push(e.textContent));
    l.fire('mouseout', {latlng: at}, true);
    l.fire('click', {latlng: at}, true);
    document.querySelectorAll('.leaflet-popup-content').forEach(e => texts.push(e.textContent));
    map.closePopup();
  });
  return texts.filter(t => t.includes('onerror='));
}"""


@pytest.fixture(scope="module")
def context(browser: Any, hostile_server: str) -> Iterator[Any]:
    """A browser context logged in as the command centre through the login form."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    page = ctx.new_page()
    page.goto(hostile_server + "/login?next=/health")
    page.fill("#u", USER)
    page.fill("#p", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/health"), page.url
    page.close()
    yield ctx
    ctx.close()


@pytest.mark.parametrize("path,shown", [
    ("/maps/dispatch?from=2026-10-01&to=2026-10-30", ("cell", "village", "worker", "incident")),
    (f"/maps/cells/{CELL}", ("cell", "village", "worker", "compound", "camera", "incident",
                             "location")),
    ("/maps/coverage/cameras?unit=cell&k=3&from=2026-07-31&to=2026-10-30", ("cell",)),
    ("/maps/coverage/cameras?unit=community&k=0&hotspots=false", ("village",)),
    ("/maps/coverage/property?unit=cell", ("cell", "compound")),
])
def test_hostile_names_show_as_text_and_never_run(context: Any, hostile_server: str, path: str,
                                                  shown: tuple[str, ...]) -> None:
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))

    def route(r: Any) -> None:
        if r.request.url.startswith(hostile_server + "/") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    resp = page.goto(hostile_server + path)
    assert resp is not None and resp.status == 200
    csp = resp.headers["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    page.wait_for_load_state("networkidle")
    # every overlay on (per-cell counts, heat, the bbox layer ...), then every tooltip/popup
    for box in page.query_selector_all(".leaflet-control-layers-overlays input"):
        if not box.is_checked():
            box.check()
    page.wait_for_load_state("networkidle")
    texts = page.evaluate(OPEN_ALL)
    page.wait_for_timeout(500)  # an <img src=x> would fail to load and fire onerror by now
    assert page.evaluate("() => window.__xss") is None
    seen = " ".join(texts)
    for tag in shown:  # the hostile names are there, as text
        assert payload(tag) in seen, (tag, seen[:500])
    assert page.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0
    assert page.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length") > 5
    assert page.evaluate("() => document.querySelectorAll('.wangge-legend').length") == 1
    assert errors == [] and blocked == [], (errors, blocked)
    page.close()
