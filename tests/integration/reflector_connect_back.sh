#!/usr/bin/env bash
# Connect-back (check --inbound) on loopback: the reflector connects back to the control
# connection's own address, and to nobody else whatever the request says; it speaks
# EHLO and QUIT to a real server (smtp-sink) there; a port outside 25/465/587 (shifted by
# the port offset) is refused, each port is connected back once per family and session,
# the log names each connect-back, and --connect-back off refuses the request.
# 127.0.0.2 plays the client, 127.0.0.3 a third party with a listener that records every
# connection it gets.
# Usage: reflector_connect_back.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY
REFLECTOR=$1
CTL=$2
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
source "$(dirname "$0")/reflector_lib.sh"

[[ -x "$SMTP_SINK" ]] || { echo "skip: no $SMTP_SINK"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
(exec 3<>/dev/tcp/127.0.0.2/9) 2>&1 | grep -q "refused" ||
  { echo "skip: 127.0.0.2 is not a loopback address here"; exit 77; }

start_reflector
CLIENT=127.0.0.2 THIRD=127.0.0.3

# The client's mail server, and a third party's listener on the same port.
sink_user=()
[[ $(id -u) -eq 0 ]] && sink_user=(-u nobody)
"$SMTP_SINK" "${sink_user[@]}" -h mx.client.test "$CLIENT:$SMTP_PORT" 10 >"$TEST_DIR/sink.log" 2>&1 &
REFLECTOR_PIDS+=("$!")
wait_port "$CLIENT" "$SMTP_PORT" "$!" || fail "smtp-sink did not start: $(cat "$TEST_DIR/sink.log")"
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
open(sys.argv[4], "w").close()
while True:
    c, a = s.accept()
    with open(sys.argv[3], "a") as f:
        f.write("connection from %s\n" % (a[0],))
    c.sendall(b"220 third.test ESMTP\r\n")
    c.close()
' "$THIRD" "$SMTP_PORT" "$TEST_DIR/third.log" "$TEST_DIR/third.ready" &
REFLECTOR_PIDS+=("$!")
# It says when it listens (no probe connection of ours may reach its log): a bounded poll.
for _ in $(seq 1 100); do [[ -e "$TEST_DIR/third.ready" ]] && break; sleep 0.1; done
[[ -e "$TEST_DIR/third.ready" ]] || fail "the third party's listener did not start"

ctl() { REFLECTOR_CTL_BIND=$1 "$CTL" "$CONTROL_PORT" "${@:2}"; }

ctl "$CLIENT" hello >"$TEST_DIR/hello" || fail "HELLO: $(cat "$TEST_DIR/hello")"
TOKEN=$(field token "$TEST_DIR/hello")
[[ $(field client_address "$TEST_DIR/hello") == "$CLIENT" ]] || fail "HELLO did not come from $CLIENT"

# The mail port and two that are not mail ports; nothing listens on the client's 465.
ctl "$CLIENT" connect-back "$TOKEN" "$SMTP_PORT,$SMTPS_PORT,22,$CONTROL_PORT" 40123 \
  >"$TEST_DIR/cb" || fail "CONNECT_BACK: $(cat "$TEST_DIR/cb")"
grep -q "^attempt port=$SMTP_PORT to=$CLIENT connect=connected banner=220 ehlo=250 quit=221 end=completed .*mx.client.test" \
  "$TEST_DIR/cb" || fail "no EHLO/QUIT with the client's server: $(cat "$TEST_DIR/cb")"
grep -q "^attempt port=$SMTPS_PORT to=$CLIENT connect=refused .* trace=yes" "$TEST_DIR/cb" ||
  fail "the refused 465 was not reported with a trace: $(cat "$TEST_DIR/cb")"
for p in 22 "$CONTROL_PORT"; do
  grep -q "^refused port=$p reason=not a mail port" "$TEST_DIR/cb" || fail "port $p not refused: $(cat "$TEST_DIR/cb")"
done
[[ $(grep -c '^attempt' "$TEST_DIR/cb") == 2 ]] || fail "more than the two mail ports tried: $(cat "$TEST_DIR/cb")"
pass "connect-back: banner, EHLO, QUIT on the mail port, refusal on 465, other ports refused"

# What the client's server heard: EHLO with the reflector's name, then QUIT, nothing else.
grep -q "connect-back to $CLIENT:$SMTP_PORT (session .*): banner \"220 mx.client.test" \
  "$REFLECTOR_LOG" || fail "the log does not name the connect-back to $CLIENT:$SMTP_PORT"
grep -q "connect-back to $CLIENT:$SMTPS_PORT (session .*): refused" "$REFLECTOR_LOG" ||
  fail "the log does not name the connect-back to $CLIENT:$SMTPS_PORT"
pass "the log names each connect-back"

# Once per port and family and session.
ctl "$CLIENT" connect-back "$TOKEN" "$SMTP_PORT" >"$TEST_DIR/cb2" || fail "second CONNECT_BACK: $(cat "$TEST_DIR/cb2")"
grep -q "^refused port=$SMTP_PORT reason=already connected back" "$TEST_DIR/cb2" ||
  fail "the second connect-back to $SMTP_PORT was not refused: $(cat "$TEST_DIR/cb2")"
! grep -q '^attempt' "$TEST_DIR/cb2" || fail "connected back twice: $(cat "$TEST_DIR/cb2")"
pass "each port once per family and session"

# Trying to aim it at the third party. (1) A request that names an address: the field
# means nothing, the connect-back goes to the requester.
ctl "$CLIENT" hello >"$TEST_DIR/hello2" || fail "HELLO 2"
TOKEN2=$(field token "$TEST_DIR/hello2")
ctl "$CLIENT" raw "{\"v\":1,\"type\":\"connect_back\",\"token\":\"$TOKEN2\",\"ports\":[$SMTP_PORT],\"address\":\"$THIRD\",\"host\":\"$THIRD\",\"target\":\"$THIRD\"}" \
  >"$TEST_DIR/cb3" || fail "CONNECT_BACK naming an address: $(cat "$TEST_DIR/cb3")"
grep -q "^attempt port=$SMTP_PORT to=$CLIENT " "$TEST_DIR/cb3" ||
  fail "the connect-back did not go to the requester: $(cat "$TEST_DIR/cb3")"
# (2) The token from another address: refused, nothing connected.
ctl "$CLIENT" hello >"$TEST_DIR/hello3" || fail "HELLO 3"
TOKEN3=$(field token "$TEST_DIR/hello3")
ctl "$THIRD" connect-back "$TOKEN3" "$SMTP_PORT" >"$TEST_DIR/cb4"
[[ $? -eq 1 ]] && grep -q "^error=forbidden .*not the session's address" "$TEST_DIR/cb4" ||
  fail "a token used from $THIRD was not refused: $(cat "$TEST_DIR/cb4")"
# (3) The same over IPv6 would need the session joined over IPv6; here it stays IPv4.
[[ ! -s "$TEST_DIR/third.log" ]] || fail "the third party was connected to: $(cat "$TEST_DIR/third.log")"
pass "no request makes the reflector connect to $THIRD"

# The operator's switch.
kill "$REFLECTOR_PID" && wait "$REFLECTOR_PID" 2>/dev/null
start_reflector --connect-back off
ctl "$CLIENT" hello >"$TEST_DIR/hello4" || fail "HELLO 4"
ctl "$CLIENT" connect-back "$(field token "$TEST_DIR/hello4")" "$SMTP_PORT" >"$TEST_DIR/cb5"
[[ $? -eq 1 ]] && grep -q "^error=forbidden .*--connect-back off" "$TEST_DIR/cb5" ||
  fail "--connect-back off did not refuse: $(cat "$TEST_DIR/cb5")"
grep -q "connect-back off" "$REFLECTOR_LOG" || fail "the start-up line does not say connect-back off"
[[ ! -s "$TEST_DIR/third.log" ]] || fail "the third party was connected to: $(cat "$TEST_DIR/third.log")"
pass "--connect-back off refuses"
