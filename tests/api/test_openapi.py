"""The OpenAPI document shows a real schema and an example for every JSON answer, and live
answers validate against the model their route declares (api/schemas/)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

import api.schemas


def _models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(api.schemas.__path__):
        mod = importlib.import_module(f"api.schemas.{info.name}")
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                out[value.__name__] = value
    return out


def _declared(spec: dict[str, Any], method: str, path: str) -> type[BaseModel]:
    responses = spec["paths"][path][method]["responses"]
    code = "201" if "201" in responses else "200"
    ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
    return _models()[ref.rsplit("/", 1)[1]]


def test_every_json_answer_has_a_schema_and_an_example(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code in ("200", "201"):
                js = op["responses"].get(code, {}).get("content", {}).get("application/json")
                if js is None:
                    continue
                assert js.get("schema", {}).get("$ref"), f"{method} {path}: no schema"
                assert js.get("example"), f"{method} {path}: no example"
                checked += 1
    assert checked >= 45
    # the examples themselves validate against their models
    for model in _models().values():
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict):
            for example in extra.get("examples", []):
                TypeAdapter(model).validate_python(example)


def test_live_answers_validate_against_their_models(client: Any,
                                                    role_headers: dict[str, Any]) -> None:
    spec = client.get("/openapi.json").json()
    first = client.get("/incidents", params={"limit": 1}).json()[0]
    cell = first["cell_code"]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("get", "/health", {}),
        ("get", "/cells/at", {"params": {"lon": 111.13, "lat": 38.46}}),
        ("post", "/cells/at", {"json": {"points": [[111.13, 38.46], [0, 0]]}}),
        ("get", "/auth/me", {}),
        ("get", "/board", {}),
        ("get", "/kpi", {"params": {"from": "2026-10-01", "to": "2026-11-01"}}),
        ("get", "/me/cell", {}),
        ("get", "/me/incidents", {}),
        ("get", "/incidents", {"params": {"limit": 3}}),
        ("get", "/incidents/overdue", {"params": {"limit": 3}}),
        ("get", "/incidents/{incident_id}", {"path": {"incident_id": first["code"]}}),
        ("get", "/analysis/grid-health", {}),
        ("get", "/ogc", {}),
        ("get", "/ogc/conformance", {}),
        ("get", "/ogc/collections", {}),
        ("get", "/ogc/collections/{collection_id}", {"path": {"collection_id": "cells"}}),
        ("get", "/ogc/collections/{collection_id}/queryables",
         {"path": {"collection_id": "incidents"}}),
        ("get", "/ogc/collections/{collection_id}/items",
         {"path": {"collection_id": "cameras"}, "params": {"limit": 2}}),
        ("get", "/spatial/{layer}/within",
         {"path": {"layer": "cameras"},
          "params": {"lon": 111.13, "lat": 38.46, "distance_m": 500}}),
        ("get", "/cells/{code}/summary", {"path": {"code": cell}}),
        ("get", "/maps/data/incidents", {"params": {"bbox": "111.12,38.45,111.14,38.47"}}),
        ("get", "/maps/dispatch/figures", {}),
        ("get", "/audit", {"headers": role_headers["admin"], "params": {"limit": 2}}),
    ]
    for method, path, kw in calls:
        url = path.format(**kw.pop("path", {}))
        r = client.request(method.upper(), url, **kw)
        assert r.status_code in (200, 201), f"{method} {url}: {r.status_code} {r.text[:300]}"
        model = _declared(spec, method, path)
        try:
            TypeAdapter(model).validate_python(r.json())
        except Exception as exc:  # noqa: BLE001 - name the answer that does not fit
            pytest.fail(f"{method} {url} does not fit {model.__name__}: {exc}")
