"""Idempotent writes: a write sent again with the same ``Idempotency-Key`` is done once.

A phone with a bad signal sends a report, loses the answer and sends it again; its offline
queue sends everything it kept once the network is back. Each queued write carries an
``Idempotency-Key`` header (a UUID the client made when the person pressed the button). The
first request with a key runs and its answer (status, body, ``ETag``/``Location``) is kept
for :data:`KEEP` in ``idempotency_key``; a request with the same key from the same user gets
that answer back with ``Idempotent-Replayed: true`` and changes nothing.

- the same key on another method or path, or with another query or body: 422 (a client bug,
  not a resend; the first request's SHA-256 of method, path, query and body is kept with the
  key, as draft-ietf-httpapi-idempotency-key-header says; keys kept before it was: not compared);
- the same key while the first is still running: 409 with ``Retry-After`` (a claim older
  than :data:`STALE` is an answer lost with a crashed process, and the write runs again);
- an answer the client should not keep (5xx, 401, 403, 409 busy, 429) is not kept: the key
  may be sent again once the cause is gone;
- writes without the header, and callers without a valid login, are not affected.

The key belongs to the user, not to the token: a worker who logs in again while her queue
waits still gets her first answers back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

import anyio
from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
KEEP = "7 days"
STALE = "5 minutes"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Answers that say "try again later / with other credentials": never replayed.
NOT_KEPT = frozenset({401, 403, 409, 429})
KEPT_HEADERS = ("etag", "location", "content-disposition")
MAX_BODY = 4 * 1024 * 1024
# Where the request's fingerprint is kept in the key's ``headers`` (no header has this name)
FINGERPRINT = ":request-sha256"


def _json(status: int, title: str, detail: str, headers: dict[str, str] | None = None
          ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"status": status, "title": title, "detail": detail},
                      ensure_ascii=False).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, hdrs, body


async def _send_whole(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                      body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Idempotency:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = request.headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not KEY_RE.match(key):
            await _send_whole(send, *_json(
                422, "InvalidInput",
                "Idempotency-Key 须为 8-100 个字母、数字、_ 或 - (建议用 UUID) / the "
                "Idempotency-Key header must be 8-100 letters, digits, _ or - (a UUID)"))
            return
        owner = await anyio.to_thread.run_sync(self._owner, request)
        if owner is None:  # no login, or a bad one: the handler answers (401/403)
            await self.app(scope, receive, send)
            return
        engine: Engine = request.app.state.engine
        method, path = scope["method"], scope["path"]
        messages, fingerprint = await self._read_body(scope, receive)
        claimed, row = await anyio.to_thread.run_sync(self._claim, engine, owner, key, method,
                                                      path, fingerprint)
        if not claimed:
            await self._answer_again(send, row, method, path, fingerprint)
            return

        async def replay_body() -> Message:
            return messages.pop(0) if messages else await receive()

        await self._run_and_keep(scope, replay_body, send, engine, owner, key, fingerprint)

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive) -> tuple[list[Message], str]:
        """The request's body messages (handed to the app afterwards) and the SHA-256 of its
        method, path, query and body: what makes it the same request when sent again. Its size
        is bounded by the body limit outside (:class:`api.middleware.security.BodySizeLimit`)."""
        digest = hashlib.sha256()
        for part in (scope["method"].encode(), scope["path"].encode("utf-8", "surrogateescape"),
                     scope.get("query_string") or b""):
            digest.update(part + b"\0")
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            digest.update(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return messages, digest.hexdigest()

    @staticmethod
    def _owner(request: Request) -> int | None:
        """The user id of the caller's token (no valid token: None)."""
        from api.deps import credential_owner, request_token
        from geo.errors import WanggeError

        try:
            token = request_token(request)
        except WanggeError:
            return None
        if token is None:
            return None
        found = credential_owner(request.app.state.engine, request.app.state.settings, token)
        return None if found is None else found[0]

    @staticmethod
    def _claim(engine: Engine, owner: int, key: str, method: str, path: str, fingerprint: str
               ) -> tuple[bool, dict[str, Any] | None]:
        """Claim ``key`` for this request, or return the row of the request that has it."""
        with engine.begin() as conn:
            # the caller's expired answers go (each user's table part stays small)
            conn.execute(text(f"DELETE FROM idempotency_key WHERE user_id = :u AND "
                              f"created_at < now() - interval '{KEEP}'"), {"u": owner})
            conn.execute(text(f"DELETE FROM idempotency_key WHERE user_id = :u AND key = :k AND "
                              f"state = 'running' AND created_at < now() - interval '{STALE}'"),
                         {"u": owner, "k": key})
            got = conn.execute(text(
                "INSERT INTO idempotency_key (user_id, key, method, path, headers) "
                "VALUES (:u, :k, :m, :p, CAST(:h AS jsonb)) ON CONFLICT DO NOTHING RETURNING key"),
                {"u": owner, "k": key, "m": method, "p": path,
                 "h": json.dumps({FINGERPRINT: fingerprint})}).first()
            if got is not None:
                return True, None
            row = conn.execute(text(
                "SELECT method, path, state, status, content_type, headers, body "
                "FROM idempotency_key WHERE user_id = :u AND key = :k"),
                {"u": owner, "k": key}).mappings().first()
            return False, dict(row) if row else None

    @staticmethod
    async def _answer_again(send: Send, row: dict[str, Any] | None, method: str,
                            path: str, fingerprint: str) -> None:
        kept = dict((row or {}).get("headers") or {})
        first = kept.pop(FINGERPRINT, None)
        if row is not None and (row["method"], row["path"]) == (method, path) \
                and first is not None and first != fingerprint:
            await _send_whole(send, *_json(
                422, "InvalidInput",
                "Idempotency-Key 已用于另一个请求 (同一键, 不同的查询参数或请求体); 每个新请求须用"
                "新的键, 重发时须原样发送 / this Idempotency-Key was used with a different request "
                "(the same key, another query or body): use a new key for each new request, and "
                "resend a request unchanged"))
            return
        if row is None or row["state"] == "running":
            await _send_whole(send, *_json(
                409, "Conflict", "同一 Idempotency-Key 的请求正在处理, 请稍后重发 / a request "
                "with this Idempotency-Key is still running: send again in a few seconds",
                {"retry-after": "2"}))
            return
        if (row["method"], row["path"]) != (method, path):
            await _send_whole(send, *_json(
                422, "InvalidInput",
                f"此 Idempotency-Key 已用于 {row['method']} {row['path']}; 每个新请求须用新的键 "
                f"/ this Idempotency-Key was used for {row['method']} {row['path']}: use a new "
                "key for each new request"))
            return
        body = bytes(row["body"] or b"")
        headers = [(b"content-length", str(len(body)).encode()),
                   (b"idempotent-replayed", b"true")]
        if row["content_type"]:
            headers.append((b"content-type", row["content_type"].encode()))
        headers += [(k.encode(), str(v).encode()) for k, v in kept.items()]
        await _send_whole(send, int(row["status"]), headers, body)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, engine: Engine,
                            owner: int, key: str, fingerprint: str) -> None:
        status = 500
        kept_headers: dict[str, str] = {FINGERPRINT: fingerprint}
        content_type: str | None = None
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal status, content_type, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers") or []:
                    lname = name.decode("latin-1").lower()
                    if lname == "content-type":
                        content_type = value.decode("latin-1")
                    elif lname in KEPT_HEADERS:
                        kept_headers[lname] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if size <= MAX_BODY:
                    chunks.append(message.get("body", b""))
            await send(message)

        done = False
        try:
            await self.app(scope, receive, capture)
            done = True
        finally:
            keep = done and status < 500 and status not in NOT_KEPT and size <= MAX_BODY
            try:
                await anyio.to_thread.run_sync(
                    self._finish, engine, owner, key, keep, status, content_type,
                    kept_headers, b"".join(chunks))
            except Exception:  # noqa: BLE001 - the answer is sent; the key stays claimed
                log.exception("could not keep the answer of idempotency key %s", key)

    @staticmethod
    def _finish(engine: Engine, owner: int, key: str, keep: bool, status: int,
                content_type: str | None, headers: dict[str, str], body: bytes) -> None:
        with engine.begin() as conn:
            if keep:
                conn.execute(text(
                    "UPDATE idempotency_key SET state = 'done', status = :s, content_type = :ct, "
                    "headers = CAST(:h AS jsonb), body = :b WHERE user_id = :u AND key = :k"),
                    {"s": status, "ct": content_type, "h": json.dumps(headers), "b": body,
                     "u": owner, "k": key})
            else:
                conn.execute(text("DELETE FROM idempotency_key WHERE user_id = :u AND key = :k"),
                             {"u": owner, "k": key})

