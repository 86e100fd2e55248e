"""Offline address matching (地址匹配): free Chinese address text -> point, level, confidence.

One in-memory :class:`AddressIndex` per region is built from the register (townships,
villages and communities of ``admin_unit``, ``compound`` with its entrance, ``building`` and
``std_address``) and kept per process while the register is unchanged (:func:`index_for`);
an import builds it once for all its rows. :func:`match` then:

1. normalises the text (:mod:`geo.addresses.normalize`: full-width digits, Chinese numerals,
   号楼/栋/幢/# variants) and strips our own 山西省/吕梁市/兴县 prefix; an address naming
   another province, city or county is refused (level ``none``), never forced onto ours;
2. takes the structured parts out (N号楼, N单元, N室, road + N号);
3. segments the rest with jieba, whose dictionary is the register's own names (no general
   dictionary: nothing outside the register is a name), and takes exact names; the spans left
   over are matched to the names by rapidfuzz (small typos: 兴化家园 -> 兴华家园);
4. answers the finest level the parts reach: room, building, compound, road (a number on it,
   or the road), village/community, township, with the register's point and a confidence
   0-1 (the level's base times the name score, lowered for a stated community or township the
   match contradicts, for ambiguous names and for parts not found).

Never an online service. About 0.1-0.3 ms a text once the index is built.
"""

from __future__ import annotations

import io
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import jieba
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, text

from geo.addresses.normalize import normalize, strip_prefix

# Below REVIEW a match goes to the command centre's review list instead of placing the case.
REVIEW = 0.6
# The level's confidence when every part is found exactly.
BASE = {"room": 0.98, "building": 0.95, "compound": 0.85, "road": 0.9, "village": 0.65,
        "township": 0.4}
ROAD_ONLY = 0.5  # a road named without a number (its middle)
FUZZY_CUTOFF = 72.0

_ROAD = re.compile(r"([\u4e00-\u9fa5]{1,8}?(?:大道|大街|路|街|巷))(\d+)号(?!楼)")
_BUILDING = re.compile(r"(\d+)号楼")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d+)室")
_CJK = re.compile(r"[\u4e00-\u9fa5]")


@dataclass
class Place:
    """A named place of the register: its kind, code, name, point and parents."""

    kind: str  # township | village | community | road | compound
    code: str
    name: str
    lon: float
    lat: float
    township: str | None = None  # township code
    community: str | None = None  # village/community code (compounds)
    compound_id: int | None = None


@dataclass
class Target:
    """A point of the register below a compound or on a road (building, unit, room, number)."""

    lon: float
    lat: float
    address_id: int | None
    text: str
    building_code: str | None = None


@dataclass
class Match:
    """The matcher's answer for one text."""

    level: str  # room|building|compound|road|village|township|none
    confidence: float
    lon: float | None = None
    lat: float | None = None
    address_id: int | None = None
    matched: str | None = None  # the register's text of what was matched
    reason: str = ""
    compound_id: int | None = None
    compound_code: str | None = None
    unit_code: str | None = None  # village/community or township code
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def placed(self) -> bool:
        """True when the match is good enough to place a case without review."""
        return self.level != "none" and self.lon is not None and self.confidence >= REVIEW

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the case's ``routing.place.match``)."""
        return {"level": self.level, "confidence": round(self.confidence, 3),
                "address_id": self.address_id, "matched": self.matched,
                "lon": self.lon, "lat": self.lat, "reason": self.reason,
                "compound_code": self.compound_code, "unit_code": self.unit_code}


