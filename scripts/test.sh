#!/usr/bin/env bash
# Set up everything, lint (ruff), type-check (mypy on geo/, api/, maps/), then run the whole
# suite against throwaway databases on the real PostGIS. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/setup.sh
say() { printf '\033[1;34m[wangge]\033[0m %s\n' "$*"; }
say "ruff"
.venv/bin/ruff check .
say "mypy (geo/, api/, maps/)"
.venv/bin/mypy
say "pytest (PostGIS required: WANGGE_REQUIRE_DB=${WANGGE_REQUIRE_DB:-1})"
export WANGGE_REQUIRE_DB=${WANGGE_REQUIRE_DB:-1}
exec .venv/bin/python -m pytest "$@"
