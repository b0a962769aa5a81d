#!/usr/bin/env bash
# Privilege drop: as root, open a capture and bind a port, drop to "nobody", and check
# that root cannot be regained, no capability is left, and both handles still work.
set -u
TOOL=${1:?usage: pathev_privileges.sh PATH_TO_pathev_lab_tool}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
getent passwd nobody >/dev/null || { echo "SKIP: no user 'nobody'"; exit 77; }
exec "$TOOL" privdrop nobody
