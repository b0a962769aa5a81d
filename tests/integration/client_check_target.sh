#!/usr/bin/env bash
# egress25 check --target on loopback: smtp-sink stands in for a real destination (on a
# free port through --target-port), judged open; a port nothing listens on is judged
# not_listening at the destination while the reflector's smtp port is open (exit 1); the
# destination never sees the session's probe tag; a bad --target is exit 2.
# Usage: client_check_target.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
source "$(dirname "$0")/client_lib.sh"

[[ -x "$SMTP_SINK" ]] || { echo "skip: no $SMTP_SINK"; exit 77; }

start_reflector

# The destination: smtp-sink on a port of this run's offset range that nothing uses.
sink_port=$((OFFSET + 2500))
while (exec 3<>"/dev/tcp/127.0.0.1/$sink_port") 2>/dev/null; do sink_port=$((sink_port + 1)); done
sink_user=()
[[ $(id -u) -eq 0 ]] && sink_user=(-u nobody)
"$SMTP_SINK" "${sink_user[@]}" "127.0.0.1:$sink_port" 10 >"$TEST_DIR/sink.log" 2>&1 &
REFLECTOR_PIDS+=("$!")  # stopped by the harness's cleanup on every exit path
wait_port 127.0.0.1 "$sink_port" "$!" || fail "smtp-sink did not start: $(cat "$TEST_DIR/sink.log")"

# An open destination: open at none, exit 0, one destination probe beside the reflector's.
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --ports "$SMTP_PORT" --no-trace --json \
  --target '[127.0.0.1]' --target-port "$sink_port"
[[ $RC -eq 0 ]] || fail "open destination: exit $RC, not 0; stderr: $(cat "$ERR"); $(head -c 1500 "$OUT")"
check_contract_json
jq -e --argjson s "$SMTP_PORT" --argjson d "$sink_port" '
  (.probes | length == 2)
  and (.probes[0] | .target == "reflector" and .port == $s and .verdict == "open")
  and (.probes[1] | .target == "destination" and .host == "127.0.0.1"
       and .address == "127.0.0.1" and .port == $d and .family == "ipv4"
       and .verdict == "open" and .location == "none" and .blocking_hop == null
       and (.reasons[0] | test("smtp-sink")))' "$OUT" >/dev/null ||
  fail "open destination misjudged: $(jq -c '[.probes[] | {target, host, port, verdict, location, reasons}]' "$OUT")"
# What the destination was sent: the neutral EHLO name, never the reflector's probe tag.
sent=$(jq -r '.probes[1].evidence.client.transcript.plain.to_server.text' "$OUT")
grep -q "EHLO egress25-check.invalid" <<<"$sent" || fail "the destination got no neutral EHLO: $sent"
tag=$(jq -r '.probes[0].evidence.client.probe_tag // empty' "$OUT")
[[ -n $tag ]] || fail "the reflector probe has no probe_tag to compare with"
! grep -q "$tag\|egress25.invalid" <<<"$sent" || fail "the destination saw the probe tag: $sent"
jq -e '.summary.text | test("The destination 127.0.0.1 accepts connections on port [0-9]+")' \
  "$OUT" >/dev/null || fail "the summary says nothing about the destination: $(jq .summary "$OUT")"
pass "--target [127.0.0.1] with smtp-sink: open, neutral EHLO, exit 0"

# The human report: the destination's row, named.
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --ports "$SMTP_PORT" --no-trace \
  --target '[127.0.0.1]' --target-port "$sink_port"
[[ $RC -eq 0 ]] || fail "human report: exit $RC; stderr: $(cat "$ERR")"
# The reason beside the row, or under it when the width leaves the WHY column too narrow.
grep -Eq "^$sink_port +smtp +IPv4 +open +none( |$)" "$OUT" && grep -q "the destination greeted" "$OUT" ||
  fail "no destination row: $(cat "$OUT")"
grep -Eq "^ +destination 127.0.0.1$" "$OUT" || fail "the row does not name the destination: $(cat "$OUT")"
pass "human report: the destination's row"

# A destination port nothing listens on, while the reflector's smtp port is open: refused
# at the destination, which is the destination's business, not this network's; exit 1.
closed=$((sink_port + 1))
while (exec 3<>"/dev/tcp/127.0.0.1/$closed") 2>/dev/null; do closed=$((closed + 1)); done
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --ports "$SMTP_PORT" --no-trace --json \
  --target '[127.0.0.1]' --target-port "$closed"
[[ $RC -eq 1 ]] || fail "closed destination: exit $RC, not 1; stderr: $(cat "$ERR")"
check_contract_json
jq -e --argjson d "$closed" '
  (.probes[0] | .target == "reflector" and .verdict == "open")
  and (.probes[1] | .target == "destination" and .port == $d
       and .verdict == "not_listening" and .location == "destination"
       and .evidence.trace_unavailable == "not traced for destinations")' "$OUT" >/dev/null ||
  fail "closed destination misjudged: $(jq -c '[.probes[] | {target, port, verdict, location, reasons}]' "$OUT")"
jq -e '.summary.text | test("does not accept connections") and test("destination.s side")' \
  "$OUT" >/dev/null || fail "the summary does not blame the destination: $(jq .summary "$OUT")"
pass "--target to a closed port: not_listening at destination, exit 1"

# Bad forms are usage errors (exit 2) before anything is probed.
for bad in 'example.org:25' '[example.org]' '[192.0.2.1' 'two words'; do
  run_client check --reflector "127.0.0.1:$CONTROL_PORT" --target "$bad"
  [[ $RC -eq 2 ]] || fail "--target '$bad': exit $RC, not 2"
  grep -q -- "--target" "$ERR" || fail "--target '$bad': stderr does not say why: $(cat "$ERR")"
  [[ ! -s "$OUT" ]] || fail "--target '$bad' printed a report"
done
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --target-port 2525
[[ $RC -eq 2 ]] || fail "--target-port without --target: exit $RC, not 2"
grep -q -- "--target-port needs --target" "$ERR" ||
  fail "--target-port without --target: stderr does not say why: $(cat "$ERR")"
[[ ! -s "$OUT" ]] || fail "--target-port without --target printed a report"
pass "bad --target forms: exit 2, with the reason"
