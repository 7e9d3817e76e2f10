#!/usr/bin/env bash
# test_redis_sink.sh - the Redis sink against real redis-server instances.
#
# Builds tests/integration/redis_sink_outage.c with sensor/sink_redis.c,
# sensor/sink_redis_writer.c,
# sensor/spool.c, sensor/redis_url.c and sensor/log.c only (so another
# module being mid-edit cannot break it), by
# default under ASan+UBSan+LSan; SAN='-fsanitize=thread' or SAN='' to change.
# Each case starts its own server on a free loopback port in a private temp
# dir; everything started is stopped on exit, whatever happens.
#
# Prints "ok - name" / "not ok - name" per case and "N passed, N failed";
# exits non-zero if anything failed. Diagnostics are "# " lines on stderr.

set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/redis.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/outflow-redis-sink.XXXXXX") || exit 1
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	redis_stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

SAN=${SAN--fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer}
WARN="-Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wsign-compare -Wvla"
PROG=$TMP/redis_sink_outage
STREAM=outflow:alerts:stream
CHANNEL=outflow:alerts
PASS=0
FAIL=0

result() {
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"
		PASS=$((PASS + 1))
	else
		echo "not ok - $2"
		FAIL=$((FAIL + 1))
	fi
}

say() { echo "# $*" >&2; }

# shellcheck disable=SC2086 # SAN and WARN are flag lists
if ! ${CC:-cc} -std=gnu11 -O1 -g $WARN $SAN -D_GNU_SOURCE -Isensor -o "$PROG" \
    tests/integration/redis_sink_outage.c sensor/sink_redis.c sensor/sink_redis_writer.c sensor/spool.c \
    sensor/redis_url.c sensor/log.c \
    -lhiredis -lpthread; then
	result 1 "build redis_sink_outage"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi

# field NAME FILE: a number from the program's "delivered=N ..." line.
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$2" | tail -1; }

# expect_stats FILE delivered dropped undelivered
expect_stats() {
	local f=$1 d dr u
	d=$(field delivered "$f"); dr=$(field dropped "$f"); u=$(field undelivered "$f")
	if [ "$d" != "$2" ] || [ "$dr" != "$3" ] || [ "$u" != "$4" ]; then
		say "stats: delivered=$d dropped=$dr undelivered=$u," \
		    "want delivered=$2 dropped=$3 undelivered=$4"
		return 1
	fi
}

# check_stream N PREFIX CLI...: the stream holds exactly PREFIX-000000 ..
# PREFIX-(N-1), each once, in order, each "alert" valid JSON naming its id.
check_stream() {
	local n=$1 prefix=$2
	shift 2
	"$@" --json XRANGE "$STREAM" - + >"$TMP/xrange.json" 2>&1 || {
		say "XRANGE failed: $(head -c 200 "$TMP/xrange.json")"; return 1; }
	python3 - "$TMP/xrange.json" "$n" "$prefix" <<'EOF'
import json, sys
entries = json.load(open(sys.argv[1]))
n, prefix = int(sys.argv[2]), sys.argv[3]
ids = []
for entry_id, fields in entries:
    f = dict(zip(fields[0::2], fields[1::2]))
    alert = json.loads(f["alert"])
    if alert["id"] != f["id"]:
        sys.exit("# entry %s: id field %s, JSON id %s" % (entry_id, f["id"], alert["id"]))
    if alert["note"] != 'a b\\c d\u00e9 \u00e9' or alert["type"] != 'exfil "dns"':
        sys.exit("# entry %s: JSON damaged: %r" % (entry_id, f["alert"]))
    ids.append(f["id"])
ids = [i for i in ids if i.startswith(prefix + "-")]
want = ["%s-%06d" % (prefix, i) for i in range(n)]
if ids != want:
    dup = len(ids) - len(set(ids))
    missing = len(set(want) - set(ids))
    sys.exit("# stream: %d entries for %s (want %d): %d duplicates, %d missing, order %s"
             % (len(ids), prefix, n, dup, missing,
                "ok" if sorted(set(ids)) == [i for i in want if i in set(ids)] else "wrong"))
EOF
}

