#!/usr/bin/env bash
# egress25 check against a real reflector on loopback: every probe open, exit 0, the
# JSON report per the contract, the human report's table and summary, and a port the
# reflector does not serve judged at the reflector host with exit 1.
# Usage: client_check_open.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
source "$(dirname "$0")/client_lib.sh"

start_reflector

# --json: every advertised service open, exactly the contract's document on stdout.
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --json
[[ $RC -eq 0 ]] || fail "exit $RC, not 0; stderr: $(cat "$ERR"); stdout: $(head -c 2000 "$OUT")"
check_contract_json
[[ ! -s "$ERR" ]] || fail "stderr is not empty without -v: $(cat "$ERR")"
jq -e --arg c "127.0.0.1:$CONTROL_PORT" '
  .reflector.control == $c and .reflector.witness == false
  and (.reflector.version | type == "string" and length > 0)
  and .client.public_address == "127.0.0.1" and .client.local_address == "127.0.0.1"
  and .client.public_addresses.ipv4 == "127.0.0.1" and .client.public_addresses.ipv6 == null' \
  "$OUT" >/dev/null || fail "reflector/client fields wrong: $(jq -c '.reflector, .client' "$OUT")"
ports=$(jq -c '[.probes[].port] | sort' "$OUT")
[[ $ports == "[$SMTP_PORT,$SMTPS_PORT,$SUBMISSION_PORT]" ]] ||
  fail "probed ports $ports, not the three advertised services"
jq -e 'all(.probes[]; .verdict == "open" and .location == "none" and .blocking_hop == null
          and .family == "ipv4" and .address == "127.0.0.1" and .target == "reflector"
          and (.reasons | length > 0))' "$OUT" >/dev/null ||
  fail "not every probe is open: $(jq -c '[.probes[] | {port, verdict, location, reasons}]' "$OUT")"
# The evidence behind "open": a completed dialogue, TLS up, the pinned certificate seen,
# and the reflector's record of the same tag.
jq -e 'all(.probes[]; .evidence.client.connect == "connected"
          and .evidence.client.tls_completed == true
          and (.evidence.client.peer_cert_sha256 | length == 64)
          and (.evidence.reflector.connections | length >= 1))' "$OUT" >/dev/null ||
  fail "open probes lack their evidence: $(jq -c '.probes[0].evidence' "$OUT" | head -c 1500)"
jq -e '.probes | map(select(.service == "smtps")) | length == 1' "$OUT" >/dev/null ||
  fail "the implicit-TLS port is not reported as smtps"
pass "--json: all probes open, exit 0, contract shape"

# --ports picks the ports; a port nothing serves is not open (without the packet witness
# the classifier cannot tell who sent the reset, so it may say inconclusive), exit 1.
unused=$((OFFSET + 2))
while (exec 3<>"/dev/tcp/127.0.0.1/$unused") 2>/dev/null; do unused=$((unused + 1)); done
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --ports "$SMTP_PORT,$unused" --json --no-trace
[[ $RC -eq 1 ]] || fail "a closed port gave exit $RC, not 1; stderr: $(cat "$ERR")"
check_contract_json
jq -e --argjson s "$SMTP_PORT" --argjson u "$unused" '
  (.probes | length == 2)
  and (.probes[] | select(.port == $s) | .verdict == "open")
  and (.probes[] | select(.port == $u) | .verdict != "open"
       and .evidence.client.connect == "refused")' "$OUT" >/dev/null ||
  fail "closed port misjudged: $(jq -c '[.probes[] | {port, verdict, location, reasons}]' "$OUT")"
grep -q "$unused" <<<"$(jq -r .summary.text "$OUT")" || fail "the summary does not name port $unused"
pass "--ports with a closed port: refused, not open, exit 1"

# The human report: header, one table row per probe, a summary in words.
run_client check --reflector "127.0.0.1:$CONTROL_PORT"
[[ $RC -eq 0 ]] || fail "human report: exit $RC; stderr: $(cat "$ERR")"
grep -q "^PORT *SERVICE *FAMILY *VERDICT *WHERE *WHY" "$OUT" || fail "no table header: $(cat "$OUT")"
for port in "$SMTP_PORT" "$SMTPS_PORT" "$SUBMISSION_PORT"; do
  grep -Eq "^$port +[a-z]+ +IPv4 +open +none( |$)" "$OUT" || fail "no open row for $port: $(cat "$OUT")"
done
grep -q "control 127.0.0.1:$CONTROL_PORT" "$OUT" || fail "header does not name the control address"
grep -q "public address: *127.0.0.1 (IPv4)" "$OUT" || fail "header does not show the public address"
grep -q "^Summary:" "$OUT" || fail "no summary: $(cat "$OUT")"
grep -q "Nothing blocks outbound mail" "$OUT" || fail "summary does not conclude: $(cat "$OUT")"
pass "human report: table and summary"

# -v: debug lines on stderr, the report unchanged on stdout.
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --json -v
[[ $RC -eq 0 ]] || fail "-v: exit $RC"
check_contract_json
grep -q "debug" "$ERR" || fail "-v printed no debug lines"
pass "-v"

# The reflector's SMTP port given as its control port: "220 " read as a frame length is
# 842149920 bytes; the client says the port speaks SMTP instead, and where the control
# port usually is (issue 12).
run_client check --reflector "127.0.0.1:$SMTP_PORT"
[[ $RC -eq 3 ]] || fail "an SMTP port as the control port: exit $RC, not 3"
grep -q "egress25: 127.0.0.1:$SMTP_PORT speaks SMTP (it greeted with '220 .*'): it is a mail port, not the reflector's control port. The control port is 7025" "$ERR" ||
  fail "an SMTP port as the control port said: $(cat "$ERR")"
grep -q "announced\|malformed" "$ERR" && fail "the frame-length error leaked: $(cat "$ERR")"
pass "an SMTP port given as the control port: named as SMTP, exit 3"
