#!/usr/bin/env bash
# The unit tests, then the loopback integration tests, under AddressSanitizer and
# UndefinedBehaviorSanitizer (clang 14, warnings as errors), built into ./build-hardening:
# any invalid memory access, leak or undefined behaviour fails the run. The integration
# tests run the sanitized client and reflector (ctest in the hardening build); the `abuse`
# label is left out: it measures memory and load, which the sanitizers change by design.
#   bash scripts/sanitize.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_HARDENING_BUILD_DIR:-$top/build-hardening}
units=(tests/unit/egress25_unit_tests tests/unit/egress25_client_unit_tests
  tests/unit/reflector/egress25_reflector_unit_tests)
EGRESS25_HARDENING_BUILD_DIR=$build "$top/scripts/hardening-build.sh" \
  egress25_unit_tests egress25_client_unit_tests egress25_reflector_unit_tests \
  egress25_integration_programs
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${units[@]}"; do
  echo "== $(basename "$t") under ASan + UBSan"
  "$build/$t" --log_level=nothing --report_level=short || status=1
done
echo "== integration tests with the sanitized client and reflector"
# A sanitizer report from a process the test scripts stop themselves (the reflector at
# SIGTERM, a leak at exit) would not change their exit status: every report goes to a
# file, and any file there fails the run.
reports=$build/sanitizer-reports
rm -rf "$reports" && mkdir -p "$reports" && chmod 1777 "$reports" # the reflector runs as nobody
export ASAN_OPTIONS=$ASAN_OPTIONS:log_path=$reports/asan
export UBSAN_OPTIONS=$UBSAN_OPTIONS:log_path=$reports/ubsan
(cd "$build" && ctest -L integration -LE abuse --output-on-failure --timeout 300) || status=1
if compgen -G "$reports/*" >/dev/null; then
  for f in "$reports"/*; do echo "--- $f" >&2; head -n 60 "$f" >&2; done
  echo "FAIL: sanitizer reports from the integration tests (above)" >&2
  status=1
fi
exit $status
