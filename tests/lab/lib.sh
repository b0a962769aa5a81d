# shellcheck shell=bash
# The namespace lab: a simulated internet (home, home router with NAT, ISP routers, VPS)
# built from network namespaces, veth pairs, forwarding and nftables. Source it.
#
# Topology (LAB_ISP_ROUTERS=3, the default; LAB_ISP_ROUTERS=1..9 shortens or extends
# the 198.51.100.0/24 chain; the last router is always the one in front of the VPS):
#
#   home ── homer ══NAT══ isp1 ── isp2 ── isp3 ── vps
#           home router   the user's ISP   VPS's    203.0.113.10
#                                          provider
#   TTL from home: homer 1, isp1 2, isp2 3, isp3 4, vps 5 (the VPS is always at
#   LAB_ISP_ROUTERS + 2)
#
#   link      IPv4                      IPv6 (no NAT)
#   home LAN  192.0.2.0/25 (homer .1)   2001:db8:e25:1::/64 (homer ::1, home ::10)
#   WAN       LAB_HOMER_WAN=cgnat (default): 100.64.0.0/24, shared address space
#             (isp1 .1, homer .2);       2001:db8:e25:2::/64 (isp1 ::1, homer ::2)
#             LAB_HOMER_WAN=public: 198.51.100.128/25 (isp1 .129, homer .130)
#   ISP i     198.51.100.4(i-1)/30      2001:db8:e25:1i::/64 (isp i ::1, isp i+1 ::2)
#             (isp i .1, isp i+1 .2)
#   VPS       203.0.113.0/24 (last      2001:db8:e25:ff::/64 (last isp ::1, vps ::10)
#             isp .1, vps .10)
#
# No veth reaches the root namespace and no namespace has a route to the host: every
# packet stays inside the lab. Every namespace, process and file a run creates carries
# the run's prefix and is removed by lab_down, which the traps run on every exit path.
#
# Public functions:
#   lab_require                 exit 77 with the reason when the lab cannot run here
#   lab_up / lab_down           build the topology (and set the traps) / remove it all
#   lab_exec NS CMD...          run a command in a namespace (short name: home, isp2...)
#   lab_run NS CMD...           the same, interruptibly (for long commands: the client)
#   lab_hosts_file NS NAME A4 A6   NS resolves NAME to A4 and A6 (its own /etc/hosts)
#   lab_spawn NS NAME CMD...    a tracked background process, output in $LAB_DIR/NAME.log
#   lab_block / lab_unblock     nftables rules on a router or host (see lab_block)
#   wait_for_port NS ADDR PORT  bounded wait until something listens there
#   lab_start_reflector BIN..., lab_start_smtp_sink NS PORT, lab_start_fixture ...
#   lab_router_addr4/6 I        the address ISP router I answers the home from
#   lab_hold_tcp NS ADDR PORT N N idle TCP connections, held by one tracked process
#   lab_wait_established NS PORT PEER N   bounded wait until NS has them from PEER

LAB_ISP_ROUTERS=${LAB_ISP_ROUTERS:-3}
# The home router's WAN side: cgnat (a shared 100.64.0.0/10 address, as behind an ISP's
# carrier-grade NAT) or public (a public address, so hop 2 answers from one too).
LAB_HOMER_WAN=${LAB_HOMER_WAN:-cgnat}
# A unique prefix per run: the PID lets a later run reap what a killed run left behind.
LAB_PREFIX=${LAB_PREFIX:-e25lab-$$-${RANDOM}-}
LAB_REFLECTOR_NAME=${LAB_REFLECTOR_NAME:-reflector.example.net}
# Upper bound for any wait_for_port and for the whole run (a watchdog ends the run
# with SIGTERM, so the traps still clean up, before ctest would SIGKILL it).
LAB_WAIT_SECONDS=${LAB_WAIT_SECONDS:-15}
LAB_MAX_SECONDS=${LAB_MAX_SECONDS:-170}
# Optional: a file where every resource is logged as it is created (used by the
# clean-up test to check that all of it is gone afterwards).
LAB_TRACE_FILE=${LAB_TRACE_FILE:-}
# Optional: a WAN delay (bench/). With LAB_DELAY_LINK set to bench/delay_link's binary,
# the isp1 ── isp2 link is a pair of TUN devices held by that one tracked process, which
# forwards each packet after LAB_DELAY_MS milliseconds each way (RTT 2 × LAB_DELAY_MS;
# needs LAB_ISP_ROUTERS ≥ 2). Extra options for it in LAB_DELAY_LINK_OPTIONS.
LAB_DELAY_LINK=${LAB_DELAY_LINK:-}
LAB_DELAY_MS=${LAB_DELAY_MS:-0}
LAB_DELAY_LINK_OPTIONS=${LAB_DELAY_LINK_OPTIONS:-}

