#!/usr/bin/env bash
# The whole test suite. Every part prints "ok ..." / "not ok ..." lines;
# this script runs them all, keeps going after a failure, and closes with
# one line "N passed, N failed" over everything.
#
#   tests/run.sh               everything (as CI runs it)
#   TESTS_QUICK=1 tests/run.sh skip the sanitizer rebuild and fuzzing
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

part() {	# title, command...
	local title=$1 out rc; shift
	echo "=== $title"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	cat "$out" >>"$log"
	# A part that fails without saying which test failed still counts as a failure.
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out"; then
		echo "not ok - $title exited with status $rc" | tee -a "$log"
	fi
	rm -f "$out"
}

unit_tests() {	# dir of test binaries
	local t rc=0
	for t in "$1"/test_*; do
		[ -x "$t" ] || continue
		"$t" || rc=1
	done
	return $rc
}

part "unit tests" unit_tests build/tests
part "rules: shipped rule set" tests/integration/check_rules.sh
part "golden tests" tests/golden/run.sh
part "volumes from headers (sliced captures)" tests/integration/test_sliced.sh
part "robustness: public captures" tests/integration/shared_pcaps.sh
part "redis sink" tests/integration/test_redis_sink.sh
part "redis end to end" tests/integration/test_redis_e2e.sh
part "demo: the README's first command, as a user runs it" tests/integration/test_demo.sh
part "live capture (network namespace)" tests/integration/test_live.sh
part "fanout: two workers on one interface (network namespace)" tests/integration/test_fanout.sh
part "signals: graceful and immediate stop" tests/integration/test_signals.sh
part "truncated capture file" tests/integration/test_truncated.sh
part "evidence pcap files" tests/integration/test_evidence.sh
part "long connection reported while open" tests/integration/test_long_conn.sh
part "flood: bounded memory, evictions counted, exfiltration still caught" tests/integration/test_flood.sh
part "state dir: first-seen memory survives restarts, bad files ignored" tests/integration/test_state.sh

if [ -z "${TESTS_QUICK:-}" ]; then
	echo "=== building the ASan+UBSan sensor (build/asan)"
	if make -s asan >/dev/null 2>"$log.asan"; then
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		part "unit tests (ASan+UBSan)" unit_tests build/asan/tests
		part "golden tests (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/golden/run.sh
		part "robustness (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/shared_pcaps.sh
		part "rules from the command line (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/check_rules.sh
		part "sliced captures (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_sliced.sh
		part "redis end to end (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_redis_e2e.sh
		part "signals (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_signals.sh
		part "truncated capture file (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_truncated.sh
		part "evidence pcap files (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_evidence.sh
		part "flood (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_flood.sh
		part "state dir (ASan+UBSan)" env OUTFLOW=build/asan/outflow tests/integration/test_state.sh
		# LeakSanitizer cannot inspect a process that dropped root into a chroot
		# (it needs /proc/self); ASan and UBSan still watch every access there.
		part "live capture (ASan+UBSan)" env OUTFLOW=build/asan/outflow \
			ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 tests/integration/test_live.sh
		part "fanout (ASan+UBSan)" env OUTFLOW=build/asan/outflow \
			ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 tests/integration/test_fanout.sh
	else
		cat "$log.asan"
		echo "not ok - ASan build failed" | tee -a "$log"
	fi
	rm -f "$log.asan"
	part "fuzzing (brief)" tests/fuzz/run.sh 20
fi

pass=$(grep -c '^ok' "$log")
fail=$(grep -c '^not ok' "$log")
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