class AddressIndex:
    """The register of one region in memory: names, their points, a jieba dictionary."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.by_name: dict[str, list[Place]] = defaultdict(list)
        self.names: dict[str, list[str]] = defaultdict(list)  # kind group -> names
        self.compounds: dict[str, Place] = {}  # code -> place
        self.units: dict[str, Place] = {}  # admin code -> place (townships, villages, comm.)
        # (compound code, building, unit, room) -> target; '' for a part not given
        self.below: dict[tuple[str, str, str, str], Target] = {}
        self.numbers: dict[tuple[str, str], tuple[Target, str | None]] = {}  # road, number
        self.tok: jieba.Tokenizer | None = None

    # -- building --------------------------------------------------------------------------
    def add(self, p: Place) -> None:
        """Register a named place."""
        self.by_name[p.name].append(p)
        group = {"village": "unit", "community": "unit"}.get(p.kind, p.kind)
        if p.name not in self.names[group]:
            self.names[group].append(p.name)
        if p.kind == "compound":
            self.compounds[p.code] = p
        elif p.kind in ("township", "village", "community"):
            self.units[p.code] = p

    def finish(self) -> None:
        """Build the jieba dictionary from the register's own names."""
        words = {n for ns in self.names.values() for n in ns}
        words |= {"号楼", "单元", "室", "号"}
        data = "\n".join(f"{w.replace(' ', '')} {100000 + 1000 * len(w)}"
                         for w in sorted(words) if w.strip()).encode()
        tok = jieba.Tokenizer()
        tok.FREQ, tok.total = tok.gen_pfdict(io.BytesIO(data))
        tok.initialized = True
        self.tok = tok

    # -- matching --------------------------------------------------------------------------
    def _exact(self, name: str, group: str) -> Place | None:
        for p in self.by_name.get(name, []):
            if {"village": "unit", "community": "unit"}.get(p.kind, p.kind) == group:
                return p
        return None

    def _fuzzy(self, span: str, groups: tuple[str, ...]) -> tuple[str, str, float, bool] | None:
        """Best (group, name, score, ambiguous) for a leftover span."""
        best: tuple[str, str, float, bool] | None = None
        for g in groups:
            choices = self.names.get(g) or []
            if not choices:
                continue
            found = process.extract(span, choices, scorer=_score, limit=2,
                                    score_cutoff=FUZZY_CUTOFF)
            if not found:
                continue
            name, score = str(found[0][0]), float(found[0][1])
            ambiguous = len(found) > 1 and float(found[1][1]) >= score - 2.0
            if best is None or score > best[2]:
                best = (g, name, score, ambiguous)
        return best

    def match(self, raw: str, hint: Any = None) -> Match:
        """Match one address text (see the module docstring)."""
        s = normalize(raw)
        if not s or not _CJK.search(s):
            return Match("none", 0.0, reason="没有可匹配的地址文字 / no address text to match")
        s, foreign = strip_prefix(s)
        if foreign:
            return Match("none", 0.0, reason=f"地址属于其他地区「{foreign}」, 不在本县 / the "
                                             f"address names {foreign}, outside this county")
        parts: dict[str, Any] = {}
        for key, rx in (("room", _ROOM), ("unit", _UNIT), ("building", _BUILDING)):
            m = rx.search(s)
            if m:
                parts[key] = m.group(1).lstrip("0") or "0"
                s = s[:m.start()] + "|" + s[m.end():]
        m = _ROAD.search(s)
        road_text = None
        if m:
            road_text, parts["number"] = m.group(1), m.group(2).lstrip("0") or "0"
            s = s[:m.start()] + "|" + s[m.end():]
        found: dict[str, tuple[Place, float]] = {}
        scores: list[float] = []
        ambiguous = False
        if road_text is not None:
            p = self._exact(road_text, "road")
            if p is None:
                fz = self._fuzzy(road_text, ("road",))
                if fz is not None:
                    p = self._exact(fz[1], "road")
                    scores.append(fz[2] / 100.0)
                    ambiguous |= fz[3]
            if p is not None:
                found["road"] = (p, 1.0)
        spans: list[str] = []
        assert self.tok is not None
        for chunk in s.split("|"):
            left = ""
            for tok in self.tok.cut(chunk, HMM=False):
                group = self._group_of(tok)
                if group and group not in found:
                    p = self._pick(tok, group, found)
                    if p is not None:
                        found[group] = (p, 1.0)
                        if left:
                            spans.append(left)
                        left = ""
                        continue
                if re.fullmatch(r"\d+", tok) and "compound" in found and "building" not in parts:
                    parts["_bare"] = tok
                    continue
                if tok == "号" and parts.get("_bare"):
                    parts["building"] = parts.pop("_bare").lstrip("0") or "0"
                    continue
                left += tok
            if left:
                spans.append(left)
        parts.pop("_bare", None)
        for span in spans:
            span = re.sub(r"\d+", "", span)
            if len(_CJK.findall(span)) < 2:
                continue
            groups = tuple(g for g in ("compound", "road", "unit", "township") if g not in found)
            fz = self._fuzzy(span, groups)
            if fz is None:
                continue
            group, name, score, amb = fz
            p = self._pick(name, group, found)
            if p is not None:
                found[group] = (p, score / 100.0)
                scores.append(score / 100.0)
                ambiguous |= amb
        return self._answer(found, parts, scores, ambiguous)

    def _group_of(self, tok: str) -> str | None:
        for p in self.by_name.get(tok, []):
            return {"village": "unit", "community": "unit"}.get(p.kind, p.kind)
        return None

    def _pick(self, name: str, group: str, found: dict[str, tuple[Place, float]]
              ) -> Place | None:
        """The place of ``name`` in ``group``; among namesakes the one inside what is found."""
        cands = [p for p in self.by_name.get(name, [])
                 if {"village": "unit", "community": "unit"}.get(p.kind, p.kind) == group]
        if not cands:
            return None
        unit = found.get("unit", (None, 0))[0]
        town = found.get("township", (None, 0))[0]
        for p in cands:
            if unit is not None and (p.community == unit.code):
                return p
        for p in cands:
            if town is not None and p.township == town.code:
                return p
        return cands[0]

    def _answer(self, found: dict[str, tuple[Place, float]], parts: dict[str, Any],
                scores: list[float], ambiguous: bool) -> Match:
        name_score = min(scores) if scores else 1.0
        # a fuzzy score of 72..100 -> 0.75..1.0 of the level's base
        factor = 0.75 + 0.25 * (name_score - FUZZY_CUTOFF / 100) / (1 - FUZZY_CUTOFF / 100)
        factor = min(1.0, factor) if scores else 1.0
        notes: list[str] = []
        if ambiguous:
            factor *= 0.7
            notes.append("名称相近的候选不止一个 / more than one similar name")
        unit = found.get("unit", (None, 0.0))[0]
        town = found.get("township", (None, 0.0))[0]
        road = found.get("road", (None, 0.0))[0]
        comp = found.get("compound", (None, 0.0))[0]
        target: Target | None = None
        if road is not None and "number" in parts:
            hit = self.numbers.get((road.name, parts["number"]))
            if hit is not None:
                target, comp_code = hit
                if comp is None and comp_code in self.compounds:
                    comp = self.compounds[comp_code]
                elif comp is not None and comp_code and comp.code != comp_code:
                    factor *= 0.8
                    notes.append("门牌与小区不一致 / the number and the compound disagree")
        if comp is not None:
            if unit is not None and comp.community and comp.community != unit.code:
                factor *= 0.75
                notes.append(f"小区不在所写的{unit.name} / the compound is not in {unit.name}")
            if town is not None and comp.township and comp.township != town.code:
                factor *= 0.75
                notes.append(f"小区不在所写的{town.name} / the compound is not in {town.name}")
            b, u, r = (parts.get(k, "") for k in ("building", "unit", "room"))
            key_room = (comp.code, b, u, r)
            if b and r and key_room in self.below:
                return self._done("room", factor, self.below[key_room], comp, notes, parts)
            if b and u and (comp.code, b, u, "") in self.below:
                if r:
                    notes.append(f"登记中没有 {r} 室, 取单元位置 / room {r} is not in the "
                                 "register: the unit's point")
                return self._done("building", factor, self.below[(comp.code, b, u, "")], comp,
                                  notes, parts)
            if b and (comp.code, b, "", "") in self.below:
                if u and u != "":
                    notes.append(f"登记中没有 {u} 单元 / unit {u} is not in the register")
                return self._done("building", factor, self.below[(comp.code, b, "", "")], comp,
                                  notes, parts)
            if b:
                factor *= 0.85
                notes.append(f"登记中没有 {b} 号楼, 取小区位置 / building {b} is not in the "
                             "register: the compound's point")
            if target is not None:
                return self._done("compound", factor, target, comp, notes, parts)
            return self._done("compound", factor, Target(comp.lon, comp.lat, None, comp.name),
                              comp, notes, parts)
        if road is not None:
            if target is not None:
                return self._done("road", factor, target, None, notes, parts)
            if "number" in parts:
                notes.append(f"登记中没有 {parts['number']} 号, 取道路中点 / number "
                             f"{parts['number']} is not in the register: the road's middle")
            m = self._done("road", factor, Target(road.lon, road.lat, None, road.name), None,
                           notes, parts)
            m.confidence = round(ROAD_ONLY * factor, 3)
            return m
        if unit is not None:
            if town is not None and unit.township and unit.township != town.code:
                factor *= 0.75
                notes.append(f"{unit.name}不在所写的{town.name} / {unit.name} is not in "
                             f"{town.name}")
            m = self._done("village", factor, Target(unit.lon, unit.lat, None, unit.name), None,
                           notes, parts)
            m.unit_code = unit.code
            return m
        if town is not None:
            m = self._done("township", factor, Target(town.lon, town.lat, None, town.name),
                           None, notes, parts)
            m.unit_code = town.code
            return m
        return Match("none", 0.0, reason="登记中没有匹配的乡镇、村/社区、道路或小区 / nothing "
                                         "in the register matches (township, village/community, "
                                         "road or compound)", parts=parts)

    def _done(self, level: str, factor: float, t: Target, comp: Place | None,
              notes: list[str], parts: dict[str, Any]) -> Match:
        conf = round(max(0.0, min(1.0, BASE[level] * factor)), 3)
        what = {"room": "户室", "building": "楼栋", "compound": "小区", "road": "道路门牌",
                "village": "村/社区", "township": "乡镇"}[level]
        reason = f"匹配到{what}「{t.text}」 / matched at {level} level: {t.text}"
        if notes:
            reason += "; " + "; ".join(notes)
        return Match(level, conf, t.lon, t.lat, t.address_id, t.text, reason,
                     comp.compound_id if comp else None, comp.code if comp else None,
                     None, parts)


