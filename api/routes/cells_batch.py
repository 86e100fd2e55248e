"""Batch "which cell": ``POST /cells/at`` with up to 100,000 points (JSON or CSV)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Engine

from api.deps import EXPENSIVE, EngineDep, PrincipalDep, SettingsDep
from api.schemas import cells as schemas_cells
from api.schemas import ok
from geo.crs.validate import coords_to_cgcs2000
from geo.errors import InvalidInput, TooLarge
from geo.lookup.batch import (
    BatchResult,
    cells_at_many,
    lookup_table,
    no_gc,
    read_csv_text,
)

log = logging.getLogger("wangge")


router = APIRouter(tags=["cells 网格"], dependencies=[EXPENSIVE])

_JSON_SCHEMA = {
    "type": "object",
    "required": ["points"],
    "properties": {
        "points": {
            "description": "[[lon, lat], ...] or [{\"lon\": .., \"lat\": .., \"id\": ..}, ...]",
            "type": "array",
            "maxItems": 100_000,
            "items": {"oneOf": [
                {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                {"type": "object", "properties": {"lon": {"type": "number"},
                                                  "lat": {"type": "number"}, "id": {}}},
            ]},
        },
        "crs": {"type": "string", "default": "EPSG:4490"},
        "region": {"type": "string"},
        "at": {"type": "string", "format": "date"},
        "tolerance_m": {"type": "number", "minimum": 0, "maximum": 1000},
    },
    "example": {"points": [[111.13, 38.46], [111.0, 38.3]], "crs": "EPSG:4490"},
}


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"请求体超过 {limit} 字节 / request body above {limit} bytes",
                       max_bytes=limit)
    body = await request.body()
    if len(body) > limit:
        raise TooLarge(f"请求体超过 {limit} 字节 / request body above {limit} bytes",
                       max_bytes=limit)
    return body


def _points_from_json(payload: Any) -> tuple[np.ndarray, np.ndarray, list[Any] | None]:
    if not isinstance(payload, dict) or "points" not in payload:
        raise InvalidInput(
            '请求体须为 {"points": [[lon, lat], ...]} / the body must be {"points": '
            "[[lon, lat], ...]}", field="points",
        )
    points = payload["points"]
    if not isinstance(points, list):
        raise InvalidInput("points 须为数组 / points must be an array", field="points")
    if points and isinstance(points[0], list):
        try:  # the common case, [[lon, lat], ...] of numbers: one numpy conversion
            arr = np.array(points)
            if arr.ndim == 2 and arr.shape[1] == 2 and arr.dtype.kind in "fi":
                return arr[:, 0].astype(np.float64), arr[:, 1].astype(np.float64), None
        except (TypeError, ValueError):
            pass  # ragged or mixed: checked point by point below
    xs = np.full(len(points), np.nan)
    ys = np.full(len(points), np.nan)
    ids: list[Any] | None = None
    for i, p in enumerate(points):
        try:
            if isinstance(p, dict):
                if ids is None:
                    ids = [None] * len(points)
                ids[i] = p.get("id")
                x, y = p.get("lon"), p.get("lat")
            else:
                x, y = p[0], p[1]
            if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(
                x, bool
            ):
                xs[i], ys[i] = x, y
        except (TypeError, IndexError, KeyError):
            continue
    return xs, ys, ids


def _run_json(
    engine: Engine, xs: np.ndarray, ys: np.ndarray, ids: list[Any] | None, crs: str | None,
    region: str, at: dt.date | None, tol: float, max_points: int, layout: str = "rows",
) -> bytes:
    if len(xs) > max_points:
        raise TooLarge(
            f"一次最多 {max_points} 个点, 收到 {len(xs)} 个; 请分批 / at most {max_points} "
            f"points per batch, got {len(xs)}: split the request", max=max_points, got=len(xs),
        )
    lon, lat, errors = coords_to_cgcs2000(xs, ys, crs)
    with engine.connect() as conn:
        result = cells_at_many(conn, lon, lat, region, tol, at, errors, max_points)
    head = {
        "boundary_set_id": result.boundary_set_id,
        "region": region,
        "tolerance_m": tol,
        "count": len(result),
        "found": result.found(),
        "near_boundary": result.near_count(),
        "errors": sum(1 for e in result.error if e),
    }
    with no_gc():
        if layout == "columns":
            return _encode_columns(head, result, ids)
        return _encode(head, result, ids)


_TEXTS: dict[int, tuple[list[str], list[str], Any, Any]] = {}


def _cell_texts(codes: list[str]) -> tuple[list[str], Any, Any]:
    """Per cell of an index (``codes``, the index's own list): its code as JSON, the whole
    row of a point answered deep inside it, and its one-cell candidate list, each with a
    last entry for "no cell" (index -1). Made once per index, like the index itself."""
    got = _TEXTS.get(id(codes))
    if got is not None and got[0] is codes:
        return got[1], got[2], got[3]
    code_json = [json.dumps(c, ensure_ascii=False) for c in codes]
    simple_rows = np.array(
        [f'{{"cell_code":{c},"near_boundary":false,"candidates":[{c}],"error":null}}'
         for c in code_json] + [""], dtype=object)
    one_cand = np.array([f"[{c}]" for c in code_json] + ["[]"], dtype=object)
    code_json.append("null")
    if len(_TEXTS) > 8:
        _TEXTS.clear()
    _TEXTS[id(codes)] = (codes, code_json, simple_rows, one_cand)
    return code_json, simple_rows, one_cand


def _other_rows(result: BatchResult) -> tuple[list[int], list[list[int]]]:
    """The rows not answered deep inside one cell, and the cells of each one's candidates."""
    rows = np.flatnonzero(~result.simple)
    lo = np.searchsorted(result.cand_rows, rows, "left").tolist()
    hi = np.searchsorted(result.cand_rows, rows, "right").tolist()
    cells = result.cand_cells.tolist()
    return rows.tolist(), [cells[a:b] for a, b in zip(lo, hi, strict=True)]


def _encode(head: dict[str, Any], result: BatchResult, ids: list[Any] | None) -> bytes:
    """The JSON answer, written row by row: json.dumps of 100,000 small dicts takes ~3x as
    long (measured). Same document as ``{**head, "results": result_rows(result)}``.

    Rows answered deep inside one cell (``result.simple``: not near, that cell the only
    candidate, no error) are the same text for every point of a cell: written once per index
    (:func:`_cell_texts`) and repeated by numpy indexing.
    """
    n = len(result)
    flags = {True: "true", False: "false", None: "null"}
    if len(result.hit) == n and n:  # from cells_at_many: arrays
        code_json, simple_rows, _ = _cell_texts(result.codes)
        texts = simple_rows[np.where(result.simple, result.hit, -1)]
        rows, cands = _other_rows(result)
        near, valid, hit, errors = (result.near.tolist(), result.valid.tolist(),
                                    result.hit.tolist(), result.error)
        for i, cs in zip(rows, cands, strict=True):
            err = "null" if errors[i] is None else json.dumps(errors[i], ensure_ascii=False)
            texts[i] = (f'{{"cell_code":{code_json[hit[i]]},'
                        f'"near_boundary":{flags[near[i] if valid[i] else None]},'
                        f'"candidates":[{",".join([code_json[c] for c in cs])}],'
                        f'"error":{err}}}')
        parts: list[str] = texts.tolist()
    else:
        def q(value: str | None) -> str:
            return json.dumps(value, ensure_ascii=False)

        parts = [f'{{"cell_code":{q(c)},"near_boundary":{flags[nb]},'
                 f'"candidates":[{",".join(q(x) for x in cand)}],"error":{q(e)}}}'
                 for c, nb, cand, e in zip(result.cell_code, result.near_boundary,
                                           result.candidates, result.error, strict=True)]
    if ids is None:
        body = ",".join(parts)
    else:
        body = ",".join(f'{p[:-1]},"id":{json.dumps(i, ensure_ascii=False)}}}'
                        for p, i in zip(parts, ids, strict=True))
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"results":[' + body + "]}"
    return text.encode("utf-8")


def _encode_columns(head: dict[str, Any], result: BatchResult, ids: list[Any] | None) -> bytes:
    """``format=columns``: one array per answer field instead of one object per point
    (``{..., "cell_code": [...], "near_boundary": [...], "candidates": [[...], ...],
    "error": [...]}``, plus ``"id"`` when the points had ids): half the bytes of the row
    layout, and the same values (see :func:`columns_document`)."""
    n = len(result)
    if len(result.hit) != n or not n:
        body = json.dumps({**head, **columns_document(result, ids)}, ensure_ascii=False)
        return body.encode("utf-8")
    code_json, _, one_cand = _cell_texts(result.codes)
    hit = result.hit
    cells = np.asarray(code_json, dtype=object)[hit].tolist()  # -1: the "null" at the end
    cand = one_cand[np.where(result.simple, hit, -1)]
    for i, cs in zip(*_other_rows(result), strict=True):
        cand[i] = f'[{",".join([code_json[c] for c in cs])}]'
    near = np.where(result.valid, np.where(result.near, "true", "false"), "null").tolist()
    errors = json.dumps(result.error, ensure_ascii=False, separators=(",", ":"))
    parts = [json.dumps(head, ensure_ascii=False)[:-1],
             ',"cell_code":[', ",".join(cells), '],"near_boundary":[', ",".join(near),
             '],"candidates":[', ",".join(cand.tolist()), '],"error":', errors]
    if ids is not None:
        parts += [',"id":', json.dumps(ids, ensure_ascii=False, separators=(",", ":"))]
    parts.append("}")
    return "".join(parts).encode("utf-8")


def columns_document(result: BatchResult, ids: list[Any] | None) -> dict[str, Any]:
    """What ``format=columns`` answers besides the head (the reference for its encoder)."""
    doc: dict[str, Any] = {"cell_code": result.cell_code, "near_boundary": result.near_boundary,
                           "candidates": result.candidates, "error": result.error}
    if ids is not None:
        doc["id"] = ids
    return doc


def _run_csv(
    engine: Engine, data: bytes, lon_field: str, lat_field: str, crs: str | None,
    region: str, at: dt.date | None, tol: float, max_points: int,
) -> bytes:
    table = read_csv_text(data)
    with engine.connect() as conn:
        out = lookup_table(conn, table, lon_field, lat_field, crs, region, at, tol, max_points)
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8-sig")


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"at 须为日期 YYYY-MM-DD / at must be a date YYYY-MM-DD: {value!r}",
                           field="at") from exc


@router.post(
    "/cells/at",
    summary="Batch: which cell covers each point / 批量判断点所在网格",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": _JSON_SCHEMA},
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
    }}},
    responses=ok(schemas_cells.BatchAnswer) |
       {200: {"description": "JSON results in input order, or the CSV with 4 columns "
                     "added (cell_code, near_boundary, candidates, error)",
                     "content": {"application/json": {}, "text/csv": {}}},
               413: {"description": "more than 100,000 points or body too large"},
               422: {"description": "bad body, CRS, date or missing CSV column"}},
               response_model=None)