xlen() { "$@" XLEN "$STREAM"; }

# run_prog OUT ERR ARGS...: the test program in the background; sets PROG_PID.
run_prog() {
	local out=$1 err=$2
	shift 2
	"$PROG" "$@" >"$out" 2>"$err" &
	PROG_PID=$!
	BG_PIDS+=("$PROG_PID")
}

# wait_for PATTERN FILE SECONDS
wait_for() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

sanitizer_clean() {
	if grep -q 'Sanitizer\|runtime error' "$1"; then
		say "sanitizer report in $1:"; sed 's/^/#   /' "$1" | head -20 >&2
		return 1
	fi
}

# a. 1000 alerts: all in the stream in order, all to a subscriber.
case_delivery() {
	local port dir=$TMP/a sub_pid i n
	port=$(redis_free_port) && redis_start "$dir" "$port" || return 1
	timeout 60 redis-cli -p "$port" SUBSCRIBE "$CHANNEL" >"$dir/sub.out" 2>&1 &
	sub_pid=$!
	BG_PIDS+=("$sub_pid")
	for i in $(seq 1 100); do
		[ "$(redis-cli -p "$port" PUBSUB NUMSUB "$CHANNEL" | tail -1)" = 1 ] && break
		sleep 0.05
	done
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 1000 0 65536 10000 a
	wait "$PROG_PID"
	sleep 0.3	# the last PUBLISHes reach the subscriber
	kill "$sub_pid" 2>/dev/null; wait "$sub_pid" 2>/dev/null
	cat "$dir/err" >&2
	say "$(grep rate: "$dir/out")"
	expect_stats "$dir/out" 1000 0 0 || return 1
	[ "$(xlen redis-cli -p "$port")" = 1000 ] || { say "XLEN != 1000"; return 1; }
	check_stream 1000 a redis-cli -p "$port" || return 1
	n=$(python3 - "$dir/sub.out" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
n = 0
for i, l in enumerate(lines):
    if l == "message" and i + 2 < len(lines):
        a = json.loads(lines[i + 2])
        if a["id"] != "a-%06d" % n:
            sys.exit("# subscriber: message %d is %s" % (n, a["id"]))
        n += 1
print(n)
EOF
) || return 1
	[ "$n" = 1000 ] || { say "subscriber received $n of 1000"; return 1; }
	sanitizer_clean "$dir/err"
}

# b. the server goes away for ~1 s mid-stream and comes back (AOF kept).
case_outage() {
	local port dir=$TMP/b pid
	local aof=(--appendonly yes --appendfsync always)
	port=$(redis_free_port) && redis_start "$dir" "$port" "${aof[@]}" || return 1
	pid=$REDIS_PID
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 2000 2000 65536 10000 b
	sleep 1
	say "stopping the server at XLEN $(redis-cli -p "$port" XLEN "$STREAM" 2>&1)"
	redis_stop "$pid"
	sleep 1
	redis_start "$dir" "$port" "${aof[@]}" || return 1
	wait "$PROG_PID"
	cat "$dir/err" >&2
	expect_stats "$dir/out" 2000 0 0 || return 1
	[ "$(field reconnects "$dir/out")" -ge 1 ] || { say "no reconnect counted"; return 1; }
	grep -q 'redis: reconnected to .* after .* s, delivering [0-9]* queued alerts' "$dir/err" ||
		{ say "no 'reconnected' log line"; return 1; }
	[ "$(grep -c 'cannot connect\|lost' "$dir/err")" -le 1 ] ||
		{ say "outage logged more than once"; return 1; }
	check_stream 2000 b redis-cli -p "$port" || return 1
	sanitizer_clean "$dir/err"
}

