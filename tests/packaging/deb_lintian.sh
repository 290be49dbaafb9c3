#!/usr/bin/env bash
# The package as `bash packaging/build-deb.sh` makes it, from this build tree: cpack builds
# mailtun_<version>_<arch>.deb into BUILD_DIR/packages, lintian checks it. Fails on any lintian error,
# prints every warning, and fails on a warning that packaging/README.md does not list with its reason.
# Also fails when Depends does not come from dpkg-shlibdeps or a file is missing from the package.
#
# Usage: deb_lintian.sh BUILD_DIR VERSION PACKAGING_README
set -euo pipefail
build=$1 version=$2 readme=$3

for tool in cpack lintian dpkg-shlibdeps go-md2man; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done

rm -f "$build"/packages/mailtun_*.deb
(cd "$build" && cpack -G DEB) > "$build/packages-cpack.log" 2>&1 || { cat "$build/packages-cpack.log"; exit 1; }
deb=$(echo "$build/packages/mailtun_${version}_$(dpkg --print-architecture).deb")
[ -f "$deb" ] || { echo "FAIL: cpack made no $deb"; ls -l "$build/packages"; exit 1; }
echo "== $deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

status=0
fail() { echo "FAIL: $*"; status=1; }

# Depends lists the libraries' packages found by dpkg-shlibdeps (with their minimum versions), not a
# guess: mailtun links these, so they must be there with a version.
depends=$(dpkg-deb --field "$deb" Depends)
for library in libc6 libsodium23 libssl3; do
  [[ "$depends" =~ (^|, )$library\ \(\>=\ [^\)]+\) ]] || fail "Depends lacks $library (>= …): $depends"
done

contents=$(dpkg-deb --contents "$deb" | awk '{print $NF}')
for path in ./usr/bin/mailtun ./lib/systemd/system/mailtun@.service ./usr/share/man/man8/mailtun.8.gz \
            ./usr/share/doc/mailtun/examples/vps.toml ./usr/share/doc/mailtun/examples/office.toml \
            ./usr/share/doc/mailtun/copyright ./usr/share/doc/mailtun/changelog.gz; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done

echo "== lintian"
lintian_output=$(lintian --tag-display-limit 0 "$deb" 2>&1) || true
echo "${lintian_output:-(nothing to report)}"
if grep -q '^E: ' <<<"$lintian_output"; then
  fail "lintian reports errors (above)"
fi
# Every warning left must be explained in packaging/README.md, where it is named as `tag`.
while read -r tag; do
  [ -n "$tag" ] || continue
  grep -qF "\`$tag\`" "$readme" || fail "lintian warning $tag is not listed and explained in $readme"
done < <(sed -n 's/^W: [^ ]*: \([^ ]*\).*/\1/p' <<<"$lintian_output" | sort -u)

[ $status = 0 ] && echo "OK: $deb builds, its Depends come from dpkg-shlibdeps, lintian reports no errors"
exit $status
