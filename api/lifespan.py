"""Every resource the app holds, opened and closed in one place.

- the SQLAlchemy engine (``app.state.engine``), used by every route;
- the asyncpg pool for the hot "which cell" round trip (``app.state.lookup_pool``, read by
  ``GET /cells/at`` and the hot path), and one per shard for counties on other servers
  (``app.state.shard_pools``, :func:`shard_lookup_pool`);
- the principal cache and its listener (``app.state.auth_cache``, :mod:`api.auth_cache`): a
  connection of its own that listens for changes of who may see what, and also for the live
  case events (``wangge_events``) fanned out by ``app.state.events_hub`` (:mod:`api.live`) to
  the ``GET /events`` streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, make_url

from api.auth_cache import PrincipalCache, listen
from api.live import EventHub, stop_streams_on_signal
from geo.auth.changes import CHANNEL as AUTH_CHANNEL
from geo.db.engine import SERVER_DOWN, get_engine, normalize_url
from geo.notify.events import CHANNEL as EVENTS_CHANNEL

log = logging.getLogger("wangge")


def asyncpg_dsn(database_url: str) -> str:
    """``database_url`` as asyncpg takes it (plain ``postgresql://``)."""
    url = make_url(normalize_url(database_url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def open_lookup_pool(database_url: str) -> Any:
    """An asyncpg pool for ``GET /cells/at``, or None when asyncpg cannot make one.

    ``min_size=0``: nothing connects at start-up, so the app starts with the database down
    (the lookup then falls back to the SQLAlchemy path, which answers 503).
    """
    try:
        import asyncpg

        return await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=0, max_size=8,
                                         max_inactive_connection_lifetime=60.0)
    except Exception as exc:  # noqa: BLE001 - the sync path still works without the pool
        log.warning("no asyncpg pool for lookups: %s", exc.__class__.__name__)
        return None


# A shard's lookup pool cannot reach its server: the errors of :data:`SERVER_DOWN`, and the
# OSError asyncpg's connect raises for a refused connection.
DB_DOWN: tuple[type[Exception], ...] = (*SERVER_DOWN, OSError)


async def shard_lookup_pool(state: Any, engine: Engine) -> Any:
    """The asyncpg pool of the lookup for a shard's database (``engine``: from
    :func:`geo.db.shards.reader`), opened on first use and closed with the app."""
    pools = _shard_pools(state)
    pool = pools.get(engine)  # one engine per shard (geo.db.shards.shard_engine's cache)
    if pool is None:
        pool = await open_lookup_pool(engine.url.render_as_string(hide_password=False))
        if pools.setdefault(engine, pool) is not pool and pool is not None:
            await pool.close()  # another request opened one meanwhile
        pool = pools[engine]
    return pool


def _shard_pools(state: Any) -> dict[Engine, Any]:
    pools = getattr(state, "shard_pools", None)
    if pools is None:
        pools = state.shard_pools = {}
    return pools


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the engine, the lookup pool and the principal cache's listener; close them when
    the app stops."""
    settings = app.state.settings
    app.state.engine = get_engine(settings.database_url)
    pool = await open_lookup_pool(settings.database_url)
    app.state.lookup_pool = pool
    cache = app.state.auth_cache = PrincipalCache()
    hub = app.state.events_hub = EventHub(app.state.engine, settings.events_max_per_user)
    hub.start()
    stop_streams_on_signal(hub)
    listener = asyncio.create_task(listen(
        cache, asyncpg_dsn(settings.database_url),
        channels={EVENTS_CHANNEL: hub.notified, AUTH_CHANNEL: hub.auth_changed},
        on_live=hub.listening))
    try:
        yield
    finally:
        await hub.stop()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        app.state.events_hub = None
        app.state.auth_cache = None
        app.state.lookup_pool = None
        if pool is not None:
            await pool.close()
        for shard_pool in _shard_pools(app.state).values():
            if shard_pool is not None:
                await shard_pool.close()
        app.state.shard_pools = {}
        app.state.engine.dispose()
