"""What the exported layers and the overdue list look like in Excel: their columns (Chinese and
English headers, types, definitions) and their codes turned into names.

Labels of code lists come from :mod:`geo.db.tables.vocab`; names of categories, departments,
admin units and cells from their tables (:func:`load_names`). The rows arrive already masked
by the field policy (:mod:`geo.auth.fields`); this module only renames and adds display
columns, it never reads a personal field itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo.auth.principal import Principal
from geo.db.tables import vocab
from geo.io.workbook import About, Column, Sheet, write_workbook
from geo.localtime import now

EXCEL_CELL_CHARS = 32_767  # Excel refuses longer text in a cell (a "repair" on opening)


@dataclass
class Names:
    """Display names by code, in one language: categories, departments, admin units, cells."""

    lang: str = "zh"
    region: str = ""
    categories: dict[str, str] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def _get(table: dict[str, str], code: Any) -> Any:
        return None if code is None else table.get(str(code), code)

    def category(self, code: Any) -> Any:
        """The category's name (the code when unknown)."""
        return self._get(self.categories, code)

    def department(self, code: Any) -> Any:
        """The department's name."""
        return self._get(self.departments, code)

    def unit(self, code: Any) -> Any:
        """The admin unit's (township, village, community) name."""
        return self._get(self.units, code)

    def cell(self, code: Any) -> Any:
        """The grid cell's name (of the active boundary set where the code is in several)."""
        return self._get(self.cells, code)


def load_names(conn: Connection, region_code: str, lang: str = "zh") -> Names:
    """The display names of ``region_code`` in ``lang`` (English names where the table has
    them, else the Chinese ones)."""
    col = "coalesce(name_en, name)" if lang == "en" else "name"
    p = {"r": region_code}
    region = conn.execute(text("SELECT name FROM region WHERE code = :r"), p).scalar()
    def pairs(sql: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in conn.execute(text(sql), p)}

    return Names(
        lang=lang, region=str(region or region_code),
        categories=pairs(f"SELECT code, {col} FROM incident_category"),
        departments=pairs(f"SELECT code, {col} FROM department"),
        units=pairs(f"SELECT code, {col} FROM admin_unit WHERE region_code = :r"),
        cells=pairs("SELECT DISTINCT ON (c.code) c.code, c.name FROM grid_cell c "
                    "JOIN boundary_set b ON b.id = c.boundary_set_id WHERE c.region_code = :r "
                    "ORDER BY c.code, b.is_active DESC, b.id DESC"),
    )


def _c(key: str, zh: str, en: str, kind: str = "text", note_zh: str = "", note_en: str = "",
       **kw: Any) -> Column:
    return Column(key, zh, en, kind, note_zh, note_en, **kw)


