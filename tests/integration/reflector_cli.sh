#!/usr/bin/env bash
# The reflector's command line: --help, --version, bad usage, config file, and the
# start-up error for a port that cannot be bound.
# Usage: reflector_cli.sh REFLECTOR_BINARY REFLECTOR_CTL_BINARY
REFLECTOR=$1
CTL=$2
source "$(dirname "$0")/reflector_lib.sh"

# --help and --version exit 0 and say what they should.
out=$("$REFLECTOR" --help) || fail "--help exited $?"
grep -q -- "--port-offset" <<<"$out" || fail "--help does not list --port-offset"
grep -q -- "--secret-file" <<<"$out" || fail "--help does not list --secret-file"
pass "--help"
out=$("$REFLECTOR" --version) || fail "--version exited $?"
[[ "$out" =~ ^egress25-reflector\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$out'"
pass "--version"

# Bad usage: a message, a hint, exit 2.
expect_usage_error() {
  local expect=$1
  shift
  local err rc
  err=$("$REFLECTOR" "$@" 2>&1 >/dev/null)
  rc=$?
  [[ $rc -eq 2 ]] || fail "'$*' exited $rc, not 2"
  grep -q -- "$expect" <<<"$err" || fail "'$*' said '$err', not '$expect'"
  grep -q -- "--help" <<<"$err" || fail "'$*' gave no usage hint: '$err'"
}
expect_usage_error "unrecognised option" --no-such-option
expect_usage_error "auto, on, off" --witness sometimes
expect_usage_error "not a port number" --smtp-ports 25,x
expect_usage_error "above 65535" --port-offset 65000
expect_usage_error "go together" --cert /nonexistent
expect_usage_error "cannot read config file" --config /nonexistent/reflector.conf
pass "bad usage exits 2 with a hint"

# A config file with the same option names as the command line.
start_reflector --witness off
CONF="$TEST_DIR/reflector.conf"
conf_offset=$((OFFSET + 1))
cat >"$CONF" <<CONF
# egress25-reflector test configuration
listen = 127.0.0.1
smtp-ports = 2525
tls-ports = 4650
control-port = 7026
port-offset = $conf_offset
witness = off
hostname = from-config.test
CONF
"$REFLECTOR" --config "$CONF" >"$TEST_DIR/conf.log" 2>&1 &
conf_pid=$!
REFLECTOR_PIDS+=("$conf_pid")
wait_listening "$conf_pid" "$TEST_DIR/conf.log" $((7026 + conf_offset)) ||
  fail "reflector with --config did not start: $(cat "$TEST_DIR/conf.log")"
grep -q "listening on 127.0.0.1:$((2525 + conf_offset)) (smtp)" "$TEST_DIR/conf.log" ||
  fail "config smtp-ports not used: $(cat "$TEST_DIR/conf.log")"
grep -q "listening on 127.0.0.1:$((4650 + conf_offset)) (smtps)" "$TEST_DIR/conf.log" ||
  fail "config tls-ports not used"
exec 3<>"/dev/tcp/127.0.0.1/$((2525 + conf_offset))" || fail "config smtp port not accepting"
IFS= read -r -t 5 greeting <&3 || fail "no greeting on the config smtp port"
exec 3<&-
[[ "$greeting" == "220 from-config.test ESMTP egress25-reflector "* ]] ||
  fail "greeting '$greeting' does not use the configured hostname"
pass "--config FILE"

# A port already taken: exit non-zero, naming address, port and reason.
err=$("$REFLECTOR" --listen 127.0.0.1 --port-offset "$OFFSET" --witness off 2>&1)
rc=$?
[[ $rc -eq 1 ]] || fail "a second reflector on the same ports exited $rc, not 1"
grep -q "cannot listen on 127.0.0.1:$SMTP_PORT: address already in use" <<<"$err" ||
  fail "bind failure said: $err"
pass "occupied port: '$(grep 'cannot listen' <<<"$err")'"

# A privileged port without privilege names the capability and --port-offset.
unpriv=()
if [[ $(id -u) -eq 0 ]]; then
  if command -v setpriv >/dev/null; then
    unpriv=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
  fi
fi
if [[ $(id -u) -ne 0 || ${#unpriv[@]} -gt 0 ]] &&
  [[ $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024) -gt 25 ]]; then
  err=$("${unpriv[@]}" "$REFLECTOR" --listen 127.0.0.1 --witness off 2>&1)
  rc=$?
  [[ $rc -eq 1 ]] || fail "binding port 25 unprivileged exited $rc, not 1"
  grep -q "cannot listen on 127.0.0.1:25: permission denied (needs CAP_NET_BIND_SERVICE or root; try --port-offset" <<<"$err" ||
    fail "privileged-port failure said: $err"
  pass "privileged port: '$(grep 'cannot listen' <<<"$err")'"

  # Without CAP_NET_RAW: --witness on refuses to start, auto carries on and says why.
  err=$("${unpriv[@]}" "$REFLECTOR" --listen 127.0.0.1 --port-offset "$conf_offset" \
    --witness on 2>&1)
  rc=$?
  [[ $rc -eq 1 ]] || fail "--witness on without CAP_NET_RAW exited $rc, not 1"
  grep -q "cannot open the packet witness (--witness on)" <<<"$err" || fail "--witness on said: $err"
  pass "--witness on without privilege: start-up error"
  "${unpriv[@]}" "$REFLECTOR" --listen 127.0.0.1 --port-offset "$conf_offset" \
    --witness auto >"$TEST_DIR/auto.log" 2>&1 &
  auto_pid=$!
  REFLECTOR_PIDS+=("$auto_pid")
  wait_listening "$auto_pid" "$TEST_DIR/auto.log" $((7025 + conf_offset)) ||
    fail "--witness auto without privilege did not start: $(cat "$TEST_DIR/auto.log")"
  "$CTL" $((7025 + conf_offset)) hello >"$TEST_DIR/auto_hello" || fail "HELLO (witness auto)"
  grep -q "^witness=inactive: ." "$TEST_DIR/auto_hello" ||
    fail "HELLO does not say why the witness is inactive: $(cat "$TEST_DIR/auto_hello")"
  pass "--witness auto without privilege: $(grep '^witness=' "$TEST_DIR/auto_hello")"
else
  skip_check "unprivileged start-up checks: cannot run unprivileged here"
fi
