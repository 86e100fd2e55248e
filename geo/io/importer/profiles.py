"""Mapping profiles (导入映射方案): how one source's files map onto the importer, saved by name.

A county receives the same kind of file again and again (the 12345 platform's export, a
department's spreadsheet), each with its own headers, time formats and category labels. A
profile says it once:

- ``columns``: the file's header -> the field of a report (``category``, ``reported_at``,
  ``place``, ``description``, ``source_ref``, ``reporter_name``, ``reporter_phone``, ``lon``,
  ``lat``, ``crs``, ``department``, ``urgency``, ``channel``; see :data:`FIELDS`);
- ``category_map``: the source's labels -> category codes (labels left out go to 待分类 for
  the command centre, never refused);
- ``time_formats``: ``strptime`` formats tried after the usual forms (ISO, ``2025/9/30
  15:00``, ``2025年9月30日 15:00``), e.g. ``%Y%m%d%H%M%S``;
- ``channel`` and ``department``: the defaults of rows that do not say.

:func:`propose` reads a sample file (a dry run: nothing is written) and proposes all of it,
with what it could not map: unknown headers, labels matching no category, times in no known
form. :func:`save_profile` keeps it (``import_profile``, per region); an import then names it
(``--profile``, form field ``profile``) and :func:`apply_profile` turns it into the import's
options: the one import pipeline, nothing beside it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from geo.db.tables import vocab
from geo.db.upsert import upsert
from geo.errors import InvalidInput, NotFound
from geo.io.importer.options import ImportOptions
from geo.io.parse import check_time_format, parse_time

# The fields of a report a column may fill (the cases importer's row keys).
FIELDS = ("source_ref", "category", "reported_at", "place", "description", "reporter_name",
          "reporter_phone", "lon", "lat", "crs", "department", "urgency", "channel")
# strptime formats tried on sample times the usual forms do not read (first that reads all)
CANDIDATE_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S", "%Y%m%d %H:%M", "%Y%m%d",
                     "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
                     "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%Y.%m.%d %H:%M",
                     "%Y-%m-%d %H时%M分", "%Y年%m月%d日%H时%M分", "%Y年%m月%d日 %H时%M分")
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_SAMPLE = 5000
MAX_COLUMNS, MAX_LABELS, MAX_FORMATS = 200, 2000, 20
FUZZY_CUTOFF = 80.0


def _shape(value: Any) -> str:
    """A time value's shape: digits as 9 (``2025/9/30 15:00`` -> ``9999/9/99 99:99``)."""
    return re.sub(r"\d", "9", str(value).strip())[:40]


def parse_with(value: Any, formats: list[str], tz: ZoneInfo) -> dt.datetime | None:
    """The usual forms first (:func:`geo.io.parse.parse_time`), then each of ``formats``."""
    try:
        return parse_time(value, None, tz)
    except ValueError as first:
        for fmt in formats:
            try:
                return parse_time(value, fmt, tz)
            except ValueError:
                continue
        raise first


def _categories(conn: Connection) -> list[tuple[str, str, str | None]]:
    return [(str(c), str(n), e) for c, n, e in conn.execute(text(
        "SELECT code, name, name_en FROM incident_category ORDER BY code"))]


