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


def register(main: click.Group) -> None:
    """Attach the backup/restore commands to the ``db`` group."""
    db = main.commands.get("db")
    if isinstance(db, click.Group):
        db.add_command(db_backup)
        db.add_command(db_restore)
