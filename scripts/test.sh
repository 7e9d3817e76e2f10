#!/usr/bin/env bash
# README command 2: everything a fresh Debian 12 machine needs to run the
# whole test suite, then the suite. Run as root (it installs what is
# missing); CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -j"$(nproc)" all >/dev/null
exec tests/run.sh
