"""Assemble the Wangge app: ``create_app(settings)``; resources live in :mod:`api.lifespan`."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.lifespan import lifespan
from api.middleware.hot_path import CellAtHotPath
from api.middleware.security import install_security
from api.routes import (
    analysis,
    audit,
    auth,
    board,
    cells,
    cells_batch,
    docs,
    events,
    importexport,
    incidents,
    kpi,
    landing,
    maps,
    me,
    meta,
    mobile,
    ogc,
    open311,
    patrols,
    profiles,
    reports,
    spatial,
    tiles,
)
from api.settings import Settings, check_secret
from geo.db.engine import get_engine

# Routers, one module per resource.
ROUTERS = [
    landing.router,  # GET /: what this is and where everything is
    meta.router,
    docs.router,  # /docs: Swagger UI served offline (FastAPI's own loads it from a CDN)
    cells.router,
    analysis.router,
    ogc.router,
    open311.router,
    cells_batch.router,
    spatial.router,
    tiles.router,
    importexport.router,
    profiles.router,  # /import/profiles: mapping profiles of import sources
    incidents.router,
    events.router,  # GET /events: live case events (SSE)
    me.router,
    patrols.router,
    board.router,
    kpi.router,
    reports.router,
    maps.router,
    mobile.router,  # /m/: the grid worker's web app (mobile/)
    auth.router,
    audit.router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    check_secret(settings)  # outside demo mode: no default secret

    app = FastAPI(
        title="Wangge 网格 API",
        version="0.1.0",
        description=(
            "网格化服务管理: 网格、小区、摄像头与事件的空间数据服务。\n\n"
            "Grid-management service for county command centres: grid cells, compounds, "
            "cameras and incidents in PostGIS (CGCS2000, EPSG:4490)."
        ),
        lifespan=lifespan,
        docs_url=None,  # api/routes/docs.py serves /docs offline; no ReDoc
        redoc_url=None,
    )
    app.state.settings = settings
    # Also before start-up, for callers that never run the lifespan (the lifespan reopens it).
    app.state.engine = get_engine(settings.database_url)
    install_error_handlers(app)
    install_security(app, settings)
    app.add_middleware(CellAtHotPath)  # outermost: anonymous GET /cells/at skips the stack
    for router in ROUTERS:
        app.include_router(router)
    return app
