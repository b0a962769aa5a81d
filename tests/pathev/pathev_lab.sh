#!/usr/bin/env bash
# Namespace lab for path evidence: client — router1 — router2 — server, IPv4 and IPv6.
# Asserts what the tracer finds for a dropped and an ICMP-rejected port, and what the
# packet witness sees when the server's own firewall drops or resets. Root only.
set -u
TOOL=${1:?usage: pathev_lab.sh PATH_TO_pathev_lab_tool}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || skip "ip netns is unavailable"
command -v nft >/dev/null || skip "nft is not installed"
command -v jq >/dev/null || skip "jq is not installed"

P="e25p$$-"
C=${P}c R1=${P}r1 R2=${P}r2 S=${P}s
ALL_NS="$C $R1 $R2 $S"
WORK=$(mktemp -d /tmp/e25-pathev.XXXXXX)
PIDS=""
cleanup() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null; done
  for ns in $ALL_NS; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

in_ns() { ip netns exec "$@"; }

# Waits (bounded) for a file another process creates when it is ready.
wait_file() {
  local i
  for i in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.05; done
  echo "timed out waiting for $1"; return 1
}

FAILED=0
check() {  # check DESCRIPTION FILE JQ_EXPRESSION
  if jq -e "$3" "$2" >/dev/null 2>&1; then
    echo "ok   $1"
  else
    echo "FAIL $1"; echo "     expected: $3"; echo "     got: $(cat "$2")"; FAILED=1
  fi
}

# ---- topology ---------------------------------------------------------------------
for ns in $ALL_NS; do
  ip netns add "$ns" || exit 1
  # DAD off before the links exist, so IPv6 addresses are usable at once.
  in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  in_ns "$ns" ip link set lo up
done
ip link add to_r1 netns "$C" type veth peer name to_c netns "$R1" || exit 1
ip link add to_r2 netns "$R1" type veth peer name to_r1 netns "$R2" || exit 1
ip link add to_s netns "$R2" type veth peer name to_r2 netns "$S" || exit 1

addr() { in_ns "$1" ip addr add "$3" dev "$2" && in_ns "$1" ip -6 addr add "$4" dev "$2" nodad &&
         in_ns "$1" ip link set "$2" up; }
addr "$C"  to_r1 198.51.100.2/30  2001:db8:1::2/64
addr "$R1" to_c  198.51.100.1/30  2001:db8:1::1/64
addr "$R1" to_r2 198.51.100.5/30  2001:db8:2::1/64
addr "$R2" to_r1 198.51.100.6/30  2001:db8:2::2/64
addr "$R2" to_s  203.0.113.1/24   2001:db8:3::1/64
addr "$S"  to_r2 203.0.113.10/24  2001:db8:3::10/64

in_ns "$C"  ip route add default via 198.51.100.1
in_ns "$C"  ip -6 route add default via 2001:db8:1::1
in_ns "$R1" ip route add default via 198.51.100.6
in_ns "$R1" ip -6 route add default via 2001:db8:2::2
in_ns "$R2" ip route add 198.51.100.0/30 via 198.51.100.5
in_ns "$R2" ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1
in_ns "$S"  ip route add default via 203.0.113.1
in_ns "$S"  ip -6 route add default via 2001:db8:3::1
for r in "$R1" "$R2"; do
  # ICMP rate limits off: several traces in a few seconds must not be throttled.
  in_ns "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
done

CLIENT4=198.51.100.2 CLIENT6=2001:db8:1::2
R1_4=198.51.100.1 R1_6=2001:db8:1::1
R2_4=198.51.100.6 R2_6=2001:db8:2::2
SERVER4=203.0.113.10 SERVER6=2001:db8:3::10
REF=7025 BLOCKED=25 BUDGET=1500

# Started with ip netns exec directly (it execs), so $! is the listener itself.
ip netns exec "$S" "$TOOL" listen "$WORK/listen.ready" 60 $REF $BLOCKED &
PIDS="$PIDS $!"
wait_file "$WORK/listen.ready" || exit 1
for target in $SERVER4 $SERVER6; do
  [ "$(in_ns "$C" "$TOOL" connect "$target" $REF 2000)" = connected ] ||
    { echo "FAIL the lab path to $target does not work"; exit 1; }
