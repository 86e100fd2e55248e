"""CQL2 text filters -> SQLAlchemy expressions (pygeofilter parses; this module walks the AST).

Only properties of the layer can be named (anything else is an InvalidInput naming it), values
become bound parameters, and geometry literals are transformed from ``filter-crs`` (default
OGC CRS84) to CGCS2000 (SRID 4490) in Python before they are bound, so PostGIS never sees mixed
SRIDs. No SQL text is ever built from the filter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import shapely
from geoalchemy2 import functions as gf
from pygeofilter import ast, values
from sqlalchemy import ColumnElement, and_, func, literal, not_, or_
from sqlalchemy.types import String

from geo.crs.transforms import transform_geometry
from geo.errors import InvalidInput
from geo.layers.registry import Layer

SRID = 4490


def parse_cql2(text_filter: str) -> Any:
    """Parse CQL2 text, raising InvalidInput with the parser's reason."""
    from pygeofilter.parsers.cql2_text import parse

    try:
        return parse(text_filter)
    except Exception as exc:  # noqa: BLE001 - lark raises many kinds; all mean "bad filter"
        reason = str(exc).splitlines()[0][:200]
        raise InvalidInput(
            f"无法解析 CQL2 过滤条件 / cannot parse the CQL2 filter {text_filter!r}: {reason}",
            field="filter",
        ) from exc


