#!/usr/bin/env bash
# The reflector's own refusals (issue 11): a source over the per-source connection cap is
# told so, in words a client recognises as the reflector's: a 421 with the banner identity
# on SMTP, nothing on implicit TLS, a busy error frame on the control port. REPORT lists
# the refusals of the session's address, untagged connections say how they ended, and the
# log counts refusals rather than writing a line for each.
# Usage: reflector_refusals.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY
REFLECTOR=$1
CTL=$2
source "$(dirname "$0")/reflector_lib.sh"

PER_SOURCE=16 # limits::max_concurrent_per_address
EXTRA=30      # refused connections beyond the first, to see the log count them
IDENTITY=egress25-reflector

# Refusals at the cap, when nothing can make room: an idle connection never gives its
# place to a newcomer from its own address here (reflector_abuse.sh tests that it does).
start_reflector --witness off --shed-idle-after 3600

# Opens a connection to PORT on 127.0.0.1 and stores its descriptor in the named variable.
open_to() {
  local -n fd_out=$1
  exec {fd_out}<>"/dev/tcp/127.0.0.1/$2" || fail "cannot connect to port $2"
}

refusal_lines() { grep -c "\[warning\] refused" "$REFLECTOR_LOG"; }

# ---- control port: the 17th connection from one address gets a busy frame ------------
# Connections are accepted in the order they were made, so with PER_SOURCE idle ones
# open, the next one from this address is over the cap.
control_fds=()
for i in $(seq 1 $PER_SOURCE); do
  open_to fd "$CONTROL_PORT"
  control_fds+=("$fd")
done
"$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/busy"
rc=$?
[[ $rc -eq 1 ]] || fail "control connection $((PER_SOURCE + 1)) exited $rc: $(cat "$TEST_DIR/busy")"
grep -q "^error=busy .*own limits: too many connections from 127.0.0.1 ($PER_SOURCE)" \
  "$TEST_DIR/busy" || fail "control connection $((PER_SOURCE + 1)): $(cat "$TEST_DIR/busy")"
pass "control connection $((PER_SOURCE + 1)) from one address: $(cat "$TEST_DIR/busy")"
for fd in "${control_fds[@]}"; do exec {fd}<&-; done

# The idle connections close; a HELLO is served again once their slots are free (each
# refused try before then is one more refusal, made before the session began).
for i in $(seq 1 100); do
  "$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/hello" && break
  grep -q "^error=busy" "$TEST_DIR/hello" || fail "HELLO: $(cat "$TEST_DIR/hello")"
  sleep 0.1
done
TOKEN=$(field token "$TEST_DIR/hello")
[[ -n "$TOKEN" ]] || fail "no HELLO served after the control connections closed"
[[ "$(field banner_identity "$TEST_DIR/hello")" == "$IDENTITY" ]] || fail "banner identity"

# ---- SMTP: a 421 with the banner identity in place of the greeting ----------------------
smtp_fds=()
for i in $(seq 1 $PER_SOURCE); do
  open_to fd "$SMTP_PORT"
  # The greeting proves the connection holds its slot.
  IFS= read -r -t 10 line <&"$fd" || fail "no greeting on idle connection $i"
  [[ "$line" == "220 reflector.test ESMTP $IDENTITY "* ]] || fail "greeting $i: $line"
  smtp_fds+=("$fd")
done
lines_before=$(refusal_lines)

expect_421() {
  local fd line rest
  open_to fd "$SMTP_PORT"
  IFS= read -r -t 10 line <&"$fd" || fail "refused connection $1: no reply"
  line=${line%$'\r'}
  [[ "$line" == "421 4.7.0 reflector.test $IDENTITY too many connections from 127.0.0.1 ($PER_SOURCE), closing" ]] ||
    fail "refused connection $1 said: $line"
  # Then the reflector closes: end of file, nothing more.
  rest=$(timeout 10 cat <&"$fd") || fail "refused connection $1 was not closed"
  [[ -z "$rest" ]] || fail "refused connection $1: more after the 421: $rest"
  exec {fd}<&-
  REPLY_421=$line
}
expect_421 1
pass "SMTP connection $((PER_SOURCE + 1)): $REPLY_421"
for i in $(seq 2 $((EXTRA + 1))); do expect_421 "$i"; done
pass "$EXTRA more refused the same way"

