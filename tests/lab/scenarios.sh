#!/usr/bin/env bash
# Lab scenarios: the real egress25-reflector on the VPS, `egress25 check --json` at home,
# the block put in place by nftables at the right hop; asserts verdict, location and
# exit status per probe. One topology per invocation, shared by the scenarios it runs.
#
# usage: scenarios.sh --client BIN --reflector BIN --fixtures DIR
#                     [--evidence basic|full] SCENARIO...   (or `all`, or `list`)
#
# --evidence basic (default): the reflector runs with `--witness off` and the client
#   with `--no-trace`; assertions are what the client can honestly say without them
#   (e.g. an unanswered SYN is `dropped` or `inconclusive` at `unknown`, never `path`,
#   and no `blocking_hop`).
# --evidence full: `--witness on` and `--trace`; assertions are the strict verdicts of
#   issue 4 (location `path` vs `reflector_host`, `blocking_hop`).
#
# Exit status: 0 all passed, 1 an assertion failed, 2 bad usage, 77 the lab cannot run
# here (not root, no network namespaces): the reason is printed.

# shellcheck disable=SC2317 # functions called by name ("scenario_$name") look unreachable
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

ALL_SCENARIOS=(all_open isp_drop isp_reset isp_icmp isp_redirect starttls_strip starttls_mask
  tls_intercept v6_open_v4_dropped homer_drop vps_firewall_drop vps_firewall_reset reply_dropped
  control_blocked not_listening destination_blocked)

CLIENT="" REFLECTOR="" FIXTURES="" EVIDENCE=basic
SCENARIOS=()
usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --client) CLIENT=$2; shift 2 ;;
    --reflector) REFLECTOR=$2; shift 2 ;;
    --fixtures) FIXTURES=$2; shift 2 ;;
    --evidence) EVIDENCE=$2; shift 2 ;;
    -h | --help) usage ;;
    list) printf '%s\n' "${ALL_SCENARIOS[@]}"; exit 0 ;;
    all) SCENARIOS+=("${ALL_SCENARIOS[@]}"); shift ;;
    -*) usage ;;
    *) SCENARIOS+=("$1"); shift ;;
  esac
done
[[ $EVIDENCE == basic || $EVIDENCE == full ]] || usage
# Absolute paths: commands run from `ip netns exec`, and the report names them.
for var in CLIENT REFLECTOR FIXTURES; do
  [[ -n ${!var} ]] && printf -v "$var" '%s' "$(realpath -m "${!var}")"
