#!/usr/bin/env bash
# End to end against a real redis-server (started here on a free loopback
# port, stopped on exit): the sensor's alerts arrive on the channel and in
# the stream, as valid JSON, byte-identical to what it writes to -o; and
# none is lost or duplicated when Redis is stopped and restarted mid-run.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/redis.sh
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
SUB_PID=
cleanup() {
	[ -n "$SUB_PID" ] && kill "$SUB_PID" 2>/dev/null
	redis_stop_all
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok - redis_e2e.$1"; pass=$((pass + 1)); }
notok() { echo "not ok - redis_e2e.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }

command -v redis-server >/dev/null || { echo "not ok - redis_e2e: redis-server not installed"; exit 1; }
port=$(redis_free_port) || { echo "not ok - redis_e2e: no free port"; exit 1; }
redis_start "$tmp/redis" "$port" --appendonly yes --appendfsync always || {
	echo "not ok - redis_e2e: redis-server did not start"; exit 1; }
url="redis://127.0.0.1:$port"
cap=pcaps/low-and-slow.pcap
rules=tests/integration/rules/every-upload.rules

# Stream entries as JSON lines ("alert" field), and their "id" fields.
stream_alerts() {
	redis-cli -p "$port" --no-raw XRANGE "$1" - + >/dev/null 2>&1
	python3 - "$port" "$1" <<'PY'
import subprocess, sys
port, stream = sys.argv[1], sys.argv[2]
out = subprocess.run(["redis-cli", "-p", port, "--raw", "XRANGE", stream, "-", "+"],
                     capture_output=True, text=True).stdout.split("\n")
# --raw prints: entry-id, then field, value pairs, one per line.
i = 0
while i < len(out) and out[i]:
    i += 1  # entry id
    fields = {}
    while i + 1 < len(out) and out[i] in ("id", "alert"):
        fields[out[i]] = out[i + 1]
        i += 2
    print(fields.get("alert", ""))
PY
}

# --- 1. delivery: channel + stream carry exactly what -o wrote ------------
timeout 30 redis-cli -p "$port" SUBSCRIBE outflow:alerts >"$tmp/sub.txt" 2>&1 &
SUB_PID=$!
sleep 0.3
"$outflow" -r "$cap" -q --stats-interval 0 --rules "$rules" --redis "$url" -o "$tmp/file.json" \
	2>"$tmp/err1"
rc=$?
sleep 0.3
kill "$SUB_PID" 2>/dev/null; wait "$SUB_PID" 2>/dev/null; SUB_PID=
n_file=$(wc -l <"$tmp/file.json")
stream_alerts outflow:alerts:stream >"$tmp/stream1.json"
n_stream=$(grep -c . "$tmp/stream1.json")
n_sub=$(grep -c '^{' "$tmp/sub.txt")
if [ $rc -eq 0 ] && [ "$n_file" -ge 10 ] && [ "$n_stream" -eq "$n_file" ] && cmp -s "$tmp/file.json" "$tmp/stream1.json"; then
	ok "stream_has_every_alert_in_order ($n_stream alerts)"
else
	notok stream_has_every_alert_in_order "exit $rc, file $n_file alerts, stream $n_stream" "$(tail -3 "$tmp/err1")"
fi
if [ "$n_sub" -eq "$n_file" ]; then ok "channel_subscriber_got_every_alert ($n_sub)"
else notok channel_subscriber_got_every_alert "subscriber saw $n_sub of $n_file"; fi
if python3 -c 'import json,sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    assert a["event_type"] == "alert" and a["alert"]["category"] and a["src_ip"] and a["timestamp"]' "$tmp/stream1.json"; then
	ok stream_alerts_are_valid_json_with_contract_fields
else
	notok stream_alerts_are_valid_json_with_contract_fields
fi
if redis-cli -p "$port" PUBSUB NUMSUB outflow:stats >/dev/null && grep -q '"redis":{"connected":true' "$tmp/err1"; then
	ok final_stats_report_redis_connected
else
	notok final_stats_report_redis_connected "$(tail -2 "$tmp/err1")"
fi

# --- 2. outage: stop Redis mid-run, alerts keep coming, restart, none lost --
redis-cli -p "$port" DEL outflow:alerts:stream >/dev/null
# Feed the capture through a pipe in two halves, with the outage between.
tests/lib/pcapsplit.py "$cap" 2 "$tmp/part"
mkfifo "$tmp/feed"
"$outflow" -r - -q --stats-interval 0 --rules "$rules" --redis "$url" -o "$tmp/file2.json" \
	--redis-drain 20000 <"$tmp/feed" 2>"$tmp/err2" &
opid=$!
exec 3>"$tmp/feed"
cat "$tmp/part1" >&3
sleep 1
before=$(redis-cli -p "$port" XLEN outflow:alerts:stream)
redis_stop "$REDIS_PID"
cat "$tmp/part2" >&3
sleep 1.5
during=$(wc -l <"$tmp/file2.json")
# The restarted server must not inherit the pipe's write end (fd 3), or the
# sensor would never see the end of its input.
redis_start "$tmp/redis" "$port" --appendonly yes --appendfsync always 3>&- || notok outage "restart failed"
exec 3>&-
wait $opid
rc=$?
stream_alerts outflow:alerts:stream >"$tmp/stream2.json"
n_file=$(wc -l <"$tmp/file2.json")
n_stream=$(grep -c . "$tmp/stream2.json")
if [ $rc -eq 0 ] && [ "$before" -gt 0 ] && [ "$during" -gt "$before" ] && cmp -s "$tmp/file2.json" "$tmp/stream2.json"; then
	ok "outage_loses_and_duplicates_nothing ($before before the outage, $((n_file - before)) during, $n_stream in the stream)"
else
	notok outage_loses_and_duplicates_nothing "exit $rc; before=$before written-by-outage=$during file=$n_file stream=$n_stream" "$(grep -v '^{' "$tmp/err2" | tail -5)"
fi
ids=$(python3 -c 'import json,sys; ids=[json.loads(l)["alert_id"] for l in open(sys.argv[1])]; print(len(ids)-len(set(ids)))' "$tmp/stream2.json")
if [ "$ids" = 0 ]; then ok alert_ids_unique_in_stream; else notok alert_ids_unique_in_stream "$ids duplicates"; fi
if grep -q 'redis' "$tmp/err2" && grep -qi 'connect' "$tmp/err2"; then
	ok outage_is_reported_on_stderr
else
	notok outage_is_reported_on_stderr "$(head -5 "$tmp/err2")"
fi

# --- 3. unreachable Redis at start: clear message, alerts kept, exit 4 ------
dead=$(redis_free_port)
timeout 30 "$outflow" -r "$cap" -q --stats-interval 0 --rules "$rules" --redis "redis://127.0.0.1:$dead" \
	--redis-drain 500 -o /dev/null 2>"$tmp/err3"
rc=$?
if [ $rc -eq 4 ] && grep -q "cannot connect" "$tmp/err3" && grep -q 'could not be delivered' "$tmp/err3"; then
	ok unreachable_redis_is_reported_and_exit_status_says_so
else
	notok unreachable_redis_is_reported_and_exit_status_says_so "exit $rc" "$(grep -v '^{' "$tmp/err3" | head -5)"
fi

# --- 4. spool: Redis down for a whole run; the next start delivers it all ----
redis-cli -p "$port" DEL outflow:alerts:stream >/dev/null
redis_stop "$REDIS_PID"
spool="$tmp/spool"
"$outflow" -r "$cap" -q --stats-interval 0 --rules "$rules" --redis "$url" -o "$tmp/file4.json" \
	--redis-queue 4 --spool-dir "$spool" --redis-drain 300 2>"$tmp/err4"
rc=$?
n_file=$(wc -l <"$tmp/file4.json")
if [ $rc -eq 0 ] && ls "$spool"/outflow-spool-*.log >/dev/null 2>&1 && grep -q 'kept in the spool' "$tmp/err4"; then
	ok "alerts_beyond_the_queue_are_kept_in_the_spool_at_exit ($n_file alerts)"
else
	notok alerts_beyond_the_queue_are_kept_in_the_spool_at_exit "exit $rc" "$(grep -v '^{' "$tmp/err4" | tail -5)"
fi
redis_start "$tmp/redis" "$port" --appendonly yes --appendfsync always || notok spool "restart failed"
head -c 24 "$cap" >"$tmp/empty.pcap"	# a capture with no packets: only the spool has alerts
"$outflow" -r "$tmp/empty.pcap" -q --stats-interval 0 --rules "$rules" --redis "$url" \
	--spool-dir "$spool" -o /dev/null 2>"$tmp/err5"
rc=$?
stream_alerts outflow:alerts:stream >"$tmp/stream4.json"
if [ $rc -eq 0 ] && cmp -s "$tmp/file4.json" "$tmp/stream4.json"; then
	ok "next_start_delivers_the_spool_in_order_exactly_once ($(grep -c . "$tmp/stream4.json") alerts)"
else
	notok next_start_delivers_the_spool_in_order_exactly_once "exit $rc, file $n_file, stream $(grep -c . "$tmp/stream4.json")" "$(grep -v '^{' "$tmp/err5" | tail -5)"
fi
chmod 0777 "$spool"
if ! "$outflow" -r "$tmp/empty.pcap" -q --rules "$rules" --redis "$url" --spool-dir "$spool" -o /dev/null 2>"$tmp/err6" &&
    grep -q 'world-writable' "$tmp/err6"; then
	ok world_writable_spool_directory_is_refused
else
	notok world_writable_spool_directory_is_refused "$(cat "$tmp/err6")"
fi

echo "redis_e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
