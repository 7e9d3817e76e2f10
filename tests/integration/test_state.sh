#!/usr/bin/env bash
# What the sensor learns survives a restart (--state-dir): the same capture
# replayed twice raises new-destination the first time only; a corrupt or
# foreign state file is reported (file: what is wrong), ignored and
# rewritten, and never stops the sensor.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')
cap=pcaps/cloud-upload.pcap
pass=0 fail=0
mkdir "$tmp/state"

run() {	# name -> $tmp/name.json, $tmp/name.err; returns outflow's status
	# shellcheck disable=SC2086
	"$outflow" -r "$cap" -q --stats-interval 0 --state-dir "$tmp/state" -o "$tmp/$1.json" \
		$scaled >/dev/null 2>"$tmp/$1.err"
}
newdest() { grep -c '"alert":{"category":"new-destination"' "$tmp/$1.json"; }
check() {	# name, condition
	if eval "$2"; then
		echo "ok - state.$1"; pass=$((pass + 1))
	else
		echo "not ok - state.$1"; grep -v '^{' "$tmp"/*.err | sed 's/^/  /'; fail=$((fail + 1))
	fi
}

run first; rc=$?
check first_run_alerts_new_destination_and_saves \
	'[ $rc -eq 0 ] && [ "$(newdest first)" -eq 1 ] && [ -s "$tmp/state/newdest.state" ] && [ ! -e "$tmp/state/newdest.state.tmp" ]'
run second; rc=$?
check second_run_remembers_and_does_not_realert \
	'[ $rc -eq 0 ] && [ "$(newdest second)" -eq 0 ] && grep -q "\"loaded\":[1-9]" "$tmp/second.err" && ! grep -q state_error "$tmp/second.err"'
# Other detections do not depend on the state.
rules_of() { python3 -c 'import json,sys
print(" ".join(sorted(json.loads(l)["alert"]["rule"] for l in open(sys.argv[1]))))' "$1"; }
check second_run_keeps_other_alerts \
	'[ "$(rules_of "$tmp/second.json")" = "$(rules_of "$tmp/first.json" | sed "s/ new-destination-upload//")" ]'

printf 'garbage' | dd of="$tmp/state/newdest.state" bs=1 seek=40 conv=notrunc 2>/dev/null
run corrupt; rc=$?
check corrupt_file_reported_ignored_and_rewritten \
	'[ $rc -eq 0 ] && grep -q "newdest.state: checksum mismatch (corrupt); ignored" "$tmp/corrupt.err" && [ "$(newdest corrupt)" -eq 1 ]'
run after_corrupt; rc=$?
check rewritten_file_loads_again \
	'[ $rc -eq 0 ] && [ "$(newdest after_corrupt)" -eq 0 ] && ! grep -q state_error "$tmp/after_corrupt.err"'

head -c 4096 /dev/urandom >"$tmp/state/newdest.state"
run foreign; rc=$?
check foreign_file_reported_and_ignored \
	'[ $rc -eq 0 ] && grep -q "newdest.state: not a first-seen state file (bad magic)" "$tmp/foreign.err" && [ "$(newdest foreign)" -eq 1 ]'

echo "state: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
