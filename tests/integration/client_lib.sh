# Shared by the client_*.sh integration tests: a reflector on loopback with a port offset
# of its own, started and stopped on every exit path, and checks on the client's output.
# Usage: CLIENT=... REFLECTOR=... source client_lib.sh

set -u

fail() {
  echo "FAIL: $*" >&2
  if [[ -n "${REFLECTOR_LOG:-}" && -f "$REFLECTOR_LOG" ]]; then
    echo "--- reflector log (last 40 lines) ---" >&2
    tail -n 40 "$REFLECTOR_LOG" >&2
  fi
  exit 1
}

pass() { echo "ok: $*"; }

TEST_DIR=$(mktemp -d /tmp/egress25-client-test.XXXXXX)
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

# True when this host has a working ::1 (some containers have IPv6 turned off).
have_ipv6_loopback() {
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'
}

# Port offsets ending in 5: the reflector's own tests use offsets ending in 0, and the
# highest port (control, 7025 + offset) stays below the ephemeral range (32768).
pick_offset() {
  echo $((11005 + (($$ + RANDOM) % 1400) * 10))
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

# Starts a reflector on loopback (and ::1 when the host has it) with the packet witness
# off; sets OFFSET, SMTP_PORT, SUBMISSION_PORT, SMTPS_PORT, CONTROL_PORT, REFLECTOR_LOG,
# REFLECTOR_PID, REFLECTOR_IPV6 (1 when it listens on ::1 too). Retries with another
# offset when a port is taken.
start_reflector() {
  local attempt listen=(--listen 127.0.0.1)
  REFLECTOR_IPV6=0
  if have_ipv6_loopback; then
    listen+=(--listen ::1)
    REFLECTOR_IPV6=1
  fi
  for attempt in 1 2 3; do
    OFFSET=$(pick_offset)
    SMTP_PORT=$((25 + OFFSET))
    SUBMISSION_PORT=$((587 + OFFSET))
    SMTPS_PORT=$((465 + OFFSET))
    CONTROL_PORT=$((7025 + OFFSET))
    REFLECTOR_LOG="$TEST_DIR/reflector.$attempt.log"
    "$REFLECTOR" "${listen[@]}" --port-offset "$OFFSET" --witness off \
      --hostname reflector.test "$@" >"$REFLECTOR_LOG" 2>&1 &
    REFLECTOR_PID=$!
    REFLECTOR_PIDS+=("$REFLECTOR_PID")
    if wait_port 127.0.0.1 "$CONTROL_PORT" "$REFLECTOR_PID"; then return 0; fi
    kill "$REFLECTOR_PID" 2>/dev/null
    wait "$REFLECTOR_PID" 2>/dev/null
    grep -qi "address already in use" "$REFLECTOR_LOG" || break
  done
  fail "the reflector did not start"
}

# Runs the client; sets OUT, ERR (file names) and RC.
run_client() {
  OUT="$TEST_DIR/out.$RANDOM"
  ERR="$TEST_DIR/err.$RANDOM"
  "$CLIENT" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

# Checks that $OUT is exactly one JSON document in the contract's shape.
check_contract_json() {
  jq -e . "$OUT" >/dev/null || fail "stdout is not JSON: $(head -c 300 "$OUT")"
  [[ $(jq -s length "$OUT") == 1 ]] || fail "stdout holds more than one JSON document"
  jq -e '
    .schema == "egress25.check/1"
    and (.reflector | has("host") and has("control") and has("version") and (.witness | type == "boolean"))
    and (.client | has("local_address") and has("public_address")
         and (.public_addresses | has("ipv4") and has("ipv6")))
    and (.probes | type == "array")
    and (.summary.text | type == "string" and length > 0)
    and all(.probes[];
      (.target == "reflector" or .target == "destination")
      and (.host | type == "string") and (.port | type == "number")
      and (.service | type == "string") and (.family == "ipv4" or .family == "ipv6")
      and (.verdict | IN("open", "dropped", "reset", "icmp_unreachable", "intercepted",
                         "tampered", "tls_intercepted", "reply_dropped",
                         "firewalled_at_reflector", "not_listening", "inconclusive"))
      and (.location | IN("none", "path", "reflector_host", "destination", "unknown"))
      and (.blocking_hop == null or (.blocking_hop.ttl | type == "number"))
      and (.reasons | type == "array" and all(.[]; type == "string"))
      and (.elapsed_ms | type == "number")
      and (.evidence | type == "object"))' "$OUT" >/dev/null ||
    fail "the JSON report is not in the contract's shape: $(head -c 600 "$OUT")"
}
