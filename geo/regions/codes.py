"""Administrative division codes (GB/T 2260) above a county: the one rule of "below".

A county is ``PPCCXX`` (6 digits); its prefecture (地级市) is ``PPCC00`` and its province
``PP0000``. A user who oversees a prefecture or a province (``app_user.scope_code``) sees every
county whose code starts with ``PPCC`` or ``PP``.
"""

from __future__ import annotations

import re

from geo.errors import InvalidInput

_SCOPE = re.compile(r"\d{2}(?:0000|(?!00)\d{2}00)")
LEVEL_ZH = {"province": "省级", "prefecture": "市级"}


def scope_level(code: str) -> str:
    """``province`` for ``PP0000``, ``prefecture`` for ``PPCC00``."""
    return "province" if code.endswith("0000") else "prefecture"


def scope_prefix(code: str) -> str:
    """The code prefix of the counties below a prefecture or province code."""
    return code[:2] if scope_level(code) == "province" else code[:4]


def check_scope_code(code: str) -> str:
    """``code`` if it names a prefecture or a province, else a 422 saying what it must be."""
    code = (code or "").strip()
    if not _SCOPE.fullmatch(code):
        raise InvalidInput(
            f"辖区代码 {code!r} 无效: 地级市为 6 位且以 00 结尾 (吕梁市 141100), 省为以 0000 结尾 "
            f"(山西省 140000) / invalid scope {code!r}: a prefecture code ends in 00 (141100 "
            "Lüliang), a province code in 0000 (140000 Shanxi)", field="scope")
    return code


# SQL: the prefix of app_user.scope_code (alias u), for "region.code LIKE prefix || '%'".
SCOPE_PREFIX_SQL = ("CASE WHEN u.scope_code LIKE '%0000' THEN left(u.scope_code, 2) "
                    "ELSE left(u.scope_code, 4) END")
