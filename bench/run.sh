#!/usr/bin/env bash
# The benchmark of issue 8, in one command: egress25 beside its peers, every figure from
# the same run, median and spread of interleaved runs.
#
# usage: bench/run.sh [--short] [--runs N] [--build-dir DIR] [--out FILE] [--quiet-wait S]
#                     [--client BIN --reflector BIN --tools DIR]
#
#   (a) the reflector (--witness on --user nobody, default logging) beside Postfix
#       smtp-sink: sessions/s (connect, greeting, EHLO, QUIT; 50 concurrent over 20
#       source addresses), CPU per session, RSS idle and after the run's sessions;
#   (b) `egress25 check` time to verdict on loopback (all open) beside `nmap -sT` and
#       `swaks --quit-after EHLO`; port 25 silently dropped in the namespace lab;
#   (c) the same, all open and 25 dropped, over the lab with a WAN delay link at RTT 20,
#       100 and 300 ms, in RTTs;
#   and where egress25 stands against each target of issue 8.
#
# Full mode (default): 5 runs of each, 10,000 sessions per server run; the tables go to
# stdout and to --out (default BUILD_DIR/bench-results.md). Each server run and each
# loopback round first waits up to --quiet-wait seconds (default 30) for the rest of the
# machine to be idle; the table says how much else ran meanwhile. --short (CI): one run
# of each, 2,000 sessions, no waiting, no file: it proves that every row is produced,
# nothing about speed. Every part runs in a namespace lab of its own (bench/measure.sh),
# so it needs root; without it, or without nmap, swaks or smtp-sink, it exits 77 with
# the reason.
# Binaries default to BUILD_DIR (./build): client/egress25, reflector/egress25-reflector
# and bench/ (delay_link, tcp_rtt, smtp_load).
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

SHORT=0 RUNS="" QUIET_WAIT="" BUILD="$TOP/build" OUT_FILE="" CLIENT="" REFLECTOR="" TOOLS=""
usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --short) SHORT=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --out) OUT_FILE=$2; shift 2 ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --client) CLIENT=$2; shift 2 ;;
    --reflector) REFLECTOR=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done
CLIENT=${CLIENT:-$BUILD/client/egress25}
REFLECTOR=${REFLECTOR:-$BUILD/reflector/egress25-reflector}
TOOLS=${TOOLS:-$BUILD/bench}
if ((SHORT)); then
  RUNS=${RUNS:-1} SESSIONS=2000 QUIET_WAIT=${QUIET_WAIT:-0}
else
  RUNS=${RUNS:-5} SESSIONS=10000 OUT_FILE=${OUT_FILE:-$BUILD/bench-results.md}
  QUIET_WAIT=${QUIET_WAIT:-30}
fi
[[ $RUNS =~ ^[1-9][0-9]*$ && $QUIET_WAIT =~ ^[0-9]+$ ]] || usage
export BENCH_QUIET_WAIT=$QUIET_WAIT
RTTS=(20 100 300)

skip() {
  printf 'SKIP: bench not run: %s\n' "$*"
  exit 77
}
[[ $(id -u) == 0 ]] || skip "needs root (the packet witness and network namespaces)"
for tool in nmap swaks jq awk; do
  command -v "$tool" >/dev/null 2>&1 || skip "needs '$tool' (scripts/install-deps.sh installs it)"
