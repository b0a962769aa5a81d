#!/usr/bin/env bash
# Operating the reflector: SIGHUP reloads a renewed certificate (the next check pins the
# new fingerprint; a session in flight carries on), keeps the old identity when the new
# files are broken and says why, and applies changed limits from the config file; SIGTERM
# tells open SMTP sessions 421 before it exits; a closed stderr does not kill it
# (SIGPIPE); --log-format json and journal. And a connection closed to make room: a 421
# on SMTP, nothing at all on implicit TLS.
# Usage: reflector_operations.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY CLIENT_BINARY
REFLECTOR=$1
CTL=$2
CLIENT=$3
source "$(dirname "$0")/reflector_lib.sh"

# A fresh self-signed certificate and key for NAME, into FILE.crt and FILE.key.
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$1" -keyout "$2.key" -out "$2.crt" 2>/dev/null || fail "openssl could not make a certificate"
}
fingerprint_of() {
  openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}
hello_fingerprint() {
  "$CTL" "$CONTROL_PORT" hello >"$TEST_DIR/hello" || fail "HELLO: $(cat "$TEST_DIR/hello")"
  field fingerprint "$TEST_DIR/hello"
}
wait_log() {
  local i
  for i in $(seq 1 100); do
    grep -q -- "$1" "$REFLECTOR_LOG" && return 0
    sleep 0.1
  done
  fail "no log line matching '$1' within 10 s"
}

