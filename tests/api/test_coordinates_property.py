"""Property-based tests (hypothesis) of every geometry and coordinate parameter of the API.

For each way a position or box comes in (``/cells/at`` single and batch, spatial within /
nearest / intersects, OGC ``bbox``/``bbox-crs``/``filter-crs``, export ``bbox``, the dispatch
map's view ``bbox``, ``/me/incidents``, the cell map, a new incident's point), random
numbers (NaN, inf, 1e10, 1e308, swapped axes, degrees given to a metric CRS, metres given to
a geographic one) in random CRSs: every answer is a 2xx or a 4xx with a Chinese / English
message; never a 5xx. Writes (``POST /incidents``) run on a private clone of the demo.

Budget: ``WANGGE_PROPERTY_EXAMPLES`` examples per test (default 60, CI-sized);
``scripts/fuzz.sh`` runs them with a larger one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.conftest import create_database, drop_database, make_settings

EXAMPLES = int(os.environ.get("WANGGE_PROPERTY_EXAMPLES", "60"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.function_scoped_fixture])
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRSS = ["EPSG:4490", "EPSG:4326", "EPSG:3857", "EPSG:4546", "EPSG:4547", "EPSG:4513", "GCJ02",
        "BD09", "EPSG:2385", "CRS84", "EPSG:0", ""]

# Numbers: in the county (degrees and both metric systems), swapped axes, wrong units,
# non-finite and absurd magnitudes.
number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e8, 1e8, allow_nan=False),
    st.sampled_from([111.13, 38.46, 500000.0, 4262998.0, 12371000.0, 4640000.0, 1e10, -1e10,
                     1e308, -1e308, 0.0, 90.0, -90.0, 180.0, 180.0000001, 37500000.0,
                     float("nan"), float("inf"), -float("inf")]),
)
# How a number goes over the wire: JSON can only carry finite ones, a query carries text.
def _text(v: float) -> str:
    return repr(v) if math.isfinite(v) else str(v)


position = st.tuples(number, number)
box = st.lists(number, min_size=4, max_size=4)


def _ok(r: Any, what: Any) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:400])
    if r.status_code >= 400 and "json" in r.headers.get("content-type", ""):
        detail = r.json().get("detail")
        assert detail, (what, r.text[:300])
        if isinstance(detail, str):
            assert " / " in detail, (what, detail)


@pytest.fixture(scope="module")
def private(admin_engine: Engine, demo_template: str) -> Iterator[Any]:
    """A client on a private demo clone (writes stay out of the shared demo database)."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    url = create_database(admin_engine, template=demo_template)
    with TestClient(create_app(make_settings(url))) as c:
        yield c
    drop_database(admin_engine, url)


@BUDGET
@given(p=position, crs=st.sampled_from(CRSS), swap=st.booleans())
@example(p=(111.0, 38.0), crs="EPSG:3857", swap=False)
@example(p=(1e10, 1e10), crs="EPSG:4547", swap=False)
@example(p=(4262998.0, 500000.0), crs="EPSG:4546", swap=False)
def test_point_parameters_never_answer_5xx(client: Any, role_headers: dict[str, Any],
                                           p: tuple[float, float], crs: str,
                                           swap: bool) -> None:
    x, y = (p[1], p[0]) if swap else p
    q = {"lon": _text(x), "lat": _text(y), "crs": crs}
    for path, extra, role in [
        ("/cells/at", {}, "anonymous"),
        ("/spatial/cameras/within", {"distance_m": "300"}, "anonymous"),
        ("/spatial/incidents/nearest", {"k": "3"}, "command"),
        ("/me/incidents", {}, "worker"),
        ("/maps/cells/141123100003001", {}, "command"),
    ]:
        _ok(client.get(path, params={**q, **extra}, headers=role_headers[role]), (path, q))


