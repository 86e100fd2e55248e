"""The OpenAPI page ``/docs``: Swagger UI served by Wangge itself, so it works offline.

FastAPI's own ``/docs`` loads Swagger UI from a CDN: on a network without the internet the page
stayed blank. Here the script and stylesheet come from the npm package ``swagger-ui-dist``
installed by ``maps/assets.sh`` (pinned like the map assets, served under ``/static/vendor/``),
and the page carries a Content-Security-Policy allowing only this server and, of inline
scripts, only its own init script (by hash, :func:`maps.frame.script_src`). ReDoc is not
offered (one documentation page).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from maps import assets
from maps.frame import script_src

router = APIRouter(include_in_schema=False)

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def docs_csp(html: str) -> str:
    """Content-Security-Policy of the docs pages: self, the page's own inline script by hash;
    Swagger UI sets ``style`` attributes and shows data: images (``'unsafe-inline'`` styles)."""
    return (f"default-src 'self'; {script_src(html)}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")


def _page(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode("utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(html)})


@router.get(DOCS_URL)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI of the OpenAPI description, with no request to another host."""
    assets.check_installed(assets.SWAGGER_JS)
    app = request.app
    return _page(get_swagger_ui_html(
        openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
        swagger_js_url=assets.SWAGGER_JS, swagger_css_url=assets.SWAGGER_CSS,
        swagger_favicon_url=assets.SWAGGER_FAVICON, oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        init_oauth=app.swagger_ui_init_oauth, swagger_ui_parameters=app.swagger_ui_parameters))


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (its inline script allowed by hash)."""
    return _page(get_swagger_ui_oauth2_redirect_html())
