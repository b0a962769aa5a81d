#!/usr/bin/env bash
# Lab scenarios: the real egress25-reflector on the VPS, `egress25 check --json` at home,
# the block put in place by nftables at the right hop; asserts verdict, location and
# exit status per probe. One topology per invocation, shared by the scenarios it runs.
#
# usage: scenarios.sh --client BIN --reflector BIN --fixtures DIR
#                     [--evidence basic|full] [--homer-wan cgnat|public]
#                     [--isp-routers N] SCENARIO...   (or `all`, or `list`)
#
# --evidence basic (default): the reflector runs with `--witness off` and the client
#   with `--no-trace`; assertions are what the client can honestly say without them
#   (e.g. an unanswered SYN is `dropped` or `inconclusive` at `unknown`, never `path`,
#   and neither a `blocking_hop` nor `blocking_candidates`).
# --evidence full: `--witness on` and `--trace`; assertions are the strict verdicts of
#   issue 4 (location `path` vs `reflector_host`, `blocking_hop`) and the "who" of
#   issue 11 (`segment`, `blocking_hop` or `blocking_candidates`, the hop's role).
# --homer-wan, --isp-routers: the topology (lib.sh's LAB_HOMER_WAN, LAB_ISP_ROUTERS;
#   default cgnat and 3). Expectations follow it: the ISP's blocks are at isp2 (hop 3;
#   isp1 with a single router), the router in front of the VPS is the last one.
#
# Exit status: 0 all passed, 1 an assertion failed, 2 bad usage, 77 the lab cannot run
# here (not root, no network namespaces) or a check could not run (no python3-jsonschema):
# the reason is printed.

# shellcheck disable=SC2317 # functions called by name ("scenario_$name") look unreachable
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

ALL_SCENARIOS=(all_open isp_drop isp_reset isp_icmp isp_redirect starttls_strip starttls_mask
  tls_intercept v6_open_v4_dropped homer_drop homer_ingress_drop isp_ingress_drop vps_firewall_drop vps_firewall_reset reply_dropped
  control_blocked not_listening destination_blocked client_firewall vps_provider_drop
  silent_router_drop silent_router_drop_first isp_relay reset_after_ehlo cap_full no_ipv6_route
  benign_middlebox inbound_home_mx inbound_no_forward inbound_isp_drop inbound_vps_provider_drop
  inbound_listen inbound_cgnat inbound_upnp self_test_open self_test_vps_provider_drop)

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
    --homer-wan) LAB_HOMER_WAN=$2; shift 2 ;;
    --isp-routers) LAB_ISP_ROUTERS=$2; shift 2 ;;
    -h | --help) usage ;;
    list) printf '%s\n' "${ALL_SCENARIOS[@]}"; exit 0 ;;
    all) SCENARIOS+=("${ALL_SCENARIOS[@]}"); shift ;;
    -*) usage ;;
    *) SCENARIOS+=("$1"); shift ;;
  esac
done
[[ $EVIDENCE == basic || $EVIDENCE == full ]] || usage
[[ $LAB_HOMER_WAN == cgnat || $LAB_HOMER_WAN == public ]] || usage
[[ $LAB_ISP_ROUTERS =~ ^[1-9]$ ]] || usage
lab_set_topology
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
  local schema_rc=0
  "$HERE/../schema/validate-report" "$CHECK_JSON" >"$CHECK_JSON.schema" 2>&1 || schema_rc=$?
  if ((schema_rc == 77)); then
    SKIPPED_CHECK="the reports against docs/report.schema.json: $(head -c 200 "$CHECK_JSON.schema")"
  elif ((schema_rc != 0)); then
    fail "the report does not match docs/report.schema.json: $(head -c 600 "$CHECK_JSON.schema")"
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

