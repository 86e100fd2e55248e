"""Typed FastAPI dependencies: settings, database connection, common query parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from api.settings import Settings
from geo.access import ANONYMOUS_COMMAND, Principal


def get_settings(request: Request) -> Settings:
    """The app's settings (built by the factory)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    """The app's engine (opened in the lifespan)."""
    return request.app.state.engine  # type: ignore[no-any-return]


def get_conn(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """A connection in a transaction, committed when the handler returns without error.

    Used with ``scope="function"`` (``ConnDep``): the commit happens BEFORE the response is
    sent, so a failed commit (database gone) becomes a 503 instead of a 200 for a write that
    was lost, or a connection dropped half-way through the answer.
    """
    with engine.begin() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ConnDep = Annotated[Connection, Depends(get_conn, scope="function")]


async def get_principal(request: Request) -> Principal:
    """The caller. Until access control lands (issue 8), every caller is the command centre.

    Issue 8 replaces this with token authentication; endpoints only depend on the contract in
    ``geo.access``. ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool,
    a thread hop on every request (measured on GET /cells/at by scripts/bench/lookup.py).
    """
    principal = getattr(request.state, "principal", None)
    return principal if principal is not None else ANONYMOUS_COMMAND


PrincipalDep = Annotated[Principal, Depends(get_principal)]
