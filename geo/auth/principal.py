"""Who is asking, and what they may see: the scoping contract used by every way out.

Every endpoint, map, export and tile receives a :class:`Principal` (``api.deps.PrincipalDep``)
and passes it to the domain function, which filters rows in SQL with :func:`incident_scope_sql`
and masks personal fields as the one field policy :mod:`geo.auth.fields` says
(:meth:`Principal.may_see_personal`, :func:`mask_phone`, :func:`mask_name`). Roles:

- ``admin``, ``command`` (指挥中心): everything in their regions, personal data unmasked.
- ``department`` (部门处置人员): incidents routed to ``department_code``; personal data of those.
- ``worker`` (网格员): incidents and residents of ``cell_codes`` (their cells *now*); the rest of
  the county only as cell outlines and aggregate counts.
- ``planner`` (规划/住建): aggregates and geometries, never personal fields.
- ``viewer``: public layers only (cells, admin units, compounds, cameras), no incidents' personal
  fields.

Personal fields are shown **masked** (138****1234, 张*) by default, also to roles that may read
them; a request with ``?unmask=true`` by a role that may (admin, command, department, worker)
sets :attr:`Principal.unmask`, is written to the audit log before any data leaves, and only then
does :meth:`Principal.may_see_personal` answer True for the rows in the caller's scope.
Planners and viewers never get personal fields, masked or not (:func:`reporter_fields`).

Callers without a token are ``anonymous`` with the ``viewer`` role (``WANGGE_DEMO_OPEN=1`` in
demo mode makes them the command centre); see ``api.deps.get_principal`` and docs/ACCESS.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from geo.db.tables.vocab import ROLE

ROLES = ROLE.codes
# Roles a user may hold over a prefecture or province (app_user.scope_code, geo.regions.codes):
# they read; the county-bound roles (worker, department) and admin stay in their region.
SCOPE_ROLES = ("command", "planner", "viewer")
# Roles that may ask for personal data unmasked (``?unmask=true``, audited), within their scope.
UNMASK_ROLES = ("admin", "command", "department", "worker")
ROLE_NAMES = {code: f"{zh} / {en}" for code, (zh, en) in ROLE.items()}
# How an authenticated caller proved who they are (:attr:`Principal.credential`).
SESSION = "session"  # a session token of POST /auth/login (Bearer, or the cookie on GET)
API_TOKEN = "api_token"  # an API token wgk_... (Bearer, or as the password of Basic)


@dataclass(frozen=True)
class Principal:
    """The caller: user name, role and the scope the role is bound to."""

    user: str
    role: str
    regions: frozenset[str] | None = None  # None: every region
    cell_codes: frozenset[str] = field(default_factory=frozenset)
    department_code: str | None = None
    user_id: int | None = None  # app_user.id; None for anonymous and built-in principals
    unmask: bool = False  # this request asked for personal data unmasked (and was audited)
    authenticated: bool = False  # a valid token was presented
    credential: str | None = None  # SESSION or API_TOKEN; None for anonymous and built-ins
    session_id: str | None = None  # the login session (credential SESSION): what logout revokes
    # When the credential ends (Unix seconds; None: no credential): a cached principal
    # (api.auth_cache) is never used past it.
    expires_at: int | None = None

    @property
    def is_anonymous(self) -> bool:
        """True for a caller who presented no token."""
        return not self.authenticated

    def may_unmask(self) -> bool:
        """True when the role may ask for personal data unmasked (within its scope)."""
        return self.role in UNMASK_ROLES

    def may_mint_api_tokens(self) -> bool:
        """True for a login session only: an API token (Bearer or Basic) never mints another,
        so a leaked API token cannot outlive its own revocation or expiry."""
        return self.authenticated and self.credential == SESSION

    def in_region(self, region_code: str) -> bool:
        """True when the caller may see anything of ``region_code``."""
        return self.regions is None or region_code in self.regions

    def seen_from(self, region_code: str) -> Principal:
        """The caller as she sees an object of county ``region_code``: herself in her own
        counties, the public (:data:`ANONYMOUS_VIEWER`) in any other. For the public layers
        answered by place rather than by ``?region=`` (``GET /cells/at`` of a point over the
        county line): a 兴县 command user gets 临县's cell as anyone does, its worker's name
        masked (review round 9, N-5)."""
        return self if self.in_region(region_code) else ANONYMOUS_VIEWER

    def require_region(self, region_code: str) -> None:
        """Refuse (403) a region outside the caller's scope: the one message for it."""
        if not self.in_region(region_code):
            from geo.errors import Forbidden

            raise Forbidden(f"无权访问区域 {region_code} / region {region_code} is outside your "
                            "scope", region=region_code)

    def sees_all_incidents(self) -> bool:
        """True for roles that read every incident (with personal data) of their regions."""
        return self.role in ("admin", "command")

    def reads_incident_details(self) -> bool:
        """True for roles that read incidents case by case (all of them, or those of their
        cells or department); False for roles that see only counts and anonymous points
        (planners, viewers): a list of cases is empty for them by role, whatever the data."""
        return self.sees_all_incidents() or self.role in ("worker", "department")

    def may_see_incident(self, cell_code: str | None, department_code: str | None) -> bool:
        """True when the caller may read this incident's details."""
        if self.sees_all_incidents():
            return True
        if self.role == "worker":
            return cell_code is not None and cell_code in self.cell_codes
        if self.role == "department":
            return department_code is not None and department_code == self.department_code
        return False

    def may_see_personal(self, cell_code: str | None, department_code: str | None) -> bool:
        """True when the caller may read reporter names/phones of this incident unmasked.

        Only on a request that asked ``?unmask=true`` (audited) and only inside the scope.
        """
        return self.unmask and self.may_unmask() and self.may_see_incident(
            cell_code, department_code
        )


