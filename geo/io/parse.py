"""Parsing values the way spreadsheets and GIS files carry them.

Numbers may have thousands separators (``1,234``, ``1 234``, full-width digits); bearings may be
degrees or compass / approach codes (``NE``, ``SEB`` = south-east-bound, ``东北``); column names
may be Chinese. Every parser returns ``None`` for an empty cell and raises ``ValueError`` with a
message (Chinese first, then English) for a value it cannot read.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

_EMPTY = {"", "nan", "none", "null", "na", "n/a", "-", "—"}


def is_empty(value: Any) -> bool:
    """True for None, NaN/NaT and blank / placeholder strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in _EMPTY
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, int | bool | dt.date):
        return value is pd.NaT
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def parse_number(value: Any) -> float | None:
    """A number from ``1,234.5``, ``1 234``, ``１２３``, ``"12 "``; None when empty.

    Raises
    ------
    ValueError
        For text that is not a number.
    """
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"不是数字 / not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    s = unicodedata.normalize("NFKC", str(value)).strip()
    s = s.replace(",", "").replace("，", "").replace("_", "").replace(" ", "").replace("'", "")
    try:
        out = float(s)
    except ValueError:
        raise ValueError(f"不是数字 / not a number: {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"不是有限的数字 / not a finite number: {value!r}")
    return out


_DMS = re.compile(
    r"^(?P<pre>[NSEW]|东经|西经|北纬|南纬)?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|度|:|\s)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:'|分|:|\s)?\s*)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|''|秒)?\s*)?(?P<post>[NSEW])?$", re.I)


def parse_coordinate(value: Any) -> float | None:
    """A longitude or latitude in decimal degrees from a number or degree-minute-second text:
    ``111.1367``, ``１１１.１３``, ``111°08′12.3″E``, ``111 8 12.3``, ``东经111度8分12.3秒``,
    ``38°27'N``; south and west (``S``, ``W``, 南纬, 西经) are negative. None when empty.

    Raises
    ------
    ValueError
        For text that is neither a number nor degrees, minutes and seconds (minutes or seconds
        of 60 or more included).
    """
    if is_empty(value) or isinstance(value, int | float | bool):
        return parse_number(value)
    s = unicodedata.normalize("NFKC", str(value)).strip().replace("º", "°")
    s = s.replace("′′", '"').replace("′", "'")
    if not re.search(r"[°'\"度分秒NSEWnsew东西南北]|\d\s+\d", s):
        return parse_number(value)  # a plain number (thousands separators allowed)
    m = _DMS.match(s)
    if m is None or (m["pre"] and m["post"]):
        raise ValueError(f"不是数字或度分秒 / not a number nor degrees-minutes-seconds: {value!r}")
    minutes, seconds = float(m["m"] or 0), float(m["s"] or 0)
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"分或秒须小于 60 / minutes and seconds must be below 60: {value!r}")
    out = float(m["d"]) + minutes / 60 + seconds / 3600
    hemi = (m["pre"] or m["post"] or "").upper()
    return -out if hemi in ("S", "W", "西经", "南纬") else out


def coordinate_field(value: Any, name: str) -> float | None:
    """:func:`parse_coordinate` of a request or row field, a 422 naming the field when it is
    not a coordinate (the Open311 form and the hotline import read lon/lat this one way)."""
    from geo.errors import InvalidInput

    try:
        return parse_coordinate(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} 不是坐标 / {name} is not a coordinate: {exc}",
                           field=name) from exc


def parse_int(value: Any) -> int | None:
    """An integer (thousands separators allowed); None when empty."""
    num = parse_number(value)
    if num is None:
        return None
    if num != int(num):
        raise ValueError(f"不是整数 / not an integer: {value!r}")
    return int(num)


# 16-point compass plus approach codes (NB = northbound ...) and Chinese directions.
_COMPASS = {
    "N": 0.0, "NNE": 22.5, "NE": 45.0, "ENE": 67.5, "E": 90.0, "ESE": 112.5, "SE": 135.0,
    "SSE": 157.5, "S": 180.0, "SSW": 202.5, "SW": 225.0, "WSW": 247.5, "W": 270.0,
    "WNW": 292.5, "NW": 315.0, "NNW": 337.5,
    "NORTH": 0.0, "EAST": 90.0, "SOUTH": 180.0, "WEST": 270.0,
    "NORTHEAST": 45.0, "SOUTHEAST": 135.0, "SOUTHWEST": 225.0, "NORTHWEST": 315.0,
}
_CHINESE = {
    "北": 0.0, "正北": 0.0, "东北": 45.0, "东": 90.0, "正东": 90.0, "东南": 135.0, "南": 180.0,
    "正南": 180.0, "西南": 225.0, "西": 270.0, "正西": 270.0, "西北": 315.0,
    "北向": 0.0, "东向": 90.0, "南向": 180.0, "西向": 270.0,
}


