"""What access control costs per request, as ratios against anchors measured in the same run.

Anchor: ``GET /health`` anonymous (one trivial query). Measured: the same without the
security middleware (its overhead), ``/auth/me`` anonymous, with a
session token (signature + one user query), with an API token (hash lookup + update), one
incident as the command centre masked and with ``?unmask=true`` (one audit insert before the
data), and the argon2id password check of a login against the anchor.

Run against a database holding the demo (``wangge demo load``, done by ``./scripts/run.sh``):
``.venv/bin/python scripts/bench/bench_auth.py [N]`` (``WANGGE_DATABASE_URL`` or
``WANGGE_PG_PORT`` for another database). The logged-in ``GET /cells/at`` against the anonymous
one and the minimal endpoint, under load: ``scripts/bench/lookup.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

# the project first: run as a script, scripts/bench/ is sys.path[0] and its maps.py would
# shadow the maps package
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.main import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from geo.auth.users import create_api_token, verify_password  # noqa: E402
from geo.db.engine import get_engine  # noqa: E402
from geo.demo.users import DEMO_USERS  # noqa: E402


def per_request(n: int, call: Callable[[], object]) -> float:
    """Median-of-3 seconds per call over ``n`` calls."""
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        runs.append((time.perf_counter() - t0) / n)
    return sorted(runs)[1]


def main(n: int = 200) -> None:
    """Print seconds per request and the ratio to the anchor."""
    settings = Settings.from_env()
    from dataclasses import replace

    settings = replace(settings, rate_login_per_min=0, rate_expensive_per_min=0)
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        _tid, api_token = create_api_token(conn, DEMO_USERS["command"][0], "bench")
        iid = conn.execute(text("SELECT min(id) FROM incident WHERE reporter_phone IS NOT NULL")
                           ).scalar_one()
        pw_hash = conn.execute(text("SELECT password_hash FROM app_user WHERE username = :u"),
                               {"u": DEMO_USERS["command"][0]}).scalar_one()
    with TestClient(create_app(settings)) as client:
        r = client.post("/auth/login", json={"username": DEMO_USERS["command"][0],
                                             "password": DEMO_USERS["command"][1]})
        session = {"Authorization": f"Bearer {r.json()['access_token']}"}
        client.cookies.clear()
        api = {"Authorization": f"Bearer {api_token}"}
        anchor = per_request(n, lambda: client.get("/health"))
        cases = {
            "/auth/me anonymous": lambda: client.get("/auth/me"),
            "/auth/me session token": lambda: client.get("/auth/me", headers=session),
            "/auth/me API token": lambda: client.get("/auth/me", headers=api),
            "/incidents/{id} command, masked": lambda: client.get(f"/incidents/{iid}",
                                                                  headers=session),
            "/incidents/{id} command, unmask (audited)": lambda: client.get(
                f"/incidents/{iid}", params={"unmask": "true"}, headers=session),
        }
        print(f"anchor GET /health anonymous: {anchor * 1000:.2f} ms/request (n={n})")
        for name, call in cases.items():
            t = per_request(n, call)
            print(f"{name:<45} {t * 1000:7.2f} ms  ratio {t / anchor:5.2f}")
        bare_app = create_app(settings)
        bare_app.user_middleware = []  # the same app without the security middleware stack
        with TestClient(bare_app) as bare:
            t = per_request(n, lambda: bare.get("/health"))
        print(f"{'/health without security middleware':<45} {t * 1000:7.2f} ms  ratio "
              f"{t / anchor:5.2f}")
        pw = DEMO_USERS["command"][1]
        t = per_request(max(3, n // 20), lambda: verify_password(pw_hash, pw))
        print(f"{'argon2id password check':<45} {t * 1000:7.2f} ms  ratio {t / anchor:5.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
