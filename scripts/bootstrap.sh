#!/usr/bin/env bash
# Make a fresh Debian 12 machine ready: system packages, npm packages, build. Idempotent and
# quick when everything is already there. Needs root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

# clang/llvm build the XDP program; g++ the GC-counting node addon (against node's own headers); libbpf is loaded through koffi at run time; libxdp-dev and
# libbpf-dev bring the headers; iproute2/iputils-ping/tcpdump/tshark/netsniff-ng serve tests and
# benchmarks; libcap2-bin gives capsh; python3-grpcio/grpc-tools run the non-TypeScript feed
# client test; prometheus brings promtool; librsvg2-bin turns the benchmark chart into PNG;
# nats-server runs JetStream for the NATS publisher's tests, demo and bench.
PACKAGES=(clang llvm gcc g++ make libbpf-dev libbpf1 libxdp-dev libelf-dev linux-libc-dev
  iproute2 iputils-ping ethtool tcpdump tshark netsniff-ng libcap2-bin
  python3-grpcio python3-grpc-tools python3-scapy prometheus librsvg2-bin nats-server)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/build.sh