# Hops in expectations are TTL@NAME, NAME resolved per family: homer (the home router's
# LAN address), ispN (the address router N answers the home from), vps, null (a router
# that never answered), or a literal address.
hop_address() { # FAMILY NAME
  local v=4 var
  [[ $1 == ipv6 ]] && v=6
  case $2 in
    homer) var=LAB_HOMER_LAN$v; printf '%s' "${!var}" ;;
    isp[1-9]) "lab_router_addr$v" "${2#isp}" ;;
    vps) var=LAB_VPS$v; printf '%s' "${!var}" ;;
    *) printf '%s' "$2" ;;
  esac
}
hop_spec() { # FAMILY "TTL@NAME,TTL@NAME..." -> the same with addresses
  local family=$1 item out=() items
  IFS=, read -r -a items <<<"$2"
  for item in "${items[@]}"; do out+=("${item%%@*}@$(hop_address "$family" "${item#*@}")"); done
  (IFS=,; printf '%s' "${out[*]}")
}

# expect_probe PORT FAMILY "verdict/location|verdict/location..." [ARG...]
#   The probe's verdict/location is one of the alternatives, a probe that is not open
#   has a reason, and the who-fields keep the contract whatever the verdict: `segment`
#   one of the four words when location is path, else null; `blocking_candidates` an
#   array, empty when `blocking_hop` is set; a hop has a numeric ttl, an address or
#   null, and a role. ARGs:
#     hop=TTL@NAME | hop=none      blocking_hop is that hop / null
#     candidates=TTL@NAME,...      blocking_candidates, exactly and in order (empty: `candidates=`)
#     segment=WORD                 segment (`null` for none)
#     role~=TEXT                   blocking_hop.role contains TEXT (case-insensitive)
#     sender=ADDR                  a reason names that ICMP sender
#     reason~=TEXT / no_reason~=TEXT   some / no reason contains TEXT (case-insensitive)
#   With --evidence basic and no hop= or candidates=, there was no trace to find a hop:
#   blocking_hop must be null and blocking_candidates empty.
expect_probe() {
  local port=$1 family=$2 allowed=$3 hop="" candidates="-" segment="" role="" sender="" p got
  local with_reason=() without_reason=() arg text
  shift 3
  for arg in "$@"; do
    case $arg in
      hop=*) hop=${arg#hop=} ;;
      candidates=*) candidates=${arg#candidates=} ;;
      segment=*) segment=${arg#segment=} ;;
      role~=*) role=${arg#role~=} ;;
      sender=*) sender=${arg#sender=} ;;
      reason~=*) with_reason+=("${arg#reason~=}") ;;
      no_reason~=*) without_reason+=("${arg#no_reason~=}") ;;
      *) fail "expect_probe: unknown argument $arg (a bug in the scenario)" ;;
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
  local missing
  missing=$(jq -r '[("segment", "blocking_hop", "blocking_candidates") as $k
                    | select(has($k) | not) | $k] | join(", ")' <<<"$p")
  if [[ -n $missing ]]; then
    fail "probe $port/$family: no $missing in the report"
  elif ! jq -e '
      (if .location == "path"
       then (.segment as $s | ["local_network", "upstream", "reflector_network", "unknown"]
             | index([$s])) != null
       else .segment == null end)
      and (.blocking_candidates | type == "array")
      and (.blocking_hop == null or (.blocking_candidates | length) == 0)
      and all((if .blocking_hop then [.blocking_hop] else [] end) + .blocking_candidates
              | .[]; (.ttl | type == "number") and (.address == null or (.address | type == "string"))
                     and (.role | type == "string"))' <<<"$p" >/dev/null 2>&1; then
    fail "probe $port/$family: who-fields break the contract: $(jq -c '{location, segment, blocking_hop, blocking_candidates}' <<<"$p")"
  fi
  local got_hop got_candidates
  got_hop=$(jq -r 'if .blocking_hop then "\(.blocking_hop.ttl)@\(.blocking_hop.address)" else "none" end' <<<"$p")
  got_candidates=$(jq -r '[(.blocking_candidates // [])[] | "\(.ttl)@\(.address)"] | join(",")' <<<"$p")
  if [[ -n $hop ]]; then
    [[ $hop != none ]] && hop=$(hop_spec "$family" "$hop")
    [[ $got_hop == "$hop" ]] || fail "probe $port/$family: blocking_hop $got_hop, expected $hop"
  elif ! full_evidence && [[ $got_hop != none ]]; then
    fail "probe $port/$family: blocking_hop $got_hop without a trace"
  fi
  if [[ $candidates != - ]]; then
    candidates=$(hop_spec "$family" "$candidates")
    [[ $got_candidates == "$candidates" ]] ||
      fail "probe $port/$family: blocking_candidates [$got_candidates], expected [$candidates]"
  elif ! full_evidence && [[ -n $got_candidates ]]; then
    fail "probe $port/$family: blocking_candidates [$got_candidates] without a trace"
  fi
  if [[ -n $segment ]]; then
    text=$(jq -r '.segment' <<<"$p")
    [[ $text == "$segment" ]] || fail "probe $port/$family: segment $text, expected $segment"
  fi
  if [[ -n $role ]] && ! jq -e --arg r "$role" \
    '.blocking_hop.role // "" | ascii_downcase | contains($r | ascii_downcase)' <<<"$p" >/dev/null; then
    fail "probe $port/$family: blocking_hop.role $(jq -c .blocking_hop.role <<<"$p") does not contain \"$role\""
  fi
  if [[ -n $sender ]] && ! jq -e --arg s "$sender" 'any(.reasons[]; contains($s))' <<<"$p" >/dev/null; then
    fail "probe $port/$family: no reason names the ICMP sender $sender; reasons: $(jq -c .reasons <<<"$p")"
  fi
  for text in "${with_reason[@]}"; do
    jq -e --arg t "$text" 'any(.reasons[]; ascii_downcase | contains($t | ascii_downcase))' <<<"$p" >/dev/null ||
      fail "probe $port/$family: no reason contains \"$text\"; reasons: $(jq -c .reasons <<<"$p")"
  done
  for text in "${without_reason[@]}"; do
    jq -e --arg t "$text" 'any(.reasons[]; ascii_downcase | contains($t | ascii_downcase)) | not' <<<"$p" >/dev/null ||
      fail "probe $port/$family: a reason contains \"$text\"; reasons: $(jq -c .reasons <<<"$p")"
  done
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
  # Every family asked for was usable: nothing is listed as not probed.
  [[ -n ${EXPECT_NOT_PROBED:-} ]] || jq -e '(.not_probed // []) == []' "$CHECK_JSON" >/dev/null ||
    fail "not_probed lists $(jq -c .not_probed "$CHECK_JSON"), expected nothing"
}

# PORT over both families: verdict/location alternatives FULL and ARGs with the packet
# witness and hop tracing, BASIC and the BASIC_ARGs (after `--`) without them.
expect_port() { # PORT FULL BASIC [ARG...] [-- BASIC_ARG...]
  local port=$1 full=$2 basic=$3 family arg sep=0 fargs=() bargs=()
  shift 3
  for arg in "$@"; do
    if [[ $arg == -- ]]; then sep=1; elif ((sep)); then bargs+=("$arg"); else fargs+=("$arg"); fi
  done
  for family in $BOTH; do
    if full_evidence; then
      expect_probe "$port" "$family" "$full" "${fargs[@]}"
    else
      expect_probe "$port" "$family" "$basic" "${bargs[@]}"
    fi
  done
}
expect_25() { expect_port 25 "$@"; }

