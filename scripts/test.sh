#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test through CTest.
# The end-to-end run (Postfix and Dovecot in network namespaces) goes first and verbosely, so its
# summary table is in the output; then everything else, in parallel. Then the unit and integration
# suites again against a build with AddressSanitizer and UndefinedBehaviorSanitizer, and every
# fuzzer for a bounded time (docs/testing.md). Any sanitizer report fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILTUN_BUILD_DIR:-$root/build}
asan_build=${MAILTUN_ASAN_BUILD_DIR:-$root/build-asan}
fuzz_build=${MAILTUN_FUZZ_BUILD_DIR:-$root/build-fuzz}

bash "$root/scripts/build.sh"
# Warnings are the first build's job: g++'s flow-based warnings are unreliable under instrumentation.
cmake -S "$root" -B "$asan_build" -G Ninja -DMAILTUN_WERROR=OFF -DMAILTUN_SANITIZE=ON >/dev/null
cmake --build "$asan_build" --target unit_tests noise-vectors mailtun
cmake -S "$root" -B "$fuzz_build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DMAILTUN_FUZZ=ON >/dev/null
cmake --build "$fuzz_build" --target fuzzers

status=0
cd "$build"
ctest --output-on-failure --verbose --label-regex e2e || status=1
ctest --output-on-failure --timeout 600 -j "$(nproc)" --label-exclude e2e || status=1

# Packaging, docs and e2e test what the sanitizers add nothing to, and are not run twice.
# Reports also go to files, so that one from a process whose exit status no test looks at (a
# daemon stopped by a signal, a helper) still fails the run.
reports=$asan_build/sanitizer-reports
rm -rf "$reports" && mkdir -p "$reports"
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1:log_path=$reports/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan
cd "$asan_build"
ctest --output-on-failure --timeout 600 -j "$(nproc)" --label-exclude 'e2e|packaging|docs' || status=1
if [ -n "$(ls -A "$reports")" ]; then
  echo "test.sh: sanitizer reports:" >&2
  cat "$reports"/* >&2
  status=1
fi
unset ASAN_OPTIONS UBSAN_OPTIONS

cd "$fuzz_build"
ctest --output-on-failure -j "$(nproc)" --label-regex fuzz || status=1
exit $status
