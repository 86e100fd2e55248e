"""Hardening: body size limit, rate limits, CORS closed by default, security headers, no
stack traces."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from api.access_policy import iter_endpoints
from api.main import create_app
from api.middleware.security import CSP, TokenBucket, expensive_routes
from api.settings import Settings
from tests.conftest import make_settings


@pytest.fixture()
def app_client(demo_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(closed(demo_url)), raise_server_exceptions=False) as c:
        yield c



def closed(url: str, **overrides: object) -> Settings:
    """Settings without the open demo: anonymous callers are viewers."""
    return make_settings(url, demo_open=False, **overrides)

def test_body_size_limit(demo_url: str) -> None:
    with TestClient(create_app(closed(demo_url, max_body_bytes=1000))) as client:
        r = client.post("/auth/login", content=b"x" * 2000,
                        headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert "WANGGE_MAX_BODY_BYTES" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            for _ in range(5):
                yield b"y" * 400

        r = client.post("/auth/login", content=chunks(),
                        headers={"content-type": "application/json"})
        assert r.status_code == 413
        small = client.post("/auth/login", json={"username": "nobody", "password": "x"})
        assert small.status_code == 401


def test_login_rate_limit(demo_url: str) -> None:
    with TestClient(create_app(closed(demo_url, rate_login_per_min=3))) as client:
        codes = [client.post("/auth/login", json={"username": "nobody", "password": "x"}
                             ).status_code for _ in range(5)]
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429, 429]
        r = client.post("/auth/login", json={"username": "nobody", "password": "x"})
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/auth/me").status_code == 200  # other endpoints unaffected


def test_expensive_rate_limit_per_client(demo_url: str) -> None:
    with TestClient(create_app(closed(demo_url, rate_expensive_per_min=2))) as client:
        codes = [client.get("/audit").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        # a credential that resolves to nobody counts against the address, not a fresh bucket
        # (issue 15, finding 11: tests/api/test_rate_limit_key.py)
        assert client.get("/audit", headers={"Authorization": "Bearer x"}).status_code == 429


def _concrete(path: str) -> str:
    """A request path for a route path: every ``{param}`` becomes ``1``."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_expensive_routes_are_real_and_throttled(demo_url: str) -> None:
    """The expensive list comes from the routes (``dependencies=[EXPENSIVE]``): it names only
    real routes, covers the heavy ones (batch lookup, OGC, spatial, tiles ...), leaves the
    hot single lookup and the case flow alone, and every route on it is throttled."""
    app = create_app(closed(demo_url, rate_expensive_per_min=1))
    marked = expensive_routes(app).endpoints
    real = set(iter_endpoints(list(app.routes)))
    assert marked and {f"{m} {p}" for m, p in marked} <= real
    prefixes = {p.split("/")[1] for _, p in marked}
    assert {"analysis", "audit", "export", "kpi", "maps", "ogc", "spatial", "tiles"} <= prefixes
    assert ("POST", "/cells/at") in marked and ("GET", "/cells/at") not in marked
    assert not any(p.startswith(("/incidents", "/auth", "/login")) for _, p in marked)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/ogc/conformance")  # takes the one token of the minute
        for method, path in marked:
            r = client.request(method, _concrete(path))
            assert r.status_code == 429, (method, path, r.status_code)
        # not expensive: never throttled
        assert client.get("/health").status_code != 429
        assert client.get("/cells/at", params={"lon": 1, "lat": 1}).status_code != 429


def test_token_bucket_refills() -> None:
    b = TokenBucket(60)  # one per second
    assert all(b.take("k", now=100.0) == 0 for _ in range(60))
    assert b.take("k", now=100.0) > 0
    assert b.take("k", now=101.5) == 0
    assert b.take("other", now=100.0) == 0


def test_cors_closed_by_default(app_client: TestClient, demo_url: str) -> None:
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    r = app_client.options("/incidents", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = app_client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    settings = make_settings(demo_url, cors_origins=("https://zhihui.example",))
    with TestClient(create_app(settings)) as client:
        ok = {"Origin": "https://zhihui.example", "Access-Control-Request-Method": "GET"}
        r = client.options("/incidents", headers=ok)
        assert r.headers["access-control-allow-origin"] == "https://zhihui.example"
        r = client.options("/incidents", headers=pre)
        assert "access-control-allow-origin" not in r.headers


def test_security_headers_and_csp_on_html(demo_url: str) -> None:
    app = create_app(closed(demo_url))

    @app.get("/_test_map", response_class=HTMLResponse)
    def page() -> str:
        return "<html><body><script>1</script></body></html>"

    with TestClient(app) as client:
        r = client.get("/_test_map")
        assert r.headers["content-security-policy"] == CSP
        assert "frame-ancestors 'self'" in CSP and "object-src 'none'" in CSP
        for name, value in (("x-content-type-options", "nosniff"),
                            ("x-frame-options", "SAMEORIGIN"),
                            ("referrer-policy", "strict-origin-when-cross-origin")):
            assert r.headers[name] == value
        j = client.get("/health")
        assert j.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in j.headers  # JSON needs none
        docs = client.get("/docs")  # Swagger UI served offline, its own CSP (no inline script)
        assert docs.status_code == 200 and "'unsafe-inline'" not in docs.headers[
            "content-security-policy"].split("style-src")[0]


def test_no_stack_trace_to_clients(demo_url: str) -> None:
    app = create_app(closed(demo_url))

    @app.get("/_test_boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/_test_boom")
        assert r.status_code == 500
        assert "hunter2" not in r.text and "Traceback" not in r.text
        assert r.json()["title"] == "InternalError"


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import Settings

    for name, value in (("WANGGE_DEMO_OPEN", "1"), ("WANGGE_DB_RLS", "1"),
                        ("WANGGE_CORS_ORIGINS", "https://a.example, https://b.example"),
                        ("WANGGE_MAX_BODY_BYTES", "1234"), ("WANGGE_TOKEN_TTL_S", "60"),
                        ("WANGGE_LOGIN_MAX_FAILURES", "3"), ("WANGGE_RATE_LOGIN_PER_MIN", "7")):
        monkeypatch.setenv(name, value)
    s = Settings.from_env()
    assert (s.demo_open, s.db_rls, s.max_body_bytes, s.token_ttl_s) == (True, True, 1234, 60)
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert (s.login_max_failures, s.rate_login_per_min) == (3, 7)
    monkeypatch.delenv("WANGGE_CORS_ORIGINS")
    monkeypatch.delenv("WANGGE_DEMO_OPEN")
    s = Settings.from_env()
    assert s.cors_origins == () and s.demo_open is False
