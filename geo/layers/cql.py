"""CQL2 text filters -> SQLAlchemy expressions (pygeofilter parses; this module walks the AST).

Only properties of the layer can be named (anything else is an InvalidInput naming it), values
become bound parameters, and geometry literals go through the one geometry gate
(:func:`geo.io.geometry.parse_geometry`) from ``filter-crs`` (default OGC CRS84) to CGCS2000
(SRID 4490) in Python before they are bound, so PostGIS never sees mixed SRIDs or a position no
CRS can place. No SQL text is ever built from the filter.

Types are checked before any SQL is built (:func:`check_filter`): a number compared with a text
property (``code > 5``), a date that is not a date (``reported_at > 'notadate'``), ``LIKE`` on a
number, ``BETWEEN`` or ``IN`` with values of another type, arithmetic on text, a spatial
predicate or ``BBOX`` on a property that is no geometry, a temporal one on a property that is no
date: each is a 422 naming the property, its type and how to write the value. A quoted ISO date
or instant compared with a date property is read as that date (China Standard Time when it has
no zone).

Temporal predicates are read in the standard function form of CQL2 text,
``T_AFTER(reported_at, TIMESTAMP('2026-10-01T00:00:00Z'))``, ``T_BEFORE(...)``,
``T_DURING(reported_at, INTERVAL('2026-10-01T00:00:00Z','2026-11-01T00:00:00Z'))``, as well as in
pygeofilter's infix form (``reported_at T_AFTER TIMESTAMP(...)``): :func:`parse_cql2_text` is
pygeofilter's CQL2 text grammar plus that one rule, both forms giving the same AST.

Limits (a filter is a query the database runs for the caller): at most
:data:`MAX_FILTER_CHARS` characters, :data:`MAX_FILTER_TERMS` predicates, :data:`MAX_IN_VALUES`
values in one ``IN`` list and :data:`MAX_FILTER_DEPTH` levels of nesting (a run of the same
``AND``/``OR`` is one level); beyond them the answer is a 422 saying which limit.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import shapely
from geoalchemy2 import functions as gf
from pygeofilter import ast, values
from sqlalchemy import ColumnElement, and_, func, literal, not_, or_
from sqlalchemy.types import String

from geo.errors import InvalidInput
from geo.layers.registry import Layer
from geo.localtime import CST

SRID = 4490
MAX_FILTER_CHARS = 4000
MAX_FILTER_TERMS = 100
MAX_FILTER_DEPTH = 20
MAX_IN_VALUES = 500

GEOMETRY = "geometry"
_GEOMETRY_NAMES = ("geometry", "geom")
# Kinds that compare with each other (a property's JSON-schema type or a literal's kind).
_GROUPS = {"integer": "number", "number": "number", "string": "string", "boolean": "boolean",
           "datetime": "time", "date": "time", GEOMETRY: GEOMETRY}
_HOW = {
    "number": "数字不加引号 / a number without quotes, e.g. 5",
    "string": "字符串加单引号 / a quoted string, e.g. '5'",
    "boolean": "TRUE 或 FALSE / TRUE or FALSE",
    "time": "日期或时刻 / a date or instant, e.g. TIMESTAMP('2025-06-01T00:00:00Z'), "
            "DATE('2025-06-01') or '2025-06-01'",
    GEOMETRY: "几何 / a geometry, e.g. POINT(111.13 38.46) or BBOX(110.9,38.3,111.4,38.7)",
}
_PREDICATES = (ast.Comparison, ast.Between, ast.Like, ast.In, ast.IsNull,
               ast.SpatialComparisonPredicate, ast.TemporalPredicate, ast.BBox)


def _bad(zh: str, en: str, **detail: Any) -> InvalidInput:
    return InvalidInput(f"{zh} / {en}", field="filter", **detail)


# pygeofilter 0.4's CQL2 text grammar reads temporal predicates only infix (``a T_AFTER b``);
# the standard's function form ``T_AFTER(a, b)`` is added as one more alternative of the same
# rule, so both give the same AST node (and the same checks and limits below).
# An open end of an interval is written '..' (CQL2 text, OGC 21-065 "intervalInstance");
# the grammar knows only two instants, so each open form is one more alternative (review:
# INTERVAL('..', ...) was a parse error).
_TEMPORAL_FUNCTION_FORM = """
%extend temporal_predicate: _binary_temporal_predicate_func "(" expression "," expression ")" \
    -> temporal_function
