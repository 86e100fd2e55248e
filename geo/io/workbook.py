"""The one Excel writer: workbooks officials open without fixing them.

Every XLSX Wangge hands out (layer exports, the overdue list, the planners' analyses) is
written here, from sheets described as :class:`Column` specs and rows of plain values:

- Chinese headers and sheet names by default, English with ``lang="en"``;
- times in China Standard Time written as real Excel datetimes without a zone (Excel has no
  time zones: aware datetimes are converted to CST and their ``tzinfo`` dropped), dates as
  dates, rates as ``0.0%``, counts as integers;
- a frozen header row, an auto filter, column widths from the content (a CJK character counts
  as two);
- a totals row (合计) where a sheet asks for one: counts are summed, rates recomputed from
  their summed numerator and denominator (never summed);
- a definitions sheet (说明 / About) saying what the file is, its inputs (region, period,
  filter, data as of) and what each column means;
- a sheet never holds more than Excel's 1,048,576 rows: longer tables continue on sheets named
  ``事件(1)``, ``事件(2)`` ...; more than :data:`MAX_TOTAL_ROWS` rows is refused
  (:class:`geo.errors.InvalidInput`), never a truncated file;
- text a spreadsheet would run as a formula is kept as text
  (:func:`geo.io.export.as_spreadsheet_text`); control characters a workbook cannot hold are
  replaced (:func:`geo.io.text.xml_safe`), never a failed file.

Usage::

    cols = [Column("code", "事件编号", "Case code"),
            Column("n", "数量", "Count", "int", total="sum")]
    data = write_workbook([Sheet("事件", "Incidents", cols, rows, totals=True)],
                          About("事件清单", "Incident list", inputs=[("区域", "Region", "兴县")]))
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from geo.db.tables.vocab import YES_NO
from geo.errors import InvalidInput
from geo.io.text import xml_safe
from geo.localtime import CST

KINDS = ("text", "int", "float", "percent", "date", "datetime", "bool")
EXCEL_MAX_ROWS = 1_048_576  # rows of one sheet, the header included
SHEET_MAX_ROWS = EXCEL_MAX_ROWS  # patched by tests to exercise the split
MAX_TOTAL_ROWS = 5_000_000  # more than this in one workbook is refused, not written
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMATS = {
    "int": "#,##0", "percent": "0.0%", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm",
}
_WIDTHS = {"date": 11.0, "datetime": 17.0}
_SAMPLE = 2000  # rows looked at for the column widths
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")

_TEXT: dict[str, dict[str, Any]] = {
    "zh": {"about": "说明", "title": "文件", "what": "内容", "inputs": "输入条件",
           "columns": "字段说明", "sheet": "工作表", "column": "列", "kind": "类型",
           "meaning": "含义", "total": "合计", "generated": "生成时间", "rows": "行数",
           "time_note": "时间均为北京时间 (UTC+8)，以 Excel 日期时间保存，不带时区。",
           "totals_note": "合计行: 计数相加; 比率按合计重新计算 (不是各行比率相加)。",
           "split_note": "行数超过 Excel 单表上限 (1,048,576 行) 的表分为多张工作表, "
                         "名称后加序号。",
           "kinds": {"text": "文本", "int": "整数", "float": "数值", "percent": "百分比",
                     "date": "日期", "datetime": "日期时间", "bool": "是/否"}},
    "en": {"about": "About", "title": "File", "what": "Contents", "inputs": "Inputs",
           "columns": "Columns", "sheet": "Sheet", "column": "Column", "kind": "Type",
           "meaning": "Meaning", "total": "Total", "generated": "Generated at", "rows": "Rows",
           "time_note": "Times are China Standard Time (UTC+8), stored as Excel date-times "
                        "without a time zone.",
           "totals_note": "Totals row: counts are summed; rates are recomputed from the totals "
                          "(never summed).",
           "split_note": "A table longer than Excel's sheet limit (1,048,576 rows) continues on "
                         "sheets numbered (1), (2) ...",
           "kinds": {"text": "text", "int": "integer", "float": "number", "percent": "percent",
                     "date": "date", "datetime": "date-time", "bool": "yes/no"}},
}


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    Parameters
    ----------
    key : str
        Key of the value in each row mapping.
    zh, en : str
        Header in Chinese and in English.
    kind : str
        One of :data:`KINDS`. ``percent`` values are fractions (0.25 = 25 %) unless ``points``.
    note_zh, note_en : str
        Definition of the column for the definitions sheet.
    width : float, optional
        Column width in characters (default: from the content).
    total : bool
        Sum this column in the totals row (counts, areas).
    ratio : (str, str), optional
        For a rate: keys of its numerator and denominator; the totals row recomputes it.
    points : bool
        ``percent`` values are given in percent points (32.1 = 32.1 %).
    per : float
        The rate's multiplier in the totals row (1000 for "per 1,000 households"); percent
        points multiply by 100 by themselves.
    kind_of : str, optional
        Key of the row value that names this cell's kind, for a column of mixed figures (a
        headline table: counts in one row, rates in the next); ``kind`` when a row names none.
    """

    key: str
    zh: str
    en: str
    kind: str = "text"
    note_zh: str = ""
    note_en: str = ""
    width: float | None = None
    total: bool = False
    ratio: tuple[str, str] | None = None
    points: bool = False
    per: float = 1.0
    kind_of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; one of {KINDS}")

    def header(self, lang: str) -> str:
        """The header in ``lang``."""
        return self.en if lang == "en" else self.zh

    def note(self, lang: str) -> str:
        """The definition in ``lang`` (the other language's when only that one is given)."""
        return (self.note_en or self.note_zh) if lang == "en" else (self.note_zh or self.note_en)


