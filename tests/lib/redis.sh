# tests/lib/redis.sh - private redis-server instances for tests (source it).
#
# A test must never touch a Redis it did not start, nor leave one behind:
# every server here listens on loopback (or a socket in the test's own
# directory), runs in the foreground as a child of the test shell, and is
# recorded in REDIS_PIDS so redis_stop_all (call it from an EXIT trap) can
# stop exactly what was started.
#
#   redis_free_port              echo a loopback port nobody listens on
#   redis_start DIR PORT [ARGS]  start; sets REDIS_PID; 0 once it is ready
#   redis_stop PID               graceful shutdown (persists AOF), waits
#   redis_stop_all               stops everything redis_start started

REDIS_PIDS=()
REDIS_PID=

redis_free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		# Free if we can bind it ourselves (and nothing answers there).
		if python3 -c 'import socket,sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null &&
		    ! redis-cli -p "$p" ping >/dev/null 2>&1; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# kill -0 also succeeds for a zombie (exited, not yet waited for).
redis_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# Readiness is read from the server's log, which works the same for TCP,
# a unix socket and a server that wants a password.
redis_start() {
	local dir=$1 port=$2 log i
	shift 2
	mkdir -p "$dir"
	log="$dir/redis.log"
	redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
	    --save '' --appendonly no --daemonize no "$@" >>"$log" 2>&1 &
	REDIS_PID=$!
	REDIS_PIDS+=("$REDIS_PID")
	for i in $(seq 1 100); do
		if ! redis_alive "$REDIS_PID"; then
			echo "# redis-server exited at start:" >&2
			sed 's/^/#   /' "$log" | tail -5 >&2
			return 1
		fi
		# Count the Ready lines: a restart appends to the same log.
		if [ "$(grep -ci 'ready to accept connections' "$log")" -ge \
		    "$(grep -c 'Server initialized' "$log")" ] &&
		    grep -q 'Server initialized' "$log"; then
			return 0
		fi
		sleep 0.05
	done
	echo "# redis-server not ready after 5 s" >&2
	return 1
}

# SIGTERM is Redis's graceful shutdown (like SHUTDOWN): it fsyncs the AOF.
redis_stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		redis_alive "$pid" || break
		sleep 0.05
	done
	# Either may fail (it is gone already): fine, and not fatal under set -e.
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

redis_stop_all() {
	local pid
	for pid in "${REDIS_PIDS[@]}"; do
		redis_stop "$pid"
	done
	REDIS_PIDS=()
}
