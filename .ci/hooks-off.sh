#!/usr/bin/env bash
# What ships ignores the test and benchmark hooks: builds the binary with its default features
# (the tests' build turns the `test-hooks` feature on), checks that none of the hooks' variables
# is even in it, and that an install told to fail at a checkpoint does not.
# Usage: .ci/hooks-off.sh   (after the tests; leaves target/debug/ibex-updater hook-free)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p ibex-updater --bin ibex-updater
exe=target/debug/ibex-updater
for variable in IBEX_UPDATER_TEST_ABORT_AT IBEX_UPDATER_TEST_PAUSE_AT IBEX_UPDATER_TEST_FAIL_AT \
    IBEX_UPDATER_BENCH_NO_SYNC; do
    if grep -a -q "$variable" "$exe"; then
        echo "the default build reads $variable" >&2
        exit 1
    fi
done
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
IBEX_UPDATER_DATA_DIR=$data IBEX_UPDATER_TEST_FAIL_AT=staged:ibex-gui \
    IBEX_UPDATER_TEST_ABORT_AT=journal-written "$exe" --demo --silent install \
    --server-version 26.2.0.1 >/dev/null
echo "the default build ignores the test and benchmark hooks"
