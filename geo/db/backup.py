"""Backups of a Wangge database: ``pg_dump`` custom format out, ``pg_restore`` back in.

``backup(url, file)`` writes one compressed custom-format archive (schema, data, the PostGIS
extension entry and the Alembic revision). ``restore(url, file)`` replaces the database's
objects with the archive's in ONE transaction (``--clean --if-exists --single-transaction
--exit-on-error``): it either fully succeeds or leaves the database as it was.
``fingerprint(conn)`` gives, per table, the row count and the md5 of the rows in a stable
order, so that two databases can be compared table by table.

The PostgreSQL client programs are taken from ``WANGGE_PG_BIN`` (default
``/usr/lib/postgresql/15/bin``, the server's major version), then from ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, make_url, text

from geo.errors import InvalidInput, Unavailable

PG_BIN = Path(os.environ.get("WANGGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


class BackupError(RuntimeError):
    """pg_dump / pg_restore failed; the message carries their stderr."""


def pg_program(name: str) -> str:
    """Path of a PostgreSQL client program (``pg_dump``, ``pg_restore``)."""
    candidate = PG_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise Unavailable(
        f"找不到 {name}: 请安装 postgresql-client-15 或设置 WANGGE_PG_BIN / {name} not found: "
        f"install postgresql-client-15 or set WANGGE_PG_BIN"
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as a libpq connection URI."""
    u = make_url(url)
    if not u.drivername.startswith("postgresql") and not u.drivername.startswith("postgres"):
        raise InvalidInput(f"不是 PostgreSQL 地址 / not a PostgreSQL URL: {u.drivername}")
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, text=True, capture_output=True, check=False)
    if res.returncode != 0:
        shown = [c if not c.startswith("--dbname=") else "--dbname=***" for c in cmd]
        raise BackupError(
            f"{Path(cmd[0]).name} 失败 / failed (exit {res.returncode}): {' '.join(shown)}\n"
            f"{res.stderr.strip()[-4000:]}"
        )
    return res


def backup(url: str, file: Path) -> dict[str, Any]:
    """Dump the database at ``url`` into ``file`` (custom format); return file facts.

    The archive is first written next to ``file`` and renamed when complete, so a failed or
    interrupted backup never leaves a truncated file under the final name.
    """
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    try:
        _run([pg_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={partial}", f"--dbname={libpq_url(url)}"])
        os.replace(partial, file)
    finally:
        if partial.exists():
            partial.unlink()
    listing = _run([pg_program("pg_restore"), "--list", str(file)]).stdout
    tables = sum(1 for line in listing.splitlines() if " TABLE DATA " in line)
    return {"file": str(file), "bytes": file.stat().st_size, "tables_with_data": tables}


def restore(url: str, file: Path) -> dict[str, Any]:
    """Restore ``file`` into the database at ``url``, replacing the objects it contains.

    One transaction: on any error nothing is changed. Objects that are not in the archive
    (e.g. a table created after the backup) are left alone.
    """
    file = Path(file)
    if not file.is_file():
        raise InvalidInput(f"备份文件不存在 / backup file not found: {file}")
    # Validate the archive before touching the database.
    _run([pg_program("pg_restore"), "--list", str(file)])
    _run([pg_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={libpq_url(url)}", str(file)])
    from geo.auth.changes import auth_changed
    from geo.db.engine import get_engine

    with get_engine(url).begin() as conn:  # users, sessions and assignments are the archive's
        auth_changed(conn)
    return {"file": str(file), "bytes": file.stat().st_size}


def user_tables(conn: Connection) -> list[str]:
    """Schema-qualified user tables (PostGIS's own catalogue tables excluded)."""
    rows = conn.execute(text("""
        SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
          AND NOT (n.nspname = 'public' AND c.relname = 'spatial_ref_sys')
        ORDER BY 1
    """)).scalars().all()
    return [str(r) for r in rows]


def fingerprint(conn: Connection) -> dict[str, tuple[int, str]]:
    """Per table: (row count, md5 of all rows as text in sorted order)."""
    out: dict[str, tuple[int, str]] = {}
    for table in user_tables(conn):
        schema, name = table.split(".", 1)
        q = f'"{schema}"."{name}"'
        row = conn.execute(text(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') "
            f"FROM {q} t"
        )).one()
        out[table] = (int(row[0]), str(row[1]))
    return out
