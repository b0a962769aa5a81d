#!/usr/bin/env bash
# Line and branch coverage of the classifier (common/classifier.cpp and its helper
# common/attribution.cpp) from the unit tests alone. Builds only the common unit tests
# (egress25_unit_tests) with GCC's --coverage at -O0 into ./build-coverage, runs them,
# and prints gcovr's line and branch figures with exception branches left out (the
# compiler's hidden paths for a throwing allocation are not decisions of the code). Fails
# when classifier.cpp's line coverage is below COVERAGE_MIN_LINES (95) per cent.
#   bash scripts/coverage.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_COVERAGE_BUILD_DIR:-$top/build-coverage}
min_lines=${COVERAGE_MIN_LINES:-95}
command -v gcovr >/dev/null || {
  echo "gcovr is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
}
cmake -G Ninja -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DEGRESS25_COVERAGE=ON >/dev/null
cmake --build "$build" --target egress25_unit_tests -- -j"$(nproc)"
# Counts from this run only.
find "$build" -name '*.gcda' -delete
"$build/tests/unit/egress25_unit_tests" --log_level=nothing --report_level=short

filters=(--filter "$top/common/classifier\.cpp" --filter "$top/common/attribution\.cpp")
# The lines no unit test reaches (to write the rows they lack), then the figures.
gcovr --root "$top" --object-directory "$build" --exclude-throw-branches "${filters[@]}" "$build" \
  --txt - | sed -n '/^File/,$p'
summary=$build/coverage-summary.json
gcovr --root "$top" --object-directory "$build" --exclude-throw-branches "${filters[@]}" "$build" \
  --json-summary "$summary" >/dev/null
python3 - "$summary" "$min_lines" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
min_lines = float(sys.argv[2])
files = {f["filename"]: f for f in summary["files"]}
def figure(covered, total):
    share = 100.0 * covered / total if total else 100.0
    return f"{covered:>4}/{total:<4} {share:5.1f} %", share
print("coverage from the unit tests alone, exception branches excluded:")
print(f"  {'file':<24} {'lines':<17} {'branches':<17}")
shares = {}
for name in ("common/classifier.cpp", "common/attribution.cpp"):
    f = files.get(name)
    if f is None:
        sys.exit(f"coverage: no data for {name}")
    lines, shares[name] = figure(f["line_covered"], f["line_total"])
    branches, _ = figure(f["branch_covered"], f["branch_total"])
    print(f"  {name:<24} {lines:<17} {branches:<17}")
if shares["common/classifier.cpp"] < min_lines:
    sys.exit(f"coverage: common/classifier.cpp has {shares['common/classifier.cpp']:.1f} % of its "
             f"lines covered, below {min_lines:g} %")
PY