ANONYMOUS_COMMAND = Principal(user="anonymous", role="command")
ANONYMOUS_VIEWER = Principal(user="anonymous", role="viewer")


def mask_phone(phone: str | None) -> str | None:
    """138****1234 for a mobile, *****45 for a shorter (landline) number.

    The number is read as its digits (``+86 138-1234-5678`` is a mobile); a value already
    masked passes through, as do None, empty and non-text values such as pandas' NaN.
    """
    if not phone or not isinstance(phone, str) or "*" in phone:
        return phone
    digits = re.sub(r"[^0-9]", "", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) >= 7:  # a local number: only its last two digits
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_name(name: str | None) -> str | None:
    """张* (family name kept; None, empty and non-text values pass through)."""
    if not name or not isinstance(name, str):
        return name
    return name[0] + "*" * max(1, len(name) - 1)


# Personal numbers written inside free text, not glued to other digits: mobiles (11 digits from
# 13x-19x; with or without +86/86, in one run or grouped 3-4-4 by spaces or dashes), landlines
# (0 + 2-3 digit area code, 7-8 digits) and ID-card numbers (18 characters, the last may be X;
# grouped 6-8-4 or not).
_SEP = r"[-\s]?"
_MOBILE_IN_TEXT = re.compile(rf"(?<![0-9])(?:\+?86{_SEP})?(1[3-9][0-9]){_SEP}([0-9]{{4}}){_SEP}"
                             rf"([0-9]{{4}})(?![0-9])")
_LANDLINE_IN_TEXT = re.compile(rf"(?<![0-9.])(0[1-9][0-9]{{1,2}}){_SEP}([0-9]{{3,4}})"
                               rf"([0-9]{{4}})(?![0-9.])")
_ID_CARD_IN_TEXT = re.compile(rf"(?<![0-9])([1-9][0-9]{{5}}){_SEP}[0-9]{{8}}{_SEP}"
                              rf"([0-9]{{3}}[0-9Xx])(?![0-9Xx])")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ＋－", "0123456789Xx+-")
