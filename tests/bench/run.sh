#!/usr/bin/env bash
# The benchmark (make bench; not a test): outflow against the floor (a bare
# libpcap read loop, build/tools/pcapread) and the reference (nDPI's own
# ndpiReader, one thread), on two synthetic captures made by pcapgen. outflow
# runs twice: with the default rules, and with only their host and destination
# rules (outflow-vol: every detector module idle), which splits its cost into
# the core path and the modules. BENCH_MODULES=1 then prices each module alone.
#   mixed  ~1.5 M packets of realistic interleaved traffic (TLS, DNS, HTTP,
#          QUIC-like, ICMP, a few bulk uploads): packets/s on a tap-like mix
#   flows  1 M concurrent TLS flows: peak memory per flow
# Each tool runs BENCH_RUNS times (default 3) per capture; the table shows
# the median wall time and peak RSS (wait4's ru_maxrss, as /usr/bin/time %M).
#
#   BENCH_RUNS=N          runs per tool and capture (median reported)
#   BENCH_QUICK=1         small captures (200 k packets, 100 k flows)
#   BENCH_MODULES=1       also each detector module's cost on the mixed capture:
#                         outflow-vol's rules plus that module's
#   BENCH_ALERTS=0        skip the alert path (a burst of alerts into a private
#                         redis-server; run when redis-server is installed)
#   OUTFLOW_BENCH_ARGS    extra arguments for build/outflow -r FILE -q
#   BUILD=dir             build directory (default build)
#
# Captures are generated into $BUILD/bench/ only when missing or when
# tools/pcapgen.c, tools/pcapgen_proto.h or the generator arguments changed. Needs no root; every
# process it starts (the alert path's redis-server included) has exited when it returns.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench
RUNS=${BENCH_RUNS:-3}
QUICK=${BENCH_QUICK:-0}
CC=${CC:-cc}
OUTFLOW=$BUILD/outflow
PCAPGEN=$BUILD/tools/pcapgen
PCAPREAD=$BUILD/tools/pcapread
NDPIREADER=$(command -v ndpiReader || true)
read -r -a OUTFLOW_ARGS <<<"${OUTFLOW_BENCH_ARGS:-}"

die() { echo "bench: $*" >&2; exit 1; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
for t in "$PCAPGEN" "$PCAPREAD"; do
	[ -x "$t" ] || die "$t missing: run make tools (or make bench)"
done
mkdir -p "$OUT/logs"

# The measuring helper: rebuilt when its source changes.
MEASURE=$OUT/runmeasure
if [ ! -x "$MEASURE" ] || [ tests/bench/runmeasure.c -nt "$MEASURE" ]; then
	$CC -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$MEASURE" tests/bench/runmeasure.c
fi

# gen NAME MODE ARGS...: regenerate $OUT/NAME.pcap only if its recipe changed.
# The recipe is the generator's source hash plus the arguments: pcapgen is
# deterministic, so the same recipe means the same bytes.
gen() {
	local name=$1 mode=$2; shift 2
	local file=$OUT/$name.pcap stamp=$OUT/$name.recipe recipe
	recipe="$(cat tools/pcapgen.c tools/pcapgen_proto.h | sha256sum | cut -d' ' -f1) $mode $*"
	if [ -f "$file" ] && [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$recipe" ]; then
		return
	fi
	rm -f "$file" "$stamp"
	echo "bench: generating $file ($mode $*)" >&2
	local t0=$SECONDS
	"$PCAPGEN" "$mode" -o "$file.tmp" "$@" 2>"$OUT/logs/gen-$name.log" ||
		{ cat "$OUT/logs/gen-$name.log" >&2; die "pcapgen failed"; }
	mv "$file.tmp" "$file"
	{ echo "$recipe"; cat "$OUT/logs/gen-$name.log"; } >"$stamp"
	echo "bench:   $(cat "$OUT/logs/gen-$name.log") in $((SECONDS - t0)) s" >&2
}

if [ "$QUICK" = 1 ]; then
	MIXED=mixed-quick FLOWS=flows-quick
	gen "$MIXED" mixed -p 200000
	gen "$FLOWS" flows -n 100000
else
	MIXED=mixed FLOWS=flows
	gen "$MIXED" mixed -p 1500000
	gen "$FLOWS" flows -n 1000000
fi

# Command line of TOOL on FILE; empty when the tool is not available.
cmd_for() {
	local tool=$1 file=$2
	case $tool in
	pcapread)   echo "$PCAPREAD $file" ;;
	# -q: no per-flow or summary output; pcap files always use one thread.
	ndpiReader) [ -n "$NDPIREADER" ] && echo "$NDPIREADER -i $file -q" ;;
	outflow)    [ -x "$OUTFLOW" ] && echo "$OUTFLOW -r $file -q ${OUTFLOW_ARGS[*]}" ;;
	# The same sensor with only the host and destination rules: every
	# detector module idle, so the difference to "outflow" is what the
	# modules cost.
	outflow-vol) [ -x "$OUTFLOW" ] && echo "$OUTFLOW -r $file -q --rules $VOLUME_RULES ${OUTFLOW_ARGS[*]}" ;;
	esac
	return 0
}