done

# ---- tracer -------------------------------------------------------------------------
trace_both() {  # trace_both NAME: IPv4 and IPv6 traced at once, each in its own process
  local p4 p6
  ip netns exec "$C" "$TOOL" trace $SERVER4 $BLOCKED $REF $BUDGET 8 > "$WORK/${1}4.json" &
  p4=$!
  ip netns exec "$C" "$TOOL" trace $SERVER6 $BLOCKED $REF $BUDGET 8 > "$WORK/${1}6.json" &
  p6=$!
  PIDS="$PIDS $p4 $p6"
  wait $p4 $p6
}
# The hop where each port stops, as the classifier will read it.
reached_at() { echo "[.$1.hops[] | select(.kind == \"reached\")] | .[0]"; }

# 1. Nothing blocked: both ports reach the server at hop 3.
trace_both open
for f in 4 6; do
  s=SERVER$f
  check "v$f open: reference reaches the server at hop 3" "$WORK/open$f.json" \
    "($(reached_at reference)) == {ttl: 3, address: \"${!s}\", kind: \"reached\", icmp_type: 0, icmp_code: 0}"
  check "v$f open: the probed port too, routers named on the way" "$WORK/open$f.json" \
    "[.probed.hops[] | [.ttl, .kind]] == [[1, \"time_exceeded\"], [2, \"time_exceeded\"], [3, \"reached\"]]"
done
check "v4 open: hop 1 is router1, hop 2 router2" "$WORK/open4.json" \
  "[.reference.hops[0:2][] | .address] == [\"$R1_4\", \"$R2_4\"]"
check "v6 open: hop 1 is router1, hop 2 router2" "$WORK/open6.json" \
  "[.reference.hops[0:2][] | .address] == [\"$R1_6\", \"$R2_6\"]"

# 2. router2 drops port 25 as it comes in (an ingress ACL: before the TTL is looked at,
#    so router2 stays silent for the blocked port).
in_ns "$R2" nft -f - <<NFT || exit 1
table inet e25 {
  chain prerouting_chain {
    type filter hook prerouting priority 0;
    iifname "to_r1" tcp dport $BLOCKED drop
  }
}
NFT
trace_both drop
for f in 4 6; do
  s=SERVER$f r1=R1_$f
  check "v$f drop: reference still reaches the server at hop 3" "$WORK/drop$f.json" \
    "($(reached_at reference)).ttl == 3 and ($(reached_at reference)).address == \"${!s}\""
  check "v$f drop: the blocked port's last answer is router1 at hop 1, then silence" \
    "$WORK/drop$f.json" \
    "[.probed.hops[] | select(.kind != \"silent\")] == [{ttl: 1, address: \"${!r1}\", kind: \"time_exceeded\", icmp_type: $([ $f = 4 ] && echo 11 || echo 3), icmp_code: 0}] and ([.probed.hops[] | select(.ttl > 1) | .kind] | all(. == \"silent\")) and (.probed.hops | length) == 3"
done

# 3. router2 rejects port 25 with ICMP administratively prohibited (forward chain: a
#    TTL that expires at router2 is still answered with time-exceeded first).
in_ns "$R2" nft flush ruleset
in_ns "$R2" nft -f - <<NFT || exit 1
table inet e25 {
  chain forward_chain {
    type filter hook forward priority 0;
    meta nfproto ipv4 tcp dport $BLOCKED reject with icmp type admin-prohibited
    meta nfproto ipv6 tcp dport $BLOCKED reject with icmpv6 type admin-prohibited
  }
}
NFT
trace_both prohib
check "v4 admin-prohibited: router2 named as sender, type 3 code 13, at hop 3" \
  "$WORK/prohib4.json" \
  "(.probed.hops | last) == {ttl: 3, address: \"$R2_4\", kind: \"unreachable\", icmp_type: 3, icmp_code: 13}"
check "v6 admin-prohibited: router2 named as sender, type 1 code 1, at hop 3" \
  "$WORK/prohib6.json" \
  "(.probed.hops | last) == {ttl: 3, address: \"$R2_6\", kind: \"unreachable\", icmp_type: 1, icmp_code: 1}"
