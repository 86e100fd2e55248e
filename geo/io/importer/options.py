"""The options of one import (CLI flags and upload form fields map 1:1 onto them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from geo.boundaries.checks import DEFAULT_MIN_AREA_M2
from geo.localtime import TZ_NAME

MAX_LISTED = 100
Progress = Callable[[int, int | None], None]


@dataclass
class ImportOptions:
    """Options of one import (CLI flags and upload form fields map 1:1 onto these)."""

    region: str
    region_name: str | None = None
    crs: str | None = None
    layer: str | None = None
    lon_field: str | None = None
    lat_field: str | None = None
    wkt_field: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    township_field: str | None = None
    kind_field: str | None = None
    level: str | None = None
    level_field: str | None = None
    category_field: str | None = None
    category_map: dict[str, str] = field(default_factory=dict)
    default_category: str | None = None
    time_field: str | None = None
    time_format: str | None = None
    timezone: str = TZ_NAME
    description_field: str | None = None
    address_field: str | None = None
    bearing_field: str | None = None
    cell_field: str | None = None
    phone_field: str | None = None
    channel: str = "12345"
    status: str = "reported"
    strict: bool = False
    skip_refused: bool = False
    commit: bool = False
    activate: bool = False
    force: bool = False
    set_name: str | None = None
    valid_from: dt.date | None = None
    min_area_m2: float = DEFAULT_MIN_AREA_M2
    route: bool = True
    # incidents: each row as a live case (routing reasons, deadlines, duplicate flags, like one
    # report; the hotline path) instead of a staged history import
    as_cases: bool = False
    chunk_rows: int = 50_000
    # a saved mapping profile (geo.io.importer.profiles) named by the import; applied by
    # run_import onto the fields below (and category_map, channel)
    profile: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # header -> report field
    time_formats: list[str] = field(default_factory=list)  # tried after the usual forms
    default_department: str | None = None

