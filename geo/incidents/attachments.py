"""Photos of a case: checked by magic bytes and size, stored under ``<data_dir>/attachments``."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo import localtime
from geo.auth.principal import Principal
from geo.errors import InvalidInput, NotFound, TooLarge, Unavailable
from geo.incidents.cases import add_event, fetch

_MAGIC: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 9
def sniff_image(data: bytes, filename: str | None = None,
                max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """The content type of a photo from its magic bytes; 413/422 when too large or not one."""
    if len(data) > max_bytes:
        raise TooLarge(f"照片 {filename or ''} 过大 ({len(data)} 字节, 上限 {max_bytes}) / photo "
                       f"{filename or ''} is {len(data)} bytes; the limit is {max_bytes}",
                       limit=max_bytes)
    if not data:
        raise InvalidInput(f"照片 {filename or ''} 为空 / photo {filename or ''} is empty",
                           field="photos")
    for magic, off, ctype, _ext in _MAGIC:
        if data[off:off + len(magic)] == magic:
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    raise InvalidInput(
        f"文件 {filename or ''} 不是支持的图片 (JPEG/PNG/GIF/WebP/HEIC, 按文件内容判断) / file "
        f"{filename or ''} is not a supported image (checked by its content, not its name)",
        field="photos",
    )


_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
        "image/heic": "heic"}


def store_attachment(
    conn: Connection, incident_id: int, filename: str | None, data: bytes, content_type: str,
    attachments_dir: Path, principal: Principal, event_note: str | None = None,
) -> dict[str, Any]:
    """Write a checked photo to the store and record it (and an event) on the incident."""
    row = fetch(conn, incident_id, principal, lock=True)
    digest = hashlib.sha256(data).hexdigest()
    rel = Path(row["region_code"]) / row["code"] / f"{digest[:20]}.{_EXT[content_type]}"
    target = attachments_dir / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError as exc:
        raise Unavailable(
            f"附件存储不可写 ({attachments_dir}: {exc.strerror or exc}), 照片未保存, 事件 "
            f"{row['code']} 已保留; 请联系管理员后重新上传 / the attachment store "
            f"{attachments_dir} cannot be written ({exc.strerror or exc.__class__.__name__}): "
            f"the photo was not saved, incident {row['code']} is kept; upload it again later",
            incident=row["code"],
        ) from exc
    event_id = add_event(conn, row, "attachment", principal.user, localtime.now(), event_note,
                         {"filename": filename, "sha256": digest, "bytes": len(data)})
    att_id = conn.execute(text(
        "INSERT INTO incident_attachment (region_code, incident_id, event_id, filename, "
        "content_type, size_bytes, sha256, path, uploaded_by) VALUES (:r, :i, :e, :f, :ct, "
        ":n, :h, :p, :u) RETURNING id"),
        {"r": row["region_code"], "i": row["id"], "e": event_id, "f": filename,
         "ct": content_type, "n": len(data), "h": digest, "p": str(rel),
         "u": principal.user}).scalar_one()
    return {"id": att_id, "filename": filename, "content_type": content_type,
            "size_bytes": len(data), "sha256": digest}


def add_photos(
    engine: Engine, incident_id: int | str, photos: list[tuple[str | None, bytes]],
    principal: Principal, attachments_dir: Path, note: str | None = None,
    max_photo_bytes: int = MAX_PHOTO_BYTES,
) -> dict[str, Any]:
    """Attach photos to an existing incident (checked first; each stored in its own step).

    Returns the incident's id and code and the stored attachments.
    """
    if not photos:
        raise InvalidInput("没有照片 / no photo given", field="files")
    if len(photos) > MAX_PHOTOS:
        raise TooLarge(f"照片最多 {MAX_PHOTOS} 张 / at most {MAX_PHOTOS} photos at once")
    checked = [(n, d, sniff_image(d, n, max_photo_bytes)) for n, d in photos]
    out = []
    with engine.begin() as conn:
        row = fetch(conn, incident_id, principal)
        for n, d, ct in checked:
            out.append(store_attachment(conn, int(row["id"]), n, d, ct, attachments_dir,
                                        principal, note))
    return {"incident_id": int(row["id"]), "incident_code": row["code"], "attachments": out}


def read_attachment(conn: Connection, incident_id: int | str, attachment_id: int,
                    principal: Principal, attachments_dir: Path) -> tuple[bytes, str, str]:
    """Bytes, content type and file name of one attachment in the caller's scope."""
    row = fetch(conn, incident_id, principal)
    if not 0 < attachment_id < 2**63:
        raise NotFound(f"附件 {attachment_id} 不存在 / attachment {attachment_id} not found")
    att = conn.execute(text(
        "SELECT path, content_type, filename FROM incident_attachment WHERE id = :a "
        "AND incident_id = :i"), {"a": attachment_id, "i": row["id"]}).mappings().first()
    if att is None:
        raise NotFound(f"附件 {attachment_id} 不存在 / attachment {attachment_id} not found")
    try:
        data = (attachments_dir / att["path"]).read_bytes()
    except OSError as exc:
        raise Unavailable(f"附件文件不可读 / attachment file unreadable: {exc}") from exc
    return data, att["content_type"], att["filename"] or Path(att["path"]).name


def decode_photo(item: dict[str, Any]) -> tuple[str | None, bytes]:
    """A JSON photo ``{"filename": ..., "content_base64": ...}`` -> (name, bytes)."""
    try:
        return item.get("filename"), base64.b64decode(item["content_base64"], validate=True)
    except (KeyError, ValueError) as exc:
        raise InvalidInput("照片须为 {filename, content_base64} / a photo is {filename, "
                           "content_base64 (base64)}", field="photos") from exc


# ---------------------------------------------------------------- bulk import

# Column headers of hotline exports (Chinese or English) -> Report fields.
