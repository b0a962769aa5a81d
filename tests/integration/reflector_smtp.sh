#!/usr/bin/env bash
# Real SMTP clients from Debian against the reflector: openssl s_client (STARTTLS and
# implicit TLS) and swaks (STARTTLS, implicit TLS, and a mail that must be refused);
# the control service must report each tagged dialogue exactly as it happened.
# Usage: reflector_smtp.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY
REFLECTOR=$1
CTL=$2
source "$(dirname "$0")/reflector_lib.sh"

start_reflector --witness off --log-level debug

"$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/hello" || fail "HELLO failed: $(cat "$TEST_DIR/hello")"
TOKEN=$(field token "$TEST_DIR/hello")
PROBE_ID=$(field probe_id "$TEST_DIR/hello")
FINGERPRINT=$(field fingerprint "$TEST_DIR/hello")
[[ -n "$TOKEN" && -n "$PROBE_ID" ]] || fail "HELLO gave no token/probe_id"
name() { echo "p$1-$PROBE_ID.egress25.invalid"; }

# openssl s_client -starttls smtp: handshake completes, EHLO inside TLS works, and the
# certificate is the one whose fingerprint HELLO advertised.
printf 'EHLO %s\nQUIT\n' "$(name 0)" |
  timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" \
    -name "$(name 0)" -servername "$(name 0)" -crlf -ign_eof -showcerts \
    >"$TEST_DIR/s_client" 2>&1 || fail "openssl s_client -starttls smtp: $(cat "$TEST_DIR/s_client")"
grep -q "^250-reflector.test Hello $(name 0) \[127.0.0.1\]" "$TEST_DIR/s_client" ||
  fail "no EHLO reply inside TLS: $(cat "$TEST_DIR/s_client")"
grep -q "^221 " "$TEST_DIR/s_client" || fail "no 221 to QUIT inside TLS"
seen=$(openssl x509 -in "$TEST_DIR/s_client" -outform DER | sha256sum | cut -d' ' -f1)
[[ "$seen" == "$FINGERPRINT" ]] || fail "certificate sha256 $seen, HELLO said $FINGERPRINT"
pass "openssl s_client -starttls smtp, certificate matches the advertised fingerprint"

# Implicit TLS (RFC 8314) on the smtps port.
printf 'EHLO %s\nQUIT\n' "$(name 1)" |
  timeout 20 openssl s_client -connect "127.0.0.1:$SMTPS_PORT" -servername "$(name 1)" \
    -crlf -ign_eof >"$TEST_DIR/s_client_tls" 2>&1 ||
  fail "openssl s_client (implicit TLS): $(cat "$TEST_DIR/s_client_tls")"
grep -q "^220 reflector.test ESMTP egress25-reflector .*mail is never accepted" \
  "$TEST_DIR/s_client_tls" || fail "no greeting inside implicit TLS"
grep -q "^250 ENHANCEDSTATUSCODES" "$TEST_DIR/s_client_tls" || fail "no EHLO reply on smtps"
if grep -q "STARTTLS" "$TEST_DIR/s_client_tls"; then fail "STARTTLS offered inside TLS"; fi
pass "openssl s_client implicit TLS on $SMTPS_PORT"

# swaks: STARTTLS on submission, implicit TLS on smtps.
timeout 20 swaks --server "127.0.0.1:$SUBMISSION_PORT" --tls --quit-after EHLO \
  --helo "$(name 2)" >"$TEST_DIR/swaks_tls" 2>&1 || fail "swaks --tls: $(cat "$TEST_DIR/swaks_tls")"
grep -q "=== TLS started" "$TEST_DIR/swaks_tls" || fail "swaks did not start TLS"
grep -q "<~  250 ENHANCEDSTATUSCODES" "$TEST_DIR/swaks_tls" || fail "swaks: no EHLO after TLS"
timeout 20 swaks --server "127.0.0.1:$SMTPS_PORT" --tls-on-connect --quit-after EHLO \
  --helo "$(name 3)" >"$TEST_DIR/swaks_tlsc" 2>&1 || fail "swaks --tlsc: $(cat "$TEST_DIR/swaks_tlsc")"
pass "swaks --tls and --tls-on-connect"

# swaks sending mail: refused permanently, saying why; swaks exits non-zero.
timeout 20 swaks --server "127.0.0.1:$SMTP_PORT" --helo "$(name 4)" \
  --from sender@example.com --to rcpt@example.com >"$TEST_DIR/swaks_mail" 2>&1
rc=$?
[[ $rc -ne 0 ]] || fail "swaks sending mail exited 0"
grep -q "<\*\* 550 5.7.1 egress25 diagnostic reflector: mail is never accepted" \
  "$TEST_DIR/swaks_mail" || fail "no 5xx refusal: $(cat "$TEST_DIR/swaks_mail")"
pass "swaks mail refused (exit $rc)"

# An untagged connection from the client's address, and one of another session's
# tag that does not exist: both count as untagged, metadata only.
timeout 20 swaks --server "127.0.0.1:$SMTP_PORT" --helo untagged.example --quit-after EHLO \
  >/dev/null 2>&1 || fail "swaks untagged"

