"""Assemble the Wangge app: ``create_app(settings)``; the lifespan opens and closes the engine."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.hot_path import CellAtHotPath
from api.security import install_security
from api.settings import Settings, check_secret
from geo.db import get_engine

# Routers, one module per resource. Modules added by later work register here.
ROUTERS = [
    "api.routes.meta",
    "api.routes.cells",
    "api.routes.analysis",
    "api.routes.ogc",
    "api.routes.cells_batch",
    "api.routes.spatial",
    "api.routes.tiles",
    "api.routes.importexport",
    "api.routes.incidents",
    "api.routes.maps",
    "api.routes.auth",
    "api.routes.audit",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    check_secret(settings)  # outside demo mode: no default secret

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = get_engine(settings.database_url)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="Wangge 网格 API",
        version="0.1.0",
        description=(
            "网格化服务管理: 网格、小区、摄像头与事件的空间数据服务。\n\n"
            "Grid-management service for county command centres: grid cells, compounds, "
            "cameras and incidents in PostGIS (CGCS2000, EPSG:4490)."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings.database_url)
    install_error_handlers(app)
    install_security(app, settings)
    app.add_middleware(CellAtHotPath)  # outermost: anonymous GET /cells/at skips the stack
    for name in ROUTERS:
        module: Any = importlib.import_module(name)
        app.include_router(module.router)
    return app
