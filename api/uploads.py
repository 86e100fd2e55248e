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
from geo.errors import TooLarge
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
        return run_import(engine, layer, target, opts, display_name=name, principal=principal)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
