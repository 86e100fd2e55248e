"""Operations commands: ``wangge db backup FILE`` / ``wangge db restore FILE``, ``wangge db
shard add``, and whether each shard answers (for ``wangge db status``).

Both work on ``WANGGE_DATABASE_URL`` or, when it is unset, the project-local cluster
(``wangge db start``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.settings import Settings

if TYPE_CHECKING:
    from geo.db.shards import Shard


def _target() -> str:
    return Settings.from_env().database_url


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(file: Path) -> None:
    """Back the database up into FILE (pg_dump custom format, compressed)."""
    from geo.db.backup import BackupError, backup
    from geo.errors import WanggeError

    try:
        info = backup(_target(), file)
    except (BackupError, WanggeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"备份完成 / backup written: {info['file']} ({info['bytes']:,} bytes, "
               f"{info['tables_with_data']} tables with data)")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_restore(file: Path, yes: bool) -> None:
    """Restore FILE into the database, replacing its tables (one transaction)."""
    from sqlalchemy import make_url

    from geo.db.backup import BackupError, restore
    from geo.errors import WanggeError

    url = _target()
    where = make_url(url).render_as_string(hide_password=True).split("@")[-1]
    if not yes:
        click.confirm(
            f"用 {file} 覆盖数据库 {where} 的数据? / Replace the data of {where} with {file}?",
            abort=True,
        )
    try:
        restore(url, file)
    except (BackupError, WanggeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"恢复完成 / restored {file} into {where}")


@click.group("shard")
def db_shard() -> None:
    """Counties on other PostgreSQL servers, read through postgres_fdw (docs/SCALING.md)."""


@db_shard.command("add")
@click.option("--url", required=True,
              help="An empty database on the other server, e.g. postgresql://u:p@host:5432/wangge")
@click.option("--regions", required=True, help="County codes to move there, e.g. 141124,141125")
@click.option("--name", default=None, help="Shard name (default: shard_<first county>).")
def db_shard_add(url: str, regions: str, name: str | None) -> None:
    """Move counties to another PostgreSQL + PostGIS server (stop writes while it runs).

    The first shard also moves the other counties to a shard ``local`` on this server."""
    import tempfile

    from geo.db import shards
    from geo.db.backup import BackupError
    from geo.errors import WanggeError

    codes = tuple(sorted({c.strip() for c in regions.split(",") if c.strip()}))
    try:
        with tempfile.TemporaryDirectory() as work:
            placed = shards.add_shard(_target(), url, codes, name or f"shard_{codes[0]}"
                                      if codes else "shard", Path(work))
    except (shards.ShardError, BackupError, WanggeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for code, shard in sorted(placed.items()):
        click.echo(f"区县 {code} -> 分片 {shard}")


PING_TIMEOUT_S = 3  # a shard that does not answer in this time is reported, never waited for


def shard_reachability(url: str, timeout_s: int = PING_TIMEOUT_S) -> str | None:
    """Whether the shard database at ``url`` answers ``SELECT 1`` (connect and statement
    time-outs of ``timeout_s`` seconds, so a dead server does not hang ``db status``): None
    when it does, else the error's class and the first line of its message (libpq's, which
    names host and port, never the password)."""
    from sqlalchemy import create_engine, exc, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, connect_args={
        "connect_timeout": timeout_s, "options": f"-c statement_timeout={timeout_s * 1000}"})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure is the answer, said plainly
        cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
        first = (str(cause).strip().splitlines() or [""])[0][:160]
        return f"{cause.__class__.__name__}: {first}" if first else cause.__class__.__name__
    finally:
        engine.dispose()
    return None


def echo_shard_reachability(shards: list[Shard]) -> int:
    """One line per shard, 在线 / online or 不可达 / unreachable with the error; returns how
    many do not answer."""
    from sqlalchemy import make_url

    down = 0
    for shard in shards:
        u = make_url(shard.url)
        err = shard_reachability(shard.url)
        down += err is not None
        state = "在线 / online" if err is None else f"不可达 / unreachable ({err})"
        click.echo(f"分片 {shard.name} ({u.host}:{u.port}/{u.database}, "
                   f"{', '.join(shard.regions) or '-'}): {state}")
    return down


def register(main: click.Group) -> None:
    """Attach the backup/restore and shard commands to the ``db`` group."""
    db = main.commands.get("db")
    if isinstance(db, click.Group):
        db.add_command(db_backup)
        db.add_command(db_restore)
        db.add_command(db_shard)