def propose(conn: Connection, header: list[str], rows: list[list[Any]],
            tz: ZoneInfo) -> dict[str, Any]:
    """A profile proposed from a sample file's ``header`` and ``rows`` (nothing is written).

    Returns ``profile`` (columns, category_map, time_formats, channel, department) and what
    needs a person: ``unmapped_columns``, ``unmapped_categories`` (label -> rows; filed as
    待分类 unless mapped), ``proposed_categories`` (fuzzy guesses, to confirm),
    ``unreadable_times`` (examples), ``missing`` (fields no column fills), ``time_shapes``.
    """
    from rapidfuzz import fuzz, process

    from geo.io.importer.cases import HEADERS

    columns: dict[str, str] = {}
    unmapped_columns: list[str] = []
    for h in header:
        field = HEADERS.get(h) or HEADERS.get(h.lower())
        if field is None and h:
            hit = process.extractOne(h, list(HEADERS), scorer=fuzz.WRatio,
                                     score_cutoff=FUZZY_CUTOFF)
            field = HEADERS[hit[0]] if hit else None
        if field and field not in columns.values():
            columns[h] = field
        elif h:
            unmapped_columns.append(h)
    sample = rows[:MAX_SAMPLE]
    col_of = {f: header.index(h) for h, f in columns.items()}

    def values(field: str) -> list[Any]:
        i = col_of.get(field)
        return [] if i is None else [r[i] for r in sample
                                     if i < len(r) and r[i] not in (None, "")]

    cats = _categories(conn)
    known = {k.strip().lower(): c for c, n, e in cats for k in (c, n, e) if k}
    names = {n: c for c, n, _e in cats}
    labels = Counter(str(v).strip() for v in values("category"))
    category_map: dict[str, str] = {}
    proposed: list[dict[str, Any]] = []
    unmapped: dict[str, int] = {}
    for label, n in labels.most_common():
        if label.lower() in known:
            continue
        hit = process.extractOne(label, list(names), scorer=fuzz.WRatio,
                                 score_cutoff=FUZZY_CUTOFF)
        if hit:
            category_map[label] = names[hit[0]]
            proposed.append({"label": label, "rows": n, "code": names[hit[0]],
                             "name": hit[0], "score": round(float(hit[1]), 1)})
        else:
            unmapped[label] = n
    shapes: Counter[str] = Counter()
    unread: list[Any] = []
    for v in values("reported_at"):
        shapes[_shape(v)] += 1
        try:
            parse_time(v, None, tz)
        except ValueError:
            unread.append(v)
    formats: list[str] = []
    for fmt in CANDIDATE_FORMATS:
        if not unread:
            break
        left = []
        for v in unread:
            try:
                parse_time(v, fmt, tz)
            except ValueError:
                left.append(v)
        if len(left) < len(unread):
            formats.append(fmt)
            unread = left
    missing = [f for f in ("category", "reported_at") if f not in col_of]
    if not ({"place"} & set(col_of) or {"lon", "lat"} <= set(col_of)):
        missing.append("place")
    return {
        "profile": {"layer": "incidents", "columns": columns, "category_map": category_map,
                    "time_formats": formats, "channel": "12345", "department": None},
        "rows": len(rows), "unmapped_columns": unmapped_columns,
        "unmapped_categories": unmapped, "proposed_categories": proposed,
        "unreadable_times": [str(v) for v in unread[:20]],
        "unreadable_time_count": len(unread), "time_shapes": dict(shapes.most_common(10)),
        "missing": missing,
    }


def check_profile(conn: Connection, profile: Any) -> dict[str, Any]:
    """``profile`` checked (422 naming what is wrong) and normalised."""
    if not isinstance(profile, dict):
        raise InvalidInput("映射方案应为 JSON 对象 / a profile is a JSON object", field="profile")
    unknown = set(profile) - {"layer", "columns", "category_map", "time_formats", "channel",
                              "department"}
    if unknown:
        raise InvalidInput(f"映射方案中有未知的项 {sorted(unknown)} / unknown keys in the "
                           f"profile: {sorted(unknown)}", field="profile")
    if profile.get("layer", "incidents") != "incidents":
        raise InvalidInput("导入映射方案只用于事件 (layer=incidents) / import profiles are for "
                           "incidents (layer=incidents)", field="layer")
    columns = profile.get("columns") or {}
    cmap = profile.get("category_map") or {}
    formats = profile.get("time_formats") or []
    if not (isinstance(columns, dict) and isinstance(cmap, dict) and isinstance(formats, list)):
        raise InvalidInput("columns 与 category_map 应为对象, time_formats 应为列表 / columns "
                           "and category_map are objects, time_formats a list", field="profile")
    for what, n, most in (("columns", len(columns), MAX_COLUMNS),
                          ("category_map", len(cmap), MAX_LABELS),
                          ("time_formats", len(formats), MAX_FORMATS)):
        if n > most:
            raise InvalidInput(f"{what} 最多 {most} 项 / {what}: at most {most} entries",
                               field=what)
    texts = [*columns, *columns.values(), *cmap, *cmap.values(), *formats]
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in texts):
        raise InvalidInput("列名、字段、类别和时间格式都应为 1-200 个字符的文字 / column names, "
                           "fields, labels, category codes and time formats are strings of "
                           "1-200 characters", field="profile")
    for h, f in columns.items():
        if f not in FIELDS:
            raise InvalidInput(f"列 {h!r} 对应的字段 {f!r} 未知, 可选 {FIELDS} / column {h!r} "
                               f"maps to unknown field {f!r}; fields: {FIELDS}", field="columns")
    if len(set(columns.values())) < len(columns):
        raise InvalidInput("两列对应了同一字段 / two columns map to the same field",
                           field="columns")
    codes = {c for c, _n, _e in _categories(conn)}
    for label, code in cmap.items():
        if code not in codes:
            raise InvalidInput(f"类别对应中 {label!r} -> {code!r}: 没有这个类别 / unknown category "
                               f"code {code!r} for label {label!r}", field="category_map",
                               valid=sorted(codes))
    for fmt in formats:
        check_time_format(fmt, "time_formats")
        if not any(d in fmt for d in ("%Y", "%y")) or not any(
                d in fmt for d in ("%m", "%b", "%B", "%j")):
            raise InvalidInput(f"时间格式 {fmt!r} 缺少年或月 / time format {fmt!r} has no year "
                               "or no month: a report time needs the date", field="time_formats")
    channel = profile.get("channel")
    channel = "12345" if channel is None else channel
    if not isinstance(channel, str) or channel not in vocab.CHANNEL.codes:
        raise InvalidInput(f"渠道应为 {vocab.CHANNEL.codes} 之一 / channel must be one of "
                           f"{vocab.CHANNEL.codes}", field="channel")
    dept = profile.get("department")
    if dept is not None:
        from geo.incidents.routing import resolve_department

        if not isinstance(dept, str):
            raise InvalidInput("department 应为部门编码或名称 / department is a department "
                               "code or name", field="department")
        dept = resolve_department(conn, dept)["code"]
    return {"layer": "incidents", "columns": {str(k): str(v) for k, v in columns.items()},
            "category_map": {str(k): str(v) for k, v in cmap.items()},
            "time_formats": [str(f) for f in formats], "channel": channel, "department": dept}


