"""Every code list of Wangge with its Chinese and English display labels, as data.

The tables' CHECK constraints, the API's validation, the maps and the exports all read the
codes and labels from here; nothing else spells a code list or a status label.

Incident status labels follow the 网格化 case flow of the GB/T 30428 family
(信息采集/上报 -> 立案 -> 派遣 -> 处置 -> 核查 -> 结案, with 返工): a report that is not
registered is 不予立案 (the standard term; 不予受理 was an older copy), and a case handled but
not yet verified is 已处置待核查 (says what it waits for; 已处置 was an older copy).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class Vocab(Mapping[str, tuple[str, str]]):
    """An ordered code list: code -> (Chinese label, English label).

    Parameters
    ----------
    labels : dict of str to (str, str)
        The codes in display order, each with its Chinese and English label.
    """

    def __init__(self, labels: dict[str, tuple[str, str]]) -> None:
        self._labels = dict(labels)
        self.codes: tuple[str, ...] = tuple(self._labels)

    def __getitem__(self, code: str) -> tuple[str, str]:
        return self._labels[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def label(self, code: str, lang: str = "zh") -> str:
        """Display label of ``code`` in ``lang`` ("zh" or "en"); unknown codes as given.

        Parameters
        ----------
        code : str
            A code of this list.
        lang : str
            "zh" for the Chinese label, anything else for the English one.

        Returns
        -------
        str
            The label, or ``code`` itself when it is not in the list.
        """
        pair = self._labels.get(code)
        if pair is None:
            return code
        return pair[0] if lang == "zh" else pair[1]

    def labels(self, lang: str = "zh") -> dict[str, str]:
        """All labels in ``lang`` as a ``{code: label}`` dict, in display order.

        Parameters
        ----------
        lang : str
            "zh" or "en".

        Returns
        -------
        dict of str to str
            code -> label.
        """
        return {code: self.label(code, lang) for code in self.codes}


ADMIN_LEVEL = Vocab({
    "county": ("县", "county"), "township": ("乡镇", "township"),
    "village": ("行政村", "village"), "community": ("社区", "community"),
})
CELL_KIND = Vocab({"basic": ("基础网格", "basic"), "dedicated": ("专属网格", "dedicated")})
# The terms of the property-management regulations (物业服务企业, 社会组织代管, 业委会/物管会自管).
MGMT_MODE = Vocab({
    "company": ("物业服务企业", "property company"), "community": ("社区托管", "community"),
    "social_org": ("社会组织代管", "social organisation"),
    "owners": ("业委会/物管会自管", "owners' self-management"),
    "none": ("无物业", "none"),
})
OWNERS_COMMITTEE = Vocab({
    "established": ("已成立", "established"), "preparing": ("筹备中", "preparing"),
    "none": ("未成立", "none"),
})
CAMERA_STATUS = Vocab({
    "online": ("在线", "online"), "offline": ("离线", "offline"), "fault": ("故障", "fault"),
})
CHANNEL = Vocab({
    "12345": ("12345热线", "12345 hotline"), "110": ("110", "110"),
    "patrol": ("网格员巡查", "patrol"), "photo": ("随手拍", "photo"),
    "camera": ("视频告警", "camera"), "petition": ("信访", "petition"),
})
# Channels received at the command centre's desks (hotline, 110, petitions): only the command
# centre's intake labels a case with them; grid workers and departments report as ``patrol``
# (their own inspection) or ``photo`` / ``camera`` (what they were shown).
DESK_CHANNELS = ("12345", "110", "petition")
INCIDENT_STATUS = Vocab({
    "reported": ("已上报", "reported"),
    "registered": ("已立案", "registered"),
    "dispatched": ("已派遣", "dispatched"),
    "in_progress": ("处置中", "in progress"),
    "handled": ("已处置待核查", "handled"),
    "verified": ("已核查", "verified"),
    "closed": ("已结案", "closed"),
    "rework": ("返工", "rework"),
    "rejected": ("不予立案", "rejected"),
    "cancelled": ("已撤销", "cancelled"),
    "merged": ("已合并", "merged"),
    "needs_location": ("待定位", "needs location"),
})
URGENCY = Vocab({"normal": ("一般", "normal"), "urgent": ("紧急", "urgent")})
# 回访: the caller's satisfaction recorded by the command centre after closing (issue 18).
SATISFACTION = Vocab({
    "satisfied": ("满意", "satisfied"), "basically_satisfied": ("基本满意", "basically satisfied"),
    "dissatisfied": ("不满意", "dissatisfied"),
})
# Notifications (geo.notify): the state of an outbox message.
OUTBOX_STATE = Vocab({
    "pending": ("待发送", "pending"), "delivered": ("已送达", "delivered"),
    "dead": ("发送失败", "dead"), "skipped": ("未配置渠道", "skipped (channel not configured)"),
})
# Notifications (geo.notify.rules): what a message is about. The alerts (超期, 返工, 升级) also
# reach the command centre's live stream (GET /events, ``event: alert``).
NOTIFY_RULE = Vocab({
    "dispatch": ("派遣通知", "dispatch"), "overdue": ("超期告警", "overdue"),
    "rework": ("返工告警", "rework"), "escalation": ("超期升级", "escalation"),
    "hotline": ("12345回写", "12345 write-back"),
})
ROLE = Vocab({
    "admin": ("系统管理员", "administrator"), "command": ("指挥中心", "command centre"),
    "department": ("部门处置人员", "department handler"), "worker": ("网格员", "grid worker"),
    "planner": ("规划分析人员", "planner"), "viewer": ("访客", "viewer"),
})
# What a grid worker or department may ask the command centre for on a case
# (geo.incidents.requests): more time, to give the case back (退单), to suspend it.
CASE_REQUEST = Vocab({
    "extension": ("申请延期", "extension"), "return": ("退回指挥中心", "return"),
    "suspend": ("申请挂起", "suspend"),
})
# What a caller may do next on a case (geo.incidents.actions: a case's allowed_actions).
CASE_ACTION = Vocab({
    "registered": ("立案", "register"), "dispatched": ("派遣", "dispatch"),
    "in_progress": ("签收处置", "accept and start"), "handled": ("办结", "mark handled"),
    "verified": ("核查通过", "verify"), "closed": ("结案", "close"),
    "rework": ("返工", "send back for rework"), "rejected": ("不予立案", "reject"),
    "cancelled": ("撤销", "cancel"), "reported": ("转为已上报", "mark reported"),
    "note": ("添加备注", "add a note"), "photo": ("上传照片", "add a photo"),
    "locate": ("定位", "locate"), "reassign": ("改派", "reassign"), "merge": ("合并", "merge"),
    "pause": ("挂起", "pause the clock"), "resume": ("恢复计时", "resume the clock"),
    "extend": ("延期", "extend"), "decide": ("审批申请", "decide a request"),
    "request_extension": ("申请延期", "ask for an extension"),
    "request_return": ("退回指挥中心", "return to the command centre"),
    "request_suspend": ("申请挂起", "ask to suspend"),
})
CASE_REQUEST_STATE = Vocab({
    "pending": ("待审批", "pending"), "approved": ("已同意", "approved"),
    "refused": ("已驳回", "refused"),
})
# The steps of the case flow, each with its own time limit (geo.incidents.flow).
CASE_STEP = Vocab({
    "register": ("立案", "register"), "dispatch": ("派遣", "dispatch"),
    "handle": ("处置", "handle"), "verify": ("核查", "verify"), "close": ("结案", "close"),
})
# The units the planners' analyses aggregate by (geo.analysis.common).
ANALYSIS_UNIT = Vocab({
    "cell": ("网格", "cell"), "community": ("村/社区", "village/community"),
    "township": ("乡镇", "township"), "county": ("县", "county"), "compound": ("小区", "compound"),
})
# Gi* classes of the hot-spot analysis (geo.analysis.spots).
SPOT_CLASS = Vocab({"hot": ("热点", "hot spot"), "cold": ("冷点", "cold spot"),
                    "none": ("不显著", "not significant")})
# Where a recommended camera site comes from (geo.analysis.sites).
SITE_SOURCE = Vocab({"entrance": ("小区出入口", "compound entrance"),
                     "lattice": ("网格点", "lattice point")})
# A target's date relative to the analysis date (geo.analysis.property).
TARGET_STATE = Vocab({"due": ("已到期", "due"), "upcoming": ("未到期", "upcoming")})
# Where a dated target stands (geo.analysis.property.target_result): met or not once its date
# has come, "not yet due" before.
TARGET_RESULT = Vocab({"met": ("已达标", "met"), "not_met": ("未达标", "not met"),
                       "upcoming": ("未到期", "not yet due"),
                       "no_data": ("无数据", "no data")})
# Where a grid gap lies (geo.analysis.grid): inside one parent unit or in the county.
GAP_SCOPE = Vocab({"parent": ("上级单元内", "within a parent unit"),
                   "county": ("全县范围", "county-wide")})
# Statutory holidays, keyed by the name stored in the holiday table (the chinese-calendar
# package's English names, migration 0004).
HOLIDAY = Vocab({
    "New Year's Day": ("元旦", "New Year's Day"), "Spring Festival": ("春节", "Spring Festival"),
    "Tomb-sweeping Day": ("清明节", "Tomb-sweeping Day"), "Labour Day": ("劳动节", "Labour Day"),
    "Dragon Boat Festival": ("端午节", "Dragon Boat Festival"),
    "Mid-autumn Festival": ("中秋节", "Mid-autumn Festival"),
    "National Day": ("国庆节", "National Day"),
    "Anti-Fascist 70th Day": ("抗战胜利70周年纪念日", "Anti-Fascist 70th Day"),
})
# Where a region's content comes from: the demo's is generated (marked ``synthetic`` in every
# table); the label every page and document shows for it (landing page, monthly report).
DATA_ORIGIN = Vocab({"synthetic": ("合成数据", "synthetic"), "real": ("真实数据", "real")})
# Yes / no in tables and spreadsheets.
YES_NO = Vocab({"true": ("是", "yes"), "false": ("否", "no")})
# Patrols (巡查, geo.patrols): why a track point is kept but not counted, and the kinds of key
# points a worker checks in at (关键点位签到).
PATROL_FLAG = Vocab({
    "speed": ("速度超过150公里/小时", "speed over 150 km/h"),
    "jump": ("跳点超过5公里", "jump over 5 km"),
})
KEY_POINT_KIND = Vocab({
    "compound_gate": ("小区出入口", "compound gate"), "camera": ("摄像头", "camera"),
    "place": ("重点场所", "place"),
})
# Address matching (地址匹配, geo.addresses): the level a free address text was matched at,
# finest first ("none": refused, e.g. an address of another county), and the levels of the
# standard-address register (标准地址).
ADDRESS_LEVEL = Vocab({
    "room": ("户室", "room"), "building": ("楼栋", "building"), "compound": ("小区", "compound"),
    "road": ("道路门牌", "road and number"), "village": ("村/社区", "village or community"),
    "township": ("乡镇", "township"), "none": ("未匹配", "not matched"),
})
