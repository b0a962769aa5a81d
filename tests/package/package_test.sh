#!/usr/bin/env bash
# The Debian packages on a fresh Debian 12: builds them with cpack, installs both with
# `apt-get install ./…deb` in a debootstrap (minbase) chroot, runs both --version, checks
# the unit's ExecStart names an installed binary, the system user, the unit enabled but not
# started, the conffile; then purges both and checks that nothing of them is left.
#
# The pristine chroot is made once from deb.debian.org and cached in the build directory
# (package-test/bookworm-minbase); each run works on an overlay of it (a copy where
# overlayfs is not available) inside a private mount namespace, so every mount goes with
# the run, whatever ends it.
#
# usage: package_test.sh BUILD_DIR
# exit: 0 passed, 1 failed, 77 skipped (not root, no debootstrap, no network): the reason
# is printed.
set -u -o pipefail

MIRROR=http://deb.debian.org/debian
SUITE=bookworm
started=$SECONDS

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}
pass() { echo "ok: $*"; }
elapsed() { echo "$((SECONDS - started)) s"; }

# ---- Phase 2, in a private mount namespace: install, check, purge --------------------------
if [[ ${1:-} == --in-namespace ]]; then
  BUILD=$2 BASE=$3 RUN=$4 VERSION=$5
  ROOT=$RUN/root
  mkdir -p "$RUN/upper" "$RUN/work" "$ROOT"
  OVERLAY=1
  if ! mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" \
    "$ROOT" 2>/dev/null; then
    echo "(no overlayfs here: working on a copy of the chroot)"
    OVERLAY=0
    cp -a "$BASE/." "$ROOT/" || fail "cannot copy the chroot"
  fi
  mount -t proc proc "$ROOT/proc" || fail "cannot mount /proc in the chroot"
  in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

  mkdir -p "$ROOT/tmp/debs"
  cp "$RUN"/debs/*.deb "$ROOT/tmp/debs/"
  client_deb=$(cd "$ROOT/tmp/debs" && ls egress25_*.deb)
  reflector_deb=$(cd "$ROOT/tmp/debs" && ls egress25-reflector_*.deb)

  # The cached chroot's package lists age; the mirror drops what a point release replaced.
  in_root apt-get update -q >"$RUN/apt-update.log" 2>&1 ||
    fail "apt-get update in the chroot: $(tail -5 "$RUN/apt-update.log")"
  in_root apt-get install -y -q --no-install-recommends \
    "./tmp/debs/$client_deb" "./tmp/debs/$reflector_deb" >"$RUN/apt-install.log" 2>&1 </dev/null ||
    fail "apt-get install ./…deb: $(tail -15 "$RUN/apt-install.log")"
  pass "apt-get install ./$client_deb ./$reflector_deb on Debian 12 minbase, Depends resolved ($(elapsed))"

  out=$(in_root egress25 --version) || fail "egress25 --version failed: $out"
  [[ $out == "egress25 $VERSION" ]] || fail "egress25 --version said '$out'"
  out=$(in_root egress25-reflector --version) || fail "egress25-reflector --version failed: $out"
  [[ $out == "egress25-reflector $VERSION" ]] || fail "egress25-reflector --version said '$out'"
  pass "both --version: $VERSION"

  unit=$ROOT/lib/systemd/system/egress25-reflector.service
  [[ -f $unit ]] || fail "no unit at /lib/systemd/system/egress25-reflector.service"
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  binary=${exec_start%% *}
  [[ -n $binary ]] || fail "the unit has no ExecStart"
  in_root test -x "$binary" || fail "ExecStart names $binary, which is not installed"
  config=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
  in_root test -f "$config" || fail "ExecStart reads $config, which is not installed"
  in_root getent passwd egress25 >/dev/null || fail "no system user egress25"
  grep -q '^User=egress25$' "$unit" || fail "the unit does not run as egress25"
  [[ -L $ROOT/etc/systemd/system/multi-user.target.wants/egress25-reflector.service ]] ||
    fail "the unit is not enabled"
  in_root dpkg-query -W -f='${Conffiles}\n' egress25-reflector | grep -q ' /etc/egress25/reflector.conf ' ||
    fail "/etc/egress25/reflector.conf is not a conffile"
  for page in /usr/share/man/man1/egress25.1.gz /usr/share/man/man8/egress25-reflector.8.gz \
    /usr/share/bash-completion/completions/egress25 \
    /usr/share/bash-completion/completions/egress25-reflector; do
    [[ -f $ROOT$page ]] || fail "$page is not installed"
  done
  pass "ExecStart=$binary exists; user egress25; unit enabled; conffile; man pages; completion"

  # The operator edits the config; purge removes it anyway, and everything else of ours.
  echo "hostname = reflector.example.net" >>"$ROOT/etc/egress25/reflector.conf"
  in_root apt-get purge -y -q egress25 egress25-reflector >"$RUN/apt-purge.log" 2>&1 </dev/null ||
    fail "apt-get purge: $(tail -15 "$RUN/apt-purge.log")"
  in_root dpkg-query -W -f='${Status}\n' egress25 egress25-reflector 2>/dev/null | grep -q installed &&
    fail "a package is still installed after the purge"
  rm -rf "$ROOT/tmp/debs"
  for path in /etc/egress25 /lib/systemd/system/egress25-reflector.service /usr/bin/egress25 \
    /usr/sbin/egress25-reflector /etc/systemd/system/multi-user.target.wants/egress25-reflector.service; do
    [[ -e $ROOT$path || -L $ROOT$path ]] && fail "$path is left after the purge"
  done
  if ((OVERLAY)); then
    # Everything the run changed is in the overlay's upper layer: no path of ours may stay.
    left=$(cd "$RUN/upper" && find . -name '*egress25*' ! -path './var/log/*' ! -path './var/cache/*')
    [[ -z $left ]] || fail "left after the purge: $left"
  fi
  # Kept on purpose (postrm): a uid freed now could be given to another service.
  in_root getent passwd egress25 >/dev/null || fail "the purge removed the system user"
  pass "purged: no file, conffile, unit or enablement left; the system user kept"
  exit 0
fi

# ---- Phase 1: what the run needs, the cached chroot, the packages --------------------------
BUILD=$(realpath "${1:?usage: package_test.sh BUILD_DIR}")
CACHE=$BUILD/package-test
BASE=$CACHE/$SUITE-minbase
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot, mounts)"
for tool in debootstrap chroot unshare mount cpack dpkg-deb; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs it)"
done
[[ -f $BUILD/CPackConfig.cmake ]] || fail "no CPackConfig.cmake in $BUILD: configure the build first"
if ! timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
  skip "deb.debian.org cannot be reached: the packages' dependencies come from there"
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9 # one run at a time uses and fills the cache

if [[ ! -f $BASE/.egress25-complete ]]; then
  echo "making the cached Debian 12 chroot ($BASE) from $MIRROR"
  rm -rf "$BASE" "$BASE.new"
  unshare --mount --propagation private \
    debootstrap --variant=minbase "$SUITE" "$BASE.new" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $(tail -5 "$CACHE/debootstrap.log")"
  mv "$BASE.new" "$BASE"
  touch "$BASE/.egress25-complete"
  pass "debootstrap --variant=minbase $SUITE ($(elapsed))"
else
  pass "cached chroot $BASE"
fi

RUN=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
VERSION=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
[[ -n $VERSION ]] || fail "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake"
cpack --config "$BUILD/CPackConfig.cmake" -B "$RUN/debs" >"$RUN/cpack.log" 2>&1 ||
  fail "cpack: $(tail -15 "$RUN/cpack.log")"
ls "$RUN"/debs/*.deb >/dev/null 2>&1 || fail "cpack made no .deb: $(tail -5 "$RUN/cpack.log")"
pass "cpack: $(cd "$RUN/debs" && echo *.deb) ($(elapsed))"
for deb in "$RUN"/debs/*.deb; do
  depends=$(dpkg-deb -f "$deb" Depends)
  [[ $depends == *libssl3* && $depends == *libboost-log1.81.0* ]] ||
    fail "$(basename "$deb"): Depends lacks the shared libraries: '$depends'"
done
pass "Depends from dpkg-shlibdeps"

unshare --mount --propagation private "$0" --in-namespace "$BUILD" "$BASE" "$RUN" "$VERSION"
status=$?
echo "package test: $(elapsed) in all"
exit $status