# Incident fields, shared by the incident export and the overdue list (one header per field).
INCIDENT: dict[str, Column] = {c.key: c for c in (
    _c("code", "事件编号", "Case code", note_zh="事件的唯一编号", note_en="Unique case code"),
    _c("category_name", "类别", "Category", note_zh="事件类别名称",
       note_en="Name of the incident category"),
    _c("category_code", "类别代码", "Category code", note_zh="类别的系统代码 (供系统对接)",
       note_en="System code of the category"),
    _c("channel_name", "渠道", "Channel", note_zh="事件来源: 12345热线、110、网格员巡查、随手拍、"
       "视频告警、信访", note_en="Where the report came from"),
    _c("status_name", "状态", "Status", note_zh="案件流程中的当前状态 (已上报 -> 已立案 -> 已派遣 "
       "-> 处置中 -> 已处置待核查 -> 已核查 -> 已结案)", note_en="Current step of the case flow"),
    _c("urgency_name", "紧急程度", "Urgency", note_zh="一般 / 紧急", note_en="normal / urgent"),
    _c("reported_at", "上报时间", "Reported at", "datetime", "事件上报的时间",
       "When the incident was reported"),
    _c("description", "事件描述", "Description", note_zh="上报内容; 无权查看明文时"
       "其中的电话、证件号已打码; 规划人员不提供",
       note_en="What was reported; numbers masked where the caller may not read it in clear; "
       "withheld from planners"),
    _c("location_text", "地点", "Place", note_zh="上报的地址描述 (同上打码规则)",
       note_en="The address as reported (masked as the description)"),
    _c("reporter_name", "上报人", "Reporter", note_zh="上报人姓名; 无权查看时打码 (张*), "
       "规划人员不提供", note_en="Reporter's name; masked (张*) unless the caller may see it"),
    _c("reporter_phone", "联系电话", "Reporter phone", note_zh="上报人电话; 无权查看时打码 "
       "(138****1234)", note_en="Reporter's phone; masked (138****1234) unless allowed"),
    _c("cell_name", "所属网格", "Grid cell", note_zh="事件所在网格的名称",
       note_en="Name of the grid cell the incident is in"),
    _c("cell_code", "网格编码", "Cell code", note_zh="网格的 15 位编码",
       note_en="The cell's 15-digit code"),
    _c("community_name", "村/社区", "Village/community", note_zh="所在行政村或社区",
       note_en="Village or community"),
    _c("township_name", "乡镇", "Township", note_zh="所在乡镇", note_en="Township"),
    _c("township_code", "乡镇代码", "Township code", note_zh="乡镇的统计用区划代码",
       note_en="The township's statistical code"),
    _c("department_name", "主管部门", "Department", note_zh="负责处置的部门",
       note_en="The department responsible"),
    _c("department_code", "部门代码", "Department code", note_zh="部门的系统代码",
       note_en="System code of the department"),
    _c("worker_name", "网格员", "Grid worker", note_zh="负责该网格的网格员; 非指挥中心角色看到的"
       "姓名已打码", note_en="The cell's grid worker; masked for roles other than the command "
       "centre"),
    _c("worker_phone", "网格员电话", "Worker phone", note_zh="网格员电话 (同上打码规则)",
       note_en="The grid worker's phone (masked as the name)"),
    _c("due_at", "当前环节时限", "Due (current step)", "datetime", "当前环节应完成的时间 "
       "(按工作时间计算, 节假日不计)", "When the current step is due (working time, "
       "holidays excluded)"),
    _c("final_due_at", "办结时限", "Final due", "datetime", "整个案件应办结的时间",
       "When the whole case is due"),
    _c("overdue", "是否超期", "Overdue", "bool", "未结案、未暂停且已过当前环节时限",
       "Open, not paused, and past the current step's due time"),
    _c("overdue_work_hours", "超期工作小时", "Overdue (working hours)", "float",
       "从当前环节时限到统计时刻的工作时间 (工作日 08:30-12:00、13:30-18:00, 按国家法定节假日"
       "和调休), 单位小时", "Working time from the due time to the time of the list (working "
       "days 08:30-12:00 and 13:30-18:00, China's holiday calendar), hours"),
    _c("overdue_hours", "超期自然小时", "Overdue (calendar hours)", "float",
       "从当前环节时限到统计时刻的自然时间 (含夜间和节假日), 单位小时",
       "Calendar time from the due time to the time of the list, hours"),
    _c("dispatched_at", "派遣时间", "Dispatched at", "datetime", "派遣给处置部门的时间",
       "When the case was dispatched"),
    _c("closed_at", "结案时间", "Closed at", "datetime", "结案时间", "When the case was closed"),
)}

_GEOM = {
    "lon": _c("lon", "经度", "Longitude", "float", "点的经度 (坐标系见「坐标系」列)",
              "Longitude (see the CRS column)"),
    "lat": _c("lat", "纬度", "Latitude", "float", "点的纬度", "Latitude"),
    "x": _c("x", "X坐标", "X", "float", "投影坐标 X (米)", "Projected X (metres)"),
    "y": _c("y", "Y坐标", "Y", "float", "投影坐标 Y (米)", "Projected Y (metres)"),
    "wkt": _c("wkt", "几何(WKT)", "Geometry (WKT)", note_zh="几何的 WKT 文本; 超过 "
              "Excel 单元格上限 (32,767 字符) 的留空, 请导出 GeoPackage 或 Shapefile 获取几何",
              note_en="The geometry as WKT; left empty where longer than an Excel cell may "
              "hold (32,767 characters): export GeoPackage or Shapefile for geometries",
              width=30),
    "crs": _c("crs", "坐标系", "CRS", note_zh="坐标所用坐标系 (EPSG:4490 为 CGCS2000)",
              note_en="The coordinates' CRS (EPSG:4490 = CGCS2000)"),
}