expect_summary() {
  jq -e '.summary.text | type == "string" and length > 0' "$CHECK_JSON" >/dev/null ||
    fail "no summary text"
}
summary_matches() { # REGEX (jq, case-insensitive)
  jq -e --arg re "$1" '.summary.text // "" | test($re; "i")' "$CHECK_JSON" >/dev/null
}
expect_summary_says() { # REGEX...
  local re
  for re in "$@"; do
    summary_matches "$re" || fail "the summary does not say /$re/: $(jq -c .summary.text "$CHECK_JSON")"
  done
}
expect_summary_never_says() { # REGEX...
  local re
  for re in "$@"; do
    summary_matches "$re" && fail "the summary says /$re/: $(jq -c .summary.text "$CHECK_JSON")"
  done
  return 0
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
# Scenarios. Default topology (see lib.sh): homer (home router, NAT) at TTL 1, the ISP's
# isp1 (2) and isp2 (3), isp3 (4: the VPS's hosting provider, in front of the VPS), the
# VPS (5). The ISP's blocks are at isp2; with other --isp-routers the names below follow.

ROUTERS=$LAB_ISP_ROUTERS
ISP_N=$((ROUTERS >= 2 ? 2 : 1))
ISP=isp$ISP_N ISP_TTL=$((ISP_N + 1)) # where the ISP blocks
PROVIDER=isp$ROUTERS PROVIDER_TTL=$((ROUTERS + 1)) # the router in front of the VPS
# What the contract calls the segment of the router at TTL T in this lab: the home
# router is the local network, the last router before the VPS its hosting provider's,
# every router between is the ISP's (shared or public addresses alike).
segment_of_ttl() {
  if (($1 == 1)); then
    printf local_network
  elif (($1 == PROVIDER_TTL)); then
    printf reflector_network
  else
    printf upstream
  fi
}
# The name of the router at TTL T (for hop specifications).
router_at() { if (($1 == 1)); then printf homer; else printf 'isp%d' $(($1 - 1)); fi; }
# Expectations about the ISP's hop: the hop, its segment, and its role when the contract
# names it (the router in front of the reflector).
isp_hop_args() {
  local segment
  segment=$(segment_of_ttl "$ISP_TTL")
  printf '%s\n' "hop=$ISP_TTL@$ISP" "segment=$segment"
  [[ $segment == reflector_network ]] && printf '%s\n' "role~=in front of the reflector"
  return 0
}
mapfile -t ISP_HOP < <(isp_hop_args)
# The candidates' common segment, as the contract defines it: theirs when they agree.
candidates_segment() { # TTL...
  local t first
  first=$(segment_of_ttl "$1")
  for t in "$@"; do [[ $(segment_of_ttl "$t") == "$first" ]] || { printf unknown; return; }; done
  printf '%s' "$first"
}
# A filter in a router's forwarding path (lab_block's default chain) lets the router
# answer for its own TTL and stops the probes after it, exactly as the next router's
# inbound filter would: both are candidates, unless the next is the VPS itself (then the
# witness tells its own firewall apart, and the router's hop stands alone).
forwarding_filter_args() { # TTL NAME
  local next=$(($1 + 1))
  if ((next > PROVIDER_TTL)); then
    printf '%s\n' "hop=$1@$2" "segment=$(segment_of_ttl "$1")"
    return
  fi
  printf '%s\n' hop=none "candidates=$1@$2,$next@$(router_at "$next")" \
    "segment=$(candidates_segment "$1" "$next")"
}
mapfile -t ISP_FILTER < <(forwarding_filter_args "$ISP_TTL" "$ISP")

PORTS="25 465 587" BOTH="ipv4 ipv6"
# An unanswered SYN without witness or trace: dropped, but nobody can say where it died
# (the classifier's timed-out rule without a witness or a place).
SILENT=dropped/unknown
# A reset without witness or trace: the reflector host or the path may have sent it, so
# the classifier's refused rule says inconclusive.
RESET_UNPLACED=inconclusive/unknown
# Without a trace, a verdict on the path cannot say which hop or which segment.
UNPLACED=(hop=none segment=unknown)

# Undo steps a scenario registers (function names), run after it whatever happened.
SCENARIO_UNDO=()

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
  lab_block "$ISP" drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" "${ISP_FILTER[@]}"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
}

# The reset first comes back at the TTL after the router's (its forwarding filter sent
# it, after the TTL check), as it would from the next router's inbound filter.
scenario_isp_reset() {
  lab_block "$ISP" reset tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 reset/path "$RESET_UNPLACED" "${ISP_FILTER[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

# The ICMP error itself names its sender: no witness or trace is needed to place it on
# the path, but only the trace says at which hop and in which segment.
scenario_isp_icmp() {
  lab_block "$ISP" icmp tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  local family
  for family in $BOTH; do
    if full_evidence; then
      expect_probe 25 "$family" icmp_unreachable/path "sender=$(hop_address "$family" "$ISP")" \
        "${ISP_HOP[@]}"
    else
      expect_probe 25 "$family" icmp_unreachable/path "sender=$(hop_address "$family" "$ISP")" \
        "${UNPLACED[@]}"
    fi
  done
  expect_rest_open "$PORTS" "$BOTH"
}

# The ISP sends port 25 to its own relay (Postfix's smtp-sink on the ISP's router): the
# handshake is answered at the router's TTL.
scenario_isp_redirect() {
  lab_start_smtp_sink "$ISP" 2525
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  lab_block "$ISP" redirect:2525 tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 intercepted/path intercepted/path "${ISP_HOP[@]}" -- "${UNPLACED[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

start_stripper() { # MODE: the fixture on the ISP's router, port 25 redirected to it
  lab_start_fixture "$ISP" starttls_stripper 10025 "$FIXTURES/starttls_stripper" \
    --listen-port 10025 --mode "$1"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  lab_block "$ISP" redirect:10025 tcp dport 25 >/dev/null
}

scenario_starttls_strip() {
  start_stripper strip
  run_check --family both || return
  expect_exit 1
  expect_25 tampered/path tampered/path "${ISP_HOP[@]}" -- "${UNPLACED[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_starttls_mask() {
  start_stripper mask
  run_check --family both || return
  expect_exit 1
  expect_25 tampered/path tampered/path "${ISP_HOP[@]}" -- "${UNPLACED[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_tls_intercept() {
  lab_start_fixture "$ISP" tls_terminator 10465 "$FIXTURES/tls_terminator" --listen-port 10465 \
    --cert "$LAB_DIR/middlebox.crt" --key "$LAB_DIR/middlebox.key"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  lab_block "$ISP" redirect:10465 tcp dport 465 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_port 465 tls_intercepted/path tls_intercepted/path "${ISP_HOP[@]}" -- "${UNPLACED[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_v6_open_v4_dropped() {
  lab_block "$ISP" -4 drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  if full_evidence; then
    expect_probe 25 ipv4 dropped/path "${ISP_FILTER[@]}"
  else
    expect_probe 25 ipv4 "$SILENT"
  fi
  expect_probe 25 ipv6 open/none
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
}

# The block is in the home router's forwarding path (TTL 1): it answers for TTL 1, and
# the probes after it die as they would at the ISP's inbound filter. Both are named.
scenario_homer_drop() {
  lab_block homer drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  local where
  mapfile -t where < <(forwarding_filter_args 1 homer)
  expect_25 dropped/path "$SILENT" "${where[@]}"
  expect_rest_open "$PORTS" "$BOTH"
  full_evidence && expect_summary_says "home router"
  expect_summary
}

# The home router filters port 25 as packets arrive, before its TTL check (an inbound
# ACL): not even TTL 1 is answered for port 25, as with this computer's own firewall,
# but the SYN left this computer, which its kernel tells. The router, never this computer.
scenario_homer_ingress_drop() {
  lab_block homer --chain prefilter drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" hop=1@homer segment=local_network "role~=home router" \
    "reason~=left this computer" -- "reason~=left this computer"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary_never_says "this computer stops"
  expect_summary
}

# The ISP filters port 25 as packets arrive at its router: the router before it answers
# for its TTL, and the probes die as they would at that router's forwarding filter. The
# ISP's router is among the candidates, the home router only when it is the one before.
scenario_isp_ingress_drop() {
  local before=$((ISP_TTL - 1))
  lab_block "$ISP" --chain prefilter drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" hop=none "candidates=$before@$(router_at "$before"),$ISP_TTL@$ISP" \
    "segment=$(candidates_segment "$before" "$ISP_TTL")"
  expect_rest_open "$PORTS" "$BOTH"
  if full_evidence && ((before > 1)); then
    expect_summary_says "ISP"
    expect_summary_never_says "home"
  fi
  expect_summary
}

# The VPS's own firewall (its input chain) drops port 25: only the witness, which sees
# SYNs before the firewall, can tell this from an ISP drop.
scenario_vps_firewall_drop() {
  lab_block vps drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 firewalled_at_reflector/reflector_host "$SILENT" hop=none candidates=
  expect_rest_open "$PORTS" "$BOTH"
}

scenario_vps_firewall_reset() {
  lab_block vps reset tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 firewalled_at_reflector/reflector_host "$RESET_UNPLACED" hop=none candidates=
  expect_rest_open "$PORTS" "$BOTH"
}

# SYNs arrive and the reflector answers, but the ISP's router drops its SYN-ACKs on the
# way back: no trace pins a hop on the way back.
scenario_reply_dropped() {
  lab_block "$ISP" drop tcp sport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 reply_dropped/path "$SILENT" hop=none
  expect_rest_open "$PORTS" "$BOTH"
}

# Without the control connection nothing can be confirmed: exit 3, all inconclusive.
scenario_control_blocked() {
  lab_block "$ISP" drop tcp dport 7025 >/dev/null
  run_check --family both --ports 25 || return
  expect_exit 3
  local bad
  bad=$(jq -c '[.probes[] | select(.verdict != "inconclusive" or .location != "unknown")
                | {port, family, verdict, location}]' "$CHECK_JSON")
  [[ $bad == "[]" ]] || fail "probes with a verdict that needs the reflector: $bad"
  # Each says why: nothing was probed, for want of the control port.
  bad=$(jq -c '[.probes[] | select(any(.reasons[]; contains("Nothing was probed")
                                                    and contains("control port")) | not)
                | {port, family, reasons}]' "$CHECK_JSON")
  [[ $bad == "[]" ]] || fail "probes that do not say the control port was not reached: $bad"
}

