"""Property-based tests (hypothesis) of CQL2 filters over HTTP, on the real PostGIS demo.

Random filters mix every queryable with literals of every type (so most comparisons do not
match: a number against text, a string that is no date, LIKE on a number, BETWEEN/IN of
mixed types, spatial and temporal predicates on the wrong property, geometry literals with
1e10 or swapped axes), random operators, nesting depth and length. Every answer is a 2xx or
a 4xx whose message is Chinese / English; never a 5xx.

Budget: ``WANGGE_PROPERTY_EXAMPLES`` examples per test (default 60, CI-sized);
``scripts/fuzz.sh`` runs them with a larger one.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from geo.layers.cql import MAX_FILTER_CHARS, MAX_FILTER_DEPTH, MAX_FILTER_TERMS
from geo.layers.registry import LAYERS

EXAMPLES = int(os.environ.get("WANGGE_PROPERTY_EXAMPLES", "60"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
COLLECTIONS = ["incidents", "cells", "cameras", "compounds", "admin_units"]
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def _layer(cid: str) -> Any:
    return LAYERS[cid]


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "-1", "1e10", "1e308", "1e999", "-1e999", "2147483647", "0.5"]),
)
strings = st.one_of(
    st.text(max_size=12).map(_quote),
    st.sampled_from(["'2025-06-01'", "'2025-06-01T08:00:00Z'", "'notadate'", "'2025-02-30'",
                     "'SJ%'", "'%'", "''", "'141123100003001'", "'closed'", "'TRUE'", "'5'",
                     "'2025-06-01T25:00:00'", "'0000-01-01'"]).map(str),
)
times = st.sampled_from(["TIMESTAMP('2025-06-01T00:00:00Z')", "DATE('2025-06-01')",
                         "TIMESTAMP('1970-01-01T00:00:00Z')", "DATE('9999-12-31')"])
coord = st.one_of(st.floats(-200, 200, allow_nan=False).map(lambda v: f"{v:.6f}"),
                  st.sampled_from(["111.13", "38.46", "1e10", "-1e10", "12371000", "4640000",
                                   "0", "90", "180", "1e308"]))
geometries = st.one_of(
    st.tuples(coord, coord).map(lambda p: f"POINT({p[0]} {p[1]})"),
    st.tuples(coord, coord, coord, coord).map(lambda b: f"BBOX({','.join(b)})"),
    st.tuples(coord, coord, coord, coord).map(
        lambda b: f"POLYGON(({b[0]} {b[1]}, {b[2]} {b[1]}, {b[2]} {b[3]}, {b[0]} {b[3]}, "
                  f"{b[0]} {b[1]}))"),
    st.tuples(coord, coord, coord, coord).map(
        lambda b: f"LINESTRING({b[0]} {b[1]}, {b[2]} {b[3]})"),
)
literals = st.one_of(numbers, strings, times, geometries, st.sampled_from(["TRUE", "FALSE",
                                                                           "NULL"]))
COMPARE = ["=", "<>", "<", "<=", ">", ">="]
SPATIAL = ["S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_DISJOINT", "S_TOUCHES", "S_CROSSES",
           "S_OVERLAPS", "S_EQUALS"]
TEMPORAL = ["T_BEFORE", "T_AFTER", "T_EQUALS", "T_DURING"]


@st.composite
def predicates(draw: Any, props: list[str]) -> str:
    names = [*props, "geometry"]
    prop = st.sampled_from(names)
    value = st.one_of(prop, literals,
                      st.tuples(prop, st.sampled_from(["+", "-", "*", "/"]), literals).map(
                          " ".join),
                      prop.map(lambda p: f"lower({p})"), prop.map(lambda p: f"CASEI({p})"))
    kind = draw(st.integers(0, 9))
    a, b, c = draw(value), draw(value), draw(value)
    if kind <= 2:
        return f"{a} {draw(st.sampled_from(COMPARE))} {b}"
    if kind == 3:
        return f"{a} {draw(st.sampled_from(['', 'NOT ']))}LIKE {draw(st.one_of(strings, numbers))}"
    if kind == 4:
        return f"{a} {draw(st.sampled_from(['', 'NOT ']))}BETWEEN {b} AND {c}"
    if kind == 5:
        items = draw(st.lists(literals, min_size=1, max_size=6))
        return f"{a} {draw(st.sampled_from(['', 'NOT ']))}IN ({', '.join(items)})"
    if kind == 6:
        return f"{a} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if kind == 7:
        return f"{draw(st.sampled_from(SPATIAL))}({a}, {draw(st.one_of(geometries, prop))})"
    if kind == 8:
        return f"{draw(st.sampled_from(TEMPORAL))}({draw(prop)}, {draw(st.one_of(times, strings))})"
    box = ", ".join(draw(st.lists(coord, min_size=4, max_size=4)))
    return f"BBOX({draw(prop)}, {box})"


@st.composite
def filters(draw: Any) -> tuple[str, str]:
    cid = draw(st.sampled_from(COLLECTIONS))
    props = sorted(_layer(cid).properties)
    preds = st.one_of(predicates(props))
    expr = st.recursive(
        preds,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"),
            inner.map(lambda e: f"NOT ({e})"),
        ),
        max_leaves=draw(st.sampled_from([3, 12, 40])),
    )
    return cid, draw(expr)


def _assert_answer(r: Any, what: Any) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:400])
    if r.status_code >= 400:
        detail = r.json().get("detail")
        assert isinstance(detail, str) and " / " in detail, (what, r.text[:300])


@BUDGET
@given(case=filters(), crs=st.sampled_from([None, EPSG + "4490", EPSG + "3857", EPSG + "4546",
                                            "GCJ02"]))
@example(case=("incidents", "code > 5"), crs=None)
@example(case=("incidents", "reported_at > 'notadate'"), crs=None)
@example(case=("cells", "S_INTERSECTS(geometry, POINT(1e10 1e10))"), crs=EPSG + "3857")
def test_random_filters_never_answer_5xx(client: Any, case: tuple[str, str],
                                         crs: str | None) -> None:
    cid, cql = case
    params = {"filter": cql, "limit": "2"}
    if crs:
        params["filter-crs"] = crs
    _assert_answer(client.get(f"/ogc/collections/{cid}/items", params=params), case)


@BUDGET
@given(n=st.integers(1, 2000), op=st.sampled_from([" OR ", " AND "]),
       nest=st.integers(0, 60), text=st.text(max_size=200))
@example(n=1500, op=" OR ", nest=0, text="")
@example(n=1, op=" OR ", nest=60, text="")
def test_filter_length_depth_and_garbage(client: Any, n: int, op: str, nest: int,
                                         text: str) -> None:
    """1,500 ORs, deep nesting, random text: a 422 naming the limit, never a 5xx."""
    flat = op.join(f"rework_count = {i}" for i in range(n))
    deep = "".join(f"(code = '{i}' {'OR' if i % 2 else 'AND'} " for i in range(nest)) \
        + "code = 'x'" + ")" * nest
    for cql in (flat, deep, text or "code = 'x'"):
        r = client.get("/ogc/collections/incidents/items", params={"filter": cql, "limit": 1})
        _assert_answer(r, cql[:80])
        over = (len(cql) > MAX_FILTER_CHARS or (cql is flat and n > MAX_FILTER_TERMS)
                or (cql is deep and nest + 2 > MAX_FILTER_DEPTH))
        if over and cql is not text:
            assert r.status_code == 422, (cql[:80], r.text[:200])


@pytest.mark.parametrize("where", ["BBOX(code,1,2,3,4)", "code > 5",
                                   " OR ".join(f"code = '{i}'" for i in range(1500))])
def test_export_where_never_answers_5xx(client: Any, where: str) -> None:
    """The export ``where`` (ECQL) gets the same hostile filters."""
    _assert_answer(client.get("/export/cells", params={"where": where, "format": "csv"}),
                   where[:80])
