"""Resolved principals kept per process, dropped at once when who-may-see-what changes.

每个进程缓存已解析的登录身份; 凭据或权限一变, 所有进程立即作废. A logged-in request used to
resolve its token in a database transaction in a worker thread (user, session, the worker's
cells now) before anything else: about 4x the cost of the lookup it asked for. Now the first
request of a token resolves it (``api.deps.resolve_principal``) and this process keeps the
:class:`~geo.auth.principal.Principal` under the token; later requests with the same token
take it from memory, also on the hot path of ``GET /cells/at``.

When a kept principal is dropped:

- **a change** announced by :func:`geo.auth.changes.auth_changed` (logout, logout everywhere,
  disable / enable, password reset, API token revoked, worker hand-over, demo reload,
  restore): PostgreSQL delivers ``NOTIFY wangge_auth`` at commit to every process, each of
  which listens on a connection of its own (:func:`listen`, started in :mod:`api.lifespan`) and
  drops that user's principals (``*``: all). In the process that made the change they are
  dropped already when it commits (an engine ``commit`` hook), before it answers anyone;
- **the listener is down** (database restarted, connection cut, heartbeat unanswered): the
  cache is off and empty, every request resolves in the database, until the listener listens
  again (it then starts empty: notifications sent meanwhile were lost with the connection);
- **time**: at the credential's expiry, at midnight China time (a worker's cells are the cells
  of the day), and after ``max_age_s`` (an API token's last use is recorded to the minute);
- a principal resolved while a change arrived is not kept (:attr:`PrincipalCache.generation`).

Refusals (401) are never kept. Without a running lifespan (no listener) nothing is kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

from geo.auth.changes import CHANNEL, EVERYONE, PENDING
from geo.auth.principal import Principal
from geo.localtime import CST

log = logging.getLogger("wangge")


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    until: float  # Unix seconds


def next_midnight_cst(now: float) -> float:
    """The next 00:00 China Standard Time after ``now`` (Unix seconds)."""
    day = dt.datetime.fromtimestamp(now, CST).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), CST).timestamp()


class PrincipalCache:
    """Principals by token, used only while :attr:`live` (the listener listens).

    Thread-safe: filled from the event loop, dropped from the listener's callback, the engine's
    commit hook (any thread) and the lifespan.
    """

    def __init__(self, max_size: int = 10_000, max_age_s: float = 60.0) -> None:
        self.max_size = max_size
        self.max_age_s = max_age_s
        self.live = False
        self.generation = 0  # + 1 on every drop: a resolution that began before it is not kept
        self.hits = 0
        self.misses = 0
        self.listener_pid: int | None = None  # the listening server process (tests end it)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, token: str, now: float | None = None) -> Principal | None:
        """The kept principal of ``token`` (never past its time, never while not live)."""
        if not self.live:
            return None
        entry = self._entries.get(token)
        if entry is None or entry.until <= (time.time() if now is None else now):
            self.misses += 1
            return None
        self.hits += 1
        return entry.principal

    def put(self, token: str, principal: Principal, generation: int,
            now: float | None = None) -> None:
        """Keep ``principal`` for ``token`` unless something was dropped since ``generation``
        (read before the principal was resolved) or the listener is not listening."""
        t = time.time() if now is None else now
        until = min(t + self.max_age_s, next_midnight_cst(t),
                    float(principal.expires_at) if principal.expires_at else float("inf"))
        with self._lock:
            if not self.live or generation != self.generation or principal.unmask:
                return
            if len(self._entries) >= self.max_size:
                self._entries.clear()
            self._entries[token] = _Entry(principal, until)

    def drop(self, payload: str = EVERYONE) -> None:
        """Drop the principals of user ``payload`` (a user id), or all (``*``, anything else)."""
        with self._lock:
            self.generation += 1
            if payload.isdigit():
                uid = int(payload)
                self._entries = {k: e for k, e in self._entries.items()
                                 if e.principal.user_id != uid}
            else:
                self._entries.clear()

    def set_live(self, live: bool) -> None:
        """Listener up (True) or down (False); either way the cache starts empty."""
        with self._lock:
            self.generation += 1
            self._entries.clear()
            self.live = live


_CACHES: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


@event.listens_for(Engine, "commit")
def _committing(conn: Any) -> None:
    """This process changed who may see what: drop its own principals now (the notification
    reaches the other processes at commit)."""
    pending = conn.info.pop(PENDING, None)
    if pending:
        for cache in list(_CACHES):
            for payload in pending:
                cache.drop(payload)


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: Any) -> None:
    if conn.invalidated:
        # The database went away mid-transaction: the DBAPI connection and its ``info`` are
        # gone with it (reading ``info`` would raise PendingRollbackError, turning the 503
        # of api.errors into a 500); nothing was changed, nothing is announced.
        return
    conn.info.pop(PENDING, None)  # nothing was changed, nothing is announced


def _on_lost(cache: PrincipalCache, lost: asyncio.Event) -> Any:
    def ended(_conn: Any) -> None:
        cache.set_live(False)
        lost.set()
    return ended


def _relay(callback: Callable[[str], None]) -> Any:
    def relay(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        callback(payload)
    return relay


async def listen(cache: PrincipalCache, dsn: str, heartbeat_s: float = 5.0,
                 retry_s: float = 1.0,
                 channels: dict[str, Callable[[str], None]] | None = None,
                 on_live: Callable[[bool], None] | None = None) -> None:
    """Listen on ``wangge_auth`` for as long as the task runs, reconnecting after a failure.

    ``channels``: more channels heard on the same connection (``wangge_events``, the live case
    events of :mod:`api.live`), each with its callback (called with the payload, in the event
    loop); ``on_live`` is told when the connection listens (True) and when it is lost (False).

    The cache is live only between ``LISTEN`` and the first sign of trouble: the connection
    ends, or a heartbeat (``SELECT 1`` every ``heartbeat_s``) fails or takes longer than
    ``heartbeat_s``.
    """
    import asyncpg

    while True:
        conn = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
            lost = asyncio.Event()
            conn.add_termination_listener(_on_lost(cache, lost))
            await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: cache.drop(payload))
            for channel, callback in (channels or {}).items():
                await conn.add_listener(channel, _relay(callback))
            cache.listener_pid = conn.get_server_pid()
            cache.set_live(True)
            if on_live is not None:
                on_live(True)
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), heartbeat_s)
                except TimeoutError:
                    await conn.fetchval("SELECT 1", timeout=heartbeat_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - down: no cache until it listens again
            log.warning("principal cache: listener down (%s)", exc.__class__.__name__)
        finally:
            cache.set_live(False)
            if on_live is not None:
                on_live(False)
            if conn is not None:
                conn.terminate()
        await asyncio.sleep(retry_s)
