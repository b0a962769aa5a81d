#!/usr/bin/env bash
# The delay link in the lab: the isp1 ── isp2 link is bench/delay_link, and a TCP
# connect from the home to the VPS (one round trip: SYN out, reset back) takes the
# configured RTT beyond the same measurement through the link at 0 ms in the same run:
# the fastest of 11 within 5 %, their median within 25 %. Its queue drops the tail beyond its bound and counts it; SIGTERM ends it with
# exit 0, its counters, and its devices gone.
#
# usage: delay_link_test.sh --delay-link BIN --tcp-rtt BIN [RTT_MS...]   (default 20 100 300)
#
# Exit status: 0 passed, 1 a check failed, 2 bad usage, 77 the lab cannot run here.
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/lab/lib.sh
. "$HERE/../tests/lab/lib.sh"

DELAY_LINK="" TCP_RTT="" RTTS=()
while (($#)); do
  case $1 in
    --delay-link) DELAY_LINK=$(realpath -m "$2"); shift 2 ;;
    --tcp-rtt) TCP_RTT=$(realpath -m "$2"); shift 2 ;;
    [0-9]*) RTTS+=("$1"); shift ;;
    *) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
  esac
done
[[ -x $DELAY_LINK && -x $TCP_RTT ]] || { echo "need --delay-link and --tcp-rtt binaries" >&2; exit 2; }
((${#RTTS[@]})) || RTTS=(20 100 300)
lab_require
if [[ ! -c /dev/net/tun ]]; then
  echo "SKIP: delay link test not run: no /dev/net/tun on this machine"
  exit 77
fi

# Samples per RTT: 11 connects; at 300 ms they take 3.3 s. The fastest of them is the
# link's delay plus the path's own cost: on a machine busy with other work the measuring
# process and the namespaces' forwarding wake up late now and then (a median 8 ms over at
# RTT 20 ms at load 11 on 2 cores), which is not the link's doing. So the fastest must be
# within 5 % of the configured RTT, and the median within 25 % (a link that adds jitter
# of its own still fails).
SAMPLES=11
# The queue bound for these runs: small enough for a burst to overflow it.
QUEUE_PACKETS=64
BURST=300
FAILURES=0
fail() {
  FAILURES=$((FAILURES + 1))
  printf 'FAIL: %s\n' "$*"
}

# One lab with the delay link at RTT_MS (a fresh lab per RTT: the link's delay is fixed
# for its life); prints the median connect time home → VPS in ms. With --burst, also
# overflows the queue and ends the link with SIGTERM, checking what it says.
measure() { # RTT_MS [--burst]
  # shellcheck disable=SC2034 # the lab's settings, read by lib.sh
  (
    LAB_PREFIX=e25lab-$BASHPID-$RANDOM- # this subshell's own, for the reaper
    LAB_DELAY_LINK=$DELAY_LINK
    LAB_DELAY_MS=$(awk -v r="$1" 'BEGIN { printf "%g", r / 2 }')
    LAB_DELAY_LINK_OPTIONS="--queue-packets $QUEUE_PACKETS"
    LAB_QUIET=1
    lab_up
    out=$(lab_exec home "$TCP_RTT" "$LAB_VPS4" 9 "$SAMPLES") || lab_die "tcp_rtt failed at RTT $1 ms: $out"
    lab_log "RTT $1 ms configured: $(jq -c '{min_ms, median_ms, max_ms}' <<<"$out")"
    # The fastest and the median, and what must be gone once this lab is: the link's
    # PID, the prefix. Printed last: nothing is printed when a check fails.
    result="$(jq -r '"\(.min_ms) \(.median_ms)"' <<<"$out") $LAB_DELAY_LINK_PID $LAB_PREFIX"
    [[ ${2:-} == --burst ]] || { printf '%s\n' "$result"; exit 0; }

    # A burst of datagrams faster than the link can let them out of its delay: one
    # process, one socket per datagram, to the VPS's discard port.
    # shellcheck disable=SC2016 # expanded by the inner bash
    lab_exec home bash -c 'for ((i = 0; i < $1; i++)); do echo x >"/dev/udp/$2/9"; done' \
      burst "$BURST" "$LAB_VPS4" 2>/dev/null
    kill -TERM "$LAB_DELAY_LINK_PID"
    wait "$LAB_DELAY_LINK_PID"
    rc=$?
    log="$LAB_DIR/delay-link.log"
    ((rc == 0)) || { lab_show_log delay-link; lab_die "SIGTERM: the delay link exited $rc, not 0"; }
    line=$(grep '^delay_link: to_vps->to_home:' "$log") || lab_die "no counters for isp1 → isp2 in: $(cat "$log")"
    [[ $line =~ dropped\ \(queue\ full\)\ ([0-9]+)\ packets ]] || lab_die "unreadable counters: $line"
    dropped=${BASH_REMATCH[1]}
    # The queue holds QUEUE_PACKETS; the burst arrives within a fraction of the delay.
    ((dropped >= BURST - 2 * QUEUE_PACKETS)) ||
      lab_die "a burst of $BURST datagrams into a $QUEUE_PACKETS-packet queue dropped only $dropped: $line"
    lab_log "drop-tail: $line"
    lab_exec isp1 ip link show to_vps >/dev/null 2>&1 && lab_die "isp1's TUN device outlived the delay link"
    lab_exec isp2 ip link show to_home >/dev/null 2>&1 && lab_die "isp2's TUN device outlived the delay link"
    lab_log "SIGTERM: exit 0, counters printed, both devices gone"
    printf '%s\n' "$result"
  )
}

# After a lab is down (lab_down: SIGTERM to the link, then the namespaces), neither the
# link nor any of its namespaces is left.
check_gone() { # PID PREFIX
  if kill -0 "$1" 2>/dev/null && [[ $(readlink "/proc/$1/exe") == "$DELAY_LINK" ]]; then
    fail "the delay link (PID $1) outlived its lab"
  fi
  if ip netns list | grep -q "^$2"; then fail "namespaces $2* outlived their lab"; fi
}

# (Command substitution, not a process substitution: it returns once the lab is down.)
read -r base base_median pid prefix <<<"$(measure 0)"
[[ -n $base ]] || { fail "the lab with the delay link at 0 ms did not run"; exit 1; }
check_gone "$pid" "$prefix"
printf 'RTT through the link at 0 ms: %s ms (median %s ms)\n' "$base" "$base_median"
last=${RTTS[-1]}
# within GOT BASE RTT FRACTION: |GOT - BASE - RTT| <= FRACTION × RTT
within() { awk -v g="$1" -v b="$2" -v r="$3" -v f="$4" 'BEGIN { d = g - b - r; if (d < 0) d = -d; exit !(d <= f * r) }'; }
for rtt in "${RTTS[@]}"; do
  burst=""
  [[ $rtt == "$last" ]] && burst=--burst
  read -r got median pid prefix <<<"$(measure "$rtt" ${burst:+"$burst"})"
  if [[ -z $got ]]; then
    fail "the lab at RTT $rtt ms did not run or its checks failed"
    continue
  fi
  check_gone "$pid" "$prefix"
  # Once the path's own cost at 0 ms is taken out: the fastest within 5 % of the
  # configured RTT, the median within 25 %.
  if ! within "$got" "$base" "$rtt" 0.05; then
    fail "RTT $rtt ms configured, $got ms measured at best, $base ms at 0 ms: more than 5 % off"
  elif ! within "$median" "$base" "$rtt" 0.25; then
    fail "RTT $rtt ms configured, median $median ms, $base ms at 0 ms: more than 25 % off"
  else
    printf 'ok: RTT %s ms configured, %s ms measured at best, median %s ms (%s ms beyond the 0 ms link)\n' \
      "$rtt" "$got" "$median" "$(awk -v g="$got" -v b="$base" 'BEGIN { printf "%.3f", g - b }')"
  fi
done
((FAILURES == 0)) || exit 1
printf 'ok: drop-tail counted and SIGTERM clean at RTT %s ms\n' "$last"
exit 0
