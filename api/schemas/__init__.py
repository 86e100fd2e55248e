"""Response models of the API, one module per resource: the OpenAPI schemas and examples.

Routes declare them with :func:`ok` (``responses={200: {"model": ...}}``): the document shows the
schema and an example, and the answers are written by the domain exactly as before (no second
serialisation on the hot path). ``tests/api/test_openapi.py`` checks that every JSON operation
has a schema with an example and that live answers validate against their model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Responses(dict[int | str, dict[str, Any]]):
    """A route's ``responses=``; ``a | b`` merges per status code (content types add up)."""

    def __or__(self, other: Any) -> Responses:  # type: ignore[override]
        out = Responses({k: dict(v) for k, v in self.items()})
        for status, entry in dict(other).items():
            mine = out.setdefault(status, {})
            content = {**mine.get("content", {}), **entry.get("content", {})}
            for media, spec in mine.get("content", {}).items():
                content[media] = {**entry.get("content", {}).get(media, {}), **spec}
            mine.update({k: v for k, v in entry.items() if k != "content"})
            if content:
                mine["content"] = content
        return out


def ok(model: type[BaseModel], description: str = "OK", status: int = 200,
       media_type: str = "application/json") -> Responses:
    """The ``responses=`` entry declaring ``model`` as the success answer (with its example).

    Combine with a route's other answers by ``|``: ``ok(Model) | {404: {...}}``; an entry for
    the same status adds its content types (GeoJSON, XLSX) to the model's.
    """
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    example = examples[0] if isinstance(examples, list) and examples else None
    content: dict[str, Any] = {media_type: {"example": example}} if example is not None else {}
    return Responses({status: {"model": model, "description": description, "content": content}})


def files(*media_types: str, description: str = "A file") -> Responses:
    """The ``responses=`` entry of a route answering a file or a page, not JSON."""
    return Responses({200: {"description": description,
                            "content": {m: {"schema": {"type": "string", "format": "binary"}}
                                        for m in media_types}}})