# Well-known addresses.
LAB_HOME4=192.0.2.10
LAB_HOME6=2001:db8:e25:1::10
LAB_HOMER_LAN4=192.0.2.1
LAB_HOMER_LAN6=2001:db8:e25:1::1
LAB_HOMER_WAN6=2001:db8:e25:2::2
LAB_ISP1_HOME6=2001:db8:e25:2::1
# The IPv4 WAN link, from LAB_HOMER_WAN: sets LAB_WAN4_NET, LAB_ISP1_HOME4 and
# LAB_HOMER_WAN4 (the home's public address as the internet sees it). Run again after
# changing LAB_HOMER_WAN (lab_up does).
lab_set_topology() {
  case $LAB_HOMER_WAN in
    cgnat) LAB_WAN4_NET=100.64.0.0/24 LAB_ISP1_HOME4=100.64.0.1 LAB_HOMER_WAN4=100.64.0.2 ;;
    public) LAB_WAN4_NET=198.51.100.128/25 LAB_ISP1_HOME4=198.51.100.129 LAB_HOMER_WAN4=198.51.100.130 ;;
    *) lab_die "LAB_HOMER_WAN must be cgnat or public, not '$LAB_HOMER_WAN'" ;;
  esac
}
LAB_VPS4=203.0.113.10
LAB_VPS6=2001:db8:e25:ff::10

LAB_DIR=""
LAB_NAMESPACES=()
LAB_NS_IDS=() # "net:[inode]" of each, to recognise our processes
LAB_PIDS=()
LAB_ETC_DIRS=()
LAB_WATCHDOG_PID=""
LAB_IS_UP=0
LAB_DOWN_DONE=0

lab_log() { printf 'lab: %s\n' "$*" >&2; }
# Progress notes, silenced with LAB_QUIET=1 (the demo); warnings always go to lab_log.
lab_info() { [[ ${LAB_QUIET:-0} == 1 ]] || lab_log "$@"; }
lab_die() {
  printf 'lab: FAIL: %s\n' "$*" >&2
  exit 1
}
lab_trace() { [[ -n $LAB_TRACE_FILE ]] && printf '%s\n' "$*" >>"$LAB_TRACE_FILE"; return 0; }

lab_set_topology

# The full name of a lab namespace ("home", "homer", "isp1"..., "vps").
lab_ns() { printf '%s%s' "$LAB_PREFIX" "$1"; }
lab_routers() {
  local i
  for ((i = 1; i <= LAB_ISP_ROUTERS; i++)); do printf 'isp%d ' "$i"; done
}

# Exits 77 (ctest's skip code) with the reason when this machine cannot run the lab.
lab_require() {
  local tool reason=""
  if [[ $(id -u) -ne 0 ]]; then
    reason="needs root (network namespaces and nftables); run as root or in CI"
  else
    for tool in ip nft ss jq timeout openssl; do
      command -v "$tool" >/dev/null 2>&1 || { reason="needs '$tool' (not installed)"; break; }
    done
  fi
  if [[ -z $reason ]]; then
    local probe="e25lab-$$-0-probe" # the reaper's pattern, in case we are killed here
    if ! ip netns add "$probe" 2>/dev/null; then
      reason="'ip netns add' failed: network namespaces are not available here"
    else
      if ! ip netns exec "$probe" nft list ruleset >/dev/null 2>&1; then
        reason="nftables does not work inside a network namespace here"
      fi
      ip netns del "$probe"
    fi
  fi
  if [[ -n $reason ]]; then
    printf 'SKIP: lab test not run: %s\n' "$reason"
    exit 77
  fi
}

