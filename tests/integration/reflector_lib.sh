# Shared by the reflector_*.sh integration tests: the harness (reflector_harness.sh)
# with offsets ending in 0, and reading reflector_ctl output.
# Usage: source reflector_lib.sh; REFLECTOR=... start_reflector [extra options]

HARNESS_NAME=reflector
OFFSET_BASE=11000
source "$(dirname "${BASH_SOURCE[0]}")/reflector_harness.sh"

# field KEY FILE → the value of KEY=... in reflector_ctl output.
field() { sed -n "s/^$1=//p" "$2" | head -n1; }
