#!/usr/bin/env bash
# The README's first command: installs, builds, and runs the lab demo: a simulated home
# line whose ISP silently drops outbound port 25, diagnosed end to end by egress25.
# Needs root (it builds network namespaces); everything it creates is removed on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
EGRESS25_BUILD_DIR=$build "$top/scripts/build.sh" >/dev/null
exec "$top/tests/lab/demo.sh" "$build" "$@"