def _score(a: str, b: str, **kw: Any) -> float:
    """Similarity 0-100 of a leftover span and a name: the whole span, or the best part of a
    longer span (lowered a little: words around the name)."""
    whole = fuzz.ratio(a, b)
    if len(a) > len(b) + 1:
        return max(whole, 0.95 * fuzz.partial_ratio(b, a))
    return whole


# -- loading ---------------------------------------------------------------------------------

_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], AddressIndex]] = {}
_LOCK = threading.Lock()

_FINGERPRINT = text("""
    SELECT (SELECT count(*) FROM std_address WHERE region_code = :r),
           (SELECT max(xmin::text::bigint) FROM std_address WHERE region_code = :r),
           (SELECT count(*) FROM building WHERE region_code = :r),
           (SELECT max(xmin::text::bigint) FROM building WHERE region_code = :r),
           (SELECT count(*) FROM compound WHERE region_code = :r),
           (SELECT max(xmin::text::bigint) FROM compound WHERE region_code = :r),
           (SELECT count(*) FROM admin_unit WHERE region_code = :r),
           (SELECT max(xmin::text::bigint) FROM admin_unit WHERE region_code = :r)
""")


def index_for(conn: Connection, region: str) -> AddressIndex:
    """The region's index, rebuilt only when the register changed (kept per process)."""
    fp = tuple(conn.execute(_FINGERPRINT, {"r": region}).one())
    key = (str(conn.engine.url.database), region)
    with _LOCK:
        kept = _CACHE.get(key)
        if kept is not None and kept[0] == fp:
            return kept[1]
    idx = build_index(conn, region)
    with _LOCK:
        _CACHE[key] = (fp, idx)
    return idx


