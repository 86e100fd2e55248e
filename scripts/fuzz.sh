#!/usr/bin/env bash
# Hostile-input fuzzing with a larger budget than CI: schemathesis over the whole API as each
# demo role (admin, command, worker, department, planner, viewer, anonymous; valid and
# schema-violating requests) and the property-based tests of CQL2 filters and of every
# geometry/coordinate parameter. Prints per role: operations, requests, 5xx found (also when
# interrupted or stopped by a time limit: the figures of the runs finished so far).
#
#   WANGGE_FUZZ_EXAMPLES=200 ./scripts/fuzz.sh      # schemathesis examples per operation,
#                                                   # role and mode (default 200)
#   WANGGE_FUZZ_PROPERTY_EXAMPLES=1000              # hypothesis examples per property test
#                                                   # (default 5 x WANGGE_FUZZ_EXAMPLES)
#
# Time: about 1.5 minutes per 2,000 requests; 200 examples are ~160,000 requests (hours).
# Runs on a private clone of the demo on the project-local PostGIS (like scripts/test.sh;
# `.venv/bin/wangge db start` first if it is not running). Exit status 1 when any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${WANGGE_FUZZ_EXAMPLES:-200}
PROPERTY=${WANGGE_FUZZ_PROPERTY_EXAMPLES:-$((EXAMPLES * 5))}
say() { printf '\033[1;34m[wangge]\033[0m %s\n' "$*"; }
report=$(mktemp -t wangge-fuzz.XXXXXX.jsonl)

figures() {
  .venv/bin/python - "$report" <<'PY'
import json
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
per = defaultdict(lambda: {"operations": 0, "requests": 0, "server_errors": 0, "errors": []})
for r in rows:
    p = per[r["role"]]
    p["operations"] = max(p["operations"], r["operations"])
    p["requests"] += r["requests"]
    p["server_errors"] += r["server_errors"]
    p["errors"] += r["errors"]
print(f"\n{'role':<12}{'operations':>12}{'requests':>12}{'5xx found':>12}")
for role, p in per.items():
    print(f"{role:<12}{p['operations']:>12}{p['requests']:>12}{p['server_errors']:>12}")
total = sum(p["requests"] for p in per.values())
errors = sum(p["server_errors"] for p in per.values())
print(f"{'total':<12}{'':>12}{total:>12}{errors:>12}")
for p in per.values():
    for e in p["errors"]:
        print("5xx:", e)
PY
  rm -f "$report"
}
trap figures EXIT

say "fuzzing: $EXAMPLES schemathesis examples per operation, role and mode; $PROPERTY per property test"
WANGGE_REQUIRE_DB=${WANGGE_REQUIRE_DB:-1} \
WANGGE_SCHEMATHESIS_EXAMPLES=$EXAMPLES WANGGE_PROPERTY_EXAMPLES=$PROPERTY \
WANGGE_FUZZ_REPORT=$report \
  .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/api/test_schemathesis.py tests/api/test_coordinates_property.py \
  tests/geo/layers/test_cql_property.py tests/api/test_hostile_input.py "$@"
