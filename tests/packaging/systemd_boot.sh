#!/usr/bin/env bash
# The packaged unit under a real systemd: a minimal Debian 12 root with systemd and the .deb boots in
# systemd-nspawn (its own network namespace, loopback only), and a script run at boot sets up a VPS
# and an office instance from the installed examples as README.Debian says, starts both and checks:
# each is active (Type=notify: READY came), the office's peer comes up, the main process runs as
# mailtun with CAP_NET_BIND_SERVICE alone, no new privileges and a seccomp filter, it listens on the
# privileged LMTP port 24, /run/mailtun is 0750 mailtun:mailtun, and an instance whose file has an
# error is not started, with the error in its journal. So the sandbox lets mailtun do its work.
#
# Usage: systemd_boot.sh DEB       (needs root, debootstrap, systemd-nspawn and a Debian mirror)
set -euo pipefail
deb=$(realpath "$1")

source "$(dirname "$0")/minbase_root.sh"
minbase_preflight "$deb" debootstrap systemd-nspawn
minbase_workdir boot

echo "== a minbase root with systemd and the package"
minbase_root "$root"
cp "$deb" "$root/tmp/"
in_root apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends systemd systemd-sysv \
  "/tmp/$(basename "$deb")" > "$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; echo "FAIL: apt-get install"; exit 1; }
rm "$root/usr/sbin/policy-rc.d"

