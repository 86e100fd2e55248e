"""Schemathesis over the app's whole OpenAPI schema, as each demo role: no request may get a 5xx.

Runs in-process through the ASGI app on a private clone of the demo database (generated
writes stay out of the shared read-only demo database), with real logins (``demo_open`` off:
an anonymous caller is a viewer), as ``admin``, ``command``, ``worker``, ``department``,
``planner``, ``viewer`` and ``anonymous``. Every operation of the schema is exercised,
including the ones later work adds, with valid (positive) and schema-violating (negative)
requests.

Budget, so CI stays quick: ``WANGGE_SCHEMATHESIS_EXAMPLES`` examples per operation, role and
mode; by default 60 for the anonymous run (fewer as operations are added) and a fifth of that
for each logged-in role. ``scripts/fuzz.sh`` runs the same with a larger budget and prints
the figures per role (``WANGGE_FUZZ_REPORT``: a JSON file the figures are appended to).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.main import create_app
from tests.conftest import create_database, drop_database, make_settings

ROLES = ["anonymous", "admin", "command", "worker", "department", "planner", "viewer"]


@dataclass
class Target:
    """The app under test, its schema and a way to sign in as each demo role."""

    app: Any
    schema: Any
    engine: Engine
    operations: list[Any] = field(default_factory=list)

    def headers(self, role: str) -> dict[str, str]:
        """A fresh session token of the role's demo user (fresh per operation: a generated
        ``POST /auth/logout`` may have revoked the last one)."""
        if role == "anonymous":
            return {}
        from geo.auth.tokens import issue_session_token
        from geo.demo.users import DEMO_USERS

        username = DEMO_USERS[role][0]
        with self.engine.connect() as conn:
            uid, ver = conn.execute(text(
                "SELECT id, token_version FROM app_user WHERE username = :u"),
                {"u": username}).one()
        token, _ = issue_session_token(self.app.state.settings.secret_key, uid, username, ver,
                                       3600)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def target(admin_engine: Engine, demo_template: str) -> Iterator[Target]:
    url = create_database(admin_engine, template=demo_template)
    app = create_app(make_settings(url, demo_open=False))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    engine = create_engine(url)
    yield Target(app, schema, engine, _operations(schema))
    engine.dispose()
    app.state.engine.dispose()
    drop_database(admin_engine, url)


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def _budget(n_ops: int, role: str) -> int:
    """Examples per operation: the env value, else 60 shrinking as operations are added so
    the anonymous run stays around a minute, and a fifth of it per logged-in role."""
    if os.environ.get("WANGGE_SCHEMATHESIS_EXAMPLES"):
        return int(os.environ["WANGGE_SCHEMATHESIS_EXAMPLES"])
    full = max(15, min(60, 1200 // max(1, n_ops)))
    return full if role == "anonymous" else max(3, full // 5)


@dataclass
class Figures:
    """What one role x mode run did."""

    operations: int = 0
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)


def _fuzz(t: Target, op: Any, role: str, mode: GenerationMode, figures: Figures,
          seen: dict[str, int], examples: int) -> None:
    label = f"{op.method.upper()} {op.path}"
    auth = t.headers(role)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=auth)
        seen[label] = seen.get(label, 0) + 1
        figures.requests += 1
        assert response.status_code < 500, (
            f"{role} {label} query={case.query} body={str(case.body)[:200]} -> "
            f"{response.status_code}: {response.text[:300]}"
        )
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        # Only possible for negative mode on an operation without parameters (/health):
        # there is no way to violate its schema.
        assert mode == GenerationMode.NEGATIVE and label not in seen, label
        seen[label] = 0
    except AssertionError as exc:  # noqa: PERF203 - collected: all 5xx of the run, not the first
        figures.server_errors.append(str(exc).splitlines()[0][:500])
    except Exception as exc:  # noqa: BLE001 - schemathesis's own failure types
        if "500" in str(exc) or "Server error" in str(exc) or "server error" in str(exc):
            figures.server_errors.append(f"{role} {label}: {str(exc)[:500]}")
        else:
            raise


def _report(role: str, mode: GenerationMode, figures: Figures) -> None:
    line = {"role": role, "mode": mode.value, "operations": figures.operations,
            "requests": figures.requests, "server_errors": len(figures.server_errors),
            "errors": figures.server_errors}
    print(json.dumps(line, ensure_ascii=False))
    path = os.environ.get("WANGGE_FUZZ_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors(target: Target, role: str, mode: GenerationMode) -> None:
    """Valid (positive) and schema-violating (negative) requests to every operation, as
    ``role``: zero 5xx."""
    seen: dict[str, int] = {}
    figures = Figures(operations=len(target.operations))
    examples = _budget(len(target.operations), role)
    for op in target.operations:
        _fuzz(target, op, role, mode, figures, seen, examples)
    _report(role, mode, figures)
    assert not figures.server_errors, "\n".join(figures.server_errors)
    assert len(seen) == len(target.operations), seen
    assert seen["GET /cells/at"] >= min(examples, 3), seen
    if mode == GenerationMode.POSITIVE:
        assert all(seen.values()), seen


def test_schema_lists_every_route(target: Target) -> None:
    """The runs above cover all operations: each app route is in the schema."""
    paths = set(target.schema.raw_schema["paths"])
    assert {"/cells/at", "/health"} <= paths
    assert {op.path for op in target.operations} == paths
