#!/usr/bin/env bash
# One part of the benchmark, in a namespace lab of its own (tests/lab/lib.sh), so that
# nothing else on the machine shares its loopback, its packet witness or its ports, and
# everything it started is gone afterwards. Called by bench/run.sh; prints one record
# per measurement on stdout, "KEY<TAB>TOOL<TAB>VALUE", progress on stderr.
#
# usage: measure.sh --client BIN --reflector BIN --tools DIR --runs N [--sessions N]
#                   servers | loopback | wan RTT_MS
#
#   servers   egress25-reflector (--witness on --user nobody, default logging, no
#             new-connection rate limits: a benchmark is a flood by their measure) beside
#             Postfix smtp-sink on the VPS's loopback, fresh processes each run, in
#             alternating order: sessions/s from bench/smtp_load (50 concurrent over 20
#             source addresses), CPU per session (utime + stime from /proc/PID/stat),
#             RSS idle and after --sessions sessions.
#   loopback  time to verdict on the VPS's loopback: `egress25 check` (all open) beside
#             `nmap -sT` on the three ports and `swaks --quit-after EHLO` on 25.
#   wan RTT   the lab from the home to the VPS, with the isp1 ── isp2 link given RTT_MS
#             by bench/delay_link (0: no delay link, the plain lab): all open, then
#             port 25 dropped at isp2, each with egress25 (--trace), nmap -sT and
#             swaks (--timeout 2s), tools in rotating order.
#
# Every measurement checks its result (all open, or 25 dropped and the rest open): a
# timing of a wrong answer is a failure, exit 1. With BENCH_QUIET_WAIT=S in the
# environment, each server run and loopback round first waits up to S seconds for the
# rest of the machine to be quiet.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/lab/lib.sh
. "$HERE/../tests/lab/lib.sh"

CLIENT="" REFLECTOR="" TOOLS="" RUNS=5 SESSIONS=10000 PART="" RTT=""
usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --client) CLIENT=$(realpath -m "$2"); shift 2 ;;
    --reflector) REFLECTOR=$(realpath -m "$2"); shift 2 ;;
    --tools) TOOLS=$(realpath -m "$2"); shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    servers | loopback) PART=$1; shift ;;
    wan) PART=wan RTT=${2:-}; shift 2 || usage ;;
    *) usage ;;
  esac
done
[[ -n $PART && -x $CLIENT && -x $REFLECTOR && -d $TOOLS && $RUNS =~ ^[1-9][0-9]*$ ]] || usage
[[ $PART != wan || $RTT =~ ^[0-9]+$ ]] || usage
lab_require

# Ports on the VPS's loopback: its lab reflector keeps the standard ones.
OFFSET=10000
SINK_PORT=10125
CLK_TCK=$(getconf CLK_TCK)

# Records go to stdout, or to HELD while a server round may still be taken back.
HOLD=0 HELD=""
record() {
  if ((HOLD)); then
    HELD+=$(printf '%s\t%s\t%s' "$1" "$2" "$3")$'\n'
  else
    printf '%s\t%s\t%s\n' "$1" "$2" "$3"
  fi
}

