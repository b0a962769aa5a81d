#!/usr/bin/env bash
# The installed documentation says what the programs do: each man page renders with
# `man -l` without a warning, documents every option its program's --help lists, and the
# client's page names every verdict of the report's schema; bash completion offers the
# subcommand, every option, and the values of the options that take a word.
# usage: docs_test.sh MAN_DIR SOURCE_DIR CLIENT_BINARY REFLECTOR_BINARY
# exit: 0 passed, 1 failed, 77 skipped (no man).
set -u -o pipefail
MAN_DIR=$1 SOURCE=$2 CLIENT=$3 REFLECTOR=$4

fail() {
  echo "FAIL: $*"
  exit 1
}
pass() { echo "ok: $*"; }

# Long options a program's --help lists.
options_of() { "$@" --help | grep -oE -- '(^|[ [])--[a-z0-9][a-z0-9-]*' | tr -d ' [' | sort -u; }

client_options=$(options_of "$CLIENT" check)
reflector_options=$(options_of "$REFLECTOR")
[[ $client_options == *--reflector* && $reflector_options == *--control-port* ]] ||
  fail "cannot read the options from --help"

# ---- Man pages ----------------------------------------------------------------------------
if ! command -v man >/dev/null; then
  echo "SKIP: man is not installed (scripts/install-deps.sh installs man-db)"
  exit 77
fi
for page in egress25.1 egress25-reflector.8; do
  file=$MAN_DIR/$page.gz
  [[ -f $file ]] || fail "$file was not built"
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$file" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "$page renders with warnings: $warnings"
  text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$file" 2>/dev/null | col -b)
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
    grep -q "^$section" <<<"$text" || fail "$page has no $section section"
  done
  long=$(awk 'length > 80' <<<"$text")
  [[ -z $long ]] || fail "$page has lines over 80 columns at MANWIDTH=80: $long"
done
pass "man -l renders egress25(1) and egress25-reflector(8) without warnings"

check_documented() {
  local source=$1 options=$2 option
  for option in $options; do
    grep -qF -- "*$option*" "$source" || fail "$(basename "$source") does not document $option"
  done
}
check_documented "$SOURCE/docs/man/egress25.1.scd" "$client_options"
check_documented "$SOURCE/docs/man/egress25-reflector.8.scd" "$reflector_options"
verdicts=$(grep -oE '"(open|dropped|reset|icmp_unreachable|intercepted|tampered|tls_intercepted|proxied|reply_dropped|firewalled_at_reflector|not_listening|inconclusive)"' \
  "$SOURCE/docs/report.schema.json" | tr -d '"' | sort -u)
[[ $(wc -w <<<"$verdicts") -eq 12 ]] || fail "the schema does not list the 12 verdicts: $verdicts"
for verdict in $verdicts; do
  grep -qF -- "*$verdict*" "$SOURCE/docs/man/egress25.1.scd" || fail "egress25(1) does not name $verdict"
done
pass "every option of both --help in its man page; every verdict in egress25(1)"

# ---- Completion -----------------------------------------------------------------------------
# Runs the completion function for a command line whose last word is being completed.
complete_words() {
  local script=$1 function=$2
  shift 2
  bash -c '
    source "$1"
    function=$2
    shift 2
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    "$function"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$script" "$function" "$@"
}
client_script=$SOURCE/packaging/bash-completion/egress25
reflector_script=$SOURCE/packaging/bash-completion/egress25-reflector

words=$(complete_words "$client_script" _egress25 "$CLIENT" "")
grep -qx check <<<"$words" || fail "egress25 <TAB> does not offer check: $words"
words=$(complete_words "$client_script" _egress25 "$CLIENT" ch)
[[ $words == check ]] || fail "egress25 ch<TAB> offers '$words', not check"
words=$(complete_words "$client_script" _egress25 "$CLIENT" check --)
for option in $client_options; do
  grep -qx -- "$option" <<<"$words" || fail "egress25 check --<TAB> does not offer $option"
done
words=$(complete_words "$client_script" _egress25 "$CLIENT" check --family "")
[[ $(echo $words) == "auto 4 6 both" ]] || fail "--family <TAB> offers '$words'"
words=$(complete_words "$reflector_script" _egress25_reflector "$REFLECTOR" --)
for option in $reflector_options; do
  grep -qx -- "$option" <<<"$words" || fail "egress25-reflector --<TAB> does not offer $option"
done
words=$(complete_words "$reflector_script" _egress25_reflector "$REFLECTOR" --witness "")
[[ $(echo $words) == "auto on off" ]] || fail "--witness <TAB> offers '$words'"
pass "completion offers check, every option, and --family / --witness values"