# Nothing listens on 2525. Without the witness, a reset from an unadvertised port is
# most likely the host's kernel, but the path could have sent it too: inconclusive.
scenario_not_listening() {
  run_check --family both --ports 2525 || return
  expect_exit 1
  local want=not_listening/reflector_host
  full_evidence || want=$RESET_UNPLACED
  expect_probe 2525 ipv4 "$want" hop=none
  expect_probe 2525 ipv6 "$want" hop=none
  expect_rest_open 2525 "$BOTH"
}

# `--target`: a mail server beside the path (smtp-sink on the router in front of the
# VPS, on its VPS-side address) that takes port 25, then drops it in its own firewall
# while this network's port 25 to the reflector is open: the destination probe is
# dropped at the destination, judged against the reflector probe of port 25.
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
    and .family == "ipv4" and .blocking_hop == null and .segment == null' <<<"$p" >/dev/null ||
    fail "destination probe: wrong fields: $(jq -c 'del(.evidence)' <<<"$p")"
}
scenario_destination_blocked() {
  lab_start_smtp_sink "$PROVIDER" 25
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  run_check --family both --ports 25 --target "[$DESTINATION4]" || return
  expect_exit 0
  expect_destination open/none
  expect_rest_open 25 "$BOTH"

  lab_block "$PROVIDER" --chain input drop ip daddr "$DESTINATION4" tcp dport 25 >/dev/null
  run_check --family both --ports 25 --target "[$DESTINATION4]" || return
  expect_exit 1
  expect_destination dropped/destination
  expect_rest_open 25 "$BOTH"
  jq -e '.summary.text | test("does not accept connections on port 25")' "$CHECK_JSON" \
    >/dev/null || fail "the summary does not blame the destination: $(jq -c .summary "$CHECK_JSON")"
}

# ---- Who blocks (issue 11) --------------------------------------------------------

# This computer's own firewall (security software) drops port 25: the probe never
# leaves it. The TTL-1 probe of port 25 gets no answer where the control port's does.
scenario_client_firewall() {
  lab_block home --chain output drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/client_host dropped/client_host hop=none candidates= segment=null \
    "reason~=never left this computer" -- "reason~=never left this computer"
  expect_rest_open "$PORTS" "$BOTH"
}

# The VPS's hosting provider drops port 25 at the router in front of the VPS: the
# summary must send the user to the hosting provider, not to their own network.
scenario_vps_provider_drop() {
  lab_block "$PROVIDER" drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  expect_25 dropped/path "$SILENT" "hop=$PROVIDER_TTL@$PROVIDER" segment=reflector_network \
    "role~=in front of the reflector"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
  if full_evidence; then
    expect_summary_says "hosting provider"
    expect_summary_never_says "your network blocks"
  fi
}

# A router that drops port 25 and sends no time-exceeded at all (nor for the control
# port): the drop is at the last router that answered or at the silent one after it,
# and the answer must list both.
silence() { # ROUTER: no ICMP time-exceeded from it, in either family
  lab_block "$1" --chain output drop icmp type time-exceeded >/dev/null
  lab_block "$1" --chain output drop icmpv6 type time-exceeded >/dev/null
}
# The candidates of a drop after the router at TTL BEFORE, with the silent routers up to
# LAST: the next router past them too (its inbound filter), unless it is the VPS.
silent_candidates_args() { # BEFORE LAST
  local before=$1 last=$2 next=$(($2 + 1)) list t ttls=()
  list="$before@$(router_at "$before")"
  for ((t = before + 1; t <= last; t++)); do list+=",$t@null"; ttls+=("$t"); done
  if ((next <= PROVIDER_TTL)); then list+=",$next@$(router_at "$next")"; ttls+=("$next"); fi
  printf '%s\n' hop=none "candidates=$list" "segment=$(candidates_segment "$before" "${ttls[@]}")"
}
scenario_silent_router_drop() {
  local before=$((ISP_TTL - 1)) where
  silence "$ISP"
  lab_block "$ISP" drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  mapfile -t where < <(silent_candidates_args "$before" "$ISP_TTL")
  expect_25 dropped/path "$SILENT" "${where[@]}"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
  full_evidence && expect_summary_says "does not answer traceroute"
}