# Runs CMD in namespace NS, timed there (`ip netns exec` itself is not in the figure);
# stdout to $OUT, stderr to $ERR. Sets RC and MS.
OUT="" ERR=""
timed() { # NS CMD...
  local ns=$1 times t0 t1
  shift
  OUT="$LAB_DIR/run.out" ERR="$LAB_DIR/run.err"
  # shellcheck disable=SC2016 # expanded by the inner bash
  times=$(lab_exec "$ns" bash -c 'base=$1; shift; t0=$EPOCHREALTIME
    "$@" >"$base.out" 2>"$base.err" </dev/null
    rc=$?; t1=$EPOCHREALTIME; printf "%s %s %s" "$rc" "$t0" "$t1"' timed-run "$LAB_DIR/run" "$@")
  read -r RC t0 t1 <<<"$times"
  MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
}

# ---------------------------------------------------------------------------------
# servers

# Resident set of PID in MB, and its CPU (user + system) in clock ticks.
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  stat=${stat##*) }
  # Fields after the command: state is field 3 overall, utime 14, stime 15.
  awk '{ print $12 + $13 }' <<<"$stat"
}

# Waits (bounded) until the reflector's packet witness has its packet socket: the
# comparison is with the witness on, and nothing else in the VPS's namespace opens one.
wait_for_witness() { # PID
  local deadline=$((SECONDS + LAB_WAIT_SECONDS))
  until (($(lab_exec vps cat /proc/net/packet | wc -l) > 1)); do
    kill -0 "$1" 2>/dev/null || lab_die "the reflector died before its witness started"
    ((SECONDS < deadline)) || lab_die "the reflector's packet witness opened no packet socket"
    sleep 0.05
  done
}

# CPU ticks the whole machine spent busy (not idle, not waiting for I/O), all cores.
machine_busy_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# Waits (at most BENCH_QUIET_WAIT seconds; 0, the default, does not wait) until the
# rest of the machine is quiet: under a quarter of a core busy over two half-second
# windows in a row. Throughput and CPU figures taken beside someone else's compiler
# are figures of the compiler. Records how long it waited.
wait_for_quiet() { # KEY
  local limit=${BENCH_QUIET_WAIT:-0} start=$EPOCHREALTIME calm=0 b0 b1 deadline
  ((limit > 0)) || return 0
  deadline=$((SECONDS + limit))
  while ((calm < 2)); do
    if ((SECONDS >= deadline)); then
      lab_log "warning: the machine stayed busy for ${limit}s; measuring anyway"
      break
    fi
    b0=$(machine_busy_ticks)
    sleep 0.5 # the sampling window
    b1=$(machine_busy_ticks)
    if (((b1 - b0) * 4 < CLK_TCK / 2)); then calm=$((calm + 1)); else calm=0; fi
  done
  record "$1" waited_s "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
}

# One server run: start it fresh, idle RSS, SESSIONS sessions, CPU and RSS after.
server_run() { # TOOL ROUND
  local tool=$1 round=$2 pid port cpu0 cpu1 load ok name
  if [[ $tool == egress25 ]]; then
    # The new-connection rate limits are abuse protection, not capacity: a benchmark is
    # a flood by their measure, and smtp-sink has none. Every other limit is its default.
    name=reflector-$round
    lab_spawn vps "$name" "$REFLECTOR" --listen 127.0.0.1 --port-offset "$OFFSET" \
      --witness on --user nobody --connection-rate-per-address 0 --connection-rate-per-prefix 0
    port=$((25 + OFFSET))
  else
    name=smtp-sink-$round
    lab_spawn vps "$name" /usr/sbin/smtp-sink -u nobody -h sink.bench.invalid \
      "127.0.0.1:$SINK_PORT" 256
    port=$SINK_PORT
  fi
  pid=$LAB_LAST_PID
  wait_for_port vps 127.0.0.1 "$port" "$pid" || lab_die "$tool did not come up"
  if [[ $tool == egress25 ]]; then
    wait_for_port vps 127.0.0.1 $((7025 + OFFSET)) "$pid" || lab_die "$tool control port"
    wait_for_witness "$pid"
  fi
  record server.rss_idle_mb "$tool" "$(rss_mb "$pid")"
  wait_for_quiet server.quiet
  local busy0 busy1 t0 t1
  busy0=$(machine_busy_ticks) cpu0=$(cpu_ticks "$pid") t0=$EPOCHREALTIME
  load=$(lab_exec vps "$TOOLS/smtp_load" --server "127.0.0.1:$port" --sessions "$SESSIONS" \
    --concurrency 50 --sources 20)
  local load_rc=$?
  t1=$EPOCHREALTIME cpu1=$(cpu_ticks "$pid") busy1=$(machine_busy_ticks)
  record server.rss_after_mb "$tool" "$(rss_mb "$pid")"
  lab_kill_pid "$pid"
  ok=$(jq -r .ok <<<"$load") || lab_die "smtp_load printed no result against $tool: $load"
  # A refused or failed session would make the rate one of refusals: every session must
  # complete for the figures to mean anything.
  ((load_rc == 0 && ok == SESSIONS)) ||
    lab_die "$tool did not complete every session: $(jq -c '{ok, errors, errors_by_step}' <<<"$load"); its log: $(tail -n 3 "$LAB_DIR/$name.log" 2>/dev/null)"
  record server.sessions_per_s "$tool" "$(jq -r .sessions_per_s <<<"$load")"
  record server.errors "$tool" "$(jq -r .errors <<<"$load")"
  record server.generator_cpu_us "$tool" \
    "$(jq -r --argjson ok "$ok" '.generator_cpu_s * 1e6 / $ok | . * 10 | round / 10' <<<"$load")"
  LAST_CPU_US=$(awk -v d=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
  LAST_RATE=$(jq -r .sessions_per_s <<<"$load")
  record server.cpu_us_per_session "$tool" "$LAST_CPU_US"
  # What the rest of the machine took meanwhile (other engineers' builds, CI): all busy
  # time less the server's and the generator's, in cores. A run beside a busy machine
  # says so.
  LAST_OTHER=$(jq -r --argjson b $((busy1 - busy0)) \
    --argjson s $((cpu1 - cpu0)) --argjson hz "$CLK_TCK" --arg t0 "$t0" --arg t1 "$t1" '
    (($b - $s) / $hz - .generator_cpu_s) / (($t1 | tonumber) - ($t0 | tonumber))
    | if . < 0 then 0 else . end | . * 100 | round / 100' <<<"$load")
  record server.other_cores "$tool" "$LAST_OTHER"
  lab_log "servers run $round: $tool: $(jq -c '{sessions_per_s, errors, latency_ms}' <<<"$load")"
}

# A round is both servers, one after the other in alternating order. When the rest of
# the machine took more than half a core during either run (someone else's build), the
# round is run again, up to MAX_ATTEMPTS times in all; the last attempt stands, and the
# rounds taken back are counted.
MAX_ATTEMPTS=3
BUSY_CORES=0.5
server_round() { # ROUND -> sets ROUND_BUSY
  local round=$1 rate_e cpu_e rate_s cpu_s busy=0
  if ((round % 2)); then
    server_run egress25 "$round"
    rate_e=$LAST_RATE cpu_e=$LAST_CPU_US busy=$LAST_OTHER
    server_run smtp-sink "$round"
    rate_s=$LAST_RATE cpu_s=$LAST_CPU_US
  else
    server_run smtp-sink "$round"
    rate_s=$LAST_RATE cpu_s=$LAST_CPU_US busy=$LAST_OTHER
    server_run egress25 "$round"
    rate_e=$LAST_RATE cpu_e=$LAST_CPU_US
  fi
  ROUND_BUSY=$(awk -v a="$busy" -v b="$LAST_OTHER" -v m="$BUSY_CORES" 'BEGIN { print (a > m || b > m) }')
  # The two runs of a round are next to each other in time, so their ratio is less
  # exposed to what else the machine did than the ratio of the medians.
  record server.sessions_per_s_ratio paired "$(awk -v a="$rate_e" -v b="$rate_s" 'BEGIN { printf "%.3f", a / b }')"
  record server.cpu_us_per_session_ratio paired "$(awk -v a="$cpu_e" -v b="$cpu_s" 'BEGIN { printf "%.3f", a / b }')"
}

part_servers() {
  local round attempt retaken=0
  record server.sessions - "$SESSIONS"
  for ((round = 1; round <= RUNS; round++)); do
    for ((attempt = 1; attempt <= MAX_ATTEMPTS; attempt++)); do
      HOLD=1 HELD=""
      server_round "$round"
      HOLD=0
      if ((ROUND_BUSY && attempt < MAX_ATTEMPTS)); then
        lab_log "servers run $round: the rest of the machine was busy; running it again"
        retaken=$((retaken + 1))
        continue
      fi
      printf '%s' "$HELD"
      break
    done
  done
  record server.retaken_rounds - "$retaken"
}

# ---------------------------------------------------------------------------------
# time to verdict

# The three tools, each with what its answer must be. EXPECT: open or dropped25.
# NS runs the tool against ADDR; PORTS are what 25, 465, 587 are there; CONTROL is the
# reflector's control address.
check_egress25() { # EXPECT
  local want=0
  [[ $1 == dropped25 ]] && want=1
  [[ $RC == "$want" ]] || lab_die "egress25 check: exit $RC, expected $want: $(head -c 500 "$ERR")"
  local filter='all(.probes[]; .verdict == "open")'
  # shellcheck disable=SC2016 # jq's variable
  [[ $1 == dropped25 ]] && filter='all(.probes[]; if .port == $p25 then .verdict == "dropped" else .verdict == "open" end)'
  jq -e --argjson p25 "${PORTS[0]}" "$filter" "$OUT" >/dev/null ||
    lab_die "egress25 check ($1): $(jq -c '[.probes[] | {port, verdict, location, reasons}]' "$OUT")"
}
check_nmap() { # EXPECT
  local p state
  [[ $RC == 0 ]] || lab_die "nmap: exit $RC: $(head -c 500 "$ERR")"
  for p in "${PORTS[@]}"; do
    state=open
    [[ $1 == dropped25 && $p == "${PORTS[0]}" ]] && state=filtered
    grep -q "^$p/tcp *$state " "$OUT" || lab_die "nmap ($1): port $p is not $state: $(cat "$OUT")"
  done
}
check_swaks() { # EXPECT
  if [[ $1 == open ]]; then
    [[ $RC == 0 ]] || lab_die "swaks: exit $RC: $(tail -n 5 "$OUT")"
  else
    if [[ $RC == 0 ]] || ! grep -q 'timeout' "$OUT" "$ERR"; then
      lab_die "swaks (25 dropped): exit $RC, no timeout: $(tail -n 5 "$OUT")"
    fi
  fi
}

run_tool() { # TOOL EXPECT KEY
  local tool=$1 expect=$2 key=$3
  case $tool in
    egress25)
      local trace=()
      [[ $expect == dropped25 ]] && trace=(--trace)
      timed "$NS" "$CLIENT" check --reflector "$CONTROL" --family 4 --json "${trace[@]}"
      check_egress25 "$expect"
      # What the client derived its budget for a silent port from, and the budget.
      record "$key.control_rtt_ms" egress25 "$(jq -r .client.control_rtt_ms "$OUT")"
      record "$key.probe_timeout_ms" egress25 "$(jq -r .client.probe_timeout_ms "$OUT")"
      ;;
    nmap)
      local list
      list=$(IFS=,; printf '%s' "${PORTS[*]}")
      timed "$NS" nmap -n -sT -Pn -p "$list" "$ADDR"
      check_nmap "$expect"
      ;;
    swaks)
      local extra=()
      # A silent port costs swaks its whole --timeout (default 30 s): 2 s, stated.
      [[ $expect == dropped25 ]] && extra=(--timeout 2s)
      timed "$NS" swaks --server "$ADDR:${PORTS[0]}" --quit-after EHLO "${extra[@]}"
      check_swaks "$expect"
      ;;
  esac
  record "$key" "$tool" "$MS"
}

