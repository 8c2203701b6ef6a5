#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's end-to-end test (driven by the
# `playwright` Python package with executable_path=/usr/bin/chromium; `playwright
# install` is never run, since it downloads a browser build). Skips when present.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "==> chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_chromium: need root or sudo to apt-get install chromium" >&2
    exit 1
  fi
  SUDO="sudo"
fi
echo "==> installing chromium (apt)"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
  chromium fonts-dejavu-core
