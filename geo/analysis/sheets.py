"""The planners' analyses as workbooks officials read: Chinese sheet names and headers (English
with ``lang="en"``), labels and names instead of codes, typed dates and rates, totals rows and
a definitions sheet (说明) stating the analysis, its inputs and its summary.

Written by the one Excel writer (:mod:`geo.io.workbook`). Column headers are defined once per
column key (:data:`COLUMNS`: the same key means the same thing in every table); code lists are
labelled from :mod:`geo.db.tables.vocab`, categories and admin units named from their tables
(:func:`geo.io.sheets.load_names`). A key missing here is written under its own name (a test
checks that the demo's analyses have none).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.analysis.common import _clean
from geo.db.tables import vocab
from geo.io.sheets import Names
from geo.io.workbook import About, Column, Sheet, write_workbook


def _c(key: str, zh: str, en: str, kind: str = "text", note_zh: str = "", note_en: str = "",
       **kw: Any) -> Column:
    return Column(key, zh, en, kind, note_zh, note_en, **kw)


def _pct(key: str, zh: str, en: str, num: str | None, den: str | None, note_zh: str = "",
         note_en: str = "") -> Column:
    return Column(key, zh, en, "percent", note_zh, note_en, points=True,
                  ratio=(num, den) if num and den else None)


_MODES = vocab.MGMT_MODE
_COMMITTEE = vocab.OWNERS_COMMITTEE

COLUMNS: dict[str, Column] = {c.key: c for c in (
    _c("rank", "排名", "Rank", "int"),
    _c("id", "序号", "Id", "int"),
    _c("code", "代码", "Code", note_zh="单元、小区或网格的编码", note_en="Code of the unit"),
    _c("name", "名称", "Name"),
    _c("level", "单元层级", "Unit level", note_zh="网格 / 村/社区 / 乡镇 / 县",
       note_en="cell / village or community / township / county"),
    _c("kind", "网格类型", "Cell kind", note_zh="基础网格 / 专属网格"),
    _c("parent_code", "上级代码", "Parent code"),
    _c("parent_name", "上级", "Parent", note_zh="上级单元 (村/社区或乡镇) 名称"),
    _c("township_code", "乡镇代码", "Township code"),
    _c("township_name", "乡镇", "Township"),
    _c("community_code", "村/社区代码", "Village/community code"),
    _c("community_name", "村/社区", "Village/community"),
    _c("cell_code", "网格编码", "Cell code"),
    _c("cell_name", "所属网格", "Grid cell"),
    _c("unit_code", "单元代码", "Unit code"),
    _c("unit_name", "单元名称", "Unit"),
    _c("unit_level", "单元层级", "Unit level"),
    _c("category_code", "类别代码", "Category code"),
    _c("category_name", "类别", "Category"),
    _c("households", "户数", "Households", "int"),
    _c("buildings", "楼栋数", "Buildings", "int"),
    _c("address", "地址", "Address"),
    _c("area_m2", "面积(平方米)", "Area (m²)", "float"),
    _c("area_km2", "面积(平方公里)", "Area (km²)", "float"),
    _c("covered_m2", "覆盖面积(平方米)", "Covered (m²)", "float",
       "在线摄像头视域并集与单元的交集面积", "Area of the unit inside the union of online "
       "cameras' sectors"),
    _pct("covered_pct", "覆盖率", "Covered", "covered_m2", "area_m2", "覆盖面积 / 面积",
         "covered area / area"),
    _c("cameras_online", "在线摄像头", "Cameras online", "int"),
    _c("cameras_not_online", "离线或故障摄像头", "Cameras offline or faulty", "int"),
    _c("cameras_no_bearing", "未登记朝向摄像头", "Cameras without bearing", "int",
       "未登记朝向, 按 360° 视域计", "No bearing recorded: counted as a full circle"),
    _c("incidents", "事件数", "Incidents", "int", "时段内事件数 (不含不予立案、撤销、合并)",
       "Incidents of the period (rejected, cancelled and merged left out)"),
    _c("incidents_uncovered", "视域外事件数", "Incidents outside every sector", "int",
       "不在任何在线摄像头视域内的事件", "Incidents no online camera sees"),
    _pct("uncovered_share_pct", "视域外事件占比", "Share outside sectors",
         "incidents_uncovered", "incidents"),
    _c("reported_at", "上报日期", "Reported on", "date"),
    _c("mgmt_mode", "物业管理方式", "Management", note_zh="、".join(_MODES.labels("zh").values())),
    _c("mode_since", "管理方式起始日期", "Mode since", "date"),
    _c("owners_committee", "业主委员会", "Owners' committee",
       note_zh="、".join(_COMMITTEE.labels("zh").values())),
    _c("company_name", "物业服务企业", "Property company"),
    _c("company_credit", "企业信用等级", "Company credit rating"),
    _c("complaint_phone_posted", "公示投诉电话", "Complaint phone posted", "bool"),
    _c("compounds", "小区数", "Compounds", "int"),
    _c("managed_compounds", "有物业管理的小区数", "Managed compounds", "int",
       "管理方式不是「无物业」的小区", "Compounds whose mode is not 'none'"),
    _c("managed_households", "有物业管理的户数", "Managed households", "int"),
    _pct("managed_pct", "物业覆盖率(按小区)", "Managed (compounds)", "managed_compounds",
         "compounds", "有物业管理的小区数 / 小区数", "managed compounds / compounds"),
    _pct("managed_households_pct", "物业覆盖率(按户)", "Managed (households)",
         "managed_households", "households", "有物业管理的户数 / 户数",
         "managed households / households"),
    *(c for m in _MODES.codes for c in (
        _c(f"compounds_{m}", f"小区数: {_MODES.label(m)}", f"Compounds: {_MODES.label(m, 'en')}",
           "int"),
        _c(f"households_{m}", f"户数: {_MODES.label(m)}", f"Households: {_MODES.label(m, 'en')}",
           "int"),
        _pct(f"share_{m}_pct", f"占比: {_MODES.label(m)}", f"Share: {_MODES.label(m, 'en')}",
             f"compounds_{m}", "compounds", "该方式的小区数 / 小区数",
             "compounds of this mode / compounds"))),
    *(_c(f"owners_committee_{s}", f"业主委员会{_COMMITTEE.label(s)}的小区数",
         f"Owners' committee {_COMMITTEE.label(s, 'en')}", "int")
      for s in _COMMITTEE.codes),
    _pct("target_pct", "目标覆盖率", "Target", None, None),
    _c("target_by", "目标期限", "Target date", "date"),
    _c("target_state", "目标状态", "Target state", note_zh="已到期 / 未到期"),
    _c("target_result", "目标完成情况", "Target result", note_zh="已达标 / 未达标 / 未到期",
       note_en="met / not met / not yet due"),
    _c("meets_target", "是否达到目标比例", "Meets the target share", "bool",
       note_zh="按当前比例, 不论是否到期", note_en="at the current share, due or not"),
    _c("compounds_to_target", "距目标还差的小区数", "Compounds short of the target", "int"),
    _c("gb_id", "设备编码", "Device code"),
    _c("status", "状态", "Status", note_zh="在线 / 离线 / 故障"),
    _c("bearing_deg", "朝向(度)", "Bearing (deg)", "float", "正北起顺时针",
       "Clockwise from north"),
    _c("fov_deg", "视场角(度)", "Field of view (deg)", "float"),
    _c("range_m", "可视距离(米)", "Range (m)", "float"),
    _c("project", "所属项目", "Project"),
    _c("lon", "经度", "Longitude", "float", "CGCS2000 (EPSG:4490)"),
    _c("lat", "纬度", "Latitude", "float", "CGCS2000 (EPSG:4490)"),
    _c("no_bearing", "未登记朝向", "No bearing", "bool"),
    _c("counts_for_coverage", "计入覆盖", "Counts for coverage", "bool", "只有在线摄像头计入",
       "Only online cameras count"),
    _c("sector_area_m2", "视域面积(平方米)", "Sector area (m²)", "float"),
    _c("scope", "范围", "Scope", note_zh="上级单元内 / 全县范围"),
    _c("cell_a", "网格A", "Cell A"),
    _c("cell_b", "网格B", "Cell B"),
    _c("parent_a", "网格A上级", "Parent of A"),
    _c("parent_b", "网格B上级", "Parent of B"),
    _c("vacant_since", "空缺起始日期", "Vacant since", "date"),
    _c("worker_code", "网格员编号", "Worker code"),
    _c("worker_name", "网格员", "Grid worker", note_zh="非指挥中心角色看到的姓名已打码",
       note_en="Masked for roles other than the command centre"),
    _c("role_note", "岗位", "Role"),
    _c("cells", "负责网格数", "Cells", "int"),
    _c("cell_codes", "负责网格", "Cell codes"),
    _c("households_vs_mean", "户数/平均", "Households vs mean", "float",
       "该网格员户数除以全县平均", "Households over the county mean"),
    _c("incidents_vs_mean", "事件/平均", "Incidents vs mean", "float"),
    _c("per_km2", "每平方公里事件数", "Incidents per km²", "float",
       ratio=("incidents", "area_km2")),
    _c("per_1000_hh", "每千户事件数", "Incidents per 1,000 households", "float",
       ratio=("incidents", "households"), per=1000.0),
    _c("gi_z", "Gi* z 值", "Gi* z", "float", "Getis-Ord Gi* 标准化统计量",
       "Getis-Ord Gi* z-score"),
    _c("gi_p", "Gi* p 值", "Gi* p", "float", "置换检验的显著性", "Pseudo p-value"),
    _c("gi_bin", "Gi* 置信等级", "Gi* bin", "int", "±3: 99%, ±2: 95%, ±1: 90% (正为热点, 负为冷点)",
       "±3: 99 %, ±2: 95 %, ±1: 90 % (positive hot, negative cold)"),
    _c("spot", "热点/冷点", "Spot", note_zh="热点 / 冷点 / 不显著"),
    _c("hot_units", "热点单元数", "Hot units", "int"),
    _c("cold_units", "冷点单元数", "Cold units", "int"),
    _c("top_hot_units", "最热单元", "Hottest units"),
    _c("source", "候选来源", "Candidate source", note_zh="小区出入口 / 网格点"),
    _c("compound", "小区", "Compound"),
    _c("gain_incidents", "新增覆盖事件数", "Incidents newly covered", "int",
       "该点位新增覆盖、排名更前的点位未覆盖的事件", "Incidents this site newly covers"),
    _c("gain_weight", "新增覆盖权重", "Weight newly covered", "float"),
    _c("cumulative_incidents", "累计覆盖事件数", "Cumulative incidents", "int"),
    _c("cumulative_weight", "累计覆盖权重", "Cumulative weight", "float"),
    _c("standalone_incidents", "单独覆盖事件数", "Incidents seen alone", "int"),
    _c("urgency", "紧急程度", "Urgency"),
    _c("weight", "权重", "Weight", "float", "紧急事件按「紧急事件权重」加权",
       "Urgent incidents weigh urgent_weight"),
    _c("new_site_rank", "覆盖它的新点位", "Covered by new site", "int", "0 = 新点位都不覆盖",
       "0 = no new site covers it"),
)}

# Values of these keys are codes of a list: written as their labels.
LABELS: dict[str, vocab.Vocab] = {
    "level": vocab.ANALYSIS_UNIT, "unit_level": vocab.ADMIN_LEVEL, "kind": vocab.CELL_KIND,
    "mgmt_mode": vocab.MGMT_MODE, "owners_committee": vocab.OWNERS_COMMITTEE,
    "status": vocab.CAMERA_STATUS, "spot": vocab.SPOT_CLASS, "source": vocab.SITE_SOURCE,
    "target_state": vocab.TARGET_STATE, "target_result": vocab.TARGET_RESULT,
    "scope": vocab.GAP_SCOPE, "urgency": vocab.URGENCY,
}
# Name columns added beside code columns (when the table has none): key -> (name key, table).
NAMED: dict[str, tuple[str, str]] = {
    "category_code": ("category_name", "category"), "township_code": ("township_name", "unit"),
    "parent_code": ("parent_name", "unit"), "community_code": ("community_name", "unit"),
    "cell_code": ("cell_name", "cell"), "unit_code": ("unit_name", "unit_or_cell"),
}
# Columns left out of the workbook: repeated by a labelled column.
DROPPED = {"mgmt_mode_name"}

ANALYSES: dict[str, tuple[str, str]] = {
    "camera-coverage": ("摄像头覆盖分析", "Camera coverage"),
    "camera-sectors": ("摄像头视域", "Camera sectors"),
    "property-management": ("物业管理覆盖分析", "Property-management coverage"),
    "grid-health": ("网格体检", "Grid health"),
    "hotspots": ("事件热点分析", "Incident hot spots"),
    "camera-sites": ("新增摄像头选址", "New camera sites"),
}
# (analysis, table) -> Chinese and English sheet names, keys summed in a totals row.
TABLES: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    ("camera-coverage", "units"): ("各单元覆盖率", "Coverage by unit", (
        "households", "area_m2", "covered_m2", "cameras_online", "cameras_not_online",
        "cameras_no_bearing", "incidents", "incidents_uncovered")),
    ("camera-coverage", "blind_compounds"): ("无摄像头视域的小区", "Compounds no camera sees",
                                             ("households",)),
    ("camera-coverage", "uncovered_incidents"): ("视域外事件", "Incidents outside sectors", ()),
    ("camera-coverage", "cells_by_uncovered_incidents"): (
        "视域外事件最多的网格", "Cells by uncovered incidents", ()),
    ("camera-sectors", "cameras"): ("摄像头视域", "Cameras", ()),
    ("property-management", "units"): ("各单元物业覆盖", "Coverage by unit", (
        "compounds", "households", "managed_compounds", "managed_households",
        *(f"{k}_{m}" for m in _MODES.codes for k in ("compounds", "households")),
        *(f"owners_committee_{s}" for s in _COMMITTEE.codes), "compounds_to_target")),
    ("property-management", "unmanaged_compounds"): ("无物业小区", "Unmanaged compounds",
                                                     ("households", "buildings")),
    ("property-management", "compounds"): ("全部小区", "All compounds",
                                           ("households", "buildings")),
    ("grid-health", "gaps"): ("网格缝隙", "Gaps", ("area_m2",)),
    ("grid-health", "overlaps"): ("网格重叠", "Overlaps", ("area_m2",)),
    ("grid-health", "vacant_cells"): ("无网格员的网格", "Cells without a worker",
                                      ("households",)),
    ("grid-health", "worker_load"): ("网格员负荷", "Worker load", ()),
    ("hotspots", "units"): ("事件密度与热点", "Density and hot spots", (
        "households", "area_km2", "incidents")),
    ("hotspots", "by_category"): ("分类别热点", "Hot spots by category", ("incidents",)),
    ("camera-sites", "sites"): ("推荐点位", "Recommended sites", (
        "gain_incidents", "gain_weight")),
    ("camera-sites", "demand"): ("未覆盖事件(需求)", "Uncovered incidents (demand)", ()),
}

# Labels of the inputs and summary keys on the definitions sheet (path parts).
KEYS: dict[str, tuple[str, str]] = {
    "analysis": ("分析", "Analysis"), "inputs": ("输入", "Input"), "summary": ("结果", "Result"),
    "region": ("区域", "Region"), "unit": ("统计单元", "Unit"), "period": ("时段", "Period"),
    "from": ("起", "from"), "to": ("止", "to"), "boundary_set": ("边界版本", "Boundary set"),
    "id": ("编号", "id"), "name": ("名称", "name"), "valid_at": ("有效日期", "valid at"),
    "categories": ("事件类别", "Categories"), "as_of": ("统计日期", "As of"),
    "targets": ("目标", "Targets"), "targets_source": ("目标来源", "Targets from"),
    "units": ("单元数", "Units"), "area_m2": ("面积(平方米)", "Area (m²)"),
    "covered_m2": ("覆盖面积(平方米)", "Covered (m²)"), "covered_pct": ("覆盖率(%)", "Covered (%)"),
    "cameras": ("摄像头", "Cameras"), "incidents": ("事件数", "Incidents"),
    "incidents_uncovered": ("视域外事件数", "Incidents outside sectors"),
    "compounds": ("小区数", "Compounds"), "households": ("户数", "Households"),
    "managed_pct": ("物业覆盖率(按小区, %)", "Managed (compounds, %)"),
    "managed_households_pct": ("物业覆盖率(按户, %)", "Managed (households, %)"),
    "by_mode": ("按管理方式", "By mode"), "owners_committee": ("业主委员会", "Owners' committee"),
    "unmanaged_compounds": ("无物业小区数", "Unmanaged compounds"),
    "no_unmanaged_urban": ("城区无物业小区清零", "No unmanaged urban compound"),
    "binding_target": ("当前适用目标", "Binding target"), "share_pct": ("占比(%)", "Share (%)"),
    "target_pct": ("目标(%)", "Target (%)"), "by": ("期限", "by"), "state": ("状态", "state"),
    "met": ("达标", "met"), "k": ("点位数", "Sites"), "method": ("方法", "Method"),
    "permutations": ("置换次数", "Permutations"), "alpha": ("显著性水平", "Alpha"),
    "hot_units": ("热点单元数", "Hot units"), "cold_units": ("冷点单元数", "Cold units"),
    "gaps": ("缝隙", "Gaps"), "overlaps": ("重叠", "Overlaps"), "cells": ("网格数", "Cells"),
    "vacant_cells": ("无网格员网格", "Vacant cells"),
    "workers_on_duty": ("在岗网格员", "Workers on duty"),
    "metric_crs": ("量算坐标系", "Metric CRS"),
    "incident_statuses_excluded": ("不计入的事件状态", "Incident statuses left out"),
    "sites_recommended": ("推荐点位数", "Sites recommended"),
    "newly_covered_incidents": ("新增覆盖事件数", "Incidents newly covered"),
    "solver": ("求解方法", "Solver"), "top": ("排名数", "Top"),
    "compounds_without_record": ("无管理记录的小区数", "Compounds without a record"),
    "units_meeting": ("达标单元数", "Units meeting it"),
    "managed_means": ("有物业管理的含义", "Managed means"),
    "mode_source": ("管理方式来源", "Mode from"), "statuses": ("状态", "Statuses"),
    "rule": ("规则", "Rule"), "counting_for_coverage": ("计入覆盖", "Counting for coverage"),
    "no_bearing": ("未登记朝向", "No bearing"), "by_status": ("按状态", "By status"),
    "cameras_counted": ("计入的摄像头", "Cameras counted"),
    "cameras_excluded_offline_or_fault": ("未计入 (离线或故障)", "Left out (offline/fault)"),
    "cameras_no_bearing_full_circle": ("未登记朝向 (按 360°)", "No bearing (full circle)"),
    "compounds_without_camera_view": ("无摄像头视域的小区", "Compounds no camera sees"),
    "incident_detail": ("事件明细级别", "Incident detail"),
    "camera_statuses_counted": ("计入的摄像头状态", "Camera statuses counted"),
    "area_method": ("面积算法", "Area method"), "duty_roster_on": ("值班日期", "Duty roster on"),
    "sliver_m": ("忽略的狭条宽度(米)", "Sliver width (m)"),
    "min_area_m2": ("忽略的最小面积(平方米)", "Minimum area (m²)"),
    "overlaps_between": ("重叠检查范围", "Overlaps between"),
    "gaps_area_m2": ("缝隙面积(平方米)", "Gap area (m²)"),
    "county_gaps": ("县内缝隙", "County gaps"),
    "county_gaps_area_m2": ("县内缝隙面积(平方米)", "County gap area (m²)"),
    "overlaps_area_m2": ("重叠面积(平方米)", "Overlap area (m²)"),
    "households_per_worker": ("每名网格员户数", "Households per worker"),
    "incidents_per_worker": ("每名网格员事件数", "Incidents per worker"),
    "n": ("人数", "n"), "mean": ("平均", "mean"), "max": ("最大", "max"),
    "gini": ("基尼系数", "Gini"), "max_over_mean": ("最大/平均", "max / mean"),
    "cv": ("变异系数", "CV"), "h3_resolution": ("H3 分辨率", "H3 resolution"),
    "measure": ("度量", "Measure"), "seed": ("随机种子", "Seed"),
    "multiple_testing": ("多重检验校正", "Multiple testing"),
    "by_category_p_values": ("分类别 p 值", "p-values by category"),
    "incidents_outside_units": ("单元外事件数", "Incidents outside units"),
    "top_hot": ("最热单元", "Hottest units"), "max_per_km2": ("最大每平方公里事件数",
                                                            "Max per km²"),
    "cell_area_cv": ("网格面积变异系数", "Cell area CV"), "within": ("限定范围", "Within"),
    "candidates": ("候选点位", "Candidates"), "spacing_m": ("网格点间距(米)", "Spacing (m)"),
    "bearings": ("朝向数", "Bearings"), "bearings_deg": ("朝向(度)", "Bearings (deg)"),
    "fov_deg": ("视场角(度)", "Field of view (deg)"), "range_m": ("可视距离(米)", "Range (m)"),
    "urgent_weight": ("紧急事件权重", "Urgent weight"),
    "existing_cameras": ("现有摄像头", "Existing cameras"),
    "covered_by_existing_cameras": ("现有摄像头已覆盖事件", "Covered by existing cameras"),
    "uncovered_demand_incidents": ("未覆盖事件数", "Uncovered incidents"),
    "uncovered_demand_weight": ("未覆盖权重", "Uncovered weight"),
    "newly_covered_weight": ("新增覆盖权重", "Weight newly covered"),
    "newly_covered_share_pct": ("新增覆盖占比(%)", "Newly covered (%)"),
    "candidate_sites": ("候选点位数", "Candidate sites"),
    "useful_candidates": ("有效候选数", "Useful candidates"),
    "solver_status": ("求解状态", "Solver status"),
    "weights": ("空间权重", "Spatial weights"),
    "min_incidents": ("热点最少事件数", "Minimum incidents of a hot spot"),
    "hot_below_min_incidents": ("显著但事件数不足的网格 (不计为热点)",
                                "Significant but below the minimum (not hot spots)"),
    "result": ("完成情况", "result"),
}
# The code list of the values under a key (path part) of the inputs and summary.
_LIST_UNDER: dict[str, vocab.Vocab] = {
    "by_mode": vocab.MGMT_MODE, "owners_committee": vocab.OWNERS_COMMITTEE,
    "by_status": vocab.CAMERA_STATUS, "unit": vocab.ANALYSIS_UNIT,
    "state": vocab.TARGET_STATE, "result": vocab.TARGET_RESULT,
}
# Lists of codes ("rejected, cancelled, merged") under a key: each code by its label.
_CODES_UNDER: dict[str, vocab.Vocab] = {
    "incident_statuses_excluded": vocab.INCIDENT_STATUS,
    "camera_statuses_counted": vocab.CAMERA_STATUS, "statuses": vocab.CAMERA_STATUS,
}
_ALL = ("全部", "all")
# The fixed values (words and rules) the analyses state in their inputs and summary, as a
# person reads them on the 说明 sheet: key -> {value: (Chinese, English)}. A value not listed
# is shown as given (tests/geo/analysis/test_sheets_language.py fails on English left over).
VALUE_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "valid_at": {"active": ("当前启用的边界", "active")},
    "categories": {"all": _ALL}, "statuses": {"all": _ALL},
    "targets_source": {"seed default": ("系统默认 (城区清零, 80 %, 90 %)", "seed default"),
                       "pm_target table": ("本区域设置的目标", "pm_target table"),
                       "request": ("本次请求指定", "request")},
    "managed_means": {"mgmt_mode <> 'none'": ("管理方式不是「无物业」",
                                              "mgmt_mode <> 'none'")},
    "mode_source": {
        "compound_mgmt_history valid on as_of; compound.mgmt_mode when a compound has no "
        "history": ("统计日期有效的小区管理方式记录; 无记录的小区取其当前管理方式",
                    "compound_mgmt_history valid on as_of; compound.mgmt_mode when a "
                    "compound has no history")},
    "area_method": {
        "per unit: union of the sectors touching it, intersected with the unit; planar "
        "ST_Area in the metric CRS": ("按单元: 与单元相交的视域取并集, 再与单元求交; 在量算坐标系中"
                                      "按平面面积计算",
                                      "per unit: union of the sectors touching it, intersected "
                                      "with the unit; planar ST_Area in the metric CRS")},
    "incident_detail": {"full": ("逐件 (含编号)", "full"),
                        "anonymous": ("匿名点 (无编号和个人信息)", "anonymous"),
                        "none": ("仅统计数字", "none")},
    "overlaps_between": {"basic cells (dedicated cells overlap by design)": (
        "基础网格之间 (专属网格按设计与基础网格重叠, 不计)",
        "basic cells (dedicated cells overlap by design)")},
    "measure": {"count": ("事件数", "count"), "per_km2": ("每平方公里事件数", "per_km2"),
                "per_1000_hh": ("每千户事件数", "per_1000_hh")},
    "method": {"Getis-Ord Gi* (esda.G_Local, star=True), binary contiguity weights": (
        "热点分析 (Getis-Ord Gi*), 二元邻接权重",
        "Getis-Ord Gi* (esda.G_Local, star=True), binary contiguity weights")},
    "weights": {
        "binary contiguity: cells touching (within 10 cm) plus the cell itself (Gi*); a cell "
        "with no neighbour gets its nearest cell": (
            "二元邻接: 边界相接 (10 厘米内) 的网格加网格自身; 没有相邻网格的取最近的网格",
            "binary contiguity: cells touching (within 10 cm) plus the cell itself (Gi*); a "
            "cell with no neighbour gets its nearest cell"),
        "binary contiguity: the six neighbouring hexagons plus the hexagon itself (Gi*)": (
            "二元邻接: 相邻的六个六边形加自身",
            "binary contiguity: the six neighbouring hexagons plus the hexagon itself (Gi*)")},
    "multiple_testing": {"none": ("不校正", "none"),
                         "false discovery rate (esda.fdr)": ("错误发现率校正",
                                                             "false discovery rate (esda.fdr)")},
    "by_category_p_values": {"normal approximation (no permutations)": (
        "正态近似 (不做置换)", "normal approximation (no permutations)")},
    "candidates": {"both": ("小区出入口和网格点", "both"),
                   "entrances": ("仅小区出入口", "entrances"),
                   "lattice": ("仅网格点", "lattice")},
    "solver": {"auto": ("自动", "auto"), "mclp": ("最大覆盖模型", "mclp"),
               "greedy": ("贪心算法", "greedy")},
    "solver_status": {"Optimal": ("最优解", "Optimal"), "Not Solved": ("未求解", "Not Solved"),
                      "Infeasible": ("无可行解", "Infeasible")},
    "existing_cameras": {"online cameras fixed; incidents they see are not demand": (
        "现有在线摄像头保留; 它们已看到的事件不计入需求",
        "online cameras fixed; incidents they see are not demand")},
    "rule": {"sector = field of view (bearing clockwise from north, fov, range_m, on the "
             "ellipsoid); NULL bearing = full circle (flagged); only online cameras count for "
             "coverage": ("视域 = 按朝向 (正北起顺时针)、视场角和可视距离在椭球面上画出的扇形; "
                          "未登记朝向按整圆计 (并标出); 只有在线摄像头计入覆盖",
                          "sector = field of view (bearing clockwise from north, fov, "
                          "range_m, on the ellipsoid); NULL bearing = full circle (flagged); "
                          "only online cameras count for coverage")},
}


def _path_label(path: list[str], lang: str) -> str:
    out = []
    for i, part in enumerate(path):
        parent = path[i - 1] if i else ""
        if parent in _LIST_UNDER and part in _LIST_UNDER[parent]:
            out.append(_LIST_UNDER[parent].label(part, lang))
        elif part in KEYS:
            zh, en = KEYS[part]
            out.append(en if lang == "en" else zh)
        else:
            out.append(part)
    return " / ".join(out)


def _flat(path: list[str], value: Any, out: list[tuple[list[str], Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat([*path, str(k)], v, out)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for i, item in enumerate(value, 1):
            _flat([*path, str(i)], item, out)
    elif isinstance(value, list):
        out.append((path, ", ".join(str(_clean(v)) for v in value)))
    else:
        out.append((path, _clean(value)))


def _value_label(key: str, value: Any, lang: str) -> Any:
    if isinstance(value, str) and value in VALUE_TEXT.get(key, {}):
        zh, en = VALUE_TEXT[key][value]
        return en if lang == "en" else zh
    if isinstance(value, str) and key in _CODES_UNDER:
        return ("、" if lang == "zh" else ", ").join(
            _CODES_UNDER[key].label(v.strip(), lang) for v in value.split(","))
    if isinstance(value, str) and key in _LIST_UNDER:
        return _LIST_UNDER[key].label(value, lang)
    if isinstance(value, bool):
        return vocab.YES_NO.label(str(value).lower(), lang)
    return value


def _rows(df: pd.DataFrame, names: Names | None, lang: str) -> tuple[list[str],
                                                                    list[dict[str, Any]]]:
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    keys = [k for k in df.columns if k not in DROPPED]
    added: list[str] = []
    for k in list(keys):
        if k in NAMED and names is not None and NAMED[k][0] not in keys:
            added.append(k)
            keys.insert(keys.index(k), NAMED[k][0])  # the name first, its code after it
    rows = []
    for rec in df.astype(object).where(df.notna(), None).to_dict("records"):
        row = {k: rec.get(k) for k in keys}
        for k, v in LABELS.items():
            if row.get(k) is not None and k in row:
                row[k] = v.label(str(row[k]), lang)
        for k in added:
            name_key, table = NAMED[k]
            code = rec.get(k)
            if names is None or code is None:
                continue
            if table == "category":
                row[name_key] = names.category(code)
            elif table == "cell":
                row[name_key] = names.cell(code)
            elif table == "unit_or_cell":
                row[name_key] = names.cells.get(str(code)) or names.unit(code)
            else:
                row[name_key] = names.unit(code)
        rows.append(row)
    return keys, rows


def analysis_workbook(res: Mapping[str, Any], names: Names | None = None, lang: str = "zh",
                      table: str | None = None) -> bytes:
    """The XLSX of an analysis result: one sheet per table (or ``table`` alone), then 说明
    with the analysis, every input and summary figure, and the definition of each column."""
    name = str(res["analysis"])
    title_zh, title_en = ANALYSES.get(name, (name, name))
    tables = res["tables"]
    picked = [table] if table else list(tables)
    sheets = []
    for t in picked:
        zh, en, totals = TABLES.get((name, t), (t, t, ()))
        keys, rows = _rows(tables[t], names, lang)
        cols = [dataclasses.replace(COLUMNS.get(k, Column(k, k, k)), total=k in totals)
                for k in keys]
        sheets.append(Sheet(zh, en, cols, rows, totals=bool(totals) and bool(rows)))
    flat: list[tuple[list[str], Any]] = []
    _flat(["inputs"], _clean(res["inputs"]), flat)
    _flat(["summary"], _clean(res["summary"]), flat)
    inputs = []
    for path, value in flat:
        label_zh = _path_label(path[1:], "zh") or path[0]
        label_en = _path_label(path[1:], "en") or path[0]
        head_zh, head_en = KEYS[path[0]]
        value = _value_label(path[-1], value, lang)
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        inputs.append((f"{head_zh}: {label_zh}", f"{head_en}: {label_en}", value))
    region = names.region if names is not None else str(res["inputs"].get("region", ""))
    about = About(
        f"{region} {title_zh}", f"{title_en} ({res['inputs'].get('region', '')})",
        f"网格化服务管理系统的规划分析「{title_zh}」: 下列输入条件下的结果, 每张表一个工作表。",
        f"Wangge planners' analysis '{title_en}': the result for the inputs below, one sheet "
        "per table.",
        inputs=inputs,
        notes=[("百分比列以 Excel 百分比格式保存 (0.0%)。",
                "Percent columns are stored as Excel percentages (0.0%)."),
               ("个人信息 (如网格员姓名) 按导出人的权限打码或不提供。",
                "Personal data (grid workers' names) masked or withheld by the caller's "
                "role.")])
    return write_workbook(sheets, about, lang)