# What the patterns above miss: a number written in groups with other separators (dots, en
# and em dashes, slashes, underscores, an area code in brackets) or grouped otherwise (an ID
# number 6-4-4-4). A run of digit groups is read as one number and masked by its digits: 11
# from 1[3-9] (86 before it allowed) a mobile, 10-12 from 0 a landline, 18 with a birth date
# (last may be X) an ID number; other runs (dates, amounts, coordinates, codes) are left as
# they are. 15-digit first-generation ID numbers (withdrawn in 2013) are not masked: they
# cannot be told from the 15-digit grid-cell codes (141123100001001) a case names everywhere.
# A separator is any short run (1-5) of characters that are neither letters (Latin or CJK) nor
# digits: spaces, dashes, dots, brackets, quotes, arrows, ellipses ... (review round 10, F3;
# the mask's own ``*`` is written as _MARK until the end, so a masked number is not read again).
_SEP_CHAR = r"(?:[^\w\ue000]|_)"
_DIGIT_SEP = rf"{_SEP_CHAR}{{1,5}}"
_DIGIT_RUN = re.compile(rf"(?<![0-9])(?:[(（][0-9]{{2,4}}[)）]\s?)?[0-9]+"
                        rf"(?:{_DIGIT_SEP}[0-9]+)*[Xx]?(?![0-9])")
_DIGIT_GROUPS = re.compile(rf"({_DIGIT_SEP})")
# Digits in other dress, read as digits before the patterns above (review round 7): any
# Unicode decimal digit (Arabic-Indic, mathematical bold ...), the compatibility forms NFKC
# reads as one digit (superscripts, circled ①), and invisible format characters (zero-width
# space, joiner, soft hyphen) between digits, which are dropped.
_INVISIBLE = "\u00ad\u200b-\u200f\u2060-\u2064\ufeff"
_INVISIBLE_NEAR_DIGIT = re.compile(rf"(?<=\d)[{_INVISIBLE}]+|[{_INVISIBLE}]+(?=\d)")
_ODD_DIGITS = re.compile(r"(?![0-9])[\d\u00b2\u00b3\u00b9\u2070-\u2089\u2460-\u24ff"
                         r"\u2776-\u2793\u3280-\u3289]")
# A phone or ID number written in Chinese numerals (一三八..., 幺 for 1, 两 for 2, 〇/零 for 0,
# the financial forms 壹贰叁), alone or mixed with digits (138一二三四五六七八): a run of at
# least 7, spaces or dashes allowed between,
# masked when its digits are a personal number; other runs (一二三, 三三两两) are left alone.
_HANZI_DIGITS = {**dict.fromkeys("〇零○", "0"), **dict.fromkeys("一幺壹", "1"),
                 **dict.fromkeys("二两貳贰", "2"), **dict.fromkeys("三叁參", "3"),
                 **dict.fromkeys("四肆", "4"), **dict.fromkeys("五伍", "5"),
                 **dict.fromkeys("六陆陸", "6"), **dict.fromkeys("七柒", "7"),
                 **dict.fromkeys("八捌", "8"), **dict.fromkeys("九玖", "9")}
_HANZI_CLASS = "".join(_HANZI_DIGITS)
_HANZI_RUN = re.compile(rf"(?<![0-9])[{_HANZI_CLASS}0-9](?:{_SEP_CHAR}{{0,5}}"
                        rf"[{_HANZI_CLASS}0-9]){{6,}}[Xx]?(?![0-9])")
_TO_DIGITS = str.maketrans(_HANZI_DIGITS)


def _ascii_digit(ch: str) -> str:
    """``ch`` as an ASCII digit when it is one in other dress, else ``ch``."""
    value = unicodedata.digit(ch, None)
    if value is not None and (unicodedata.category(ch) == "Nd"
                              or unicodedata.normalize("NFKC", ch).isdigit()):
        return str(value)
    return ch


def _hanzi_number(m: re.Match[str]) -> str:
    if not any(ch in _HANZI_DIGITS for ch in m.group(0)):
        return m.group(0)  # ASCII digits only: the patterns after this step read them
    run = m.group(0)
    digits = run.translate(_TO_DIGITS)  # separators kept: the groups are read as such
    masked = _mask_ascii_numbers(digits)
    if masked == digits:
        return run
    # the masked number comes out in digits (一三八... -> 138****5678), the text around it
    # as written (``张三 138-1234-5678`` -> ``张三 138****5678``, not ``张3``; review round 11,
    # N-A): the ends the mask left alone keep their own characters, less the number's visible
    # digits (and a landline's ``-`` after its area code); translate() keeps positions
    head = 0
    while head < min(len(digits), len(masked)) and digits[head] == masked[head]:
        head += 1
    if head > 0 and not digits[head - 1].isdigit():
        head -= 1
    while head > 0 and digits[head - 1] in "0123456789":
        head -= 1
    tail = 0
    while (tail < min(len(digits), len(masked)) - head
           and digits[-1 - tail] == masked[-1 - tail]):
        tail += 1
    while tail > 0 and digits[len(digits) - tail] in "0123456789":
        tail -= 1
    return run[:head] + masked[head:len(masked) - tail] + run[len(run) - tail:]


