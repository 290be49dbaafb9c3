# Sourced by the packaging tests that need a minimal Debian 12 root. Defines:
#   minbase_preflight DEB TOOL...  exit 77 with "SKIPPED: why" unless this is root, every TOOL is
#                      installed and the package DEB exists
#   minbase_workdir NAME  a fresh directory $work (/var/tmp/mailtun-NAME.XXXXXX), with $root=$work/root
#                      for minbase_root, removed on exit unless something is still mounted under it
#   minbase_root DIR   unpack a fresh root into DIR (made once by debootstrap --variant=minbase and kept
#                      as a tarball in $MAILTUN_TEST_CACHE, default /var/cache/mailtun-tests, renewed
#                      after a week), with apt's lists up to date and a policy-rc.d that starts nothing
#   in_root CMD...     run CMD chrooted into that root, with a clean environment
# Needs root, debootstrap and a Debian mirror ($MAILTUN_DEBIAN_MIRROR, default deb.debian.org).

minbase_cache=${MAILTUN_TEST_CACHE:-/var/cache/mailtun-tests}
minbase_mirror=${MAILTUN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

minbase_preflight() {
  local deb=$1 tool
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: needs root (to run $*)"
    exit 77
  fi
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIPPED: $tool is not installed (scripts/install-deps.sh installs it)"
      exit 77
    fi
  done
  # package_deb_lintian builds it, and when that fails the test that needs it does not run: no
  # package means it was skipped.
  [ -f "$deb" ] || { echo "SKIPPED: no package $deb (package_deb_lintian was skipped)"; exit 77; }
}

minbase_workdir() {
  work=$(mktemp -d "/var/tmp/mailtun-$1.XXXXXX")
  root=$work/root
  trap minbase_remove_workdir EXIT
}

minbase_remove_workdir() {
  # A test may mount things in the root (systemd-nspawn does, and unmounts them when the container
  # stops); never delete through a mount.
  if grep -qF " $work/" /proc/self/mounts; then
    echo "cleanup: something is still mounted under $work; left in place" >&2
  else
    rm -rf "$work"
  fi
}

in_root() {
  chroot "$minbase_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

minbase_root() {
  minbase_dir=$1
  local tarball=$minbase_cache/bookworm-minbase.tar
  mkdir -p "$minbase_cache"
  (
    flock 9  # tests running at once make the tarball once
    if [ -z "$(find "$tarball" -mtime -7 2>/dev/null)" ]; then
      echo "debootstrap --variant=minbase bookworm, kept in $tarball for later runs"
      local fresh
      fresh=$(mktemp -d /var/tmp/mailtun-debootstrap.XXXXXX)
      if ! debootstrap --variant=minbase bookworm "$fresh" "$minbase_mirror" > "$fresh.log" 2>&1; then
        tail -30 "$fresh.log"; rm -rf "$fresh" "$fresh.log"; echo "FAIL: debootstrap"; exit 1
      fi
      tar -C "$fresh" --numeric-owner -cf "$tarball.new" . && mv "$tarball.new" "$tarball"
      rm -rf "$fresh" "$fresh.log"
    fi
  ) 9> "$minbase_cache/lock"
  mkdir -p "$minbase_dir"
  tar -C "$minbase_dir" --numeric-owner -xf "$tarball"
  # "/" as on every Debian system: the tarball's "./" is the 0700 directory debootstrap ran in, and
  # a "/" that only root may enter keeps every service user from starting (status=200/CHDIR).
  chmod 755 "$minbase_dir"
  cp /etc/resolv.conf "$minbase_dir/etc/resolv.conf"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
    "$minbase_mirror" "$minbase_mirror" "$minbase_mirror" > "$minbase_dir/etc/apt/sources.list"
  # Daemons that packages would start stay stopped: this root is not a booted system.
  printf '#!/bin/sh\nexit 101\n' > "$minbase_dir/usr/sbin/policy-rc.d"
  chmod 755 "$minbase_dir/usr/sbin/policy-rc.d"
  in_root apt-get update -qq
}