done
((${#SCENARIOS[@]})) || usage

full_evidence() { [[ $EVIDENCE == full ]]; }

# ---------------------------------------------------------------------------------
# Running the client and asserting on its report.

CHECK_N=0 CHECK_JSON="" CHECK_ERR="" CHECK_RC=0 FAILURES=0 SCENARIO=""
declare -A ASSERTED=()

# Runs `egress25 check --json` at home against the reflector, with a short per-probe
# budget so that blocked probes cost seconds. Extra arguments are passed on.
run_check() {
  CHECK_N=$((CHECK_N + 1))
  CHECK_JSON="$LAB_DIR/check.$CHECK_N.json"
  CHECK_ERR="$LAB_DIR/check.$CHECK_N.stderr"
  ASSERTED=()
  local trace=--no-trace
  full_evidence && trace=--trace
  local cmd=("$CLIENT" check --reflector "$LAB_REFLECTOR_NAME" --json --timeout 2 "$trace" "$@")
  lab_log "$SCENARIO: ${cmd[*]}"
  lab_run home timeout -k 5 90 "${cmd[@]}" >"$CHECK_JSON" 2>"$CHECK_ERR"
  CHECK_RC=$?
  if ! jq -e '.schema == "egress25.check/1" and (.probes | type == "array")' "$CHECK_JSON" \
    >/dev/null 2>&1; then
    fail "the client (exit $CHECK_RC) did not print an egress25.check/1 report on stdout"
    return 1
  fi
  # The report must say truthfully whether the witness took part (when the reflector
  # could be asked at all).
  local witness=false
  full_evidence && witness=true
  if [[ $CHECK_RC != 3 ]] && ! jq -e --argjson w "$witness" '.reflector.witness == $w' \
    "$CHECK_JSON" >/dev/null; then
    fail "reflector.witness is $(jq -c .reflector.witness "$CHECK_JSON"), expected $witness"
  fi
}

fail() {
  FAILURES=$((FAILURES + 1))
  printf 'FAIL [%s]: %s\n' "$SCENARIO" "$*"
}

expect_exit() {
  [[ $CHECK_RC == "$1" ]] || fail "exit status $CHECK_RC, expected $1"
}

# The one reflector probe of PORT and FAMILY, as compact JSON ("" if not exactly one).
probe_json() {
  jq -c --argjson port "$1" --arg family "$2" \
    '[.probes[] | select(.target == "reflector" and .port == $port and .family == $family)]
     | if length == 1 then .[0] else empty end' "$CHECK_JSON" 2>/dev/null
}

# expect_probe PORT FAMILY "verdict/location|verdict/location..." [hop=TTL@ADDR]
#   [sender=ADDR]: the probe's verdict/location is one of the alternatives; with hop=,
#   blocking_hop is that hop; with evidence basic, blocking_hop must be null (there was
#   no trace to find one); with sender=, a reason names that ICMP sender.
expect_probe() {
  local port=$1 family=$2 allowed=$3 hop="" sender="" p got
  shift 3
  for arg in "$@"; do
    case $arg in
      hop=*) hop=${arg#hop=} ;;
      sender=*) sender=${arg#sender=} ;;
    esac
  done
  ASSERTED["$port/$family"]=1
  p=$(probe_json "$port" "$family")
  if [[ -z $p ]]; then
    fail "probe $port/$family: not exactly one in the report"
    return
  fi
  got=$(jq -r '"\(.verdict)/\(.location)"' <<<"$p")
  if [[ "|$allowed|" != *"|$got|"* ]]; then
    fail "probe $port/$family: got $got, expected $allowed; reasons: $(jq -c .reasons <<<"$p")"
  fi
  if [[ $got != open/* ]] && ! jq -e '(.reasons | length) > 0' <<<"$p" >/dev/null; then
    fail "probe $port/$family: $got without a reason"
  fi
  if [[ -n $hop ]]; then
    local want_ttl=${hop%@*} want_addr=${hop#*@} got_hop
    got_hop=$(jq -r 'if .blocking_hop then "\(.blocking_hop.ttl)@\(.blocking_hop.address)"
                     else "null" end' <<<"$p")
    [[ $got_hop == "$want_ttl@$want_addr" ]] ||
      fail "probe $port/$family: blocking_hop $got_hop, expected $want_ttl@$want_addr"
  elif ! full_evidence && ! jq -e '.blocking_hop == null' <<<"$p" >/dev/null; then
    fail "probe $port/$family: blocking_hop $(jq -c .blocking_hop <<<"$p") without a trace"
  fi
  if [[ -n $sender ]] && ! jq -e --arg s "$sender" 'any(.reasons[]; contains($s))' <<<"$p" >/dev/null; then
    fail "probe $port/$family: no reason names the ICMP sender $sender; reasons: $(jq -c .reasons <<<"$p")"
  fi
}

# The report holds exactly these ports × families (reflector probes) and nothing else,
# and every probe not asserted yet is open.
expect_rest_open() {
  local ports=$1 families=$2 port family n want=0
  for port in $ports; do
    for family in $families; do
      want=$((want + 1))
      [[ -n ${ASSERTED["$port/$family"]:-} ]] || expect_probe "$port" "$family" open/none
    done
  done
  n=$(jq '[.probes[] | select(.target == "reflector")] | length' "$CHECK_JSON")
  [[ $n == "$want" ]] || fail "$n reflector probes in the report, expected $want ($ports × $families)"
}

# Port 25 over both families: FULL with the packet witness and hop tracing, BASIC
# without them; in full evidence, the blocking hops (TTL@ADDR) for IPv4 and IPv6.
expect_25() { # FULL BASIC [HOP4 HOP6]
  if full_evidence; then
    expect_probe 25 ipv4 "$1" ${3:+"hop=$3"}
    expect_probe 25 ipv6 "$1" ${4:+"hop=$4"}
  else
    expect_probe 25 ipv4 "$2"
    expect_probe 25 ipv6 "$2"
  fi
}

expect_summary() {
  jq -e '.summary.text | type == "string" and length > 0' "$CHECK_JSON" >/dev/null ||
    fail "no summary text"
}

# What a failed scenario leaves for whoever reads the log.
show_evidence() {
  printf -- '--- client exit %s, report (evidence of probes that are not open: below) ---\n' "$CHECK_RC"
  jq 'del(.probes[].evidence)' "$CHECK_JSON" 2>/dev/null || cat "$CHECK_JSON"
  jq -c '.probes[] | select(.verdict != "open") | {port, family, evidence}
         | del(.evidence.client.transcript)' "$CHECK_JSON" 2>/dev/null
  printf -- '--- client stderr ---\n'
  tail -n 30 "$CHECK_ERR"
  lab_show_log reflector 30
}

# ---------------------------------------------------------------------------------
# Scenarios. Routers: homer (home, NAT), isp1, isp2 (the ISP), isp3 (the VPS's
# provider, in front of the VPS), then the VPS. TTLs from home: homer 1, isp1 2, isp2 3,
# isp3 4, vps 5.

ISP2_4=$(lab_router_addr4 2) ISP2_6=$(lab_router_addr6 2)
PORTS="25 465 587" BOTH="ipv4 ipv6"
# An unanswered SYN without witness or trace: nobody can say where it died.
SILENT='dropped/unknown|inconclusive/unknown'
# A reset without the witness: the reflector host or the path may have sent it.
RESET_UNPLACED='reset/unknown|inconclusive/unknown'

scenario_all_open() {
  run_check --family both || return
  expect_exit 0
  expect_rest_open "$PORTS" "$BOTH"
  jq -e --arg v4 "$LAB_HOMER_WAN4" --arg v6 "$LAB_HOME6" \
    '.client.public_addresses.ipv4 == $v4 and .client.public_addresses.ipv6 == $v6' \
    "$CHECK_JSON" >/dev/null ||
    fail "public addresses $(jq -c .client.public_addresses "$CHECK_JSON"), expected the NAT's $LAB_HOMER_WAN4 and $LAB_HOME6"
  expect_summary
}

scenario_isp_drop() {
  lab_block isp2 drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" "3@$ISP2_4" "3@$ISP2_6"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
}

scenario_isp_reset() {
  lab_block isp2 reset tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 reset/path "$RESET_UNPLACED"
  expect_rest_open "$PORTS" "$BOTH"
}

# The ICMP error itself names its sender: no witness or trace is needed to place it.
scenario_isp_icmp() {
  lab_block isp2 icmp tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_probe 25 ipv4 icmp_unreachable/path "sender=$ISP2_4"
  expect_probe 25 ipv6 icmp_unreachable/path "sender=$ISP2_6"
  expect_rest_open "$PORTS" "$BOTH"
}

# The ISP sends port 25 to its own relay (Postfix's smtp-sink on isp2).
scenario_isp_redirect() {
  lab_start_smtp_sink isp2 2525
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  lab_block isp2 redirect:2525 tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_probe 25 ipv4 intercepted/path
  expect_probe 25 ipv6 intercepted/path
  expect_rest_open "$PORTS" "$BOTH"
}

start_stripper() { # MODE
  lab_start_fixture isp2 starttls_stripper 10025 "$FIXTURES/starttls_stripper" \
    --listen-port 10025 --mode "$1"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  lab_block isp2 redirect:10025 tcp dport 25 >/dev/null
}

scenario_starttls_strip() {
  start_stripper strip
  run_check --family both || return
  expect_exit 1
  expect_probe 25 ipv4 tampered/path
  expect_probe 25 ipv6 tampered/path
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_starttls_mask() {
  start_stripper mask
  run_check --family both || return
  expect_exit 1
  expect_probe 25 ipv4 tampered/path
  expect_probe 25 ipv6 tampered/path
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_tls_intercept() {
  lab_start_fixture isp2 tls_terminator 10465 "$FIXTURES/tls_terminator" --listen-port 10465 \
    --cert "$LAB_DIR/middlebox.crt" --key "$LAB_DIR/middlebox.key"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  lab_block isp2 redirect:10465 tcp dport 465 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_probe 465 ipv4 tls_intercepted/path
  expect_probe 465 ipv6 tls_intercepted/path
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_v6_open_v4_dropped() {
  lab_block isp2 -4 drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  if full_evidence; then
    expect_probe 25 ipv4 dropped/path "hop=3@$ISP2_4"
  else
    expect_probe 25 ipv4 "$SILENT"
  fi
  expect_probe 25 ipv6 open/none
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
}

# The block is in the home router itself (TTL 1).
scenario_homer_drop() {
  lab_block homer drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" "1@$LAB_HOMER_LAN4" "1@$LAB_HOMER_LAN6"
  expect_rest_open "$PORTS" "$BOTH"
}

# The VPS's own firewall (its input chain) drops port 25: only the witness, which sees
# SYNs before the firewall, can tell this from an ISP drop.
scenario_vps_firewall_drop() {
  lab_block vps drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 firewalled_at_reflector/reflector_host "$SILENT"
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_vps_firewall_reset() {
  lab_block vps reset tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 firewalled_at_reflector/reflector_host "$RESET_UNPLACED"
  expect_rest_open "$PORTS" "$BOTH"
}

# SYNs arrive and the reflector answers, but isp2 drops its SYN-ACKs on the way back.
scenario_reply_dropped() {
  lab_block isp2 drop tcp sport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 reply_dropped/path "$SILENT"
  expect_rest_open "$PORTS" "$BOTH"
}

# Without the control connection nothing can be confirmed: exit 3, all inconclusive.
scenario_control_blocked() {
  lab_block isp2 drop tcp dport 7025 >/dev/null
  run_check --family both --ports 25 || return
  expect_exit 3
  local bad
  bad=$(jq -c '[.probes[] | select(.verdict != "inconclusive" or .location != "unknown")
                | {port, family, verdict, location}]' "$CHECK_JSON")
  [[ $bad == "[]" ]] || fail "probes with a verdict that needs the reflector: $bad"
}

# Nothing listens on 2525. Without the witness, a reset from an unadvertised port is
# most likely the host's kernel, but the path could have sent it too.
scenario_not_listening() {
  run_check --family both --ports 2525 || return
  expect_exit 1
  local want=not_listening/reflector_host
  full_evidence || want+='|inconclusive/unknown'
  expect_probe 2525 ipv4 "$want"
  expect_probe 2525 ipv6 "$want"
  expect_rest_open 2525 "$BOTH"
}

# `--target`: a mail server beside the path (smtp-sink on isp3's VPS-side address) that
# takes port 25, then drops it in its own firewall while this network's port 25 to the
# reflector is open: the destination probe is dropped at the destination, judged against
# the reflector probe of port 25.
DESTINATION4=203.0.113.1
destination_probe() { # the one destination probe, as compact JSON ("" if not exactly one)
  jq -c '[.probes[] | select(.target == "destination")]
         | if length == 1 then .[0] else empty end' "$CHECK_JSON" 2>/dev/null
}
expect_destination() { # VERDICT/LOCATION
  local p got
  p=$(destination_probe)
  [[ -n $p ]] || { fail "destination probe: not exactly one in the report"; return; }
  got=$(jq -r '"\(.verdict)/\(.location)"' <<<"$p")
  [[ $got == "$1" ]] || fail "destination probe: got $got, expected $1; reasons: $(jq -c .reasons <<<"$p")"
  jq -e --arg a "$DESTINATION4" '.host == $a and .address == $a and .port == 25
    and .family == "ipv4" and .blocking_hop == null' <<<"$p" >/dev/null ||
    fail "destination probe: wrong fields: $(jq -c 'del(.evidence)' <<<"$p")"
}
scenario_destination_blocked() {
  lab_start_smtp_sink isp3 25
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  run_check --family both --ports 25 --target "[$DESTINATION4]" || return
  expect_exit 0
  expect_destination open/none
  expect_rest_open 25 "$BOTH"

  lab_block isp3 --chain input drop ip daddr "$DESTINATION4" tcp dport 25 >/dev/null
  run_check --family both --ports 25 --target "[$DESTINATION4]" || return
  expect_exit 1
  expect_destination dropped/destination
  expect_rest_open 25 "$BOTH"
  jq -e '.summary.text | test("does not accept connections on port 25")' "$CHECK_JSON" \
    >/dev/null || fail "the summary does not blame the destination: $(jq -c .summary "$CHECK_JSON")"
}

# ---------------------------------------------------------------------------------

for s in "${SCENARIOS[@]}"; do
  declare -F "scenario_$s" >/dev/null || { printf 'unknown scenario: %s\n' "$s" >&2; usage; }
done
lab_require
for bin in "$CLIENT" "$REFLECTOR" "$FIXTURES/starttls_stripper" "$FIXTURES/tls_terminator"; do
  [[ -x $bin ]] || { printf 'FAIL: not an executable: %s\n' "${bin:-(none given)}" >&2; exit 1; }
done
lab_up

# The middlebox's own identity, as an intercepting box would have.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=mail-filter.isp.example" -keyout "$LAB_DIR/middlebox.key" \
  -out "$LAB_DIR/middlebox.crt" 2>/dev/null || lab_die "openssl could not make a certificate"

witness=off
full_evidence && witness=on
lab_start_reflector "$REFLECTOR" --user "${LAB_REFLECTOR_USER:-nobody}" --witness "$witness"

SCENARIO_PIDS=()
for SCENARIO in "${SCENARIOS[@]}"; do
  before=$FAILURES
  start=$SECONDS
  CHECK_JSON=""
  "scenario_$SCENARIO"
  # What was observed, whatever was expected: one line per probe.
  [[ -s $CHECK_JSON ]] && jq -r --arg rc "$CHECK_RC" '"  exit \($rc)", (.probes[] |
    "  \(.port)/\(.family): \(.verdict)/\(.location)" +
    (if .blocking_hop then " hop \(.blocking_hop.ttl)@\(.blocking_hop.address)" else "" end))' \
    "$CHECK_JSON" 2>/dev/null
  if ((FAILURES > before)); then
    show_evidence
    printf 'scenario %s (%s evidence): FAILED (%ss)\n' "$SCENARIO" "$EVIDENCE" $((SECONDS - start))
  else
    printf 'scenario %s (%s evidence): ok (%ss)\n' "$SCENARIO" "$EVIDENCE" $((SECONDS - start))
  fi
  # Back to an open internet for the next scenario.
  for pid in "${SCENARIO_PIDS[@]}"; do lab_kill_pid "$pid"; done
  SCENARIO_PIDS=()
  for ns in home homer $(lab_routers) vps; do lab_unblock "$ns"; done
  kill -0 "$LAB_REFLECTOR_PID" 2>/dev/null || {
    fail "the reflector died"
    lab_show_log reflector
    break
  }
done
((FAILURES == 0)) || exit 1
exit 0
