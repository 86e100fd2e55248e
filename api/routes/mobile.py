"""The grid worker's web app ``/m/`` (:mod:`mobile`): the app shell, its service worker,
manifest and icons.

The shell holds no data (the app reads ``/me/...`` with the login cookie), so every file is
public; the app sends a visitor without a login to ``/login?next=/m/``. ``GET /m/`` also sets
the CSRF cookie of a login made before it existed (:func:`api.csrf.set_csrf_cookie`). The
page's CSP is the default one (:data:`api.middleware.security.CSP`): scripts from this server
only, no inline script.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import mobile
from api.csrf import CSRF_COOKIE, csrf_value, set_csrf_cookie
from api.deps import TOKEN_COOKIE, SettingsDep
from maps import assets

router = APIRouter(tags=["mobile 网格员手机端"], include_in_schema=False)


@router.get("/m/", response_class=HTMLResponse)
def app_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The app (H5, zh-CN): 我的网格, 待办, 上报, 巡查."""
    assets.check_installed()  # Leaflet: 503 naming `bash maps/assets.sh` when missing
    page = HTMLResponse(mobile.page(), headers={"Cache-Control": "no-cache"})
    token = request.cookies.get(TOKEN_COOKIE)
    if token and request.cookies.get(CSRF_COOKIE) != csrf_value(settings.secret_key, token):
        set_csrf_cookie(request, page, settings, token)
    return page


@router.get("/m/sw.js")
def service_worker() -> Response:
    """The service worker (scope ``/m/``): precaches the shell and Leaflet."""
    return Response(mobile.service_worker(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/m/"})


def _file_route(name: str) -> None:
    media = mobile.FILES[name]

    def serve() -> Response:
        return Response(mobile.read(name), media_type=media,
                        headers={"Cache-Control": "public, max-age=86400",
                                 "X-Content-Type-Options": "nosniff"})

    serve.__doc__ = f"The app's ``{name}``."
    router.add_api_route(f"/m/{name}", serve, methods=["GET"], name=f"mobile_{name}")


for _name in mobile.FILES:
    _file_route(_name)