_LAYERS: dict[str, tuple[str, str, str, str, list[Column]]] = {
    "incidents": ("事件", "Incidents", "事件清单", "Incident list", [INCIDENT[k] for k in (
        "code", "category_name", "category_code", "channel_name", "status_name",
        "urgency_name", "reported_at", "description", "location_text", "reporter_name",
        "reporter_phone", "cell_name", "cell_code", "community_name", "township_name",
        "township_code", "department_name", "department_code", "due_at", "final_due_at",
        "overdue", "dispatched_at", "closed_at")]),
    "cameras": ("摄像头", "Cameras", "摄像头清单", "Camera list", [
        _c("gb_id", "设备编码", "Device code (GB/T 28181)", note_zh="国标 GB/T 28181 设备编码",
           note_en="GB/T 28181 device code"),
        _c("name", "名称", "Name"),
        _c("status_name", "状态", "Status", note_zh="在线 / 离线 / 故障; 只有在线摄像头计入覆盖",
           note_en="online / offline / fault; only online cameras count for coverage"),
        _c("bearing_deg", "朝向(度)", "Bearing (deg)", "float", "镜头朝向, 正北起顺时针; 空 = "
           "未登记 (按 360° 计)", "Clockwise from north; empty = unknown (full circle)"),
        _c("fov_deg", "视场角(度)", "Field of view (deg)", "float"),
        _c("range_m", "可视距离(米)", "Range (m)", "float"),
        _c("project", "所属项目", "Project", note_zh="建设项目 (雪亮工程、平安乡村 ...)",
           note_en="The programme that built it"),
        _c("installed_at", "安装日期", "Installed on", "date"),
    ]),
    "compounds": ("小区", "Compounds", "小区清单", "Compound list", [
        _c("code", "小区编码", "Compound code"),
        _c("name", "小区名称", "Name"),
        _c("address", "地址", "Address"),
        _c("community_name", "所属村/社区", "Village/community"),
        _c("community_code", "村/社区代码", "Village/community code"),
        _c("households", "户数", "Households", "int"),
        _c("buildings", "楼栋数", "Buildings", "int"),
        _c("built_year", "建成年份", "Built (year)", "int"),
        _c("mgmt_mode_name", "物业管理方式", "Management", note_zh="物业服务企业、社区托管、"
           "社会组织代管、业委会/物管会自管、无物业", note_en="Property-management mode"),
        _c("mgmt_mode", "管理方式代码", "Management code", note_zh="管理方式的系统代码",
           note_en="System code of the mode"),
        _c("company_name", "物业服务企业", "Property company"),
        _c("owners_committee_name", "业主委员会", "Owners' committee",
           note_zh="已成立 / 筹备中 / 未成立", note_en="established / preparing / none"),
    ]),
    "workers": ("网格员", "Grid workers", "网格员名册", "Grid workers", [
        _c("code", "网格员编号", "Worker code"),
        _c("name", "姓名", "Name", note_zh="非指挥中心角色看到的姓名已打码 (张*)",
           note_en="Masked (张*) for roles other than the command centre"),
        _c("phone", "电话", "Phone", note_zh="同上打码规则 (138****1234)",
           note_en="Masked as the name (138****1234)"),
        _c("role_note", "岗位", "Role"),
        _c("active", "在岗", "Active", "bool"),
        _c("cells", "负责网格", "Cells", note_zh="当前负责的网格编码, 分号分隔",
           note_en="Cells assigned now, separated by semicolons"),
    ]),
    "cells": ("网格", "Grid cells", "网格清单", "Grid cells", [
        _c("code", "网格编码", "Cell code", note_zh="15 位: 县 6 + 乡镇 3 + 村/社区 3 + 序号 3",
           note_en="15 digits: county 6 + township 3 + village/community 3 + number 3"),
        _c("name", "网格名称", "Name"),
        _c("kind_name", "网格类型", "Kind", note_zh="基础网格 / 专属网格",
           note_en="basic / dedicated"),
        _c("parent_name", "所属村/社区", "Village/community"),
        _c("parent_code", "村/社区代码", "Village/community code"),
        _c("township_name", "乡镇", "Township"),
        _c("township_code", "乡镇代码", "Township code"),
        _c("households", "户数", "Households", "int"),
        _c("population", "人口", "Population", "int"),
        _c("area_m2", "面积(平方米)", "Area (m²)", "float", "椭球面积", "Area on the ellipsoid"),
        _c("boundary_set", "边界版本", "Boundary set"),
    ]),
    "admin": ("行政区划", "Admin units", "行政区划清单", "Administrative units", [
        _c("code", "区划代码", "Code"),
        _c("name", "名称", "Name"),
        _c("level_name", "层级", "Level", note_zh="县 / 乡镇 / 行政村 / 社区",
           note_en="county / township / village / community"),
        _c("parent_name", "上级", "Parent"),
        _c("parent_code", "上级代码", "Parent code"),
        _c("households", "户数", "Households", "int"),
        _c("population", "人口", "Population", "int"),
    ]),
    "buildings": ("楼栋", "Buildings", "楼栋清单", "Buildings", [
        _c("code", "楼栋编码", "Building code"),
        _c("name", "名称", "Name"),
        _c("compound_code", "小区编码", "Compound code"),
        _c("address", "地址", "Address"),
        _c("floors", "层数", "Floors", "int"),
        _c("units", "单元数", "Units", "int"),
        _c("source", "来源", "Source"),
        _c("synthetic", "示例数据", "Synthetic", "bool", "是 = 演示用的合成数据, 不是真实楼栋",
           "yes = synthetic demo data, not a real building"),
    ]),
    "addresses": ("标准地址", "Standard addresses", "标准地址清单", "Standard addresses", [
        _c("code", "地址编码", "Address code"),
        _c("full_text", "标准地址", "Address"),
        _c("level_name", "地址级别", "Level",
           note_zh="户室 / 楼栋 / 小区 / 道路门牌 / 村社区 / 乡镇",
           note_en="room / building / compound / road / village / township"),
        _c("township", "乡镇", "Township"),
        _c("community", "村/社区", "Village/community"),
        _c("road", "街路巷", "Road"),
        _c("number", "门牌号", "Number"),
        _c("compound", "小区", "Compound"),
        _c("compound_code", "小区编码", "Compound code"),
        _c("building", "楼栋号", "Building"),
        _c("unit", "单元", "Unit"),
        _c("room", "户室号", "Room"),
        _c("source", "来源", "Source"),
        _c("synthetic", "示例数据", "Synthetic", "bool", "是 = 演示用的合成数据, 不是真实地址",
           "yes = synthetic demo data, not a real address"),
    ]),
}


