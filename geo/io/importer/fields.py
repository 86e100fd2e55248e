"""Column recognition: which column of the file holds which role (code, name, time...)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely

from geo.errors import InvalidInput
from geo.io.importer.options import ImportOptions
from geo.io.parse import find_field, is_empty


class Cols:
    """A chunk's columns as Python lists (row access by index is far cheaper than pandas)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.columns = [str(c) for c in df.columns]
        self._lists = {str(c): df[c].tolist() for c in df.columns}
        self.n = len(df)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, col: str) -> list[Any]:
        return self._lists[col]

    def row(self, i: int) -> list[Any]:
        """All values of row ``i``."""
        return [self._lists[c][i] for c in self.columns]


def example_row(attrs: pd.DataFrame | Cols, i: int, geom: Any) -> dict[str, Any]:
    """The first columns of row ``i`` (and its geometry as WKT) to show in a refusal."""
    if isinstance(attrs, Cols):
        attrs = attrs.df
    row = {str(k): (None if is_empty(v) else str(v)) for k, v in attrs.iloc[i].items()}
    items = list(row.items())[:8]
    out = dict(items)
    if geom is not None:
        out["geometry"] = shapely.to_wkt(geom, rounding_precision=6)[:120]
    return out


_ROLE_OPTION = {
    "code": "code_field", "name": "name_field", "parent": "parent_field",
    "township": "township_field", "kind": "kind_field", "level": "level_field",
    "category": "category_field", "time": "time_field", "description": "description_field",
    "address": "address_field", "bearing": "bearing_field", "cell": "cell_field",
    "phone": "phone_field",
}
_LAYER_ROLES = {
    "cells": ("code", "name", "parent", "township", "kind", "households", "population"),
    "admin": ("code", "name", "parent", "level", "households", "population"),
    "compounds": ("code", "name", "address", "households", "buildings", "built_year",
                  "mgmt_mode", "company", "parent"),
    "cameras": ("code", "name", "bearing", "fov", "range", "status"),
    "incidents": ("code", "category", "time", "description", "address", "reporter_name",
                  "reporter_phone", "channel"),
    "workers": ("code", "name", "phone", "cell", "valid_from"),
    "buildings": ("code", "name", "address", "compound", "floors", "units"),
    "addresses": ("code", "address", "township_name", "community_name", "road", "number",
                  "compound", "building", "unit", "room"),
}


def map_fields(layer: str, columns: list[str], opts: ImportOptions) -> dict[str, str | None]:
    """The column of the file for each role of ``layer`` (an option names it, else recognised)."""
    out: dict[str, str | None] = {}
    for role in _LAYER_ROLES[layer]:
        opt = _ROLE_OPTION.get(role)
        given = getattr(opts, opt) if opt else None
        try:
            out[role] = find_field(columns, role, given)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=opt or role) from exc
    need_code = layer not in ("incidents",)
    if need_code and out["code"] is None:
        raise InvalidInput(
            f"找不到编码列，请用 --code-field 指定；现有列: {columns} / no code column: give "
            f"--code-field; columns are: {columns}", field="code_field")
    if layer == "incidents" and out["time"] is None:
        raise InvalidInput(
            f"找不到时间列，请用 --time-field 指定；现有列: {columns} / no time column: give "
            f"--time-field; columns are: {columns}", field="time_field")
    return out


def field_value(attrs: Cols, col: str | None, i: int) -> Any:
    """The value of column ``col`` in row ``i``; ``None`` for a missing column or an empty cell."""
    if col is None:
        return None
    v = attrs[col][i]
    if v is None or v == "":
        return None
    return None if is_empty(v) else v


def column_values(attrs: Cols, col: str | None) -> list[Any]:
    """Every value of column ``col`` as :func:`field_value` reads it (a whole chunk at once)."""
    if col is None:
        return [None] * len(attrs)
    return [None if v is None or v == "" or is_empty(v) else v for v in attrs[col]]


def text_values(attrs: Cols, col: str | None) -> list[Any]:
    """Every value of a free-text column (a description, a place, a name): only an empty
    cell (nothing, NaN, blanks) is None; a text such as ``NULL``, ``none`` or ``-`` is kept
    as written (:func:`column_values`' placeholders are for codes, categories, times and
    coordinates; review: a description ``NULL`` was stored as SQL NULL)."""
    if col is None:
        return [None] * len(attrs)
    return [None if v is None or (v.isspace() or not v if isinstance(v, str) else is_empty(v))
            else v for v in attrs[col]]


def code_of(v: Any) -> str | None:
    """A code as text (``12.0`` read by Excel becomes ``12``), ``None`` when empty."""
    if v is None:
        return None
    if isinstance(v, float) and v == int(v):
        v = int(v)
    s = str(v).strip()
    return s or None

