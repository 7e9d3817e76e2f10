#!/usr/bin/env bash
# Runs every golden test in tests/golden/TESTLIST (or those named) and
# prints "ok"/"not ok" per test and a closing "N passed, N failed".
#   OUTFLOW=build/asan/outflow tests/golden/run.sh      # under sanitizers
set -uo pipefail
cd "$(dirname "$0")/../.."
outflow=${OUTFLOW:-build/outflow}
dir=tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# The options of a TESTLIST line, with @scaled expanded from scaled.args.
test_args() {
	local a
	for a in $1; do
		if [ "$a" = @scaled ]; then
			grep -v '^#' "$dir/scaled.args"
		else
			printf '%s\n' "$a"
		fi
	done | tr '\n' ' '
}

run_one() {	# name capture maxsev args -> writes $tmp/name.json
	local name=$1 cap=$2 args=$3
	# shellcheck disable=SC2086
	"$outflow" -r "$cap" -q --stats-interval 0 --rules rules/default.rules -o "$tmp/$name.json" \
		$(test_args "$args") >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"
}

trim() { local v=$1; v=${v#"${v%%[![:space:]]*}"}; printf '%s' "${v%"${v##*[![:space:]]}"}"; }

while IFS='|' read -r name cap maxsev args; do
	name=$(trim "$name"); cap=$(trim "$cap"); maxsev=$(trim "$maxsev")
	{ [ -z "$name" ] || [ "${name#\#}" != "$name" ]; } && continue
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
	if [ ! -f "$cap" ]; then
		echo "not ok - golden.$name: capture $cap is missing (pcaps/record.sh makes it)"
		fail=$((fail + 1)); continue
	fi
	: >"$tmp/$name.json"
	if ! run_one "$name" "$cap" "$args"; then
		echo "not ok - golden.$name: outflow exited non-zero"; sed 's/^/  /' "$tmp/$name.stderr"
		fail=$((fail + 1)); continue
	fi
	if grep -q 'runtime error\|Sanitizer' "$tmp/$name.stderr"; then
		echo "not ok - golden.$name: sanitizer report"; sed 's/^/  /' "$tmp/$name.stderr"
		fail=$((fail + 1)); continue
	fi
	sevopt=(); [ "$maxsev" != - ] && sevopt=(--max-severity "$maxsev")
	if out=$(python3 "$dir/compare.py" "$dir/expected/$name.json" "$tmp/$name.json" "${sevopt[@]}"); then
		echo "ok - golden.$name ($(wc -l <"$tmp/$name.json") alerts)"
		pass=$((pass + 1))
	else
		echo "not ok - golden.$name"; echo "$out"
		fail=$((fail + 1))
	fi
	if [ -n "${GOLDEN_BLESS:-}" ]; then cp "$tmp/$name.json" "$dir/expected/$name.json"; fi
done <"$dir/TESTLIST"
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
