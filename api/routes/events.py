"""Live case events (实时事件流): ``GET /events``, server-sent events scoped to the caller.

Each message: ``id: <incident_event.id>``, ``event: incident``, ``data: {LiveEvent JSON}``.
Fed by PostgreSQL ``LISTEN/NOTIFY`` (:mod:`api.live`), so an event committed through any app
process reaches every stream. ``Last-Event-ID`` (header, as ``EventSource`` sends it on
reconnecting, or ``?last_event_id=``) replays the missed events of the caller's scope, at most
:data:`geo.notify.events.REPLAY_MAX`, then ``event: reset`` (reload your list). A ``reset``
also comes when this process may have missed events (listener reconnected, client too slow).
Alerts for the command centre (超期告警, 返工告警, 超期升级: the outbox's overdue, rework and
escalation messages, :mod:`geo.notify.rules`) come as ``event: alert`` (no ``id:``, not replayed)
to the callers who may see the case; the dispatch map and the wall screen raise them in the
alarm banner.
A comment line every :data:`HEARTBEAT_S` seconds keeps proxies from closing the stream.
A stream ends with ``event: logout`` once its caller's login no longer holds (logged out,
disabled, token revoked or expired, no longer a role that reads cases): see :mod:`api.live`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Engine

from api.deps import (
    EXPENSIVE,
    INCIDENT_ROLES,
    READ_INCIDENTS,
    PrincipalDep,
    request_token,
    resolve_principal,
)
from api.live import CLOSE, RECHECK, RESET, EventHub
from api.schemas import events as schemas_events
from api.schemas import ok
from geo.auth.principal import Principal
from geo.auth.rls import set_db_scope
from geo.crs.names import normalize_crs
from geo.errors import InvalidInput, Unauthorized, Unavailable
from geo.notify import events

router = APIRouter(tags=["events 实时事件"])
HEARTBEAT_S = 15.0
MAX_EVENT_ID = 2**63 - 1  # incident_event.id is a bigint
RETRY_MS = 3000

_SSE = {200: {"description": "text/event-stream: `id:` event id, `event: incident`, `data:` "
              "a LiveEvent; `event: alert` (no id): an overdue, rework or escalation alert "
              "(rule, rule_name 超期告警/返工告警/超期升级, the case); `event: reset` when the "
              "client must reload its list",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def _message(principal: Principal, row: dict[str, Any], crs: str | None) -> str:
    data = json.dumps(events.event_json(principal, row, crs), ensure_ascii=False)
    return f"id: {row['event_id']}\nevent: incident\ndata: {data}\n\n"


def _alert(principal: Principal, row: dict[str, Any], crs: str | None) -> str:
    data = json.dumps(events.alert_json(principal, row, crs), ensure_ascii=False)
    return f"event: alert\ndata: {data}\n\n"


def _reset(reason: str) -> str:
    data = json.dumps({"reason": reason,
                       "message": "可能漏收了事件, 请重新加载列表 / events may have been "
                                  "missed: reload the list"}, ensure_ascii=False)
    return f"event: reset\ndata: {data}\n\n"


def _logout() -> str:
    data = json.dumps({"message": "登录已失效, 实时事件流结束, 请重新登录 / your login no longer "
                                  "holds: the stream ends, log in again"}, ensure_ascii=False)
    return f"event: logout\ndata: {data}\n\n"


def _still(request: Request, token: str | None, principal: Principal) -> Principal | None:
    """The stream's caller resolved again from the database (never the principal cache, which
    may not have heard the change yet), or None when the login no longer holds."""
    if token is None:
        return principal
    try:
        now = resolve_principal(request.app.state.engine, request.app.state.settings, token)
    except Unauthorized:
        return None
    if now.role not in INCIDENT_ROLES:
        return None
    return replace(now, unmask=principal.unmask)


def _replay(engine: Engine, rls: bool, principal: Principal, after: int
            ) -> tuple[list[dict[str, Any]], bool]:
    with engine.begin() as conn:
        if rls:
            set_db_scope(conn, principal)
        return events.replay(conn, principal, after)


@router.get("/events", dependencies=[READ_INCIDENTS, EXPENSIVE],  # a stream, a replay
            summary="Live case events (SSE) / 实时事件流",
            responses=ok(schemas_events.LiveEvent, "Each message's data") | _SSE,
            response_model=None)
async def get_events(
    request: Request, principal: PrincipalDep,
    last_event_id: Annotated[int | None, Query(
        ge=0, le=MAX_EVENT_ID,
        description="Replay the events after this id (as the Last-Event-ID header)")
    ] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    crs: Annotated[str | None, Query(
        description="lon/lat in this CRS: EPSG:4490 (default), EPSG:4326, GCJ02, BD09")] = None,
    max_s: Annotated[float | None, Query(
        gt=0, le=86_400, description="End the stream after this many seconds (scripts, "
        "tests; EventSource reconnects with Last-Event-ID)")] = None,
) -> Any:
    """Case changes in your scope as they are committed (text/event-stream).

    A grid worker sees the events of her cells, a department those of its cases, the command
    centre all; fields masked as in ``GET /incidents``. At most ``WANGGE_EVENTS_MAX_PER_USER``
    (default 5) streams per user at once (429)."""
    if crs is not None:
        normalize_crs(crs)  # 422 for an unknown CRS, before the stream starts
    after = last_event_id
    if last_event_id_header:
        value = last_event_id_header.strip()
        if not (value.isascii() and value.isdigit()) or len(value) > 19 \
                or int(value) > MAX_EVENT_ID:
            raise InvalidInput("Last-Event-ID 应为事件编号 / Last-Event-ID must be an event id",
                               field="Last-Event-ID")
        after = int(last_event_id_header.strip())
    hub: EventHub | None = getattr(request.app.state, "events_hub", None)
    if hub is None:
        raise Unavailable("实时事件流未启动 / the live event stream is not running")
    token = request_token(request)
    stream = hub.open(principal.user, principal.user_id)
    if stream is None:
        return JSONResponse(status_code=429, content={
            "detail": f"同一用户最多同时打开 {hub.max_per_user} 个实时事件流, 请先关闭其他页面 "
                      f"/ at most {hub.max_per_user} event streams per user at once: close "
                      "another page first"})
    engine: Engine = request.app.state.engine
    rls = bool(request.app.state.settings.db_rls)

    async def body() -> AsyncIterator[str]:
        caller = principal
        try:
            yield f"retry: {RETRY_MS}\n\n"
            replayed: set[int] = set()
            if after is not None:
                rows, more = await anyio.to_thread.run_sync(_replay, engine, rls, principal,
                                                             after)
                for row in rows:
                    replayed.add(row["event_id"])
                    yield _message(principal, row, crs)
                if more:
                    yield _reset("too_many")
            loop = asyncio.get_running_loop()
            end = loop.time() + max_s if max_s is not None else None
            while not hub.closing.is_set():
                expires = (None if caller.expires_at is None
                           else loop.time() + caller.expires_at - time.time())
                if expires is not None and expires <= 0:
                    yield _logout()
                    break
                left = None if end is None else end - loop.time()
                if left is not None and left <= 0:
                    break
                wait = min(x for x in (HEARTBEAT_S, left, expires) if x is not None)
                try:
                    item = await asyncio.wait_for(stream.queue.get(), wait)
                except TimeoutError:
                    item = None
                if item is None or item == RECHECK:
                    if item == RECHECK or not hub.live:  # a change, or changes may be missed
                        now = await anyio.to_thread.run_sync(_still, request, token, caller)
                        if now is None:
                            yield _logout()
                            break
                        caller = now
                    if item is None and (end is None or loop.time() < end):
                        yield ": ping\n\n"
                    continue
                if item == CLOSE:
                    break
                if item == RESET:
                    yield _reset("missed")
                elif "alert_id" in item:  # overdue, rework, escalation (geo.notify.rules)
                    if events.visible(caller, item):
                        yield _alert(caller, item, crs)
                elif item["event_id"] not in replayed and events.visible(caller, item):
                    yield _message(caller, item, crs)
        finally:
            hub.close(stream)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
