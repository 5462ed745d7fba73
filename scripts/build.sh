#!/usr/bin/env bash
# Build everything: the TypeScript (dist/), the XDP program (dist/bpf/), the GC-counting and park addons
# (dist/native/), the native layout probe.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist/bpf build
npx tsc -p tsconfig.json
chmod +x dist/xsk.js
# -I for asm/types.h, which Debian keeps under the multiarch include directory.
for prog in xsk_redirect xsk_minimal xsk_gen xsk_sink; do
  clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
    -c "bpf/$prog.c" -o "dist/bpf/$prog.o"
done
make -s -C native/umem OUT="$PWD/build"
make -s -C native/gc-watch OUT="$PWD/dist/native"
make -s -C native/park OUT="$PWD/dist/native"
make -s -C bench/c OUT="$PWD/build/bench"
