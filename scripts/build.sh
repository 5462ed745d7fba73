#!/usr/bin/env bash
# Build everything: the TypeScript (dist/), the XDP program (dist/bpf/), the native layout probe.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist/bpf build
npx tsc -p tsconfig.json
chmod +x dist/xsk.js
# -I for asm/types.h, which Debian keeps under the multiarch include directory.
clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
  -c bpf/xsk_redirect.c -o dist/bpf/xsk_redirect.o
clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
  -c bpf/xsk_gen.c -o dist/bpf/xsk_gen.o
make -s -C native/umem OUT="$PWD/build"
