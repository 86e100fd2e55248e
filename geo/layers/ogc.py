"""OGC API - Features (Part 1 Core, GeoJSON; CRS by reference from Part 2; CQL2 text filters).

The domain side: parse and validate the query parameters of ``/collections/{id}/items``, run
one counted, paged SQL query per request and return GeoJSON-ready features in the requested
CRS. The HTTP side (links, media types, headers) lives in ``api/routes/ogc.py``.

Axis order: GeoJSON's default, OGC CRS84, is longitude/latitude. A CRS named by EPSG code (short
``EPSG:4490`` or URI ``http://www.opengis.net/def/crs/EPSG/0/4490``) is answered in that CRS's
authority axis order (latitude first for EPSG:4490/4326; northing first for EPSG:4546), as
OGC API - Features Part 2 requires and QGIS expects. GCJ02 and BD09 (AMap/Tencent and Baidu web
map coordinates; not EPSG systems) are longitude/latitude.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from geoalchemy2 import functions as gf
from pyproj import CRS
from sqlalchemy import Connection, func, literal, select
from sqlalchemy.types import String

from geo import localtime
from geo.auth.fields import mask_row, may_filter_on, revealed_ids, visible_fields
from geo.crs.names import (
    BD09,
    GCJ02,
    UnknownCRSError,
    UnsupportedCRSError,
    normalize_crs,
)
from geo.crs.transforms import transform_geometry
from geo.crs.validate import bbox_polygon
from geo.db.tables import vocab
from geo.errors import InvalidInput, NotFound, TooLarge
from geo.layers.cql import FilterBuilder, parse_cql2
from geo.layers.registry import (
    Layer,
    base_conditions,
    where_all,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
SUPPORTED_CRS = [
    CRS84,
    EPSG_URI.format(4490),
    EPSG_URI.format(4326),
    EPSG_URI.format(4546),
    EPSG_URI.format(3857),
    GCJ02,
    BD09,
]
_CRS84_FORMS = {
    CRS84.upper(), "HTTPS://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84", "OGC:CRS84", "CRS84",
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84", "URN:OGC:DEF:CRS:OGC::CRS84",
}


@dataclass(frozen=True)
class OutputCRS:
    """A resolved CRS: Wangge's name for transforms, the URI to echo, and the axis order."""

    name: str  # "EPSG:4326", "EPSG:4490", "GCJ02", ...
    uri: str  # for Content-Crs
    swap_xy: bool  # True when the CRS's first axis is northing/latitude


@lru_cache(maxsize=64)
def _north_first(name: str) -> bool:
    axes = CRS.from_user_input(name).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def resolve_crs(value: str | None, param: str = "crs") -> OutputCRS:
    """Resolve a ``crs``/``bbox-crs``/``filter-crs`` value (None: CRS84).

    Raises
    ------
    InvalidInput
        Unknown CRS (the message names the value and the supported list), or one that
        cannot hold a 2-D position (geocentric, vertical, compound, 3-D: the message says
        which it is and what to use).
    """
    if value is None or not value.strip() or value.strip().upper() in _CRS84_FORMS:
        return OutputCRS("EPSG:4326", CRS84, False)
    try:
        name = normalize_crs(value)
    except UnsupportedCRSError as exc:  # a CRS, but none that holds a 2-D position
        raise InvalidInput(f"{param}: {exc}", field=param, crs=value) from exc
    except UnknownCRSError as exc:
        raise InvalidInput(
            f"{param}: 不支持的坐标参考系 {value!r} / unsupported CRS {value!r}; supported: "
            f"{', '.join(SUPPORTED_CRS)} (or the EPSG code of any 2-D geographic or projected "
            "CRS)",
            field=param, crs=value,
        ) from exc
    if name in (GCJ02, BD09):
        return OutputCRS(name, name, False)
    code = name.split(":")[1]
    return OutputCRS(name, EPSG_URI.format(code), _north_first(name))


def parse_bbox(values: list[float], bbox_crs: OutputCRS) -> Any:
    """A bbox (4 or 6 numbers, in ``bbox_crs`` axis order) as a CGCS2000 shapely polygon."""
    return bbox_polygon(values, bbox_crs.name, bbox_crs.swap_xy)


