"""The hot path: anonymous ``GET /cells/at`` answered without the router.

"Which cell is this spot in" is the most frequent request of the service (every phone report,
every 110 call). Through FastAPI it pays for the router's route matching, dependency solving,
the exception and exit-stack layers and four security middlewares, which together cost about as
much as the lookup itself (measured with py-spy under ``scripts/bench/lookup.py``'s load).

:class:`CellAtHotPath` is the outermost of the app's own middlewares. It answers a plain
anonymous ``GET /cells/at`` itself, with the same body (:func:`api.routes.cells.cell_at_answer`,
shared with the route) and the same headers the full stack would send. Everything else goes
through the app untouched, and so does any call the hot path is not sure of:

- a token (``Authorization`` or the login cookie), ``unmask``, or an ``Origin`` header (CORS):
  the route resolves the caller, audits, adds CORS headers;
- any error (bad parameter, no cell, database down): the route answers it, with its 4xx/503
  body, so errors have exactly one implementation.

Nothing here changes state (the lookup only reads), so answering an error call twice is safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from api.deps import TOKEN_COOKIE, anonymous_principal
from api.middleware.security import COMMON_HEADERS
from api.routes.cells import GEOJSON, cell_at_answer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/cells/at"
# Request headers that need the full stack (who is calling, CORS).
_NEEDS_APP = (b"authorization", b"origin")
_COOKIE = TOKEN_COOKIE.encode()


def _plain(scope: Scope) -> bool:
    """An anonymous, non-CORS call (no token, no login cookie)."""
    for name, value in scope.get("headers") or ():
        if name in _NEEDS_APP or (name == b"cookie" and _COOKIE in value):
            return False
    return True


class CellAtHotPath:
    """Answer anonymous ``GET /cells/at`` directly; pass everything else to ``app``.

    ``app.state.hot_path_answers`` counts the calls answered here (tests check the lane is
    taken; operators can read it from a debugger).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET"
                and _plain(scope)):
            params = dict(parse_qsl(scope["query_string"].decode("latin-1"),
                                    keep_blank_values=True))
            if "unmask" not in params:
                state = scope["app"].state
                anonymous = getattr(state, "anonymous_principal", None)
                if anonymous is None:  # the route's anonymous caller (names as it may read them)
                    anonymous = state.anonymous_principal = anonymous_principal(state.settings)
                try:
                    body = await cell_at_answer(state, params, anonymous)
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
