#!/usr/bin/env bash
# The rule set from the command line's point of view: --check-rules on the
# shipped and on broken files, --set overrides, scope and allow-lists on a
# real capture (the same capture with and without an exception), and a
# SIGHUP reload with a good file and then a bad one.
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
tmp=$(mktemp -d)
OPID=
cleanup() { [ -n "$OPID" ] && kill "$OPID" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok - rules_cli.$1"; pass=$((pass + 1)); }
notok() { echo "not ok - rules_cli.$1"; shift; printf '  %s\n' "$@"; fail=$((fail + 1)); }
scaled=$(grep -v '^#' tests/golden/scaled.args | tr '\n' ' ')

# --- --check-rules ----------------------------------------------------------
if out=$("$outflow" --check-rules rules/default.rules 2>&1) && echo "$out" | grep -q '^rules OK: '; then
	ok "shipped_rules_check_ok ($(echo "$out" | grep -c '  ') rules)"
else
	notok shipped_rules_check_ok "$out"
fi
cat >"$tmp/bad.rules" <<'R'
var X = 10 MB
rule a {
    category  bulk-transfr
    when      host.out.bytes[1h] > $X
    severity  high
    message   "m"
}
rule b {
    category  bulk-transfer
    when      host.out.byte[1h] > 5 MB
    severity  hgh
    message   "m"
}
R
out=$("$outflow" --check-rules "$tmp/bad.rules" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "bad.rules:3:15: " && echo "$out" | grep -q "bad.rules:10:15: " &&
    echo "$out" | grep -q "bad.rules:11:15: "; then
	ok bad_rules_report_every_error_with_file_line_col
else
	notok bad_rules_report_every_error_with_file_line_col "exit $rc" "$out"
fi
cat >"$tmp/apps.rules" <<'R'
var APPS = Dropbox, NoSuchCloud
rule c {
    category  cloud-upload
    when      dest.out.bytes[10min] > 1 MB
    except    app in (Dropbx) or app_category in (Cloud) or app in $APPS
    severity  high
    message   "m"
}
R
out=$("$outflow" --check-rules "$tmp/apps.rules" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "apps.rules:5:23: rule c: nDPI knows no application named 'Dropbx'" &&
    echo "$out" | grep -q "apps.rules:5:68: .*'NoSuchCloud'" && ! echo "$out" | grep -q "'Cloud'"; then
	ok unknown_ndpi_names_are_reported_with_file_line_col
else
	notok unknown_ndpi_names_are_reported_with_file_line_col "exit $rc" "$out"
fi
out=$("$outflow" -r pcaps/breach.pcap --rules "$tmp/bad.rules" -o /dev/null 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'bad.rules:3:15' && ! echo "$out" | grep -q 'reading pcaps'; then
	ok invalid_rules_stop_the_sensor_before_capture
else
	notok invalid_rules_stop_the_sensor_before_capture "exit $rc" "$out"
fi
out=$("$outflow" --check-rules rules/default.rules --set NO_SUCH_VAR=1 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'NO_SUCH_VAR'; then ok unknown_set_variable_is_an_error
else notok unknown_set_variable_is_an_error "exit $rc" "$out"; fi
out=$("$outflow" --check-rules rules/default.rules --set ELEPHANT_10M=3MB 2>&1)
if echo "$out" | grep -q 'elephant-upload-10m.*dest.out.bytes\[10min\] > 3.00 MB\|elephant-upload-10m.*> 3 MB'; then
	ok set_override_changes_the_threshold
else
	notok set_override_changes_the_threshold "$out"
fi

# --- scope and allow-lists on a real capture --------------------------------
count() { "$outflow" -r pcaps/breach.pcap -q --stats-interval 0 -o - $scaled "$@" 2>/dev/null | grep -c '"rule":"elephant-upload-10m"'; }
base=$(count)
by_net=$(count --set SANCTIONED_NETS=203.0.113.66/32)
by_name=$(count --set 'SANCTIONED_NAMES="*.files-exchange.net"')
out_of_scope=$(count --home-net 10.20.2.0/24)
if [ "$base" -ge 1 ] && [ "$by_net" -eq 0 ] && [ "$by_name" -eq 0 ]; then
	ok "allow_list_by_address_and_by_server_name_silences_the_upload ($base -> $by_net, $by_name)"
else
	notok allow_list_by_address_and_by_server_name_silences_the_upload "base=$base by_net=$by_net by_name=$by_name"
fi
if [ "$out_of_scope" -eq 0 ]; then ok home_net_scope_decides_who_is_watched
else notok home_net_scope_decides_who_is_watched "$out_of_scope alerts with the culprit outside HOME_NET"; fi

# --- SIGHUP reload: good file, then bad file; alerts keep flowing -----------
cp tests/integration/rules/every-upload.rules "$tmp/live.rules"
tests/lib/pcapsplit.py pcaps/low-and-slow.pcap 3 "$tmp/p"
mkfifo "$tmp/feed"
"$outflow" -r - -q --stats-interval 0 --rules "$tmp/live.rules" -o "$tmp/alerts.json" <"$tmp/feed" 2>"$tmp/err" &
OPID=$!
exec 3>"$tmp/feed"
cat "$tmp/p1" >&3; sleep 0.5
n1=$(wc -l <"$tmp/alerts.json")
sed 's/rule every-upload/rule every-upload-v2/' tests/integration/rules/every-upload.rules >"$tmp/live.rules"
kill -HUP $OPID; sleep 0.2
cat "$tmp/p2" >&3; sleep 0.5
n2=$(wc -l <"$tmp/alerts.json")
printf 'rule broken {\n    category  nope\n}\n' >"$tmp/live.rules"
kill -HUP $OPID; sleep 0.2
cat "$tmp/p3" >&3
exec 3>&-
wait $OPID; rc=$?; OPID=
n3=$(wc -l <"$tmp/alerts.json")
v2_before_bad=$(head -n "$n2" "$tmp/alerts.json" | tail -n +"$((n1 + 1))" | grep -c '"rule":"every-upload-v2"')
v2_after_bad=$(tail -n +"$((n2 + 1))" "$tmp/alerts.json" | grep -c '"rule":"every-upload-v2"')
if [ $rc -eq 0 ] && [ "$n1" -gt 0 ] && grep -q 'rules reloaded' "$tmp/err" && [ "$v2_before_bad" -gt 0 ]; then
	ok "sighup_reload_installs_a_good_file ($n1 alerts before, $v2_before_bad by the new rule after)"
else
	notok sighup_reload_installs_a_good_file "exit $rc n1=$n1 n2=$n2 v2=$v2_before_bad" "$(grep -v '^{' "$tmp/err")"
fi
if grep -q 'reload failed, keeping the previous rules' "$tmp/err" && grep -q 'live.rules:2:15' "$tmp/err" &&
    [ "$v2_after_bad" -gt 0 ] && [ "$v2_after_bad" -eq $((n3 - n2)) ]; then
	ok "sighup_reload_with_a_bad_file_keeps_the_old_rules ($v2_after_bad alerts after it)"
else
	notok sighup_reload_with_a_bad_file_keeps_the_old_rules "after=$v2_after_bad n3=$n3" "$(grep -v '^{' "$tmp/err")"
fi

# --- a detector no rule uses stays idle; a reload that brings a rule wakes it ---
# The final stats line (stderr) tells, per detector, "idle" and what it counted.
stat_of() {	# file detector key
	grep '^{' "$1" | tail -n 1 | python3 -c 'import json,sys; d=json.load(sys.stdin)["detectors"][sys.argv[1]]; print(str(d[sys.argv[2]]).lower())' "$2" "$3"
}
"$outflow" -r pcaps/low-and-slow.pcap -q --stats-interval 0 --rules tests/integration/rules/every-upload.rules \
	-o /dev/null 2>"$tmp/idle.err"
"$outflow" -r pcaps/low-and-slow.pcap -q --stats-interval 0 -o /dev/null 2>"$tmp/busy.err"
if [ "$(stat_of "$tmp/idle.err" peer idle)" = true ] && [ "$(stat_of "$tmp/idle.err" peer created)" = 0 ] &&
    [ "$(stat_of "$tmp/idle.err" dns queries)" = 0 ] && [ "$(stat_of "$tmp/idle.err" newdest seen)" = 0 ] &&
    [ "$(stat_of "$tmp/busy.err" peer idle)" = false ] && [ "$(stat_of "$tmp/busy.err" peer created)" -gt 0 ] &&
    [ "$(stat_of "$tmp/busy.err" dns queries)" -gt 0 ]; then
	ok "detectors_no_rule_uses_stay_idle (peer entries: $(stat_of "$tmp/busy.err" peer created) with the default rules, 0 without a peer rule)"
else
	notok detectors_no_rule_uses_stay_idle "$(grep '^{' "$tmp/idle.err" | tail -n 1 | cut -c1-600)"
fi
cp tests/integration/rules/every-upload.rules "$tmp/wake.rules"
mkfifo "$tmp/feed2"
"$outflow" -r - -q --stats-interval 0 --rules "$tmp/wake.rules" -o /dev/null <"$tmp/feed2" 2>"$tmp/wake.err" &
OPID=$!
exec 3>"$tmp/feed2"
cat "$tmp/p1" >&3; sleep 0.5
cat >>"$tmp/wake.rules" <<'R'
rule any-connection {
    category  beacon
    when      beacon.connections[6h] >= 1
    severity  low
    message   "{src_ip} -> {dest_ip}"
}
R
kill -HUP $OPID; sleep 0.2
cat "$tmp/p2" "$tmp/p3" >&3
exec 3>&-
wait $OPID; rc=$?; OPID=
if [ $rc -eq 0 ] && [ "$(stat_of "$tmp/wake.err" peer idle)" = false ] &&
    [ "$(stat_of "$tmp/wake.err" peer created)" -gt 0 ] && [ "$(stat_of "$tmp/wake.err" dns idle)" = true ]; then
	ok "reload_wakes_the_detector_its_new_rule_uses (peer entries after the reload: $(stat_of "$tmp/wake.err" peer created))"
else
	notok reload_wakes_the_detector_its_new_rule_uses "exit $rc" "$(grep -v '^{' "$tmp/wake.err")" \
	    "$(grep '^{' "$tmp/wake.err" | tail -n 1 | cut -c1-600)"
fi

# --- a reload when the rules set HOME_NET: the sensor keeps its own copy ------
# (it used to borrow the old rule set's, which the reload frees: ASan saw the
# next packet read freed memory). A changed HOME_NET is reported, not applied.
{ echo 'var HOME_NET = 10.0.0.0/8'; cat tests/integration/rules/every-upload.rules; } >"$tmp/home.rules"
mkfifo "$tmp/feed3"
"$outflow" -r - -q --stats-interval 0 --rules "$tmp/home.rules" -o "$tmp/home.json" <"$tmp/feed3" 2>"$tmp/home.err" &
OPID=$!
exec 3>"$tmp/feed3"
cat "$tmp/p1" >&3; sleep 0.5
kill -HUP $OPID; sleep 0.2
cat "$tmp/p2" >&3; sleep 0.5
sed -i 's|^var HOME_NET = .*|var HOME_NET = 10.20.0.0/16|' "$tmp/home.rules"
kill -HUP $OPID; sleep 0.2
cat "$tmp/p3" >&3
exec 3>&-
wait $OPID; rc=$?; OPID=
reloads=$(grep -c 'rules reloaded' "$tmp/home.err")
if [ $rc -eq 0 ] && [ "$reloads" -eq 2 ] && [ "$(wc -l <"$tmp/home.json")" -gt 0 ] &&
    grep -q 'HOME_NET changed; a restart applies it (still watching 10.0.0.0/8)' "$tmp/home.err" &&
    [ "$(grep -c 'HOME_NET changed' "$tmp/home.err")" -eq 1 ]; then
	ok "reload_with_home_net_in_the_rules_keeps_watching_the_same_network"
else
	notok reload_with_home_net_in_the_rules_keeps_watching_the_same_network "exit $rc, $reloads reloads" \
	    "$(grep -v '^{' "$tmp/home.err" | head -20)"
fi

echo "rules_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