def parse_datetime(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``) as (start, end)."""

    def one(text: str, end: bool) -> dt.datetime | None:
        text = text.strip()
        if text in ("", ".."):
            return None
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                day = dt.date.fromisoformat(text)
                localtime.check_year(day, "datetime")
                base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
                return base + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else base
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(
                f"datetime 格式错误 {text!r} / invalid datetime {text!r}: use RFC 3339, e.g. "
                "2025-06-01T00:00:00Z or 2025-06-01/2025-06-30 or ../2025-06-30",
                field="datetime",
            ) from exc
        localtime.check_year(parsed, "datetime")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    if "/" in value:
        a, b = value.split("/", 1)
        start, end = one(a, False), one(b, True)
        if start and end and start > end:
            raise InvalidInput(
                f"datetime 区间起点晚于终点 / datetime interval starts after it ends: {value}",
                field="datetime",
            )
        return start, end
    instant = one(value, False)
    if instant is None:
        raise InvalidInput("datetime 不能为空 / datetime is empty", field="datetime")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return instant, one(value, True)
    return instant, instant


@dataclass
class ItemsQuery:
    """Validated parameters of an items request."""

    limit: int = 10
    offset: int = 0
    bbox: list[float] | None = None
    bbox_crs: str | None = None
    datetime: str | None = None
    properties: list[str] | None = None
    sortby: list[str] | None = None
    filter: str | None = None
    filter_lang: str | None = None
    filter_crs: str | None = None
    crs: str | None = None
    # queryables given as query parameters, checked by params_filter: (name, typed value)
    equals: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class ItemsResult:
    """A page of features."""

    features: list[dict[str, Any]]
    number_matched: int
    crs: OutputCRS
    revealed: list[Any] = field(default_factory=list)  # ids whose personal fields went out


def _check_props(layer: Layer, names: list[str], allowed: list[str], param: str) -> None:
    for name in names:
        if name not in allowed:
            raise InvalidInput(
                f"{param}: 集合 {layer.id} 没有属性 {name!r} / collection {layer.id} has no "
                f"property {name!r}; known: {', '.join(allowed)}",
                field=param, property=name,
            )


def _sort_columns(layer: Layer, sortby: list[str], allowed: list[str]) -> list[Any]:
    cols = []
    for raw in sortby:
        item = raw.strip()
        desc = item.startswith("-")
        name = item.lstrip("+-").strip()
        if " " in name:  # "code DESC" style
            name, _, direction = name.partition(" ")
            desc = desc or direction.strip().upper() == "DESC"
        _check_props(layer, [name], allowed, "sortby")
        col = layer.column(name)
        cols.append(col.desc() if desc else col.asc())
    return cols


def _conditions(
    layer: Layer, principal: Any, q: ItemsQuery, allowed: list[str]
) -> list[Any]:
    conds = base_conditions(layer, principal)
    geom = layer.column("geometry")
    if q.bbox is not None:
        box = parse_bbox(q.bbox, resolve_crs(q.bbox_crs, "bbox-crs"))
        conds.append(func.ST_Intersects(geom, gf.ST_GeomFromText(literal(box.wkt, String), 4490)))
    if q.datetime:
        if not layer.datetime_column:
            raise InvalidInput(
                f"集合 {layer.id} 没有时间属性, 不能用 datetime / collection {layer.id} has no "
                "temporal property: drop the datetime parameter", field="datetime",
            )
        start, end = parse_datetime(q.datetime)
        col = layer.column(layer.datetime_column)
        if start is not None:
            conds.append(col >= start)
        if end is not None:
            conds.append(col <= end)
    if q.filter:
        lang = (q.filter_lang or "cql2-text").lower()
        if lang != "cql2-text":
            raise InvalidInput(
                f"不支持的 filter-lang {q.filter_lang!r}; 仅支持 cql2-text / unsupported "
                f"filter-lang {q.filter_lang!r}; only cql2-text", field="filter-lang",
            )
        fcrs = resolve_crs(q.filter_crs, "filter-crs")
        queryable = {p for p in allowed if may_filter_on(principal, layer.id, p)}
        builder = FilterBuilder(layer, queryable, fcrs.name, fcrs.swap_xy)
        conds.append(builder.build(parse_cql2(q.filter)))
    for name, value in q.equals:
        conds.append(layer.column(name) == value)
    return conds


def items(
    conn: Connection, layer: Layer, principal: Any, q: ItemsQuery, max_limit: int = 10_000
) -> ItemsResult:
    """Run an items query: filter, count, sort, page, mask personal fields, transform.

    Raises
    ------
    InvalidInput
        Unknown property/CRS, bad bbox, datetime or filter (the message names it).
    TooLarge
        ``limit`` above ``max_limit``.
    """
    if q.limit < 1:
        raise InvalidInput(f"limit 必须 >= 1 / limit must be >= 1, got {q.limit}", field="limit")
    if q.limit > max_limit:
        raise TooLarge(
            f"limit={q.limit} 超过上限 {max_limit}; 请用 offset 翻页 / limit {q.limit} is above "
            f"the maximum page size {max_limit}; page with offset (follow the 'next' link)",
            field="limit", max=max_limit,
        )
    if q.offset < 0:
        raise InvalidInput(f"offset 必须 >= 0 / offset must be >= 0, got {q.offset}",
                           field="offset")
    out_crs = resolve_crs(q.crs, "crs")
    allowed = visible_fields(principal, layer.id, layer.properties)
    wanted = q.properties if q.properties is not None else allowed
    _check_props(layer, wanted, allowed, "properties")
    order = _sort_columns(layer, q.sortby or [], allowed)
    for name in q.sortby or []:
        prop = name.strip().lstrip("+-").split(" ")[0]
        if not may_filter_on(principal, layer.id, prop):
            raise InvalidInput(f"不能按个人信息排序 / cannot sort by personal field {prop}",
                               field="sortby", refused_fields=[prop])
    conds = _conditions(layer, principal, q, allowed)
    where = where_all(conds)
    t = layer.table
    number_matched = int(conn.execute(select(func.count()).select_from(t).where(where)).scalar()
                         or 0)
    fetch = list(dict.fromkeys([layer.id_column, *wanted]))
    if layer.incidents:
        fetch = list(dict.fromkeys([*fetch, "cell_code", "department_code"]))
    stmt = (
        select(*[t.c[c] for c in fetch],
               func.ST_AsBinary(layer.column("geometry")).label("__wkb"))
        .where(where)
        .order_by(*order, t.c[layer.id_column])
        .limit(q.limit)
        .offset(q.offset)
    )
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    revealed = revealed_ids(principal, layer.id, rows, layer.id_column)
    features = _features(layer, rows, wanted, principal, out_crs)
    return ItemsResult(features, number_matched, out_crs, revealed)


def item(
    conn: Connection, layer: Layer, principal: Any, fid: str, crs: str | None = None,
    properties: list[str] | None = None,
) -> tuple[dict[str, Any], OutputCRS, list[Any]]:
    """One feature by id, within the caller's scope; NotFound otherwise.

    Returns the feature, its CRS and the ids whose personal fields went out (for the audit).
    """
    out_crs = resolve_crs(crs, "crs")
    allowed = visible_fields(principal, layer.id, layer.properties)
    wanted = properties if properties is not None else allowed
    _check_props(layer, wanted, allowed, "properties")
    t = layer.table
    conds = base_conditions(layer, principal)
    conds.append(t.c[layer.id_column] == fid)
    fetch = list(dict.fromkeys([layer.id_column, *wanted]))
    if layer.incidents:
        fetch = list(dict.fromkeys([*fetch, "cell_code", "department_code"]))
    stmt = select(*[t.c[c] for c in fetch],
                  func.ST_AsBinary(layer.column("geometry")).label("__wkb")).where(
        where_all(conds)).limit(1)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if not rows:
        raise NotFound(
            f"集合 {layer.id} 中没有要素 {fid!r} (或无权查看) / no feature {fid!r} in "
            f"collection {layer.id} (or not visible to you)", collection=layer.id, fid=fid,
        )
    revealed = revealed_ids(principal, layer.id, rows, layer.id_column)
    return _features(layer, rows, wanted, principal, out_crs)[0], out_crs, revealed


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _features(
    layer: Layer, rows: list[dict[str, Any]], wanted: list[str], principal: Any,
    out_crs: OutputCRS,
) -> list[dict[str, Any]]:
    wkbs = [r.pop("__wkb") for r in rows]
    geoms = np.array([None] * len(rows), dtype=object)
    present = [i for i, w in enumerate(wkbs) if w is not None]
    if present:
        geoms[present] = shapely.from_wkb([bytes(wkbs[i]) for i in present])
        if out_crs.name not in ("EPSG:4490", "EPSG:4326"):
            geoms[present] = transform_geometry(geoms[present], "EPSG:4490", out_crs.name)
        if out_crs.swap_xy:
            geoms[present] = shapely.transform(geoms[present], lambda c: c[:, ::-1])
    texts = shapely.to_geojson(geoms)
    out = []
    for row, gj in zip(rows, texts, strict=True):
        masked = mask_row(principal, layer.id, row)
        props = {k: _jsonable(masked[k]) for k in wanted}
        out.append({
            "type": "Feature",
            "id": str(row[layer.id_column]),
            "geometry": json.loads(gj) if gj is not None else None,
            "properties": props,
        })
    return out


def extent(conn: Connection, layer: Layer, principal: Any) -> dict[str, Any]:
    """Spatial (CRS84) and, for incidents, temporal extent of a collection."""
    t = layer.table
    where = where_all(base_conditions(layer, principal))
    # one ST_Extent over the rows (four of them, one per corner, cost four aggregates)
    ext = select(func.ST_Extent(layer.column("geometry")).label("e")).where(where).subquery()
    box = conn.execute(select(func.ST_XMin(ext.c.e), func.ST_YMin(ext.c.e),
                              func.ST_XMax(ext.c.e), func.ST_YMax(ext.c.e))).one()
    result: dict[str, Any] = {}
    if box[0] is not None:
        result["spatial"] = {"bbox": [[round(float(v), 6) for v in box]], "crs": CRS84}
    if layer.datetime_column:
        col = t.c[layer.datetime_column]
        lo, hi = conn.execute(select(func.min(col), func.max(col)).where(where)).one()
        result["temporal"] = {
            "interval": [[_jsonable(lo), _jsonable(hi)]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return result


def params_equals(layer: Layer, principal: Any, params: list[tuple[str, str]]
                  ) -> list[tuple[str, Any]]:
    """The queryables given as query parameters (``?status=closed``, OGC API - Features Part
    3, queryables-query-parameters) as (name, typed value) equalities, ANDed to the other
    conditions of the request.

    Raises
    ------
    InvalidInput
        A parameter that is no queryable of the layer (naming the queryables), a personal
        field the caller may not filter on, or a value of the wrong type.
    """
    visible = visible_fields(principal, layer.id, layer.properties)
    names = [n for n in visible if may_filter_on(principal, layer.id, n)]
    out: list[tuple[str, Any]] = []
    for name, value in params:
        if name not in visible:  # a withheld field is answered as no field at all
            raise InvalidInput(
                f"未知的查询参数 {name[:60]!r}; 可按以下属性筛选: {', '.join(names)} / unknown "
                f"query parameter {name[:60]!r}; queryables of {layer.id}: {', '.join(names)}",
                field=name[:60], valid=names)
        if name not in names:
            raise InvalidInput(f"不能按个人信息筛选 (需 ?unmask=true 并有权限) / cannot filter "
                               f"on personal field {name} without ?unmask=true by a role that "
                               "may", field=name, refused_fields=[name])
        kind = layer.properties[name]
        v = value.strip()
        typed: Any = v
        try:
            if kind == "integer":
                typed = int(v)
            elif kind == "number":
                typed = float(v)
            elif kind == "boolean":
                typed = {"true": True, "false": False}[v.lower()]
            elif kind == "datetime":
                typed = dt.datetime.fromisoformat(v)
                if typed.tzinfo is None:
                    typed = typed.replace(tzinfo=localtime.CST)
            elif kind == "date":
                typed = dt.date.fromisoformat(v)
        except (ValueError, KeyError):
            raise InvalidInput(f"{name} 的值 {v[:40]!r} 不是 {kind} / {name} must be a {kind}, "
                               f"got {v[:40]!r}", field=name) from None
        out.append((name, typed))
    return out


# Code lists of the layers' properties (the one vocabulary), for the queryables' enums.
_ENUMS = {("incidents", "status"): vocab.INCIDENT_STATUS,
          ("incidents", "channel"): vocab.CHANNEL, ("incidents", "urgency"): vocab.URGENCY,
          ("cells", "kind"): vocab.CELL_KIND, ("admin_units", "level"): vocab.ADMIN_LEVEL,
          ("compounds", "mgmt_mode"): vocab.MGMT_MODE,
          ("compounds", "owners_committee"): vocab.OWNERS_COMMITTEE,
          ("cameras", "status"): vocab.CAMERA_STATUS,
          ("camera_sectors", "status"): vocab.CAMERA_STATUS}


def queryables(layer: Layer, principal: Any) -> dict[str, Any]:
    """JSON Schema of the properties usable in filters (OGC API - Features Part 3); a coded
    property lists its codes (``enum``) with their names (``description``)."""
    types = {"datetime": ("string", "date-time"), "date": ("string", "date")}
    props: dict[str, Any] = {
        "geometry": {"$ref": f"https://geojson.org/schema/{layer.geometry_type}.json"},
    }
    for name in visible_fields(principal, layer.id, layer.properties):
        if not may_filter_on(principal, layer.id, name):
            continue
        kind = layer.properties[name]
        if kind in types:
            props[name] = {"type": types[kind][0], "format": types[kind][1]}
        else:
            props[name] = {"type": kind}
        codes = _ENUMS.get((layer.id, name))
        if codes is not None:
            props[name]["enum"] = list(codes.codes)
            props[name]["description"] = "; ".join(
                f"{c} = {codes.label(c)} / {codes.label(c, 'en')}" for c in codes.codes)
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "title": layer.title,
        "properties": props,
        "additionalProperties": False,
    }