for f in 4 6; do
  check "v$f admin-prohibited: reference reaches the server at hop 3" "$WORK/prohib$f.json" \
    "($(reached_at reference)).ttl == 3"
done
in_ns "$R2" nft flush ruleset

echo "trace times (ms):"
for n in open4 open6 drop4 drop6 prohib4 prohib6; do
  printf '  %-8s %s\n' $n "$(jq .elapsed_ms "$WORK/$n.json" 2>/dev/null)"
done
check "a silent trace costs about one budget ($BUDGET ms), not one per hop" "$WORK/drop4.json" \
  ".elapsed_ms < ($BUDGET * 1.5)"

# ---- packet witness -----------------------------------------------------------------
witness() {  # witness NAME FROM PORT UNTIL CONNECT_TARGET CONNECT_TIMEOUT_MS EXPECTED_OUTCOME
  local name=$1 from=$2 port=$3 until=$4 target=$5 timeout=$6 expect=$7 pid outcome
  rm -f "$WORK/$name.ready"
  ip netns exec "$S" "$TOOL" witness any "$WORK/$name.ready" "$from" "$port" "$until" 3000 \
    $REF $BLOCKED > "$WORK/$name.json" &
  pid=$!
  PIDS="$PIDS $pid"
  wait_file "$WORK/$name.ready" || return 1
  outcome=$(in_ns "$C" "$TOOL" connect "$target" "$port" "$timeout")
  wait $pid
  if [ "$outcome" != "$expect" ]; then
    echo "FAIL $name: the client's connect was '$outcome', expected '$expect'"; FAILED=1
  fi
}

# The server's own firewall drops port 25: the witness still sees the SYN, with the TTL
# it arrived with (64 less two routers).
in_ns "$S" nft -f - <<NFT || exit 1
table inet e25 {
  chain input_chain {
    type filter hook input priority 0;
    tcp dport $BLOCKED drop
  }
}
NFT
witness wdrop4 $CLIENT4 $BLOCKED syn $SERVER4 500 timeout
witness wdrop6 $CLIENT6 $BLOCKED syn $SERVER6 500 timeout
for f in 4 6; do
  check "v$f witness: SYN seen although the host firewall drops it, nothing sent back" \
    "$WORK/wdrop$f.json" \
    ".met and ([.flows[] | select(.destination_port == $BLOCKED)] | length > 0 and all(.syn_seen and .ttl == 62 and (.synack_sent | not) and (.rst_sent | not)))"
done
check "witness stops promptly" "$WORK/wdrop4.json" ".stop_ms < 500"

# The server's firewall rejects with a TCP reset: the witness sees it go out.
in_ns "$S" nft flush ruleset
in_ns "$S" nft -f - <<NFT || exit 1
table inet e25 {
  chain input_chain {
    type filter hook input priority 0;
    tcp dport $BLOCKED reject with tcp reset
  }
}
NFT
witness wrst4 $CLIENT4 $BLOCKED rst $SERVER4 1000 refused
witness wrst6 $CLIENT6 $BLOCKED rst $SERVER6 1000 refused
for f in 4 6; do
  check "v$f witness: SYN seen and the firewall's reset seen going out" "$WORK/wrst$f.json" \
    ".met and ([.flows[] | select(.destination_port == $BLOCKED)] | .[0] | .syn_seen and .rst_sent and (.synack_sent | not) and (.handshake_completed | not))"
done
in_ns "$S" nft flush ruleset

# An open port: SYN, SYN-ACK and the completing ACK.
witness wopen4 $CLIENT4 $REF handshake $SERVER4 1000 connected
witness wopen6 $CLIENT6 $REF handshake $SERVER6 1000 connected
for f in 4 6; do
  check "v$f witness: an open port's handshake seen complete" "$WORK/wopen$f.json" \
    ".met and ([.flows[] | select(.destination_port == $REF)] | .[0] | .syn_seen and .synack_sent and .handshake_completed and (.rst_sent | not) and .syn_count == 1)"
done

[ $FAILED = 0 ] && echo "pathev lab: all checks passed"
exit $FAILED
