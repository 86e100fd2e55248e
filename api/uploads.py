"""Uploaded files to imports: saved to a private temporary folder, size-capped, then imported."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy import Engine

from api.settings import Settings
from geo.auth.principal import Principal
from geo.errors import InvalidInput, TooLarge, WanggeError
from geo.io.importer import ImportOptions, ImportReport, run_import


def safe_name(name: str | None) -> str:
    """The upload's base name with anything but word characters, dots and dashes replaced."""
    base = Path(name or "upload").name
    base = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", base)
    return base or "upload"


def content_disposition(filename: str, kind: str = "attachment") -> str:
    """A ``Content-Disposition`` value safe for any file name (RFC 6266 / RFC 5987).

    An ASCII fallback name (anything but word characters, dots and dashes replaced) plus
    ``filename*`` with the UTF-8 name percent-encoded: quotes, semicolons and line breaks in a
    name (``?region=...``) cannot add parameters, and Chinese names (照片.png) do not fail.
    """
    from urllib.parse import quote

    fallback = re.sub(r"[^\w.\-]", "_", filename, flags=re.ASCII) or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def category_map_form(value: str | None) -> dict[str, str]:
    """An upload's ``category_map`` form field: ``VALUE=code`` entries separated by ``;`` or
    new lines (the CLI's ``--category-map VALUE=code``, repeated)."""
    out: dict[str, str] = {}
    for item in re.split(r"[;\n]", value or ""):
        if item.strip():
            if "=" not in item:
                raise InvalidInput(f"category_map 应为 VALUE=code / category_map entries are "
                                   f"VALUE=code, got {item!r}", field="category_map")
            k, v = item.rsplit("=", 1)
            out[k.strip()] = v.strip()
    return out


def commit_flag(form: bool | None, query: bool | None) -> bool:
    """``commit`` of an upload, sent as a form field or in the query (curl users do both);
    a dry run when neither says true, a 422 when they disagree."""
    if form is not None and query is not None and form != query:
        raise InvalidInput(f"commit 表单值 ({form}) 与查询参数 ({query}) 矛盾 / commit is {form} "
                           f"in the form but {query} in the query: send it once", field="commit")
    return bool(form if form is not None else query)


def import_upload(engine: Engine, settings: Settings, layer: str, file: UploadFile,
                  opts: ImportOptions, principal: Principal) -> ImportReport:
    """Save ``file`` (at most ``settings.max_body_bytes``) and run the one import pipeline."""
    tmp = Path(tempfile.mkdtemp(prefix="wangge_upload_"))
    try:
        name = safe_name(file.filename)
        target = tmp / name
        size = 0
        with target.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_body_bytes:
                    raise TooLarge(f"文件超过 {settings.max_body_bytes} 字节 / file larger than "
                                   f"{settings.max_body_bytes} bytes: use the CLI "
                                   "(wangge import) for big files")
                out.write(chunk)
        report = run_import(engine, layer, target, opts, display_name=name,
                            principal=principal)
    except WanggeError as exc:  # messages from readers (GDAL ...) may name the saved copy
        exc.message = _scrub(exc.message, tmp, name)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.error = _scrub(report.error, tmp, name) if report.error else report.error
    report.notes = [_scrub(n, tmp, name) for n in report.notes]
    for row in report.refused:
        if isinstance(row.get("reason"), str):
            row["reason"] = _scrub(row["reason"], tmp, name)
    return report


def _scrub(text: str, tmp: Path, name: str) -> str:
    """``text`` without the server's temporary folder: the file is named as it was sent."""
    return text.replace(str(tmp / name), name).replace(str(tmp) + "/", "").replace(str(tmp),
                                                                                   "")
