#!/usr/bin/env bash
# Address families: --family 6 over ::1, --family both (one control connection per
# family, joined by the token) when a name resolves to both, and --family both against a
# reflector named by an IPv4 literal (IPv6 cannot be probed: it is one `not_probed` line,
# not a block, and the exit status comes from the IPv4 probes).
# Skips (exit 77) when the host has no ::1.
# Usage: client_check_ipv6.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
source "$(dirname "$0")/client_lib.sh"

if ! have_ipv6_loopback; then
  echo "skip: this host has no ::1"
  exit 77
fi
start_reflector
wait_port ::1 "$CONTROL_PORT" "$REFLECTOR_PID" || fail "the reflector does not listen on ::1"

run_client check --reflector "[::1]:$CONTROL_PORT" --family 6 --json
[[ $RC -eq 0 ]] || fail "--family 6: exit $RC; stderr: $(cat "$ERR"); $(head -c 1500 "$OUT")"
check_contract_json
jq -e --arg c "[::1]:$CONTROL_PORT" '
  .reflector.control == $c and .client.public_address == "::1"
  and .client.public_addresses.ipv6 == "::1" and .client.public_addresses.ipv4 == null
  and (.probes | length == 3)
  and all(.probes[]; .verdict == "open" and .family == "ipv6" and .address == "::1")' \
  "$OUT" >/dev/null || fail "--family 6: $(jq -c '.client, [.probes[] | {port, family, verdict}]' "$OUT")"
pass "--family 6 over ::1: all open"

# The IPv6 half cannot be probed through an IPv4 literal: one line, not a block.
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --family both --json --no-trace
[[ $RC -eq 0 ]] || fail "--family both with an IPv4 literal: exit $RC, not 0; $(cat "$ERR")"
check_contract_json
jq -e '(.probes | length == 3)
       and all(.probes[]; .verdict == "open" and .family == "ipv4")
       and (.not_probed | length == 1)
       and .not_probed[0].family == "ipv6" and .not_probed[0].target == "reflector"
       and (.not_probed[0].reason | test("has no IPv6 address"))
       and (.not_probed[0].ports | length == 3)
       and (.summary.text | test("IPv6"))' "$OUT" >/dev/null ||
  fail "--family both, IPv4 literal: $(jq -c '[.probes[] | {port, family, verdict}], .not_probed, .summary' "$OUT")"
pass "--family both with an IPv4 literal: IPv6 not probed (one line), IPv4 open, exit 0"

# A name with both addresses: localhost, where it has both; else, as root, localhost in
# a hosts file of the client's own, bound over /etc/hosts in a mount namespace of its
# own (private: nothing outside it sees the change).
dual_client=""
if getent ahosts localhost | grep -q '^::1 ' && getent ahosts localhost | grep -q '^127.0.0.1 '; then
  dual_client=$CLIENT
elif [[ $(id -u) -eq 0 ]] && unshare --mount --propagation private true 2>/dev/null; then
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$TEST_DIR/hosts"
  cat >"$TEST_DIR/dual-client" <<EOF
#!/bin/sh
exec unshare --mount --propagation private sh -c 'mount --bind "\$0" /etc/hosts && exec "\$@"' \\
  "$TEST_DIR/hosts" "$CLIENT" "\$@"
EOF
  chmod +x "$TEST_DIR/dual-client"
  dual_client=$TEST_DIR/dual-client
fi
if [[ -n $dual_client ]]; then
  CLIENT=$dual_client run_client check --reflector "localhost:$CONTROL_PORT" --family both --json
  [[ $RC -eq 0 ]] || fail "--family both via localhost: exit $RC; $(cat "$ERR")"
  check_contract_json
  jq -e '(.probes | length == 6) and all(.probes[]; .verdict == "open")
         and .client.public_addresses.ipv4 == "127.0.0.1"
         and .client.public_addresses.ipv6 == "::1"' "$OUT" >/dev/null ||
    fail "--family both via localhost: $(jq -c '.client, [.probes[] | {port, family, verdict}]' "$OUT")"
  pass "--family both via localhost: each port open over IPv4 and IPv6"
else
  skip_check "--family both via localhost: localhost does not resolve to both 127.0.0.1 and ::1 here, and only root may give the client a hosts file of its own"
fi