# What runs at boot: prints ok:/FAIL: lines into /root/boot-test.log, then powers the container off.
cat > "$root/root/boot-test.sh" <<'EOF'
#!/bin/sh
exec > /root/boot-test.log 2>&1
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; }
until_true() {  # until_true SECONDS COMMAND...: poll every 0.2 s
  deadline=$(( $(date +%s) + $1 )); shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

cd /etc/mailtun
(umask 077; mailtun genkey > vps.key; mailtun genkey > office.key)
install -m 640 -g mailtun /usr/share/doc/mailtun/examples/vps.toml vps.toml
install -m 640 -g mailtun /usr/share/doc/mailtun/examples/office.toml office.toml
sed -i "s|PASTE-THE-OFFICE-PUBLIC-KEY-HERE|$(mailtun pubkey < office.key)|" vps.toml
# Both ends on one host: the office dials this host, and its LMTP target moves off the VPS's port 24.
sed -i -e "s|PASTE-THE-VPS-PUBLIC-KEY-HERE|$(mailtun pubkey < vps.key)|" \
       -e 's|"vps.example.org:7424"|"127.0.0.1:7424"|' -e 's|"127.0.0.1:24"|"127.0.0.1:10024"|' office.toml
# The keys stay root-only (0600) as README.Debian says; LoadCredential= hands them to the service.
[ "$(stat -c '%a %U' vps.key)" = "600 root" ] && ok "the private key stays 600 root" ||
  fail "vps.key is $(stat -c '%a %U' vps.key)"

systemctl start mailtun@vps mailtun@office
for instance in vps office; do
  if until_true 10 systemctl is-active --quiet mailtun@$instance; then ok "mailtun@$instance is active"
  else fail "mailtun@$instance is $(systemctl is-active mailtun@$instance)"; systemctl status --no-pager mailtun@$instance; fi
done
if until_true 10 sh -c 'journalctl -u mailtun@office | grep -q "peer vps up"'; then ok "the office's peer vps is up"
else fail "the office's peer vps did not come up"; fi

pid=$(systemctl show -p MainPID --value mailtun@vps)
status=/proc/$pid/status
# The real user from status: the files under /proc/$pid belong to root, the process being
# non-dumpable (the kernel's sign of it: a dumpable process's environ belongs to its own user).
uid=$(awk '/^Uid:/ {print $2}' $status)
[ "$uid" = "$(id -u mailtun)" ] && ok "runs as mailtun" || fail "runs as uid $uid"
[ "$(stat -c %U /proc/$pid/environ)" = root ] && ok "non-dumpable (/proc/$pid/environ belongs to root)" ||
  fail "dumpable: /proc/$pid/environ belongs to $(stat -c %U /proc/$pid/environ)"
[ "$(systemctl show -p MemorySwapMax --value mailtun@vps)" = 0 ] && ok "never swapped" ||
  fail "MemorySwapMax=$(systemctl show -p MemorySwapMax --value mailtun@vps)"
grep -q '^CapEff:[[:space:]]*0000000000000400$' $status && ok "CAP_NET_BIND_SERVICE alone" || fail "$(grep ^Cap $status)"
grep -q '^NoNewPrivs:[[:space:]]*1$' $status && ok "no new privileges" || fail "$(grep ^NoNewPrivs $status)"
grep -q '^Seccomp:[[:space:]]*2$' $status && ok "a seccomp filter" || fail "$(grep ^Seccomp $status)"
# 127.0.0.1:24 listening (state 0A) in the container's own network namespace.
grep -q '^ *[0-9]*: 0100007F:0018 00000000:0000 0A' /proc/net/tcp && ok "listens on 127.0.0.1:24" ||
  fail "nothing listens on 127.0.0.1:24"
[ "$(stat -c '%a %U:%G' /run/mailtun)" = "750 mailtun:mailtun" ] && ok "/run/mailtun is 750 mailtun:mailtun" ||
  fail "/run/mailtun is $(stat -c '%a %U:%G' /run/mailtun)"

# mailtun status over the control socket: root and group mailtun only.
mailtun status > status.out 2>&1 && grep -q 'peer: office (up)' status.out && ok "mailtun status shows the office up" ||
  { fail "mailtun status"; cat status.out; }
[ "$(stat -c '%a %G' /run/mailtun/vps.sock)" = "660 mailtun" ] && ok "the control socket is 660, group mailtun" ||
  fail "the control socket is $(stat -c '%a %G' /run/mailtun/vps.sock)"
setpriv --reuid=nobody --regid=nogroup --clear-groups mailtun status --socket /run/mailtun/vps.sock > denied.out 2>&1 &&
  fail "nobody read the status" || { grep -q 'permission denied' denied.out && ok "others may not ask for the status" ||
  { fail "unexpected refusal"; cat denied.out; }; }

# journald keeps each line's priority: a stranger's key is a warning, found with -p warning.
(umask 077; mailtun genkey > rogue.key)
sed -e 's|/etc/mailtun/office.key|/etc/mailtun/rogue.key|' -e 's|127.0.0.1:2525|127.0.0.1:2526|' \
    -e 's|^name = "office"|name = "rogue"|' office.toml > rogue.toml
chgrp mailtun rogue.toml; chmod 640 rogue.toml
systemctl start mailtun@rogue
rogue_key=$(mailtun pubkey < rogue.key)
if until_true 10 sh -c "journalctl -u mailtun@vps -p warning | grep -q 'refused: its public key $rogue_key is not'"; then
  ok "an unknown key is a warning in the journal, with the key"
else fail "no warning about the unknown key"; journalctl -u mailtun@vps -o verbose | grep -E 'PRIORITY|MESSAGE' | tail; fi
journalctl -u mailtun@rogue -p warning | grep -q "without a word: it does not know this endpoint's public key $rogue_key" &&
  ok "the rogue side hears that the vps does not know its key" || fail "no warning on the rogue side"
systemctl stop mailtun@rogue

# The event loop feeds the watchdog (WatchdogSec=): systemd records the last ping.
if until_true 15 sh -c '[ "$(systemctl show -p WatchdogTimestampMonotonic --value mailtun@vps)" -gt 0 ]'; then
  ok "the watchdog is fed"
else fail "no watchdog ping recorded"; fi

# systemctl reload: SIGHUP re-reads the file; the service stays up, the peer stays connected.
systemctl reload mailtun@vps
if until_true 10 sh -c 'journalctl -u mailtun@vps | grep -q "reloaded /etc/mailtun/vps.toml"'; then
  ok "systemctl reload re-reads the configuration"
else fail "no reload in the journal"; fi
systemctl is-active --quiet mailtun@vps && ok "still active after reload" || fail "mailtun@vps died on reload"
[ "$(journalctl -u mailtun@office | grep -c 'peer vps up')" = 1 ] && ok "the office stayed connected" ||
  fail "the office reconnected"

cp -p vps.toml broken.toml
cp -p vps.key broken.key
sed -i 's|^peer = "office"$|peer = "ofice"|' broken.toml
systemctl start mailtun@broken && fail "mailtun@broken started"
journalctl -u mailtun@broken -p err | grep -q 'broken.toml:[0-9]*: forward\[0\].peer: "ofice" is not the name of any' &&
  ok "a configuration error stops the start, with FILE:LINE in the journal" ||
  { fail "no configuration error in the journal of mailtun@broken"; journalctl -u mailtun@broken | tail; }
systemctl stop mailtun@broken

echo "== the journal"
journalctl --no-pager -u mailtun@vps -u mailtun@office
echo done
systemctl poweroff
EOF
chmod 755 "$root/root/boot-test.sh"
cat > "$root/etc/systemd/system/mailtun-boot-test.service" <<'EOF'
[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/root/boot-test.sh
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/mailtun-boot-test.service "$root/etc/systemd/system/multi-user.target.wants/"
ln -s /dev/null "$root/etc/systemd/system/console-getty.service"  # the console stays the test's log

echo "== boot (systemd-nspawn)"
# No systemd on the host to register with, hence --register=no --keep-unit.
timeout 180 systemd-nspawn --quiet --register=no --keep-unit --private-network -D "$root" --boot \
  > "$work/console.log" 2>&1 || true
if ! [ -f "$root/root/boot-test.log" ] || ! grep -qx done "$root/root/boot-test.log"; then
  tail -40 "$work/console.log"
  cat "$root/root/boot-test.log" 2>/dev/null || true
  echo "FAIL: the boot test did not finish"
  exit 1
fi
cat "$root/root/boot-test.log"
if grep -q '^FAIL' "$root/root/boot-test.log"; then exit 1; fi
echo "OK: the packaged unit runs both ends under systemd"
