# Shared by the integration scripts: a temporary folder, a reflector on loopback with a
# port offset of its own, started, awaited and stopped on every exit path.
# Usage: set REFLECTOR (and optionally HARNESS_NAME, OFFSET_BASE, REFLECTOR_LISTEN,
# REFLECTOR_DEFAULT_OPTIONS), then `source reflector_harness.sh`.

set -u

HARNESS_NAME=${HARNESS_NAME:-integration}
# Port offsets are OFFSET_BASE + 10·k, so scripts with different bases never collide,
# and the highest port (control, 7025 + offset) stays below the ephemeral range (32768).
OFFSET_BASE=${OFFSET_BASE:-11000}
if [[ -z "${REFLECTOR_LISTEN+set}" ]]; then REFLECTOR_LISTEN=(--listen 127.0.0.1); fi
if [[ -z "${REFLECTOR_DEFAULT_OPTIONS+set}" ]]; then REFLECTOR_DEFAULT_OPTIONS=(); fi

fail() {
  echo "FAIL: $*" >&2
  if [[ -n "${REFLECTOR_LOG:-}" && -f "$REFLECTOR_LOG" ]]; then
    echo "--- reflector log (last 60 lines) ---" >&2
    tail -n 60 "$REFLECTOR_LOG" >&2
  fi
  exit 1
}

pass() { echo "ok: $*"; }

# A sub-check that cannot run on this host: say why and go on with the others. A test
# with one ends as skipped (exit 77, ctest's SKIP_RETURN_CODE), never as passed, unless
# something failed.
SKIPPED_CHECKS=()
skip_check() {
  local known
  for known in "${SKIPPED_CHECKS[@]}"; do [[ $known == "$*" ]] && return 0; done
  echo "SKIP: $*"
  SKIPPED_CHECKS+=("$*")
}

TEST_DIR=$(mktemp -d "/tmp/egress25-$HARNESS_NAME-test.XXXXXX")
chmod 755 "$TEST_DIR"  # the reflector may run as nobody after dropping root
REFLECTOR_PIDS=()

cleanup() {
  local status=$? pid
  for pid in "${REFLECTOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$TEST_DIR"
  if [[ $status -eq 0 && ${#SKIPPED_CHECKS[@]} -gt 0 ]]; then
    echo "skipped, not passed: ${#SKIPPED_CHECKS[@]} check(s) could not run here:" \
      "$(printf '%s; ' "${SKIPPED_CHECKS[@]}")"
    exit 77
  fi
}
trap cleanup EXIT

# A port offset for this run: PID-derived so parallel runs differ.
pick_offset() {
  echo $((OFFSET_BASE + (($$ + RANDOM) % 1400) * 10))
}

# True once something accepts TCP connections on HOST PORT; false when PID died or after
# 10 s. A bounded poll on the condition itself, not a guess at how long start-up takes.
wait_port() {
  local host=$1 port=$2 pid=$3 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# True once LOG shows the control port PORT listening; false when PID died or after 10 s.
# Unlike wait_port it makes no connection, so no test sees one it did not make.
wait_listening() {
  local pid=$1 log=$2 port=$3 i
  for i in $(seq 1 100); do
    if grep -q "listening on .*:$port (control)" "$log"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts a reflector with REFLECTOR_LISTEN, REFLECTOR_DEFAULT_OPTIONS and the extra
# options given; sets OFFSET, SMTP_PORT, SUBMISSION_PORT, SMTPS_PORT, CONTROL_PORT,
# REFLECTOR_LOG and REFLECTOR_PID. Retries with another offset when a port is taken.
start_reflector() {
  local attempt
  for attempt in 1 2 3; do
    OFFSET=$(pick_offset)
    SMTP_PORT=$((25 + OFFSET))
    SUBMISSION_PORT=$((587 + OFFSET))
    SMTPS_PORT=$((465 + OFFSET))
    CONTROL_PORT=$((7025 + OFFSET))
    REFLECTOR_LOG="$TEST_DIR/reflector.$attempt.log"
    "$REFLECTOR" "${REFLECTOR_LISTEN[@]}" --port-offset "$OFFSET" --hostname reflector.test \
      "${REFLECTOR_DEFAULT_OPTIONS[@]}" "$@" >"$REFLECTOR_LOG" 2>&1 &
    REFLECTOR_PID=$!
    REFLECTOR_PIDS+=("$REFLECTOR_PID")
    if wait_listening "$REFLECTOR_PID" "$REFLECTOR_LOG" "$CONTROL_PORT"; then return 0; fi
    kill "$REFLECTOR_PID" 2>/dev/null
    wait "$REFLECTOR_PID" 2>/dev/null
    grep -qi "address already in use" "$REFLECTOR_LOG" || break
  done
  fail "the reflector did not start"
}