%extend interval: "INTERVAL" "(" OPEN_END "," "'" DATETIME "'" ")" -> interval_open_start
    | "INTERVAL" "(" "'" DATETIME "'" "," OPEN_END ")" -> interval_open_end
    | "INTERVAL" "(" OPEN_END "," OPEN_END ")" -> interval_unbounded
OPEN_END.2: "'..'"
"""


@lru_cache(maxsize=1)
def _cql2_text_parser() -> Any:
    from lark import Lark, v_args
    from pygeofilter.cql2 import TEMPORAL_PREDICATES_MAP
    from pygeofilter.parsers.cql2_text import parser as cql2_text

    @v_args(meta=False, inline=True)
    class Transformer(cql2_text.CQLTransformer):  # type: ignore[misc]
        def temporal_function(self, op: Any, lhs: Any, rhs: Any) -> Any:
            return TEMPORAL_PREDICATES_MAP[str(op).lower()](lhs, rhs)

        def interval_open_start(self, _open: Any, end: Any) -> Any:
            return values.Interval(None, end)

        def interval_open_end(self, start: Any, _open: Any) -> Any:
            return values.Interval(start, None)

        def interval_unbounded(self, _open: Any, _open2: Any) -> Any:
            return values.Interval(None, None)

    folder = os.path.dirname(cql2_text.__file__)
    grammar_path = os.path.join(folder, "grammar.lark")
    with open(grammar_path, encoding="utf-8") as fh:
        grammar = fh.read() + _TEMPORAL_FUNCTION_FORM
    return Lark(grammar, parser="lalr", maybe_placeholders=False, transformer=Transformer(),
                import_paths=[os.path.dirname(folder)], source_path=grammar_path)


def parse_cql2_text(text_filter: str) -> Any:
    """The pygeofilter AST of CQL2 text (temporal predicates also in the standard function
    form); the parser's own exceptions, no limits: callers use :func:`parse_cql2`."""
    return _cql2_text_parser().parse(text_filter)


def check_filter_text(text_filter: str) -> None:
    """The limits on a filter's text, before any parsing: at most :data:`MAX_FILTER_CHARS`
    characters, no NUL. The one check of the OGC ``filter`` and the export's ``where``."""
    if len(text_filter) > MAX_FILTER_CHARS:
        raise _bad(f"过滤条件过长 ({len(text_filter)} 字符, 上限 {MAX_FILTER_CHARS})",
                   f"the filter is {len(text_filter)} characters long, the limit is "
                   f"{MAX_FILTER_CHARS}: split the query or use IN (...) for lists of values",
                   limit=MAX_FILTER_CHARS)
    if "\x00" in text_filter:
        raise _bad("过滤条件含 NUL 字符", "the filter contains a NUL character: remove it")


def parse_cql2(text_filter: str) -> Any:
    """Parse CQL2 text, raising InvalidInput with the parser's reason or the limit exceeded."""
    check_filter_text(text_filter)
    try:
        node = parse_cql2_text(text_filter)
    except RecursionError as exc:
        raise _too_deep() from exc
    except Exception as exc:  # noqa: BLE001 - lark raises many kinds; all mean "bad filter"
        reason = str(exc).splitlines()[0][:200]
        raise InvalidInput(
            f"无法解析 CQL2 过滤条件 / cannot parse the CQL2 filter {text_filter!r}: {reason}",
            field="filter",
        ) from exc
    check_size(node)
    return node


def _too_deep() -> InvalidInput:
    return _bad(f"过滤条件嵌套过深 (上限 {MAX_FILTER_DEPTH} 层)",
                f"the filter is nested too deeply (limit {MAX_FILTER_DEPTH} levels): flatten "
                "it, e.g. a OR b OR c instead of a OR (b OR (c))", limit=MAX_FILTER_DEPTH)


def _children(node: Any) -> list[Any]:
    if isinstance(node, ast.Node):
        return list(node.get_sub_nodes())
    if isinstance(node, list | tuple):
        return list(node)
    return []