class FilterBuilder:
    """Walk a pygeofilter AST into an SQLAlchemy boolean expression for one layer."""

    def __init__(
        self, layer: Layer, allowed: set[str], filter_crs: str = "EPSG:4326",
        swap_xy: bool = False,
    ) -> None:
        self.layer = layer
        self.allowed = allowed
        self.filter_crs = filter_crs
        self.swap_xy = swap_xy

    # -- entry point -----------------------------------------------------------------
    def build(self, node: Any) -> ColumnElement[bool]:
        """Translate the AST ``node`` (a condition) to SQL."""
        return self._cond(node)

    # -- conditions ------------------------------------------------------------------
    def _cond(self, node: Any) -> Any:  # noqa: C901 - one branch per node kind
        if isinstance(node, ast.And):
            return and_(self._cond(node.lhs), self._cond(node.rhs))
        if isinstance(node, ast.Or):
            return or_(self._cond(node.lhs), self._cond(node.rhs))
        if isinstance(node, ast.Not):
            return not_(self._cond(node.sub_node))
        if isinstance(node, ast.Include):
            return literal(not node.not_)
        if isinstance(node, ast.Comparison):
            lhs, rhs = self._value(node.lhs), self._value(node.rhs)
            ops = {
                ast.ComparisonOp.EQ: lambda a, b: a == b,
                ast.ComparisonOp.NE: lambda a, b: a != b,
                ast.ComparisonOp.LT: lambda a, b: a < b,
                ast.ComparisonOp.LE: lambda a, b: a <= b,
                ast.ComparisonOp.GT: lambda a, b: a > b,
                ast.ComparisonOp.GE: lambda a, b: a >= b,
            }
            return ops[node.op](lhs, rhs)
        if isinstance(node, ast.Between):
            expr = self._value(node.lhs).between(self._value(node.low), self._value(node.high))
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.Like):
            col = self._value(node.lhs)
            pattern = self._like_pattern(node)
            expr = col.ilike(pattern) if node.nocase else col.like(pattern)
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.In):
            col = self._value(node.lhs)
            expr = col.in_([self._plain(v) for v in node.sub_nodes])
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.IsNull):
            col = self._value(node.lhs)
            return col.is_not(None) if node.not_ else col.is_(None)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self._spatial(node)
        if isinstance(node, ast.TemporalPredicate):
            return self._temporal(node)
        if isinstance(node, ast.Attribute):  # a bare boolean property
            return self._attribute(node.name).is_(True)
        if isinstance(node, bool):
            return literal(node)
        raise InvalidInput(
            f"CQL2 过滤条件中不支持的运算 / unsupported operation in the CQL2 filter: "
            f"{type(node).__name__}; supported: AND OR NOT = <> < <= > >= BETWEEN LIKE IN "
            "IS NULL S_INTERSECTS S_WITHIN S_CONTAINS S_DISJOINT S_TOUCHES S_CROSSES "
            "S_OVERLAPS S_EQUALS T_BEFORE T_AFTER T_DURING",
            field="filter",
        )

    def _like_pattern(self, node: Any) -> str:
        pattern = node.pattern
        if not isinstance(pattern, str):
            raise InvalidInput("LIKE 需要字符串模式 / LIKE needs a string pattern", field="filter")
        if node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%")
        # CQL2 single-char wildcard in pygeofilter is "." only when not "_"; keep "_" literal
        # semantics of SQL LIKE for "_" as CQL2 defines it.
        return str(pattern)

    # -- values ----------------------------------------------------------------------
    def _attribute(self, name: str) -> Any:
        if name in ("geometry", "geom", self.layer.geom_column):
            return self.layer.column(name)
        if name not in self.allowed:
            raise InvalidInput(
                f"过滤条件中的未知属性 {name!r} / unknown property {name!r} in the filter of "
                f"collection {self.layer.id}; queryable: {', '.join(sorted(self.allowed))}",
                field="filter", property=name,
            )
        return self.layer.column(name)

    def _plain(self, value: Any) -> Any:
        if isinstance(value, ast.Node):
            return self._value(value)
        return literal(value) if isinstance(value, str) else value

    def _value(self, node: Any) -> Any:
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Arithmetic):
            lhs, rhs = self._value(node.lhs), self._value(node.rhs)
            ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
                   "*": lambda a, b: a * b, "/": lambda a, b: a / b}
            return ops[node.op.value](lhs, rhs)
        if isinstance(node, ast.Function):
            if node.name.lower() in ("bbox", "envelope"):
                return self._geometry_literal(node)
            if node.name.lower() in ("lower", "upper"):
                fn = func.lower if node.name.lower() == "lower" else func.upper
                return fn(self._value(node.arguments[0]))
            raise InvalidInput(
                f"CQL2 过滤条件中的未知函数 {node.name!r} / unknown function {node.name!r} in "
                "the filter; known: lower, upper, BBOX", field="filter",
            )
        if isinstance(node, values.Geometry | values.Envelope):
            return self._geometry_literal(node)
        if isinstance(node, str):
            return literal(node, String)
        if isinstance(node, bool | int | float | dt.datetime | dt.date):
            return literal(node)
        if node is None:
            return literal(None)
        raise InvalidInput(
            f"CQL2 过滤条件中不支持的值 / unsupported value in the filter: {node!r}",
            field="filter",
        )

    def _geometry_literal(self, node: Any) -> Any:
        if isinstance(node, ast.Function):
            args = [float(a) for a in node.arguments]
            if len(args) == 6:
                args = [args[0], args[1], args[3], args[4]]
            if len(args) != 4:
                raise InvalidInput("BBOX 需要 4 个数 / BBOX needs 4 numbers", field="filter")
            geom: Any = shapely.box(args[0], args[1], args[2], args[3])
        else:
            try:
                geom = shapely.geometry.shape(node.__geo_interface__)
            except Exception as exc:  # noqa: BLE001
                raise InvalidInput(
                    f"无效的几何字面量 / invalid geometry literal in the filter: {exc}",
                    field="filter",
                ) from exc
        if self.swap_xy:
            geom = shapely.transform(geom, lambda c: c[:, ::-1])
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise InvalidInput(
                f"过滤条件中的几何无效 / invalid geometry in the filter: {reason}",
                field="filter", reason=reason,
            )
        geom = transform_geometry(geom, self.filter_crs, "EPSG:4490")
        return gf.ST_GeomFromText(literal(geom.wkt, String), SRID)

    # -- spatial / temporal ----------------------------------------------------------
    def _spatial(self, node: Any) -> Any:
        lhs, rhs = self._value(node.lhs), self._value(node.rhs)
        fns = {
            ast.SpatialComparisonOp.INTERSECTS: func.ST_Intersects,
            ast.SpatialComparisonOp.DISJOINT: func.ST_Disjoint,
            ast.SpatialComparisonOp.CONTAINS: func.ST_Contains,
            ast.SpatialComparisonOp.WITHIN: func.ST_Within,
            ast.SpatialComparisonOp.TOUCHES: func.ST_Touches,
            ast.SpatialComparisonOp.CROSSES: func.ST_Crosses,
            ast.SpatialComparisonOp.OVERLAPS: func.ST_Overlaps,
            ast.SpatialComparisonOp.EQUALS: func.ST_Equals,
        }
        return fns[node.op](lhs, rhs)

    def _temporal(self, node: Any) -> Any:
        lhs = self._value(node.lhs)
        rhs = node.rhs
        op = node.op
        if isinstance(rhs, values.Interval):
            start, end = rhs.start, rhs.end
            if op in (ast.TemporalComparisonOp.DURING, ast.TemporalComparisonOp.TOVERLAPS):
                conds = []
                if start is not None:
                    conds.append(lhs >= literal(start))
                if end is not None:
                    conds.append(lhs <= literal(end))
                return and_(*conds)
            raise InvalidInput(
                f"不支持的时间运算 / unsupported temporal operator {op.value} with an interval",
                field="filter",
            )
        value = self._value(rhs)
        if op == ast.TemporalComparisonOp.BEFORE:
            return lhs < value
        if op == ast.TemporalComparisonOp.AFTER:
            return lhs > value
        if op == ast.TemporalComparisonOp.TEQUALS:
            return lhs == value
        raise InvalidInput(
            f"不支持的时间运算 / unsupported temporal operator {op.value}; use T_BEFORE, "
            "T_AFTER, T_EQUALS or T_DURING", field="filter",
        )
