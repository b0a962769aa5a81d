#!/usr/bin/env bash
# egress25-reflector --self-test on loopback, no daemon: a recording SMTP server on
# 127.0.0.2 (through --self-test-port) is judged open, exit 0, and heard EHLO and QUIT and
# nothing else; a port nothing listens on is not_listening at the destination, exit 1;
# the JSON document has its documented shape; with no route at all (root: a network
# namespace of its own) nothing is tested, exit 3; bad usage is exit 2 with the reason and
# no report. Run as root, the self-test runs as nobody: it needs no privilege, no secret and
# no certificate, and binds nothing.
# Usage: reflector_self_test.sh REFLECTOR_BINARY
REFLECTOR=$1
source "$(dirname "$0")/reflector_lib.sh"

command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
command -v jq >/dev/null || { echo "skip: no jq"; exit 77; }
(exec 3<>/dev/tcp/127.0.0.2/9) 2>&1 | grep -q "refused" ||
  { echo "skip: 127.0.0.2 is not a loopback address here"; exit 77; }
TARGET=127.0.0.2

# The self-test as an unprivileged user when we are root: it must not need root.
AS_USER=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
OUT="$TEST_DIR/out" ERR="$TEST_DIR/err" RC=0
self_test() {
  "${AS_USER[@]}" timeout 60 "$REFLECTOR" --self-test --hostname selftest.test "$@" \
    >"$OUT" 2>"$ERR"
  RC=$?
}
free_port() { # FROM: the first port from FROM that nothing on $TARGET accepts
  local p=$1
  while (exec 3<>"/dev/tcp/$TARGET/$p") 2>/dev/null; do p=$((p + 1)); done
  printf '%d' "$p"
}

# The destination: greets, answers EHLO and QUIT, writes every line it hears to a file.
OFFSET=$(pick_offset)
mx_port=$(free_port $((OFFSET + 25)))
/usr/bin/env python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
open(sys.argv[4], "w").close()
while True:
    c, _ = s.accept()
    c.sendall(b"220 mx.destination.test ESMTP stub\r\n")
    f = c.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            break
        with open(sys.argv[3], "ab") as log:
            log.write(line)
        if line.upper().startswith(b"EHLO"):
            c.sendall(b"250-mx.destination.test\r\n250 8BITMIME\r\n")
        elif line.upper().startswith(b"QUIT"):
            c.sendall(b"221 bye\r\n")
            break
        else:
            c.sendall(b"502 not here\r\n")
    c.close()
' "$TARGET" "$mx_port" "$TEST_DIR/heard.log" "$TEST_DIR/mx.ready" &
REFLECTOR_PIDS+=("$!")  # stopped by the harness's cleanup on every exit path
for _ in $(seq 1 100); do [[ -e "$TEST_DIR/mx.ready" ]] && break; sleep 0.1; done
[[ -e "$TEST_DIR/mx.ready" ]] || fail "the stub MX did not start"

# ---- open: text -----------------------------------------------------------------------
self_test --target "[$TARGET]" --self-test-port "$mx_port" --secret-file /nonexistent/secret
[[ $RC -eq 0 ]] || fail "open: exit $RC, not 0; stdout: $(cat "$OUT"); stderr: $(cat "$ERR")"
grep -q "self-test: port $mx_port from this host to $TARGET" "$OUT" ||
  fail "open: no heading: $(cat "$OUT")"
grep -Eq "^  $TARGET \(IPv4\): open$" "$OUT" || fail "open: no open row: $(cat "$OUT")"
grep -q "greeted: \"220 mx.destination.test ESMTP stub\", EHLO 250, QUIT 221" "$OUT" ||
  fail "open: the greeting and dialogue are not reported: $(cat "$OUT")"
grep -q "This host can open port $mx_port to $TARGET" "$OUT" ||
  fail "open: the summary does not say it: $(cat "$OUT")"
# What the destination heard: our EHLO name, then QUIT, and nothing else.
heard=$(tr -d '\r' <"$TEST_DIR/heard.log")
[[ $heard == $'EHLO selftest.test\nQUIT' ]] || fail "the destination heard more than EHLO and QUIT: $heard"
pass "open: exit 0, the greeting, EHLO and QUIT only, the summary"