def check_size(node: Any) -> None:
    """Refuse a parsed filter beyond the limits (terms, IN values, depth); iterative, so a
    filter of thousands of ``OR`` cannot exhaust the stack before it is refused."""
    terms = 0
    stack: list[tuple[Any, int, type | None]] = [(node, 0, None)]
    while stack:
        cur, depth, parent = stack.pop()
        kind = type(cur) if isinstance(cur, ast.And | ast.Or) else None
        level = depth if kind is not None and kind is parent else depth + 1
        if level > MAX_FILTER_DEPTH:
            raise _too_deep()
        if isinstance(cur, _PREDICATES):
            terms += 1
            if terms > MAX_FILTER_TERMS:
                raise _bad(f"过滤条件的条件项过多 (上限 {MAX_FILTER_TERMS})",
                           f"the filter has more than {MAX_FILTER_TERMS} conditions: use "
                           "IN (...) for a list of values, or split the query",
                           limit=MAX_FILTER_TERMS)
        if isinstance(cur, ast.In) and len(cur.sub_nodes) > MAX_IN_VALUES:
            raise _bad(f"IN 列表过长 ({len(cur.sub_nodes)} 个值, 上限 {MAX_IN_VALUES})",
                       f"the IN list has {len(cur.sub_nodes)} values, the limit is "
                       f"{MAX_IN_VALUES}: split the query", limit=MAX_IN_VALUES)
        if isinstance(cur, ast.Node | list | tuple):
            for sub in _children(cur):
                stack.append((sub, level, kind))


def _time_literal(text: str) -> dt.datetime | dt.date | None:
    """An ISO 8601 date or instant in a quoted string (None if it is none)."""
    s = text.strip()
    try:
        if len(s) == 10:
            return dt.date.fromisoformat(s)
        parsed = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def _literal_kind(node: Any) -> str | None:
    """The kind of a literal value (None: not a literal)."""
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "boolean"
    if isinstance(node, int) and abs(node) >= 2**63:
        raise _bad(f"过滤条件中的数 {node} 过大",
                   f"the number {node} in the filter is too large (limit ±9.2e18)")
    if isinstance(node, int | float):
        if isinstance(node, float) and not math.isfinite(node):
            raise _bad(f"过滤条件中的数 {node} 不是有限数",
                       f"the number {node} in the filter is not finite: give a finite number")
        return "number"
    if isinstance(node, dt.datetime):
        return "datetime"
    if isinstance(node, dt.date):
        return "date"
    if isinstance(node, str):
        return "string"
    if isinstance(node, values.Geometry | values.Envelope):
        return GEOMETRY
    return None


