"""The one rule for characters report text may hold (geo.io.text)."""

from __future__ import annotations

import pytest

from geo.errors import InvalidInput
from geo.io.text import check_text, xml_safe


def test_controls_and_bidi_overrides_refused_tab_and_breaks_kept() -> None:
    check_text("蔚汾路3号\t2单元\n301室", "place")
    for bad, code in (("蔚汾路3号\x01", "U+0001"), ("蔚汾路\u202e3号", "U+202E"),
                      ("\u2066兴县\u2069", "U+2066")):
        with pytest.raises(InvalidInput) as err:
            check_text(bad, "place")
        assert code in err.value.message and err.value.detail["field"] == "place"
    assert xml_safe("a\x0bb") == "a\ufffdb"