def parse_bearing(value: Any) -> float | None:
    """Bearing in degrees clockwise from north, in [0, 360).

    Accepts degrees (``"135"``, ``"135°"``, ``-45``), compass points (``N``, ``NE``, ``SSW``),
    approach / travel codes (``NB``, ``SB``, ``EB``, ``WB``, ``NEB``, ``SEB``, ``SWB``,
    ``NWB``: the direction of travel the camera watches, taken as its bearing) and Chinese
    directions (``东北``, ``正南``, ``西向``).
    """
    if is_empty(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) % 360.0
    s = unicodedata.normalize("NFKC", str(value)).strip()
    num = s.rstrip("°º").strip()
    try:
        return float(num.replace(",", "")) % 360.0
    except ValueError:
        pass
    if s in _CHINESE:
        return _CHINESE[s]
    key = s.upper().replace(" ", "").replace("-", "").replace("_", "")
    if key.endswith("BOUND"):
        key = key[: -len("BOUND")]
    elif key.endswith("B") and key[:-1] in _COMPASS:
        key = key[:-1]
    if key in _COMPASS:
        return _COMPASS[key]
    raise ValueError(
        f"无法识别的方向 {value!r}：请给出 0-360 的度数、罗盘方向 (N/NE/SSW...) 或行驶方向代码 "
        f"(NB/SB/EB/WB/NEB/SEB/SWB/NWB) / unreadable bearing {value!r}: give degrees 0-360, "
        "a compass point (N, NE, SSW ...) or an approach code (NB, SB, EB, WB, NEB, SEB ...)"
    )


def parse_time(value: Any, fmt: str | None, tz: ZoneInfo) -> dt.datetime | None:
    """A timezone-aware datetime from a cell; naive values are taken in ``tz``.

    ``fmt`` is a ``strftime`` format (``%Y/%m/%d %H:%M``); without it ISO 8601 and a few
    common Chinese forms (``2025年3月1日 8:30``) are accepted. Excel cells arrive as datetimes.
    """
    if is_empty(value):
        return None
    out: dt.datetime
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime(value.year, value.month, value.day)
    else:
        s = unicodedata.normalize("NFKC", str(value)).strip()
        try:
            if fmt:
                out = dt.datetime.strptime(s, fmt)
            else:
                s2 = re.sub(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*", r"\1-\2-\3 ", s).strip()
                s2 = re.sub(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", s2)
                m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})(.*)$", s2)
                if m:
                    rest = re.sub(r"^([ T])(\d):", r"\g<1>0\2:", m.group(4))
                    s2 = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}{rest}"
                out = dt.datetime.fromisoformat(s2.replace("Z", "+00:00"))
        except ValueError:
            hint = f"格式 {fmt}" if fmt else "ISO 8601 (2025-03-01 08:30)"
            raise ValueError(
                f"无法识别的日期时间 {value!r}，应为 {hint}；可用 --time-format 指定格式 / "
                f"unreadable date-time {value!r}, expected {fmt or 'ISO 8601'}; "
                "give --time-format (e.g. '%m/%d/%Y %I:%M:%S %p')"
            ) from None
    if out.tzinfo is None:
        out = out.replace(tzinfo=tz)
    if not (1900 <= out.year <= 2100):
        raise ValueError(f"日期超出范围 / date out of range: {value!r}")
    return out