# REPORT: every tagged dialogue, byte for byte, with where the tag was seen.
"$CTL" "$CONTROL_PORT" report "$TOKEN" >"$TEST_DIR/report" || fail "REPORT: $(cat "$TEST_DIR/report")"
conn() { grep "^connection tag=p$1-$PROBE_ID " "$TEST_DIR/report"; }
c=$(conn 0) || fail "no record of the s_client STARTTLS probe: $(cat "$TEST_DIR/report")"
[[ "$c" == *" port=$SMTP_PORT kind=smtp family=ipv4 peer=127.0.0.1 seen_in=ehlo,sni,ehlo_after_starttls tls=TLSv1."*" sni=$(name 0) end=quit"* ]] ||
  fail "s_client STARTTLS record: $c"
c=$(conn 1) || fail "no record of the implicit-TLS probe"
[[ "$c" == *" port=$SMTPS_PORT kind=smtps "*" seen_in=sni,ehlo "* ]] || fail "implicit TLS record: $c"
c=$(conn 2) || fail "no record of swaks --tls"
[[ "$c" == *" seen_in=ehlo,ehlo_after_starttls "*" end=quit"* ]] || fail "swaks --tls record: $c"
c=$(conn 4) || fail "no record of the refused mail"
grep -A4 "^connection tag=p4-$PROBE_ID " "$TEST_DIR/report" | grep -q '^plain_to_server=.*MAIL FROM:<sender@example.com>' ||
  fail "the MAIL command is not in the transcript"
grep -A4 "^connection tag=p4-$PROBE_ID " "$TEST_DIR/report" | grep -q '^plain_to_client=220 reflector.test ESMTP egress25-reflector .*550 5.7.1 .*221 2.0.0' ||
  fail "the replies are not in the transcript"
grep -q "^untagged peer=127.0.0.1 port=$SMTP_PORT" "$TEST_DIR/report" ||
  fail "the untagged connection is not reported: $(cat "$TEST_DIR/report")"
[[ $(grep -c "^connection " "$TEST_DIR/report") -eq 5 ]] || fail "REPORT does not hold 5 tagged connections"
pass "REPORT holds every tagged dialogue with its transcript, and the untagged one"

# Raw dialogue: unknown commands, an over-long line, and STARTTLS command injection
# (RFC 3207 5: plaintext pipelined after STARTTLS must be discarded, not answered).
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "smtp port not accepting"
long=$(head -c 1200 /dev/zero | tr '\0' 'A')
# One write(2), so STARTTLS and the NOOP behind it arrive together (bash's printf may
# write line by line; cat writes its whole buffer at once).
printf 'EHLO raw.example\r\nFROBNICATE\r\nNOOP %s\r\nSTARTTLS\r\nNOOP\r\n' "$long" \
  >"$TEST_DIR/raw_input"
cat "$TEST_DIR/raw_input" >&3
replies=()
while IFS= read -r -t 5 line <&3; do
  replies+=("${line%$'\r'}")
  [[ "$line" == 220\ 2.0.0* ]] && break
done
exec 3<&-
printf '%s\n' "${replies[@]}" >"$TEST_DIR/raw"
grep -q "^500 5.5.2 command not recognized" "$TEST_DIR/raw" || fail "unknown command: $(cat "$TEST_DIR/raw")"
grep -q "^500 5.5.2 line too long" "$TEST_DIR/raw" || fail "over-long line: $(cat "$TEST_DIR/raw")"
grep -q "^220 2.0.0 Ready to start TLS" "$TEST_DIR/raw" || fail "no STARTTLS go-ahead"
# The NOOP pipelined after STARTTLS is dropped, not answered: the reflector logs it, and
# the connection (closed by us instead of a handshake) ends in the TLS step.
wait_for_log() {
  local i
  for i in $(seq 1 50); do
    grep -q "$1" "$REFLECTOR_LOG" && return 0
    sleep 0.1
  done
  return 1
}
wait_for_log "smtp 127.0.0.1:[0-9]* -> 127.0.0.1:$SMTP_PORT (smtp) tag=- tls=- .* end=tls failed" ||
  fail "the injected connection did not end in the TLS handshake"
grep -q "dropped 6 bytes sent after STARTTLS" "$REFLECTOR_LOG" ||
  fail "the plaintext after STARTTLS was not discarded"
pass "raw dialogue: 500 for unknown and over-long, plaintext after STARTTLS discarded"

# A session that never ends: after limits::max_smtp_commands (50) commands, 421 and close.
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "smtp port not accepting"
for i in $(seq 1 60); do printf 'NOOP\r\n'; done >&3
timeout 10 cat <&3 >"$TEST_DIR/many" || fail "the reflector did not close a session of 60 commands"
exec 3<&-
[[ $(grep -c "^250 2.0.0 OK" "$TEST_DIR/many") -eq 50 ]] || fail "not 50 NOOPs answered"
grep -q "^421 4.7.0 reflector.test too many commands, closing" "$TEST_DIR/many" ||
  fail "no 421 after too many commands: $(tail -3 "$TEST_DIR/many")"
pass "421 and close after 50 commands"
