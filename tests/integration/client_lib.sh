# Shared by the client_*.sh integration tests: a reflector on loopback with a port offset
# of its own, started and stopped on every exit path, and checks on the client's output.
# Usage: CLIENT=... REFLECTOR=... source client_lib.sh

# True when this host has a working ::1 (some containers have IPv6 turned off).
have_ipv6_loopback() {
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'
}

# The reflector listens on ::1 too when the host has it (REFLECTOR_IPV6=1 then), with
# the packet witness off. Offsets end in 5: the reflector's own tests use 0.
HARNESS_NAME=client
OFFSET_BASE=11005
REFLECTOR_LISTEN=(--listen 127.0.0.1)
REFLECTOR_IPV6=0
if have_ipv6_loopback; then
  REFLECTOR_LISTEN+=(--listen ::1)
  REFLECTOR_IPV6=1
fi
REFLECTOR_DEFAULT_OPTIONS=(--witness off)
source "$(dirname "${BASH_SOURCE[0]}")/reflector_harness.sh"

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
                         "tampered", "tls_intercepted", "proxied", "reply_dropped",
                         "firewalled_at_reflector", "not_listening", "inconclusive"))
      and (.location | IN("none", "client_host", "path", "reflector_host", "destination",
                          "unknown"))
      and (.blocking_hop == null or (.blocking_hop.ttl | type == "number"))
      and (.reasons | type == "array" and all(.[]; type == "string"))
      and (.elapsed_ms | type == "number")
      and (.evidence | type == "object"))' "$OUT" >/dev/null ||
    fail "the JSON report is not in the contract's shape: $(head -c 600 "$OUT")"
  # Every field as docs/report.md and its schema describe it (the test ends as skipped
  # without python3-jsonschema).
  local invalid rc
  invalid=$("$(dirname "${BASH_SOURCE[0]}")/../schema/validate-report" "$OUT" 2>&1)
  rc=$?
  if [[ $rc == 77 ]]; then
    skip_check "the report against docs/report.schema.json: $invalid"
    return
  fi
  [[ $rc == 0 ]] || fail "the JSON report does not match docs/report.schema.json: $invalid"
}