done
[[ -x /usr/sbin/smtp-sink ]] || skip "needs Postfix's /usr/sbin/smtp-sink (package postfix)"
[[ -c /dev/net/tun ]] || skip "needs /dev/net/tun for the WAN delay link"
for bin in "$CLIENT" "$REFLECTOR" "$TOOLS/delay_link" "$TOOLS/tcp_rtt" "$TOOLS/smtp_load"; do
  [[ -x $bin ]] || { echo "bench: $bin is missing: build first (scripts/build.sh)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/egress25-bench.XXXXXX) || exit 1
CHILD=""
# shellcheck disable=SC2317 # run by the trap
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
# A signal ends the running part, which cleans its lab up, then us.
trap '[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null; wait; exit 143' TERM
trap '[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null; wait; exit 130' INT
RECORDS="$WORK/records.tsv"
: >"$RECORDS"

# The lab's own watchdog bounds each part (a full run at RTT 300 takes about 2 minutes).
export LAB_MAX_SECONDS=$((SHORT ? 120 : 900)) LAB_QUIET=1

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
part() { # ARGS...
  local rc t0=$SECONDS
  printf 'bench: %s ...\n' "$*" >&2
  "$HERE/measure.sh" --client "$CLIENT" --reflector "$REFLECTOR" --tools "$TOOLS" \
    --runs "$RUNS" --sessions "$SESSIONS" "$@" >>"$RECORDS" &
  CHILD=$!
  wait "$CHILD"
  rc=$?
  CHILD=""
  if ((rc == 77)); then
    skip "$(sed -n 's/^SKIP: //p' "$RECORDS" | head -n 1)" # lab_require's reason
  fi
  ((rc == 0)) || { echo "bench: FAIL: part '$*' exited $rc" >&2; exit 1; }
  printf 'bench: %s done in %ss\n' "$*" $((SECONDS - t0)) >&2
}
BENCH_T0=$SECONDS
part servers
part loopback
part wan 0
for rtt in "${RTTS[@]}"; do part wan "$rtt"; done
ELAPSED=$((SECONDS - BENCH_T0))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------
# Aggregation: median, min, max of each KEY and TOOL.

# Prints "median min max count" of KEY/TOOL, or nothing.
stats() { # KEY TOOL
  awk -F'\t' -v k="$1" -v t="$2" '$1 == k && $2 == t { print $3 }' "$RECORDS" | sort -g |
    awk '{ v[NR] = $1 } END {
      if (NR == 0) exit
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%s %s %s %d\n", m, v[1], v[NR], NR }'
}
median() { stats "$1" "$2" | cut -d' ' -f1; }

# Formats a value with its spread: "59 ms [55–70]" (no spread for a single run).
# KIND: ms (milliseconds, shown as s above 1000), ms1 (0.1 ms), int (thousands separated), us,
# mb, x2 (a plain number to 0.01).
fmt() { # KIND KEY TOOL
  local s
  s=$(stats "$2" "$3")
  [[ -n $s ]] || { printf 'n/a'; return; }
  awk -v kind="$1" -v s="$s" '
    function sep(x,   r) {
      x = sprintf("%.0f", x); r = ""
      while (length(x) > 3) { r = "," substr(x, length(x) - 2) r; x = substr(x, 1, length(x) - 3) }
      return x r
    }
    function one(x, unit) {
      if (kind == "ms") return x >= 1000 ? sprintf("%.2f s", x / 1000) : sprintf("%.0f ms", x)
      if (kind == "ms1") return sprintf("%.1f ms", x)
      if (kind == "int") return sep(x)
      if (kind == "us") return sprintf("%.0f µs", x)
      if (kind == "mb") return sprintf("%.1f MB", x)
      if (kind == "x2") return sprintf("%.2f", x)
      return x
    }
    function bare(x) {
      if (kind == "ms") return x >= 1000 ? sprintf("%.2f", x / 1000) : sprintf("%.0f", x)
      if (kind == "ms1") return sprintf("%.1f", x)
      if (kind == "int") return sep(x)
      if (kind == "us") return sprintf("%.0f", x)
      if (kind == "mb") return sprintf("%.1f", x)
      if (kind == "x2") return sprintf("%.2f", x)
      return x
    }
    BEGIN {
      split(s, a, " ")
      out = one(a[1])
      if (a[4] > 1) out = out " [" bare(a[2]) "–" bare(a[3]) "]"
      printf "%s", out
    }'
}
# A / B of the medians, as "0.57" or "2.5×".
ratio() { # KEY TOOL_A TOOL_B [times]
  local a b
  a=$(median "$1" "$2") b=$(median "$1" "$3")
  [[ -n $a && -n $b ]] || { printf 'n/a'; return; }
  awk -v a="$a" -v b="$b" -v x="${4:-}" 'BEGIN {
    if (b == 0) { printf "n/a"; exit }
    v = a / b
    if (x == "") printf "%.2f", v; else printf (v < 1 ? "%.2f×" : "%.1f×"), v }'
}
# A median in RTTs: "11.3 RTT".
in_rtt() { # KEY TOOL RTT
  local m
  m=$(median "$1" "$2")
  [[ -n $m ]] || { printf 'n/a'; return; }
  awk -v m="$m" -v r="$3" 'BEGIN { printf "%.1f RTT", m / r }'
}
# "yes"/"no" for A <= B.
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "yes" : "no") }'; }

# ---------------------------------------------------------------------------------
# The tables.