def _label(v: vocab.Vocab, code: Any, lang: str) -> Any:
    return None if code is None else v.label(str(code), lang)


def display_row(layer: str, row: Mapping[str, Any], names: Names) -> dict[str, Any]:
    """``row`` (already masked) with the display names the layer's sheet shows."""
    lang = names.lang
    out = dict(row)
    if layer == "incidents":
        out.update(
            category_name=names.category(row.get("category_code")),
            channel_name=_label(vocab.CHANNEL, row.get("channel"), lang),
            status_name=_label(vocab.INCIDENT_STATUS, row.get("status"), lang),
            urgency_name=_label(vocab.URGENCY, row.get("urgency"), lang),
            cell_name=names.cell(row.get("cell_code")),
            community_name=names.unit(row.get("community_code")),
            township_name=names.unit(row.get("township_code")),
            department_name=names.department(row.get("department_code")))
    elif layer == "cameras":
        out["status_name"] = _label(vocab.CAMERA_STATUS, row.get("status"), lang)
    elif layer == "compounds":
        out["community_name"] = names.unit(row.get("community_code"))
        out["mgmt_mode_name"] = _label(vocab.MGMT_MODE, row.get("mgmt_mode"), lang)
        out["owners_committee_name"] = _label(vocab.OWNERS_COMMITTEE,
                                              row.get("owners_committee"), lang)
    elif layer == "cells":
        out["kind_name"] = _label(vocab.CELL_KIND, row.get("kind"), lang)
        out["parent_name"] = names.unit(row.get("parent_code"))
        out["township_name"] = names.unit(row.get("township_code"))
    elif layer == "addresses":
        out["level_name"] = _label(vocab.ADDRESS_LEVEL, row.get("level"), lang)
    elif layer == "admin":
        out["level_name"] = _label(vocab.ADMIN_LEVEL, row.get("level"), lang)
        out["parent_name"] = names.unit(row.get("parent_code"))
    return out