@dataclass
class Sheet:
    """A table: its name, columns and rows (mappings from column key to value)."""

    zh: str
    en: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    totals: bool = False
    note_zh: str = ""
    note_en: str = ""

    def title(self, lang: str) -> str:
        """The sheet name in ``lang``."""
        return self.en if lang == "en" else self.zh


@dataclass
class About:
    """What goes on the definitions sheet: title, description, inputs, notes.

    ``inputs`` are ``(Chinese label, English label, value)``; ``notes`` are
    ``(Chinese, English)`` sentences.
    """

    title_zh: str
    title_en: str
    what_zh: str = ""
    what_en: str = ""
    inputs: list[tuple[str, str, Any]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


def local_naive(value: dt.datetime) -> dt.datetime:
    """``value`` as a China Standard Time wall-clock datetime without tzinfo (naive values
    are taken to be CST already)."""
    if value.tzinfo is not None:
        value = value.astimezone(CST).replace(tzinfo=None)
    return value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NaT or value is pd.NA
    except ImportError:  # pragma: no cover
        return False


def cell_value(col: Column, value: Any, lang: str = "zh") -> Any:
    """``value`` as it is written in a cell of ``col`` (None for an empty cell)."""
    if _missing(value):
        return None
    kind = col.kind
    if kind == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime):
            return local_naive(getattr(value, "to_pydatetime", lambda: value)())
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        return value
    if kind == "date":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value) if "T" in value else \
                dt.date.fromisoformat(value)
        if isinstance(value, dt.datetime):
            return local_naive(value).date()
        return value
    if kind == "bool":
        return YES_NO.label("true" if bool(value) else "false", lang)
    if kind in ("int", "float", "percent"):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, Decimal) or hasattr(value, "item"):
            value = float(value)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return _as_text(value)
        if isinstance(value, float) and math.isinf(value):
            return None
        if kind == "int" and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind == "percent" and col.points:
            return value / 100.0
        return value
    return _as_text(value)


def _as_text(value: Any) -> Any:
    """Every text cell's value: as text, characters XML may not hold replaced
    (:func:`geo.io.text.xml_safe`), formulas kept as text."""
    from geo.io.export import as_spreadsheet_text

    if isinstance(value, dt.datetime):
        value = local_naive(value).isoformat(sep=" ", timespec="minutes")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    elif isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    elif not isinstance(value, (str, int, float)):
        value = str(value)
    return as_spreadsheet_text(xml_safe(value))


