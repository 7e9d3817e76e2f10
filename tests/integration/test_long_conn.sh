#!/usr/bin/env bash
# The long-connection rule reports a connection while it is still open: a
# two-hour TCP session sending 1200 B every 4 s (tools/pcapgen long) raises
# long-connection-out about an hour in, not when the connection closes, and
# pcaps/long-connection.pcap is exactly what the tool makes (so the golden
# test's capture can be re-made from its documented command line).
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
pcapgen=build/tools/pcapgen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')
pass=0 fail=0
ok() { echo "ok - long_conn.$1"; pass=$((pass + 1)); }
nok() { echo "not ok - long_conn.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }

"$pcapgen" long -o "$tmp/long.pcap" -d 7200 -t 1772622000 2>/dev/null
if cmp -s "$tmp/long.pcap" pcaps/long-connection.pcap; then
	ok "capture_is_reproducible_from_pcapgen"
else
	nok "capture_is_reproducible_from_pcapgen" "pcapgen long -d 7200 -t 1772622000 differs from pcaps/long-connection.pcap"
fi

# shellcheck disable=SC2086
"$outflow" -r "$tmp/long.pcap" -q --stats-interval 0 -o "$tmp/a.json" $scaled 2>"$tmp/err"
# Start 11:00:00, end 13:00:00: the alert must come before the end, after an hour.
if python3 - "$tmp/a.json" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
long = [a for a in alerts if a["alert"]["category"] == "long-connection"]
assert len(long) >= 1, alerts
a = long[0]
assert "2026-03-04T12:00:00" < a["timestamp"] < "2026-03-04T12:01:00", a["timestamp"]
assert a["evidence"]["flows"][0]["dest_port"] == 443
assert a["evidence"]["conn"]["duration_s"] >= 3600
PY
then
	ok "reported_while_open_an_hour_in"
else
	nok "reported_while_open_an_hour_in" "$(cat "$tmp/a.json")"
fi

# At the default thresholds (20 MB over its life) the 2 MB trickle stays quiet.
"$outflow" -r "$tmp/long.pcap" -q --stats-interval 0 -o "$tmp/d.json" 2>"$tmp/err"
if [ ! -s "$tmp/d.json" ] && grep -q '"conn":{"idle":false,"conns":[0-9]*,"max_conns":16384,"registered":1,"evicted":0}' "$tmp/err"; then
	ok "quiet_below_default_volume_but_tracked"
else
	nok "quiet_below_default_volume_but_tracked" "$(cat "$tmp/d.json")" "$(grep -o '"conn":{[^}]*}' "$tmp/err")"
fi
echo "long_conn: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