def _describe(node: Any) -> str:
    if isinstance(node, ast.Attribute):
        return node.name
    if isinstance(node, ast.Node):
        return type(node).__name__
    return repr(node)


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
        self.kinds: dict[str, str] = {n: layer.properties.get(n, "string") for n in allowed}

    # -- entry point -----------------------------------------------------------------
    def build(self, node: Any) -> ColumnElement[bool]:
        """Translate the AST ``node`` (a condition) to SQL; InvalidInput for a filter beyond
        the limits or whose types do not match."""
        check_size(node)
        return self._cond(node)

    # -- conditions ------------------------------------------------------------------
    def _chain(self, node: Any) -> list[Any]:
        """The operands of a run of the same AND/OR, flattened (iteratively)."""
        kind = type(node)
        out: list[Any] = []
        stack = [node]
        while stack:
            cur = stack.pop()
            if type(cur) is kind:
                stack.extend([cur.rhs, cur.lhs])
            else:
                out.append(cur)
        return out

    def _cond(self, node: Any) -> Any:  # noqa: C901 - one branch per node kind
        if isinstance(node, ast.And):
            return and_(*[self._cond(n) for n in self._chain(node)])
        if isinstance(node, ast.Or):
            return or_(*[self._cond(n) for n in self._chain(node)])
        if isinstance(node, ast.Not):
            return not_(self._cond(node.sub_node))
        if isinstance(node, ast.Include):
            return literal(not node.not_)
        if isinstance(node, ast.Comparison):
            lhs, rhs = self._pair(node.lhs, node.rhs, node.op.value)
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
            lhs, low = self._pair(node.lhs, node.low, "BETWEEN")
            _, high = self._pair(node.lhs, node.high, "BETWEEN")
            expr = lhs.between(low, high)
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.Like):
            self._expect(node.lhs, "string", "LIKE")
            col = self._value(node.lhs)
            pattern = self._like_pattern(node)
            expr = col.ilike(pattern) if node.nocase else col.like(pattern)
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.In):
            col = self._value(node.lhs)
            items = [self._pair(node.lhs, v, "IN")[1] for v in node.sub_nodes]
            expr = col.in_(items)
            return not_(expr) if node.not_ else expr
        if isinstance(node, ast.IsNull):
            col = self._value(node.lhs)
            return col.is_not(None) if node.not_ else col.is_(None)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self._spatial(node)
        if isinstance(node, ast.BBox):
            self._expect(node.lhs, GEOMETRY, "BBOX")
            box = self._box([node.minx, node.miny, node.maxx, node.maxy], node.crs)
            return func.ST_Intersects(self._value(node.lhs), box)
        if isinstance(node, ast.TemporalPredicate):
            return self._temporal(node)
        if isinstance(node, ast.Attribute):  # a bare boolean property
            self._expect(node, "boolean", "a condition")
            return self._attribute(node.name).is_(True)
        if isinstance(node, bool):
            return literal(node)
        raise InvalidInput(
            f"CQL2 过滤条件中不支持的运算 / unsupported operation in the CQL2 filter: "
            f"{type(node).__name__}; supported: AND OR NOT = <> < <= > >= BETWEEN LIKE IN "
            "IS NULL S_INTERSECTS S_WITHIN S_CONTAINS S_DISJOINT S_TOUCHES S_CROSSES "
            "S_OVERLAPS S_EQUALS BBOX T_BEFORE T_AFTER T_DURING",
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

    # -- types -----------------------------------------------------------------------
    def _kind(self, node: Any) -> str:
        """The kind of a value node: a property's type, a literal's kind, "null"."""
        if isinstance(node, ast.Attribute):
            if node.name in (*_GEOMETRY_NAMES, self.layer.geom_column):
                return GEOMETRY
            self._attribute(node.name)  # unknown or forbidden: InvalidInput naming it
            return self.kinds[node.name]
        if isinstance(node, ast.Arithmetic):
            for side in (node.lhs, node.rhs):
                kind = self._kind(side)
                if kind != "null" and _GROUPS[kind] != "number":
                    raise _bad(f"算术运算需要数字, {_describe(side)} 不是数字",
                               f"arithmetic needs numbers; {_describe(side)} is {kind}",
                               property=_describe(side))
            return "number"
        if isinstance(node, ast.Function):
            name = node.name.lower()
            if name in ("bbox", "envelope"):
                return GEOMETRY
            if name in ("lower", "upper"):
                if len(node.arguments) != 1:
                    raise _bad(f"{node.name} 需要 1 个参数", f"{node.name} takes 1 argument")
                self._expect(node.arguments[0], "string", node.name)
                return "string"
            raise InvalidInput(
                f"CQL2 过滤条件中的未知函数 {node.name!r} / unknown function {node.name!r} in "
                "the filter; known: lower, upper, CASEI, BBOX", field="filter",
            )
        literal_kind = _literal_kind(node)
        if literal_kind is None:
            raise _bad(f"过滤条件中不支持的值 {node!r}",
                       f"unsupported value in the filter: {node!r}")
        return literal_kind

    def _expect(self, node: Any, want: str, where: str) -> None:
        kind = self._kind(node)
        if kind != "null" and _GROUPS[kind] != _GROUPS[want]:
            raise _bad(f"{where} 需要{_HOW[_GROUPS[want]].split(' / ')[0]}, "
                       f"而 {_describe(node)} 的类型是 {kind}",
                       f"{where} needs {_GROUPS[want]}: {_describe(node)} is {kind}",
                       property=_describe(node))

    def _pair(self, lhs: Any, rhs: Any, op: str) -> tuple[Any, Any]:
        """Both sides of ``op`` as SQL, after checking their types agree (a quoted ISO date
        against a date property is read as that date)."""
        lk, rk = self._kind(lhs), self._kind(rhs)
        if GEOMETRY in (lk, rk) and "null" not in (lk, rk):
            raise _bad(f"几何不能用 {op} 比较, 请用 S_INTERSECTS/S_EQUALS 等空间谓词",
                       f"geometries cannot be compared with {op}: use a spatial predicate "
                       "(S_INTERSECTS, S_EQUALS, ...)")
        lhs_v, rhs_v = lhs, rhs
        if "null" not in (lk, rk) and _GROUPS[lk] != _GROUPS[rk]:
            prop, other, pk, ok = (lhs, rhs, lk, rk) if isinstance(lhs, ast.Attribute) \
                or not isinstance(rhs, ast.Attribute) else (rhs, lhs, rk, lk)
            if _GROUPS[pk] == "time" and ok == "string" and isinstance(other, str):
                parsed = _time_literal(other)
                if parsed is None:
                    raise _bad(f"{_describe(prop)} 是日期时间, {other!r} 不是日期",
                               f"{_describe(prop)} is a {pk}, and {other!r} is not a date: "
                               f"write {_HOW['time'].split(' / ')[1]}",
                               property=_describe(prop))
                if other is rhs:
                    rhs_v = parsed
                else:
                    lhs_v = parsed
            else:
                raise _bad(f"类型不匹配: {_describe(prop)} 是 {pk}, {_describe(other)} 是 {ok}; "
                           f"请写{_HOW[_GROUPS[pk]].split(' / ')[0]}",
                           f"type mismatch in {op}: {_describe(prop)} is {pk} and "
                           f"{_describe(other)} is {ok}; write "
                           f"{_HOW[_GROUPS[pk]].split(' / ')[1]}",
                           property=_describe(prop))
        return self._value(lhs_v), self._value(rhs_v)

    # -- values ----------------------------------------------------------------------
    def _attribute(self, name: str) -> Any:
        if name in (*_GEOMETRY_NAMES, self.layer.geom_column):
            return self.layer.column(name)
        if name not in self.allowed:
            # a property that exists but is not queryable for this caller is a refusal (audited)
            refused = {"refused_fields": [name]} if name in self.layer.properties else {}
            raise InvalidInput(
                f"过滤条件中的未知属性 {name!r} / unknown property {name!r} in the filter of "
                f"collection {self.layer.id}; queryable: {', '.join(sorted(self.allowed))}",
                field="filter", property=name, **refused,
            )
        return self.layer.column(name)

    def _value(self, node: Any) -> Any:
        self._kind(node)  # type checks of functions and arithmetic
        if isinstance(node, ast.Attribute):
            return self._attribute(node.name)
        if isinstance(node, ast.Arithmetic):
            lhs, rhs = self._value(node.lhs), self._value(node.rhs)
            ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
                   "*": lambda a, b: a * b, "/": lambda a, b: a / b}
            return ops[node.op.value](lhs, rhs)
        if isinstance(node, ast.Function):
            if node.name.lower() in ("bbox", "envelope"):
                return self._box(node.arguments, None)
            fn = func.lower if node.name.lower() == "lower" else func.upper
            return fn(self._value(node.arguments[0]))
        if isinstance(node, values.Geometry | values.Envelope):
            return self._geometry_literal(node)
        if isinstance(node, str):
            return literal(node, String)
        return literal(node)

    def _box(self, args: list[Any], crs: str | None) -> Any:
        """A BBOX (4 numbers, or 6 with heights) in ``filter-crs`` (or its own CRS) through
        the one bbox rule, :func:`geo.crs.validate.bbox_polygon`."""
        from geo.crs.validate import bbox_polygon
        from geo.layers.ogc import resolve_crs

        if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
            raise _bad("BBOX 需要 4 个数", f"BBOX needs 4 numbers, got {args}")
        name, swap = self.filter_crs, self.swap_xy
        if crs:
            own = resolve_crs(str(crs), "filter")
            name, swap = own.name, own.swap_xy
        try:
            box = bbox_polygon([float(a) for a in args], name, swap)
        except InvalidInput as exc:
            raise InvalidInput(f"过滤条件中的 BBOX / BBOX in the filter: {exc.message}",
                               field="filter") from exc
        return gf.ST_GeomFromText(literal(box.wkt, String), SRID)

    def _geometry_literal(self, node: Any) -> Any:
        """A geometry literal through the one geometry gate (finite numbers, ranges, a CRS
        that can place it, validity)."""
        from geo.io.geometry import parse_geometry

        if isinstance(node, values.Envelope):
            return self._box([node.x1, node.y1, node.x2, node.y2], None)
        try:
            geom: Any = shapely.geometry.shape(node.__geo_interface__)
        except Exception as exc:  # noqa: BLE001
            raise _bad("无效的几何字面量", f"invalid geometry literal in the filter: {exc}"
                       ) from exc
        if self.swap_xy:
            geom = shapely.transform(geom, lambda c: c[:, ::-1])
        try:
            parsed = parse_geometry(shapely.geometry.mapping(geom), crs=self.filter_crs,
                                    repair=False)
        except InvalidInput as exc:
            raise InvalidInput(f"过滤条件中的几何 / geometry in the filter: {exc.message}",
                               field="filter") from exc
        return gf.ST_GeomFromText(literal(parsed.geom.wkt, String), SRID)

    # -- spatial / temporal ----------------------------------------------------------
    def _spatial(self, node: Any) -> Any:
        self._expect(node.lhs, GEOMETRY, node.op.value.upper())
        self._expect(node.rhs, GEOMETRY, node.op.value.upper())
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
        op = node.op
        self._expect(node.lhs, "datetime", f"T_{op.name}")
        rhs = node.rhs
        if isinstance(rhs, values.Interval):
            for end_value in (rhs.start, rhs.end):
                if end_value is not None and not isinstance(end_value, dt.date):
                    raise _bad("时间区间的端点须为日期或时刻",
                               f"the ends of an interval must be dates or instants, got "
                               f"{end_value!r}")
        else:
            self._pair(node.lhs, rhs, f"T_{op.name}")  # types, named by the operator given
        return self._cond(temporal_as_comparison(node))


