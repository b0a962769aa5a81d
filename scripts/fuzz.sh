#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang 14, ASan + UBSan) into ./build-hardening, runs each
# for a while, starting from its seed corpus (tests/fuzz/corpus/<harness>): first the
# seeds are replayed, then it fuzzes for FUZZ_SECONDS (default 10). New inputs go to a
# scratch copy of the corpus, not into the repository. Exit 1 when a harness finds a
# crash; the input that did it is left in the build directory.
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh              # all, 10 minutes each
#   bash scripts/fuzz.sh control_frame smtp_reply      # some
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EGRESS25_HARDENING_BUILD_DIR:-$top/build-hardening}
seconds=${FUZZ_SECONDS:-10}
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(control_frame smtp_reply server_dialogue client_dialogue transcript)
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
EGRESS25_HARDENING_BUILD_DIR=$build "$top/scripts/hardening-build.sh" "${targets[@]}"

failed=()
for h in "${harnesses[@]}"; do
  work=$build/corpus/$h
  mkdir -p "$work" "$build/crashes/$h"
  echo "== fuzz_$h: the seeds, then $seconds s"
  # -rss_limit_mb: the sanitizers hold about 500 MB; much more is a leak worth seeing.
  if ! (cd "$build/crashes/$h" && "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$work" "$top/tests/fuzz/corpus/$h" \
    2>"$build/fuzz_$h.log"); then
    failed+=("$h")
    tail -n 40 "$build/fuzz_$h.log" >&2
  fi
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
    "$build/fuzz_$h.log" | tr '\n' ' '
  echo
done
if ((${#failed[@]})); then
  echo "FAIL: ${failed[*]} (inputs in $build/crashes/)" >&2
  exit 1
fi
echo "ok: ${harnesses[*]}"