def _check_name(name: str) -> None:
    if not NAME.match(name or ""):
        raise InvalidInput(f"方案名 {name[:70]!r} 无效: 1-64 个字母、数字、_ . - / profile name "
                           f"{name[:70]!r}: 1-64 letters, digits, _ . - (e.g. 12345-xingxian)",
                           field="name")


def save_profile(conn: Connection, region: str, name: str, profile: Any,
                 user: str | None) -> dict[str, Any]:
    """Save (or replace) profile ``name`` of ``region``; the checked profile."""
    _check_name(name)
    checked = check_profile(conn, profile)
    import json

    upsert(conn, "import_profile",
           {"region_code": ":r", "name": ":n", "layer": "'incidents'",
            "profile": "CAST(:p AS jsonb)", "saved_by": ":u", "updated_at": "now()"},
           key=("region_code", "name"),
           update={"profile": "CAST(:p AS jsonb)", "saved_by": ":u", "updated_at": "now()"},
           params={"r": region, "n": name, "p": json.dumps(checked, ensure_ascii=False),
                   "u": user})
    return {"name": name, "region": region, "profile": checked}


def save_proposal(conn: Connection, region: str, name: str, proposal: dict[str, Any],
                  user: str | None) -> dict[str, Any]:
    """Save a :func:`propose` answer, unless it misses what an import needs (422 naming the
    fields: map the file's columns by hand, then save with ``PUT /import/profiles/{name}``)."""
    if proposal.get("missing"):
        raise InvalidInput(
            f"方案缺少 {proposal['missing']} 的列, 未保存; 请在 columns 中指定文件的哪一列后再保存"
            " / "
            f"not saved: no column found for {proposal['missing']}; name the file's column in "
            "columns and save the profile (PUT /import/profiles/NAME, wangge incidents profile "
            "save NAME FILE.json)", field="columns", missing=proposal["missing"],
            proposal=proposal)
    return save_profile(conn, region, name, proposal["profile"], user)


def list_profiles(conn: Connection, region: str) -> list[dict[str, Any]]:
    """The region's saved profiles (name, who saved it, when)."""
    return [dict(r) for r in conn.execute(text(
        "SELECT name, layer, saved_by, updated_at, profile FROM import_profile "
        "WHERE region_code = :r ORDER BY name"), {"r": region}).mappings()]


def load_profile(conn: Connection, region: str, name: str) -> dict[str, Any]:
    """Saved profile ``name`` of ``region``; 404 naming the saved ones otherwise."""
    _check_name(name)
    row = conn.execute(text("SELECT profile FROM import_profile WHERE region_code = :r AND "
                            "name = :n"), {"r": region, "n": name}).first()
    if row is None:
        have = [p["name"] for p in list_profiles(conn, region)]
        raise NotFound(f"没有名为 {name!r} 的导入映射方案; 已有: {have or '无'} / no import "
                       f"profile {name!r} in region {region}; saved: {have or 'none'} (make one "
                       "with "
                       "'wangge incidents profile propose FILE --save NAME')")
    return dict(row[0])


def apply_profile(opts: ImportOptions, profile: dict[str, Any]) -> ImportOptions:
    """The import's options with ``profile`` under them (options given explicitly win: a
    category map given with the import is merged over the profile's)."""
    return replace(
        opts, columns={**profile.get("columns", {}), **opts.columns},
        category_map={**profile.get("category_map", {}), **opts.category_map},
        time_formats=[*opts.time_formats, *profile.get("time_formats", [])],
        channel=profile.get("channel") or opts.channel,
        default_department=opts.default_department or profile.get("department"))
