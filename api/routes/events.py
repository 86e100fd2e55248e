"""Live case events (实时事件流): ``GET /events``, server-sent events scoped to the caller.

Each message: ``id: <position>``, ``event: incident``, ``data: {LiveEvent JSON}``.
Fed by PostgreSQL ``LISTEN/NOTIFY`` (:mod:`api.live`), so an event committed through any app
process reaches every stream. ``Last-Event-ID`` (header, as ``EventSource`` sends it on
reconnecting, or ``?last_event_id=``) replays the missed events of the caller's scope, at most
:data:`geo.notify.events.REPLAY_MAX`, then ``event: reset`` (reload your list). A ``reset``
also comes when this process may have missed events (listener reconnected, client too slow).
Alerts for the command centre (超期告警, 返工告警, 超期升级: the outbox's overdue, rework and
escalation messages, :mod:`geo.notify.rules`) come as ``event: alert`` to the callers who may see
the case; more than :data:`geo.notify.events.COALESCE_AT` arriving together (a scan over a
backlog, a replay) come as one ``event: alerts`` (count per rule, the newest few); the dispatch
map and the wall screen raise them in the alarm banner.

Every message's ``id:`` is the stream's position ``<event id>:<alert id>``
(:class:`geo.notify.events.Cursor`; the first one is sent as soon as the stream opens): sent back
as ``Last-Event-ID``, the missed case events and alerts of the caller's scope are replayed, each
once. A plain ``<event id>`` (as before alerts had ids) replays the case events only.
A comment line every :data:`HEARTBEAT_S` seconds keeps proxies from closing the stream.
A stream ends with ``event: logout`` once its caller's login no longer holds (logged out,
disabled, token revoked or expired, no longer a role that reads cases): see :mod:`api.live`.

A client that leaves costs nothing more: the replay is sent :data:`REPLAY_BATCH` messages to a
write, and before each write and each live message the stream gives the event loop a turn and
asks whether the client is still there (a write into a closed connection is not even tried,
so the server logs nothing; review round 8, M1). Opening a stream counts against the caller's
expensive-endpoint budget (``dependencies=[EXPENSIVE]``: the rate limit keyed on the resolved
principal, :class:`api.middleware.security.RateLimit`): a replay reads up to
:data:`geo.notify.events.REPLAY_MAX` events.
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
from api.live import CLOSE, RECHECK, RESET, Alerts, EventHub
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
REPLAY_BATCH = 50  # replayed messages sent in one write

_SSE = {200: {"description": "text/event-stream: `id:` the stream's position `<event id>:"
              "<alert id>` (send it back as Last-Event-ID), `event: incident`, `data:` a "
              "LiveEvent; `event: alert`: an overdue, rework or escalation alert (rule, "
              "rule_name 超期告警/返工告警/超期升级, the case); `event: alerts`: many alerts "
              "at once (count, by_rule, newest); `event: reset` when the client must reload "
              "its list",
              "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def _message(principal: Principal, row: dict[str, Any], crs: str | None,
             at: events.Cursor) -> str:
    data = json.dumps(events.event_json(principal, row, crs), ensure_ascii=False)
    return f"id: {at.text()}\nevent: incident\ndata: {data}\n\n"


def _alerts(principal: Principal, rows: list[dict[str, Any]], crs: str | None,
            at: events.Cursor) -> str:
    """Alerts that came together (visible, oldest first): one message each, or one summary
    past :data:`geo.notify.events.COALESCE_AT`."""
    if len(rows) > events.COALESCE_AT:
        data = json.dumps(events.alert_summary(principal, rows, crs), ensure_ascii=False)
        return f"id: {at.text()}\nevent: alerts\ndata: {data}\n\n"
    out = []
    for r in rows:
        data = json.dumps(events.alert_json(principal, r, crs), ensure_ascii=False)
        out.append(f"id: {events.Cursor(at.event, r['alert_id']).text()}\nevent: alert\n"
                   f"data: {data}\n\n")
    return "".join(out)


async def _gone(request: Request) -> bool:
    """True once the client has left: the event loop gets a turn first, so that a connection
    lost during the last write is known before the next one is tried."""
    await asyncio.sleep(0)
    return await request.is_disconnected()


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


def _replay(engine: Engine, rls: bool, principal: Principal, after: events.Cursor | None
            ) -> tuple[events.Cursor, list[dict[str, Any]], list[dict[str, Any]], bool]:
    """The stream's starting position and what the caller missed after it (case events,
    alerts, and whether there was more than a replay holds)."""
    with engine.begin() as conn:
        if rls:
            set_db_scope(conn, principal)
        if after is None:  # a new stream: from now on
            return events.Cursor(events.last_id(conn), events.last_alert_id(conn)), [], [], False
        rows, more = events.replay(conn, principal, after.event)
        alerts: list[dict[str, Any]] = []
        if after.alert is None:  # a plain event id: case events only, alerts from now on
            after = replace(after, alert=events.last_alert_id(conn))
        else:
            alerts, more_alerts = events.replay_alerts(conn, principal, after.alert)
            more = more or more_alerts
        return after, rows, alerts, more


@router.get("/events", dependencies=[READ_INCIDENTS, EXPENSIVE],  # a stream, a replay
            summary="Live case events (SSE) / 实时事件流",
            responses=ok(schemas_events.LiveEvent, "Each message's data") | _SSE,
            response_model=None)
async def get_events(
    request: Request, principal: PrincipalDep,
    last_event_id: Annotated[str | None, Query(
        max_length=40, description="Replay the events and alerts after this position "
        "(`<event id>:<alert id>` or `<event id>`, as the Last-Event-ID header)")] = None,
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
    after: events.Cursor | None = None
    for name, value in (("last_event_id", last_event_id),
                        ("Last-Event-ID", last_event_id_header)):
        if value:
            after = events.Cursor.parse(value, MAX_EVENT_ID)
            if after is None:
                raise InvalidInput(
                    f"{name} 应为流位置 '<事件编号>:<告警编号>' 或事件编号 (数字), "
                    f"请原样发回上一条消息的 id / {name} must be a stream position "
                    "'<event id>:<alert id>' or an event id (digits): send back the last "
                    "message's id as it came",
                    field=name)
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
            at, rows, alerts, more = await anyio.to_thread.run_sync(
                _replay, engine, rls, principal, after)
            replayed = {row["event_id"] for row in rows}  # never twice: replay, then live
            seen_alerts = {a["alert_id"] for a in alerts}
            for start in range(0, len(rows), REPLAY_BATCH):
                if await _gone(request):
                    return
                chunk = []
                for row in rows[start:start + REPLAY_BATCH]:
                    at = replace(at, event=max(at.event, row["event_id"]))
                    chunk.append(_message(principal, row, crs, at))
                yield "".join(chunk)
                hub.replayed += len(chunk)
            if await _gone(request):
                return
            if alerts:
                at = replace(at, alert=max(at.alert or 0, *(a["alert_id"] for a in alerts)))
                yield _alerts(principal, alerts, crs, at)
            if more:
                yield _reset("too_many")
            if not rows and not alerts:
                yield f"id: {at.text()}\n\n"  # the position, for a reconnect before any event
            loop = asyncio.get_running_loop()
            end = loop.time() + max_s if max_s is not None else None
            while not hub.closing.is_set():
                if await _gone(request):
                    break
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
                elif isinstance(item, Alerts):  # overdue, rework, escalation (geo.notify.rules)
                    new = [a for a in item.rows if a["alert_id"] not in seen_alerts
                           and events.visible(caller, a)]
                    seen_alerts.update(a["alert_id"] for a in new)
                    if new:
                        at = replace(at, alert=max(at.alert or 0,
                                                   *(a["alert_id"] for a in new)))
                        yield _alerts(caller, new, crs, at)
                elif item["event_id"] not in replayed and events.visible(caller, item):
                    at = replace(at, event=max(at.event, item["event_id"]))
                    yield _message(caller, item, crs, at)
        finally:
            hub.close(stream)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
