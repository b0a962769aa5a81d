#!/usr/bin/env bash
# egress25's failures a user meets first: bad usage (exit 2, a hint, nothing on stdout),
# --help and --version, and a reflector whose control port does not answer (exit 3, a
# clear message, the report still printed with every probe inconclusive).
# Usage: client_check_errors.sh CLIENT_BINARY
CLIENT=$1
REFLECTOR=/nonexistent
source "$(dirname "$0")/client_lib.sh"

expect_usage_error() {
  local expect=$1
  shift
  run_client "$@"
  [[ $RC -eq 2 ]] || fail "'$*' exited $RC, not 2"
  grep -q -- "$expect" "$ERR" || fail "'$*' said '$(cat "$ERR")', not '$expect'"
  grep -q -- "egress25 check --help" "$ERR" || fail "'$*' gave no usage hint: $(cat "$ERR")"
  [[ $(wc -l <"$ERR") -eq 2 ]] || fail "'$*' printed more than a line and a hint: $(cat "$ERR")"
  [[ ! -s "$OUT" ]] || fail "'$*' printed on stdout: $(cat "$OUT")"
}
expect_usage_error "no command" 
expect_usage_error "unknown command 'probe'" probe
expect_usage_error "--reflector HOST\[:PORT\] is required" check
expect_usage_error "--family must be" check --reflector 127.0.0.1 --family 5
expect_usage_error "--timeout must be" check --reflector 127.0.0.1 --timeout 0
expect_usage_error "--timeout must be" check --reflector 127.0.0.1 --timeout 301
expect_usage_error "is not a port" check --reflector 127.0.0.1 --ports 25,0
expect_usage_error "is not a port" check --reflector 127.0.0.1:99999
expect_usage_error "missing ']'" check --reflector "[::1:7025"
expect_usage_error "contradict" check --reflector 127.0.0.1 --trace --no-trace
expect_usage_error "unrecognised option\|unrecognized option" check --reflector 127.0.0.1 --bogus
# A URL, and a bare IPv6 address that reads as an address and a port too: what to write.
expect_usage_error "--reflector 'http://vps.example.net/' is a URL; give the reflector's host alone, as in --reflector vps.example.net" \
  check --reflector http://vps.example.net/
expect_usage_error "'2001:db8::5:7025' is ambiguous.*Write \[2001:db8::5\]:7025 for port 7025 at 2001:db8::5, or \[2001:db8::5:7025\]" \
  check --reflector 2001:db8::5:7025
expect_usage_error "-4 and -6 are short for --family" check --reflector 127.0.0.1 -4 --family 6
expect_usage_error "--quiet and --verbose contradict" check --reflector 127.0.0.1 -q -v
expect_usage_error "with --json the transcripts are in each probe's evidence" \
  check --reflector 127.0.0.1 -j --show-transcript
expect_usage_error "cannot read --secret-file" check --reflector 127.0.0.1 \
  --secret-file "$TEST_DIR/no-such-file"
pass "bad usage: exit 2 with a hint"

run_client --help
[[ $RC -eq 0 ]] || fail "--help exited $RC"
for option in --reflector --ports --family --timeout --trace --no-trace --json --secret-file; do
  grep -q -- "$option" "$OUT" || fail "--help does not list $option"
done
run_client check --help
[[ $RC -eq 0 ]] && grep -q -- "--reflector" "$OUT" || fail "check --help"
run_client --version
[[ $RC -eq 0 ]] || fail "--version exited $RC"
grep -Eq '^egress25 [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" || fail "--version printed '$(cat "$OUT")'"
pass "--help and --version"

# A loopback port nothing listens on: refused at once.
port=$((20000 + ($$ + RANDOM) % 10000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
run_client check --reflector "127.0.0.1:$port"
[[ $RC -eq 3 ]] || fail "unreachable reflector: exit $RC, not 3"
grep -q "cannot reach the reflector's control port 127.0.0.1:$port: connection refused: the host answered, but nothing accepts connections on that port. Is egress25-reflector running there" "$ERR" ||
  fail "unreachable reflector said: $(cat "$ERR")"
grep -q "^Summary:" "$OUT" || fail "no report printed for an unreachable reflector"
grep -Eq "^25 +smtp +IPv4 +inconclusive" "$OUT" || fail "no inconclusive row: $(cat "$OUT")"
pass "unreachable reflector: message, exit 3, report printed"

run_client check --reflector "127.0.0.1:$port" --json --ports 25,587
[[ $RC -eq 3 ]] || fail "unreachable reflector with --json: exit $RC, not 3"
check_contract_json
jq -e '(.probes | length == 2)
       and all(.probes[]; .verdict == "inconclusive" and .location == "unknown"
               and (.reasons | any(test("control port"))))
       and (.summary.text | test("could not be reached"))' "$OUT" >/dev/null ||
  fail "unreachable reflector JSON: $(jq -c '.probes[0], .summary' "$OUT")"
grep -q "cannot reach the reflector's control port" "$ERR" || fail "--json: no message on stderr"
pass "unreachable reflector with --json: inconclusive probes, exit 3"

# A family the reflector's address does not have: said so, with what to do; not "is it
# running" (issue 12).
run_client check --reflector 127.0.0.1 -6
[[ $RC -eq 3 ]] || fail "--family 6 with an IPv4 address: exit $RC, not 3"
grep -q "egress25: 127.0.0.1 is an IPv4 address, and --family 6 asks for IPv6: leave --family out" "$ERR" ||
  fail "--family 6 with an IPv4 address said: $(cat "$ERR")"
grep -q "is it running\|its firewall" "$OUT" "$ERR" && fail "--family 6 blamed the reflector: $(cat "$OUT")"
pass "--family 6 with an IPv4 address: the family named, exit 3"

# A name that does not exist (.invalid never resolves, RFC 6761): the name is the problem.
# Without a DNS server the resolver says it could not ask; either way, not the firewall.
run_client check --reflector no-such-reflector.invalid
[[ $RC -eq 3 ]] || fail "an unresolvable name: exit $RC, not 3"
grep -Eq "egress25: the reflector's name no-such-reflector.invalid (does not resolve: DNS has no such name. Check the spelling|could not be resolved)" "$ERR" ||
  fail "an unresolvable name said: $(cat "$ERR")"
grep -q "is it running\|its firewall" "$OUT" "$ERR" && fail "an unresolvable name blamed the reflector: $(cat "$OUT")"
grep -q "Nothing was measured: the reflector's name no-such-reflector.invalid" "$OUT" ||
  fail "the summary does not name the name: $(cat "$OUT")"
pass "unresolvable name: said so, exit 3"