# ---- open: JSON -----------------------------------------------------------------------
self_test --target "$TARGET" --self-test-port "$mx_port" --json
[[ $RC -eq 0 ]] || fail "open --json: exit $RC; stderr: $(cat "$ERR")"
jq -e --arg t "$TARGET" --argjson p "$mx_port" '
  .schema == "egress25.self-test/1"
  and .target == {name: $t, resolved_by: "literal", hosts: [$t], error: null}
  and .port == $p and .exit_status == 0 and .not_tested == []
  and .summary.blocked_by == "none" and (.summary.text | test("can open port"))
  and (.results | length == 1)
  and (.results[0] | .host == $t and .address == $t and .family == "ipv4" and .port == $p
       and .verdict == "open" and .location == "none" and .segment == null
       and .blocking_hop == null and .blocking_candidates == [] and .tested == true
       and .banner == "220 mx.destination.test ESMTP stub" and .reference_port == null
       and .evidence.attempt.ehlo_code == 250 and .evidence.attempt.quit_code == 221
       and .evidence.attempt.trace == null)' "$OUT" >/dev/null ||
  fail "open --json: not the documented document: $(cat "$OUT")"
pass "open --json: egress25.self-test/1 with the result"

# ---- refused: nothing listens on the port at the destination --------------------------
closed=$(free_port $((mx_port + 1)))
self_test --target "[$TARGET]" --self-test-port "$closed"
[[ $RC -eq 1 ]] || fail "refused: exit $RC, not 1; stdout: $(cat "$OUT"); stderr: $(cat "$ERR")"
grep -Eq "^  $TARGET \(IPv4\): not_listening at the destination$" "$OUT" ||
  fail "refused: no not_listening row: $(cat "$OUT")"
grep -q "refused port $closed at its own distance (hop 1" "$OUT" ||
  fail "refused: the reason does not place it: $(cat "$OUT")"
grep -q "$TARGET does not accept connections on port $closed from here" "$OUT" ||
  fail "refused: the summary does not blame the destination: $(cat "$OUT")"
! grep -qi "provider blocks" "$OUT" || fail "refused: the provider is blamed: $(cat "$OUT")"
self_test --target "[$TARGET]" --self-test-port "$closed" --json
[[ $RC -eq 1 ]] || fail "refused --json: exit $RC, not 1"
jq -e '.exit_status == 1 and .summary.blocked_by == "destination"
  and (.results[0] | .verdict == "not_listening" and .location == "destination"
       and .reference_port == 443 and (.evidence.references[0].port == 443)
       and (.evidence.attempt.trace.probed.hops[0].kind == "reset"))' "$OUT" >/dev/null ||
  fail "refused --json: $(jq -c '.results[0] | del(.evidence)' "$OUT")"
pass "refused: not_listening at the destination, traced beside port 443, exit 1"

# ---- nothing tested: no route at all (a network namespace of our own, loopback down) -----
if [[ $(id -u) -eq 0 ]] && unshare -n true 2>/dev/null; then
  unshare -n "$REFLECTOR" --self-test --target "[$TARGET]" >"$OUT" 2>"$ERR"
  RC=$?
  [[ $RC -eq 3 ]] || fail "no route: exit $RC, not 3; stdout: $(cat "$OUT"); stderr: $(cat "$ERR")"
  grep -Eq "^  $TARGET \(IPv4\): not tested$" "$OUT" || fail "no route: no 'not tested' row: $(cat "$OUT")"
  grep -q "Nothing could be tested: no connection to $TARGET left this host" "$OUT" ||
    fail "no route: the summary does not say so: $(cat "$OUT")"
  pass "no route: not tested, exit 3"
else
  skip_check "no route (exit 3): needs root for a network namespace of its own (unshare -n)"
fi

# ---- bad usage: exit 2, the reason, no report -----------------------------------------
expect_usage() { # TEXT ARG...
  local text=$1
  shift
  "$REFLECTOR" "$@" >"$OUT" 2>"$ERR"
  RC=$?
  [[ $RC -eq 2 ]] || fail "'$*': exit $RC, not 2"
  grep -q -- "$text" "$ERR" || fail "'$*': stderr does not say '$text': $(cat "$ERR")"
  [[ ! -s $OUT ]] || fail "'$*' printed a report: $(cat "$OUT")"
}
expect_usage "--self-test needs --target HOST" --self-test
expect_usage "--target needs --self-test" --target example.org
expect_usage "--json needs --self-test" --json
expect_usage "use --self-test-port" --self-test --target example.org:25
expect_usage "not a domain, a host name or \[IP\]" --self-test --target 'two words'
expect_usage "--self-test-port must be 1-65535" --self-test --target "[$TARGET]" --self-test-port 0
pass "bad usage: exit 2 with the reason, nothing on stdout"
