"""Live case events fanned out to the connected ``GET /events`` streams of this process.

One listener per process: the principal cache's connection (:func:`api.auth_cache.listen`)
also listens on ``wangge_events`` and hands each payload (an ``incident_event`` id, sent at
commit by :func:`geo.notify.events.announce`, from any process) to :meth:`EventHub.notified`.
One task of the hub reads the events in a worker thread (never blocking the event loop), in
order, once for all streams, and puts each into every stream's bounded queue; each stream
filters by its caller's scope (:func:`geo.notify.events.visible`). A stream too slow to keep
up (its queue full) or a lost listener gets a ``reset`` (reload your list), never a silent gap.
An alert (``alert:<outbox.id>``, :func:`geo.notify.events.announce_alert`) is read the same way;
the alerts read together (a scan's backlog arrives in one go) go into the queues as one
:class:`Alerts` item, which a stream coalesces for its caller (one summary, not one message per
case: :func:`geo.notify.events.alert_summary`).

A stream lives no longer than its caller's right to it: a change of who may see what
(``wangge_auth``: logout, disable, password reset, token revoked, hand-over) sends the streams
of that user a :data:`RECHECK`; the stream resolves its credential again and ends (``event:
logout``) when it no longer holds, or goes on with the new scope. While the listener is down
(changes may be missed) a stream rechecks at every heartbeat; at the credential's expiry it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from geo.notify import events

log = logging.getLogger("wangge")

RESET = "reset"  # an item in a stream's queue: events may have been missed
CLOSE = "close"  # the server stops
RECHECK = "recheck"  # who may see what changed for this stream's user: resolve it again
QUEUE_SIZE = 1000


@dataclass(eq=False)
class Stream:
    """One connected client: its queue, its user (for the per-user cap) and user id (for the
    ``wangge_auth`` changes that concern it)."""

    user: str
    user_id: int | None = None
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def put(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # too slow: drop what waits, tell it to reload
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESET)


@dataclass(eq=False)
class Alerts:
    """Alerts read together (outbox rows with their case, oldest first; unscoped)."""

    rows: list[dict[str, Any]]


class EventHub:
    """The streams of this process and the one reader of notified events."""

    def __init__(self, engine: Engine, max_per_user: int = 5) -> None:
        self.engine = engine
        self.max_per_user = max_per_user
        self.streams: set[Stream] = set()
        self.closing = asyncio.Event()
        self.live = False
        self._ids: asyncio.Queue[int | str] = asyncio.Queue()  # event ids; "alert:<id>"
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.replayed = 0  # case events sent by the replays of this process's streams

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def close_streams(self) -> None:
        """End every stream (server shutting down)."""
        self.closing.set()
        for s in list(self.streams):
            s.put(CLOSE)

    def open(self, user: str, user_id: int | None = None) -> Stream | None:
        """A new stream for ``user``, or None past the per-user cap."""
        if Counter(s.user for s in self.streams)[user] >= self.max_per_user:
            return None
        stream = Stream(user, user_id)
        self.streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)

    def notified(self, payload: str) -> None:
        """A ``wangge_events`` notification (in the event loop)."""
        if payload.isdigit():
            self._ids.put_nowait(int(payload))
        elif payload.startswith(events.ALERT_PREFIX) \
                and payload[len(events.ALERT_PREFIX):].isdigit():
            self._ids.put_nowait(payload)

    def auth_changed(self, payload: str) -> None:
        """A ``wangge_auth`` notification (user id, or ``*``: anyone): the streams it concerns
        check their caller again."""
        uid = int(payload) if payload.isdigit() else None
        for s in list(self.streams):
            if uid is None or s.user_id == uid:
                s.put(RECHECK)

    def listening(self, live: bool) -> None:
        """The listener listens (True) or lost its connection (False): notifications sent
        meanwhile are gone, so every stream is told to reload."""
        was, self.live = self.live, live
        if was and not live:
            for s in list(self.streams):
                s.put(RESET)

    async def _read(self) -> None:
        while True:
            ids: list[int | str] = [await self._ids.get()]
            while not self._ids.empty() and len(ids) < 500:
                ids.append(self._ids.get_nowait())
            try:
                rows = await asyncio.to_thread(self._load, ids)
            except Exception as exc:  # noqa: BLE001 - database away: streams reload later
                log.warning("live events: cannot read events (%s)", exc.__class__.__name__)
                for s in list(self.streams):
                    s.put(RESET)
                continue
            alerts = Alerts([r for r in rows if "alert_id" in r])
            for row in rows:
                if "alert_id" not in row:
                    for s in list(self.streams):
                        s.put(row)
                self.delivered += 1
            if alerts.rows:
                for s in list(self.streams):
                    s.put(alerts)

    def _load(self, ids: list[int | str]) -> list[dict[str, Any]]:
        event_ids = [i for i in ids if isinstance(i, int)]
        alert_ids = [int(i[len(events.ALERT_PREFIX):]) for i in ids if isinstance(i, str)]
        with self.engine.connect() as conn:
            return ((events.load(conn, event_ids) if event_ids else [])
                    + (events.load_alerts(conn, alert_ids) if alert_ids else []))


def stop_streams_on_signal(hub: EventHub) -> None:
    """End the streams as soon as the server is told to stop (SIGINT/SIGTERM).

    Uvicorn waits for open responses to finish before it runs the lifespan's shutdown, and an
    event stream never finishes by itself: chain a handler that closes them first.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous = signal.getsignal(sig)
        except ValueError:  # not the main thread
            return

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(hub.close_streams)
            if callable(previous):
                previous(signum, frame)

        with contextlib.suppress(ValueError):
            signal.signal(sig, handler)
