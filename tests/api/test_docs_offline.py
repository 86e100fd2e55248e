"""``/docs`` works offline (issue 15, low): Swagger UI comes from this server (npm's
swagger-ui-dist installed by maps/assets.sh), under a CSP with no ``'unsafe-inline'`` script."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_settings, serve_in_thread


@pytest.fixture(scope="module")
def server(demo_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread (a free port)."""
    with serve_in_thread(make_settings(demo_url, demo_open=False)) as url:
        yield url


def test_docs_page_links_only_this_server(client: Any) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "cdn." not in html and "https://" not in html
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    csp = r.headers["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    assert client.get("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404  # one documentation page
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "'sha256-" in redirect.headers[
        "content-security-policy"]


@pytest.mark.browser
def test_docs_render_the_operations_with_the_internet_cut_off(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Any) -> None:
        if r.request.url.startswith((server + "/", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    ops = page.eval_on_selector_all(".opblock-summary-path", "es => es.map(e => e.textContent)")
    assert len(ops) > 30 and any("/cells/at" in o for o in ops)
    assert "Wangge" in page.inner_text(".info .title")
    # an operation opens (Swagger UI's scripts run under the CSP)
    page.click(".opblock-summary-path:has-text('/health')")
    page.wait_for_selector(".opblock.is-open", timeout=10_000)
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()