# rules_of MODULE...: the shipped rules whose conditions belong to these
# modules ("core": host and destination rules, which detect.c computes with no
# module), thresholds and exceptions as they are, with every var.
rules_of() {
	awk -v want=" $* " '
	function module(metric,   p) {
		p = metric; sub(/\..*/, "", p)
		if (p == "host" || p == "dest") return "core"
		if (p == "beacon" || p == "chunk") return "peer"
		return p
	}
	/^rule / { inrule = 1; n = 0 }
	inrule { buf[++n] = $0; if ($1 == "when") m = module($2) }
	!inrule { print }
	inrule && /^}/ {
		if (index(want, " " m " ")) for (i = 1; i <= n; i++) print buf[i]
		inrule = 0
	}' rules/default.rules
}
VOLUME_RULES=$OUT/volume.rules
rules_of core >"$VOLUME_RULES"

TOOLS=(pcapread ndpiReader outflow outflow-vol)
RESULTS=$OUT/results.txt
: >"$RESULTS"

# Interleave the tools within each round so drift (thermal, other load)
# spreads over all of them rather than landing on one.
for cap in "$MIXED" "$FLOWS"; do
	file=$OUT/$cap.pcap
	cat "$file" >/dev/null          # page cache warm: we time processing, not the disk
	for ((run = 1; run <= RUNS; run++)); do
		for tool in "${TOOLS[@]}"; do
			cmd=$(cmd_for "$tool" "$file")
			[ -n "$cmd" ] || continue
			log=$OUT/logs/$tool-$cap-$run.log res=$OUT/logs/$tool-$cap-$run.res
			# shellcheck disable=SC2086 # the command line is split on purpose
			if ! "$MEASURE" "$res" $cmd >"$log" 2>&1; then
				echo "bench: $tool on $cap failed (run $run), see $log" >&2
				continue
			fi
			echo "$tool $cap $(cat "$res")" >>"$RESULTS"
		done
	done
done

# Packets and wire bytes of each capture, from pcapread's own count.
meta() {
	local cap=$1
	awk '{ print $2, $4 }' "$OUT/logs/pcapread-$cap-1.log"
}
flows_of() {
	sed -n 's/.* \([0-9]*\) flows$/\1/p' "$OUT/$1.recipe"
}

printf '\nOutflow benchmark: %s runs per tool, median shown. Captures in %s/:\n' "$RUNS" "$OUT"
for cap in "$MIXED" "$FLOWS"; do
	printf '  %-17s %s (%s)\n' "$cap.pcap" "$(sed -n 2p "$OUT/$cap.recipe" | sed 's/^pcapgen: [^:]*: //')" \
		"$(du -h "$OUT/$cap.pcap" | cut -f1)"
done
printf '\n%-11s %-12s %9s %9s %7s %10s %8s %8s %9s %8s %7s %8s %9s\n' \
	tool capture packets 'median s' 'CPU s' 'pkts/s' 'Gbit/s' 'ns/pkt' 'RSS MB' 't/ndpi' 'c/ndpi' 't/pcapr' 'KB/flow'
for cap in "$MIXED" "$FLOWS"; do
	read -r packets bytes < <(meta "$cap")
	nflows=$(flows_of "$cap")
	perflow=0
	[ "$cap" = "$FLOWS" ] && perflow=$nflows
	for tool in "${TOOLS[@]}"; do
		if ! grep -q "^$tool $cap " "$RESULTS"; then
			why="not run"
			compgen -G "$OUT/logs/$tool-$cap-*.log" >/dev/null && why="failed, see $OUT/logs/$tool-$cap-*.log"
			[ "$tool" = outflow ] && [ ! -x "$OUTFLOW" ] && why="n/a ($OUTFLOW missing)"
			[ "$tool" = ndpiReader ] && [ -z "$NDPIREADER" ] && why="n/a (ndpiReader missing: apt install libndpi-bin)"
			printf '%-11s %-12s %s\n' "$tool" "$cap" "$why"
			continue
		fi
		awk -v tool="$tool" -v cap="$cap" -v packets="$packets" -v bytes="$bytes" \
		    -v perflow="$perflow" -f tests/bench/median.awk -f - "$RESULTS" <<'AWK'