# c. queue_cap 100, server down, 150 pushed: 50 dropped; the 100 arrive later.
case_overflow() {
	local port dir=$TMP/c
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 150 0 100 10000 c
	wait_for '^pushed' "$dir/out" 5 || { say "program did not push"; return 1; }
	grep -q 'pushed accepted=100 refused=50' "$dir/out" ||
		{ say "$(grep pushed "$dir/out")"; return 1; }
	sleep 0.5
	redis_start "$dir" "$port" || return 1
	wait "$PROG_PID"
	cat "$dir/err" >&2
	expect_stats "$dir/out" 100 50 0 || return 1
	# The writer says it when it notices (rate-limited), close the total.
	grep -q 'queue full (100 messages): [0-9]* alerts dropped' "$dir/err" &&
	    grep -q 'closing with 0 messages undelivered, 50 dropped' "$dir/err" ||
		{ say "drops not logged"; return 1; }
	check_stream 100 c redis-cli -p "$port" || return 1
	sanitizer_clean "$dir/err"
}

# d. requirepass and an ACL user.
case_auth() {
	local port dir=$TMP/d t0 cli rc=0
	port=$(redis_free_port) && redis_start "$dir" "$port" --requirepass s3cret || return 1
	cli=(redis-cli -p "$port" -a s3cret --no-auth-warning)
	"${cli[@]}" ACL SETUSER outflow on '>pw2' '~*' '&*' +@all >/dev/null

	run_prog "$dir/out1" "$dir/err1" "redis://:s3cret@127.0.0.1:$port" 10 0 100 5000 d
	wait "$PROG_PID"
	expect_stats "$dir/out1" 10 0 0 && check_stream 10 d "${cli[@]}"
	result $? "auth: the right password delivers"

	t0=$(date +%s%N)
	run_prog "$dir/out2" "$dir/err2" "redis://:wrong@127.0.0.1:$port" 5 0 100 3000 x
	wait_for "authentication failed for user 'default'.*WRONGPASS" "$dir/err2" 2
	rc=$?
	say "message after $((($(date +%s%N) - t0) / 1000000)) ms: $(head -1 "$dir/err2")"
	wait "$PROG_PID"
	[ $rc -eq 0 ] && expect_stats "$dir/out2" 0 0 5 &&
	    [ "$("${cli[@]}" XLEN "$STREAM")" = 10 ]
	result $? "auth: a wrong password is reported within 2 s, nothing delivered"

	run_prog "$dir/out3" "$dir/err3" "redis://:@127.0.0.1:$port" 1 0 100 1500 y
	wait "$PROG_PID"
	grep -q "NOAUTH.*add a password to the URL" "$dir/err3" && expect_stats "$dir/out3" 0 0 1
	result $? "auth: no password for a server that wants one says NOAUTH"

	run_prog "$dir/out4" "$dir/err4" "redis://outflow:pw2@127.0.0.1:$port" 10 0 100 5000 u
	wait "$PROG_PID"
	run_prog "$dir/out5" "$dir/err5" "redis://outflow:nope@127.0.0.1:$port" 1 0 100 1500 z
	wait "$PROG_PID"
	expect_stats "$dir/out4" 10 0 0 && check_stream 10 u "${cli[@]}" &&
	    grep -q "authentication failed for user 'outflow'" "$dir/err5"
	result $? "auth: an ACL user (user:password) delivers, a wrong one is named"
	cat "$dir"/err? >&2
	sanitizer_clean "$dir/err1" && sanitizer_clean "$dir/err2" && sanitizer_clean "$dir/err4"
}

# e. a unix socket (no TCP at all) and a db number.
case_unix() {
	local dir=$TMP/e sock
	sock=$dir/redis.sock
	redis_start "$dir" 0 --unixsocket "$sock" --unixsocketperm 700 || return 1
	run_prog "$dir/out" "$dir/err" "unix://$sock?db=2" 200 0 1000 5000 e
	wait "$PROG_PID"
	cat "$dir/err" >&2
	expect_stats "$dir/out" 200 0 0 || return 1
	[ "$(redis-cli -s "$sock" -n 0 XLEN "$STREAM")" = 0 ] || { say "wrote to db 0"; return 1; }
	check_stream 200 e redis-cli -s "$sock" -n 2 || return 1
	sanitizer_clean "$dir/err"
}

