"""Schemathesis over the app's whole OpenAPI schema: no request may get a 5xx answer.

Runs in-process through the ASGI app on a private clone of the demo database, bounded budget
(``WANGGE_SCHEMATHESIS_EXAMPLES`` examples per operation; default 60, fewer as operations
are added) so CI stays quick.
Every operation of the schema is exercised, including the ones later work adds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.engine import Engine

from api.main import create_app
from tests.conftest import create_database, drop_database, make_settings


@pytest.fixture(scope="module")
def api_schema(admin_engine: Engine, demo_template: str) -> Iterator[Any]:
    """The schema of an app on a PRIVATE demo clone: generated writes stay out of the shared
    read-only demo database."""
    url = create_database(admin_engine, template=demo_template)
    app = create_app(make_settings(url))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.engine.dispose()
    drop_database(admin_engine, url)


def _budget(n_ops: int) -> int:
    """Examples per operation: the env value, else 60 shrinking as operations are added so
    the whole run stays around a minute."""
    if os.environ.get("WANGGE_SCHEMATHESIS_EXAMPLES"):
        return int(os.environ["WANGGE_SCHEMATHESIS_EXAMPLES"])
    return max(15, min(60, 1200 // max(1, n_ops)))


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def _fuzz(op: Any, mode: GenerationMode, seen: dict[str, int], examples: int) -> None:
    label = f"{op.method.upper()} {op.path}"

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call()
        seen[label] = seen.get(label, 0) + 1
        assert response.status_code < 500, (
            f"{label} query={case.query} -> {response.status_code}: {response.text[:300]}"
        )
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        # Only possible for negative mode on an operation without parameters (/health):
        # there is no way to violate its schema.
        assert mode == GenerationMode.NEGATIVE and label not in seen, label
        seen[label] = 0


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(api_schema: Any, mode: GenerationMode) -> None:
    """Valid (positive) and schema-violating (negative) requests to every operation."""
    seen: dict[str, int] = {}
    ops = _operations(api_schema)
    examples = _budget(len(ops))
    for op in ops:
        _fuzz(op, mode, seen, examples)
    assert len(seen) == len(ops), seen
    assert seen["GET /cells/at"] >= min(examples, 15), seen
    if mode == GenerationMode.POSITIVE:
        assert all(seen.values()), seen
    print(f"{mode}: {seen}")


def test_schema_lists_every_route(api_schema: Any) -> None:
    """The run above covers all operations: each app route is in the schema."""
    paths = set(api_schema.raw_schema["paths"])
    assert {"/cells/at", "/health"} <= paths
    assert {op.path for op in _operations(api_schema)} == paths
