#!/usr/bin/env bash
# --evidence-dir: every new alert names a pcap file that libpcap reads,
# holding only packets of the alerting host (with its destination when the
# alert is about one), and the stats count what was kept and written.
# Without the option no file is written and alerts carry no "pcap" field.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')
pass=0 fail=0
result() {	# name, ok(0/1), detail
	if [ "$2" -eq 0 ]; then echo "ok - evidence.$1"; pass=$((pass + 1))
	else echo "not ok - evidence.$1"; echo "  $3"; fail=$((fail + 1)); fi
}

mkdir "$tmp/ev"
# shellcheck disable=SC2086
"$outflow" -r pcaps/breach.pcap -q --stats-interval 0 -o "$tmp/a.json" --evidence-dir "$tmp/ev" \
    --evidence-ring 8 $scaled 2>"$tmp/err"
out=$(python3 - "$tmp/a.json" "$tmp/err" <<'PY'
import json, subprocess, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
stats = [json.loads(l) for l in open(sys.argv[2]) if l.startswith('{')][-1]
bad = []
new = [a for a in alerts if a['alert']['state'] == 'new']
if not new:
    bad.append('no alerts')
for a in new:
    p = a['evidence'].get('pcap')
    if not p:
        bad.append('%s: no pcap' % a['alert']['rule']); continue
    lines = subprocess.run(['tcpdump', '-nn', '-r', p], capture_output=True, text=True).stdout.splitlines()
    if not lines:
        bad.append('%s: empty or unreadable %s' % (a['alert']['rule'], p))
    for l in lines:
        if a['src_ip'] not in l or ('dest_ip' in a and a['dest_ip'] not in l):
            bad.append('%s: foreign packet: %s' % (a['alert']['rule'], l)); break
ev = stats.get('evidence', {})
if ev.get('files') != len(new) or ev.get('ring_bytes') != 8 << 20 or ev.get('overwritten', 0) == 0:
    bad.append('stats: %s' % ev)
print('; '.join(bad) if bad else 'ok %d' % len(new))
PY
)
case $out in ok*) result "each_new_alert_names_a_pcap_of_its_host_only (${out#ok } files)" 0 "";;
	*) result each_new_alert_names_a_pcap_of_its_host_only 1 "$out";; esac

# shellcheck disable=SC2086
"$outflow" -r pcaps/breach.pcap -q --stats-interval 0 -o "$tmp/b.json" $scaled 2>/dev/null
if grep -q '"pcap"' "$tmp/b.json"; then r=1; else r=0; fi
result off_by_default_no_pcap_field $r "an alert names a pcap without --evidence-dir"

"$outflow" -r pcaps/breach.pcap -q --evidence-dir "$tmp/none" -o /dev/null 2>"$tmp/err2"
rc=$?
if [ $rc -eq 1 ] && grep -q -- "--evidence-dir $tmp/none: No such file or directory" "$tmp/err2"; then r=0; else r=1; fi
result missing_directory_is_a_startup_error $r "exit $rc: $(cat "$tmp/err2")"

echo "evidence: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