# f. connections killed again and again mid-pipeline: each id still once.
case_killed() {
	local port dir=$TMP/f kills=0
	port=$(redis_free_port) && redis_start "$dir" "$port" || return 1
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 20000 50 65536 20000 f
	while redis_alive "$PROG_PID"; do
		redis-cli -p "$port" CLIENT KILL TYPE normal >/dev/null 2>&1 && kills=$((kills + 1))
		sleep 0.02
	done
	wait "$PROG_PID"
	say "$kills kills; $(grep -c 'had already arrived' "$dir/err") interrupted batches" \
	    "reconciled, $(field reconnects "$dir/out") reconnects"
	expect_stats "$dir/out" 20000 0 0 || return 1
	check_stream 20000 f redis-cli -p "$port" || return 1
	sanitizer_clean "$dir/err"
}

# no_segments DIR: the spool is empty on disk (delivered segments deleted).
no_segments() {
	local left
	left=$(find "$1" -name 'outflow-spool-*' | wc -l)
	[ "$left" = 0 ] || { say "$left spool files left in $1"; return 1; }
}

# g. an outage longer than the memory queue: queue_cap 50, 500 alerts
# pushed while the server is down spill to the spool; all 500 arrive, once,
# in order, when it is back, and the spool is emptied.
case_spill() {
	local port dir=$TMP/spill
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 500 0 50 15000 g \
	    "spool=$dir/spool"
	wait_for '^pushed' "$dir/out" 5 || { say "program did not push"; return 1; }
	grep -q 'pushed accepted=500 refused=0' "$dir/out" ||
		{ say "$(grep pushed "$dir/out")"; return 1; }
	sleep 0.5
	redis_start "$dir" "$port" || return 1
	wait "$PROG_PID"
	cat "$dir/err" >&2
	say "$(grep delivered= "$dir/out")"
	expect_stats "$dir/out" 500 0 0 || return 1
	[ "$(field spooled "$dir/out")" -ge 400 ] || { say "spooled < 400"; return 1; }
	[ "$(field replayed "$dir/out")" = "$(field spooled "$dir/out")" ] ||
		{ say "replayed != spooled"; return 1; }
	[ "$(field spool_pending "$dir/out")" = 0 ] && [ "$(field spool_bytes "$dir/out")" = 0 ] ||
		{ say "spool not empty"; return 1; }
	grep -q 'spilling alerts to the spool' "$dir/err" || { say "spill not logged"; return 1; }
	check_stream 500 g redis-cli -p "$port" || return 1
	no_segments "$dir/spool" || return 1
	sanitizer_clean "$dir/err"
}

# h. restart: 300 alerts pushed while the server is down (50 in memory,
# 250 spooled), the program exits; a new one, server up, no new alerts,
# delivers the 300 once, in order: the 50 from memory were kept too.
case_restart() {
	local port dir=$TMP/restart
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out1" "$dir/err1" "redis://127.0.0.1:$port" 300 0 50 300 h \
	    "spool=$dir/spool"
	wait "$PROG_PID"
	cat "$dir/err1" >&2
	grep -q 'pushed accepted=300 refused=0' "$dir/out1" &&
	    grep -q '300 alerts kept in the spool' "$dir/err1" &&
	    [ "$(field undelivered "$dir/out1")" = 0 ] ||
		{ say "first run: $(grep -h 'delivered=\|pushed' "$dir/out1")"; return 1; }
	redis_start "$dir" "$port" || return 1
	run_prog "$dir/out2" "$dir/err2" "redis://127.0.0.1:$port" 0 0 50 10000 h \
	    "spool=$dir/spool"
	wait "$PROG_PID"
	cat "$dir/err2" >&2
	say "second run: $(grep delivered= "$dir/out2")"
	grep -q '300 alerts from a previous run' "$dir/err2" ||
		{ say "previous run's spool not announced"; return 1; }
	[ "$(field delivered "$dir/out2")" = 300 ] && [ "$(field replayed "$dir/out2")" = 300 ] &&
	    [ "$(field spool_pending "$dir/out2")" = 0 ] ||
		{ say "second run did not replay 300"; return 1; }
	check_stream 300 h redis-cli -p "$port" || return 1
	no_segments "$dir/spool" || return 1
	sanitizer_clean "$dir/err1" && sanitizer_clean "$dir/err2"
}

