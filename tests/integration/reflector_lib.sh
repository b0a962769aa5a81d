# Shared by the reflector_*.sh integration tests: start a reflector on loopback with a
# port offset of its own, wait until it listens, and stop it on every exit path.
# Usage: source reflector_lib.sh; REFLECTOR=... start_reflector [extra options]

set -u

fail() {
  echo "FAIL: $*" >&2
  if [[ -n "${REFLECTOR_LOG:-}" && -f "$REFLECTOR_LOG" ]]; then
    echo "--- reflector log ---" >&2
    cat "$REFLECTOR_LOG" >&2
  fi
  exit 1
}

pass() { echo "ok: $*"; }

TEST_DIR=$(mktemp -d /tmp/egress25-reflector-test.XXXXXX)
chmod 755 "$TEST_DIR"  # the reflector may run as nobody after dropping root
REFLECTOR_PIDS=()

cleanup() {
  local pid
  for pid in "${REFLECTOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$TEST_DIR"
}
trap cleanup EXIT

# A port offset for this run: PID-derived so parallel runs differ, kept so that the
# highest port (control, 7025 + offset) stays below the ephemeral range (32768).
pick_offset() {
  echo $(( 11000 + ( ($$ + RANDOM) % 1400 ) * 10 ))
}

# Waits until the log shows the control port listening (or the process died).
wait_listening() {
  local pid=$1 log=$2 port=$3 i
  for i in $(seq 1 100); do
    if grep -q "listening on .*:$port (control)" "$log"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# Starts a reflector; sets OFFSET, SMTP_PORT, SUBMISSION_PORT, SMTPS_PORT, CONTROL_PORT,
# REFLECTOR_LOG and REFLECTOR_PID. Retries with another offset if a port is taken.
start_reflector() {
  local attempt
  for attempt in 1 2 3; do
    OFFSET=$(pick_offset)
    SMTP_PORT=$((25 + OFFSET))
    SUBMISSION_PORT=$((587 + OFFSET))
    SMTPS_PORT=$((465 + OFFSET))
    CONTROL_PORT=$((7025 + OFFSET))
    REFLECTOR_LOG="$TEST_DIR/reflector.$attempt.log"
    "$REFLECTOR" --listen 127.0.0.1 --port-offset "$OFFSET" --hostname reflector.test \
      "$@" >"$REFLECTOR_LOG" 2>&1 &
    REFLECTOR_PID=$!
    REFLECTOR_PIDS+=("$REFLECTOR_PID")
    if wait_listening "$REFLECTOR_PID" "$REFLECTOR_LOG" "$CONTROL_PORT"; then return 0; fi
    kill "$REFLECTOR_PID" 2>/dev/null
    wait "$REFLECTOR_PID" 2>/dev/null
    grep -q "address already in use" "$REFLECTOR_LOG" || break
  done
  fail "the reflector did not start"
}

# hello_field KEY FILE → the value of KEY=... in reflector_ctl output.
field() { sed -n "s/^$1=//p" "$2" | head -n1; }