def layer_workbook(
    conn: Connection, layer: str, rows: Sequence[Mapping[str, Any]], geom_keys: Sequence[str],
    region_code: str, inputs: list[tuple[str, str, Any]], lang: str = "zh",
    notes: list[tuple[str, str]] | None = None,
) -> bytes:
    """The XLSX of an exported layer: the rows (masked already) with Chinese (or English)
    headers, names beside codes, typed times, and the definitions sheet.

    ``geom_keys`` are the geometry columns the rows carry (``lon``/``lat``, ``x``/``y`` or
    ``wkt``, and ``crs``); ``inputs`` the request (region, filter, CRS ...).
    """
    names = load_names(conn, region_code, lang)
    zh, en, title_zh, title_en, cols = _LAYERS[layer]
    cols = cols + [_GEOM[k] for k in geom_keys]
    shown = [display_row(layer, r, names) for r in rows]
    long_wkt = 0
    if "wkt" in geom_keys:
        for r in shown:
            if r.get("wkt") and len(r["wkt"]) > EXCEL_CELL_CHARS:
                r["wkt"], long_wkt = None, long_wkt + 1
    extra = list(notes or [])
    if long_wkt:
        extra.append((f"{long_wkt} 个几何超过 Excel 单元格上限, WKT 留空; 请导出 GeoPackage 或 "
                      "Shapefile 获取完整几何。", f"{long_wkt} geometries are longer than an "
                      "Excel cell may hold: their WKT is left empty; export GeoPackage or "
                      "Shapefile for complete geometries."))
    about = About(
        f"{names.region} {title_zh}", f"{title_en} ({region_code})",
        f"从网格化服务管理系统导出的{zh}数据, 每行一条记录; 按导出人的权限筛选和打码。",
        f"{en} exported from Wangge, one record a row; rows and fields as the caller may see "
        "them.",
        inputs=[("区域", "Region", f"{names.region} ({region_code})"), *inputs,
                ("数据截至", "Data as of", now())],
        notes=extra)
    return write_workbook([Sheet(zh, en, cols, shown)], about, lang)


OVERDUE_COLUMNS = [INCIDENT[k] for k in (
    "code", "category_name", "location_text", "cell_name", "cell_code", "township_name",
    "worker_name", "worker_phone", "department_name", "status_name", "urgency_name",
    "reported_at", "due_at", "final_due_at", "overdue_work_hours", "overdue_hours",
    "category_code", "department_code")]


def overdue_workbook(
    conn: Connection, principal: Principal, items: Sequence[Mapping[str, Any]],
    region_code: str, as_of: dt.datetime, more: bool = False, lang: str = "zh",
) -> bytes:
    """The command centre's Excel of overdue cases.

    ``items`` are the JSON items of ``GET /incidents/overdue`` (scoped and masked for the
    caller: :func:`geo.incidents.views.list_incidents`), one row each, in their order; the
    grid worker's name and phone as the caller may see them (:func:`geo.auth.fields.as_seen`);
    overdue hours in working time (:class:`geo.incidents.calendar.WorkCalendar`) and in
    calendar time. ``more``: the list was cut at its limit (the file says so).
    """
    from geo.auth.fields import as_seen
    from geo.incidents.calendar import load_calendar

    names = load_names(conn, region_code, lang)
    cal = load_calendar(conn, region_code)
    ids = sorted({int(i["worker_id"]) for i in items if i.get("worker_id") is not None})
    workers = {wid: (as_seen(principal, "workers", "name", name),
                     as_seen(principal, "workers", "phone", phone))
               for wid, name, phone in conn.execute(text(
                   "SELECT id, name, phone FROM grid_worker WHERE id = ANY(:ids)"),
                   {"ids": ids})}
    rows = []
    for it in items:
        row = display_row("incidents", {**it, "category_code": it.get("category")}, names)
        due = it.get("due_at")
        if due:
            due_t = dt.datetime.fromisoformat(due)
            row["overdue_work_hours"] = round(cal.working_minutes_between(due_t, as_of) / 60, 1)
            row["overdue_hours"] = round((as_of - due_t).total_seconds() / 3600, 1)
        name, phone = workers.get(it.get("worker_id"), (None, None))
        row.update(worker_name=name, worker_phone=phone)
        rows.append(row)
    notes = [("按时限排序 (当前环节时限最早、超期最久的在前)。",
              "Earliest due time (most overdue) first.")]
    if more:
        notes.append((f"本文件只含前 {len(rows)} 条超期事件, 还有更多; "
                      "请提高 limit 或按乡镇分别导出。",
                      f"This file holds the first {len(rows)} overdue cases and there are "
                      "more: raise limit or export per township."))
    about = About(
        f"{names.region} 超期事件清单", f"Overdue cases ({region_code})",
        "未结案、未暂停且已超过当前环节时限的事件, 供指挥中心督办; 范围和打码与 "
        "GET /incidents/overdue 相同。",
        "Open, unpaused cases past their current step's due time, for the command centre; "
        "the same rows and masking as GET /incidents/overdue.",
        inputs=[("区域", "Region", f"{names.region} ({region_code})"),
                ("统计时刻", "As of", as_of),
                ("超期事件数", "Overdue cases", f"{len(rows)}+" if more else len(rows)),
                ("导出角色", "Caller's role", vocab.ROLE.label(principal.role, lang)),
                ("数据截至", "Data as of", now())],
        notes=notes)
    sheet = Sheet("超期事件", "Overdue", OVERDUE_COLUMNS, rows)
    return write_workbook([sheet], about, lang)
