#!/usr/bin/env bash
# A capture file cut off mid-record (a disk filled up, a copy interrupted):
# the sensor says clearly where reading stopped, still evaluates and
# delivers every alert found up to there, and exits with status 3.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')
pass=0 fail=0
cp pcaps/breach.pcap "$tmp/cut.pcap"
truncate -s $(( $(stat -c %s pcaps/breach.pcap) - 1000 )) "$tmp/cut.pcap"
# shellcheck disable=SC2086
"$outflow" -r "$tmp/cut.pcap" -q --stats-interval 0 -o "$tmp/a.json" $scaled 2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ] && grep -q 'read error after [0-9]* packets: truncated dump file' "$tmp/err" &&
    grep -q '"read_errors":1' "$tmp/err" && grep -q '"rule":"elephant-upload-10m"' "$tmp/a.json"; then
	echo "ok - truncated.file_cut_mid_record_reports_where_and_still_delivers_alerts ($(wc -l <"$tmp/a.json") alerts)"
	pass=$((pass + 1))
else
	echo "not ok - truncated.file_cut_mid_record_reports_where_and_still_delivers_alerts"
	echo "  exit $rc, $(wc -l <"$tmp/a.json") alerts"; grep -v '^{' "$tmp/err" | sed 's/^/  /'
	fail=$((fail + 1))
fi
echo "truncated: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
