"""Characters free text may hold: the one rule on the way in and on the way out.

XML 1.0 (and so every XLSX cell and every Open311 ``.xml`` answer) cannot hold the C0
control characters other than tab, line feed and carriage return, nor lone surrogates,
U+FFFE and U+FFFF: openpyxl refuses them (``IllegalCharacterError``) and an XML parser
stops at them. Intake refuses them in report text (:func:`check_text`, a 422 naming the
field); writers replace whatever older data still holds (:func:`xml_safe`) so that every
workbook and XML document stays readable.
"""

from __future__ import annotations

import re
from typing import Any

from geo.errors import InvalidInput

# What XML 1.0 may not hold (https://www.w3.org/TR/xml/#charsets)
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"  # shown where an illegal character was: nothing silently vanishes


def xml_safe(value: Any) -> Any:
    """``value`` with every character XML may not hold replaced by U+FFFD (a string);
    anything else unchanged. Used by the one Excel writer (``geo.io.workbook``) and the
    Open311 XML serialiser (``api.routes.open311``)."""
    if isinstance(value, str) and XML_ILLEGAL.search(value):
        return XML_ILLEGAL.sub(REPLACEMENT, value)
    return value


# Bidirectional overrides and isolates: they reverse how the text after them is displayed
# (a case list or panel showing a forged address); no report needs them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def text_refusal(value: Any, field: str) -> str | None:
    """Why ``value`` may not be report text: a control character other than tab and line
    breaks, or a bidirectional override (naming ``field`` and the first such character's
    position); None when it may (and for anything but a string)."""
    if not isinstance(value, str):
        return None
    m = XML_ILLEGAL.search(value) or BIDI_CONTROLS.search(value)
    if m is None:
        return None
    code = f"U+{ord(m.group()):04X}"
    return (f"字段 {field} 含控制字符 {code} (第 {m.start() + 1} 个字符); 除制表符和换行外不允许"
            f"控制字符 / {field} holds the control character {code} at position "
            f"{m.start() + 1}: only tab and line breaks are allowed")


def check_text(value: str | None, field: str) -> None:
    """Refuse report text :func:`text_refusal` refuses (422 naming ``field``)."""
    why = text_refusal(value, field)
    if why is not None:
        raise InvalidInput(why, field=field)


def any_refused(values: list[Any]) -> bool:
    """Whether some text of ``values`` would be refused by :func:`text_refusal`: one search
    over them all (an import's column at once)."""
    joined = "".join(v for v in values if isinstance(v, str))
    return bool(XML_ILLEGAL.search(joined) or BIDI_CONTROLS.search(joined))


# What PostgreSQL cannot store in text and jsonb: a NUL byte, a lone UTF-16 surrogate (any
# imported value is checked against it before COPY; the audit log replaces them)
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
