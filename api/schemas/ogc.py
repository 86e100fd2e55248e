"""OGC API - Features documents (landing page, conformance, collections, queryables)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config
from api.schemas.common import Link

_LINK = {"href": "http://127.0.0.1:8000/ogc/collections", "rel": "data",
         "type": "application/json", "title": "集合 / collections"}
_COLLECTION = {"id": "cells", "title": "网格 / Grid cells", "description": "生效边界集中的网格",
               "itemType": "feature",
               "extent": {"spatial": {"bbox": [[110.6, 38.1, 111.6, 38.8]]}},
               "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
               "storageCrs": "http://www.opengis.net/def/crs/EPSG/0/4490", "links": [_LINK]}


class Landing(Answer):
    """The landing page: title and links to the API, conformance and collections."""

    title: str
    links: list[Link]
    model_config = model_config({"title": "Wangge 网格 OGC API - Features",
                                 "description": "...", "links": [_LINK]})


class Conformance(Answer):
    """The conformance classes implemented."""

    conformsTo: list[str]
    model_config = model_config({"conformsTo": [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"]})


class Collection(Answer):
    """One collection: extent, CRSs, links."""

    id: str
    title: str
    links: list[Link]
    crs: list[str] | None = None
    model_config = model_config(_COLLECTION)


class Collections(Answer):
    """Every collection the caller may read."""

    links: list[Link]
    collections: list[Collection]
    model_config = model_config({"links": [_LINK], "collections": [_COLLECTION],
                                 "crs": _COLLECTION["crs"]})


class Queryables(Answer):
    """The properties a filter may name (JSON Schema)."""

    properties: dict[str, Any]
    model_config = model_config({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "title": "cells", "properties": {"code": {"type": "string"}},
        "additionalProperties": False})