$2 == cap { k = $1; nt[k]++; T[k, nt[k]] = $3; R[k, nt[k]] = $4; C[k, nt[k]] = $6 }
END {
	for (k in nt) {
		n = nt[k]
		for (i = 1; i <= n; i++) { t[i] = T[k, i]; r[i] = R[k, i]; c[i] = C[k, i] }
		mt[k] = median(t, n); mr[k] = median(r, n); mc[k] = median(c, n)
		delete t; delete r; delete c
	}
	s = mt[tool]
	printf "%-11s %-12s %9d %9.3f %7.2f %10.0f %8.2f %8.1f %9.1f", tool, cap, packets, s, mc[tool],
	    packets / s, bytes * 8 / s / 1e9, s * 1e9 / packets, mr[tool] / 1024
	printf " %8s", ("ndpiReader" in mt) ? sprintf("%.2f", s / mt["ndpiReader"]) : "-"
	printf " %7s", ("ndpiReader" in mc) ? sprintf("%.2f", mc[tool] / mc["ndpiReader"]) : "-"
	printf " %8s", ("pcapread" in mt) ? sprintf("%.2f", s / mt["pcapread"]) : "-"
	printf " %9s\n", (perflow > 0 ? sprintf("%.3f", mr[tool] / perflow) : "-")
}
AWK
	done
done
cat <<EOF

outflow-vol: outflow with only the host and destination rules of rules/default.rules
(volume, ratio, unusual protocol), so every detector module is idle; outflow minus
outflow-vol is what the modules cost.
t/ndpi, t/pcapr: median wall time relative to ndpiReader / pcapread (below 1 = faster).
CPU s, c/ndpi: median user + system CPU time, and relative to ndpiReader's. outflow reads
a capture file on a second thread (sensor/readahead.c), so its CPU time exceeds its wall
time; the analysis itself is one thread.
KB/flow: peak RSS divided by the number of concurrent flows in the capture.
Wall time includes start-up (ndpiReader loads its protocol tables: ~30 ms).
Raw results: $RESULTS; per-run output: $OUT/logs/.
EOF

# The alert path: a rule that fires for every destination that received more
# than 1 KB in a minute raises tens of thousands of alerts on the mixed
# capture. outflow runs with it into a private redis-server (started here on
# a free loopback port, stopped before this returns) and with no Redis, both
# also writing the alerts to a file (-o): the difference is what delivery
# costs the capture, which it must not slow (Redis is written by its own
# thread). Delivered = the stream's length (each alert is XADDed exactly
# once); alerts/s = delivered / wall time of the Redis run, the final drain
# included. BENCH_ALERTS=0 skips it.
if [ "${BENCH_ALERTS:-1}" = 1 ] && [ -x "$OUTFLOW" ] && command -v redis-server >/dev/null &&
    command -v redis-cli >/dev/null; then
	# shellcheck source=tests/lib/redis.sh
	. tests/lib/redis.sh
	trap redis_stop_all EXIT
	port=$(redis_free_port) || die "alert path: no free loopback port"
	rm -rf "$OUT/redis"
	redis_start "$OUT/redis" "$port" || die "alert path: redis-server did not start"
	cat >"$OUT/burst.rules" <<'RULES'