async def post_cells_at(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    crs: Annotated[str | None, Query(description="CRS of the points (CSV/query form)")] = None,
    region: Annotated[str | None, Query(description="Region (county) code")] = None,
    at: Annotated[dt.date | None, Query(description="Boundaries valid on this date")] = None,
    tolerance_m: Annotated[float | None, Query(ge=0, le=1000)] = None,
    lon_field: Annotated[str, Query(description="CSV column of x/longitude")] = "lon",
    lat_field: Annotated[str, Query(description="CSV column of y/latitude")] = "lat",
    format: Annotated[  # noqa: A002 - the public name of the option
        Literal["rows", "columns"],
        Query(description="JSON answers: `rows` (default, one object per point) or `columns` "
              "(one array per field: cell_code, near_boundary, candidates, error, id; a third "
              "of the bytes)"),
    ] = "rows",
) -> Response:
    """Answer many points in one call: JSON ``{"points": [[lon, lat], ...]}`` or a CSV.

    Each point gets ``cell_code`` (null when no cell covers it), ``near_boundary`` (within the
    tolerance of its cell's edge), ``candidates`` (every cell within the tolerance) and
    ``error`` (why a row's coordinates were unusable). CSV in, CSV out: every input column is
    kept. Cells are public layers, so every role may ask.
    """
    del principal  # public layer; the dependency keeps the access contract uniform
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    max_points = settings.max_batch_points
    tol_default = settings.boundary_tolerance_m
    if ctype == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("multipart 请求须含 file 字段 / multipart body needs a 'file' field",
                               field="file")
        data = await upload.read()
        if len(data) > settings.max_body_bytes:
            raise TooLarge(f"文件超过 {settings.max_body_bytes} 字节 / file too large",
                           max_bytes=settings.max_body_bytes)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        body = await run_in_threadpool(
            _run_csv, engine, data, fields.get("lon_field", lon_field),
            fields.get("lat_field", lat_field), fields.get("crs", crs),
            fields.get("region", settings.region_or_default(region)),
            _date(fields.get("at")) or at,
            float(fields.get("tolerance_m") or (tolerance_m if tolerance_m is not None
                                                else tol_default)),
            max_points,
        )
        return Response(body, media_type="text/csv; charset=utf-8")
    data = await _body(request, settings.max_body_bytes)
    if ctype in ("text/csv", "application/csv", "text/plain"):
        body = await run_in_threadpool(
            _run_csv, engine, data, lon_field, lat_field, crs,
            settings.region_or_default(region), at,
            tolerance_m if tolerance_m is not None else tol_default, max_points,
        )
        return Response(body, media_type="text/csv; charset=utf-8")
    try:
        with no_gc():  # orjson: a quarter of json.loads's time on 100,000 points (measured)
            payload = orjson.loads(data)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise InvalidInput(f"请求体不是合法 JSON / the body is not valid JSON: {exc}",
                           field="body") from exc
    if not isinstance(payload, dict):
        payload = {"points": payload}
    xs, ys, ids = _points_from_json(payload)
    tol = payload.get("tolerance_m", tolerance_m)
    if tol is None:
        tol = tol_default
    if not isinstance(tol, int | float) or not 0 <= tol <= 1000:
        raise InvalidInput("tolerance_m 须在 0..1000 / tolerance_m must be in 0..1000",
                           field="tolerance_m")
    body = await run_in_threadpool(
        _run_json, engine, xs, ys, ids, payload.get("crs", crs),
        settings.region_or_default(payload.get("region", region)),
        _date(payload.get("at")) or at, float(tol), max_points, format,
    )
    return Response(body, media_type="application/json")
