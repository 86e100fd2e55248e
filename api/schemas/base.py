"""The base of every response model: extra fields allowed, an example required."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


def model_config(example: dict[str, Any] | list[Any]) -> ConfigDict:
    """Config of a response model: open to extra fields, with ``example`` in the schema."""
    return ConfigDict(extra="allow", json_schema_extra={"examples": [example]})


class Answer(BaseModel):
    """A JSON answer (fields beyond the declared ones are allowed)."""

    model_config = ConfigDict(extra="allow")


def list_config(example: list[Any]) -> ConfigDict:
    """Config of a list answer (a ``RootModel``), with ``example`` in the schema."""
    return ConfigDict(json_schema_extra={"examples": [example]})