_FORMAT_SAMPLE = dt.datetime(2025, 9, 30, 15, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def check_time_format(fmt: str | None, field: str = "time_format") -> None:
    """Refuse a ``strptime`` format that cannot read back a time it wrote (``%Y%Y``: the
    regular expression ``strptime`` builds fails; ``%Q``: no such directive) with a 422
    naming ``field``; the one check of every import's time formats (options, profiles)."""
    if fmt is None:
        return
    try:
        dt.datetime.strptime(_FORMAT_SAMPLE.strftime(str(fmt)), str(fmt))
    except (ValueError, TypeError, re.error) as exc:
        from geo.errors import InvalidInput

        raise InvalidInput(f"时间格式 {fmt!r} 无效 ({exc}) / bad time format {fmt!r}: a "
                           "strptime format such as %Y%m%d%H%M%S", field=field) from exc


def parse_date(value: Any, fmt: str | None = None) -> dt.date | None:
    """A date (``2025-03-01``, ``2025/3/1``, ``2025年3月1日``)."""
    t = parse_time(value, fmt, ZoneInfo("UTC"))
    return t.date() if t else None


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return re.sub(r"[\s_\-()（）]", "", s)


# Column names recognised without a --*-field option, Chinese and English.
FIELD_ALIASES: dict[str, Sequence[str]] = {
    "code": ("code", "编码", "编号", "代码", "id", "网格编码", "网格代码", "网格编号", "gbid",
             "gb_id", "国标编码", "设备编码", "事件编号", "工号", "beat_num", "beatnum",
             "小区编码", "区划代码", "统计用区划代码", "楼栋编码", "地址编码", "标准地址编码"),
    "name": ("name", "名称", "网格名称", "小区名称", "姓名", "设备名称", "单位名称"),
    "parent": ("parent", "parent_code", "parent_cod", "community_code", "上级编码",
               "所属村社区编码", "所属社区编码", "村社区编码", "社区编码", "村编码", "所属村居"),
    "township": ("township", "township_code", "township_c", "乡镇编码", "所属乡镇编码"),
    "kind": ("kind", "类型", "网格类型"),
    "level": ("level", "级别", "层级"),
    "lon": ("lon", "lng", "long", "longitude", "经度", "x", "gcjlng", "bdlng", "wgslng"),
    "lat": ("lat", "latitude", "纬度", "y", "gcjlat", "bdlat", "wgslat"),
    "wkt": ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "空间信息", "坐标串"),
    "category": ("category", "category_code", "类别", "事件类别", "事件类型", "分类"),
    "time": ("time", "reported_at", "datetime", "date", "上报时间", "发生时间", "时间", "日期"),
    "description": ("description", "描述", "事件描述", "内容", "诉求内容"),
    "address": ("address", "地址", "位置", "详细地址", "location_text"),
    "bearing": ("bearing", "bearing_deg", "direction", "方向", "朝向", "方位角", "approach"),
    "phone": ("phone", "电话", "手机", "联系电话", "手机号"),
    "households": ("households", "户数", "住户数", "总户数"),
    "population": ("population", "人口", "人口数"),
    "buildings": ("buildings", "楼栋数", "楼栋"),
    "built_year": ("built_year", "建成年份", "建成年代"),
    "mgmt_mode": ("mgmt_mode", "物业管理方式", "管理方式", "物业类型"),
    "company": ("company", "company_name", "物业公司", "物业服务企业"),
    "cell": ("cell", "cell_code", "网格", "负责网格", "所属网格"),
    "valid_from": ("valid_from", "任职日期", "上岗日期", "开始日期"),
    "fov": ("fov", "fov_deg", "视场角"),
    "range": ("range", "range_m", "视距", "监控距离"),
    "status": ("status", "状态"),
    "channel": ("channel", "来源", "渠道"),
    "reporter_name": ("reporter_name", "报告人", "反映人", "联系人"),
    "reporter_phone": ("reporter_phone", "报告人电话", "反映人电话", "来电号码"),
    # the building and standard-address register (一标三实)
    "compound": ("compound", "compound_code", "compound_name", "小区", "所属小区", "小区名称"),
    "floors": ("floors", "层数", "楼层数", "地上层数"),
    "units": ("units", "单元数"),
    "township_name": ("township_name", "乡镇", "乡镇街道", "乡镇(街道)", "街道办事处"),
    "community_name": ("community_name", "社区", "村社区", "村/社区", "村居", "行政村", "社区村"),
    "road": ("road", "街路巷", "道路", "路名", "街路巷名"),
    "number": ("number", "门牌号", "门牌", "门址号"),
    "building": ("building", "楼栋号", "楼号", "栋号", "幢号"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "户室号", "室号", "房号", "户号"),
}


def find_field(columns: Iterable[str], role: str, given: str | None) -> str | None:
    """The column playing ``role``: the one named by the user, else a known alias.

    Raises
    ------
    ValueError
        When ``given`` names a column that does not exist (the message lists the columns).
    """
    cols = [str(c) for c in columns]
    if given:
        if given in cols:
            return given
        by_norm = {_norm(c): c for c in cols}
        if _norm(given) in by_norm:
            return by_norm[_norm(given)]
        raise ValueError(
            f"文件中没有列 {given!r}；现有列: {cols} / no column {given!r} in the file; "
            f"columns are: {cols}"
        )
    by_norm = {_norm(c): c for c in cols}
    for alias in FIELD_ALIASES.get(role, ()):
        if _norm(alias) in by_norm:
            return by_norm[_norm(alias)]
    return None