# The same at the first router after the home router: the candidates are the home
# router and the silent router, in two segments; the home router alone is not to blame.
scenario_silent_router_drop_first() {
  silence isp1
  lab_block isp1 drop tcp dport 25 >/dev/null
  run_check --family both || return
  expect_exit 1
  local where
  mapfile -t where < <(silent_candidates_args 1 2)
  expect_25 dropped/path "$SILENT" "${where[@]}"
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
  # Naming the home router is only right beside the other candidate.
  if full_evidence && summary_matches "home router" &&
    ! summary_matches "does not answer traceroute|hop 2|after (your|the) home router"; then
    fail "the summary names the home router alone: $(jq -c .summary.text "$CHECK_JSON")"
  fi
}

# The ISP's relay takes port 25 and re-originates it from its own address, relaying the
# dialogue unchanged: it reaches the reflector, but mail would leave from the ISP.
scenario_isp_relay() {
  start_stripper pass
  run_check --family both || return
  expect_exit 1
  expect_25 proxied/path proxied/path "${ISP_HOP[@]}" -- "${UNPLACED[@]}"
  expect_rest_open "$PORTS" "$BOTH"
}

# A middlebox resets the connection right after the client's EHLO, which it never
# forwards: a reset on the path, and nothing was "rewritten".
scenario_reset_after_ehlo() {
  start_stripper reset-after-ehlo
  run_check --family both || return
  expect_exit 1
  expect_25 reset/path reset/path "${ISP_HOP[@]}" no_reason~=rewritten \
    -- "${UNPLACED[@]}" no_reason~=rewritten
  expect_rest_open "$PORTS" "$BOTH"
}

# The reflector's per-source cap (16 concurrent connections per source address, shared
# by its mail ports) is full from this home's own public IPv4 address: the reflector
# refuses for its own limits, which is no block and no interception.
CAP_PER_SOURCE=16
scenario_cap_full() {
  lab_hold_tcp home "$LAB_VPS4" 25 "$CAP_PER_SOURCE"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  lab_wait_established vps 25 "$LAB_HOMER_WAN4" "$CAP_PER_SOURCE" || {
    lab_show_log hold-25
    fail "could not fill the reflector's per-source cap"
    return
  }
  run_check --family both || return
  expect_exit 1
  local port
  for port in $PORTS; do
    expect_probe "$port" ipv4 inconclusive/unknown reason~=refused no_reason~=intercepted
  done
  expect_rest_open "$PORTS" "$BOTH"
}

# No IPv6 default route at home: IPv6 cannot be used at all. It is one entry in
# `not_probed`, not three failed probes, and it does not change the exit status.
restore_home_v6_route() {
  lab_exec home ip -6 route replace default via "$LAB_HOMER_LAN6" ||
    lab_log "warning: could not restore the home's IPv6 default route"
}
scenario_no_ipv6_route() {
  local EXPECT_NOT_PROBED=1
  SCENARIO_UNDO+=(restore_home_v6_route)
  lab_exec home ip -6 route del default || { fail "could not remove the home's IPv6 route"; return; }
  run_check --family both || return
  expect_exit 0
  expect_rest_open "$PORTS" ipv4
  jq -e '.not_probed | type == "array" and length == 1
         and (.[0] | .target == "reflector" and .family == "ipv6"
              and (.host | type == "string")
              and (.reason | type == "string" and length > 0)
              and ((.ports // []) | sort == [25, 465, 587]))' "$CHECK_JSON" >/dev/null ||
    fail "not_probed is $(jq -c '.not_probed' "$CHECK_JSON"), expected one ipv6 reflector entry for ports 25, 465, 587 with a reason"
  local n
  n=$(jq '.summary.text // "" | [match("IPv6"; "g")] | length' "$CHECK_JSON")
  ((n <= 2)) || fail "the summary names IPv6 $n times (one line is enough): $(jq -c .summary.text "$CHECK_JSON")"
  expect_summary
}

# A middlebox that changes nothing a user cares about: the ISP's first router clamps
# the TCP MSS of SYNs, the next one rewrites the TTL / hop limit of what it forwards.
scenario_benign_middlebox() {
  lab_block isp1 rule tcp flags syn tcp option maxseg size set 1200 >/dev/null
  local rewrite
  for rewrite in "ip ttl set 64" "ip6 hoplimit set 64"; do
    if lab_exec "$ISP" nft --check add rule inet e25lab forward "$rewrite" 2>/dev/null; then
      lab_block "$ISP" rule "$rewrite" >/dev/null
    else
      lab_log "nftables here cannot '$rewrite': left out"
    fi
  done
  run_check --family both || return
  expect_exit 0
  expect_rest_open "$PORTS" "$BOTH"
  expect_summary
}

# ---------------------------------------------------------------------------------
# Inbound (issue 9): `--inbound`, the reflector connecting back to the home's public
# address. Seen from the VPS: the VPS's provider (the last ISP router) is hop 1, the
# ISP's routers follow, the home router's WAN address (the home's public IPv4 address)
# comes last; over IPv6 there is no NAT and the home itself is the public address.

# The address router isp$I answers the VPS from (its interface towards the VPS).
vps_side_addr4() {
  if (($1 == ROUTERS)); then printf 203.0.113.1; else lab_isp_link4 "$1" 1; fi
}
# The TTL of router isp$I counted from the VPS, and of the home router.
vps_ttl() { printf '%d' $((ROUTERS - $1 + 1)); }
HOMER_FROM_VPS=$((ROUTERS + 1))

# The one inbound probe of PORT and FAMILY, as compact JSON ("" if not exactly one).
inbound_json() {
  jq -c --argjson port "$1" --arg family "$2" \
    '[.probes[] | select(.target == "inbound" and .port == $port and .family == $family)]
     | if length == 1 then .[0] else empty end' "$CHECK_JSON" 2>/dev/null
}

# expect_inbound PORT FAMILY "verdict/location|..." [segment=WORD] [hop=TTL@ADDR|none]
#   [candidates=TTL@ADDR,...] [reason~=TEXT] [summary~=TEXT]
expect_inbound() {
  local port=$1 family=$2 allowed=$3 p got arg text
  shift 3
  p=$(inbound_json "$port" "$family")
  if [[ -z $p ]]; then
    fail "inbound $port/$family: not exactly one inbound probe in the report"
    return
  fi
  got=$(jq -r '"\(.verdict)/\(.location)"' <<<"$p")
  [[ "|$allowed|" == *"|$got|"* ]] ||
    fail "inbound $port/$family: got $got, expected $allowed; reasons: $(jq -c .reasons <<<"$p")"
  jq -e '.evidence | has("inbound") and has("inbound_unavailable") and has("listener")' \
    <<<"$p" >/dev/null || fail "inbound $port/$family: no inbound evidence"
  for arg in "$@"; do
    case $arg in
      segment=*)
        text=$(jq -r '.segment' <<<"$p")
        [[ $text == "${arg#segment=}" ]] || fail "inbound $port/$family: segment $text, expected ${arg#segment=}"
        ;;
      hop=*)
        text=$(jq -r 'if .blocking_hop then "\(.blocking_hop.ttl)@\(.blocking_hop.address)" else "none" end' <<<"$p")
        [[ $text == "${arg#hop=}" ]] || fail "inbound $port/$family: blocking_hop $text, expected ${arg#hop=}; reasons: $(jq -c .reasons <<<"$p")"
        ;;
      candidates=*)
        text=$(jq -r '[.blocking_candidates[] | "\(.ttl)@\(.address // "")"] | join(",")' <<<"$p")
        [[ $text == "${arg#candidates=}" ]] || fail "inbound $port/$family: blocking_candidates $text, expected ${arg#candidates=}; reasons: $(jq -c .reasons <<<"$p")"
        ;;
      reason~=*)
        jq -e --arg t "${arg#reason~=}" 'any(.reasons[]; ascii_downcase | contains($t | ascii_downcase))' \
          <<<"$p" >/dev/null || fail "inbound $port/$family: no reason contains \"${arg#reason~=}\"; reasons: $(jq -c .reasons <<<"$p")"
        ;;
      summary~=*) expect_summary_says "${arg#summary~=}" ;;
      *) fail "expect_inbound: unknown argument $arg (a bug in the scenario)" ;;
    esac
  done
}

