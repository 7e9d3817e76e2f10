#!/usr/bin/env bash
# README command 1: the demo. Replays a recorded breach (a workstation pulls
# files from three internal file servers over SMB, then uploads an archive
# over TLS) through the sensor into a private Redis, and shows the alerts
# as a SOC dashboard subscribed to Redis would receive them.
#
# Installs what is missing (as root), builds, starts redis-server on a free
# loopback port, subscribes, replays, and stops the server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -j"$(nproc)" build/outflow >/dev/null
. tests/lib/redis.sh

capture=${1:-pcaps/breach.pcap}
tmp=$(mktemp -d)
SUB=
cleanup() { [ -n "$SUB" ] && kill "$SUB" 2>/dev/null; redis_stop_all; rm -rf "$tmp"; }
trap cleanup EXIT

port=$(redis_free_port)
redis_start "$tmp/redis" "$port"
echo "== redis-server on 127.0.0.1:$port (private, stopped at the end)"

# The dashboard's side: follow the channel live.
redis-cli -p "$port" --raw SUBSCRIBE outflow:alerts >"$tmp/sub" 2>&1 &
SUB=$!
sleep 0.3

# The sample capture is ~50 MB of upload, not the GBs of a real dump, so
# the demo scales the default thresholds the way the golden tests do.
# shellcheck disable=SC2046
echo "== replaying $capture"
build/outflow -r "$capture" --redis "redis://127.0.0.1:$port" --stats-interval 0 -q \
	$(grep -v '^#' tests/golden/scaled.args) 2>"$tmp/sensor.log" || true
sleep 0.3

echo
echo "== alerts received on channel outflow:alerts"
python3 - "$tmp/sub" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    a = json.loads(line)
    al = a["alert"]
    print(f'{a["timestamp"]}  {al["severity"].upper():8} {al["category"]:14} {al["rule"]}')
    print(f'    {al["message"]}')
    st = a["evidence"].get("staging")
    if st:	# the copy-then-transfer story: both halves
        for s in st["collected"]["from"]:
            print(f'    <- {s["ip"]} {s["app"]}: {s["bytes"]:,} bytes collected')
        print(f'       then, {st["delay_s"]} s later:')
    for d in a["evidence"]["destinations"][:4]:
        print(f'    -> {d["ip"]}:{d["port"]} {d.get("server_name", "")} {d["app"]}: '
              f'{d["bytes_out"]:,} bytes out')
PY
echo
echo "== the same alerts, kept in stream outflow:alerts:stream: $(redis-cli -p "$port" XLEN outflow:alerts:stream) entries"
echo "   (a dashboard that was offline reads them with XRANGE / XREAD)"
echo
echo "== the staging-then-transfer alert as JSON (read back from the stream)"
# sed -n 1p reads to the end: a reader that left early (head -n1, grep -m1)
# would kill the writer with SIGPIPE, and under pipefail the demo with it.
redis-cli -p "$port" --raw XRANGE outflow:alerts:stream - + | grep '"rule":"staging-then-transfer"' |
	sed -n 1p | python3 -m json.tool
echo
echo "== sensor log"
grep -v '^{' "$tmp/sensor.log" || true