# True while PID runs. A zombie (state Z) has ended and holds nothing but its PID
# until its parent, or an init that may not reap at all in a container, collects it.
lab_pid_running() { # PID
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# SIGKILLs every PID given and waits (bounded) until they have ended: the signal is
# delivered asynchronously, and a namespace is only gone once its last process is.
lab_kill_all() { # PID...
  local k p alive
  (($#)) || return 0
  kill -KILL "$@" 2>/dev/null
  for ((k = 0; k < 100; k++)); do
    alive=0
    for p in "$@"; do lab_pid_running "$p" && alive=1; done
    ((alive)) || return 0
    sleep 0.02
  done
}

# Removes what runs killed with SIGKILL (which no trap sees) left behind: namespaces,
# /etc/netns entries and temporary directories whose owner PID no longer exists.
lab_reap_stale() {
  local name pid pids path
  while read -r name _; do
    [[ $name =~ ^e25lab-([0-9]+)-[0-9]+- ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null && continue
    pids=$(ip netns pids "$name" 2>/dev/null)
    # shellcheck disable=SC2086 # one PID per word
    lab_kill_all $pids
    ip netns del "$name" 2>/dev/null && lab_log "removed stale namespace $name"
  done < <(ip netns list 2>/dev/null)
  for path in /etc/netns/e25lab-* /tmp/e25lab-*; do
    [[ -e $path && ${path##*/} =~ ^e25lab-([0-9]+)-[0-9]+- ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
    rm -rf "$path" && lab_log "removed stale $path"
  done
}

# Namespaces are configured in two steps to keep set-up fast on a busy machine: each
# `ip netns exec` costs a fork and a mount namespace, so links, addresses and routes are
# queued per namespace and applied with one `ip -batch` each by lab_commit.
declare -A LAB_BATCH=()

lab_add_ns() {
  local ns
  ns=$(lab_ns "$1")
  ip netns add "$ns" || lab_die "cannot create namespace $ns"
  LAB_NAMESPACES+=("$ns")
  LAB_NS_IDS+=("net:[$(stat -L -c %i "/run/netns/$ns")]")
  lab_trace "ns $ns"
  LAB_BATCH[$1]="link set dev lo up"$'\n'
  # Routers forward; nobody waits for duplicate address detection (an address still
  # "tentative" cannot be bound) or learns routes from router advertisements. ICMP
  # rate limits are off so that every traced hop answers in every run: a test that
  # depends on a token bucket is a flaky test. The base table holds the chains that
  # lab_block adds rules to; empty chains accept everything.
  ip netns exec "$ns" sh -c 'sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.default.accept_ra=0 net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
    >/dev/null && nft -f -' <<'EOF' || lab_die "sysctl or nft base table in $ns failed"
table inet e25lab {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
  chain prefilter { type filter hook prerouting priority filter; policy accept; }
  chain input { type filter hook input priority filter; policy accept; }
  chain forward { type filter hook forward priority filter; policy accept; }
  chain output { type filter hook output priority filter; policy accept; }
}
EOF
}

# A veth pair between NS_A (interface IF_A) and NS_B (IF_B), made directly inside the
# namespaces so that it never exists in the root namespace.
lab_link() {
  ip -n "$(lab_ns "$1")" link add name "$2" type veth peer name "$4" netns "$(lab_ns "$3")" ||
    lab_die "veth $1-$3 failed"
  LAB_BATCH[$1]+="link set dev $2 up"$'\n'
  LAB_BATCH[$3]+="link set dev $4 up"$'\n'
}

# The same link through the delay link (LAB_DELAY_LINK): one tracked process in NS_A
# ("delay-link" in $LAB_DIR) creates both TUN devices inside their namespaces; they go
# away with it. Waits (bounded) until it says it is ready.
lab_delay_link() { # NS_A IF_A NS_B IF_B
  local deadline=$((SECONDS + LAB_WAIT_SECONDS)) extra=()
  read -r -a extra <<<"$LAB_DELAY_LINK_OPTIONS"
  lab_spawn "$1" delay-link "$LAB_DELAY_LINK" --dev-a "$2" --dev-b "$4" \
    --netns-b "/run/netns/$(lab_ns "$3")" --delay-ms "$LAB_DELAY_MS" "${extra[@]}"
  LAB_DELAY_LINK_PID=$LAB_LAST_PID
  until grep -q '^ready' "$LAB_DIR/delay-link.log" 2>/dev/null; do
    if ! kill -0 "$LAB_DELAY_LINK_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      lab_show_log delay-link
      lab_die "the delay link $1-$3 did not come up"
    fi
    sleep 0.02
  done
  LAB_BATCH[$1]+="link set dev $2 up"$'\n'
  LAB_BATCH[$3]+="link set dev $4 up"$'\n'
}

lab_addr() { # NS IF ADDR/LEN...
  local ns=$1 dev=$2 a
  shift 2
  for a in "$@"; do
    if [[ $a == *:* ]]; then
      LAB_BATCH[$ns]+="addr add $a dev $dev nodad"$'\n'
    else
      LAB_BATCH[$ns]+="addr add $a dev $dev"$'\n'
    fi
  done
}

lab_route() { # NS PREFIX VIA
  LAB_BATCH[$1]+="route add $2 via $3"$'\n'
}

lab_commit() {
  local short
  for short in "${!LAB_BATCH[@]}"; do
    ip -n "$(lab_ns "$short")" -batch - <<<"${LAB_BATCH[$short]}" ||
      lab_die "configuring $short failed: ${LAB_BATCH[$short]}"
  done
  LAB_BATCH=()
}

# The address of ISP router I on the ISP link L (I is L or L+1), IPv4 and IPv6.
lab_isp_link4() { printf '198.51.100.%d' $((4 * ($1 - 1) + $2)); }
lab_isp_link6() { printf '2001:db8:e25:1%x::%d' "$1" "$2"; }

# The address router isp$I answers from when it sends an ICMP error back to the home
# (the address of its interface towards the home), per family.
lab_router_addr4() {
  if (($1 == 1)); then printf '%s' "$LAB_ISP1_HOME4"; else lab_isp_link4 $(($1 - 1)) 2; fi
}
lab_router_addr6() {
  if (($1 == 1)); then printf '%s' "$LAB_ISP1_HOME6"; else lab_isp_link6 $(($1 - 1)) 2; fi
}

# NS resolves NAME to ADDR4 and ADDR6 from a hosts file of its own (`ip netns exec`
# bind-mounts /etc/netns/NS/* over /etc), with a resolver that leads nowhere.
lab_hosts_file() { # NS NAME ADDR4 ADDR6
  local etc
  etc="/etc/netns/$(lab_ns "$1")"
  mkdir -p "$etc" || lab_die "cannot create $etc"
  LAB_ETC_DIRS+=("$etc")
  lab_trace "etc $etc"
  printf '127.0.0.1 localhost\n::1 localhost\n%s %s\n%s %s\n' "$3" "$2" "$4" "$2" >"$etc/hosts"
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$etc/resolv.conf"
}

lab_up() {
  ((LAB_IS_UP)) && return 0
  [[ $LAB_ISP_ROUTERS =~ ^[1-9]$ ]] || lab_die "LAB_ISP_ROUTERS must be 1..9, not '$LAB_ISP_ROUTERS'"
  [[ -z $LAB_DELAY_LINK ]] || ((LAB_ISP_ROUTERS >= 2)) || lab_die "LAB_DELAY_LINK needs LAB_ISP_ROUTERS >= 2"
  lab_set_topology
  trap lab_down EXIT
  trap 'lab_log "interrupted"; exit 130' INT
  trap 'lab_log "terminated"; exit 143' TERM
  trap 'exit 129' HUP
  LAB_IS_UP=1
  lab_reap_stale
  LAB_DIR=$(mktemp -d "/tmp/${LAB_PREFIX}XXXXXX") || lab_die "mktemp failed"
  lab_trace "dir $LAB_DIR"
  # The watchdog: a bound on the whole run, not a synchronisation. One process with no
  # child (it times out a read on a FIFO nobody writes), so killing it leaves nothing.
  mkfifo "$LAB_DIR/watchdog" || lab_die "mkfifo failed"
  bash -c 'exec 3<>"$1"; read -r -t "$2" <&3
    printf "lab: run exceeded %ss, terminating\n" "$2" >&2; kill -TERM "$3"' \
    lab-watchdog "$LAB_DIR/watchdog" "$LAB_MAX_SECONDS" $$ &
  LAB_WATCHDOG_PID=$!

  local n=$LAB_ISP_ROUTERS i last="isp$LAB_ISP_ROUTERS" r
  lab_add_ns home
  lab_add_ns homer
  for r in $(lab_routers); do lab_add_ns "$r"; done
  lab_add_ns vps

  # home LAN
  lab_link home eth0 homer lan
  lab_addr home eth0 "$LAB_HOME4/25" "$LAB_HOME6/64"
  lab_addr homer lan "$LAB_HOMER_LAN4/25" "$LAB_HOMER_LAN6/64"
  lab_route home default "$LAB_HOMER_LAN4"
  lab_route home default "$LAB_HOMER_LAN6"
  # WAN: the home router's CGNAT (or public) address, masqueraded like a real home
  # router does.
  lab_link homer wan isp1 to_home
  lab_addr homer wan "$LAB_HOMER_WAN4/${LAB_WAN4_NET#*/}" "$LAB_HOMER_WAN6/64"
  lab_addr isp1 to_home "$LAB_ISP1_HOME4/${LAB_WAN4_NET#*/}" "$LAB_ISP1_HOME6/64"
  lab_route homer default "$LAB_ISP1_HOME4"
  lab_route homer default "$LAB_ISP1_HOME6"
  ip netns exec "$(lab_ns homer)" nft -f - <<'EOF' || lab_die "NAT on homer failed"
table ip e25nat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "wan" masquerade; }
}
EOF
  # The ISP chain. Each router routes towards the VPS by default and back towards the
  # home by explicit routes (the home LAN's IPv4 is behind NAT and never routed).
  for ((i = 1; i < n; i++)); do
    if ((i == 1)) && [[ -n $LAB_DELAY_LINK ]]; then
      lab_delay_link "isp$i" to_vps "isp$((i + 1))" to_home
    else
      lab_link "isp$i" to_vps "isp$((i + 1))" to_home
    fi
    lab_addr "isp$i" to_vps "$(lab_isp_link4 "$i" 1)/30" "$(lab_isp_link6 "$i" 1)/64"
    lab_addr "isp$((i + 1))" to_home "$(lab_isp_link4 "$i" 2)/30" "$(lab_isp_link6 "$i" 2)/64"
    lab_route "isp$i" default "$(lab_isp_link4 "$i" 2)"
    lab_route "isp$i" default "$(lab_isp_link6 "$i" 2)"
  done
  lab_route isp1 2001:db8:e25:1::/64 "$LAB_HOMER_WAN6"
  for ((i = 2; i <= n; i++)); do
    local back4 back6 j
    back4=$(lab_isp_link4 $((i - 1)) 1)
    back6=$(lab_isp_link6 $((i - 1)) 1)
    lab_route "isp$i" "$LAB_WAN4_NET" "$back4"
    lab_route "isp$i" 2001:db8:e25:1::/64 "$back6"
    lab_route "isp$i" 2001:db8:e25:2::/64 "$back6"
    for ((j = 1; j < i - 1; j++)); do
      lab_route "isp$i" "$(lab_isp_link4 "$j" 0)/30" "$back4"
      lab_route "isp$i" "$(lab_isp_link6 "$j" 0)/64" "$back6"
    done
  done
  # The VPS.
  lab_link "$last" to_vps vps eth0
  lab_addr "$last" to_vps 203.0.113.1/24 2001:db8:e25:ff::1/64
  lab_addr vps eth0 "$LAB_VPS4/24" "$LAB_VPS6/64"
  lab_route vps default 203.0.113.1
  lab_route vps default 2001:db8:e25:ff::1

  lab_commit

  # The home resolves the reflector's name from its own hosts file (`ip netns exec`
  # bind-mounts /etc/netns/NS/* over /etc), and has no resolver it could leak to.
  lab_hosts_file home "$LAB_REFLECTOR_NAME" "$LAB_VPS4" "$LAB_VPS6"

  # The lab is only up when both families cross it end to end.
  lab_reaches home "$LAB_VPS4" || lab_die "IPv4 does not cross the lab"
  lab_reaches home "$LAB_VPS6" || lab_die "IPv6 does not cross the lab"
  lab_info "up: prefix $LAB_PREFIX, $n ISP routers, $LAB_HOMER_WAN WAN, dir $LAB_DIR"
}

# True when a TCP connect from NS to ADDR's port 9 (where nothing listens) is refused:
# a reset that came back proves the round trip (there is no ping on a minimal system).
lab_reaches() { # NS ADDR
  local err
  err=$(lab_exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
  [[ $err == *"Connection refused"* ]]
}

# True when PID runs in one of this run's namespaces: a PID is only killed after this
# check, so that a PID reused by an unrelated process is never touched.
lab_pid_is_ours() {
  local link id
  link=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
  for id in "${LAB_NS_IDS[@]}"; do [[ $link == "$id" ]] && return 0; done
  return 1
}

lab_kill_pid() { # PID: TERM, a bounded wait, then KILL
  local pid=$1 k
  lab_pid_is_ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((k = 0; k < 50; k++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

lab_down() {
  local rc=$? ns pid pids etc
  ((LAB_DOWN_DONE)) && return "$rc"
  LAB_DOWN_DONE=1
  trap - INT TERM HUP
  if [[ -n $LAB_WATCHDOG_PID ]] && grep -qa lab-watchdog "/proc/$LAB_WATCHDOG_PID/cmdline" 2>/dev/null; then
    kill -TERM "$LAB_WATCHDOG_PID" 2>/dev/null
  fi
  for pid in "${LAB_PIDS[@]}"; do lab_kill_pid "$pid"; done
  for ns in "${LAB_NAMESPACES[@]}"; do
    # Anything else still running in our namespaces is ours too.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086 # one PID per word
    lab_kill_all $pids
    ip netns del "$ns" 2>/dev/null || lab_log "warning: could not delete namespace $ns"
  done
  for etc in "${LAB_ETC_DIRS[@]}"; do rm -rf "$etc"; done
  [[ -n $LAB_DIR && -d $LAB_DIR ]] && rm -rf "$LAB_DIR"
  if ((${#LAB_NAMESPACES[@]})) && ip netns list | grep -q "^$LAB_PREFIX"; then
    lab_log "warning: namespaces left behind: $(ip netns list | grep "^$LAB_PREFIX" | tr '\n' ' ')"
  fi
  return "$rc"
}

# Runs a command inside a lab namespace (by its short name).
lab_exec() {
  local ns
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# Runs a command in a lab namespace and waits for it, interruptibly: a signal ends the
# `wait` at once and the traps run (a plain foreground command would hold the traps
# until it ended). Returns the command's status. stdout/stderr are the caller's.
lab_run() {
  local ns pid rc keep=() p
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@" </dev/null &
  pid=$!
  LAB_PIDS+=("$pid")
  lab_trace "pid $pid run"
  wait "$pid"
  rc=$?
  for p in "${LAB_PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
  LAB_PIDS=("${keep[@]}")
  return "$rc"
}

# Starts a background process in a namespace, tracked for clean-up; its output goes to
# $LAB_DIR/NAME.log. Sets LAB_LAST_PID. (`ip netns exec` execs the command, so the PID
# is the command's own.)
lab_spawn() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$(lab_ns "$ns")" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
  lab_trace "pid $LAB_LAST_PID $name"
}

# Waits (bounded) until something in NS listens on ADDR:PORT (a wildcard listener
# counts). With a PID, fails early if that process has died.
wait_for_port() {
  local ns=$1 addr=$2 port=$3 pid=${4:-} deadline line local_addr
  deadline=$((SECONDS + LAB_WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    while read -r line; do
      local_addr=${line% *}
      local_addr=${local_addr##* }
      local_addr=${local_addr%:*}
      local_addr=${local_addr#[}
      local_addr=${local_addr%]}
      local_addr=${local_addr%%%*}
      case $local_addr in
        "$addr" | '*' | 0.0.0.0 | ::) return 0 ;;
      esac
    done < <(lab_exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null)
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      lab_log "process $pid died before listening on $addr:$port"
      return 1
    fi
    sleep 0.05
  done
  lab_log "nothing listens on $addr:$port in $ns after ${LAB_WAIT_SECONDS}s"
  return 1
}

# Shows the tail of a spawned process's log (for failure reports).
lab_show_log() {
  local f="$LAB_DIR/$1.log"
  [[ -s $f ]] || return 0
  printf -- '--- last lines of %s log ---\n' "$1" >&2
  tail -n "${2:-40}" "$f" >&2
}

# The reflector on the VPS with its standard ports. Extra options are passed on (e.g.
# --witness off). Waits until every service listens.
LAB_REFLECTOR_PORTS=(25 465 587 7025)
lab_start_reflector() {
  local bin=$1 port
  shift
  lab_spawn vps reflector "$bin" --log-level "${LAB_REFLECTOR_LOG_LEVEL:-info}" "$@"
  LAB_REFLECTOR_PID=$LAB_LAST_PID
  for port in "${LAB_REFLECTOR_PORTS[@]}"; do
    if ! wait_for_port vps "$LAB_VPS4" "$port" "$LAB_REFLECTOR_PID" ||
      ! wait_for_port vps "$LAB_VPS6" "$port" "$LAB_REFLECTOR_PID"; then
      lab_show_log reflector
      lab_die "the reflector did not come up on port $port"
    fi
  done
}

# Postfix's smtp-sink: a real SMTP server that is not the reflector (the ISP's relay).
# Postfix makes its IPv6 sockets IPv6-only, so one instance per family. Sets
# LAB_LAST_PIDS to both PIDs.
lab_start_smtp_sink() { # NS PORT
  local ns=$1 port=$2 pids=()
  lab_spawn "$ns" smtp-sink4 /usr/sbin/smtp-sink -u nobody -h relay.isp.example "0.0.0.0:$port" 64
  pids+=("$LAB_LAST_PID")
  wait_for_port "$ns" 0.0.0.0 "$port" "$LAB_LAST_PID" || {
    lab_show_log smtp-sink4
    lab_die "smtp-sink did not come up"
  }
  lab_spawn "$ns" smtp-sink6 /usr/sbin/smtp-sink -u nobody -h relay.isp.example "[::]:$port" 64
  pids+=("$LAB_LAST_PID")
  wait_for_port "$ns" :: "$port" "$LAB_LAST_PID" || {
    lab_show_log smtp-sink6
    lab_die "smtp-sink did not come up"
  }
  # shellcheck disable=SC2034 # for the caller
  LAB_LAST_PIDS=("${pids[@]}")
}

# A fixture proxy on a router, listening on PORT (both families).
lab_start_fixture() { # NS NAME PORT CMD...
  local ns=$1 name=$2 port=$3
  shift 3
  lab_spawn "$ns" "$name" "$@"
  if ! wait_for_port "$ns" 0.0.0.0 "$port" "$LAB_LAST_PID" ||
    ! wait_for_port "$ns" :: "$port" "$LAB_LAST_PID"; then
    lab_show_log "$name"
    lab_die "$name did not come up"
  fi
}

# Adds a rule in NS and prints its id (for lab_unblock).
#   lab_block NS [-4|-6] ACTION MATCH...
# ACTION: drop | reset (TCP reset) | icmp (ICMP administratively prohibited) |
#         redirect:PORT (DNAT to a process on NS itself; MATCH is for the prerouting hook) |
#         rule (MATCH is the whole rule, statements included, e.g. a rewrite:
#         `tcp flags syn tcp option maxseg size set 1200`)
# The chain: forward on routers, input on the home and the VPS (their own firewall);
# `--chain NAME` before ACTION overrides it: `prefilter` filters as packets arrive, before
# routing (and a router's TTL check), as an interface's inbound ACL does. MATCH is nftables syntax, e.g.
# `tcp dport 25` or `ip saddr 203.0.113.10 tcp sport 25`.
lab_block() {
  local short=$1 fam="" chain verdicts=() out v
  shift
  case $short in home | vps) chain=input ;; *) chain=forward ;; esac
  while [[ $1 == -4 || $1 == -6 || $1 == --chain ]]; do
    case $1 in
      -4) fam="meta nfproto ipv4" ;;
      -6) fam="meta nfproto ipv6" ;;
      --chain) chain=$2; shift ;;
    esac
    shift
  done
  local action=$1
  shift
  case $action in
    drop) verdicts=("$fam $* drop") ;;
    rule) verdicts=("$fam $*") ;;
    reset) verdicts=("$fam $* reject with tcp reset") ;;
    icmp)
      [[ $fam != *ipv6 ]] && verdicts+=("meta nfproto ipv4 $* reject with icmp type admin-prohibited")
      [[ $fam != *ipv4 ]] && verdicts+=("meta nfproto ipv6 $* reject with icmpv6 type admin-prohibited")
      ;;
    redirect:*)
      chain=prerouting
      verdicts=("$fam $* redirect to :${action#redirect:}")
      ;;
    *) lab_die "lab_block: unknown action $action" ;;
  esac
  for v in "${verdicts[@]}"; do
    out=$(lab_exec "$short" nft --echo --handle add rule inet e25lab "$chain" "$v") ||
      lab_die "lab_block on $short: nft rejected: $v"
    [[ $out =~ \#\ handle\ ([0-9]+) ]] || lab_die "lab_block: no handle in: $out"
    printf '%s:%s ' "$chain" "${BASH_REMATCH[1]}"
  done
  printf '\n'
}

# Holds N idle TCP connections from NS to ADDR:PORT (IPv4 or a bracket-less IPv6
# address) in one tracked background process, NAME "hold-PORT", until it is killed or
# the run's time is up. Does not wait for them: see lab_wait_established. Sets
# LAB_LAST_PID.
lab_hold_tcp() { # NS ADDR PORT N
  local fifo="$LAB_DIR/hold-$3.fifo"
  rm -f "$fifo"
  mkfifo "$fifo" || lab_die "mkfifo $fifo failed"
  # One bash and no child: the connections are its descriptors, the wait a read from a
  # FIFO nobody writes (bounded by the run's own limit).
  # shellcheck disable=SC2016 # expanded by the inner bash
  lab_spawn "$1" "hold-$3" bash -c 'for ((i = 0; i < $3; i++)); do
      exec {fd}<>"/dev/tcp/$1/$2" || exit 1
    done
    echo "holding $3 connections to $1 port $2"
    exec {w}<>"$4"
    read -r -t "$5" <&"$w"' lab-hold "$2" "$3" "$4" "$fifo" "$LAB_MAX_SECONDS"
}

# Waits (bounded) until NS has at least N established TCP connections on its local
# PORT from PEER (an address as `ss` prints it, without brackets).
lab_wait_established() { # NS PORT PEER N
  local deadline=$((SECONDS + LAB_WAIT_SECONDS)) n=0 line peer
  while ((SECONDS < deadline)); do
    n=0
    while read -r line; do
      peer=${line##* }
      peer=${peer%:*}
      peer=${peer#[}
      peer=${peer%]}
      [[ $peer == "$3" ]] && n=$((n + 1))
    done < <(lab_exec "$1" ss -Htn state established "sport = :$2" 2>/dev/null)
    ((n >= $4)) && return 0
    sleep 0.05
  done
  lab_log "only $n of $4 connections from $3 established on port $2 in $1 after ${LAB_WAIT_SECONDS}s"
  return 1
}

# Removes rules: lab_unblock NS ID... (ids from lab_block), or every lab rule in NS.
lab_unblock() {
  local short=$1 id
  shift
  if (($# == 0)); then
    for id in prerouting prefilter input forward output; do lab_exec "$short" nft flush chain inet e25lab "$id"; done
    return 0
  fi
  for id in "$@"; do
    lab_exec "$short" nft delete rule inet e25lab "${id%%:*}" handle "${id#*:}" ||
      lab_die "lab_unblock: no rule $id on $short"
  done
}
