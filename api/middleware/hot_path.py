"""The hot path: anonymous and known logged-in ``GET /cells/at`` answered without the router.

"Which cell is this spot in" is the most frequent request of the service (every phone report,
every 110 call). Through FastAPI it pays for the router's route matching, dependency solving,
the exception and exit-stack layers and four security middlewares, which together cost about as
much as the lookup itself (measured with py-spy under ``scripts/bench/lookup.py``'s load).

:class:`CellAtHotPath` is the outermost of the app's own middlewares. It answers a plain
anonymous ``GET /cells/at`` itself, with the same body (:func:`api.routes.cells.cell_at_answer`,
shared with the route) and the same headers the full stack would send. Everything else goes
through the app untouched, and so does any call the hot path is not sure of:

- a logged-in call (``Authorization``) whose token this process has resolved before and keeps
  (:mod:`api.auth_cache`) is answered here too, as that principal sees it (``caller``), the
  same answer the route gives; a token not kept (first use, refused, cache off) goes to the
  route, which resolves it and keeps it for the next call;
- the login cookie, ``unmask``, or an ``Origin`` header (CORS): the route resolves the caller,
  audits, adds CORS headers;
- any error (bad parameter, no cell, database down): the route answers it, with its 4xx/503
  body, so errors have exactly one implementation.

Nothing here changes state (the lookup only reads), so answering an error call twice is safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from api.deps import TOKEN_COOKIE, anonymous_principal, presented_token
from api.middleware.security import COMMON_HEADERS
from api.routes.cells import GEOJSON, cell_at_answer
from geo.auth.principal import Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/cells/at"
_COOKIE = TOKEN_COOKIE.encode()
_NEEDS_APP = object()  # the call needs the full stack


def _authorization(scope: Scope) -> bytes | None | object:
    """The ``Authorization`` header (None: anonymous), or :data:`_NEEDS_APP` for a CORS call
    (``Origin``) or one with the login cookie."""
    found = None
    for name, value in scope.get("headers") or ():
        if name == b"origin" or (name == b"cookie" and _COOKIE in value):
            return _NEEDS_APP
        if name == b"authorization":
            found = value
    return found


def _kept_principal(state: Any, authorization: bytes) -> Principal | None:
    """The principal this process keeps for the presented token (None: ask the route)."""
    cache = getattr(state, "auth_cache", None)
    if cache is None:
        return None
    try:
        token = presented_token(authorization.decode("latin-1"), "GET")
    except Exception:  # noqa: BLE001 - a malformed header gets the route's 401
        return None
    return cache.get(token) if token else None  # type: ignore[no-any-return]


class CellAtHotPath:
    """Answer anonymous ``GET /cells/at``, and logged-in ones whose principal is kept, directly;
    pass everything else to ``app``.

    ``app.state.hot_path_answers`` counts the calls answered here (tests check the lane is
    taken; operators can read it from a debugger).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = (_authorization(scope) if scope["type"] == "http"
                         and scope["path"] == PATH and scope["method"] == "GET" else _NEEDS_APP)
        if authorization is not _NEEDS_APP:
            params = dict(parse_qsl(scope["query_string"].decode("latin-1"),
                                    keep_blank_values=True))
            state = scope["app"].state
            caller: Principal | None = None
            if "unmask" in params:
                pass
            elif authorization is None:
                caller = getattr(state, "anonymous_principal", None)
                if caller is None:  # the route's anonymous caller (names as it may read them)
                    caller = state.anonymous_principal = anonymous_principal(state.settings)
            else:
                caller = _kept_principal(state, authorization)  # type: ignore[arg-type]
            if caller is not None:
                try:
                    body = await cell_at_answer(state, params, caller)
                except Exception:  # noqa: BLE001 - the route answers errors (one implementation)
                    body = None
                if body is not None:
                    state.hot_path_answers = getattr(state, "hot_path_answers", 0) + 1
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", GEOJSON.encode()), *COMMON_HEADERS]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
