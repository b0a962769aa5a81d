#!/usr/bin/env bash
# The unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (clang 14, warnings
# as errors), built into ./build-hardening: any invalid memory access, leak or undefined
# behaviour fails the run.
#   bash scripts/sanitize.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_HARDENING_BUILD_DIR:-$top/build-hardening}
units=(tests/unit/egress25_unit_tests tests/unit/egress25_client_unit_tests
  tests/unit/reflector/egress25_reflector_unit_tests)
EGRESS25_HARDENING_BUILD_DIR=$build "$top/scripts/hardening-build.sh" \
  egress25_unit_tests egress25_client_unit_tests egress25_reflector_unit_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${units[@]}"; do
  echo "== $(basename "$t") under ASan + UBSan"
  "$build/$t" --log_level=nothing --report_level=short || status=1
done
exit $status
