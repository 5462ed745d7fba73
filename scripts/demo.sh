#!/usr/bin/env bash
# The demo on a fresh machine: install and build what is missing, then run it (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (network namespaces, XDP); run: sudo npm run demo" >&2
  exit 1
fi
bash scripts/bootstrap.sh
node dist/demo.js "$@"
