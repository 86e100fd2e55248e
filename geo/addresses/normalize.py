"""Free Chinese address text in one canonical form (the matcher's first step).

``normalize`` makes full-width characters half-width (NFKC), drops blanks and punctuation,
writes Chinese numerals before a building/unit/room/number word as digits (三号楼 -> 3号楼,
二单元 -> 2单元, 三〇一室 -> 301室) and writes every building variant one way (3栋, 3幢, 3座,
3#, 3#楼 -> 3号楼; 3-2-301 -> 3号楼2单元301室). ``strip_prefix`` removes this county's own
province / city / county prefix (山西省吕梁市兴县) and says when the text names another
province, city or county instead (an address of 临县 is refused, never forced onto ours).
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
          "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "零〇○一二两三四五六七八九十百"
# Chinese numerals are digits only where a building, unit, room, number or floor word follows
_CN_BEFORE = re.compile(rf"(第)?([{_CN_NUM}]+)(?=(号楼|号|栋|幢|座|单元|室|层|楼|户))")
_NOISE = re.compile(r"(附近|门口|旁边|对面|楼下|院内|一带|路口|北门|南门|东门|西门|大门|"
                    r"侧门|后门|正门|周边|处|内|里)+$")

# Our county and its parents (the demo region 141123; other regions pass their own).
OWN_PREFIXES = ("中国", "山西省", "山西", "吕梁市", "吕梁", "兴县")
_PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏",
              "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西",
              "海南", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆")
_SHANXI_CITIES = ("太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾")
# Lüliang's other counties and the neighbours across the Yellow River and to the north
OTHER_COUNTIES = ("离石区", "孝义市", "汾阳市", "文水县", "交城县", "临县", "柳林县", "石楼县",
                  "岚县", "方山县", "中阳县", "交口县", "保德县", "岢岚县", "静乐县", "五寨县",
                  "神木市", "府谷县", "佳县", "吴堡县", "米脂县", "绥德县", "娄烦县", "古交市")
_FOREIGN_PROVINCE = re.compile(
    "^(" + "|".join(_PROVINCES) + ")(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区)")
_FOREIGN_CITY = re.compile("^(" + "|".join(_SHANXI_CITIES) + ")市")
_FOREIGN_COUNTY = re.compile("^(" + "|".join(OTHER_COUNTIES) + ")")
_GENERIC_COUNTY = re.compile(
    r"^([\u4e00-\u9fa5]{1,2}县)(?=[\u4e00-\u9fa5]{2,}(镇|乡|街道|村|社区|路|街))")


def cn_number(text: str) -> int:
    """The value of a Chinese numeral (三 -> 3, 十二 -> 12, 二十 -> 20, 三〇一 -> 301)."""
    if "十" in text or "百" in text:
        total, cur = 0, 0
        for ch in text:
            if ch == "百":
                total += (cur or 1) * 100
                cur = 0
            elif ch == "十":
                total += (cur or 1) * 10
                cur = 0
            else:
                cur = _DIGIT.get(ch, 0)
        return total + cur
    return int("".join(str(_DIGIT.get(ch, 0)) for ch in text))


def normalize(text: str) -> str:
    """The canonical form of an address text (see the module docstring)."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = s.replace("＃", "#").replace("—", "-").replace("－", "-").replace("~", "-")
    s = re.sub(r"[\s,，。.、;；:：()（）\[\]【】\"'“”‘’/\\]+", "", s)
    s = _CN_BEFORE.sub(lambda m: str(cn_number(m.group(2))), s)
    s = re.sub(r"(\d+)-(\d+)-(\d+)(室|号)?", r"\1号楼\2单元\3室", s)
    s = re.sub(r"(\d+)#楼?", r"\1号楼", s)
    s = re.sub(r"(\d+)(?:号)?(?:栋|幢|座|号楼)(?:楼)?", r"\1号楼", s)
    s = re.sub(r"(\d+)号楼(\d+)-(\d+)(室|号)?", r"\1号楼\2单元\3室", s)
    s = re.sub(r"单元(\d+)(?:号|户|号房)?(?=$|[^\d号楼])", r"单元\1室", s)
    s = re.sub(r"(\d+)(?:户|号房)", r"\1室", s)
    s = re.sub(r"室+", "室", s)
    s = _NOISE.sub("", s)
    return s


def strip_prefix(s: str) -> tuple[str, str | None]:
    """``(text without our own prefixes, None)``, or ``(text, foreign)`` when the text names
    another province, Shanxi city or county (``foreign`` is the name found)."""
    changed = True
    while changed:
        changed = False
        for p in OWN_PREFIXES:
            if s.startswith(p) and len(s) > len(p):
                s = s[len(p):]
                changed = True
    for rx in (_FOREIGN_PROVINCE, _FOREIGN_CITY, _FOREIGN_COUNTY, _GENERIC_COUNTY):
        m = rx.match(s)
        if m:
            return s, m.group(0)
    return s, None
