"""GeoJSON, links, errors, health."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config

_POINT = {"type": "Point", "coordinates": [111.1362, 38.4614]}
_FEATURE = {"type": "Feature", "id": "14112300001310900001", "geometry": _POINT,
            "properties": {"gb_id": "14112300001310900001", "status": "online"}}


class Geometry(Answer):
    """A GeoJSON geometry (coordinates in the answer's CRS)."""

    type: str
    coordinates: Any = None
    model_config = model_config(_POINT)


class Feature(Answer):
    """A GeoJSON Feature."""

    type: str = "Feature"
    id: str | int | None = None
    geometry: Geometry | None = None
    properties: dict[str, Any] | None = None
    model_config = model_config(_FEATURE)


class Link(Answer):
    """A link (OGC API style)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    model_config = model_config({"href": "http://127.0.0.1:8000/ogc/collections",
                                 "rel": "data", "type": "application/json",
                                 "title": "集合 / collections"})


class FeatureCollection(Answer):
    """A GeoJSON FeatureCollection (OGC items add numberMatched/numberReturned and links)."""

    type: str = "FeatureCollection"
    features: list[Feature]
    numberMatched: int | None = None
    numberReturned: int | None = None
    links: list[Link] | None = None
    model_config = model_config({"type": "FeatureCollection", "numberMatched": 1,
                                 "numberReturned": 1, "features": [_FEATURE], "links": []})


class Problem(Answer):
    """An error: status, title and a detail saying what is wrong and how to fix it."""

    status: int
    title: str
    detail: str
    model_config = model_config({"status": 422, "title": "Unprocessable Entity",
                                 "detail": "纬度须在 -90..90 / lat must be in -90..90"})


class Health(Answer):
    """Liveness: the database answers and its schema revision."""

    status: str
    schema_revision: str | None = None
    model_config = model_config({"status": "ok", "schema_revision": "0007"})
