"""The declarative base of every Wangge table and the one storage SRID (CGCS2000)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

SRID = 4490  # CGCS2000: every geometry column is stored in it


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL ``column IN ('a', 'b')`` for a CHECK constraint over a code list."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base of all Wangge tables."""

    type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSONB}
