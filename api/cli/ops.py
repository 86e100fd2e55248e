"""Operations commands: ``wangge db backup FILE`` / ``wangge db restore FILE``.

Both work on ``WANGGE_DATABASE_URL`` or, when it is unset, the project-local cluster
(``wangge db start``).
"""

from __future__ import annotations

from pathlib import Path

import click

from api.settings import Settings


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


def register(main: click.Group) -> None:
    """Attach the backup/restore and shard commands to the ``db`` group."""
    db = main.commands.get("db")
    if isinstance(db, click.Group):
        db.add_command(db_backup)
        db.add_command(db_restore)
        db.add_command(db_shard)