@BUDGET
@given(points=st.lists(position, min_size=1, max_size=6), crs=st.sampled_from(CRSS))
@example(points=[(1e10, 1e10), (111.13, 38.46)], crs="EPSG:3857")
def test_batch_lookup_never_answers_5xx(client: Any, points: list[tuple[float, float]],
                                        crs: str) -> None:
    body = json.dumps({"crs": crs, "points": [[_jsonable(x), _jsonable(y)] for x, y in points]},
                      allow_nan=True)
    r = client.post("/cells/at", content=body, headers={"content-type": "application/json"})
    _ok(r, (points, crs))
    csv = "lon,lat\n" + "\n".join(f"{_text(x)},{_text(y)}" for x, y in points)
    r = client.post("/cells/at", params={"crs": crs}, content=csv.encode(),
                    headers={"content-type": "text/csv"})
    _ok(r, (points, crs, "csv"))


def _jsonable(v: float) -> Any:
    return v if math.isfinite(v) else str(v)


@BUDGET
@given(b=box, crs=st.sampled_from(CRSS), layer=st.sampled_from(["cells", "incidents"]))
@example(b=[1e10, 1e10, 2e10, 2e10], crs="EPSG:3857", layer="cells")
@example(b=[float("nan")] * 4, crs="EPSG:4490", layer="cells")
@example(b=[-1e10, -1e10, 1e10, 1e10], crs="EPSG:4547", layer="incidents")
def test_bbox_parameters_never_answer_5xx(client: Any, role_headers: dict[str, Any],
                                          b: list[float], crs: str, layer: str) -> None:
    text = ",".join(_text(v) for v in b)
    code = crs.split(":")[-1] if crs.startswith("EPSG:") else crs
    ogc_crs = EPSG + code if crs.startswith("EPSG:") else crs
    command = role_headers["command"]
    _ok(client.get(f"/ogc/collections/{layer}/items",
                   params={"bbox": text, "bbox-crs": ogc_crs, "limit": "1"}, headers=command),
        (b, crs))
    _ok(client.get(f"/ogc/collections/{layer}/items",
                   params={"bbox": text, "crs": ogc_crs, "limit": "1"}, headers=command),
        (b, crs))
    _ok(client.get(f"/export/{layer}", params={"bbox": text, "crs": crs, "format": "csv"},
                   headers=command), (b, crs))
    _ok(client.get("/maps/data/incidents", params={"bbox": text}, headers=command), b)
    wkt = (f"S_INTERSECTS(geometry, POLYGON(({_text(b[0])} {_text(b[1])}, {_text(b[2])} "
           f"{_text(b[1])}, {_text(b[2])} {_text(b[3])}, {_text(b[0])} {_text(b[1])})))")
    _ok(client.get(f"/ogc/collections/{layer}/items",
                   params={"filter": wkt, "filter-crs": ogc_crs, "limit": "1"}, headers=command),
        (wkt, crs))


ring = st.lists(position, min_size=0, max_size=6).map(
    lambda pts: [[_jsonable(x), _jsonable(y)] for x, y in pts] + (
        [[_jsonable(pts[0][0]), _jsonable(pts[0][1])]] if pts else []))
geometry = st.one_of(
    position.map(lambda p: {"type": "Point", "coordinates": [_jsonable(p[0]), _jsonable(p[1])]}),
    ring.map(lambda r: {"type": "Polygon", "coordinates": [r]}),
    ring.map(lambda r: {"type": "LineString", "coordinates": r}),
)


@BUDGET
@given(g=geometry, crs=st.sampled_from(CRSS), layer=st.sampled_from(["cells", "cameras"]))
@example(g={"type": "Point", "coordinates": [1e10, 1e10]}, crs="EPSG:3857", layer="cells")
def test_posted_geometries_never_answer_5xx(client: Any, g: dict[str, Any], crs: str,
                                            layer: str) -> None:
    r = client.post(f"/spatial/{layer}/intersects", json={"geometry": g, "crs": crs})
    _ok(r, (g, crs))


@BUDGET
@given(p=position, crs=st.sampled_from(CRSS))
@example(p=(111.0, 38.0), crs="EPSG:3857")
@example(p=(1e10, 1e10), crs="EPSG:4547")
def test_new_incident_point_never_answers_5xx(private: Any, p: tuple[float, float],
                                              crs: str) -> None:
    body = {"category": "ebike_charging", "channel": "patrol", "description": "property test",
            "lon": _jsonable(p[0]), "lat": _jsonable(p[1]), "crs": crs}
    _ok(private.post("/incidents", json=body), (p, crs))
