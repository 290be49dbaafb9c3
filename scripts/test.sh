#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test through CTest.
# The end-to-end run (Postfix and Dovecot in network namespaces) goes first and verbosely, so its
# summary table is in the output; then everything else, in parallel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILTUN_BUILD_DIR:-$root/build}

bash "$root/scripts/build.sh"
cd "$build"
status=0
ctest --output-on-failure --verbose --label-regex e2e || status=1
ctest --output-on-failure --timeout 600 -j "$(nproc)" --label-exclude e2e || status=1
exit $status