def build_index(conn: Connection, region: str) -> AddressIndex:
    """Read the region's register and build its index (one pass per table)."""
    idx = AddressIndex(region)
    for code, name, level, parent, lon, lat in conn.execute(text("""
            SELECT code, name, level, parent_code, ST_X(p), ST_Y(p)
            FROM (SELECT code, name, level, parent_code,
                         CASE WHEN ST_Covers(geom, ST_Centroid(geom)) THEN ST_Centroid(geom)
                              ELSE ST_PointOnSurface(geom) END AS p
                  FROM admin_unit WHERE region_code = :r
                   AND level IN ('township', 'village', 'community')) s
            ORDER BY level DESC, code"""), {"r": region}):
        idx.add(Place(level, code, normalize(name), float(lon), float(lat),
                      township=code if level == "township" else parent))
    for cid, code, name, comm, lon, lat in conn.execute(text("""
            SELECT id, code, name, community_code, ST_X(p), ST_Y(p)
            FROM (SELECT id, code, name, community_code,
                         COALESCE(entrance, CASE WHEN ST_Covers(geom, ST_Centroid(geom))
                                  THEN ST_Centroid(geom) ELSE ST_PointOnSurface(geom) END) AS p
                  FROM compound WHERE region_code = :r) s
            ORDER BY code"""), {"r": region}):
        town = idx.units[comm].township if comm in idx.units else None
        idx.add(Place("compound", code, normalize(name), float(lon), float(lat), town, comm,
                      int(cid)))
    for code, name, comp, lon, lat in conn.execute(text(
            "SELECT code, name, compound_code, ST_X(point), ST_Y(point) FROM building "
            "WHERE region_code = :r ORDER BY code"), {"r": region}):
        b = _number_of(normalize(name), "号楼")
        if comp and b:
            cname = idx.compounds[comp].name if comp in idx.compounds else ""
            idx.below[(comp, b, "", "")] = Target(float(lon), float(lat), None,
                                                  f"{cname}{b}号楼", code)
    roads: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in conn.execute(text("""
            SELECT id, road, number, compound, compound_code, building, unit, room, full_text,
                   ST_X(geom), ST_Y(geom), community, township, building_code
            FROM std_address WHERE region_code = :r ORDER BY id"""), {"r": region}):
        (aid, road, number, cname, ccode, b, u, r, full, lon, lat, comm, town, bcode) = row
        t = Target(float(lon), float(lat), int(aid), str(full), bcode)
        ccode = ccode or _compound_code(idx, cname, comm)
        if ccode is None and cname:  # a compound known only to the address register
            ccode = f"addr:{normalize(cname)}"
            if ccode not in idx.compounds:
                unit = _unit_by_name(idx, comm)
                idx.add(Place("compound", ccode, normalize(cname), float(lon), float(lat),
                              unit.township if unit else None, unit.code if unit else None))
        if road:
            rname = normalize(road)
            roads[rname].append((float(lon), float(lat)))
            if number:
                key = (rname, _digits(number))
                if key not in idx.numbers or not (b or u or r):
                    idx.numbers[key] = (t, ccode)
        if ccode:
            k = (ccode, _digits(b) if b else "", _digits(u) if u else "", _digits(r) if r else "")
            if k != (ccode, "", "", "") and (k not in idx.below or idx.below[k].address_id is None):
                idx.below[k] = t
            elif k == (ccode, "", "", "") and ccode in idx.compounds and not (road and number):
                pass
    for rname, pts in roads.items():
        pts.sort()
        mid = pts[len(pts) // 2]
        idx.add(Place("road", rname, rname, mid[0], mid[1]))
    idx.finish()
    return idx


def _digits(v: Any) -> str:
    s = normalize(str(v))
    m = re.search(r"\d+", s)
    return (m.group(0).lstrip("0") or "0") if m else s


def _number_of(s: str, word: str) -> str | None:
    m = re.search(r"(\d+)" + word, s) or re.fullmatch(r"(\d+)", s)
    return (m.group(1).lstrip("0") or "0") if m else None


def _unit_by_name(idx: AddressIndex, name: Any) -> Place | None:
    if not name:
        return None
    for p in idx.by_name.get(normalize(str(name)), []):
        if p.kind in ("village", "community"):
            return p
    return None


def _compound_code(idx: AddressIndex, name: Any, community: Any) -> str | None:
    if not name:
        return None
    cands = [p for p in idx.by_name.get(normalize(str(name)), []) if p.kind == "compound"]
    unit = _unit_by_name(idx, community)
    for p in cands:
        if unit is not None and p.community == unit.code:
            return p.code
    return cands[0].code if cands else None


def match_address(conn: Connection, region: str, raw: str) -> Match:
    """Match one text against the region's register (the index kept per process)."""
    return index_for(conn, region).match(raw)