# The home router forwards port 25 to the home, where a mail server (smtp-sink) runs.
forward_to_home() { # PORT
  lab_exec homer nft add rule inet e25lab prerouting iifname wan meta nfproto ipv4 \
    tcp dport "$1" dnat ip to "$LAB_HOME4" || lab_die "port forward on homer failed"
}
scenario_inbound_home_mx() {
  lab_start_smtp_sink home 25
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  forward_to_home 25
  run_check --family both --inbound || return
  expect_exit 0
  expect_inbound 25 ipv4 open/none "reason~=relay.isp.example" "summary~=mail can reach you"
  expect_inbound 25 ipv6 open/none "reason~=relay.isp.example"
  expect_rest_open "$PORTS" "$BOTH"
}

# No port forward: the home router itself refuses port 25 (nothing listens on it).
scenario_inbound_no_forward() {
  run_check --family both --inbound || return
  expect_exit 1
  expect_inbound 25 ipv4 not_listening/path segment=local_network \
    "hop=$HOMER_FROM_VPS@$LAB_HOMER_WAN4" "summary~=forwards nothing on port 25"
  # Over IPv6 the home has a public address of its own: it refuses, nothing listens.
  expect_inbound 25 ipv6 not_listening/client_host
  expect_rest_open "$PORTS" "$BOTH"
}

# The ISP drops port 25 both ways at isp$ISP_N, in its forwarding path: inbound dies
# there, seen from the VPS, or at the next router's inbound filter (the ISP's too).
scenario_inbound_isp_drop() {
  local t
  t=$(vps_ttl "$ISP_N")
  lab_block "$ISP" drop tcp dport 25 >/dev/null
  run_check --family 4 --inbound || return
  expect_exit 1
  expect_inbound 25 ipv4 dropped/path segment=upstream hop=none \
    "candidates=$t@$(vps_side_addr4 "$ISP_N"),$((t + 1))@$(vps_side_addr4 $((ISP_N - 1)))" \
    "summary~=your isp"
}

# The VPS's provider drops port 25 from the VPS as it arrives at its router (an inbound
# ACL): the connect-back cannot get out, not even to TTL 1, yet the reflector's kernel
# sent its SYN: the provider's router, on the reflector's side, not the home's.
scenario_inbound_vps_provider_drop() {
  lab_block "$PROVIDER" --chain prefilter drop ip saddr "$LAB_VPS4" tcp dport 25 >/dev/null
  run_check --family 4 --inbound || return
  expect_exit 1
  expect_inbound 25 ipv4 dropped/path segment=reflector_network "hop=1@203.0.113.1" \
    "reason~=the SYN left the reflector host" \
    "summary~=hosting provider" "summary~=says nothing about your line"
  expect_summary_never_says "your isp .*inbound"
}

# --inbound-listen on 587: forwarded to the home over IPv4, public over IPv6; the
# client's own listener answers and the report says the connect-back reached it.
scenario_inbound_listen() {
  forward_to_home 587
  run_check --family both --inbound 587 --inbound-listen || return
  expect_inbound 587 ipv4 open/none "reason~=this computer's own listener"
  expect_inbound 587 ipv6 open/none "reason~=this computer's own listener" \
    "summary~=this machine"
}

# The home router answers UPnP-IGD and NAT-PMP: Debian's miniupnpd (nftables) on homer,
# its LAN side the home's. It asks nothing of the kernel until a mapping is requested,
# which the client never does.
start_miniupnpd() {
  local conf="$LAB_DIR/miniupnpd.conf" deadline
  cat >"$conf" <<CONF
ext_ifname=wan
listening_ip=lan
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=e25e25e2-5e25-4e25-8e25-e25e25e25e25
allow 1024-65535 192.0.2.0/25 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
  lab_spawn homer miniupnpd /usr/sbin/miniupnpd -d -f "$conf" -P "$LAB_DIR/miniupnpd.pid"
  SCENARIO_PIDS+=("$LAB_LAST_PID")
  wait_for_port homer "$LAB_HOMER_LAN4" 5000 "$LAB_LAST_PID" || {
    lab_show_log miniupnpd
    lab_die "miniupnpd did not come up"
  }
  deadline=$((SECONDS + LAB_WAIT_SECONDS))
  until [[ -n $(lab_exec homer ss -Hlun 'sport = :5351') && -n $(lab_exec homer ss -Hlun 'sport = :1900') ]]; do
    ((SECONDS < deadline)) || lab_die "miniupnpd does not listen for NAT-PMP and SSDP"
    sleep 0.1
  done
}

