#!/usr/bin/env bash
# Vendor the dashboard's browser libraries (pinned in services/aggregator/dashboard/
# package-lock.json) into the aggregator's static folder, so the page never loads a
# script from the internet. Needs node + npm; safe to re-run: skips the copy when the
# vendored files already match the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=services/aggregator/dashboard
DEST=services/aggregator/moodstream_aggregator/static/vendor
STAMP="$DEST/.lock-sha256"

if ! command -v npm >/dev/null 2>&1; then
  echo "vendor_dashboard: npm not found (apt-get install -y npm, or install Node.js)" >&2
  exit 1
fi

want=$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f "$DEST/chart.umd.min.js" ]; then
  echo "==> dashboard vendor files up to date"
  exit 0
fi

echo "==> vendoring dashboard libraries (npm ci)"
# --ignore-scripts: no install hook may download anything; --prefer-offline uses the
# npm cache when it has the pinned tarballs.
(cd "$SRC" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)

mkdir -p "$DEST"
chartjs="$SRC/node_modules/chart.js"
cp "$chartjs/dist/chart.umd.min.js" "$chartjs/dist/chart.umd.min.js.map" "$DEST/"
cp "$chartjs/LICENSE.md" "$DEST/chart.js.LICENSE.md"
version=$(node -p "require('./$chartjs/package.json').version")
echo "$want" >"$STAMP"
echo "==> vendored chart.js $version into $DEST"