# The cap is shared by the mail ports; on implicit TLS nothing plaintext is said.
open_to fd "$SMTPS_PORT"
rest=$(timeout 10 cat <&"$fd") || fail "refused smtps connection was not closed"
[[ -z "$rest" ]] || fail "refused smtps connection was sent bytes: $rest"
exec {fd}<&-
pass "implicit TLS over the cap: closed without a word"

# Not one log line per refused connection.
lines_after=$(refusal_lines)
[[ $((lines_after - lines_before)) -le 2 ]] ||
  fail "$((lines_after - lines_before)) refusal lines for $((EXTRA + 2)) refused connections"
pass "log: $((lines_after - lines_before)) new refusal line(s) for $((EXTRA + 2)) refused connections"

# ---- REPORT: the session's refusals, and how its untagged connections ended --------------
"$CTL" "$CONTROL_PORT" report "$TOKEN" >"$TEST_DIR/report" || fail "REPORT: $(cat "$TEST_DIR/report")"
grep -q "^refused peer=127.0.0.1 port=$SMTP_PORT family=ipv4 count=$((EXTRA + 1)) .* reason=too many connections from 127.0.0.1 ($PER_SOURCE)$" \
  "$TEST_DIR/report" || fail "REPORT refusals on $SMTP_PORT: $(grep '^refused' "$TEST_DIR/report")"
grep -q "^refused peer=127.0.0.1 port=$SMTPS_PORT family=ipv4 count=1 " "$TEST_DIR/report" ||
  fail "REPORT refusals on $SMTPS_PORT: $(grep '^refused' "$TEST_DIR/report")"
# The control refusals came before the session began: not this session's.
if grep -q "^refused .* port=$CONTROL_PORT " "$TEST_DIR/report"; then
  fail "REPORT lists refusals from before the session: $(grep '^refused' "$TEST_DIR/report")"
fi
[[ $(grep -c "^untagged peer=127.0.0.1 port=$SMTP_PORT end=-$" "$TEST_DIR/report") -eq $PER_SOURCE ]] ||
  fail "REPORT: the $PER_SOURCE open connections: $(grep '^untagged' "$TEST_DIR/report")"
pass "REPORT: $(grep '^refused' "$TEST_DIR/report" | tr '\n' ';')"

# The idle connections close: each untagged record then says how it ended.
for fd in "${smtp_fds[@]}"; do exec {fd}<&-; done
for i in $(seq 1 100); do
  "$CTL" "$CONTROL_PORT" report "$TOKEN" >"$TEST_DIR/report2" || fail "REPORT: $(cat "$TEST_DIR/report2")"
  [[ $(grep -c "^untagged peer=127.0.0.1 port=$SMTP_PORT end=peer closed$" "$TEST_DIR/report2") -eq $PER_SOURCE ]] &&
    break
  sleep 0.1
done
[[ $(grep -c "^untagged .* end=peer closed$" "$TEST_DIR/report2") -eq $PER_SOURCE ]] ||
  fail "untagged connections after they closed: $(grep '^untagged' "$TEST_DIR/report2")"
pass "untagged connections say how they ended (peer closed)"

# The refusals that waited are told with their count once the log interval is over
# (limits::refusal_log_interval, 10 s).
for i in $(seq 1 300); do
  grep -q "\[warning\] refused [0-9,]* connections from 127.0.0.1 to ports\? .* in the last [0-9]* s: too many connections from 127.0.0.1 ($PER_SOURCE)" \
    "$REFLECTOR_LOG" && break
  kill -0 "$REFLECTOR_PID" || fail "the reflector died"
  sleep 0.1
done
summary=$(grep "\[warning\] refused [0-9,]* connections from 127.0.0.1" "$REFLECTOR_LOG" | tail -n1)
[[ -n "$summary" ]] || fail "no counted refusal line within 30 s"
pass "log: ${summary#*\] }"
[[ $(refusal_lines) -le 4 ]] || fail "$(refusal_lines) refusal lines in all"

kill -0 "$REFLECTOR_PID" || fail "the reflector died"
