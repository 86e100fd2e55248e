"""The ``wangge`` command line: database, demo, server (and, in sub-modules, the rest)."""

from __future__ import annotations

import sys

import click

from api.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Wangge 网格: grid-management service for county command centres."""


@main.group()
def db() -> None:
    """The database: local PostGIS cluster, migrations, backups."""


@db.command("start")
def db_start() -> None:
    """Start the project-local PostGIS (creates it the first time)."""
    from api import localdb

    s = _settings()
    if _uses_external_db():
        click.echo("WANGGE_DATABASE_URL is set: nothing to start.")
        return
    try:
        click.echo(localdb.start(s.data_dir, s.pg_port))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


@db.command("stop")
def db_stop() -> None:
    """Stop the project-local PostGIS."""
    from api import localdb

    click.echo(localdb.stop(_settings().data_dir))


@db.command("status")
def db_status() -> None:
    """Say whether the database answers, which schema revision it has, where each county
    lives and whether each shard answers (exit status 1 when one does not)."""
    from api import localdb
    from geo.db.engine import get_engine
    from geo.db.migrate import current_revision

    s = _settings()
    if not _uses_external_db():
        running, msg = localdb.status(s.data_dir)
        click.echo(f"local cluster: {'running' if running else 'stopped'} ({msg})")
    try:
        rev = current_revision(get_engine(s.database_url))
    except Exception as exc:  # noqa: BLE001 - report any connection problem plainly
        raise click.ClickException(f"database does not answer: {exc.__class__.__name__}") from exc
    click.echo(f"database: {s.database_url.split('@')[-1]} revision {rev or '(empty)'}")
    from api.cli.ops import echo_shard_reachability
    from geo.db import shards

    with get_engine(s.database_url).connect() as conn:
        where = shards.placement(conn) if shards.is_federated(conn) else []
        servers = shards.shards_of(conn)
    if not where:
        click.echo("区县都在本库 / every county is in this database (no shard)")
    for p in where:
        click.echo(f"区县 {p['region']}: 分片 {p['shard']} ({p['where'].split(' extensions')[0]}), "
                   f"{p['tables']} 张表 / tables")
    down = echo_shard_reachability(servers)
    if down:
        raise click.ClickException(f"{down} 个分片不可达: 其区县的请求答 503 / {down} shard(s) "
                                   "unreachable: requests for their counties answer 503")


@db.command("migrate")
def db_migrate() -> None:
    """Apply the schema migrations (idempotent)."""
    from geo.db import shards
    from geo.db.engine import get_engine
    from geo.db.migrate import current_revision, upgrade

    s = _settings()
    engine = get_engine(s.database_url)
    with engine.connect() as conn:
        parts = shards.shards_of(conn) if shards.is_federated(conn) else []
    if parts:  # all shards or none: one left behind would be on another revision
        from api.cli.ops import echo_shard_reachability

        down = echo_shard_reachability(parts)
        if down:
            raise click.ClickException(
                f"{down} 个分片不可达, 未迁移任何库: 请先恢复它们再迁移 / {down} shard(s) do "
                "not answer; nothing was migrated: bring them back, then migrate")
    for shard in parts:  # each shard is a whole Wangge database: migrated first, the same way
        upgrade(get_engine(shard.url))
        click.echo(f"分片 {shard.name} ({', '.join(shard.regions)}): schema at revision "
                   f"{current_revision(get_engine(shard.url))}")
    upgrade(engine)
    click.echo(f"schema at revision {current_revision(engine)}")
    if parts:
        with engine.begin() as conn:
            n = shards.analyze(conn)
        click.echo(f"已更新 {n} 张分片外部表的统计 / statistics of {n} shard tables refreshed")


@main.group()
def demo() -> None:
    """The Xing County (兴县) demo data (synthetic content on a real boundary)."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Only load when the database holds no region.")
@click.option("--seed", default=20221, show_default=True, help="Random seed (deterministic).")
@click.option("--incidents", default=20_000, show_default=True, help="Number of incidents.")
@click.option("--region", help="Fill this county, created by `wangge region add`, with synthetic "
              "content (a square grid on its real boundary) instead of loading 兴县.")
def demo_load(if_empty: bool, seed: int, incidents: int, region: str | None) -> None:
    """Load the demo county (replaces an earlier demo load), or fill --region."""
    from geo.db.engine import get_engine
    from geo.demo.county import database_is_empty, load_demo

    s = _settings()
    engine = get_engine(s.database_url)
    if region:
        from geo.demo.grid_county import fill_region
        from geo.errors import WanggeError

        try:
            totals = fill_region(engine, region, n_incidents=incidents, seed=seed,
                                 progress=click.echo)
        except WanggeError as exc:
            raise click.ClickException(exc.message) from exc
        for key, value in totals.items():
            click.echo(f"  {key}: {value}")
        from geo.demo.grid_county import PREFECTURE_USER

        click.echo(f"  市级指挥中心 / prefecture command centre (demo mode): "
                   f"{PREFECTURE_USER[0]} / {PREFECTURE_USER[1]}")
        return
    if if_empty and not database_is_empty(engine):
        click.echo("database already holds data: demo not loaded (drop --if-empty to reload)")
        return
    report = load_demo(engine, seed=seed, n_incidents=incidents, progress=click.echo)
    for key, value in report.items():
        click.echo(f"  {key}: {value}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True)
@click.option("--forwarded-allow-ips", envvar="WANGGE_FORWARDED_ALLOW_IPS", default=None,
              help="Addresses of a reverse proxy whose X-Forwarded-For is trusted; by default "
                   "none is: the client address is the TCP peer (login throttling, rate limits "
                   "and the audit log key on it)")
def serve(host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def _uses_external_db() -> bool:
    import os

    return bool(os.environ.get("WANGGE_DATABASE_URL"))


def _register_subcommands() -> None:
    """Attach the command groups, one module per group under ``api/cli/``."""
    from api.cli import (
        analyse,
        importing,
        incidents,
        lookup,
        maps,
        notify,
        ops,
        patrols,
        regions,
        reports,
        users,
    )

    for module in (lookup, importing, incidents, analyse, maps, reports, users, ops, patrols,
                   notify, regions):
        module.register(main)


_register_subcommands()

if __name__ == "__main__":
    sys.exit(main())
