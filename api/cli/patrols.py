"""``wangge patrols ...``: retention of patrol tracks and check-ins (personal location data)."""

from __future__ import annotations

import json

import click

from api.settings import Settings


def register(main: click.Group) -> None:
    """Attach the ``patrols`` group to the ``wangge`` CLI."""

    @main.group()
    def patrols() -> None:
        """Patrols (巡查): tracks and check-ins."""

    @patrols.command("purge")
    @click.option("--older-than-days", type=click.IntRange(min=1), default=None,
                  help="Delete patrols started and check-ins made more than N days ago "
                  "(default: WANGGE_PATROL_RETENTION_DAYS, else 180).")
    @click.option("--region", default=None, help="Only this region (default: every region).")
    @click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
    def purge(older_than_days: int | None, region: str | None, dry_run: bool) -> None:
        """Delete patrol data older than the retention period (一次事务 / one transaction)."""
        from geo.db.engine import get_engine
        from geo.errors import WanggeError
        from geo.patrols.retention import purge as do_purge

        settings = Settings.from_env()
        days = older_than_days or settings.patrol_retention_days
        engine = get_engine(settings.database_url)
        try:
            with engine.begin() as conn:
                out = do_purge(conn, days, region, dry_run)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        verb = "将删除 / would delete" if dry_run else "已删除 / deleted"
        click.echo(f"{verb}: {out['patrols']} 次巡查 / patrols, {out['points']} 个轨迹点 / "
                   f"points, {out['checkins']} 次签到 / check-ins (早于 / before "
                   f"{out['cutoff']}, {days} 天 / days)")
        click.echo(json.dumps(out, ensure_ascii=False))
