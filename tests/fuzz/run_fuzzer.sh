#!/usr/bin/env bash
# Runs one fuzz target from its committed seed corpus for a bounded time:
#   run_fuzzer.sh FUZZER CORPUS_DIR SECONDS
# New inputs go to a scratch corpus, so the repository's seeds stay as committed. Any crash, leak,
# timeout or sanitizer report makes libFuzzer exit non-zero and writes the input that caused it to
# ./crash-*, ./leak-* or ./timeout-* in the working directory (the build's tests/fuzz/).
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
  "$scratch" "$seeds"
