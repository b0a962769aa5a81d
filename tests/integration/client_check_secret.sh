#!/usr/bin/env bash
# A private reflector (--secret-file): without the secret the client says so and exits 3;
# with it, the check runs and passes.
# Usage: client_check_secret.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
source "$(dirname "$0")/client_lib.sh"

echo "s3cret-for-the-test-$$-$RANDOM" >"$TEST_DIR/secret"
chmod 644 "$TEST_DIR/secret"
start_reflector --secret-file "$TEST_DIR/secret"

run_client check --reflector "127.0.0.1:$CONTROL_PORT" --json
[[ $RC -eq 3 ]] || fail "without the secret: exit $RC, not 3"
grep -q "requires --secret-file" "$ERR" || fail "without the secret: said '$(cat "$ERR")'"
check_contract_json
pass "private reflector without the secret: exit 3, says --secret-file"

echo "wrong" >"$TEST_DIR/wrong"
run_client check --reflector "127.0.0.1:$CONTROL_PORT" --secret-file "$TEST_DIR/wrong"
[[ $RC -eq 3 ]] || fail "with a wrong secret: exit $RC, not 3"
grep -q "refused HELLO (forbidden)" "$ERR" || fail "with a wrong secret: said '$(cat "$ERR")'"
pass "private reflector with a wrong secret: exit 3"

run_client check --reflector "127.0.0.1:$CONTROL_PORT" --secret-file "$TEST_DIR/secret" --json
[[ $RC -eq 0 ]] || fail "with the secret: exit $RC; $(cat "$ERR"); $(head -c 1500 "$OUT")"
jq -e 'all(.probes[]; .verdict == "open")' "$OUT" >/dev/null || fail "with the secret: not all open"
pass "private reflector with the secret: all open"
