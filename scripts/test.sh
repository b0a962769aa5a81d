#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs every test
# (unit, loopback integration, and the namespace lab, which needs root).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
EGRESS25_BUILD_DIR=$build "$top/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 600 -j2 "$@"
