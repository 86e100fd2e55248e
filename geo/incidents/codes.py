"""Incident codes: the one rule for what a code may be, and the form Wangge's intake gives.

A code names a case in URLs, exports and the attachment store (``<region>/<code>/``), so a
code from outside (a history import) is 1-32 letters, digits, ``_``, ``-`` or ``.``, starting
with a letter or digit and without ``..`` (review round 3, R10). Codes of the form the intake
gives (``SJ<yyyymmdd>N<id>``) are Wangge's own: an import may not claim one, or a later report
would be given a code already taken (review round 3, R9).
"""

from __future__ import annotations

import datetime as dt
import re

from geo.localtime import CST

CODE_MAX = 32  # incident.code is varchar(32)
_SAFE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,31}")
_INTAKE = re.compile(r"SJ\d{8}N\d{7,}")


def intake_code(reported_at: dt.datetime, incident_id: int) -> str:
    """The code the intake gives a new case: ``SJ<report day, CST>N<id, 7 digits>``."""
    return f"SJ{reported_at.astimezone(CST):%Y%m%d}N{incident_id:07d}"


def is_intake_code(code: str) -> bool:
    """True for a code of the intake's own form (reserved for cases Wangge registers)."""
    return _INTAKE.fullmatch(code) is not None


def is_safe_code(code: str) -> bool:
    """True when ``code`` may name a case (and a folder of the attachment store)."""
    return _SAFE.fullmatch(code) is not None and ".." not in code


def unsafe_code_reason(code: str) -> str | None:
    """Why ``code`` cannot name a case (None: it can)."""
    if is_safe_code(code):
        return None
    return (f"事件编号 {code[:40]!r} 无效: 1-{CODE_MAX} 位字母、数字、_ - . (以字母或数字开头, "
            f"不含 ..) / invalid incident code {code[:40]!r}: 1-{CODE_MAX} letters, digits, "
            "'_', '-' or '.', starting with a letter or digit, without '..'")


def reserved_code_reason(code: str) -> str:
    """Why an import may not take a code of the intake's own form."""
    return (f"事件编号 {code} 是 Wangge 上报生成的格式 (SJ<日期>N<序号>), 保留给本系统的受理 / "
            f"incident code {code} has the form Wangge's own intake gives "
            "(SJ<yyyymmdd>N<number>): reserved for Wangge's own intake; rename it "
            "(e.g. a prefix) to import it")