# i. restart with new alerts: what the previous run spooled goes first.
case_restart_new() {
	local port dir=$TMP/restart2
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out1" "$dir/err1" "redis://127.0.0.1:$port" 200 0 30 200 i \
	    "spool=$dir/spool"
	wait "$PROG_PID"
	redis_start "$dir" "$port" || return 1
	run_prog "$dir/out2" "$dir/err2" "redis://127.0.0.1:$port" 300 0 30 10000 i \
	    "spool=$dir/spool" start=200
	wait "$PROG_PID"
	cat "$dir/err1" "$dir/err2" >&2
	say "second run: $(grep delivered= "$dir/out2")"
	[ "$(field delivered "$dir/out2")" = 500 ] && [ "$(field dropped "$dir/out2")" = 0 ] ||
		{ say "second run did not deliver 500"; return 1; }
	check_stream 500 i redis-cli -p "$port" || return 1
	no_segments "$dir/spool" || return 1
	sanitizer_clean "$dir/err1" && sanitizer_clean "$dir/err2"
}

# j. the spool's cap: 8 KiB holds ~80 alerts; the rest are dropped,
# counted, and said once; what was accepted arrives in order.
case_spool_cap() {
	local port dir=$TMP/cap acc ref
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 500 0 50 15000 j \
	    "spool=$dir/spool" spool_max=8192
	wait_for '^pushed' "$dir/out" 5 || { say "program did not push"; return 1; }
	acc=$(field accepted "$dir/out"); ref=$(field refused "$dir/out")
	[ "$ref" -gt 0 ] && [ $((acc + ref)) = 500 ] || { say "accepted=$acc refused=$ref"; return 1; }
	wait_for 'spool in .* is full: dropping new alerts' "$dir/err" 5 ||
		{ say "no 'spool full' warning"; return 1; }
	redis_start "$dir" "$port" || return 1
	wait "$PROG_PID"
	cat "$dir/err" >&2
	say "$(grep delivered= "$dir/out")"
	expect_stats "$dir/out" "$acc" "$ref" 0 || return 1
	[ "$(grep -c 'is full: dropping' "$dir/err")" = 1 ] || { say "warned more than once"; return 1; }
	check_stream "$acc" j redis-cli -p "$port" || return 1
	sanitizer_clean "$dir/err"
}

# k. an unsafe spool directory is refused at open.
case_spool_unsafe() {
	local dir=$TMP/unsafe rc=0
	mkdir -p "$dir/ww" && chmod 0777 "$dir/ww" && ln -s "$dir/ww" "$dir/link"
	"$PROG" redis://127.0.0.1:1 1 0 10 100 k "spool=$dir/ww" >"$dir/out1" 2>"$dir/err1" && rc=1
	grep -q 'world-writable' "$dir/err1" || rc=1
	"$PROG" redis://127.0.0.1:1 1 0 10 100 k "spool=$dir/link" >"$dir/out2" 2>"$dir/err2" && rc=1
	grep -q 'symlink' "$dir/err2" || rc=1
	[ $rc = 0 ] || { say "$(cat "$dir/err1" "$dir/err2")"; return 1; }
}

