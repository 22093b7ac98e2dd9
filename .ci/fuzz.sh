#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with libFuzzer's coverage instrumentation on the stable
# toolchain, the flags cargo-fuzz would pass, and runs each for a bounded time. A crash fails the
# run and leaves its input in fuzz/artifacts/<target>/.
# Usage: .ci/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
target=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# With an explicit target, RUSTFLAGS skip build scripts and proc-macros, as cargo-fuzz arranges.
cargo build --locked --release --target "$target" --bins
for fuzzer in ca_message index manifest archive_entries; do
    mkdir -p "corpus/$fuzzer" "artifacts/$fuzzer"
    "target/$target/release/$fuzzer" "corpus/$fuzzer" \
        -artifact_prefix="artifacts/$fuzzer/" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 2>&1 | tail -n 3
    echo "fuzzed $fuzzer for $seconds s: no crash"
done
