#!/usr/bin/env bash
# Configures and builds the hardening build (clang 14, ASan + UBSan, the libFuzzer
# harnesses) into ./build-hardening, or $EGRESS25_HARDENING_BUILD_DIR: the targets named.
# Used by scripts/sanitize.sh and scripts/fuzz.sh, which share the build.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_HARDENING_BUILD_DIR:-$top/build-hardening}
cxx=${HARDENING_CXX:-clang++-14}
command -v "$cxx" >/dev/null || {
  echo "$cxx is missing (scripts/install-deps.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
}
cmake -G Ninja -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
  -DEGRESS25_SANITIZE=ON -DEGRESS25_FUZZ=ON >/dev/null
cmake --build "$build" --target "$@" -- -j"$(nproc)"
