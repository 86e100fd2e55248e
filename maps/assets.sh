#!/usr/bin/env bash
# Install the JS/CSS the Folium maps need (Leaflet & co.) and Swagger UI for /docs, pinned by
# maps/assets/package-lock.json, from the npm registry into the git-ignored .wangge/assets/ (or
# $WANGGE_ASSETS_DIR). Wangge serves them at /static/...; nothing third-party is copied into the
# repository.
# Idempotent: does nothing when the installed lock file matches the committed one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEST=${WANGGE_ASSETS_DIR:-$ROOT/.wangge/assets}
say() { printf '\033[1;34m[wangge]\033[0m %s\n' "$*"; }

# Screenshots and PNG exports need a CJK font in the headless browser (else Chinese is tofu).
if command -v chromium >/dev/null 2>&1 && command -v fc-list >/dev/null 2>&1 \
   && [ -z "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing a Chinese font for the headless browser (fonts-wqy-microhei)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null
  else
    echo "No Chinese font: PNG exports will show boxes. sudo apt-get install -y fonts-wqy-microhei" >&2
  fi
fi
if [ -f "$DEST/package-lock.json" ] && cmp -s maps/assets/package-lock.json "$DEST/package-lock.json" \
   && [ -f "$DEST/node_modules/bootstrap3/dist/css/glyphicons.css" ] \
   && [ -f "$DEST/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
  say "map assets up to date in $DEST (leaflet 1.9.3 & co., swagger-ui-dist 5.35.0)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    say "installing npm (Debian package) to fetch the map assets"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
  else
    echo "npm is missing: sudo apt-get install -y npm (needed once to fetch the map assets)" >&2
    exit 1
  fi
fi
say "installing map assets into $DEST: leaflet@1.9.3 leaflet.markercluster@1.1.0 leaflet.heat@0.2.0" \
    "jquery@3.7.1 bootstrap@5.2.2 bootstrap@3.4.1 (glyphicons) @fortawesome/fontawesome-free@6.2.0" \
    "leaflet.awesome-markers@2.0.5 leaflet.vectorgrid@1.3.0 swagger-ui-dist@5.35.0 (/docs)" \
    "(npm ci, pinned by" \
    "maps/assets/package-lock.json)"
mkdir -p "$DEST"
cp maps/assets/package.json maps/assets/package-lock.json "$DEST/"
(cd "$DEST" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
# Folium links the Bootstrap 3 glyphicons stylesheet for awesome markers; npm's Bootstrap 3 only
# ships the whole framework, which would fight Bootstrap 5: keep just the glyphicon rules.
say "extracting glyphicons.css from bootstrap@3.4.1"
python3 - "$DEST/node_modules/bootstrap3/dist/css" <<'PY'
import re, sys
from pathlib import Path
css_dir = Path(sys.argv[1])
src = (css_dir / "bootstrap.css").read_text(encoding="utf-8")
src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
rules = re.findall(r"([^{}]+)\{([^{}]*)\}", src)
keep = [f"{sel.strip()} {{{body.strip()}}}" for sel, body in rules
        if sel.strip().startswith(".glyphicon")
        or (sel.strip() == "@font-face" and "Glyphicons" in body)]
(css_dir / "glyphicons.css").write_text("\n".join(keep) + "\n", encoding="utf-8")
print(f"  {len(keep)} glyphicon rules")
PY
say "map assets installed: $(du -sh "$DEST/node_modules" | cut -f1) in $DEST/node_modules"
