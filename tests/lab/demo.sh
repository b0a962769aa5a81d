#!/usr/bin/env bash
# The egress25 demo: a simulated home line whose ISP silently drops outbound port 25,
# built from network namespaces on this machine; runs the reflector on the simulated
# VPS and `egress25 check` at the simulated home, shows the report, and removes
# everything it made on every exit path (including Ctrl-C).
#
# usage: demo.sh [BUILD_DIR]                 (default: the repository's build/)
#        demo.sh --client BIN --reflector BIN
# Needs root (network namespaces). Extra options after `--` go to `egress25 check`.

set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

CLIENT="" REFLECTOR="" BUILD="$HERE/../../build" EXTRA=()
while (($#)); do
  case $1 in
    --client) CLIENT=$2; shift 2 ;;
    --reflector) REFLECTOR=$2; shift 2 ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) BUILD=$1; shift ;;
  esac
done
CLIENT=${CLIENT:-$BUILD/client/egress25}
REFLECTOR=${REFLECTOR:-$BUILD/reflector/egress25-reflector}
for bin in "$CLIENT" "$REFLECTOR"; do
  [[ -x $bin ]] || { echo "demo: $bin not found; build first, or pass --client/--reflector" >&2; exit 2; }
done
lab_require

LAB_QUIET=1
# The ISP drops port 25 at its first router, in its forwarding path; the last router is
# the VPS's hosting provider's, in front of the VPS. A trace cannot tell a forwarding
# filter from the next router's inbound one, so the ISP's next router is named beside it:
# both are the ISP's when it has two routers or more.
DROP_AT=1
lab_up
lab_block "isp$DROP_AT" drop tcp dport 25 >/dev/null
lab_start_reflector "$REFLECTOR" --hostname "$LAB_REFLECTOR_NAME"

shown_args=""
((${#EXTRA[@]})) && shown_args=" ${EXTRA[*]}"
cat <<EOF
Simulated: a home line whose ISP silently drops outbound port 25, the most common
way ISPs block mail servers at home (no answer at all, so a mail client just waits).
Submission ports 465 and 587 pass. Everything runs in network namespaces on this
machine; nothing leaves it, and all of it is removed when the demo ends.

$(
  row() { printf '  %-4s %-22s %-15s %-21s %s\n' "$@" | sed 's/ *$//'; }
  row hop where IPv4 IPv6 ""
  row "" "your computer" "$LAB_HOME4" "$LAB_HOME6" "runs egress25 check"
  row 1 "home router" "$LAB_HOMER_LAN4" "$LAB_HOMER_LAN6" "NAT: you appear as $LAB_HOMER_WAN4"
  for ((i = 1; i <= LAB_ISP_ROUTERS; i++)); do
    where="ISP router" note=""
    ((i == LAB_ISP_ROUTERS && i > 1)) && where="VPS provider's router"
    ((i == DROP_AT)) && note="drops TCP port 25"
    row $((i + 1)) "$where" "$(lab_router_addr4 "$i")" "$(lab_router_addr6 "$i")" "$note"
  done
  row $((LAB_ISP_ROUTERS + 2)) "VPS" "$LAB_VPS4" "$LAB_VPS6" "runs egress25-reflector"
)

\$ egress25 check --reflector $LAB_REFLECTOR_NAME --family both$shown_args
EOF
lab_run home "$CLIENT" check --reflector "$LAB_REFLECTOR_NAME" --family both "${EXTRA[@]}"
rc=$?
echo
case $rc in
  0) echo "(egress25 exited 0: everything open. In this simulation that would be a bug.)" ;;
  1) echo "(egress25 exited 1: it found a block, as it should here.)" ;;
  *) echo "(egress25 exited $rc.)"; lab_show_log reflector 20 ;;
esac
[[ $rc == 0 || $rc == 1 ]]
