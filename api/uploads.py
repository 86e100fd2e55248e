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