def display_width(text: Any) -> int:
    """Width of ``text`` in Excel character units: East Asian wide characters count two."""
    s = str(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def _width(col: Column, lang: str, values: list[Any]) -> float:
    if col.width:
        return col.width
    head = display_width(col.header(lang)) + 3  # room for the filter button
    if col.kind in _WIDTHS:
        return max(_WIDTHS[col.kind], head)
    widest = 0
    for v in values:
        if v is None:
            continue
        if isinstance(v, float):
            v = f"{v:,.2f}" if col.kind != "percent" else f"{v:.1%}"
        elif isinstance(v, int):
            v = f"{v:,}"
        widest = max(widest, display_width(v))
    return float(min(60, max(6, head, widest + 2)))


def _totals(sheet: Sheet, lang: str) -> dict[str, Any]:
    """The totals row: summed counts, recomputed rates, the label in the first text column."""
    sums: dict[str, float] = {}

    def total_of(key: str) -> float:
        if key not in sums:
            acc = 0.0
            for row in sheet.rows:
                v = row.get(key)
                if v is not None and not _missing(v) and not isinstance(v, str):
                    acc += float(v)
            sums[key] = acc
        return sums[key]

    out: dict[str, Any] = {}
    for col in sheet.columns:
        if col.total:
            s = total_of(col.key)
            out[col.key] = int(s) if col.kind == "int" and float(s).is_integer() else s
        elif col.ratio:
            num, den = (total_of(k) for k in col.ratio)
            scale = col.per * (100.0 if col.points else 1.0)
            out[col.key] = None if den == 0 else num / den * scale
    label_col = next((c for c in sheet.columns if c.kind == "text"), sheet.columns[0])
    out[label_col.key] = _TEXT[lang]["total"]
    return out


def _titles(sheet: Sheet, lang: str, parts: int, taken: set[str]) -> list[str]:
    base = _BAD_TITLE.sub("_", sheet.title(lang)).strip("'") or "Sheet"
    out = []
    for i in range(1, parts + 1):
        suffix = f"({i})" if parts > 1 else ""
        name = base[:31 - len(suffix)] + suffix
        n = 2
        while name in taken:  # two tables with the same (cut) name
            tail = f"~{n}{suffix}"
            name, n = base[:31 - len(tail)] + tail, n + 1
        taken.add(name)
        out.append(name)
    return out


def write_workbook(sheets: Sequence[Sheet], about: About, lang: str = "zh") -> bytes:
    """The ``.xlsx`` bytes of ``sheets`` followed by the definitions sheet.

    Raises
    ------
    InvalidInput
        More than :data:`MAX_TOTAL_ROWS` rows in all (narrow the request).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    lang = "en" if lang == "en" else "zh"
    total_rows = sum(len(s.rows) for s in sheets)
    if total_rows > MAX_TOTAL_ROWS:
        raise InvalidInput(
            f"共 {total_rows:,} 行，超过 Excel 文件上限 {MAX_TOTAL_ROWS:,} 行，请用 where/bbox "
            f"缩小范围或改用 CSV/GeoPackage / {total_rows:,} rows is more than an Excel file "
            f"may hold here ({MAX_TOTAL_ROWS:,}): narrow it with where/bbox or use CSV or "
            "GeoPackage", field="format")
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    taken: set[str] = set()
    split_any = False
    for sheet in sheets:
        cols = list(sheet.columns)
        per_sheet = SHEET_MAX_ROWS - 1 - (1 if sheet.totals else 0)
        rows = list(sheet.rows)
        parts = max(1, math.ceil(len(rows) / per_sheet))
        split_any |= parts > 1
        formats = [FORMATS.get(c.kind) for c in cols]
        floats = [c.kind == "float" for c in cols]
        sample = [[cell_value(c, r.get(c.key), lang) for c in cols] for r in rows[:_SAMPLE]]
        widths = [_width(c, lang, [s[i] for s in sample]) for i, c in enumerate(cols)]
        for part, title in enumerate(_titles(sheet, lang, parts, taken)):
            ws = wb.create_sheet(title)
            chunk = rows[part * per_sheet:(part + 1) * per_sheet]
            for i, w in enumerate(widths, 1):
                ws.column_dimensions[get_column_letter(i)].width = w
            ws.freeze_panes = "A2"
            last = len(chunk) + 1
            ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(cols)))}{last}"
            header = []
            for c in cols:
                cell = WriteOnlyCell(ws, c.header(lang))
                cell.font, cell.fill = bold, head_fill
                cell.alignment = Alignment(vertical="center", wrap_text=True)
                header.append(cell)
            ws.append(header)
            for r in chunk:
                ws.append(_row(ws, cols, formats, floats, r, lang, WriteOnlyCell))
            if sheet.totals and part == parts - 1:
                line = _row(ws, cols, formats, floats, _totals(sheet, lang), lang, WriteOnlyCell)
                for cell in line:
                    if hasattr(cell, "font"):
                        cell.font = bold
                ws.append(line)
    _about_sheet(wb, sheets, about, lang, total_rows, split_any, taken)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _row(ws: Any, cols: list[Column], formats: list[str | None], floats: list[bool],
         row: Mapping[str, Any], lang: str, cell_cls: Any) -> list[Any]:
    out: list[Any] = []
    for c, fmt, is_float in zip(cols, formats, floats, strict=True):
        if c.kind_of and row.get(c.kind_of) and row[c.kind_of] != c.kind:
            c = replace(c, kind=row[c.kind_of], kind_of=None)
            fmt, is_float = FORMATS.get(c.kind), c.kind == "float"
        v = cell_value(c, row.get(c.key), lang)
        if v is None:
            out.append(None)
        elif fmt or (is_float and isinstance(v, float)) or isinstance(v, str):
            cell = cell_cls(ws, v)
            if isinstance(v, str):
                cell.data_type = "s"  # never a formula, whatever the text
            elif fmt:
                cell.number_format = fmt
            else:
                cell.number_format = "#,##0.00" if abs(v) >= 1000 else "0.####"
            out.append(cell)
        else:
            out.append(v)
    return out


def _about_sheet(wb: Any, sheets: Sequence[Sheet], about: About, lang: str, total_rows: int,
                 split: bool, taken: set[str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    t = _TEXT[lang]
    name = t["about"] if t["about"] not in taken else t["about"] + "_"
    ws = wb.create_sheet(name)
    for letter, width in zip("ABCD", (22, 26, 12, 80), strict=True):
        ws.column_dimensions[letter].width = width
    bold, big = Font(bold=True), Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, vertical="top")

    def line(*values: Any, font: Any = None) -> None:
        cells: list[Any] = []
        for v in values:
            if v is None:
                cells.append(None)
                continue
            if isinstance(v, dt.datetime):
                c = WriteOnlyCell(ws, local_naive(v))
                c.number_format = FORMATS["datetime"]
            elif isinstance(v, dt.date):
                c = WriteOnlyCell(ws, v)
                c.number_format = FORMATS["date"]
            else:
                c = WriteOnlyCell(ws, _as_text(v))
                if isinstance(c.value, str):
                    c.data_type = "s"
                c.alignment = wrap
            if font is not None:
                c.font = font
            cells.append(c)
        ws.append(cells)

    from geo.localtime import now

    line(about.title_en if lang == "en" else about.title_zh, font=big)
    what = about.what_en if lang == "en" else about.what_zh
    if what:
        line(t["what"], what)
    line(t["generated"], now())
    line(t["rows"], total_rows)
    line()
    line(t["inputs"], font=bold)
    for zh, en, value in about.inputs:
        line(en if lang == "en" else zh, "" if value is None else value)
    line()
    for zh, en in [*about.notes, (_TEXT["zh"]["time_note"], _TEXT["en"]["time_note"])]:
        line(en if lang == "en" else zh)
    if any(s.totals for s in sheets):
        line(t["totals_note"])
    if split:
        line(t["split_note"])
    line()
    line(t["columns"], font=bold)
    line(t["sheet"], t["column"], t["kind"], t["meaning"], font=bold)
    for sheet in sheets:
        note = sheet.note_en if lang == "en" else sheet.note_zh
        if note:
            line(sheet.title(lang), None, None, note)
        for c in sheet.columns:
            line(sheet.title(lang), c.header(lang), t["kinds"][c.kind], c.note(lang))
