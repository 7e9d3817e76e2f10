#!/usr/bin/env bash
# Installs the Debian 12 packages Outflow needs, only those missing.
#   scripts/setup.sh          build + run + test dependencies
#   scripts/setup.sh record   also what pcaps/record.sh needs (servers, tunnels)
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

pkgs=(
	build-essential pkg-config          # cc, make
	libpcap-dev                         # capture (live and files)
	libndpi-dev libndpi-bin             # application detection; ndpiReader for the benchmark
	libhiredis-dev redis-server redis-tools  # the alert sink; a server for the demo and tests
	libpsl-dev                          # registered domains (Public Suffix List) for DNS and peers
	libgcrypt20-dev                     # linked by nDPI (its hashes, incl. Community ID)
	python3                             # test harness: JSON field-by-field comparison
	clang libclang-rt-14-dev llvm       # libFuzzer targets and sanitizer runtimes
	iproute2 tcpreplay procps           # live-capture tests in network namespaces
)
if [ "${1:-}" = record ]; then
	pkgs+=(samba smbclient openssh-server openssh-client curl openssl iodine ptunnel-ng
	       hping3 dnsmasq bind9-dnsutils tcpdump ethtool python3 zip)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "outflow setup: missing Debian packages: ${missing[*]}" >&2
	echo "outflow setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "outflow setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
