#!/usr/bin/env bash
# The package in a minimal Debian 12 root (debootstrap --variant=minbase), as a new user installs it:
# apt installs the .deb, so a missing Depends fails; `mailtun --version`; keys from the installed
# `mailtun genkey`; both installed examples filled in and passing `mailtun check`; the mailtun system
# user and group and /etc/mailtun (0750 root:mailtun). Then `apt-get purge`, and a comparison of the
# root before the install with the root after the purge: nothing may be left but what Debian policy
# keeps (the system user and group) and the package manager's own records and logs.
#
# The minbase root comes from minbase_root.sh: made once, then a fresh copy for each run.
#
# Usage: minbase_install.sh DEB       (needs root, debootstrap and access to a Debian mirror)
set -euo pipefail
deb=$(realpath "$1")

source "$(dirname "$0")/minbase_root.sh"
minbase_preflight "$deb" debootstrap chroot
minbase_workdir minbase

step() { echo; echo "== $*"; }

step "a fresh minbase root"
minbase_root "$root"

# Every file with its type, mode and owner; files in /etc with their checksum as well. Not compared:
# the package manager's own state and logs, which change with any install, and /tmp and /run, which
# do not outlive a boot (adduser leaves its lock file in /run).
snapshot() {
  (cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
                                  -o -path ./var/log -o -path ./tmp -o -path ./run \) -prune \
                             -o -printf '%p %y %m %U:%G\n' |
                 sort)
  (cd "$root" && find ./etc -xdev -type f ! -name ld.so.cache -exec sha256sum {} + | sort -k2)
}
snapshot > "$work/before"
cp "$root"/etc/{passwd,group,shadow,gshadow} "$work/"

step "apt-get install ./$(basename "$deb")"
cp "$deb" "$root/tmp/"
in_root apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "/tmp/$(basename "$deb")"
rm "$root/tmp/$(basename "$deb")"

status=0
fail() { echo "FAIL: $*"; status=1; }
expect() {  # expect WHAT ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then echo "ok: $1: $2"; else fail "$1: got '$2', expected '$3'"; fi
}

step "mailtun --version"
version=$(in_root mailtun --version 2>&1) || true  # a missing library shows here
expect "mailtun --version" "$version" "mailtun $(dpkg-deb --field "$deb" Version)"

step "the system user, the group and /etc/mailtun"
IFS=: read -r _ _ uid _ _ home shell <<<"$(in_root getent passwd mailtun)"
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && echo "ok: mailtun is a system user (uid $uid)" ||
  fail "mailtun is not a system user: uid '$uid'"
expect "its home" "$home" /nonexistent
expect "its shell" "$shell" /usr/sbin/nologin
expect "its primary group" "$(in_root id -gn mailtun)" mailtun
expect "/etc/mailtun" "$(in_root stat -c '%F %a %U:%G' /etc/mailtun)" "directory 750 root:mailtun"
[ -f "$root/usr/share/man/man8/mailtun.8.gz" ] && echo "ok: man page mailtun(8)" || fail "no man page"
[ -f "$root/lib/systemd/system/mailtun@.service" ] && echo "ok: unit mailtun@.service" || fail "no unit"

step "keys and the installed examples, filled in as a user would, pass mailtun check"
examples=/usr/share/doc/mailtun/examples
in_root sh -ec '
  cd /etc/mailtun
  (umask 077; mailtun genkey > vps.key; mailtun genkey > office.key)
  install -m 640 -g mailtun '$examples'/vps.toml vps.toml
  install -m 640 -g mailtun '$examples'/office.toml office.toml
  sed -i "s|PASTE-THE-OFFICE-PUBLIC-KEY-HERE|$(mailtun pubkey < office.key)|" vps.toml
  sed -i "s|PASTE-THE-VPS-PUBLIC-KEY-HERE|$(mailtun pubkey < vps.key)|" office.toml'
for side in vps office; do
  if in_root mailtun check --config /etc/mailtun/$side.toml; then
    echo "ok: mailtun check --config /etc/mailtun/$side.toml"
  else
    fail "mailtun check rejects the installed example $side.toml, filled in"
  fi
done
# The examples as shipped hold placeholders that check names, so an unedited copy cannot start.
if in_root mailtun check --config $examples/vps.toml > "$work/unedited" 2>&1; then
  fail "mailtun check accepts the unedited example"
else
  grep -q 'PASTE-THE-OFFICE-PUBLIC-KEY-HERE' "$work/unedited" && echo "ok: the unedited example is refused, naming its placeholder" ||
    { cat "$work/unedited"; fail "the unedited example's error does not name the placeholder"; }
fi
rm -f "$root"/etc/mailtun/{vps,office}.{key,toml}

step "apt-get purge mailtun (and the dependencies it pulled in)"
in_root apt-get purge -y -q -o Dpkg::Use-Pty=0 --autoremove mailtun
snapshot > "$work/after"

step "what the purge left: the root after it compared with the root before the install"
# Debian keeps a package's system user and group (files they own may remain elsewhere): their lines
# in passwd, group, shadow and gshadow, and those files' backups, are the only difference allowed.
diff "$work/before" "$work/after" > "$work/diff" || true
user_databases='\./etc/(passwd|group|shadow|gshadow)-?'
unexpected=$(grep '^[<>]' "$work/diff" |
             grep -vE "^[<>] ([0-9a-f]{64}  $user_databases|$user_databases [a-z] [0-7]+ [0-9]+:[0-9]+)\$" || true)
if [ -n "$unexpected" ]; then
  echo "$unexpected"
  fail "the purge left the root different from before the install (< before, > after)"
else
  echo "ok: no file or directory, mode, owner, nor file in /etc differs, but the user databases"
fi
for db in passwd group shadow gshadow; do
  changes=$(diff "$work/$db" "$root/etc/$db" | grep '^[<>]' || true)
  expect "what /etc/$db gained" "$(cut -d: -f1 <<<"$changes")" "> mailtun"
done

[ $status = 0 ] && echo && echo "OK: installed, checked and purged in a minimal Debian 12 root"
exit $status