# The ISP's carrier-grade NAT: isp1 translates the shared addresses of its customers
# (the home router's WAN side) to its own public address towards the VPS.
isp_cgnat_off() { lab_exec isp1 nft delete table ip e25cgnat 2>/dev/null || true; }
isp_cgnat_on() {
  lab_exec isp1 nft -f - <<'NFT' || lab_die "CGNAT on isp1 failed"
table ip e25cgnat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "to_vps" ip saddr 100.64.0.0/10 masquerade; }
}
NFT
  SCENARIO_UNDO+=(isp_cgnat_off)
}

# The .client.nat finding: "cgnat=true|false|null ext=ADDR|null", and its reasons.
nat_found() { jq -r '.client.nat | "cgnat=\(.cgnat) ext=\(.gateway_external_address)"' "$CHECK_JSON"; }
expect_nat_reason() { # TEXT...
  local t
  for t in "$@"; do
    jq -e --arg t "$t" 'any(.client.nat.reasons[]; ascii_downcase | contains($t | ascii_downcase))' \
      "$CHECK_JSON" >/dev/null || fail "no NAT reason contains \"$t\": $(jq -c .client.nat.reasons "$CHECK_JSON")"
  done
}

# The home behind the ISP's carrier-grade NAT, its router answering UPnP-IGD and NAT-PMP
# (miniupnpd reports no external address for a shared one). The reflector sees the ISP's
# address, not the home router's; the first router past the home's network answers from
# shared space. The report must say carrier-grade NAT, and that mail cannot come in.
scenario_inbound_cgnat() {
  [[ $LAB_HOMER_WAN == cgnat ]] || { fail "inbound_cgnat needs --homer-wan cgnat"; return; }
  isp_cgnat_on
  start_miniupnpd
  run_check --family 4 --inbound || return
  local seen
  seen=$(jq -r '.client.public_addresses.ipv4' "$CHECK_JSON")
  [[ $seen == "$(lab_isp_link4 1 1)" ]] ||
    fail "the reflector saw $seen, not the ISP's NAT address $(lab_isp_link4 1 1)"
  [[ $(nat_found) == "cgnat=true ext=null" ]] || fail "NAT: $(nat_found), expected cgnat=true ext=null"
  expect_nat_reason "hop 2, $LAB_ISP1_HOME4" "UPnP-IGD" "no external address"
  expect_summary_says "carrier-grade NAT" "cannot reach it over IPv4"
  # The connect-back meets the ISP's NAT at the public address, which forwards nothing:
  # the ISP's, upstream, never "your router".
  expect_inbound 25 ipv4 not_listening/path segment=upstream "hop=3@$(lab_isp_link4 1 1)" \
    "reason~=your ISP's carrier-grade NAT forwards nothing" "summary~=ISP's carrier-grade NAT holds"
  expect_summary_never_says "your router receives"
}

# A home router with a public WAN address answering UPnP-IGD and NAT-PMP, and no NAT
# beyond it: whatever the router says of its address (miniupnpd withholds addresses of the
# documentation ranges this lab uses), the client must not claim carrier-grade NAT, and
# must name what the router answered.
scenario_inbound_upnp() {
  [[ $LAB_HOMER_WAN == public ]] || { fail "inbound_upnp needs --homer-wan public"; return; }
  start_miniupnpd
  run_check --family 4 --inbound || return
  [[ $(nat_found) != cgnat=true* ]] || fail "NAT: $(nat_found): carrier-grade NAT claimed on a public WAN"
  expect_nat_reason "your router (UPnP-IGD)" "your router (NAT-PMP)"
  expect_summary_never_says "carrier-grade"
  grep -q "HTTP REQUEST from .*192.0.2.10" "$LAB_DIR/miniupnpd.log" ||
    fail "the client did not ask the home router over UPnP-IGD: $(tail -5 "$LAB_DIR/miniupnpd.log")"
}

# ---- The VPS's own outbound 25 (issue 9): egress25-reflector --self-test ----------------
# The self-test runs in the VPS's namespace beside the daemon (it binds nothing), toward
# the home's mail server by name: the VPS's hosts file gives the name the home router's
# public address over IPv4 (its port forward to the home) and the home's over IPv6. The
# VPS's resolver points at 127.0.0.1, where nothing answers: the MX query fails at once
# and the name's own addresses are the mail hosts (RFC 5321 5.1), as for a real name
# without MX records.
HOME_MX_NAME=mx.home.example
self_test_hosts() {
  [[ -d "/etc/netns/$(lab_ns vps)" ]] && return 0
  lab_hosts_file vps "$HOME_MX_NAME" "$LAB_HOMER_WAN4" "$LAB_HOME6"
}
SELF_TEST_N=0 SELF_TEST_OUT="" SELF_TEST_RC=0
run_self_test() { # ARG...: egress25-reflector --self-test --target mx.home.example ARG...
  SELF_TEST_N=$((SELF_TEST_N + 1))
  SELF_TEST_OUT="$LAB_DIR/self_test.$SELF_TEST_N"
  local cmd=("$REFLECTOR" --self-test --hostname "$LAB_REFLECTOR_NAME" --target "$HOME_MX_NAME" "$@")
  lab_log "$SCENARIO: ${cmd[*]}"
  lab_run vps timeout -k 5 90 "${cmd[@]}" >"$SELF_TEST_OUT" 2>"$SELF_TEST_OUT.stderr"
  SELF_TEST_RC=$?
  printf '  exit %s\n' "$SELF_TEST_RC"
  sed 's/^/  | /' "$SELF_TEST_OUT"
}
self_test_fail() {
  fail "$* (self-test exit $SELF_TEST_RC; stderr: $(head -c 400 "$SELF_TEST_OUT.stderr"))"
}
# expect_self_test FAMILY VERDICT/LOCATION [segment=WORD] [hop=TTL@ADDR]: in the JSON.
expect_self_test() {
  local family=$1 want=$2 r got arg text
  shift 2
  r=$(jq -c --arg f "$family" '[.results[] | select(.family == $f)]
        | if length == 1 then .[0] else empty end' "$SELF_TEST_OUT" 2>/dev/null)
  [[ -n $r ]] || { self_test_fail "self-test $family: not exactly one result"; return; }
  got=$(jq -r '"\(.verdict)/\(.location)"' <<<"$r")
  [[ $got == "$want" ]] || self_test_fail "self-test $family: got $got, expected $want; reasons: $(jq -c .reasons <<<"$r")"
  for arg in "$@"; do
    case $arg in
      segment=*) text=$(jq -r '.segment' <<<"$r") ;;
      hop=*) text=$(jq -r 'if .blocking_hop then "\(.blocking_hop.ttl)@\(.blocking_hop.address)" else "none" end' <<<"$r") ;;
      candidates=*) text=$(jq -r '[.blocking_candidates[] | "\(.ttl)@\(.address // "")"] | join(",")' <<<"$r") ;;
      *) fail "expect_self_test: unknown argument $arg (a bug in the scenario)"; continue ;;
    esac
    [[ $text == "${arg#*=}" ]] || self_test_fail "self-test $family: ${arg%%=*} $text, expected ${arg#*=}"
  done
}
self_test_says() { # REGEX...: the text report
  local re
  for re in "$@"; do
    grep -Eqi -- "$re" "$SELF_TEST_OUT" || self_test_fail "the self-test's text does not say /$re/: $(cat "$SELF_TEST_OUT")"
  done
}

