#!/usr/bin/env bash
# Stopping: SIGTERM (or SIGINT) ends a run cleanly — the open windows are
# evaluated, alerts written, final stats printed, exit 0 — and a second
# signal stops at once even when the first one's flush is waiting on an
# unreachable Redis.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/redis.sh
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
OPID=
cleanup() { [ -n "$OPID" ] && kill -KILL "$OPID" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok - signals.$1"; pass=$((pass + 1)); }
notok() { echo "not ok - signals.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }
rules=tests/integration/rules/every-upload.rules
tests/lib/pcapsplit.py pcaps/low-and-slow.pcap 2 "$tmp/p"

# Reference: the first half alone, read to its end.
"$outflow" -r "$tmp/p1" -q --stats-interval 0 --rules "$rules" -o "$tmp/ref.json" 2>/dev/null

for sig in TERM INT; do
	: >"$tmp/out.json"
	mkfifo "$tmp/feed.$sig"
	"$outflow" -r - -q --stats-interval 0 --rules "$rules" -o "$tmp/out.json" <"$tmp/feed.$sig" 2>"$tmp/err" &
	OPID=$!
	exec 3>"$tmp/feed.$sig"
	cat "$tmp/p1" >&3
	sleep 0.5
	kill -"$sig" "$OPID"
	wait "$OPID"; rc=$?; OPID=
	exec 3>&-
	# The last window's alert only exists if the stop evaluated the open windows.
	if [ $rc -eq 0 ] && grep -q '"final":true' "$tmp/err" && python3 tests/golden/compare.py "$tmp/ref.json" "$tmp/out.json" >/dev/null; then
		ok "sig${sig}_evaluates_open_windows_flushes_and_exits_0 ($(wc -l <"$tmp/out.json") alerts)"
	else
		notok "sig${sig}_evaluates_open_windows_flushes_and_exits_0" "exit $rc; $(wc -l <"$tmp/out.json") of $(wc -l <"$tmp/ref.json") alerts" "$(grep -v '^{' "$tmp/err" | tail -3)"
	fi
done

# A flush stuck on an unreachable Redis: the second signal ends it at once.
dead=$(redis_free_port)
mkfifo "$tmp/feed2"
"$outflow" -r - -q --stats-interval 0 --rules "$rules" -o /dev/null --redis "redis://127.0.0.1:$dead" \
	--redis-drain 60000 <"$tmp/feed2" 2>"$tmp/err2" &
OPID=$!
exec 3>"$tmp/feed2"
cat "$tmp/p1" >&3
sleep 0.5
kill -TERM "$OPID"; sleep 0.5
start=$(date +%s%N)
kill -TERM "$OPID"
wait "$OPID"; rc=$?; OPID=
exec 3>&-
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -eq 143 ] && [ $ms -lt 2000 ]; then
	ok "second_signal_stops_at_once (${ms} ms, exit $rc)"
else
	notok second_signal_stops_at_once "exit $rc after ${ms} ms" "$(grep -v '^{' "$tmp/err2" | tail -3)"
fi
echo "signals: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