# l. spool and broken pipelines together: queue_cap 64, the server stopped
# for a second and connections killed throughout: each id once, in order.
case_spool_killed() {
	local port dir=$TMP/spoolkill pid kills=0 i
	local aof=(--appendonly yes --appendfsync always)
	port=$(redis_free_port) && redis_start "$dir" "$port" "${aof[@]}" || return 1
	pid=$REDIS_PID
	run_prog "$dir/out" "$dir/err" "redis://127.0.0.1:$port" 8000 100 64 20000 l \
	    "spool=$dir/spool"
	sleep 0.3
	redis_stop "$pid"
	sleep 1
	redis_start "$dir" "$port" "${aof[@]}" || return 1
	for i in $(seq 1 40); do
		redis-cli -p "$port" CLIENT KILL TYPE normal >/dev/null 2>&1 && kills=$((kills + 1))
		sleep 0.02
	done
	wait "$PROG_PID"
	say "$kills kills; $(grep delivered= "$dir/out")"
	expect_stats "$dir/out" 8000 0 0 || return 1
	[ "$(field spooled "$dir/out")" -gt 0 ] || { say "nothing spooled"; return 1; }
	check_stream 8000 l redis-cli -p "$port" || return 1
	no_segments "$dir/spool" || return 1
	sanitizer_clean "$dir/err"
}

# m. SIGKILL mid-replay, then a restart: the replayed-but-unacknowledged
# batch is reconciled against the stream, so each id still arrives once.
case_spool_crash() {
	local port dir=$TMP/crash i
	port=$(redis_free_port) || return 1
	mkdir -p "$dir"
	run_prog "$dir/out1" "$dir/err1" "redis://127.0.0.1:$port" 20000 0 64 200 m \
	    "spool=$dir/spool"
	wait "$PROG_PID"
	redis_start "$dir" "$port" || return 1
	run_prog "$dir/out2" "$dir/err2" "redis://127.0.0.1:$port" 0 0 64 20000 m \
	    "spool=$dir/spool"
	for i in $(seq 1 2000); do
		[ "$(redis-cli -p "$port" XLEN "$STREAM")" -ge 3000 ] && break
	done
	kill -KILL "$PROG_PID"; wait "$PROG_PID" 2>/dev/null
	say "killed at XLEN $(redis-cli -p "$port" XLEN "$STREAM")"
	run_prog "$dir/out3" "$dir/err3" "redis://127.0.0.1:$port" 0 0 64 20000 m \
	    "spool=$dir/spool"
	wait "$PROG_PID"
	cat "$dir/err3" >&2
	check_stream 20000 m redis-cli -p "$port" || return 1
	no_segments "$dir/spool" || return 1
	sanitizer_clean "$dir/err1" && sanitizer_clean "$dir/err3"
}

# Each case's servers stop when it ends (and on any exit, by the trap).
run_case() {
	"$1"
	result $? "$2"
	redis_stop_all
}

run_case case_delivery "delivery: 1000 alerts in the stream once, in order, and to a subscriber"
run_case case_outage "outage: server down ~1 s mid-stream, every alert exactly once, in order"
run_case case_overflow "overflow: queue_cap 100, 150 pushed while down: 50 dropped, 100 arrive"
run_case case_auth "auth: no sanitizer reports"
run_case case_unix "unix socket: delivers to the selected db"
run_case case_killed "killed connections: exactly once across interrupted pipelines"
run_case case_spill "spool: queue_cap 50, 500 pushed while down: all arrive once, in order, spool emptied"
run_case case_restart "spool: exit while down, restart: the 300 kept alerts arrive once, in order"
run_case case_restart_new "spool: restart with new alerts: the spooled ones arrive first"
run_case case_spool_cap "spool: cap reached: drops counted and warned once, the rest in order"
run_case case_spool_killed "spool: outage and killed connections together: each id once, in order"
run_case case_spool_crash "spool: killed (SIGKILL) mid-replay, restarted: each id once, in order"
run_case case_spool_unsafe "spool: a world-writable or symlinked directory is refused"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
