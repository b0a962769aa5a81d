#!/usr/bin/env bash
# Installs what egress25 needs to build and test, from Debian 12's packages only.
# Idempotent and quiet when everything is already there; no prompts (CI has no stdin).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-program-options1.81-dev libboost-log1.81-dev
  libboost-test1.81-dev libboost-json1.81-dev libssl-dev libpcap-dev libcap-dev libfmt-dev
  # the home router's external address (check --inbound): UPnP-IGD and NAT-PMP clients
  libminiupnpc-dev libnatpmp-dev
  # run and test: third-party SMTP peers, the namespace lab, report checks
  openssl swaks libnet-ssleay-perl libio-socket-ssl-perl postfix nftables iproute2 jq procps
  # the lab's home router answering UPnP-IGD and NAT-PMP
  miniupnpd-nftables
  # bench/: nmap -sT is one of the peers egress25 is measured beside
  nmap
  # man pages (scdoc), the report's JSON Schema checks, man -l, the Debian package test
  scdoc python3-jsonschema man-db debootstrap
  # the reflector's --metrics test: promtool check metrics
  prometheus
  # the hardening build: ASan + UBSan and libFuzzer (scripts/sanitize.sh, scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
  # the format check (scripts/check-format.sh), the classifier's coverage (scripts/coverage.sh)
  clang-format-14 gcovr
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
# postfix is here only for its smtp-sink test server: answer its questions up front.
echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
