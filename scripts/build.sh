#!/usr/bin/env bash
# Installs what is missing, then configures and builds mailtun into build/ (or $MAILTUN_BUILD_DIR).
# In CI (CI=true) warnings are errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILTUN_BUILD_DIR:-$root/build}

bash "$root/scripts/install-deps.sh"
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S "$root" -B "$build" -G Ninja -DMAILTUN_WERROR=$werror >/dev/null
cmake --build "$build"
