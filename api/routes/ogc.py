"""OGC API - Features under ``/ogc``: landing page, conformance, collections, items.

Add it in QGIS: Layer > Add Layer > Add WFS / OGC API - Features Layer > New, URL
``http://HOST:PORT/ogc``, version "OGC API - Features", then Connect and pick a collection.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import EXPENSIVE, ConnDep, CountyReadConnDep, PrincipalDep, SettingsDep
from api.reveal import note_revealed
from api.schemas import common as schemas_common
from api.schemas import ogc as schemas_ogc
from api.schemas import ok
from geo.errors import Forbidden, InvalidInput, Unauthorized
from geo.layers import ogc
from geo.layers.cql import MAX_FILTER_CHARS, MAX_FILTER_DEPTH, MAX_FILTER_TERMS, MAX_IN_VALUES
from geo.layers.registry import LAYERS, get_layer

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"],
                   dependencies=[EXPENSIVE])

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-operators",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


@router.get("", summary="Landing page / 服务首页", responses=ok(schemas_ogc.Landing),
    response_model=None)
@router.get("/", include_in_schema=False)
def landing(request: Request) -> JSONResponse:
    """OGC API - Features landing page with links to the API, conformance and collections."""
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return JSONResponse({
        "title": "Wangge 网格 OGC API - Features",
        "description": (
            "网格、行政区划、小区、摄像头、视域和事件 (CGCS2000 存储)。 / Grid cells, admin units, "
            "compounds, cameras, camera sectors and incidents (stored in CGCS2000, EPSG:4490). "
            "Output crs: CRS84 (default, lon/lat), EPSG:4490/4326 (lat/lon, authority axis "
            "order), GCJ02, BD09 (lon/lat)."
        ),
        "links": [
            _link(base, "self", JSON, "this document"),
            _link(f"{root}/openapi.json", "service-desc", OPENAPI, "OpenAPI definition"),
            _link(f"{root}/docs", "service-doc", "text/html", "API documentation"),
            _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            _link(f"{base}/collections", "data", JSON, "collections"),
        ],
    })


@router.get("/conformance", summary="Conformance classes / 符合性",
    responses=ok(schemas_ogc.Conformance),
    response_model=None)
def conformance() -> JSONResponse:
    """The conformance classes implemented."""
    return JSONResponse({"conformsTo": CONFORMANCE})


def _collection(request: Request, conn: Any, layer_id: str, principal: Any) -> dict[str, Any]:
    layer = get_layer(layer_id)
    base = _base(request)
    href = f"{base}/collections/{layer.id}"
    return {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "extent": ogc.extent(conn, layer, principal),
        "crs": ogc.SUPPORTED_CRS,
        "storageCrs": ogc.EPSG_URI.format(4490),
        "links": [
            _link(href, "self", JSON, layer.title),
            _link(f"{href}/items", "items", GEOJSON, "items (GeoJSON)"),
            _link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  "application/schema+json", "queryables"),
        ],
    }


@router.get("/collections", summary="Collections / 集合", responses=ok(schemas_ogc.Collections),
    response_model=None)
def collections(request: Request, conn: ConnDep, principal: PrincipalDep) -> JSONResponse:
    """Every served collection with its extent, CRSs and links."""
    base = _base(request)
    return JSONResponse({
        "links": [_link(f"{base}/collections", "self", JSON, "collections")],
        "collections": [_collection(request, conn, lid, principal) for lid in LAYERS],
        "crs": ogc.SUPPORTED_CRS,
    })


CollectionId = Annotated[str, Path(description=f"One of: {', '.join(LAYERS)}")]


@router.get("/collections/{collection_id}", summary="One collection / 单个集合",
    responses=ok(schemas_ogc.Collection),
    response_model=None)
def collection(
    request: Request, conn: ConnDep, principal: PrincipalDep, collection_id: CollectionId
) -> JSONResponse:
    """Metadata of one collection (404 naming an unknown collection)."""
    return JSONResponse(_collection(request, conn, collection_id, principal))


@router.get("/collections/{collection_id}/queryables", summary="Queryables / 可查询属性",
    responses=ok(schemas_ogc.Queryables),
    response_model=None)
def queryables(principal: PrincipalDep, collection_id: CollectionId) -> JSONResponse:
    """JSON Schema of the properties usable in ``filter`` and ``sortby``."""
    layer = get_layer(collection_id)
    return JSONResponse(ogc.queryables(layer, principal), media_type="application/schema+json")


def _csv(value: str | None, name: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InvalidInput(f"{name} 为空 / {name} is empty", field=name)
    return items


def _bbox(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError as exc:
        raise InvalidInput(
            f"bbox 必须是逗号分隔的数字 / bbox must be comma-separated numbers: {value!r}",
            field="bbox",
        ) from exc


# The parameters of the items request itself, and those every route accepts; any other is
# taken as a queryable (OGC API - Features Part 3, queryables as query parameters).
_ITEMS_PARAMS = frozenset({"limit", "offset", "bbox", "bbox-crs", "datetime", "properties",
                           "sortby", "filter", "filter-lang", "filter-crs", "crs", "f",
                           "unmask", "lang", "api_key"})


def _content_crs(crs: ogc.OutputCRS) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection / 要素查询",
    responses=ok(schemas_common.FeatureCollection) |
       {200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown collection"},
               413: {"description": "limit above the page-size cap"},
               422: {"description": "bad bbox, crs, datetime, property, sortby or filter"}},
               response_model=None)
def items(
    request: Request,
    conn: CountyReadConnDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    collection_id: CollectionId,
    limit: Annotated[int, Query(description="Page size (default 10; capped)")] = 10,
    offset: Annotated[int, Query(description="Index of the first feature")] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    datetime: Annotated[
        str | None, Query(description="Instant or interval (incidents: reported_at)")
    ] = None,
    properties: Annotated[str | None, Query(description="Comma-separated properties")] = None,
    sortby: Annotated[str | None, Query(description="e.g. -reported_at,code")] = None,
    filter: Annotated[str | None, Query(description=(  # noqa: A002
        "CQL2 text filter, e.g. status = 'closed' AND reported_at >= '2025-06-01'. Types must "
        f"match the queryables (a 422 names the property otherwise). Limits: {MAX_FILTER_CHARS} "
        f"characters, {MAX_FILTER_TERMS} conditions, {MAX_FILTER_DEPTH} levels of nesting, "
        f"{MAX_IN_VALUES} values per IN list"))] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs")] = None,
    crs: Annotated[str | None, Query(description="Output CRS (default CRS84)")] = None,
    f: Annotated[str | None, Query(description="json / geojson")] = None,
) -> JSONResponse:
    """Page through features with bbox, datetime, properties, sortby and a CQL2 filter.

    Queryables also work as query parameters (``?status=closed&township_code=...``: equality,
    ANDed with ``filter``); an unknown parameter is a 422 naming the queryables. The incidents
    collection needs a login (401) and a role that reads cases (viewers: 403): they would
    only ever see it empty."""
    layer = get_layer(collection_id)
    if layer.incidents and principal.role == "viewer" and not principal.is_anonymous:
        raise Forbidden("公众角色不能查看事件集合 / the viewer role may not read the incidents "
                        "collection (ask an administrator for a role that may)")
    if layer.incidents and principal.is_anonymous and principal.role == "viewer":
        raise Unauthorized("事件集合需要登录 (POST /auth/login, 或 API 令牌) / the incidents "
                           "collection needs a login: POST /auth/login or an API token as "
                           "Bearer (QGIS: an HTTP header or Basic authentication with the token "
                           "as password)")
    extra = [(k, v) for k, v in request.query_params.multi_items() if k not in _ITEMS_PARAMS]
    equals = ogc.params_equals(layer, principal, extra)
    q = ogc.ItemsQuery(
        limit=limit, offset=offset, bbox=_bbox(bbox), bbox_crs=bbox_crs, datetime=datetime,
        properties=_csv(properties, "properties"), sortby=_csv(sortby, "sortby"),
        filter=filter, filter_lang=filter_lang, filter_crs=filter_crs, crs=crs, equals=equals,
    )
    result = ogc.items(conn, layer, principal, q, settings.max_page_size)
    note_revealed(request, result.revealed)
    links = [_link(str(request.url), "self", GEOJSON, "this page")]
    returned = len(result.features)
    if offset + returned < result.number_matched:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(_link(str(nxt), "next", GEOJSON, "next page"))
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(_link(str(prev), "prev", GEOJSON, "previous page"))
    links.append(_link(f"{_base(request)}/collections/{layer.id}", "collection", JSON))
    body = {
        "type": "FeatureCollection",
        "numberMatched": result.number_matched,
        "numberReturned": returned,
        "links": links,
        "features": result.features,
    }
    return JSONResponse(body, media_type=GEOJSON, headers=_content_crs(result.crs))


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature / 单个要素",
    responses=ok(schemas_common.Feature) | {
        200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown feature"}},
    response_model=None)
def item(
    request: Request,
    conn: CountyReadConnDep,
    principal: PrincipalDep,
    collection_id: CollectionId,
    feature_id: str,
    crs: Annotated[str | None, Query(description="Output CRS (default CRS84)")] = None,
    properties: Annotated[str | None, Query(description="Comma-separated properties")] = None,
    f: Annotated[str | None, Query(description="json / geojson")] = None,
) -> JSONResponse:
    """One feature by id (cells: 15-digit code; cameras: GB/T 28181 id; incidents: code)."""
    layer = get_layer(collection_id)
    feature, out_crs, revealed = ogc.item(conn, layer, principal, feature_id, crs,
                                          _csv(properties, "properties"))
    note_revealed(request, revealed)
    base = _base(request)
    feature["links"] = [
        _link(str(request.url), "self", GEOJSON),
        _link(f"{base}/collections/{layer.id}", "collection", JSON),
    ]
    return JSONResponse(feature, media_type=GEOJSON, headers=_content_crs(out_crs))

