#!/usr/bin/env bash
# Everything the tests need, then the tests: unit tests, XDP verdicts, netns end-to-end.
# Runs as root (namespaces, XDP); nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test: needs root (network namespaces, XDP, AF_XDP); run: sudo npm test" >&2
  exit 1
fi
bash scripts/bootstrap.sh
npx tsc --noEmit -p test/tsconfig.json
# One file at a time: the netns tests each make their own namespaces and XDP attachments.
node --import tsx --test --test-concurrency=1 test/unit/*.test.ts test/netns/*.test.ts
