#!/usr/bin/env bash
# The reflector's --metrics endpoint: a real egress25 check moves the sessions and probes
# counters by what it did, a failed TLS handshake is counted, every scrape passes
# `promtool check metrics`, other paths are 404, and a bare port binds loopback only.
# Usage: reflector_metrics.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
HARNESS_NAME=metrics
OFFSET_BASE=11009  # offsets ending in 9: no other script's ports
REFLECTOR_DEFAULT_OPTIONS=()
source "$(dirname "$0")/reflector_harness.sh"

command -v promtool >/dev/null || fail "promtool is missing (Debian's prometheus; scripts/install-deps.sh)"

# The metrics port, outside every harness's range (offset + 25 >= 11025).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((10100 + RANDOM % 900))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  fail "no free port for --metrics"
}

# http GET PATH → the whole response in $TEST_DIR/response, the body in $TEST_DIR/body.
http() {
  exec 3<>"/dev/tcp/127.0.0.1/$METRICS_PORT" || fail "cannot connect to the metrics port"
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n' "$1" >&3
  timeout 5 cat <&3 >"$TEST_DIR/response"
  exec 3<&-
  sed '1,/^\r$/d' "$TEST_DIR/response" >"$TEST_DIR/body"
}

# scrape NAME → $TEST_DIR/NAME.prom, after checking status, type and promtool's verdict.
scrape() {
  http /metrics
  head -n1 "$TEST_DIR/response" | grep -q '^HTTP/1.1 200 ' ||
    fail "GET /metrics: $(head -n1 "$TEST_DIR/response")"
  grep -qi '^Content-Type: text/plain; version=0.0.4' "$TEST_DIR/response" ||
    fail "GET /metrics: not the text format: $(sed '/^\r$/q' "$TEST_DIR/response")"
  promtool check metrics <"$TEST_DIR/body" >"$TEST_DIR/promtool" 2>&1 ||
    fail "promtool check metrics: $(cat "$TEST_DIR/promtool")"
  cp "$TEST_DIR/body" "$TEST_DIR/$1.prom"
}

# value FILE SERIES → the sample's value; 0 when the series is absent.
value() { awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' "$1"; }

METRICS_PORT=$(free_port)
# The witness when this user may capture (root, CAP_NET_RAW): its counters are checked then.
start_reflector --metrics "127.0.0.1:$METRICS_PORT" --witness auto
grep -q "metrics at http://127.0.0.1:$METRICS_PORT/metrics" "$REFLECTOR_LOG" ||
  fail "the log does not say where the metrics are"

scrape before
for s in sessions_opened_total sessions_live tls_handshakes_failed_total; do
  [[ $(value "$TEST_DIR/before.prom" "egress25_reflector_$s") == 0 ]] ||
    fail "$s is not 0 at start: $(cat "$TEST_DIR/before.prom")"
done
pass "scrape at start: promtool clean, counters at 0"

"$CLIENT" check --reflector "127.0.0.1:$CONTROL_PORT" --no-trace --json >"$TEST_DIR/report" \
  2>"$TEST_DIR/err" || fail "egress25 check failed: $(cat "$TEST_DIR/err")"
scrape after
after=$TEST_DIR/after.prom
[[ $(value "$after" egress25_reflector_sessions_opened_total) == 1 ]] ||
  fail "one check opened $(value "$after" egress25_reflector_sessions_opened_total) sessions, not 1"
[[ $(value "$after" egress25_reflector_sessions_live) == 1 ]] ||
  fail "sessions_live is $(value "$after" egress25_reflector_sessions_live), not 1"
# One tagged connection for each port the report says it probed, counted by port as bound.
for port in $(jq -r '.probes[] | select(.family == "ipv4") | .port' "$TEST_DIR/report"); do
  series="egress25_reflector_probes_total{port=\"$port\",family=\"ipv4\"}"
  [[ $(value "$after" "$series") == 1 ]] || fail "$series is not 1: $(grep probes "$after")"
done
[[ $(grep -c '^egress25_reflector_probes_total{' "$after") == 3 ]] ||
  fail "probes counted on other ports than the three services: $(grep probes "$after")"
pass "a check: 1 session opened and live, 1 probe on each of the 3 ports"
if [[ $(value "$after" egress25_reflector_witness_active) == 1 ]]; then
  (($(value "$after" egress25_reflector_witness_packets_total) > 0)) ||
    fail "the witness is active but counted no packet of the check: $(grep witness "$after")"
  grep -q '^egress25_reflector_witness_packets_dropped_total [0-9]' "$after" ||
    fail "no witness drop count: $(grep witness "$after")"
  pass "the witness counted the check's packets"
else
  skip_check "the witness counters: the packet witness is inactive here (no CAP_NET_RAW)"
fi

# A peer that is not a TLS client on the implicit-TLS port: one failed handshake.
exec 4<>"/dev/tcp/127.0.0.1/$SMTPS_PORT" || fail "cannot connect to $SMTPS_PORT"
printf 'EHLO not-tls\r\n' >&4
timeout 5 cat <&4 >/dev/null
exec 4<&-
scrape tls
[[ $(value "$TEST_DIR/tls.prom" egress25_reflector_tls_handshakes_failed_total) == 1 ]] ||
  fail "a plaintext EHLO on $SMTPS_PORT is not one failed TLS handshake: $(grep tls "$TEST_DIR/tls.prom")"
pass "plaintext on the implicit-TLS port: tls_handshakes_failed_total 1"

for path in / /metricsx /favicon.ico; do
  http "$path"
  head -n1 "$TEST_DIR/response" | grep -q '^HTTP/1.1 404 ' ||
    fail "GET $path: $(head -n1 "$TEST_DIR/response"), not 404"
done
pass "other paths: 404"

# A bare port from the config file: bound on loopback, not on every address.
kill "$REFLECTOR_PID"
wait "$REFLECTOR_PID" 2>/dev/null
METRICS_PORT=$(free_port)
echo "metrics = $METRICS_PORT" >"$TEST_DIR/reflector.conf"
start_reflector --config "$TEST_DIR/reflector.conf" --witness off
grep -q "metrics at http://127.0.0.1:$METRICS_PORT/metrics" "$REFLECTOR_LOG" ||
  fail "metrics = $METRICS_PORT did not bind 127.0.0.1: $(grep metrics "$REFLECTOR_LOG")"
scrape bare
pass "metrics = PORT in the config file: served on 127.0.0.1 only"
