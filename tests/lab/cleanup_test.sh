#!/usr/bin/env bash
# The lab's own promises: without root it skips with a reason; with root every
# namespace, process and file a run created is gone after success, a failed assertion,
# Ctrl-C, SIGTERM and the run's own watchdog, and what a SIGKILLed run left behind is
# reaped by the next run.
#
# usage: cleanup_test.sh --fixtures DIR
#        cleanup_test.sh --child MODE --fixtures DIR   (the lab run under test)

set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

FIXTURES="" CHILD=""
while (($#)); do
  case $1 in
    --fixtures) FIXTURES=$2; shift 2 ;;
    --child) CHILD=$2; shift 2 ;;
    *) echo "usage: $0 --fixtures DIR [--child MODE]" >&2; exit 2 ;;
  esac
done

# ---------------------------------------------------------------------------------
# The child: a lab run with processes in several namespaces, ended in the given way.
if [[ -n $CHILD ]]; then
  # shellcheck source=lib.sh
  . "$HERE/lib.sh"
  lab_up
  lab_start_smtp_sink isp1 2525
  lab_start_fixture isp2 starttls_stripper 10025 "$FIXTURES/starttls_stripper" --listen-port 10025
  lab_block isp2 redirect:10025 tcp dport 25 >/dev/null
  lab_trace "ready"
  case $CHILD in
    success) exit 0 ;;
    fail) lab_die "a deliberately failing assertion" ;;
    # Mid-run: a long command in the home namespace, as the client would be.
    hold) lab_run home sleep 300 ;;
  esac
  exit 0
fi

# ---------------------------------------------------------------------------------
# The checks.
FAILURES=0
fail() {
  FAILURES=$((FAILURES + 1))
  printf 'FAIL: %s\n' "$*"
}

# Without root the scenarios must say they are skipped and why, and exit 77.
check_skip_without_root() {
  local out rc
  if [[ $(id -u) -eq 0 ]]; then
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$HERE/scenarios.sh" --client /bin/true --reflector /bin/true --fixtures / all_open 2>&1)
  else
    out=$("$HERE/scenarios.sh" --client /bin/true --reflector /bin/true --fixtures / all_open 2>&1)
  fi
  rc=$?
  [[ $rc == 77 ]] || fail "without root: exit $rc, expected 77 (skip); output: $out"
  [[ $out == *"SKIP:"*"root"* ]] || fail "without root: no reason printed; output: $out"
}
check_skip_without_root && ((FAILURES == 0)) && echo "ok: without root the scenarios are skipped with the reason"
if [[ $(id -u) -ne 0 ]]; then
  ((FAILURES == 0)) || exit 1
  echo "SKIP: the clean-up checks need root (network namespaces); the skip check passed"
  exit 77
fi
# shellcheck source=lib.sh
. "$HERE/lib.sh"
lab_require

WORK=$(mktemp -d /tmp/e25lab-cleanup-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
set -m # each child in its own process group, as a shell job at a terminal would be

# Waits (bounded) until the child has logged "ready" in its trace file.
wait_ready() { # TRACE PID
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    grep -qx ready "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Waits (bounded) for the child to exit; sets EXIT_STATUS.
wait_exit() { # PID
  local deadline=$((SECONDS + 40))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$1" 2>/dev/null; then
      wait "$1"
      EXIT_STATUS=$?
      return
    fi
    sleep 0.05
  done
  kill -KILL -- "-$1" 2>/dev/null
  EXIT_STATUS=timeout
}

# Every resource the trace file lists must be gone.
check_gone() { # TRACE WHAT
  local kind what rest n=0
  while read -r kind what rest; do
    case $kind in
      ns) n=$((n + 1)); ip netns list | grep -q "^$what\b" && fail "$2: namespace $what left behind" ;;
      pid) lab_pid_running "$what" && [[ $(readlink "/proc/$what/ns/net") != "$(readlink /proc/$$/ns/net)" ]] &&
        fail "$2: process $what ($rest) still running" ;;
      dir | etc) [[ -e $what ]] && fail "$2: $what left behind" ;;
    esac
  done <"$1"
  ((n >= 5)) || fail "$2: the run created only $n namespaces (trace: $(tr '\n' ' ' <"$1"))"
}

run_child() { # MODE SIGNAL EXPECTED_STATUS [ENV...]
  local mode=$1 signal=$2 expected=$3 trace pid status
  shift 3
  trace="$WORK/$mode-$signal.trace"
  RUN_TRACE=$trace
  env LAB_TRACE_FILE="$trace" "$@" "$HERE/cleanup_test.sh" --child "$mode" --fixtures "$FIXTURES" \
    >"$WORK/$mode-$signal.log" 2>&1 &
  pid=$!
  if ! wait_ready "$trace" "$pid"; then
    fail "$mode/$signal: the lab did not come up: $(tail -n 20 "$WORK/$mode-$signal.log")"
    kill -KILL -- "-$pid" 2>/dev/null
    return
  fi
  case $signal in
    INT) kill -INT -- "-$pid" ;; # Ctrl-C: the whole foreground process group
    TERM) kill -TERM "$pid" ;;   # a service manager or `timeout`: the script alone
    KILL) kill -KILL -- "-$pid" ;;
  esac
  wait_exit "$pid"
  status=$EXIT_STATUS
  [[ $signal == KILL ]] && return
  [[ $status == "$expected" ]] ||
    fail "$mode/$signal: exit $status, expected $expected: $(tail -n 20 "$WORK/$mode-$signal.log")"
  check_gone "$trace" "$mode/$signal"
  printf 'ok: %s ended by %s: exit %s, nothing left behind\n' "$mode" "$signal" "$status"
}

run_child success none 0
run_child fail none 1
run_child hold INT 130
run_child hold TERM 143
run_child hold none 143 LAB_MAX_SECONDS=20 # the watchdog ends it

# A SIGKILLed run cannot clean up; the next run reaps what it left.
run_child hold KILL -
killed_trace=$RUN_TRACE
ip netns list | grep -q "^$(awk '$1 == "ns" {print $2; exit}' "$killed_trace")\b" ||
  fail "SIGKILL: the killed run's namespaces vanished by themselves? (test is broken)"
run_child success none 0
check_gone "$killed_trace" "SIGKILL then next run"
((FAILURES == 0)) && echo "ok: a SIGKILLed run's leftovers were reaped by the next run"

((FAILURES == 0)) || exit 1
echo "all clean-up checks passed"
