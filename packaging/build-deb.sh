#!/usr/bin/env bash
# Builds the Debian package mailtun_<version>_<arch>.deb (version: project() in CMakeLists.txt) with
# Debian's hardening flags, into BUILD_DIR/packages, and prints its path.
#
# Usage: bash packaging/build-deb.sh [BUILD_DIR]        (default: build-deb/ in the source tree)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-deb}

bash "$root/scripts/install-deps.sh"

# The flags Debian builds its packages with (dpkg-buildflags(1)); CMake reads CXXFLAGS and
# LDFLAGS, not CPPFLAGS, so the preprocessor's (_FORTIFY_SOURCE) join CXXFLAGS.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CXXFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CXXFLAGS LDFLAGS

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "${launcher[@]}" >/dev/null
# What the package holds and nothing more: installing no longer builds every target first.
cmake --build "$build" --target mailtun package_files
rm -f "$build"/packages/mailtun_*.deb
(cd "$build" && cpack -G DEB) >/dev/null
ls "$build"/packages/mailtun_*.deb
