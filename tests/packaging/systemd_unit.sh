#!/usr/bin/env bash
# The packaged mailtun@.service: `systemd-analyze verify` must report nothing, and
# `systemd-analyze security --offline=yes` must rate its exposure 2.0 or lower.
#
# verify checks that the unit's commands and manual page exist, so it runs on a root made of the
# unpacked package, the host's units (for the targets the unit orders itself after) and /bin/kill
# (ExecReload=). Nothing is installed on the host.
#
# Usage: systemd_unit.sh DEB
set -euo pipefail
deb=$(realpath "$1")
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is not installed (package systemd)"
  exit 77
fi
# package_deb_lintian builds it, and when that fails this test does not run: no package means it was
# skipped.
[ -f "$deb" ] || { echo "SKIPPED: no package $deb (package_deb_lintian was skipped)"; exit 77; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
cp -a /lib/systemd/system/. "$root/lib/systemd/system/"
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"

status=0
unit=mailtun@vps.service

echo "== systemd-analyze verify $unit"
# verify looks the manual page of Documentation= up with man(1), which reads MANPATH.
if output=$(MANPATH="$root/usr/share/man" systemd-analyze verify --root="$root" "$unit" 2>&1) && [ -z "$output" ]; then
  echo "ok: nothing to report"
else
  echo "$output"
  echo "FAIL: systemd-analyze verify reports the above"
  status=1
fi

echo "== systemd-analyze security --offline=yes $unit"
report=$(systemd-analyze security --offline=yes --root="$root" "$unit" 2>&1) || true
echo "$report" | grep -v '✓' || true  # what is not hardened, and the rating
exposure=$(sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' <<<"$report")
if [ -z "$exposure" ]; then
  echo "FAIL: no \"Overall exposure level\" in the report"
  status=1
elif awk -v e="$exposure" -v max="$max_exposure" 'BEGIN { exit !(e <= max) }'; then
  echo "ok: exposure $exposure <= $max_exposure"
else
  echo "FAIL: exposure $exposure > $max_exposure"
  status=1
fi
exit $status
