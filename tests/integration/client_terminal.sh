#!/usr/bin/env bash
# egress25 on a terminal (a pty from util-linux's `script`): a progress block on stderr
# while it waits, redrawn in place and erased before the report; the report laid out to
# 80 and to 200 columns, reasons wrapped and never cut; and no escape sequence at all with
# --json or --quiet; plain progress lines when stderr is not a terminal.
# Usage: client_terminal.sh CLIENT_BINARY REFLECTOR_BINARY
CLIENT=$1
REFLECTOR=$2
source "$(dirname "$0")/client_lib.sh"

command -v script >/dev/null || { echo "SKIP: no script(1) (util-linux) to make a pty"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 for a silent SMTP peer"; exit 77; }
start_reflector

# A peer that accepts, says nothing for 1.5 s and hangs up: its probe waits that long, so
# the progress shows a wait (its clock moving), and the check still ends soon.
SILENT_LOG=$TEST_DIR/silent.log
python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
end = time.time() + 100
while time.time() < end:
    s.settimeout(1)
    try:
        c, _ = s.accept()
    except OSError:
        continue
    time.sleep(1.5)
    c.close()
' >"$SILENT_LOG" &
REFLECTOR_PIDS+=($!)
for i in $(seq 1 50); do [[ -s $SILENT_LOG ]] && break; sleep 0.1; done
SILENT_PORT=$(head -n 1 "$SILENT_LOG")
[[ $SILENT_PORT =~ ^[0-9]+$ ]] || fail "the silent peer did not start"

# Runs the client on a pty of COLUMNS columns; sets PTY (what the terminal got, with the
# lines script(1) adds removed) and RC.
run_on_pty() {
  local columns=$1
  shift
  local log=$TEST_DIR/pty.$RANDOM
  script -qfec "stty cols $columns rows 50; exec $CLIENT $*" "$log" >/dev/null </dev/null
  RC=$?
  PTY=$(sed -e '1{/^Script started/d}' -e '${/^Script done/d}' "$log" | tr -d '\r')
}
ESC=$'\x1b'
# What the terminal shows once the progress block is erased: the text after the last
# "erase to the end of the screen".
after_progress() { printf '%s' "${PTY##*${ESC}\[J}"; }
widest() { awk '{ if (length > w) w = length } END { print w + 0 }'; }

CHECK=(check --reflector "127.0.0.1:$CONTROL_PORT" --ports "$SMTP_PORT" --no-trace
  --target "[127.0.0.1]" --target-port "$SILENT_PORT" --timeout 1)

run_on_pty 80 "${CHECK[@]}"
[[ $RC -eq 0 || $RC -eq 1 ]] || fail "on a pty: exit $RC: $PTY"
grep -q "egress25: probing: 1 of 2 done" <<<"$PTY" || fail "no progress block while waiting: $PTY"
grep -Eq "127.0.0.1 +connected, talking SMTP [0-9.]+ s" <<<"$PTY" ||
  fail "the waiting probe is not shown with its time: $PTY"
grep -Eq "$SMTP_PORT/IPv4 smtp +answered, TLS up in" <<<"$PTY" || fail "the done probe is not shown: $PTY"
redraws=$(grep -o "${ESC}\[[0-9]*A" <<<"$PTY" | wc -l)
((redraws >= 3)) || fail "the block was not redrawn in place ($redraws redraws): $PTY"
report=$(after_progress)
grep -q "^egress25 check: reflector 127.0.0.1" <<<"$report" || fail "the block was not erased before the report: $report"
[[ $report != *"$ESC"* ]] || fail "escape sequences in the report itself"
grep -q "^Summary:" <<<"$report" || fail "no summary after the progress: $report"
width=$(widest <<<"$report")
((width <= 80)) || fail "the report is $width columns wide on an 80-column terminal: $report"
pass "pty, 80 columns: progress redrawn in place while a probe waits, erased, report within 80 columns"

run_on_pty 200 "${CHECK[@]}"
report=$(after_progress)
width=$(widest <<<"$report")
((width <= 200 && width > 100)) || fail "the report is $width columns wide on a 200-column terminal: $report"
grep -Eq "^$SMTP_PORT +smtp +IPv4 +open +none +the reflector saw this connection" <<<"$report" ||
  fail "at 200 columns the reason is not beside its row: $report"
pass "pty, 200 columns: reasons beside their rows, within 200 columns"

# The reasons are wrapped, not cut: every word of the first reason is in the report, and
# nothing is clipped with "...".
run_client "${CHECK[@]}" --json
reason=$(jq -r --argjson p "$SMTP_PORT" '.probes[] | select(.port == $p) | .reasons[0]' "$OUT")
for columns in 80 200; do
  run_on_pty "$columns" "${CHECK[@]}"
  report=$(after_progress | tr -s ' \n' ' ')
  [[ $report == *"$(tr -s ' ' <<<"$reason")"* ]] || fail "at $columns columns the reason is not whole: '$reason' in $report"
done
pass "reasons wrapped, never cut, at 80 and 200 columns"

# No escape sequence where no terminal is, nor with --json or --quiet on one.
run_client "${CHECK[@]}"
! grep -q "$ESC" "$OUT" "$ERR" || fail "escape sequences in the report or stderr off a terminal"
# Off a terminal, progress is plain lines: every one is the client's own, none redrawn.
grep -q '^egress25: [0-9]* probes started; each waits up to' "$ERR" ||
  fail "no plain progress lines on stderr off a terminal: $(cat "$ERR")"
! grep -v '^egress25: ' "$ERR" | grep -q . ||
  fail "stderr off a terminal holds more than progress lines: $(cat "$ERR")"
run_client "${CHECK[@]}" --quiet
[[ ! -s $ERR ]] || fail "stderr with --quiet off a terminal is not empty: $(cat "$ERR")"
run_on_pty 80 "${CHECK[@]}" --json
[[ $PTY != *"$ESC"* ]] || fail "escape sequences with --json on a terminal: $PTY"
jq -e . <<<"$PTY" >/dev/null || fail "--json on a terminal is not one JSON document: $PTY"
run_on_pty 80 "${CHECK[@]}" --quiet
[[ $PTY != *"$ESC"* ]] || fail "escape sequences with --quiet on a terminal: $PTY"
[[ $PTY != *PORT* && $PTY == *"Nothing blocks"* ]] || fail "--quiet printed more than the summary: $PTY"
pass "no escape sequences off a terminal, or with --json or --quiet on one"
