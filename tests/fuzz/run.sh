#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build/fuzz and
# runs each for SECONDS (default 60; CI passes a few). Seeds: the project's
# captures, ../shared/pcaps when present, and tests/fuzz/corpus/. Anything
# that crashes is saved under build/fuzz/ and fails the run: keep it as a
# regression input in tests/fuzz/corpus/ once fixed.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      make fuzz = 300 s each
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(rules decode pipeline)
out=build/fuzz
mkdir -p "$out/obj"
if ! command -v clang >/dev/null; then
	echo "not ok - fuzz: clang is not installed (scripts/setup.sh installs it)"; exit 1
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
inc="-Isensor -isystem /usr/include/ndpi"
libs="-lpcap -lndpi -lgcrypt -lhiredis -lpsl -lpthread -lm"
objs=()
for c in sensor/*.c; do
	[ "$c" = sensor/main.c ] && continue
	o="$out/obj/$(basename "$c" .c).o"
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find sensor -name '*.h' -newer "$o")" ]; then
		clang -std=gnu11 -g -O1 -D_GNU_SOURCE $san -fsanitize=fuzzer-no-link $inc -c "$c" -o "$o" || {
			echo "not ok - fuzz: cannot build $c"; exit 1; }
	fi
	objs+=("$o")
done
pass=0 fail=0
for t in "${targets[@]}"; do
	bin="$out/fuzz_$t"
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE $san -fsanitize=fuzzer $inc "tests/fuzz/fuzz_$t.c" "${objs[@]}" $libs -o "$bin" || {
		echo "not ok - fuzz.$t: build failed"; fail=$((fail + 1)); continue; }
	seeds=("$out/corpus_$t")
	mkdir -p "$out/corpus_$t"
	case $t in
	rules) seeds+=(tests/fuzz/corpus/rules); cp rules/*.rules tests/unit/rules/*.rules "$out/corpus_$t/" 2>/dev/null ;;
	pipeline)
		seeds+=(pcaps); [ -d ../shared/pcaps ] && seeds+=(../shared/pcaps) ;;
	decode) [ -d tests/fuzz/corpus/decode ] && seeds+=(tests/fuzz/corpus/decode) ;;
	esac
	log="$out/fuzz_$t.log"
	if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -max_len=65536 \
	    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$out/crash-$t-" \
	    "${seeds[@]}" >"$log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "ok - fuzz.$t (${secs}s, ${execs:-?} executions)"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz.$t: see $log"
		grep -m5 -A5 'ERROR\|runtime error\|crash-\|leak' "$log" | sed 's/^/  /'
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
