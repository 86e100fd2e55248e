"""Issue 18 item 3: the one incident layer stays interactive with many incidents in view.

A vector tile holding more than ``Wangge.CANVAS_FROM`` incidents is drawn on a canvas (one
element per tile, not one per incident); its incidents are drawn closed first and overdue last
(on top), and a click on an incident opens that case. Here the threshold is lowered in the page
so that the demo's county seat at zoom 13 is drawn on canvases (the 100,000-incident view of
``scripts/bench/maps.py`` gets there by itself).
"""

from __future__ import annotations

from typing import Any

from tests.maps.test_dispatch_live import SEAT, Session, live_db, server  # noqa: F401

TILES = """() => {
  let vg = null;
  for (const k in window) { if (window[k] instanceof L.Map) {
    window[k].eachLayer(l => { if (l._vectorTiles) { vg = l; } }); } }
  const order = ['closed', 'open', 'urgent', 'overdue'], out = [];
  for (const key in vg._vectorTiles) {
    const r = vg._vectorTiles[key];
    const ranks = Object.values(r._features).map(f => {
      const c = (f.feature.options.className || '').split(' ');
      let k = order.indexOf(c[1]);
      if (c.includes('urgent') && c[1] !== 'closed') { k = Math.max(k, 2); }
      return k; });
    let sorted = true;
    for (let i = 1; i < ranks.length; i++) { if (ranks[i] < ranks[i - 1]) { sorted = false; } }
    out.push({key, canvas: r.getContainer().tagName === 'CANVAS', n: ranks.length, sorted});
  }
  return out;
}"""
# an overdue incident of a canvas tile drawn in the middle of the view: its page position
OVERDUE_AT = """() => {
  let vg = null, map = null;
  for (const k in window) { if (window[k] instanceof L.Map) { map = window[k];
    map.eachLayer(l => { if (l._vectorTiles) { vg = l; } }); } }
  const size = vg.getTileSize(), box = map.getContainer().getBoundingClientRect();
  let best = null;
  for (const key in vg._vectorTiles) {
    const r = vg._vectorTiles[key], [x, y, z] = key.split(':').map(Number);
    if (r.getContainer().tagName !== 'CANVAS') { continue; }
    const fs = Object.values(r._features);
    const f = fs[fs.length - 1];  // the last drawn: on top
    if (!f.feature.options.className.includes('overdue')) { continue; }
    const p = map.latLngToContainerPoint(map.unproject(
      L.point(x * size.x + f.feature._point.x, y * size.y + f.feature._point.y), z));
    if (p.x < 100 || p.y < 100 || p.x > box.width - 100 || p.y > box.height - 100) { continue; }
    best = {x: box.x + p.x, y: box.y + p.y, code: f.feature.properties.code};
  }
  return best;
}"""


def test_dense_tiles_drawn_on_canvas_in_order_and_clickable(server: str,  # noqa: F811
                                                            browser: Any) -> None:
    s = Session(browser, server, "command", {"width": 1280, "height": 860})
    m = s.open_map("from=2025-01-01&to=2026-10-31")
    page = s.page
    page.evaluate("() => { Wangge.CANVAS_FROM = 300; }")
    page.evaluate(f"() => window['{m}'].setView([{SEAT[1]}, {SEAT[0]}], 13, {{animate: false}})")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-pane canvas').length > 0",
                           timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    tiles = page.evaluate(TILES)
    dense = [t for t in tiles if t["n"] > 300]
    assert dense and all(t["canvas"] for t in dense), tiles  # many: a canvas
    assert all(not t["canvas"] for t in tiles if t["n"] <= 300), tiles  # few: SVG as before
    assert all(t["sorted"] for t in tiles), tiles  # closed first, overdue last (on top)
    # as many SVG incident elements as the few tiles hold, none for the dense ones
    assert page.evaluate("() => document.querySelectorAll('path.wangge-vt-incident').length") \
        == sum(t["n"] for t in tiles if not t["canvas"])
    at = page.evaluate(OVERDUE_AT)
    assert at, tiles
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName",
                         [at["x"], at["y"]]) == "CANVAS"
    page.mouse.click(at["x"], at["y"])
    page.wait_for_selector(".wangge-popup", timeout=10_000)
    assert at["code"] in page.inner_text(".wangge-popup")  # the case on top answers the click
    assert not s.errors, s.errors
    s.close()
