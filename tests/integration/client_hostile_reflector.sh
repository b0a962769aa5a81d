#!/usr/bin/env bash
# A hostile reflector cannot reach the client's terminal: its version, service names,
# error messages, witness reasons, refusal reasons and SMTP greeting carry escape
# sequences, CR/LF that forge lines and a bell, and every byte the client prints is
# printable ASCII or a newline, in the human report, in its messages and with -v. The
# JSON report keeps the exact text (JSON escapes it). Fields over the protocol's caps are
# refused with a plain sentence.
# Usage: client_hostile_reflector.sh CLIENT_BINARY HOSTILE_REFLECTOR_BINARY
CLIENT=$1
HOSTILE=$2
HARNESS_NAME=hostile
OFFSET_BASE=11008
source "$(dirname "$0")/reflector_harness.sh"

# Starts the fake reflector in MODE; sets CONTROL_PORT and SMTP_PORT.
start_hostile() {
  local attempt
  for attempt in 1 2 3; do
    OFFSET=$(pick_offset)
    CONTROL_PORT=$((7025 + OFFSET))
    SMTP_PORT=$((25 + OFFSET))
    REFLECTOR_LOG="$TEST_DIR/hostile.$1.$attempt.log"
    "$HOSTILE" "$1" "$CONTROL_PORT" "$SMTP_PORT" >"$REFLECTOR_LOG" 2>&1 &
    REFLECTOR_PID=$!
    REFLECTOR_PIDS+=("$REFLECTOR_PID")
    for i in $(seq 1 100); do
      grep -q ready "$REFLECTOR_LOG" && return 0
      kill -0 "$REFLECTOR_PID" 2>/dev/null || break
      sleep 0.1
    done
  done
  fail "the hostile reflector did not start"
}

run_client() {
  OUT="$TEST_DIR/out.$RANDOM"
  ERR="$TEST_DIR/err.$RANDOM"
  "$CLIENT" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

# Fails when FILE holds a byte that is neither printable ASCII nor a newline.
only_printable() {
  if LC_ALL=C grep -naP '[^\x0a\x20-\x7e]' "$2" >"$TEST_DIR/raw"; then
    fail "$1 holds raw control bytes: $(head -c 400 "$TEST_DIR/raw" | od -c | head -n 8)"
  fi
}

# ---- HELLO answered with hostile text, a hostile greeting on the advertised port -------
start_hostile hello
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --no-trace --timeout 2 -v
[[ $RC -eq 1 ]] || fail "hostile HELLO: exit $RC, not 1; $(head -c 600 "$ERR" | od -c | head)"
only_printable "the human report" "$OUT"
only_printable "stderr with -v" "$ERR"
grep -q 'x1b' "$OUT" || fail "the escape sequences are not shown escaped: $(head -c 1500 "$OUT")"
grep -q "egress25 check: reflector 127.0.0.1 (version 6.6.6" "$OUT" ||
  fail "the header lost its version: $(head -n 3 "$OUT")"
pass "hostile version, service name, reasons and greeting: human report and -v escaped"

run_client check --reflector "127.0.0.1:$CONTROL_PORT" --no-trace --timeout 2 --json
[[ $RC -eq 1 ]] || fail "hostile HELLO, --json: exit $RC, not 1"
jq -e . "$OUT" >/dev/null || fail "--json is not JSON"
only_printable "the JSON report" "$OUT"
# Exact: the version as sent, every byte (JSON escapes it on the wire and in the report).
version=$(jq -r .reflector.version "$OUT" | od -An -tx1 | tr -d ' \n')
[[ $version == 362e362e361b5b324a1b5b481b5d303b6f776e6564071b5b33316d5245440d0a656772657373* ]] ||
  fail "the JSON report's version is not the reflector's exact text: $version"
pass "--json keeps the exact text, escaped as JSON"

# ---- HELLO refused with a hostile message -------------------------------------------------
start_hostile refuse
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --no-trace
[[ $RC -eq 3 ]] || fail "hostile refusal: exit $RC, not 3"
only_printable "stderr" "$ERR"
only_printable "the human report" "$OUT"
grep -q 'refused HELLO (busy): no\\x1b\[2J' "$ERR" || fail "the refusal is not shown escaped: $(cat "$ERR")"
# Progress lines (stderr is not a terminal here) are the client's own; besides them the
# refusal is one line, whatever CR/LF the reflector put in it.
[[ $(grep -c 'all probes open' "$ERR") -le 1 &&
  $(grep -vc '^egress25: \(resolving\|connecting\|looking up\|asking\|tracing\|[0-9]* probes\? started\)' "$ERR") -le 2 ]] ||
  fail "the refusal forged lines on stderr: $(cat "$ERR")"
pass "hostile error message: escaped, on one line"

# ---- Fields over the protocol's caps ------------------------------------------------------
start_hostile oversized
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --no-trace
[[ $RC -eq 3 ]] || fail "oversized fields: exit $RC, not 3"
only_printable "stderr" "$ERR"
only_printable "the human report" "$OUT"
[[ $(wc -c <"$ERR") -lt 2000 ]] || fail "oversized fields reached stderr: $(wc -c <"$ERR") bytes"
pass "oversized fields refused: $(head -n1 "$ERR")"