# ---- SIGHUP: a renewed certificate ------------------------------------------------------
make_cert first.test "$TEST_DIR/first"
make_cert second.test "$TEST_DIR/second"
cp "$TEST_DIR/first.crt" "$TEST_DIR/cert.pem"
cp "$TEST_DIR/first.key" "$TEST_DIR/key.pem"
# A reload reads the files as the user the reflector runs as (nobody, when the test runs
# as root): the key must be readable by it.
chmod 644 "$TEST_DIR"/*.key "$TEST_DIR"/*.pem
CONF="$TEST_DIR/reflector.conf"
printf 'cert = %s\nkey = %s\nmax-connections-per-address = 16\n' \
  "$TEST_DIR/cert.pem" "$TEST_DIR/key.pem" >"$CONF"
start_reflector --witness off --config "$CONF"
first=$(fingerprint_of "$TEST_DIR/first.crt")
second=$(fingerprint_of "$TEST_DIR/second.crt")
[[ $(hello_fingerprint) == "$first" ]] || fail "HELLO does not advertise the configured certificate"

# A session in flight when the reload comes: it is not dropped.
exec 4<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "cannot connect to $SMTP_PORT"
IFS= read -r -t 5 line <&4 || fail "no greeting"

# Renewed in place (as certbot does), then SIGHUP.
cp "$TEST_DIR/second.crt" "$TEST_DIR/cert.pem"
cp "$TEST_DIR/second.key" "$TEST_DIR/key.pem"
kill -HUP "$REFLECTOR_PID"
wait_log "reloaded: TLS certificate .*sha256 $first -> .*CN=second.test sha256 $second"
kill -0 "$REFLECTOR_PID" || fail "SIGHUP killed the reflector"
[[ $(hello_fingerprint) == "$second" ]] || fail "HELLO after SIGHUP does not advertise the new certificate"
printf 'EHLO in-flight.example\r\n' >&4
IFS= read -r -t 5 line <&4 || fail "the session in flight was dropped by the reload"
[[ $line == 250-* ]] || fail "the session in flight got '$line' after the reload"
exec 4<&-
pass "SIGHUP: the new certificate is advertised; a session in flight carries on"

# The next check pins the new fingerprint, and TLS shows it.
"$CLIENT" check --reflector "127.0.0.1:$CONTROL_PORT" --json --no-trace >"$TEST_DIR/check.json" \
  2>"$TEST_DIR/check.err" || fail "check after the reload: exit $?; $(cat "$TEST_DIR/check.err")"
jq -e --arg fp "$second" 'all(.probes[]; .verdict == "open"
    and .evidence.client.peer_cert_sha256 == $fp)' "$TEST_DIR/check.json" >/dev/null ||
  fail "the check after the reload: $(jq -c '[.probes[] | {port, verdict, fp: .evidence.client.peer_cert_sha256}]' "$TEST_DIR/check.json")"
pass "the next check pins and sees the new certificate"

# ---- SIGHUP: a broken certificate keeps the old identity, and says why --------------------
echo "not a certificate" >"$TEST_DIR/cert.pem"
kill -HUP "$REFLECTOR_PID"
wait_log "reload failed: cannot load certificate '$TEST_DIR/cert.pem'.*nothing changed, the TLS certificate .*sha256 $second stays"
kill -0 "$REFLECTOR_PID" || fail "a broken certificate killed the reflector"
[[ $(hello_fingerprint) == "$second" ]] || fail "a broken certificate changed the advertised identity"
timeout 10 openssl s_client -connect "127.0.0.1:$SMTPS_PORT" </dev/null 2>/dev/null |
  openssl x509 -outform DER 2>/dev/null | sha256sum | grep -q "^$second" ||
  fail "implicit TLS does not serve the kept certificate"
pass "SIGHUP with a broken certificate: the old identity stays, the log says why"

# ---- SIGHUP: limits from the config file --------------------------------------------------
cp "$TEST_DIR/second.crt" "$TEST_DIR/cert.pem"
printf 'cert = %s\nkey = %s\nmax-connections-per-address = 2\nshed-idle-after = 3600\n' \
  "$TEST_DIR/cert.pem" "$TEST_DIR/key.pem" >"$CONF"
kill -HUP "$REFLECTOR_PID"
wait_log "reloaded: limits: max-connections-per-address 16 -> 2, shed-idle-after 2 -> 3600"
exec 5<>"/dev/tcp/127.0.0.1/$SMTP_PORT" 6<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
IFS= read -r -t 5 line <&5 && IFS= read -r -t 5 line <&6 || fail "no greetings"
exec 7<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
IFS= read -r -t 5 line <&7 || fail "the third connection got nothing"
[[ $line == "421 4.7.0 reflector.test egress25-reflector too many connections from 127.0.0.1 (2), closing"* ]] ||
  fail "the third connection under the reloaded cap got '$line'"
exec 5<&- 6<&- 7<&-
pass "SIGHUP: a lowered limit applies to newcomers"

# ---- SIGTERM: 421 to the open SMTP sessions, then exit 0 ---------------------------------
# The cap is still 2 per address: until the reflector has seen the three connections above
# close, a new one gets 421 "too many connections". Retry until one is greeted (at most 5 s).
for i in $(seq 1 50); do
  exec 4<>"/dev/tcp/127.0.0.1/$SUBMISSION_PORT" || fail "cannot connect to $SUBMISSION_PORT"
  IFS= read -r -t 5 line <&4 || fail "no greeting"
  [[ $line == 220* ]] && break
  [[ $line == "421 4.7.0 "*"too many connections"* ]] || fail "a new session got '$line'"
  exec 4<&-
  sleep 0.1
done
[[ $line == 220* ]] || fail "no session greeted within 5 s of the others closing: '$line'"
kill -TERM "$REFLECTOR_PID"
IFS= read -r -t 5 line <&4 || fail "no 421 at SIGTERM"
[[ $line == "421 4.3.2 reflector.test egress25-reflector shutting down, closing"* ]] ||
  fail "at SIGTERM the open session got '$line'"
exec 4<&-
for i in $(seq 1 80); do kill -0 "$REFLECTOR_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$REFLECTOR_PID" 2>/dev/null && fail "the reflector did not exit within 8 s of SIGTERM"
wait "$REFLECTOR_PID"
rc=$?
[[ $rc -eq 0 ]] || fail "the reflector exited $rc after SIGTERM"
grep -q "\[info\] stopped" "$REFLECTOR_LOG" || fail "no 'stopped' line"
pass "SIGTERM: $line; exit 0"

# ---- SIGPIPE: stderr on a pipe whose reader has gone ----------------------------------------
OFFSET=$(pick_offset)
CONTROL_PORT=$((7025 + OFFSET))
SMTP_PORT=$((25 + OFFSET))
mkfifo "$TEST_DIR/pipe"
(head -c 1 <"$TEST_DIR/pipe" >/dev/null) &
"$REFLECTOR" --listen 127.0.0.1 --port-offset "$OFFSET" --witness off 2>"$TEST_DIR/pipe" &
REFLECTOR_PID=$!
REFLECTOR_PIDS+=("$REFLECTOR_PID")
wait_port 127.0.0.1 "$CONTROL_PORT" "$REFLECTOR_PID" || fail "the reflector with a dying stderr did not start"
for i in 1 2 3; do "$CTL" "$CONTROL_PORT" hello >/dev/null || fail "HELLO $i with stderr gone"; done
kill -0 "$REFLECTOR_PID" || fail "the reflector died when its stderr went away (SIGPIPE)"
pass "stderr closed under it: the reflector goes on serving"

# ---- --log-format json and journal ----------------------------------------------------------
REFLECTOR_DEFAULT_OPTIONS=(--witness off --log-format json)
start_reflector
"$CTL" "$CONTROL_PORT" hello >/dev/null || fail "HELLO (json log)"
wait_log '"message":"control 127.0.0.1'
jq -e -s 'length >= 3 and all(.[]; (.time | test("^[0-9-]+T[0-9:.]+Z$")) and (.level | type == "string")
          and (.priority | type == "number") and (.message | type == "string"))' \
  "$REFLECTOR_LOG" >/dev/null || fail "--log-format json: not one JSON object a line: $(head -n 3 "$REFLECTOR_LOG")"
pass "--log-format json: $(tail -n 1 "$REFLECTOR_LOG" | head -c 160)"

REFLECTOR_DEFAULT_OPTIONS=(--witness off --log-format journal)
start_reflector
grep -q '^<6>listening on ' "$REFLECTOR_LOG" || fail "--log-format journal: $(head -n 3 "$REFLECTOR_LOG")"
pass "--log-format journal: $(head -n 1 "$REFLECTOR_LOG" | head -c 100)"

# ---- Making room: the idle connection goes, with a 421 on SMTP and nothing on TLS ------------
REFLECTOR_DEFAULT_OPTIONS=(--witness off --max-connections-per-address 1 --shed-idle-after 1)
start_reflector
for port in "$SMTP_PORT" "$SMTPS_PORT"; do
  exec 4<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to $port"
  [[ $port == "$SMTP_PORT" ]] && { IFS= read -r -t 5 line <&4 || fail "no greeting"; }
  sleep 1.5  # idle past --shed-idle-after
  exec 5<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to $port again"
  rest=$(timeout 5 cat <&4) || fail "the idle connection to $port was not closed"
  if [[ $port == "$SMTP_PORT" ]]; then
    [[ $rest == "421 4.7.0 reflector.test egress25-reflector busy: idle connection closed to serve others"* ]] ||
      fail "the idle SMTP connection was told '$rest'"
    IFS= read -r -t 5 line <&5 || fail "the newcomer got no greeting"
    [[ $line == 220* ]] || fail "the newcomer got '$line'"
  else
    [[ -z $rest ]] || fail "the idle implicit-TLS connection was sent plaintext: $rest"
  fi
  exec 4<&- 5<&-
  sleep 0.2
done
pass "an idle connection makes room for a newcomer from its address: a 421 on SMTP, nothing on TLS"
