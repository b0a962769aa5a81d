#!/usr/bin/env bash
# The control service: malformed frames get an error frame and a close and the daemon
# keeps serving; tokens and secrets guard REPORT and HELLO; HELLO over the second
# family joins the session.
# Usage: reflector_control.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY
REFLECTOR=$1
CTL=$2
source "$(dirname "$0")/reflector_lib.sh"

have_ipv6=0
if [[ -r /proc/net/if_inet6 ]] && grep -q "^0\{31\}1 " /proc/net/if_inet6; then have_ipv6=1; fi
listen6=()
[[ $have_ipv6 -eq 1 ]] && listen6=(--listen ::1)
start_reflector "${listen6[@]}"

# Someone speaks SMTP to the control port: "EHLO" read as a length is far over the cap.
# The answer is one error frame, then the reflector closes.
exec 3<>"/dev/tcp/127.0.0.1/$CONTROL_PORT" || fail "control port not accepting"
printf 'EHLO x\r\n' >&3
timeout 10 cat <&3 >"$TEST_DIR/error_frame" || fail "the reflector did not close after a bad frame"
exec 3<&-
size=$(stat -c %s "$TEST_DIR/error_frame")
[[ $size -gt 4 ]] || fail "no error frame (got $size bytes)"
declared=$((16#$(head -c 4 "$TEST_DIR/error_frame" | od -An -tx1 | tr -d ' \n')))
[[ $declared -eq $((size - 4)) ]] || fail "error frame declares $declared bytes, carries $((size - 4))"
tail -c +5 "$TEST_DIR/error_frame" | grep -q "too_large" ||
  fail "error frame does not say too_large: $(tail -c +5 "$TEST_DIR/error_frame")"
pass "malformed frame: error frame ($(tail -c +5 "$TEST_DIR/error_frame")), then close"

# A well-framed payload that is not JSON: malformed.
exec 3<>"/dev/tcp/127.0.0.1/$CONTROL_PORT"
printf '\x00\x00\x00\x05hello' >&3
timeout 10 cat <&3 >"$TEST_DIR/error_frame2" || fail "no close after a non-JSON frame"
exec 3<&-
tail -c +5 "$TEST_DIR/error_frame2" | grep -q "malformed" || fail "non-JSON frame not called malformed"
pass "non-JSON frame: malformed"

# The daemon still serves: a real HELLO.
"$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/hello" || fail "HELLO after bad frames: $(cat "$TEST_DIR/hello")"
TOKEN=$(field token "$TEST_DIR/hello")
[[ "$TOKEN" =~ ^[0-9a-f]{32,}$ ]] || fail "token '$TOKEN' is not ≥128 bits of hex"
[[ "$(field probe_id "$TEST_DIR/hello")" =~ ^[0-9a-f]{24,}$ ]] || fail "probe_id not hex"
[[ "$(field probe_id "$TEST_DIR/hello")" != "$TOKEN" ]] || fail "probe_id equals the token"
[[ "$(field client_address "$TEST_DIR/hello")" == 127.0.0.1 ]] || fail "client address wrong"
[[ "$(field banner_identity "$TEST_DIR/hello")" == egress25-reflector ]] || fail "banner identity"
[[ "$(field fingerprint "$TEST_DIR/hello")" =~ ^[0-9a-f]{64}$ ]] || fail "fingerprint not sha256 hex"
[[ -n "$(field witness "$TEST_DIR/hello")" ]] || fail "no witness status"
for s in "$SMTP_PORT/smtp" "$SUBMISSION_PORT/smtp" "$SMTPS_PORT/smtps"; do
  grep -qx "service=$s" "$TEST_DIR/hello" || fail "service $s not advertised"
done
pass "HELLO after bad frames: token, probe_id, address, services, fingerprint"

# Two sessions never share a token.
"$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/hello2" || fail "second HELLO"
[[ "$(field token "$TEST_DIR/hello2")" != "$TOKEN" ]] || fail "two HELLOs got the same token"

# REPORT with a token that was never issued: unknown_token, nothing else.
"$CTL" "$CONTROL_PORT" report 00112233445566778899aabbccddeeff >"$TEST_DIR/bad_report"
[[ $? -eq 1 ]] || fail "REPORT with a wrong token did not fail"
grep -q "^error=unknown_token" "$TEST_DIR/bad_report" || fail "wrong token: $(cat "$TEST_DIR/bad_report")"
pass "REPORT with a wrong token: unknown_token"

# HELLO over IPv6 with the token joins the session: REPORT knows both addresses.
if [[ $have_ipv6 -eq 1 ]]; then
  REFLECTOR_CTL_HOST=::1 "$CTL" "$CONTROL_PORT" hello --token "$TOKEN" >"$TEST_DIR/join" ||
    fail "joining HELLO over IPv6: $(cat "$TEST_DIR/join")"
  [[ "$(field token "$TEST_DIR/join")" == "$TOKEN" ]] || fail "join returned another token"
  [[ "$(field family "$TEST_DIR/join")" == ipv6 ]] || fail "join not seen as ipv6"
  "$CTL" "$CONTROL_PORT" report "$TOKEN" >"$TEST_DIR/report" || fail "REPORT after join"
  grep -qx "public_ipv4=127.0.0.1" "$TEST_DIR/report" || fail "REPORT lost the IPv4 address"
  grep -qx "public_ipv6=::1" "$TEST_DIR/report" || fail "REPORT lacks the IPv6 address"
  pass "HELLO with the token over IPv6 joins the session"
else
  skip_check "HELLO joining over IPv6: no ::1 here"
fi

# The daemon is still alive after all of it.
kill -0 "$REFLECTOR_PID" || fail "the reflector died"

# A private reflector: HELLO without the secret, or with a wrong one, is forbidden.
printf 'correct horse\n' >"$TEST_DIR/secret"
chmod 644 "$TEST_DIR/secret"
start_reflector --witness off --secret-file "$TEST_DIR/secret"
"$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/nosecret"
grep -q "^error=forbidden" "$TEST_DIR/nosecret" || fail "HELLO without secret: $(cat "$TEST_DIR/nosecret")"
"$CTL" "$CONTROL_PORT" hello --secret "wrong horse" >"$TEST_DIR/wrongsecret"
grep -q "^error=forbidden" "$TEST_DIR/wrongsecret" || fail "HELLO with a wrong secret was served"
"$CTL" "$CONTROL_PORT" hello --secret "correct horse" >"$TEST_DIR/goodsecret" ||
  fail "HELLO with the secret: $(cat "$TEST_DIR/goodsecret")"
pass "secret: missing and wrong are forbidden, right is served"
