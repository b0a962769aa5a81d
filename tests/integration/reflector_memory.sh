#!/usr/bin/env bash
# Memory per idle connection: N connections from many loopback addresses that read the
# greeting and say nothing, held against the reflector (limits raised so all are
# admitted) and, when it is installed, against Postfix's smtp-sink for comparison; then
# the reflector's RSS once they are gone. The reflector must spend at most
# MAX_BYTES_PER_CONNECTION (8 KiB) on each, and give most of the peak back afterwards.
# Usage: reflector_memory.sh REFLECTOR_BINARY ABUSE_LOAD_BINARY [CONNECTIONS]
REFLECTOR=$1
LOAD=$2
N=${3:-2000}
MAX_BYTES_PER_CONNECTION=8192
HARNESS_NAME=memory
OFFSET_BASE=11007
source "$(dirname "$0")/reflector_harness.sh"
ulimit -n $((N * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Holds N idle connections to PORT for a while; returns once they are all open.
PER_SOURCE=50
hold_idle() {
  local port=$1 sources=$(((N + PER_SOURCE - 1) / PER_SOURCE)) i
  "$LOAD" idle --target 127.0.0.1 --port "$port" --sources "127.8.0.1+$sources/1" \
    --per-source "$PER_SOURCE" --seconds 60 >"$TEST_DIR/load" 2>&1 &
  LOAD_PID=$!
  for i in $(seq 1 300); do
    (($(ss -tnH state established "( sport = :$port )" | wc -l) >= N)) && return 0
    sleep 0.1
  done
  fail "only $(ss -tnH state established "( sport = :$port )" | wc -l) of $N connections open"
}
LOAD_PID=""
release() {
  [[ -n $LOAD_PID ]] || return 0
  kill "$LOAD_PID" 2>/dev/null
  wait "$LOAD_PID" 2>/dev/null
  LOAD_PID=""
}
trap 'release; cleanup' EXIT

# ---- the reflector ------------------------------------------------------------------------
start_reflector --witness off --max-connections $((N + 100)) \
  --max-connections-per-address 100000 --max-connections-per-prefix 100000 \
  --connection-rate-per-address 0 --connection-rate-per-prefix 0 \
  --untagged-timeout 3600 --stress-at 100
sleep 0.5
before=$(rss_kib "$REFLECTOR_PID")
hold_idle "$SMTP_PORT"
sleep 1
held=$(rss_kib "$REFLECTOR_PID")
release
for i in $(seq 1 50); do
  (($(ss -tnH state established "( sport = :$SMTP_PORT )" | wc -l) == 0)) && break
  sleep 0.1
done
sleep 2.5  # the reflector's clock gives freed memory back within a second or two
after=$(rss_kib "$REFLECTOR_PID")
per=$(((held - before) * 1024 / N))
printf 'egress25-reflector: RSS %d KiB idle, %d KiB with %d idle connections (%d bytes each), %d KiB after they closed\n' \
  "$before" "$held" "$N" "$per" "$after"

# ---- Postfix's smtp-sink under the same test, for comparison ---------------------------------
if [[ -x /usr/sbin/smtp-sink ]]; then
  SINK_PORT=$((SMTP_PORT + 1))
  /usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK_PORT" $((N + 100)) &
  SINK_PID=$!
  REFLECTOR_PIDS+=("$SINK_PID")
  wait_port 127.0.0.1 "$SINK_PORT" "$SINK_PID" || fail "smtp-sink did not start"
  sleep 0.5
  sink_before=$(rss_kib "$SINK_PID")
  hold_idle "$SINK_PORT"
  sleep 1
  sink_held=$(rss_kib "$SINK_PID")
  release
  printf 'postfix smtp-sink:  RSS %d KiB idle, %d KiB with %d idle connections (%d bytes each)\n' \
    "$sink_before" "$sink_held" "$N" $(((sink_held - sink_before) * 1024 / N))
fi

((per <= MAX_BYTES_PER_CONNECTION)) ||
  fail "$per bytes per idle connection, over $MAX_BYTES_PER_CONNECTION"
pass "$per bytes per idle connection (at most $MAX_BYTES_PER_CONNECTION)"
# Most of what the connections took is given back (glibc keeps some in its arenas).
((after - before <= (held - before) / 2)) ||
  fail "RSS after the load ($after KiB) kept more than half of the peak's growth ($held KiB from $before KiB)"
pass "RSS after the load: $after KiB (peak $held KiB, $before KiB before)"
