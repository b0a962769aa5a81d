#!/usr/bin/env bash
# Configures and builds egress25 into ./build (Ninja, RelWithDebInfo).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_BUILD_DIR:-$top/build}
cmake -G Ninja -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -- -j"$(nproc)"