# Port 25 open from the VPS to the home's mail server, both families: open, exit 0.
scenario_self_test_open() {
  lab_start_smtp_sink home 25
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  forward_to_home 25
  self_test_hosts
  run_self_test --json
  [[ $SELF_TEST_RC == 0 ]] || self_test_fail "exit status $SELF_TEST_RC, expected 0"
  jq -e '.schema == "egress25.self-test/1" and .target.resolved_by == "address"
    and .exit_status == 0 and .summary.blocked_by == "none"' "$SELF_TEST_OUT" >/dev/null ||
    self_test_fail "not an open egress25.self-test/1 document: $(head -c 600 "$SELF_TEST_OUT")"
  expect_self_test ipv4 open/none
  expect_self_test ipv6 open/none
  jq -e 'all(.results[]; .banner | test("^220 relay.isp.example"))' "$SELF_TEST_OUT" >/dev/null ||
    self_test_fail "the home's greeting is not reported"
  run_self_test
  [[ $SELF_TEST_RC == 0 ]] || self_test_fail "text: exit status $SELF_TEST_RC, expected 0"
  self_test_says "$LAB_HOMER_WAN4 \(IPv4\): open" "$LAB_HOME6 \(IPv6\): open" \
    "This host can open port 25 to $HOME_MX_NAME"
}

# The VPS's provider drops outbound 25 at the router in front of the VPS: the self-test
# places it there (hop 1 from the VPS, its own network) and names the hosting provider,
# with the advice to ask it; exit 1.
scenario_self_test_vps_provider_drop() {
  lab_start_smtp_sink home 25
  SCENARIO_PIDS+=("${LAB_LAST_PIDS[@]}")
  forward_to_home 25
  self_test_hosts
  # As packets arrive from its customers (an inbound ACL): not even TTL 1 is answered for
  # port 25, and this host's kernel sent the SYN: its provider's first router. A filter in
  # the router's forwarding path would leave the next network a candidate too.
  lab_block "$PROVIDER" --chain prefilter drop ip saddr "$LAB_VPS4" tcp dport 25 >/dev/null
  lab_block "$PROVIDER" --chain prefilter drop ip6 saddr "$LAB_VPS6" tcp dport 25 >/dev/null
  run_self_test --json
  [[ $SELF_TEST_RC == 1 ]] || self_test_fail "exit status $SELF_TEST_RC, expected 1"
  expect_self_test ipv4 dropped/path segment=reflector_network "hop=1@203.0.113.1"
  expect_self_test ipv6 dropped/path segment=reflector_network "hop=1@2001:db8:e25:ff::1"
  jq -e '.summary.blocked_by == "hosting_provider"' "$SELF_TEST_OUT" >/dev/null ||
    self_test_fail "blocked_by is $(jq -c .summary.blocked_by "$SELF_TEST_OUT"), not hosting_provider"
  run_self_test
  [[ $SELF_TEST_RC == 1 ]] || self_test_fail "text: exit status $SELF_TEST_RC, expected 1"
  self_test_says "dropped at hop 1 \(203.0.113.1\)" \
    "hosting provider blocks outbound port 25" "Ask the provider to lift the block" \
    "a mail relay on this host would fail too"
  ! grep -qi "destination's doing" "$SELF_TEST_OUT" || self_test_fail "the destination is blamed"
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

SCENARIO_PIDS=() SCENARIO_UNDO=()
for SCENARIO in "${SCENARIOS[@]}"; do
  before=$FAILURES
  start=$SECONDS
  CHECK_JSON=""
  "scenario_$SCENARIO"
  # What was observed, whatever was expected: one line per probe.
  [[ -s $CHECK_JSON ]] && jq -r --arg rc "$CHECK_RC" '"  exit \($rc)", (.probes[] |
    "  \(.port)/\(.family): \(.verdict)/\(.location)" +
    (if .segment then " \(.segment)" else "" end) +
    (if .blocking_hop then " hop \(.blocking_hop.ttl)@\(.blocking_hop.address) (\(.blocking_hop.role))"
     else "" end) +
    (if (.blocking_candidates // []) != [] then
       " candidates " + ([.blocking_candidates[] | "\(.ttl)@\(.address)"] | join(","))
     else "" end)),
    (.not_probed // [] | .[] | "  not probed: \(.family) \(.target) \(.ports // []): \(.reason)")' \
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
  for undo in "${SCENARIO_UNDO[@]}"; do "$undo"; done
  SCENARIO_UNDO=()
  for ns in home homer $(lab_routers) vps; do lab_unblock "$ns"; done
  kill -0 "$LAB_REFLECTOR_PID" 2>/dev/null || {
    fail "the reflector died"
    lab_show_log reflector
    break
  }
done
((FAILURES == 0)) || exit 1
if [[ -n ${SKIPPED_CHECK:-} ]]; then
  printf 'SKIP: every scenario passed, but a check could not run here: %s\n' "$SKIPPED_CHECK"
  exit 77
fi
exit 0
