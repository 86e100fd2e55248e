"""Chinese first (issue 16): the zh monthly report, as a reader sees it in the PDF (pdftotext),
has no English word except a proper term in parentheses after its Chinese name
(热点分析 (Getis-Ord Gi*), 国家2000坐标系 CGCS2000 in 经纬度 (...), 网格化服务管理系统 (Wangge))
and codes (case numbers, cell codes)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.reports.test_monthly import _report, env  # noqa: F401

# Proper terms a Chinese text may keep, in parentheses after the Chinese name.
PROPER_TERMS = {"Getis-Ord", "Gi*", "CGCS2000", "Wangge", "ISO", "EPSG:4490"}
CODE = re.compile(r"[A-Z]{2}\d{6,}")  # case numbers (SJ2025...)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9*:\-]*")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def english_outside_parentheses(text: str) -> list[str]:
    """The English words of ``text`` a Chinese reader should not meet: not a code, and not a
    proper term inside parentheses that follow Chinese."""
    bad = []
    for m in WORD.finditer(text):
        word = m.group()
        if CODE.fullmatch(word):
            continue
        before = text[:m.start()]
        opened = before.rfind("(")
        inside = opened > before.rfind(")")
        after_zh = inside and bool(CJK.search(before[:opened].rstrip()[-1:] or ""))
        if word in PROPER_TERMS and after_zh:
            continue
        bad.append(text[max(0, m.start() - 20):m.end() + 20].replace("\n", " "))
    return bad


def test_the_rule_itself() -> None:
    assert english_outside_parentheses("热点分析 (Getis-Ord Gi*): 网格") == []
    assert english_outside_parentheses("经纬度 (国家2000坐标系 CGCS2000) SJ20250102003529") == []
    assert english_outside_parentheses("热点: Getis-Ord Gi* 统计")
    assert english_outside_parentheses("生成于 2026-12-06 · Wangge")
    assert english_outside_parentheses("规划 (planner)")  # not a proper term


def test_zh_pdf_reads_in_chinese(env: tuple[TestClient, dict[str, dict[str, str]]],  # noqa: F811
                                 tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext missing: ./scripts/test.sh installs poppler-utils")
    client, h = env
    for role in ("command", "planner"):
        r = _report(client, h[role], "pdf")
        assert r.status_code == 200, r.text[:300]
        pdf = tmp_path / f"{role}.pdf"
        pdf.write_bytes(r.content)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "网格化服务管理月报" in text
        assert english_outside_parentheses(text) == [], role
        assert "热点分析 (Getis-Ord Gi*)" in text and "网格化服务管理系统 (Wangge)" in text
        assert "演示数据 (合成数据)" in text
    # the English report keeps its English
    r = _report(client, h["command"], "pdf", lang="en")
    assert r.status_code == 200
    pdf = tmp_path / "en.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Getis-Ord Gi*" in text and "Demo data (synthetic)" in text
