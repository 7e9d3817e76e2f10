#!/usr/bin/env bash
# The README's first command, scripts/demo.sh, as a user runs it: exit 0,
# the breach's alerts received on the Redis channel (the staging story
# with both halves), the stream holding the same alerts, the staging alert
# read back as JSON, and no redis-server left behind. Run a few times: its
# failures were in the teardown and in a pipeline's timing (SIGPIPE under
# pipefail), after everything had been shown.
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - demo.$1"; pass=$((pass + 1)); }
notok() { echo "not ok - demo.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }
runs=${DEMO_RUNS:-3}

before=$(pgrep -c -x redis-server || true)
bad=0 detail=
for i in $(seq 1 "$runs"); do
	scripts/demo.sh >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		bad=$((bad + 1)) detail="run $i: exit $rc; $(tail -n 3 "$tmp/out" | tr '\n' ' ')"
	fi
done
if [ "$bad" -eq 0 ]; then
	ok "exits_0 ($runs runs)"
else
	notok "exits_0" "$bad of $runs runs failed" "$detail"
fi

# The last run's output, as the README describes it.
alerts=$(grep -cE '^[0-9T:.+-]+  (LOW|MEDIUM|HIGH|CRITICAL) ' "$tmp/out")
stream=$(sed -n 's/^== the same alerts, kept in stream outflow:alerts:stream: \([0-9]*\) entries$/\1/p' "$tmp/out")
if [ "$alerts" -ge 5 ] && grep -q 'staging        staging-then-transfer' "$tmp/out" &&
    grep -q '<- 10.20.2.1[0-2] ' "$tmp/out" && grep -q 'then, [0-9]* s later:' "$tmp/out" &&
    [ "${stream:-0}" -eq "$alerts" ]; then
	ok "shows_the_breach_alerts_and_the_stream_holds_them ($alerts alerts, stream $stream)"
else
	notok "shows_the_breach_alerts_and_the_stream_holds_them" "alerts $alerts, stream ${stream:-none}" \
	    "$(head -n 20 "$tmp/out")"
fi
if python3 - "$tmp/out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
start = text.index("== the staging-then-transfer alert as JSON")
body = text[start:].split("\n", 1)[1]
body = body[:body.index("\n== sensor log")]
a = json.loads(body)
assert a["alert"]["rule"] == "staging-then-transfer", a["alert"]["rule"]
assert a["evidence"]["staging"]["collected"]["sources"] == 3
PY
then
	ok "staging_alert_read_back_as_json"
else
	notok "staging_alert_read_back_as_json" "$(sed -n '/as JSON/,/sensor log/p' "$tmp/out" | head -n 5)"
fi
after=$(pgrep -c -x redis-server || true)
if [ "$after" -le "$before" ]; then
	ok "leaves_no_redis_server (before $before, after $after)"
else
	notok "leaves_no_redis_server" "redis-server processes: before $before, after $after"
fi

echo "demo: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