def temporal_as_comparison(node: Any) -> Any:
    """The one reading of a temporal predicate over an instant property, as comparisons:
    ``T_BEFORE``/``T_AFTER``/``T_EQUALS`` an instant -> ``<``/``>``/``=``; ``T_DURING`` (or
    ``T_INTERSECTS``) an interval -> ``start <= x <= end`` (an open end is no bound).

    Raises
    ------
    InvalidInput
        Any other temporal operator (or one of the first three with an interval).
    """
    op, lhs, rhs = node.op, node.lhs, node.rhs
    if isinstance(rhs, values.Interval):
        if op in (ast.TemporalComparisonOp.DURING, ast.TemporalComparisonOp.TOVERLAPS):
            bounds = ([ast.GreaterEqual(lhs, rhs.start)] if rhs.start is not None else []) + (
                [ast.LessEqual(lhs, rhs.end)] if rhs.end is not None else [])
            return ast.And.from_items(*bounds) if bounds else ast.Include(False)
        raise InvalidInput(
            f"不支持的时间运算 / unsupported temporal operator {op.value} with an interval",
            field="filter",
        )
    comparison = {ast.TemporalComparisonOp.BEFORE: ast.LessThan,
                  ast.TemporalComparisonOp.AFTER: ast.GreaterThan,
                  ast.TemporalComparisonOp.TEQUALS: ast.Equal}.get(op)
    if comparison is None:
        raise InvalidInput(
            f"不支持的时间运算 / unsupported temporal operator {op.value}; use T_BEFORE, "
            "T_AFTER, T_EQUALS or T_DURING", field="filter",
        )
    return comparison(lhs, rhs)


