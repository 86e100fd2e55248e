"""The zh/en texts of the maps, as data: labels, legends, tooltips and status names.

:attr:`maps.frame.MapOptions.t` picks the table of the requested language; colours named in a
text (legends) are those of :mod:`maps.styles`.
"""

from __future__ import annotations

from geo.db.tables.vocab import INCIDENT_STATUS

LANGS = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "townships": "乡镇界", "villages": "村/社区界", "cells": "网格", "dedicated": "专属网格",
        "incidents_open": "未办结事件", "incidents_counts": "事件数(按网格汇总)",
        "heat": "事件热力图", "cameras": "摄像头及视域", "compounds": "小区(物业管理方式)",
        "code": "编码", "name": "名称", "worker": "网格员", "phone": "电话", "village": "村/社区",
        "township": "乡镇", "households": "户数", "status": "状态", "urgency": "紧急程度",
        "reported": "上报时间", "description": "事件描述", "location": "位置", "cell": "网格",
        "department": "责任部门", "channel": "来源渠道", "overdue": "超期", "open": "未办结",
        "closed": "已办结", "total": "合计", "period": "时段", "from": "从", "to": "到",
        "apply": "查询", "go": "定位", "placeholder": "网格编码或小区名称",
        "notfound": "未找到", "online": "在线", "offline": "离线", "fault": "故障",
        "nobearing": "朝向未知(按圆形计)", "legend": "图例", "dispatch_title": "指挥调度图",
        "cell_title": "网格员地图", "here": "我的位置", "cam_cov_title": "摄像头覆盖率",
        "prop_title": "物业管理覆盖率", "no_data": "无数据/无小区", "gap": "网格空隙",
        "overlap": "网格重叠", "outside": "不在任何摄像头视域内的事件",
        "shown_of": "显示 {shown} / 共 {total}", "neighbours": "相邻网格",
        "mode_company": "物业服务企业", "mode_community": "社区托管",
        "mode_social_org": "社会组织代管",
        "mode_owners": "业主自管", "mode_none": "无物业管理", "unit_cell": "网格",
        "unit_community": "村/社区", "unit_township": "乡镇", "share": "覆盖率",
        "compounds_n": "小区数", "managed": "有物业管理", "cameras_n": "在线摄像头",
        "overdue_rule": "超期: 未办结且超过截止时间(无截止时间时: 上报超过 {days} 天)",
        "link_cell": "所在网格", "link_item": "事件详情(API)", "basemap": "底图",
        "open_not_overdue": "未办结(未超期)", "target": "目标",
        "urgent": "紧急", "normal": "一般", "live": "视野内全部事件(放大到 {z} 级加载)",
        "from_zoom": " (放大到 {z} 级显示)",
        "counts_note": "事件数(按网格汇总): 圆面积与事件数成正比; "
                       "红=有超期, 橙=有未办结, 绿=均已办结",
        "hotspots": "事件热点 (Gi*)", "hot": "热点", "cold": "冷点",
        "confidence": "置信度", "gi_z": "Gi* z 值", "gi_p": "p 值", "per_km2": "每平方公里事件",
        "incidents_n": "事件数",
        "hot_note": "热点: Getis-Ord Gi* 局部统计量, 指标为每平方公里事件数; 空间权重: 二值邻接, "
                    "即边界相接的网格加网格自身; 网格内至少 {min} 起事件才可为热点; {perm} 次置换, "
                    "时段 {period}. 热点以轮廓线画在覆盖率分级之上 (实线 99 %, 虚线 95 %, "
                    "点线 90 %), 不遮盖覆盖率颜色",
        "hot_dropped": "另有 {n} 个网格 Gi* 显著但事件少于 {min} 起, 不计为热点",
        "cov_zero": "0 % (无摄像头视域)",
        "compounds_cov": "小区 (有无摄像头视域)", "blind_compounds": "无摄像头视域的小区 ({n})",
        "seen_compounds": "有摄像头视域的小区 ({n})",
        "download": "下载", "dl_png": "本图 PNG", "dl_xlsx": "分析表 Excel",
        "cov_classes": "覆盖率分级 (固定分级, 各图相同): 0 % 为无摄像头视域 (白色); 低于 5 % "
                       "近乎无覆盖 (极浅); 5-25 %, 25-50 %, 50-75 %, 75 % 以上颜色由浅到深",
        "prop_classes": "覆盖率分级按目标: 低于 50 %, 50-80 %, 80-90 %, 达到 90 %",
        "township_names": "乡镇名称", "data_as_of": "数据截至",
        "points_note": "规划角色看到的事件为匿名点: 仅位置、类别和状态 (超期/未办结/已办结), "
                       "无编号、描述、地址和上报人",
        "sites_layout": "建议点位编号相互重叠时向外错开, 以细线连到实际位置 (每次缩放重新排布)",
        "targets_line": "目标: {targets}",
        "target_item": "{by} 前 {pct} % ({state})",
        "clear_out": "城区无物业管理小区清零 ({from_} 起, 城区 100 %): {state}, 尚余 {n} 个",
        "unmanaged_n": "无物业管理小区 ({n}, 棕色粗边)",
        "sites": "建议新增摄像头点位 (前 {k} 个)", "site": "建议点位", "rank": "排序",
        "bearing": "朝向", "fov": "视角", "range": "视距", "source": "候选来源",
        "src_entrance": "小区出入口", "src_lattice": "网格点阵", "compound": "小区",
        "gain_inc": "新增覆盖事件", "gain_weight": "新增覆盖权重(紧急计2)",
        "cum_inc": "累计新增覆盖事件", "standalone": "单独可见事件",
        "gain_area": "新增覆盖面积", "sector_area": "视域面积", "site_sector": "建议点位视域",
        "sites_note": "建议点位: {solver} 求解, k={k}, 候选 {cands} 个; 共新增覆盖 {n} 起事件 "
                      "({share} % 的未覆盖需求), 新增覆盖面积 {area} 平方公里",
        "sites_fallback": "时段较长, 候选点阵过大: 仅在小区出入口中选点",
        "live_tiles": "事件矢量瓦片 (放大到 {z} 级, 时段内全部)",
        "tiles_note": "放大到 {z} 级后, 时段内全部事件以矢量瓦片 (/tiles/incidents) 加载",
        "incidents_layer": "事件 (缩小时为上限内标记, 放大到 {z} 级为全部事件瓦片)",
        "camera_points": "摄像头", "reporter": "上报人",
        "sectors": "摄像头视域 (放大到 {z} 级显示)",
        "urgent_ring": "紧急 (粗边, 画在上层)",
        "open_case": "办理", "panel": "事件办理", "close_panel": "关闭 (Esc)",
        "summary": "概要", "photos": "照片", "history": "办理记录", "routing": "分派建议",
        "actions": "可办理操作", "no_actions": "您当前无可办理的操作",
        "duplicates": "疑似重复 (您的范围内)",
        "cameras_seeing": "可见该点的摄像头", "no_cameras": "无在线摄像头覆盖该点",
        "place": "地点", "suggested": "地址匹配建议",
        "to_locate": "待定位 ({n})", "to_locate_note": "地址未能可靠定位的事件, 点击打开并核实位置",
        "no_photos": "无照片", "due": "当前步骤截止", "final_due": "整体办结时限",
        "note": "备注", "minutes": "延期分钟 (工作时间)", "submit": "提交", "urge": "督办",
        "callback": "登记回访",
        "satisfaction": "满意度",
        "urge_prefix": "【督办】", "cell_code": "网格编码", "reason": "依据",
        "choose_department": "(部门不变)", "approve": "同意", "refuse": "驳回",
        "lon": "经度", "lat": "纬度", "done": "已完成", "paused": "已挂起", "version": "版本",
        "actor": "操作人", "at": "时间", "event": "事项",
        "merge_pick": "选择要并入本事件的重复事件",
        "wall_title": "指挥中心大屏", "today_intake": "今日受理", "open_n": "未办结",
        "overdue_n": "超期", "urgent_n": "紧急未办结", "closing_rate": "本月结案率",
        "newest": "最新事件", "most_overdue": "超期最久", "ack": "确认 (已知悉)",
        "alarm": "新紧急事件", "live_on": "实时连接", "live_off": "连接中断, 正在重连",
        "live_logout": "登录已失效, 实时更新已停止, 请重新登录",
        "by_township": "各乡镇", "api_link": "事件详情(API)",
    },
    "en": {
        "townships": "Townships", "villages": "Villages / communities", "cells": "Grid cells",
        "dedicated": "Dedicated cells", "incidents_open": "Open incidents",
        "incidents_counts": "Incidents per cell", "heat": "Incident heat map",
        "cameras": "Cameras and view sectors", "compounds": "Compounds (property management)",
        "code": "Code", "name": "Name", "worker": "Grid worker", "phone": "Phone",
        "village": "Village/community", "township": "Township", "households": "Households",
        "status": "Status", "urgency": "Urgency", "reported": "Reported",
        "description": "Description", "location": "Location", "cell": "Cell",
        "department": "Department", "channel": "Channel", "overdue": "Overdue", "open": "Open",
        "closed": "Closed", "total": "Total", "period": "Period", "from": "From", "to": "To",
        "apply": "Apply", "go": "Go", "placeholder": "Cell code or compound name",
        "notfound": "Not found", "online": "online", "offline": "offline", "fault": "fault",
        "nobearing": "bearing unknown (circle)", "legend": "Legend",
        "dispatch_title": "Dispatch map", "cell_title": "Grid worker's map", "here": "I am here",
        "cam_cov_title": "Camera coverage", "prop_title": "Property-management coverage",
        "no_data": "No data / no compounds", "gap": "Grid gap", "overlap": "Grid overlap",
        "outside": "Incidents outside every camera view", "shown_of": "showing {shown} of {total}",
        "neighbours": "Neighbouring cells", "mode_company": "Management company",
        "mode_community": "Entrusted to community", "mode_social_org": "Social organisation",
        "mode_owners": "Self-managed by owners", "mode_none": "No property management",
        "unit_cell": "cell", "unit_community": "village/community", "unit_township": "township",
        "share": "Coverage", "compounds_n": "Compounds", "managed": "Managed",
        "cameras_n": "Online cameras",
        "overdue_rule": "Overdue: open past its due time (no due time: reported > {days} days ago)",
        "link_cell": "Cell at this point", "link_item": "Incident (API)", "basemap": "Basemap",
        "open_not_overdue": "Open (not overdue)", "target": "target",
        "urgent": "urgent", "normal": "normal", "live": "All incidents in view (zoom >= {z})",
        "from_zoom": " (from zoom {z})",
        "counts_note": "Incidents per cell: circle area ~ count; red = some overdue, orange = "
                       "some open, green = all closed",
        "hotspots": "Incident hot spots (Gi*)", "hot": "Hot spot", "cold": "Cold spot",
        "confidence": "confidence", "gi_z": "Gi* z-score", "gi_p": "p-value",
        "per_km2": "Incidents per km²", "incidents_n": "Incidents",
        "hot_note": "Hot spots: local Getis-Ord Gi* of incidents per km²; spatial weights: "
                    "binary contiguity, the cells touching a cell plus the cell itself; a hot "
                    "spot needs at least {min} incidents in the cell; {perm} permutations, "
                    "period {period}. Drawn as outlines over the coverage classes (solid 99 %, "
                    "dashed 95 %, dotted 90 %), never hiding them",
        "hot_dropped": "{n} more cells have a significant Gi* but fewer than {min} incidents: "
                       "not hot spots",
        "cov_zero": "0 % (no camera view)",
        "compounds_cov": "Compounds (camera view or not)",
        "blind_compounds": "Compounds no camera sees ({n})",
        "seen_compounds": "Compounds a camera sees ({n})",
        "download": "Download", "dl_png": "this map (PNG)", "dl_xlsx": "the analysis (Excel)",
        "cov_classes": "Fixed classes, the same on every map: 0 % = no camera view (white); "
                       "under 5 % = next to nothing (barely tinted); 5-25 %, 25-50 %, 50-75 %, "
                       "75 % and more, light to dark",
        "prop_classes": "Classes by target: below 50 %, 50-80 %, 80-90 %, 90 % and above",
        "township_names": "Township names", "data_as_of": "data as of",
        "points_note": "Planners see incidents as anonymous points: position, category and "
                       "status class (overdue / open / closed) only; no code, description, "
                       "address or reporter",
        "sites_layout": "Site numbers that would overlap are moved apart and tied to the true "
                        "position by a thin line (laid out again at every zoom)",
        "targets_line": "Targets: {targets}",
        "target_item": "{pct} % by {by} ({state})",
        "clear_out": "No unmanaged compound in the urban area (100 % from {from_}): {state}, "
                     "{n} left",
        "unmanaged_n": "Unmanaged compounds ({n}, thick brown outline)",
        "sites": "Recommended camera sites (top {k})", "site": "Recommended site",
        "rank": "Rank", "bearing": "Bearing", "fov": "Field of view", "range": "Range",
        "source": "Candidate", "src_entrance": "compound entrance", "src_lattice": "lattice",
        "compound": "Compound", "gain_inc": "Incidents newly covered",
        "gain_weight": "Weight newly covered (urgent = 2)", "cum_inc": "Cumulative incidents",
        "standalone": "Incidents seen alone", "gain_area": "Area newly covered",
        "sector_area": "Sector area", "site_sector": "Recommended sector",
        "sites_note": "Sites: {solver} solver, k={k}, {cands} candidates; {n} incidents newly "
                      "covered ({share} % of the uncovered demand), {area} km² newly covered",
        "sites_fallback": "Long period, candidate lattice too large: compound entrances only",
        "live_tiles": "Incident vector tiles (zoom >= {z}, whole period)",
        "tiles_note": "From zoom {z} every incident of the period loads as vector tiles "
                      "(/tiles/incidents)",
        "incidents_layer": "Incidents (capped markers; from zoom {z} all, as tiles)",
        "camera_points": "Cameras", "reporter": "Reporter",
        "sectors": "Camera view sectors (from zoom {z})",
        "urgent_ring": "Urgent (thick outline, drawn on top)",
        "open_case": "Open case", "panel": "Case", "close_panel": "Close (Esc)",
        "summary": "Summary", "photos": "Photos", "history": "History", "routing": "Routing",
        "actions": "Actions", "no_actions": "No action you may take now",
        "duplicates": "Possible duplicates (your scope)", "cameras_seeing": "Cameras seeing it",
        "no_cameras": "No online camera sees this point",
        "place": "Place", "suggested": "Address match suggests",
        "to_locate": "To locate ({n})",
        "to_locate_note": "Cases whose address could not be placed with confidence: open "
                          "one to set its place",
        "no_photos": "No photos",
        "due": "Step due", "final_due": "Case due", "note": "Note",
        "minutes": "Minutes (working time)", "submit": "Submit", "urge": "Urge",
        "callback": "Record callback",
        "satisfaction": "Satisfaction",
        "urge_prefix": "【督办】", "cell_code": "Cell code", "reason": "why",
        "choose_department": "(department unchanged)", "approve": "Approve", "refuse": "Refuse",
        "lon": "Longitude", "lat": "Latitude", "done": "Done", "paused": "paused",
        "version": "version", "actor": "By", "at": "At", "event": "Event",
        "merge_pick": "Pick the duplicates to merge into this case",
        "wall_title": "Command centre wall", "today_intake": "Today's intake", "open_n": "Open",
        "overdue_n": "Overdue", "urgent_n": "Urgent open", "closing_rate": "Closing rate (month)",
        "newest": "Newest", "most_overdue": "Most overdue", "ack": "Acknowledge",
        "alarm": "New urgent case", "live_on": "Live", "live_off": "Disconnected, reconnecting",
        "live_logout": "Your login ended: live updates stopped, log in again",
        "by_township": "By township", "api_link": "Incident (API)",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    lang: INCIDENT_STATUS.labels(lang) for lang in ("zh", "en")
}
