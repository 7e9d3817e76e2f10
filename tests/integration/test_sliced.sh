#!/usr/bin/env bash
# Volumes come from the headers, not from what was captured: a capture
# with whole packets (generated: DNS, TLS, HTTP, uploads) and the same
# capture sliced to 64 bytes per packet after each flow's first 4 (so nDPI
# still sees the handshakes) must give the same byte counts, and the same
# alerts with the same evidence.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
build/tools/pcapgen mixed -o "$tmp/full.pcap" -p 30000 -s 7 >/dev/null 2>&1 || {
	echo "not ok - sliced: pcapgen failed"; exit 1; }
cat >"$tmp/t.rules" <<'R'
rule any-upload {
    category  bulk-transfer
    when      dest.out.bytes[10min] > 500 B
    severity  low
    message   "{src_ip} {dest.out.bytes} {dest_ip}"
}
rule any-host {
    category  bulk-transfer
    when      host.out.bytes[10min] > 2 KB and host.in.bytes[10min] > 1 B
    severity  low
    message   "{src_ip} {host.out.bytes}"
}
R
rules="--rules $tmp/t.rules"
for cap in "$tmp/full.pcap"; do
	name=generated
	build/tools/pcapslice -k 4 -s 64 "$cap" "$tmp/sliced.pcap" >/dev/null 2>&1 || {
		echo "not ok - sliced.$name: pcapslice failed"; fail=$((fail + 1)); continue; }
	# shellcheck disable=SC2086
	"$outflow" -r "$cap" -q --stats-interval 0 -o "$tmp/a.json" $rules 2>"$tmp/a.err"
	# shellcheck disable=SC2086
	"$outflow" -r "$tmp/sliced.pcap" -q --stats-interval 0 -o "$tmp/b.json" $rules 2>"$tmp/b.err"
	ipa=$(grep -o '"ip_bytes":[0-9]*' "$tmp/a.err"); ipb=$(grep -o '"ip_bytes":[0-9]*' "$tmp/b.err")
	capa=$(stat -c %s "$cap"); capb=$(stat -c %s "$tmp/sliced.pcap")
	na=$(grep -c . "$tmp/a.json")
	if [ "$capb" -lt $((capa / 2)) ] && [ "$na" -gt 10 ] && [ -n "$ipa" ] && [ "$ipa" = "$ipb" ] &&
	    python3 tests/golden/compare.py "$tmp/a.json" "$tmp/b.json" >"$tmp/diff"; then
		echo "ok - sliced.${name}_counts_the_same_volumes ($ipa, $na alerts; file $capa -> $capb bytes)"
		pass=$((pass + 1))
	else
		echo "not ok - sliced.${name}_counts_the_same_volumes"; echo "  full $ipa sliced $ipb"; cat "$tmp/diff"
		fail=$((fail + 1))
	fi
	rm -f "$tmp/a.json" "$tmp/b.json"
done
echo "sliced: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
