#!/usr/bin/env bash
# Shared set-up for run.sh and test.sh: idempotent, prints each step.
#   1. system packages when root: PostgreSQL 15 + PostGIS; Chromium and a Chinese font (map
#      PNGs, the monthly report's PDF and charts); wrk (scripts/bench); QGIS and poppler
#      (pdftoppm) for tests
#   2. .venv with the project and its pinned dependencies
#   3. offline map assets (Leaflet & co. from the npm registry, pinned)
#   4. a project-local PostGIS cluster under .wangge/ (unless WANGGE_DATABASE_URL is set)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WITH_BROWSER=${WITH_BROWSER:-0}
say() { printf '\033[1;34m[wangge]\033[0m %s\n' "$*"; }

PG_BIN=${WANGGE_PG_BIN:-/usr/lib/postgresql/15/bin}
APT_PKGS=()
if [ -z "${WANGGE_DATABASE_URL:-}" ]; then
  [ -x "$PG_BIN/initdb" ] || APT_PKGS+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/postgis.control ] || APT_PKGS+=(postgresql-15-postgis-3)
fi
# the service prints PDFs and map PNGs in headless Chromium, with a CJK font for Chinese text
command -v "${WANGGE_CHROMIUM:-chromium}" >/dev/null 2>&1 || APT_PKGS+=(chromium)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || APT_PKGS+=(fonts-wqy-microhei)
# the benchmarks (scripts/bench/lookup.py) load the server with wrk: installed as root, else named
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then APT_PKGS+=(wrk)
  else say "基准测试需要 wrk / the benchmarks need wrk: sudo apt-get install -y wrk"; fi
fi
if [ "$WITH_BROWSER" = 1 ]; then  # the real clients the tests drive: QGIS (headless), pdftoppm
  dpkg -s python3-qgis qgis-providers >/dev/null 2>&1 || APT_PKGS+=(python3-qgis qgis-providers)
  command -v pdftoppm >/dev/null 2>&1 || APT_PKGS+=(poppler-utils)
fi
if [ ${#APT_PKGS[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing system packages: ${APT_PKGS[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}" >/dev/null
  else
    echo "Missing system packages: ${APT_PKGS[*]}" >&2
    echo "Install them with: sudo apt-get install -y --no-install-recommends ${APT_PKGS[*]}" >&2
    echo "(or set WANGGE_DATABASE_URL to an existing PostGIS database)" >&2
    exit 1
  fi
else
  say "system packages present"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
STAMP=.venv/.wangge-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ constraints.txt -nt "$STAMP" ]; then
  say "installing wangge and its dependencies into .venv (pinned by constraints.txt)"
  .venv/bin/pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v 'is ignored' || true
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,boundaries]' 2>&1 | grep -v 'is ignored' || true
  .venv/bin/python -c 'import api.cli, geo, maps' || { echo "install of .venv failed" >&2; exit 1; }
  touch "$STAMP"
else
  say ".venv up to date"
fi

if [ -f maps/assets.sh ]; then
  bash maps/assets.sh
fi

if [ -z "${WANGGE_DATABASE_URL:-}" ]; then
  say "starting the project-local PostGIS (data in .wangge/pg)"
  .venv/bin/wangge db start
else
  say "using WANGGE_DATABASE_URL (no local cluster)"
fi
