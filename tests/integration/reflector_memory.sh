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
# The RSS of PID once it has settled: two reads 0.2 s apart within 1 % (or 64 KiB) of each
# other; at most 10 s of reads, then the last one.
settled_rss_kib() {
  local pid=$1 prev now i
  prev=$(rss_kib "$pid")
  for i in $(seq 1 50); do
    sleep 0.2
    now=$(rss_kib "$pid")
    (((now > prev ? now - prev : prev - now) <= (now / 100 > 64 ? now / 100 : 64))) && break
    prev=$now
  done
  echo "$now"
}

# Holds N idle connections to PORT for a while; returns once they are all open. With
# "peer", returns once N are open or their number has stopped growing for 2 s (smtp-sink
# may hold fewer than N under this shell's descriptor limit) and sets HELD to the count.
PER_SOURCE=50
established() { ss -tnH state established "( sport = :$1 )" | wc -l; }
hold_idle() {
  local port=$1 peer=${2:-} sources=$(((N + PER_SOURCE - 1) / PER_SOURCE)) i last=-1 still=0
  "$LOAD" idle --target 127.0.0.1 --port "$port" --sources "127.8.0.1+$sources/1" \
    --per-source "$PER_SOURCE" --seconds 60 >"$TEST_DIR/load" 2>&1 &
  LOAD_PID=$!
  for i in $(seq 1 300); do
    HELD=$(established "$port")
    ((HELD >= N)) && return 0
    if [[ -n $peer ]]; then
      if ((HELD == last)); then still=$((still + 1)); else still=0; fi
      ((still >= 20 && HELD > 0)) && return 0
      last=$HELD
    fi
    sleep 0.1
  done
  [[ -n $peer && $HELD -gt 0 ]] && return 0
  fail "only $HELD of $N connections open"
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
before=$(settled_rss_kib "$REFLECTOR_PID")
hold_idle "$SMTP_PORT"
held=$(settled_rss_kib "$REFLECTOR_PID")
# The reflector notes its peak of open connections as it admits each one, and gives the
# memory back on its clock's tick once most of them are gone (reflector/reflector.cpp):
# released at once, they still count.
release
for i in $(seq 1 50); do
  (($(ss -tnH state established "( sport = :$SMTP_PORT )" | wc -l) == 0)) && break
  sleep 0.1
done
# The reflector's clock gives freed memory back within a second or two: wait for the
# condition checked below, at most 10 s.
for i in $(seq 1 100); do
  after=$(rss_kib "$REFLECTOR_PID")
  ((after - before <= (held - before) / 2)) && break
  sleep 0.1
done
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
  sink_before=$(settled_rss_kib "$SINK_PID")
  hold_idle "$SINK_PORT" peer
  sink_held=$(settled_rss_kib "$SINK_PID")
  release
  printf 'postfix smtp-sink:  RSS %d KiB idle, %d KiB with %d idle connections (%d bytes each)\n' \
    "$sink_before" "$sink_held" "$HELD" $(((sink_held - sink_before) * 1024 / HELD))
fi

((per <= MAX_BYTES_PER_CONNECTION)) ||
  fail "$per bytes per idle connection, over $MAX_BYTES_PER_CONNECTION"
pass "$per bytes per idle connection (at most $MAX_BYTES_PER_CONNECTION)"
# Most of what the connections took is given back (glibc keeps some in its arenas).
((after - before <= (held - before) / 2)) ||
  fail "RSS after the load ($after KiB) kept more than half of the peak's growth ($held KiB from $before KiB)"
pass "RSS after the load: $after KiB (peak $held KiB, $before KiB before)"
