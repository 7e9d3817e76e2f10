#!/usr/bin/env bash
# Live capture for real: a network namespace made here, a veth pair inside
# it, outflow -i listening on one end while tcpreplay plays a sample capture
# into the other. The live run must raise the same alerts (rule, category,
# host, destination) as `outflow -r` on the same capture, and report zero
# kernel drops. Needs root (namespaces); skips cleanly without it.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
cap=${LIVE_CAPTURE:-pcaps/breach.pcap}
if [ "$(id -u)" -ne 0 ] || ! command -v tcpreplay >/dev/null || ! command -v ip >/dev/null; then
	echo "# skip: live capture test needs root, iproute2 and tcpreplay"
	echo "live: 0 passed, 0 failed"; exit 0
fi
ns="outflow-live-$$"
tmp=$(mktemp -d)
OPID=
cleanup() {
	[ -n "$OPID" ] && kill -KILL "$OPID" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok - live.$1"; pass=$((pass + 1)); }
notok() { echo "not ok - live.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')

if ! ip netns add "$ns" 2>"$tmp/err"; then
	echo "# skip: cannot create a network namespace: $(cat "$tmp/err")"
	echo "live: 0 passed, 0 failed"; exit 0
fi
ip -n "$ns" link add tap0 type veth peer name tap1
ip -n "$ns" link set tap0 up
ip -n "$ns" link set tap1 up
# No offloads, and room for full-size frames: the wire must carry what the capture says.
ip netns exec "$ns" ethtool -K tap0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ip netns exec "$ns" ethtool -K tap1 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

# shellcheck disable=SC2086
"$outflow" -r "$cap" -q --stats-interval 0 -o "$tmp/offline.json" $scaled 2>/dev/null
# shellcheck disable=SC2086
mkdir -m 0755 "$tmp/jail"
ip netns exec "$ns" "$outflow" -i tap1 -B 64 -q --stats-interval 0 -o "$tmp/live.json" $scaled \
	--chroot "$tmp/jail" 2>"$tmp/live.err" &
OPID=$!
for _ in $(seq 1 50); do grep -q 'reading tap1' "$tmp/live.err" && break; sleep 0.1; done
user=$(ps -o user= -p "$OPID" | tr -d ' ')
root=$(readlink "/proc/$OPID/root")
if [ "$user" = nobody ] && grep -q 'running as nobody in' "$tmp/live.err" && [ "$root" = "$tmp/jail" ]; then
	ok root_live_capture_drops_to_nobody_in_a_chroot_before_the_first_packet
else
	notok root_live_capture_drops_to_nobody_in_a_chroot_before_the_first_packet "runs as '$user' in '$root'"
fi
# Sliced sample frames are padded back to their original length first, so
# the live sensor sees on the wire the volumes the capture recorded.
tcprewrite --fixlen=pad -i "$cap" -o "$tmp/padded.pcap" >"$tmp/replay.log" 2>&1
ip netns exec "$ns" tcpreplay -q -i tap0 -x 10 "$tmp/padded.pcap" >>"$tmp/replay.log" 2>&1
sleep 1
kill -TERM "$OPID"; wait "$OPID"; rc=$?; OPID=

key() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    print(a["alert"]["rule"], a["alert"]["category"], a["alert"]["severity"], a["src_ip"], a.get("dest_ip", "-"))' "$1" | sort; }
key "$tmp/offline.json" >"$tmp/k.off"
key "$tmp/live.json" >"$tmp/k.live"
if [ $rc -eq 0 ] && [ -s "$tmp/k.off" ] && cmp -s "$tmp/k.off" "$tmp/k.live"; then
	ok "live_capture_raises_the_offline_alerts ($(wc -l <"$tmp/k.live") alerts)"
else
	notok live_capture_raises_the_offline_alerts "exit $rc" "offline: $(tr '\n' ';' <"$tmp/k.off")" \
		"live:    $(tr '\n' ';' <"$tmp/k.live")" "$(grep -v '^{' "$tmp/live.err" | tail -3)" "$(tail -3 "$tmp/replay.log")"
fi
drops=$(grep -o '"kernel_drops":[0-9]*' "$tmp/live.err" | tail -1 | cut -d: -f2)
recv=$(grep -o '"kernel_recv":[0-9]*' "$tmp/live.err" | tail -1 | cut -d: -f2)
if [ "${drops:-x}" = 0 ] && [ "${recv:-0}" -gt 0 ]; then
	ok "kernel_drops_reported_and_zero (kernel_recv $recv)"
else
	notok kernel_drops_reported_and_zero "kernel_recv=${recv:-?} kernel_drops=${drops:-?}"
fi
echo "live: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
