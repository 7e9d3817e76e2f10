#!/usr/bin/env bash
# Rewrites the expected alerts of the named golden tests (all without
# arguments) from what the sensor produces now. Review `git diff
# tests/golden/expected` before committing: a bless is a decision.
cd "$(dirname "$0")/../.."
make -s build/outflow || exit 1
GOLDEN_BLESS=1 tests/golden/run.sh "$@" >/dev/null
git --no-pager diff --stat -- tests/golden/expected
