"""The spatial layers served over HTTP (OGC API - Features, spatial questions, vector tiles).

One registry describes each layer once: its table, feature id, geometry column, public
properties (and their types, for filters and schemas), the datetime property and the base
condition (cells: the active boundary set only). Every query built from it
uses SQLAlchemy Core expressions with bound parameters; user input only ever selects names that
exist in this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, select, text, true
from sqlalchemy.sql.elements import TextClause

from geo.auth.principal import Principal, incident_scope_sql
from geo.db.tables import Base
from geo.errors import NotFound


@dataclass(frozen=True)
class Layer:
    """One served layer."""

    id: str
    title: str
    description: str
    table_name: str
    id_column: str
    geom_column: str
    geometry_type: str
    properties: dict[str, str]  # name -> JSON-schema-ish type: string|integer|number|boolean|...
    datetime_column: str | None = None
    incidents: bool = False
    base: str = ""  # extra base condition key, see ``base_condition``
    default_sort: tuple[str, ...] = field(default_factory=tuple)

    @property
    def table(self) -> Table:
        """The SQLAlchemy table."""
        return Base.metadata.tables[self.table_name]

    def column(self, name: str) -> Any:
        """The column of property ``name`` (or the geometry column)."""
        if name in ("geometry", "geom", self.geom_column):
            return self.table.c[self.geom_column]
        return self.table.c[name]


_CELL_PROPS = {
    "code": "string", "name": "string", "kind": "string", "parent_code": "string",
    "township_code": "string", "households": "integer", "population": "integer",
    "area_m2": "number", "region_code": "string", "boundary_set_id": "integer",
}
_UNIT_PROPS = {
    "code": "string", "name": "string", "name_en": "string", "level": "string",
    "parent_code": "string", "households": "integer", "population": "integer",
    "region_code": "string",
}
_COMPOUND_PROPS = {
    "code": "string", "name": "string", "address": "string", "community_code": "string",
    "households": "integer", "buildings": "integer", "built_year": "integer",
    "mgmt_mode": "string", "company_name": "string", "company_credit": "string",
    "owners_committee": "string", "complaint_phone": "string",
    "complaint_phone_posted": "boolean", "region_code": "string",
}
_CAMERA_PROPS = {
    "gb_id": "string", "name": "string", "bearing_deg": "number", "fov_deg": "number",
    "range_m": "number", "status": "string", "project": "string", "installed_at": "date",
    "region_code": "string",
}
_INCIDENT_PROPS = {
    "code": "string", "category_code": "string", "channel": "string", "status": "string",
    "urgency": "string", "reported_at": "datetime", "description": "string",
    "location_text": "string", "reporter_name": "string", "reporter_phone": "string",
    "cell_code": "string", "community_code": "string", "township_code": "string",
    "department_code": "string", "due_at": "datetime", "closed_at": "datetime",
    "rework_count": "integer", "region_code": "string",
}

LAYERS: dict[str, Layer] = {
    layer.id: layer
    for layer in (
        Layer("cells", "网格 / Grid cells",
              "生效边界集中的网格 / grid cells of the active boundary set",
              "grid_cell", "code", "geom", "MultiPolygon", _CELL_PROPS, base="active_cells",
              default_sort=("code",)),
        Layer("admin_units", "行政区划 / Administrative units",
              "县、乡镇、行政村、社区 / county, townships, villages, communities",
              "admin_unit", "code", "geom", "MultiPolygon", _UNIT_PROPS, default_sort=("code",)),
        Layer("compounds", "住宅小区 / Residential compounds",
              "小区及其物业管理 / compounds and their property management",
              "compound", "code", "geom", "MultiPolygon", _COMPOUND_PROPS,
              default_sort=("code",)),
        Layer("cameras", "摄像头 / Cameras", "雪亮工程摄像头位置 / Sharp Eyes camera positions",
              "camera", "gb_id", "geom", "Point", _CAMERA_PROPS, default_sort=("gb_id",)),
        Layer("camera_sectors", "摄像头视域 / Camera coverage sectors",
              "摄像头的视域扇形 / the field-of-view sector of each camera",
              "camera", "gb_id", "sector", "Polygon", _CAMERA_PROPS, base="has_sector",
              default_sort=("gb_id",)),
        Layer("incidents", "事件 / Incidents",
              "按权限范围过滤, 个人信息按权限遮盖 / scoped to the caller; personal fields "
              "masked unless the caller may see them",
              "incident", "code", "geom", "Point", _INCIDENT_PROPS,
              datetime_column="reported_at", incidents=True,
              default_sort=("code",)),
    )
}


def get_layer(layer_id: str, allowed: tuple[str, ...] | None = None) -> Layer:
    """The layer named ``layer_id`` or NotFound naming it and the known layers."""
    names = allowed or tuple(LAYERS)
    if layer_id not in LAYERS or layer_id not in names:
        raise NotFound(
            f"未知图层/集合 {layer_id!r}; 可用: {', '.join(names)} / unknown collection or layer "
            f"{layer_id!r}; known: {', '.join(names)}",
            collection=layer_id,
        )
    return LAYERS[layer_id]


def base_conditions(layer: Layer, principal: Principal) -> list[ColumnElement[bool] | TextClause]:
    """Conditions every query on ``layer`` must carry: base rows, region and access scope."""
    t = layer.table
    conds: list[ColumnElement[bool] | TextClause] = []
    if layer.base == "active_cells":
        active = Base.metadata.tables["boundary_set"]
        conds.append(
            t.c.boundary_set_id.in_(select(active.c.id).where(active.c.is_active.is_(True)))
        )
    elif layer.base == "has_sector":
        conds.append(t.c.sector.is_not(None))
    if principal.regions is not None:
        conds.append(t.c.region_code.in_(sorted(principal.regions)))
    if layer.incidents and not _sees_incident_points(principal):
        sql, params = incident_scope_sql(principal, alias=layer.table_name)
        conds.append(text(sql).bindparams(**params) if params else text(sql))
    return conds


def _sees_incident_points(principal: Principal) -> bool:
    """Planners get every incident of their regions as a point with its non-personal
    attributes (category, status, times, cell/township): "aggregates and geometries without
    personal fields" (the QGIS planner of the scenarios loads the incidents of a township)."""
    return principal.role == "planner"


def where_all(conds: list[Any]) -> Any:
    """AND of conditions (TRUE when empty)."""
    return and_(*conds) if conds else true()


def active_set_id(conn: Connection, region_code: str) -> int | None:
    """Id of the active boundary set of a region (None when there is none)."""
    value = conn.execute(
        text("SELECT id FROM boundary_set WHERE region_code = :r AND is_active"),
        {"r": region_code},
    ).scalar()
    return None if value is None else int(value)