# RUNS rounds of the three tools, the order rotating each round.
rounds() { # EXPECT KEY
  local round i tools=(egress25 nmap swaks)
  for ((round = 0; round < RUNS; round++)); do
    # On loopback a check is CPU work, not waiting: measure it on a quiet machine.
    [[ $2 == loopback.* ]] && wait_for_quiet "$2.quiet"
    for ((i = 0; i < 3; i++)); do run_tool "${tools[(round + i) % 3]}" "$1" "$2"; done
  done
  lab_log "$2: done ($RUNS rounds)"
}

part_loopback() {
  lab_spawn vps reflector-loopback "$REFLECTOR" --listen 127.0.0.1 --port-offset "$OFFSET" \
    --witness on --user nobody
  local port
  for port in 25 465 587 7025; do
    wait_for_port vps 127.0.0.1 $((port + OFFSET)) "$LAB_LAST_PID" || lab_die "the reflector did not come up"
  done
  wait_for_witness "$LAB_LAST_PID"
  NS=vps ADDR=127.0.0.1 CONTROL="127.0.0.1:$((7025 + OFFSET))"
  PORTS=($((25 + OFFSET)) $((465 + OFFSET)) $((587 + OFFSET)))
  rounds open loopback.all_open_ms
}

part_wan() {
  lab_start_reflector "$REFLECTOR" --user nobody --witness on
  local rtt
  rtt=$(lab_exec home "$TOOLS/tcp_rtt" "$LAB_VPS4" 9 5) || lab_die "tcp_rtt failed: $rtt"
  record "wan$RTT.rtt_ms" tcp_rtt "$(jq -r .median_ms <<<"$rtt")"
  NS=home ADDR=$LAB_VPS4 CONTROL=$LAB_VPS4 PORTS=(25 465 587)
  rounds open "wan$RTT.all_open_ms"
  lab_block isp2 drop tcp dport 25 >/dev/null
  rounds dropped25 "wan$RTT.dropped_ms"
}

# ---------------------------------------------------------------------------------
case $PART in
  servers | loopback) LAB_ISP_ROUTERS=1 ;;
  wan)
    if ((RTT > 0)); then
      LAB_DELAY_LINK="$TOOLS/delay_link"
      LAB_DELAY_MS=$(awk -v r="$RTT" 'BEGIN { printf "%g", r / 2 }')
    fi
    ;;
esac
lab_up
if [[ $PART != wan ]]; then
  # The VPS's loopback as a host's is: the lab's nftables base table (its hooks, and the
  # connection tracking they bring into the namespace) costs about 50 µs of CPU per
  # session at both servers, which no host without a firewall pays.
  lab_exec vps nft flush ruleset || lab_die "cannot empty the VPS's nftables ruleset"
fi
"part_$PART"
