#!/usr/bin/env bash
# Fails, listing them, when C++ files are not formatted as the repository's .clang-format
# says (clang-format 14, Debian 12's). The files are git's tracked ones; without a git
# checkout (a source tarball), the C++ files under the source directories.
#   bash scripts/check-format.sh         check
#   bash scripts/check-format.sh --fix   reformat in place
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
format=${CLANG_FORMAT:-clang-format-14}
command -v "$format" >/dev/null || { echo "check-format: $format not found" >&2; exit 1; }

files=()
if listed=$(git -C "$top" ls-files -- '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null); then
  mapfile -t files <<<"$listed"
else
  mapfile -t files < <(find bench client common reflector tests -type f \
    \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) | sort)
fi
# An empty list means the listing went wrong, not that all is formatted.
[ ${#files[@]} -gt 0 ] && [ -n "${files[0]}" ] || { echo "check-format: no C++ files found" >&2; exit 1; }

if [ "${1:-}" = --fix ]; then
  "$format" -i -- "${files[@]}"
  exit 0
fi

# One clang-format run over all files (it goes on past a bad one); its diagnostics name
# the files.
status=0
out=$("$format" --dry-run --Werror -- "${files[@]}" 2>&1) || status=$?
if [ $status -ne 0 ]; then
  mapfile -t bad < <(grep -oE '^[^ :]+:[0-9]+:[0-9]+: error: code should be clang-formatted' \
    <<<"$out" | cut -d: -f1 | sort -u)
  if [ ${#bad[@]} -eq 0 ]; then
    echo "check-format: $format failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "not formatted as .clang-format says (fix: bash scripts/check-format.sh --fix):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