rule every-dest {
    category  bulk-transfer
    when      dest.out.bytes[1min] > 1 KB
    severity  low
    message   "{src_ip} {dest_ip}"
    suppress  1 min
}
RULES
	file=$OUT/$MIXED.pcap
	: >"$OUT/alerts.res"
	for ((run = 1; run <= RUNS; run++)); do
		redis-cli -p "$port" DEL outflow:alerts:stream >/dev/null
		rm -f "$OUT/alerts-off.json" "$OUT/alerts-on.json"	# -o appends
		"$MEASURE" "$OUT/alerts-off.one" "$OUTFLOW" -r "$file" -q --stats-interval 0 --rules "$OUT/burst.rules" \
			-o "$OUT/alerts-off.json" "${OUTFLOW_ARGS[@]}" >"$OUT/logs/alerts-off-$run.log" 2>&1 ||
			die "alert path: outflow failed, see $OUT/logs/alerts-off-$run.log"
		"$MEASURE" "$OUT/alerts-on.one" "$OUTFLOW" -r "$file" -q --stats-interval 0 --rules "$OUT/burst.rules" \
			-o "$OUT/alerts-on.json" --redis "redis://127.0.0.1:$port" "${OUTFLOW_ARGS[@]}" >"$OUT/logs/alerts-redis-$run.log" 2>&1 ||
			die "alert path: outflow with Redis failed, see $OUT/logs/alerts-redis-$run.log"
		raised=$(wc -l <"$OUT/alerts-on.json")
		delivered=$(redis-cli -p "$port" XLEN outflow:alerts:stream)
		dropped=$(grep -o '"dropped":[0-9]*' "$OUT/logs/alerts-redis-$run.log" | tail -1 | cut -d: -f2 || true)
		echo "$(cut -d' ' -f1 "$OUT/alerts-off.one") $(cut -d' ' -f1 "$OUT/alerts-on.one") $raised $delivered ${dropped:-?}" \
			>>"$OUT/alerts.res"
	done
	redis_stop_all
	trap - EXIT
	printf '\nAlert path on %s (rule every-dest in %s, %s runs, median wall time):\n' \
		"$MIXED.pcap" "$OUT/burst.rules" "$RUNS"
	awk -f tests/bench/median.awk -f - "$OUT/alerts.res" <<'AWK'
{ off[NR] = $1; on[NR] = $2; rate[NR] = $4 / $2; if ($4 != $3 || $5 != 0) bad++
  line = line sprintf("  run %d: %d alerts raised, %d delivered, %s dropped\n", NR, $3, $4, $5) }
END {
	printf "%s", line
	mon = median(on, NR); moff = median(off, NR)
	printf "  wall %.2f s with Redis, %.2f s without: %+.1f %%\n", mon, moff, (mon / moff - 1) * 100
	printf "  %.0f alerts/s delivered\n", median(rate, NR)
	if (bad) printf "  %d run(s) did not deliver every alert raised\n", bad
}
AWK
fi

# Each module on its own: the core rules plus the module's, against the core
# rules alone, on the mixed capture. CPU time (user + system) rather than wall
# time, and the median of the runs: the differences are tenths of a second.
if [ "${BENCH_MODULES:-0}" = 1 ] && [ -x "$OUTFLOW" ]; then
	file=$OUT/$MIXED.pcap
	printf '\nDetector modules on %s (%s runs each, median CPU s and peak RSS):\n' "$MIXED.pcap" "$RUNS"
	printf '%-10s %8s %8s %8s %8s\n' module 'cpu s' '+cpu s' 'RSS MB' '+MB'
	base_cpu=
	for m in core peer conn baseline dns icmp staging newdest risk all; do
		if [ $m = all ]; then cp rules/default.rules "$OUT/mod-$m.rules"
		elif [ $m = core ]; then rules_of core >"$OUT/mod-$m.rules"
		else rules_of core $m >"$OUT/mod-$m.rules"; fi
		: >"$OUT/mod-$m.res"
		for ((run = 1; run <= RUNS; run++)); do
			# shellcheck disable=SC2086
			"$MEASURE" "$OUT/mod-$m.one" $OUTFLOW -r "$file" -q --rules "$OUT/mod-$m.rules" \
				${OUTFLOW_ARGS[*]} >"$OUT/logs/mod-$m-$run.log" 2>&1 ||
				die "outflow with $OUT/mod-$m.rules failed, see $OUT/logs/mod-$m-$run.log"
			cat "$OUT/mod-$m.one" >>"$OUT/mod-$m.res"
		done
		read -r cpu rss < <(sort -n -k4 "$OUT/mod-$m.res" | awk '{ c[NR] = $4; r[NR] = $2 }
			END { printf "%.3f %.1f\n", c[int((NR + 1) / 2)], r[int((NR + 1) / 2)] / 1024 }')
		if [ -z "$base_cpu" ]; then base_cpu=$cpu base_rss=$rss; fi
		awk -v m="$m" -v c="$cpu" -v bc="$base_cpu" -v r="$rss" -v br="$base_rss" \
			'BEGIN { printf "%-10s %8.2f %+8.2f %8.1f %+8.1f\n", m, c, c - bc, r, r - br }'
	done
fi
