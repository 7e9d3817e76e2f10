#!/usr/bin/env bash
# Robustness: the sensor over every public capture in ../shared/pcaps
# (malformed, truncated, fuzzed, odd link types). It must never crash, hang
# or trip a sanitizer; an unsupported link type or a broken file must get a
# clear message. Skips cleanly when ../shared/pcaps is absent (a user's
# fresh clone has none).
#   exit statuses accepted: 0 (read to the end), 3 (file ends mid-record:
#   a read error, alerts up to there delivered), 1 with "unsupported link type".
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
shared=${SHARED_PCAPS:-../shared/pcaps}
if [ ! -d "$shared" ]; then
	echo "# skip: $shared not present"
	echo "robustness: 0 passed, 0 failed"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for f in "$shared"/*.pcap "$shared"/*.pcapng; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	timeout 120 "$outflow" -r "$f" -q --stats-interval 0 --rules rules/default.rules \
		-o "$tmp/alerts.json" >/dev/null 2>"$tmp/err"
	rc=$?
	why=""
	if grep -q 'Sanitizer\|runtime error' "$tmp/err"; then
		why="sanitizer report"
	elif [ $rc -eq 124 ]; then
		why="hung (killed after 120 s)"
	elif [ $rc -ge 128 ]; then
		why="died with signal $((rc - 128))"
	elif [ $rc -eq 1 ] && ! grep -q 'unsupported link type' "$tmp/err"; then
		why="failed without naming an unsupported link type"
	elif [ $rc -eq 3 ] && ! grep -q 'read error after' "$tmp/err"; then
		why="exit 3 without saying where reading stopped"
	elif [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 3 ]; then
		why="unexpected exit status $rc"
	elif [ $rc -ne 1 ] && ! grep -q '"event_type":"stats","sensor":"outflow","final":true' "$tmp/err"; then
		why="no final stats"
	elif [ -s "$tmp/alerts.json" ] && ! python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/alerts.json"; then
		why="alert output is not valid JSON"
	fi
	if [ -z "$why" ]; then
		echo "ok - robustness.$name (exit $rc)"
		pass=$((pass + 1))
	else
		echo "not ok - robustness.$name: $why"
		sed 's/^/  /' "$tmp/err" | head -20
		fail=$((fail + 1))
	fi
	: >"$tmp/alerts.json"
done
echo "robustness: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
