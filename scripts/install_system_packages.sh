#!/usr/bin/env bash
# Debian packages the tests use as real parts: Chromium for the dashboard test (driven
# by the `playwright` Python package with executable_path=/usr/bin/chromium; `playwright
# install` is never run, since it downloads a browser build) and RabbitMQ for the AMQP
# bridge tests (tools/moodstream_dev/rabbitmq.py runs private nodes; the package's own
# service is not needed). Installs only what is missing.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> system packages present (chromium, rabbitmq-server)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_system_packages: need root or sudo to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  SUDO="sudo"
fi
echo "==> installing ${missing[*]} (apt)"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
