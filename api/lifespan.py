"""Every resource the app holds, opened and closed in one place.

- the SQLAlchemy engine (``app.state.engine``), used by every route;
- the asyncpg pool for the hot "which cell" round trip (``app.state.lookup_pool``, read by
  ``GET /cells/at`` and the hot path).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import make_url

from geo.db.engine import get_engine, normalize_url

log = logging.getLogger("wangge")


async def open_lookup_pool(database_url: str) -> Any:
    """An asyncpg pool for ``GET /cells/at``, or None when asyncpg cannot make one.

    ``min_size=0``: nothing connects at start-up, so the app starts with the database down
    (the lookup then falls back to the SQLAlchemy path, which answers 503).
    """
    try:
        import asyncpg

        url = make_url(normalize_url(database_url))
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return await asyncpg.create_pool(dsn, min_size=0, max_size=8,
                                         max_inactive_connection_lifetime=60.0)
    except Exception as exc:  # noqa: BLE001 - the sync path still works without the pool
        log.warning("no asyncpg pool for lookups: %s", exc.__class__.__name__)
        return None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the engine and the lookup pool; close both when the app stops."""
    settings = app.state.settings
    app.state.engine = get_engine(settings.database_url)
    pool = await open_lookup_pool(settings.database_url)
    app.state.lookup_pool = pool
    try:
        yield
    finally:
        app.state.lookup_pool = None
        if pool is not None:
            await pool.close()
        app.state.engine.dispose()
