#!/usr/bin/env bash
# docs/report.schema.json against the code: reports rendered by the client for every
# verdict, location and segment are valid; the schema's vocabularies are the code's; and
# a report with a wrong verdict, a missing or unknown field, or who-fields that break the
# contract is refused (the schema can fail).
# usage: report_schema_test.sh REPORT_SAMPLES_BINARY
# exit: 0 passed, 1 failed, 77 skipped (no python3-jsonschema).
set -u -o pipefail
SAMPLES=$1
HERE=$(cd "$(dirname "$0")" && pwd)
VALIDATE=$HERE/validate-report
SCHEMA=$HERE/../../docs/report.schema.json
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}
pass() { echo "ok: $*"; }

"$VALIDATE" --schema "$SCHEMA" /dev/null >/dev/null 2>"$DIR/probe"
[[ $? -eq 77 ]] && { cat "$DIR/probe"; exit 77; }

mkdir "$DIR/samples"
"$SAMPLES" "$DIR/samples" >"$DIR/vocabulary" || fail "report_samples failed"
out=$("$VALIDATE" "$DIR"/samples/*.json) || fail "rendered reports are not valid: $out"
pass "$(ls "$DIR"/samples | wc -l) rendered reports valid"

# The schema's words are exactly the code's, both ways.
for kind in verdict location segment; do
  code=$(awk -v k="$kind" '$1 == k {print $2}' "$DIR/vocabulary" | sort | tr '\n' ' ')
  schema=$(jq -r --arg k "$kind" '.["$defs"][$k].enum[]' "$SCHEMA" | sort | tr '\n' ' ')
  [[ $code == "$schema" ]] || fail "${kind}s: the code has '$code', the schema '$schema'"
  used=$(jq -r --arg k "$kind" '.probes[][$k] // empty' "$DIR"/samples/*.json | sort -u | tr '\n' ' ')
  [[ $used == "$schema" ]] || fail "the samples do not cover every $kind: '$used'"
done
pass "verdicts, locations and segments: the schema's are the code's, all rendered"

# Broken reports are refused, each for its own reason.
good=$DIR/samples/locations.json
refuse() {
  local why=$1 filter=$2 expect=$3
  jq "$filter" "$good" >"$DIR/broken.json"
  if out=$("$VALIDATE" "$DIR/broken.json"); then
    fail "accepted a report with $why"
  fi
  grep -q -- "$expect" <<<"$out" || fail "a report with $why refused for another reason: $out"
}
refuse "an unknown verdict" '.probes[0].verdict = "blocked"' "/probes/0/verdict"
refuse "no location" 'del(.probes[0].location)' "'location' is a required property"
refuse "an undocumented field" '.probes[0].nat = true' "'nat' was unexpected"
refuse "a segment off the path" '.probes[0].segment = "upstream"' "/probes/0/segment"
refuse "no segment on the path" '.probes[1].segment = null' "/probes/1/segment"
refuse "a hop and candidates at once" \
  '.probes[4].blocking_hop = .probes[4].blocking_candidates[0]' "/probes/4/blocking_candidates"
refuse "a verdict without a reason" '.probes[0].reasons = []' "/probes/0/reasons"
refuse "exit 0 beside a blocked port" '.exit_status = 0' "'open' was expected"
refuse "exit 3 with a reachable reflector" '.exit_status = 3' "/exit_status"
refuse "a destination without its reference" 'del(.probes[-1].evidence.reference_verdict)' \
  "'reference_verdict' is a required property"
refuse "a wrong schema name" '.schema = "egress25.check/2"' "/schema"
pass "broken reports refused, each for its reason"