# shellcheck disable=SC2016 # backquotes are markdown
render() {
  local runs_word rtt key
  runs_word="median [min–max] of $RUNS interleaved runs"
  ((RUNS == 1)) && runs_word="one run (--short: proves the rows, not the speed)"
  printf '### Side by side (%s)\n\n' "$runs_word"
  printf '| what | egress25 | peer | ratio |\n| --- | --- | --- | --- |\n'
  printf '| reflector sessions/s (connect, greeting, EHLO, QUIT; 50 concurrent over 20 sources; witness on, default logging, no connection rate limits) | %s | Postfix smtp-sink %s | %s |\n' \
    "$(fmt int server.sessions_per_s egress25)" "$(fmt int server.sessions_per_s smtp-sink)" \
    "$(ratio server.sessions_per_s egress25 smtp-sink); per run $(fmt x2 server.sessions_per_s_ratio paired)"
  printf '| CPU per session (server process, user + system) | %s | smtp-sink %s | %s |\n' \
    "$(fmt us server.cpu_us_per_session egress25)" "$(fmt us server.cpu_us_per_session smtp-sink)" \
    "$(ratio server.cpu_us_per_session egress25 smtp-sink x); per run $(fmt x2 server.cpu_us_per_session_ratio paired)"
  printf '| reflector RSS idle | %s | smtp-sink %s | %s |\n' \
    "$(fmt mb server.rss_idle_mb egress25)" "$(fmt mb server.rss_idle_mb smtp-sink)" \
    "$(ratio server.rss_idle_mb egress25 smtp-sink x)"
  printf '| reflector RSS after %s sessions | %s | smtp-sink %s | %s |\n' \
    "$(fmt int server.sessions -)" \
    "$(fmt mb server.rss_after_mb egress25)" "$(fmt mb server.rss_after_mb smtp-sink)" \
    "$(ratio server.rss_after_mb egress25 smtp-sink x)"
  printf '| session errors (per run) | %s | smtp-sink %s | |\n' \
    "$(fmt int server.errors egress25)" "$(fmt int server.errors smtp-sink)"
  printf '| load generator CPU per session (same machine, for reference) | %s | smtp-sink run %s | |\n' \
    "$(fmt us server.generator_cpu_us egress25)" "$(fmt us server.generator_cpu_us smtp-sink)"
  printf '| rest of the machine busy during these runs, in cores (of %s) | %s | smtp-sink run %s | |\n' \
    "$(nproc)" "$(fmt x2 server.other_cores egress25)" "$(fmt x2 server.other_cores smtp-sink)"
  printf '| all-open check on loopback (3 ports) | %s | `nmap -sT` %s; `swaks --quit-after EHLO` (25 only) %s | %s vs nmap |\n' \
    "$(fmt ms loopback.all_open_ms egress25)" "$(fmt ms loopback.all_open_ms nmap)" \
    "$(fmt ms loopback.all_open_ms swaks)" "$(ratio loopback.all_open_ms egress25 nmap x)"
  printf '| check with port 25 silently dropped, `--trace` (namespace lab, no added delay) | %s | `nmap -sT` %s; `swaks --timeout 2s` %s | %s vs nmap |\n' \
    "$(fmt ms wan0.dropped_ms egress25)" "$(fmt ms wan0.dropped_ms nmap)" \
    "$(fmt ms wan0.dropped_ms swaks)" "$(ratio wan0.dropped_ms egress25 nmap x)"
  printf '| all-open check in the namespace lab, no added delay | %s | `nmap -sT` %s; `swaks` %s | %s vs nmap |\n' \
    "$(fmt ms wan0.all_open_ms egress25)" "$(fmt ms wan0.all_open_ms nmap)" \
    "$(fmt ms wan0.all_open_ms swaks)" "$(ratio wan0.all_open_ms egress25 nmap x)"

  printf '\n### Over a WAN: the lab with the delay link between isp1 and isp2\n\n'
  printf '| RTT set (measured) | egress25 all open | `nmap -sT` | `swaks` | egress25 25 dropped, `--trace` (its probe timeout) | `nmap -sT` | `swaks --timeout 2s` |\n'
  printf '| --- | --- | --- | --- | --- | --- | --- |\n'
  for rtt in "${RTTS[@]}"; do
    key=wan$rtt
    printf '| %s ms (%s) | %s = %s | %s = %s | %s = %s | %s = %s (%s) | %s = %s | %s = %s |\n' "$rtt" \
      "$(fmt ms1 "$key.rtt_ms" tcp_rtt)" \
      "$(fmt ms "$key.all_open_ms" egress25)" "$(in_rtt "$key.all_open_ms" egress25 "$rtt")" \
      "$(fmt ms "$key.all_open_ms" nmap)" "$(in_rtt "$key.all_open_ms" nmap "$rtt")" \
      "$(fmt ms "$key.all_open_ms" swaks)" "$(in_rtt "$key.all_open_ms" swaks "$rtt")" \
      "$(fmt ms "$key.dropped_ms" egress25)" "$(in_rtt "$key.dropped_ms" egress25 "$rtt")" \
      "$(fmt ms "$key.dropped_ms.probe_timeout_ms" egress25)" \
      "$(fmt ms "$key.dropped_ms" nmap)" "$(in_rtt "$key.dropped_ms" nmap "$rtt")" \
      "$(fmt ms "$key.dropped_ms" swaks)" "$(in_rtt "$key.dropped_ms" swaks "$rtt")"
  done

  printf '\n### Where egress25 stands against the targets of issue 8 (medians)\n\n'
  printf '| target | today | met |\n| --- | --- | --- |\n'
  local r a b
  r=$(median server.sessions_per_s_ratio paired)
  printf '| reflector ≥ 1.0× smtp-sink sessions/s (witness on, default logging) | %.2f× (median of the per-run ratios) | %s |\n' \
    "$r" "$(met 1 "$r")"
  a=$(median loopback.all_open_ms egress25) b=$(median loopback.all_open_ms nmap)
  printf '| all-open check ≤ 1.0× `nmap -sT` on loopback | %s vs %s (%s) | %s |\n' \
    "$(fmt ms loopback.all_open_ms egress25 | cut -d' ' -f1-2)" "$(fmt ms loopback.all_open_ms nmap | cut -d' ' -f1-2)" \
    "$(ratio loopback.all_open_ms egress25 nmap x)" "$(met "$a" "$b")"
  for rtt in "${RTTS[@]}"; do
    a=$(median "wan$rtt.all_open_ms" egress25)
    b=$((8 * rtt + 50))
    printf '| all-open check ≤ 8 RTT + 50 ms at RTT %s ms (%s ms) | %s ms (%s) | %s |\n' "$rtt" "$b" \
      "$(printf '%.0f' "$a")" "$(in_rtt "wan$rtt.all_open_ms" egress25 "$rtt")" "$(met "$a" "$b")"
  done
  for rtt in 0 "${RTTS[@]}"; do
    a=$(median "wan$rtt.dropped_ms" egress25)
    b=$(median "wan$rtt.dropped_ms.probe_timeout_ms" egress25)
    b=$(awk -v t="$b" -v r="$rtt" 'BEGIN { printf "%.0f", t + 2 * r }')
    printf '| 25 dropped, trace included, ≤ probe timeout + 2 RTT at RTT %s ms (%s ms) | %s ms | %s |\n' \
      "$rtt" "$b" "$(printf '%.0f' "$a")" "$(met "$a" "$b")"
  done
  a=$(median wan0.dropped_ms egress25) b=$(median wan0.dropped_ms nmap)
  printf '| 25 dropped ≤ 1.2× `nmap -sT` (namespace lab) | %s | %s |\n' \
    "$(ratio wan0.dropped_ms egress25 nmap x)" "$(met "$a" "$(awk -v b="$b" 'BEGIN { print 1.2 * b }')")"
  a=$(median server.rss_idle_mb egress25) b=$(median server.rss_idle_mb smtp-sink)
  printf '| reflector RSS idle ≤ 2× smtp-sink | %s | %s |\n' \
    "$(ratio server.rss_idle_mb egress25 smtp-sink x)" "$(met "$a" "$(awk -v b="$b" 'BEGIN { print 2 * b }')")"

  printf '\nMachine: %s, %s cores, %s GiB, Linux %s. Load average %s before, %s after. ' \
    "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" \
    "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(uname -r)" \
    "$LOAD_BEFORE" "$LOAD_AFTER"
  printf 'Waited %s s in all for a quiet machine (--quiet-wait %s); %s server rounds run again because the rest of the machine took over half a core. ' \
    "$(awk -F'\t' '$2 == "waited_s" { t += $3 } END { printf "%.0f", t }' "$RECORDS")" "$QUIET_WAIT" \
    "$(median server.retaken_rounds -)"
  printf 'Started %s, %s s in all; egress25 %s (%s).\n' "$STARTED" "$ELAPSED" \
    "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$("$CLIENT" --version 2>/dev/null | head -n 1)"
}

render >"$WORK/table.md"
cat "$WORK/table.md"
if [[ -n $OUT_FILE ]]; then
  # The table, and beside it every single measurement it was made from.
  cp "$WORK/table.md" "$OUT_FILE" && cp "$RECORDS" "${OUT_FILE%.md}.tsv" &&
    printf '\nbench: table written to %s, measurements to %s\n' "$OUT_FILE" "${OUT_FILE%.md}.tsv" >&2
fi
# Every row must have its figures: a "n/a" is a part that did not measure.
if grep -q 'n/a' "$WORK/table.md"; then
  echo "bench: FAIL: some figures are missing (n/a above)" >&2
  exit 1
fi
exit 0
