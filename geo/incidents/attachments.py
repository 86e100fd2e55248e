"""Photos of a case: checked by magic bytes and size, stored under ``<data_dir>/attachments``."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from geo import localtime
from geo.auth.principal import Principal
from geo.errors import InvalidInput, NotFound, TooLarge, Unavailable, WanggeError
from geo.incidents.cases import add_event, fetch
from geo.incidents.codes import is_safe_code

log = logging.getLogger(__name__)

_MAGIC: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 9
MAX_NAME = 200  # incident_attachment.filename is varchar(200)


def photo_name(name: str | None) -> str | None:
    """A photo's file name as stored and sent back: its base name only (``../../etc/x.png``
    -> ``x.png``, either slash; ``.`` and ``..`` are no name), control and bidirectional
    characters (NUL, U+202E ...) replaced, cut to :data:`MAX_NAME` characters keeping its
    extension (review round 3, R15; round 8, L8)."""
    if name is None:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c if c.isprintable() else "_" for c in base).strip()
    if clean in (".", ".."):
        return None
    if len(clean) > MAX_NAME:
        stem, dot, ext = clean.rpartition(".")
        ext = ext if dot and stem and len(ext) <= 10 else ""
        clean = clean[:MAX_NAME - len(ext) - 2].rstrip() + "…" + (f".{ext}" if ext else "")
    return clean or None


def check_photos(photos: list[tuple[str | None, bytes]], max_bytes: int = MAX_PHOTO_BYTES
                 ) -> list[tuple[str | None, bytes, str]]:
    """Photos as ``(name as stored, bytes, content type)``, each checked by
    :func:`sniff_image`; called before anything is stored."""
    return [(photo_name(n), d, sniff_image(d, n, max_bytes)) for n, d in photos]


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
    made: list[Path] | None = None,
) -> dict[str, Any]:
    """Record a checked photo (and an event) on the incident and write it to the store.

    The rows are inserted before the file is written; a file this call creates is appended
    to ``made`` so that the caller can remove it when the transaction fails
    (:func:`removed_on_failure`).
    """
    row = fetch(conn, incident_id, principal, lock=True)
    filename = photo_name(filename)
    digest = hashlib.sha256(data).hexdigest()
    rel = store_path(row, f"{digest[:20]}.{_EXT[content_type]}", attachments_dir)
    event_id = add_event(conn, row, "attachment", principal.user, localtime.now(), event_note,
                         {"filename": filename, "sha256": digest, "bytes": len(data)})
    att_id = conn.execute(text(
        "INSERT INTO incident_attachment (region_code, incident_id, event_id, filename, "
        "content_type, size_bytes, sha256, path, uploaded_by) VALUES (:r, :i, :e, :f, :ct, "
        ":n, :h, :p, :u) RETURNING id"),
        {"r": row["region_code"], "i": row["id"], "e": event_id, "f": filename,
         "ct": content_type, "n": len(data), "h": digest, "p": str(rel),
         "u": principal.user}).scalar_one()
    target = attachments_dir / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        if not existed and made is not None:
            made.append(target)
    except OSError as exc:
        raise Unavailable(
            f"附件存储不可写 ({attachments_dir}: {exc.strerror or exc}), 照片未保存, 事件 "
            f"{row['code']} 已保留; 请联系管理员后重新上传 / the attachment store "
            f"{attachments_dir} cannot be written ({exc.strerror or exc.__class__.__name__}): "
            f"the photo was not saved, incident {row['code']} is kept; upload it again later",
            incident=row["code"],
        ) from exc
    return {"id": att_id, "filename": filename, "content_type": content_type,
            "size_bytes": len(data), "sha256": digest}


def store_path(row: dict[str, Any], name: str, attachments_dir: Path) -> Path:
    """The path of a case's file relative to the store: ``<region>/<code>/<name>``, or
    ``<region>/id-<id>/<name>`` for a code that cannot name a folder (a code stored before
    imports checked them: ``../../tmp/x``, ``/tmp/x``); never outside the store (review
    round 3, R10)."""
    code = str(row["code"])
    folder = code if is_safe_code(code) else f"id-{int(row['id'])}"
    rel = Path(str(row["region_code"])) / folder / name
    base = attachments_dir.resolve()
    if rel.is_absolute() or not (base / rel).resolve().is_relative_to(base):
        raise InvalidInput(f"附件路径无效 / attachment path outside the store: {rel}",
                           field="incident")
    return rel


@contextmanager
def removed_on_failure() -> Iterator[list[Path]]:
    """A list for :func:`store_attachment` to name the files it creates; they are removed
    when the block fails (a transaction rolled back leaves no file without its row)."""
    made: list[Path] = []
    try:
        yield made
    except BaseException:
        for p in made:
            p.unlink(missing_ok=True)
        raise


def store_photos(engine: Engine, incident_id: int,
                 checked: list[tuple[str | None, bytes, str]], principal: Principal,
                 attachments_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Store checked photos of a case that is already kept, each in its own transaction.

    Returns the stored attachments and, for each photo that could not be stored, its name
    and the reason (``attachment_errors`` of the answer: the case is never lost to a photo).
    """
    stored: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for name, data, ctype in checked:
        try:
            with removed_on_failure() as made, engine.begin() as conn:
                stored.append(store_attachment(conn, incident_id, name, data, ctype,
                                               attachments_dir, principal, made=made))
        except WanggeError as exc:
            errors.append({"filename": name, "error": exc.message})
        except SQLAlchemyError as exc:
            log.warning("photo %r of incident %s not stored: %s", name, incident_id, exc)
            errors.append({"filename": name, "error": (
                "照片未保存 (数据库错误), 事件已保留, 请重新上传 / the photo was not saved "
                f"(database error {exc.__class__.__name__}); the case is kept: upload it "
                "again")})
    return stored, errors


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
    checked = check_photos(photos, max_photo_bytes)
    out = []
    with removed_on_failure() as made, engine.begin() as conn:
        row = fetch(conn, incident_id, principal)
        for n, d, ct in checked:
            out.append(store_attachment(conn, int(row["id"]), n, d, ct, attachments_dir,
                                        principal, note, made=made))
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
    base = attachments_dir.resolve()
    path = (base / att["path"]).resolve()
    if not path.is_relative_to(base):
        raise NotFound(f"附件 {attachment_id} 不存在 / attachment {attachment_id} not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unavailable(f"附件文件不可读 / attachment file unreadable: {exc}") from exc
    return data, att["content_type"], photo_name(att["filename"]) or Path(att["path"]).name


def decode_photo(item: dict[str, Any]) -> tuple[str | None, bytes]:
    """A JSON photo ``{"filename": ..., "content_base64": ...}`` -> (name, bytes)."""
    try:
        return item.get("filename"), base64.b64decode(item["content_base64"], validate=True)
    except (KeyError, ValueError) as exc:
        raise InvalidInput("照片须为 {filename, content_base64} / a photo is {filename, "
                           "content_base64 (base64)}", field="photos") from exc


# ---------------------------------------------------------------- bulk import

# Column headers of hotline exports (Chinese or English) -> Report fields.