def _mask_digit_run(m: re.Match[str]) -> str:
    return _mask_digit_run_text(m.group(0))


def _mask_digit_run_text(run: str) -> str:
    """A run of digit groups masked: as one number when its digits are a personal number,
    else each window of up to four consecutive groups that is one (two numbers in a list,
    ``136,5555,4444,137,6666,5555``, are each masked; review round 9)."""
    whole = _mask_number(run)
    if whole != run:
        return whole
    parts = _DIGIT_GROUPS.split(run)  # group, separator, group, ...
    groups = parts[0::2]
    if len(groups) < 2:
        return run
    sizes = [sum(ch.isdigit() or ch in "Xx" for ch in g) for g in groups]
    out = list(parts)
    i = 0
    while i < len(groups):
        for width in (4, 3, 2):
            j = i + width
            if j > len(groups) or sum(sizes[i:j]) not in _NUMBER_SIZES:
                continue
            piece = "".join(parts[2 * i:2 * j - 1])
            masked = _mask_number(piece)
            if masked != piece:
                out[2 * i] = masked
                for k in range(2 * i + 1, 2 * j - 1):
                    out[k] = ""
                i = j
                break
        else:
            i += 1
    return "".join(out)


# Digit counts of the numbers masked: landline 10-12, mobile 11 (13 with 86), ID card 18.
_NUMBER_SIZES = frozenset({10, 11, 12, 13, 18})
_NOT_DIGIT = re.compile(r"[^0-9Xx]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[1-9][0-9]{8,10}")
_ID_CARD = re.compile(r"[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx]")


def _mask_number(run: str) -> str:
    """``run`` masked when its digits are a mobile, landline or ID number, else as it is."""
    d = _NOT_DIGIT.sub("", run)
    if len(d) not in _NUMBER_SIZES:
        return run
    if len(d) == 13 and d.startswith("861"):
        d = d[2:]
    if len(d) == 11 and _MOBILE.fullmatch(d):
        return d[:3] + _MARK * 4 + d[7:]
    if _LANDLINE.fullmatch(d):
        area = 3 if d[1] in "12" else 4
        return d[:area] + "-" + _MARK * 4 + d[-4:]
    if _ID_CARD.fullmatch(d):
        return d[:6] + _MARK * 8 + d[-4:]
    return run


def mask_personal_text(value: str | None) -> str | None:
    """Free text with the personal numbers in it masked.

    Mobile numbers become ``138****1234`` (also written +86 138 1234 1234 or 138-1234-1234),
    landlines ``0358-****3456`` and ID-card numbers ``142301********123X`` (full-width digits
    are read as digits first). Dates, times and timestamps (``2026-12-06T07:54:50+08:00``,
    ``2026/12/06 07:54``) come through as they are. None, empty and non-text values pass
    through.
    """
    if not value or not isinstance(value, str):
        return value
    if any(ch in value for ch in "０１２３４５６７８９"):
        value = value.translate(_FULLWIDTH_DIGITS)
    if not value.isascii():
        value = value.replace(_MARK, "*")
        value = _ODD_DIGITS.sub(lambda m: _ascii_digit(m.group(0)), value)
        value = _INVISIBLE_NEAR_DIGIT.sub("", value)
    out: list[str] = []
    start = 0
    for m in _WHEN.finditer(value):
        if m.group("date") is None or m.group("time") is None:
            # a lone date or time between digit groups may be part of a number
            # (``138 12:34 5678``, ``142301-1990-01-01-1234``): read with them
            if (_DIGIT_BEFORE.search(value, max(0, m.start() - 6), m.start())
                    and _DIGIT_AFTER.match(value, m.end())):
                continue
        out.append(_mask_numbers(value[start:m.start()]))
        out.append(m.group(0))
        start = m.end()
    out.append(_mask_numbers(value[start:]))
    return "".join(out).replace(_MARK, "*")