def check_filter(node: Any, kinds: Mapping[str, str], geometry: str = "geom",
                 field: str = "filter") -> None:
    """Check a parsed CQL2/ECQL filter over columns of the given kinds, without building SQL.

    For callers that build their SQL otherwise (the export ``where``): the same limits and
    type rules as OGC filters. ``kinds`` maps column name -> string|integer|number|boolean|
    datetime|date (:func:`kinds_from_description`); ``geometry`` names the geometry column
    (if any); ``field`` is the parameter the errors name.

    Raises
    ------
    InvalidInput
        Beyond a limit, an unknown column, or types that do not match (the message says which).
    """
    props = {k: v for k, v in kinds.items() if k != geometry}
    layer = Layer(id="filter", title="", description="", table_name="", id_column="",
                  geom_column=geometry, geometry_type="Geometry", properties=props)
    checker = _Checker(layer, set(props))
    try:
        check_size(node)
        checker.check(node)
    except InvalidInput as exc:
        if field == "filter":
            raise
        raise InvalidInput(exc.message, **{**exc.detail, "field": field}) from exc


class _Checker(FilterBuilder):
    """A FilterBuilder that checks types only (no table behind it)."""

    def _attribute(self, name: str) -> Any:
        if name not in self.allowed and name not in (*_GEOMETRY_NAMES, self.layer.geom_column):
            super()._attribute(name)
        return literal(None)

    def _geometry_literal(self, node: Any) -> Any:
        return literal(None)

    def _box(self, args: list[Any], crs: str | None) -> Any:
        if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
            raise _bad("BBOX 需要 4 个数", f"BBOX needs 4 numbers, got {args}")
        return literal(None)

    def check(self, node: Any) -> None:
        self._cond(node)


# PostgreSQL type OIDs -> filter kinds (for :func:`check_filter` over a query's columns).
_PG_KINDS = {16: "boolean", 20: "integer", 21: "integer", 23: "integer", 700: "number",
             701: "number", 1700: "number", 1082: "date", 1114: "datetime", 1184: "datetime"}


def kinds_from_description(description: Any, geometry: str = "geom") -> dict[str, str]:
    """Column name -> filter kind from a DB-API cursor ``description`` (``geometry``: the
    geometry column; any other type is treated as text)."""
    return {col.name: GEOMETRY if col.name == geometry else _PG_KINDS.get(col.type_code, "string")
            for col in description}
