#!/usr/bin/env bash
# Run Wangge on the built-in Xing County demo: set up everything, then serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
say() { printf '\033[1;34m[wangge]\033[0m %s\n' "$*"; }
say "applying migrations"
.venv/bin/wangge db migrate
say "loading the Xing County demo if the database is empty"
.venv/bin/wangge demo load --if-empty
.venv/bin/wangge users demo-credentials
say "serving http://${WANGGE_HOST:-127.0.0.1}:${WANGGE_PORT:-8000} (OpenAPI docs at /docs)"
exec .venv/bin/wangge serve --host "${WANGGE_HOST:-127.0.0.1}" --port "${WANGGE_PORT:-8000}"