def _mask_numbers(value: str) -> str:
    """The personal numbers of ``value`` (text without dates or times) masked with _MARK."""
    if not value:
        return value
    if not value.isascii():
        value = _HANZI_RUN.sub(_hanzi_number, value)
    return _mask_ascii_numbers(value)


def _mask_ascii_numbers(value: str) -> str:
    value = _ID_CARD_IN_TEXT.sub(lambda m: m.group(1) + _MARK * 8 + m.group(2), value)
    value = _MOBILE_IN_TEXT.sub(lambda m: m.group(1) + _MARK * 4 + m.group(3), value)
    value = _LANDLINE_IN_TEXT.sub(lambda m: m.group(1) + "-" + _MARK * 4 + m.group(3), value)
    return _DIGIT_RUN.sub(_mask_digit_run, value)


# The mask's ``*`` while masking (a private-use character, not a separator: a masked number is
# not read again as part of a longer one); one in the input is read as ``*``.
_MARK = "\ue000"
# Dates (2026-12-06, 2026/12/6, 2026.12.06), times (07:54, 07:54:50.123) and both together
# (ISO 8601 with ``T`` or a space, an offset or ``Z``), left unmasked (review round 10, F2).
_DATE = (r"(?:19|20)[0-9]{2}(?P<ds>[-/.])(?:0?[1-9]|1[0-2])(?P=ds)"
         r"(?:0?[1-9]|[12][0-9]|3[01])")
_TIME = (r"(?:[01]?[0-9]|2[0-3])[:：][0-5][0-9](?:[:：][0-5][0-9](?:[.,][0-9]{1,9})?)?"
         r"(?:\s?(?:Z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?))?")
_WHEN = re.compile(rf"(?<![0-9])(?:(?P<date>{_DATE})(?:(?:T|\s{{1,3}})(?P<time>{_TIME}))?"
                   rf"|(?P<lone>{_TIME}))(?![0-9])")
_DIGIT_BEFORE = re.compile(rf"[0-9]{_SEP_CHAR}{{1,5}}$")
_DIGIT_AFTER = re.compile(rf"{_SEP_CHAR}{{1,5}}[0-9]")


def incident_scope_sql(
    principal: Principal, alias: str = "incident"
) -> tuple[str, dict[str, object]]:
    """A SQL condition (and its bind parameters) restricting incidents to the caller's scope.

    Returns ``("TRUE", {})`` for roles that see everything. Use it in every query that returns
    incident rows with details; aggregates for planners/viewers may skip it but must never
    return personal fields.
    """
    conds: list[str] = []
    params: dict[str, object] = {}
    if principal.regions is not None:
        conds.append(f"{alias}.region_code = ANY(:scope_regions)")
        params["scope_regions"] = sorted(principal.regions)
    if principal.sees_all_incidents():
        pass
    elif principal.role == "worker":
        conds.append(f"{alias}.cell_code = ANY(:scope_cells)")
        params["scope_cells"] = sorted(principal.cell_codes)
    elif principal.role == "department":
        conds.append(f"{alias}.department_code = :scope_dept")
        params["scope_dept"] = principal.department_code
    else:
        conds.append("FALSE")
    return (" AND ".join(conds) or "TRUE"), params


def reporter_fields(
    principal: Principal,
    name: str | None,
    phone: str | None,
    cell_code: str | None,
    department_code: str | None,
) -> dict[str, str | None]:
    """The reporter's personal fields as this caller may see them.

    Returns ``reporter_name``, ``reporter_phone`` and ``personal``: ``"full"`` (unmasked, on an
    audited ``?unmask=true`` request within scope), ``"masked"`` (138****1234, 张*: in scope),
    or ``"withheld"`` (out of scope, planners, viewers: both fields None).
    """
    if principal.may_see_personal(cell_code, department_code):
        return {"reporter_name": name, "reporter_phone": phone, "personal": "full"}
    if principal.may_see_incident(cell_code, department_code):
        return {"reporter_name": mask_name(name), "reporter_phone": mask_phone(phone),
                "personal": "masked"}
    return {"reporter_name": None, "reporter_phone": None, "personal": "withheld"}
