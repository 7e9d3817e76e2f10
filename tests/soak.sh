#!/usr/bin/env bash
# The soak run (make soak; not in CI, issue #7): every capture in pcaps/,
# replayed in a loop for MINUTES (default 10) through ONE sensor, to show
# that memory stays flat however long it runs.
#
#   tests/soak.sh [MINUTES]                 (fractions allowed: 0.5)
#   OUTFLOW=build/asan/outflow tests/soak.sh 5
#   SOAK_INTERVAL=S                         seconds between samples (default 5)
#
# The captures go through pcapstretch -f 1 -s EPOCH one after the other, each
# starting a minute after the previous one ended, so packet time only moves
# forward (one round of all of them is ~3 h 20 min of packet time, most of
# it low-and-slow). Their records are concatenated behind a single pcap
# header into the stdin of `outflow -r -`, with the golden tests' scaled
# thresholds so alerts keep firing. Every SOAK_INTERVAL seconds the sensor's
# VmRSS (/proc/PID/status) and its latest stats line are sampled; at the end
# memory is "flat" when the largest RSS of the second half of the run is
# less than 5 % above the largest of the first half.
#
# Prints a table and ok/not ok lines, closes with "soak: N passed, N failed".
# Every process it starts has exited when it returns.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
outflow=${OUTFLOW:-build/outflow}
stretch=build/tools/pcapstretch
minutes=${1:-10}
interval=${SOAK_INTERVAL:-5}
tmp=$(mktemp -d)
feeder='' sensor=''
cleanup() {
	touch "$tmp/stop"
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	[ -n "$sensor" ] && kill "$sensor" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pass=0 fail=0
result() {	# status name detail
	if [ "$1" -eq 0 ]; then echo "ok - soak.$2${3:+ ($3)}"; pass=$((pass + 1))
	else echo "not ok - soak.$2${3:+ ($3)}"; fail=$((fail + 1)); fi
}

seconds=$(awk -v m="$minutes" 'BEGIN { if (m + 0 > 0) printf "%d", m * 60 }')
if [ -z "$seconds" ] || [ "$seconds" -le 0 ]; then
	echo "usage: tests/soak.sh [MINUTES]" >&2; exit 2
fi
for f in "$outflow" "$stretch"; do
	[ -x "$f" ] || { echo "not ok - soak: $f is missing (make)"; exit 1; }
done
caps=(pcaps/*.pcap)
[ -e "${caps[0]}" ] || { echo "not ok - soak: no captures in pcaps/"; exit 1; }
read -r -a scaled < <(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')

# Each capture's span in whole seconds, rounded up (one pass over the records).
python3 - "${caps[@]}" >"$tmp/spans" <<'PY' || { echo "not ok - soak: cannot read the captures"; exit 1; }
import math, struct, sys
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        hdr = f.read(24)
        e = '<' if struct.unpack('<I', hdr[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else '>'
        div = 1e9 if struct.unpack(e + 'I', hdr[:4])[0] == 0xa1b23c4d else 1e6
        lo = hi = None
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            s, frac, incl, _ = struct.unpack(e + 'IIII', rec)
            f.seek(incl, 1)
            t = s + frac / div
            lo = t if lo is None else min(lo, t)
            hi = t if hi is None else max(hi, t)
    print(path, math.ceil(hi - lo) if lo is not None else 0)
PY

# The feeder: one pcap header, then every capture's records, re-based in
# time, round after round until $tmp/stop appears or the sensor goes away.
feed() {
	local t=1772000000 path span
	head -c 24 "${caps[0]}"
	while [ ! -e "$tmp/stop" ]; do
		while read -r path span; do
			[ -e "$tmp/stop" ] && return 0
			"$stretch" -f 1 -s "$t" "$path" - 2>>"$tmp/feed.err" | tail -c +25 || return 0
			t=$((t + span + 60))
		done <"$tmp/spans"
		echo round >>"$tmp/rounds"
	done
}

mkfifo "$tmp/pipe"
feed >"$tmp/pipe" &
feeder=$!
"$outflow" -r - --no-progress --stats-interval "$interval" -o /dev/null "${scaled[@]}" \
	<"$tmp/pipe" 2>"$tmp/err" &
sensor=$!

# One sample: elapsed s, RSS KiB, then figures from the newest stats line.
sample() {
	local rss
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$sensor/status" 2>/dev/null) || return 1
	[ -n "$rss" ] || return 1
	python3 - "$tmp/err" "$1" "$rss" <<'PY'
import json, sys
path, t, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
last = None
for line in open(path, errors='replace'):
    if line.startswith('{') and '"event_type":"stats"' in line:
        last = line
s = json.loads(last) if last else {}
c, f, h, a = (s.get(k, {}) for k in ('capture', 'flows', 'hosts', 'alerts'))
print(t, rss, c.get('packets', 0), f.get('active', 0), f.get('expired', 0) + f.get('closed', 0),
      f.get('evicted', 0), h.get('active', 0), h.get('destinations', 0),
      h.get('evicted', 0) + h.get('destinations_evicted', 0), a.get('total', 0), a.get('engaged', 0))
PY
}

echo "# soak: $outflow, ${#caps[@]} captures in a loop for $seconds s, a sample every $interval s"
printf '%6s %8s %12s %7s %10s %8s %6s %6s %8s %8s %8s\n' time 'RSS MB' packets flows \
	'flows end' 'f.evict' hosts dests 'h+d.evict' alerts engaged
t0=$SECONDS
: >"$tmp/samples"
while [ $((SECONDS - t0)) -lt "$seconds" ] && kill -0 "$sensor" 2>/dev/null; do
	sleep "$interval"
	row=$(sample $((SECONDS - t0))) || break
	echo "$row" >>"$tmp/samples"
	awk '{ printf "%6d %8.1f %12d %7d %10d %8d %6d %6d %8d %8d %8d\n",
	    $1, $2 / 1024, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' <<<"$row"
done

# Stop: the feeder finishes its current capture, the sensor reads to the end.
touch "$tmp/stop"
wait "$feeder" 2>/dev/null
feeder=''
wait "$sensor"
st=$?
sensor=''
rounds=$(grep -c . "$tmp/rounds" 2>/dev/null)
final=$(grep '"final":true' "$tmp/err" | tail -n1)
packets=$(grep -o '"packets":[0-9]*' <<<"$final" | head -n1 | cut -d: -f2)
echo "# $rounds full rounds, ${packets:-?} packets in $((SECONDS - t0)) s"

san=$(grep -c 'runtime error\|Sanitizer' "$tmp/err")
have=present; [ -n "$final" ] || have=missing
result $(( st != 0 || san != 0 || ${#final} == 0 )) sensor_exits_cleanly \
	"exit status $st, $san sanitizer reports, final stats $have"
if [ "$st" -ne 0 ] || [ "$san" -ne 0 ]; then grep -v '^{' "$tmp/err" | tail -n 20 | sed 's/^/  /'; fi

n=$(grep -c . "$tmp/samples")
if [ "$n" -lt 4 ]; then
	result 1 memory_flat "only $n samples: run longer"
else
	# Halves by sample count; flat = max(second) < 1.05 x max(first).
	read -r m1 m2 p1 p2 < <(awk -v n="$n" '
		NR <= n / 2 { if ($2 > m1) m1 = $2; p1 = $3 }
		NR > n / 2 { if ($2 > m2) m2 = $2; p2 = $3 }
		END { print m1, m2, p1, p2 }' "$tmp/samples")
	growth=$(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%+.1f %%", (b - a) * 100 / a }')
	result $(( m2 * 100 >= m1 * 105 )) memory_flat \
		"largest RSS $m1 KiB in the first half, $m2 KiB in the second: $growth"
	result $(( p2 <= p1 )) kept_reading "packets at mid-run $p1, at the end $p2"
fi
echo "soak: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
