#!/usr/bin/env bash
# End-to-end proof of mailtun's mission (DESIGN §10): Debian's real Postfix on a "vps" and real Dovecot
# in an "office", each in its own network namespace, joined only by mailtun; an "attacker" (who is also
# "the Internet") on the same link. See docs/e2e.md for the drawing and what each scenario asserts.
#
#   sudo tests/e2e/run.sh build/cli/mailtun        (or MAILTUN=… tests/e2e/run.sh)
#
# Builds nothing. Exit 0: every check passed; 1: a check failed; 2: usage; 77: skipped (not root or
# no `ip netns`). Everything it creates (namespaces mt-e2e-PID-*, a temp dir, Postfix, Dovecot and
# mailtun processes) is removed on exit, on failure and on interruption. Environment knobs:
#   E2E_KEEP=1         keep the temp dir (configs and logs) for a post-mortem; namespaces still go
#   E2E_ONLY="1 2 5"   run only these scenarios (the tunnel, Postfix and Dovecot are always set up;
#                      the office's own Postfix only for scenarios 9 and 10, the backup MX vps2
#                      only for scenario 10)
#   E2E_LOAD=1000      messages in scenario 6;  E2E_OUTAGE=500  messages in scenario 7
#   E2E_SIZE=2000      message size in bytes for scenarios 6 and 7
#   E2E_FAILOVER=40    messages each way (inbound and outbound) in scenario 10
#   E2E_KILL=office    the endpoint scenario 7 kills twice (office or vps)
#   E2E_SIGNAL=KILL    the signal it uses (TERM: a graceful restart that drains)
#   E2E_KEEPALIVE=3    both peers' keepalive: 3 s declares the tunnel dead after 9 s, inside the
#                      10 s link outage; 15 (the default of mailtun) lets TCP ride it out
#   E2E_NET=10.203.0   the private /24 used inside the namespaces (never routed anywhere else)
#   E2E_DEADLINE=840   watchdog: the whole run is ended (and cleaned up) after this many seconds
#   E2E_DOCS=0         do not update the "last run" table in docs/e2e.md
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tool="$here/e2e_tool.py"

skip() {
  echo "=================================================================" >&2
  echo "SKIPPED: $*" >&2
  echo "=================================================================" >&2
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip "tests/e2e/run.sh needs root (network namespaces, Postfix, Dovecot); run it with sudo"
command -v ip >/dev/null 2>&1 || skip "the ip command (iproute2) is not installed"
probe_ns="mt-e2e-$$-probe"
if ! ip netns add "$probe_ns" >/dev/null 2>&1; then
  skip "\`ip netns\` is unavailable here (cannot create a network namespace)"
fi
ip netns del "$probe_ns" >/dev/null 2>&1

MAILTUN=${1:-${MAILTUN:-}}
if [ -z "$MAILTUN" ] || [ ! -x "$MAILTUN" ]; then
  echo "usage: $0 PATH/TO/mailtun   (or MAILTUN=PATH $0); build it first with scripts/build.sh" >&2
  exit 2
fi
MAILTUN=$(cd "$(dirname "$MAILTUN")" && pwd)/$(basename "$MAILTUN")

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
missing=()
for t in postfix postconf postqueue smtp-source dovecot doveadm swaks ss "$PY"; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
# Scenario 8's IMAP server (Debian package dovecot-imapd)
[ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/imap-login ] || missing+=("dovecot-imapd")
if [ ${#missing[@]} -gt 0 ]; then
  echo "FAIL: missing tools: ${missing[*]} (install them with: bash scripts/install-deps.sh)" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------------
# Names, addresses, state

net=${E2E_NET:-10.203.0}
vps_ip=$net.1
office_ip=$net.2
vps2_ip=$net.3               # scenario 10's backup MX
attacker_ip=$net.66
tun_port=7424
prefix="mt-e2e-$$"
ns_sw=$prefix-sw
ns_vps=$prefix-vps
ns_office=$prefix-office
ns_attacker=$prefix-attacker
ns_vps2=$prefix-vps2
all_scenarios="1 2 3 4 5 6 7 8 9 10"
only=" ${E2E_ONLY:-$all_scenarios} "
selected() { [[ $only == *" $1 "* ]]; }
hosts=(vps office attacker)
selected 10 && hosts+=(vps2)      # the backup MX exists only for scenario 10
all_ns=()
for h in "${hosts[@]}"; do all_ns+=("$prefix-$h"); done
all_ns+=("$ns_sw")
n_load=${E2E_LOAD:-1000}
n_outage=${E2E_OUTAGE:-500}
n_failover=${E2E_FAILOVER:-40}
msg_size=${E2E_SIZE:-2000}
kill_side=${E2E_KILL:-office}
kill_signal=${E2E_SIGNAL:-KILL}
primary_peer=vps             # the office's name for the primary VPS (scenario 10 reads it from office.toml)
keepalive=${E2E_KEEPALIVE:-3}
case $kill_side in office|vps) ;; *) echo "E2E_KILL must be office or vps" >&2; exit 2 ;; esac

T=""
declare -A mt_pid=()         # mailtun PIDs by side (vps, office, rogue)
bg_pids=()                   # other background helpers we started
dovecot_pid=""
failures=0
checks=()                    # "PASS|FAIL<TAB>name<TAB>detail"
summary=()                   # "scenario<TAB>delivered<TAB>lost<TAB>duplicated<TAB>deferred<TAB>seconds"
run_start=$(date +%s)

say() { printf '[%4ds] %s\n' $(( $(date +%s) - run_start )) "$*"; }
ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

check() {  # check PASS|FAIL NAME DETAIL
  local status=$1 name=$2 detail=$3
  checks+=("$status"$'\t'"$name"$'\t'"$detail")
  [ "$status" = PASS ] || failures=$((failures + 1))
  printf '  %-4s  %-58s %s\n' "$status" "$name" "$detail"
}
pass() { check PASS "$1" "$2"; }
fail() { check FAIL "$1" "$2"; }
row() { summary+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"); }

# wait_until SECONDS COMMAND...: polls every 0.3 s; returns 1 when the deadline passes
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}

in_vps() { ip netns exec "$ns_vps" "$@"; }
in_office() { ip netns exec "$ns_office" "$@"; }
in_attacker() { ip netns exec "$ns_attacker" "$@"; }
tool() { local ns=$1; shift; ip netns exec "$ns" timeout 120 "$PY" "$tool" "$@"; }
pf() { postfix -c "$T/vps/postfix" "$@"; }
pq() { postqueue -c "$T/vps/postfix" "$@"; }
maillog() { echo "$T/vps/maillog"; }
log_offset() { stat -c %s "$(maillog)" 2>/dev/null || echo 0; }

# listening NS ADDR:PORT...: every given local address has a listening TCP socket (no connection
# is made: a probe connection would count as a client in Postfix's and Dovecot's logs)
listening() {
  local ns=$1 a have; shift
  have=$(ip netns exec "$ns" ss -ltnH | awk '{ print $4 }')
  for a in "$@"; do grep -qxF -- "$a" <<<"$have" || return 1; done
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID [SECONDS]: TERM, then KILL after the grace time; only PIDs this script started
stop_pid() {
  local pid=$1 grace=${2:-5} i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "$rc" -ne 0 ] || [ "$failures" -gt 0 ]; then
      for f in mailtun-vps.log mailtun-vps2.log mailtun-office.log vps/maillog vps2/maillog office/dovecot.log \
               office/maillog; do
        [ -s "$T/$f" ] || continue
        echo "----- last lines of $f -----"
        tail -n 15 "$T/$f"
      done
    fi
  fi
  for pid in "${bg_pids[@]}"; do stop_pid "$pid" 2; done
  for side in "${!mt_pid[@]}"; do stop_pid "${mt_pid[$side]}" 5; done
  local side master
  for side in vps vps2 office; do
    [ -n "$T" ] && [ -f "$T/$side/postfix/main.cf" ] || continue
    timeout 30 postfix -c "$T/$side/postfix" stop >/dev/null 2>&1
    master=$(sed -n '1s/ //gp' "$T/$side/spool/pid/master.pid" 2>/dev/null)
    if pid_alive "$master"; then
      timeout 10 postfix -c "$T/$side/postfix" abort >/dev/null 2>&1
      sleep 1
      pid_alive "$master" && kill -KILL "$master" 2>/dev/null
    fi
  done
  [ -n "$dovecot_pid" ] && stop_pid "$dovecot_pid" 10
  # Whatever is still inside our own namespaces was started by this script (a Postfix or Dovecot
  # child that outlived its master): end it, then delete the namespaces.
  for ns in "${all_ns[@]}"; do
    ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
      kill -TERM $pids 2>/dev/null; sleep 1
      pids=$(ip netns pids "$ns" 2>/dev/null)
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT HUP
trap 'echo; echo "terminated: cleaning up"; exit 143' TERM

# ---------------------------------------------------------------------------------------------------
# Topology: a bridge in its own namespace, one veth port per host namespace, private /24

setup_network() {
  local ns
  for ns in "${all_ns[@]}"; do ip netns add "$ns" || return 1; done
  ip -n "$ns_sw" link add br0 type bridge || return 1
  ip -n "$ns_sw" link set br0 up
  local host addr
  for host in "${hosts[@]}"; do
    ns=$prefix-$host
    case $host in vps) addr=$vps_ip ;; vps2) addr=$vps2_ip ;; office) addr=$office_ip ;; attacker) addr=$attacker_ip ;; esac
    ip -n "$ns_sw" link add "p-$host" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$ns_sw" link set "p-$host" master br0 up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  ip -n "$ns_sw" link set lo up
  for host in "${hosts[@]}"; do
    wait_until 10 eval "ip -n $prefix-$host link show eth0 | grep -q 'state UP'" || return 1
  done
}

# ---------------------------------------------------------------------------------------------------
# Keys and mailtun configurations (DESIGN §7), made by `mailtun init` as a new user makes them: the
# VPS first, then the office with the VPS's public key, then the office's public key pasted into the
# VPS's file in place of the placeholder. The test adds only what its environment needs: the
# namespace address the office dials (--endpoint) and a short keepalive for the outage scenario.

# init_snippet SIDE TITLE: the lines `mailtun init` printed on SIDE under "# --- TITLE ---"
init_snippet() {
  awk -v h="# --- $2 ---" '$0 == h { on = 1; next } /^# --- .* ---$/ { on = 0 } on' "$T/$1/init.out"
}

setup_mailtun() {
  local d
  for d in vps office attacker; do mkdir -p "$T/$d"; done
  "$MAILTUN" init --role vps --dir "$T/vps" >"$T/vps/init.out" 2>&1 || { cat "$T/vps/init.out"; return 1; }
  local vps_pub office_pub
  vps_pub=$(sed -n 's/^public key of vps: //p' "$T/vps/init.out")
  "$MAILTUN" init --role office --dir "$T/office" --endpoint "$vps_ip:$tun_port" --peer-public-key "$vps_pub" \
    >"$T/office/init.out" 2>&1 || { cat "$T/office/init.out"; return 1; }
  office_pub=$(sed -n 's/^public key of office: //p' "$T/office/init.out")
  sed -i "s|^public_key = \"paste the public key of office here\"\$|public_key = \"$office_pub\"|" "$T/vps/vps.toml"
  for d in vps office; do sed -i "/^public_key = /a keepalive = $keepalive" "$T/$d/$d.toml"; done
  if selected 10; then setup_mailtun_vps2 "$office_pub" || return 1; fi
  # Scenarios 8 and 9: mail clients on the road reach the office's Dovecot (IMAP) and the office's
  # own Postfix (submission) through public forwards on the vps; the exposes in the office send the
  # client's address first in a PROXY header (v2 to Dovecot, v1 to Postfix: both versions run).
  # `mailtun init` writes no such lines: they are the ones docs/dovecot.md and docs/postfix.md show.
  cat >> "$T/vps/vps.toml" <<EOF

# e2e scenario 8: IMAP from the road (IMAP authenticates its users, so it may listen publicly)
[[forward]]
service = "imap"
listen = "$vps_ip:143"
peer = "office"

# e2e scenario 9: submission to the office's own Postfix (587 is the vps Postfix's, hence 1587)
[[forward]]
service = "submission"
listen = "$vps_ip:1587"
peer = "office"
EOF
  cat >> "$T/office/office.toml" <<EOF

# e2e scenario 8: Dovecot's imap-login listener with haproxy = yes
[[expose]]
service = "imap"
target = "127.0.0.1:143"
peers = ["vps"]
proxy_protocol = "v2"

# e2e scenario 9: the office Postfix's submission service with smtpd_upstream_proxy_protocol = haproxy
[[expose]]
service = "submission"
target = "127.0.0.1:587"
peers = ["vps"]
proxy_protocol = "v1"
EOF
  (umask 077; "$MAILTUN" genkey > "$T/attacker/rogue.key") || return 1
  # The attacker's own endpoint: it knows the vps's public key (public keys are public) but its own
  # key is no configured peer's.
  cat > "$T/attacker/rogue.toml" <<EOF
[interface]
name = "rogue"
private_key_file = "$T/attacker/rogue.key"

[[peer]]
name = "vps"
public_key = "$vps_pub"
endpoint = "127.0.0.1:$tun_port"

[[forward]]
service = "lmtp"
listen = "127.0.0.1:24"
peer = "vps"
EOF
  "$MAILTUN" check --config "$T/vps/vps.toml" >"$T/vps/check.out" 2>&1 || { cat "$T/vps/check.out"; return 1; }
  "$MAILTUN" check --config "$T/office/office.toml" >"$T/office/check.out" 2>&1 || { cat "$T/office/check.out"; return 1; }
  if selected 10; then
    "$MAILTUN" check --config "$T/vps2/vps2.toml" >"$T/vps2/check.out" 2>&1 || { cat "$T/vps2/check.out"; return 1; }
  fi
}

# Scenario 10's backup MX, added as a new user adds one (docs/operations.md, "A backup MX"): `mailtun
# init --role vps --name vps2` on the second VPS and the office's public key pasted into its file; in
# the office a second [[peer]], and init's lines that name the primary extended to both VPSs.
setup_mailtun_vps2() {
  local office_pub=$1 vps2_pub primary both
  mkdir -p "$T/vps2"
  "$MAILTUN" init --role vps --name vps2 --dir "$T/vps2" >"$T/vps2/init.out" 2>&1 || { cat "$T/vps2/init.out"; return 1; }
  vps2_pub=$(sed -n 's/^public key of vps2: //p' "$T/vps2/init.out")
  sed -i "s|^public_key = \"paste the public key of office here\"\$|public_key = \"$office_pub\"|" "$T/vps2/vps2.toml"
  sed -i "/^public_key = /a keepalive = $keepalive" "$T/vps2/vps2.toml"
  # The primary's name as the office's file has it (init's --peer-name, "vps" by default)
  primary=$(awk '/^\[\[peer\]\]/ { p = 1; next } p && /^name = / { gsub(/^name = "|"$/, ""); print; exit }' \
              "$T/office/office.toml")
  both="peers = [\"$primary\", \"vps2\"]"
  primary_peer=$primary
  # Both VPSs deliver over LMTP and ask Dovecot's auth service; the relay forward fails over from the
  # primary to the backup (docs/configuration.md, `peers`).
  sed -i -e "/^service = \"lmtp\"\$/,/^peers = /s|^peers = .*|# e2e scenario 10: the backup MX delivers too\n$both|" \
         -e "/^service = \"dovecot-auth\"\$/,/^peers = /s|^peers = .*|# e2e scenario 10: the backup MX asks too\n$both|" \
         -e "/^service = \"relay\"\$/,/^peer = /s|^peer = .*|# e2e scenario 10: failover, the primary while it is up, else the backup\n$both|" \
         "$T/office/office.toml"
  [ "$(grep -cxF "$both" "$T/office/office.toml")" = 3 ] \
    || { echo "office.toml: init's lmtp, dovecot-auth and relay lines were not where expected"; return 1; }
  cat >> "$T/office/office.toml" <<EOF

# e2e scenario 10: the backup MX, a second VPS this office dials as well
[[peer]]
name = "vps2"
public_key = "$vps2_pub"
endpoint = "$vps2_ip:$tun_port"
keepalive = $keepalive
EOF
}

start_mailtun() {  # start_mailtun SIDE NAMESPACE CONFIG
  local side=$1 ns=$2 config=$3
  ip netns exec "$ns" "$MAILTUN" up --config "$config" --log-level debug >>"$T/mailtun-$side.log" 2>&1 &
  mt_pid[$side]=$!
}

# A forward's client sees Dovecot's LMTP greeting once the tunnel is up, mailtun's 421 before.
lmtp_through_tunnel() { tool "${1:-$ns_vps}" banner 127.0.0.1 24 --timeout 3 | grep -q '^220 '; }

# make_cert DIR CN: a throwaway certificate DIR/tls.crt and key DIR/tls.key for STARTTLS (a real
# server has its own, e.g. from Let's Encrypt)
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
    -keyout "$1/tls.key" -out "$1/tls.crt" >"$1/openssl.out" 2>&1 || { cat "$1/openssl.out"; return 1; }
}

# ---------------------------------------------------------------------------------------------------
# Dovecot in the office: LMTP, auth and IMAP on loopback only, passwd-file users, maildirs under $T

setup_dovecot() {
  local d=$T/office
  mkdir -p "$d/run" "$d/state" "$d/mail"
  chown mail:mail "$d/mail"
  cat > "$d/users" <<EOF
alice@example.test:{PLAIN}alice-secret-pw:8:8::$d/mail/alice::
bob@example.test:{PLAIN}bob-secret-pw:8:8::$d/mail/bob::
EOF
  chown root:dovecot "$d/users"; chmod 640 "$d/users"
  # IMAP clients (scenario 8) use STARTTLS before LOGIN, as Dovecot insists off loopback
  make_cert "$d" imap.example.test || return 1
  chmod 640 "$d/tls.key"; chown root:dovecot "$d/tls.key"
  # init's Dovecot lines, as the conf.d file it names; the rest of dovecot.conf is this test's own
  # environment (its paths, its users, a throwaway certificate), and the IMAP listener for mailtun's
  # expose "imap" (scenario 8) is the one docs/dovecot.md shows.
  init_snippet office "dovecot conf.d/99-mailtun.conf (office)" > "$d/99-mailtun.conf"
  cat > "$d/dovecot.conf" <<EOF
# mailtun e2e: the office's Dovecot. Nothing listens on anything but loopback.
instance_name = $prefix
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = lmtp imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$d/tls.crt
ssl_key = <$d/tls.key
auth_mechanisms = plain login
first_valid_uid = 8
last_valid_uid = 8
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/users
}
userdb {
  driver = passwd-file
  args = $d/users
}
protocol lmtp {
  postmaster_address = postmaster@example.test
}
!include $d/99-mailtun.conf

# Scenario 8, as in docs/dovecot.md: IMAP from the road arrives through mailtun's expose "imap",
# which begins each connection with a PROXY v2 header carrying the client's address.
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 143
    haproxy = yes
  }
  inet_listener imaps {
    port = 0
  }
}
haproxy_trusted_networks = 127.0.0.1
EOF
  ip netns exec "$ns_office" dovecot -F -c "$d/dovecot.conf" >>"$d/dovecot.out" 2>&1 &
  dovecot_pid=$!
  wait_until 20 listening "$ns_office" 127.0.0.1:24 127.0.0.1:3659 127.0.0.1:143 \
    || { cat "$d/dovecot.out" "$d/dovecot.log" 2>/dev/null; return 1; }
}

# ---------------------------------------------------------------------------------------------------
# Postfix instances: each with its own config_directory, queue and data directories and log under
# $T/SIDE; /etc/postfix is never read or written. The vps runs the mail domain's MX and init's
# lines; the office runs a second, minimal one for scenario 9.

# postfix_base SIDE MYHOSTNAME SYSLOG_NAME: the main.cf and master.cf every instance here shares (its
# own directories and names, no DNS, no local delivery), to which the caller appends its own lines
postfix_base() {
  local d=$T/$1
  mkdir -p "$d/postfix" "$d/spool" "$d/data"
  chown postfix:postfix "$d/data"
  cat > "$d/postfix/main.cf" <<EOF
# mailtun e2e: the $1's Postfix. Its own instance; /etc/postfix is never read or written.
compatibility_level = 3.6
config_directory = $d/postfix
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = $3
myhostname = $2
mydomain = example.test
myorigin = \$mydomain
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in this test
alias_maps =
alias_database =
mynetworks =
inet_protocols = ipv4
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
biff = no
notify_classes =
smtputf8_enable = no
enable_long_queue_ids = yes
maillog_file = $d/maillog
maillog_file_prefixes = $T

EOF
  cat > "$d/postfix/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
EOF
  touch "$d/maillog"
}

# postfix_start SIDE NAMESPACE ADDR:PORT...: check the configuration, start the instance in its
# namespace, wait until it listens on every given address
postfix_start() {
  local side=$1 ns=$2 d=$T/$1; shift 2
  postfix -c "$d/postfix" check >"$d/postfix.check" 2>&1 || { cat "$d/postfix.check"; return 1; }
  ip netns exec "$ns" postfix -c "$d/postfix" start >"$d/postfix.start" 2>&1 || { cat "$d/postfix.start"; return 1; }
  wait_until 20 listening "$ns" "$@" || { cat "$d/postfix.start" "$d/maillog"; return 1; }
}

# setup_vps_postfix SIDE NAMESPACE MYHOSTNAME SYSLOG_NAME: a VPS's Postfix, the MX of example.test
# (the primary "vps", and scenario 10's backup MX "vps2", configured alike from their own init output)
setup_vps_postfix() {
  local side=$1 ns=$2 d=$T/$1
  postfix_base "$side" "$3" "$4" || return 1
  mkdir -p "$d/sink"
  chown nobody:nogroup "$d/sink"
  cat > "$d/sink.sh" <<EOF
#!/bin/sh
# Transport "sink": where mail for the outside world ends, so nothing leaves the namespaces.
umask 022
exec cat > "$d/sink/\$1.\$\$.eml"
EOF
  chmod 755 "$d/sink.sh"
  # STARTTLS, which init's submission service requires before AUTH
  make_cert "$d" "$3" || return 1
  # main.cf and master.cf: this test's environment (postfix_base, a sink for the outside world,
  # fast retries), then the lines `mailtun init` printed for the vps.
  cat >> "$d/postfix/main.cf" <<EOF
inet_interfaces = all
smtpd_tls_cert_file = $d/tls.crt
smtpd_tls_key_file = $d/tls.key

# Fast retries for the outage scenario.
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 15s
maximal_queue_lifetime = 1d
bounce_queue_lifetime = 1d

# The mail domain, whose mailboxes live in the office.
virtual_mailbox_domains = example.test

# Outside domains go to a local sink.
transport_maps = inline:{ example.net=sink: }
default_transport = sink:
relay_transport = sink:
sink_destination_recipient_limit = 1

EOF
  init_snippet "$side" "postfix main.cf (vps)" >> "$d/postfix/main.cf"
  cat >> "$d/postfix/master.cf" <<EOF
smtp      inet  n       -       n       -       -       smtpd
sink      unix  -       n       n       -       -       pipe
  flags=Rq user=nobody argv=$d/sink.sh \${queue_id}
EOF
  init_snippet "$side" "postfix master.cf (vps)" >> "$d/postfix/master.cf"
  postfix_start "$side" "$ns" 0.0.0.0:25 0.0.0.0:587 127.0.0.1:10025
}

# The office's own Postfix (scenarios 9 and 10). Scenario 9: only the submission service that
# mailtun's expose "submission" connects to, as docs/postfix.md shows it; nothing is delivered, the
# test quits after EHLO and checks the log line "connect from …". Scenario 10: the office's MTA,
# relaying outbound mail through mailtun's forward "relay" with init's relayhost line, so it queues
# and retries like a real one; office clients submit at 127.0.0.1:25.
setup_office_postfix() {
  local d=$T/office
  postfix_base office office.example.test postfix-office || return 1
  cat >> "$d/postfix/main.cf" <<EOF
inet_interfaces = loopback-only

# Fast retries for scenario 10 (the primary VPS goes away mid-run).
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 15s
maximal_queue_lifetime = 1d
bounce_queue_lifetime = 1d

EOF
  init_snippet office "postfix main.cf (office)" >> "$d/postfix/main.cf"
  cat >> "$d/postfix/master.cf" <<EOF
# Submission from the road through mailtun: every connection begins with a PROXY header (v1 here)
# carrying the client's address. For mailtun only; clients in the office use another service.
127.0.0.1:587 inet n    -       n       -       -       smtpd
  -o syslog_name=postfix/submission-proxy
  -o smtpd_upstream_proxy_protocol=haproxy
# Scenario 10: the office's own clients (here smtp-source) hand their outbound mail to this Postfix.
127.0.0.1:25 inet n     -       n       -       -       smtpd
  -o syslog_name=postfix/office-in
  -o mynetworks=127.0.0.0/8
  -o smtpd_relay_restrictions=permit_mynetworks,reject
EOF
  postfix_start office "$ns_office" 127.0.0.1:587 127.0.0.1:25
}

# ---------------------------------------------------------------------------------------------------
# Small SMTP helpers (swaks); every call bounded

# swaks_rcpt_reply NS SERVER RCPT: the server's final reply line to RCPT TO (or the connect error)
swaks_rcpt_reply() {
  local ns=$1 server=$2 rcpt=$3 out
  out=$(ip netns exec "$ns" timeout 30 swaks --server "$server" --helo client.example.net \
          --from sender@example.net --to "$rcpt" --quit-after RCPT --timeout 20 2>&1)
  printf '%s\n' "$out" | awk '/ -> RCPT TO/ { r = 1; next } r && /^<[-*~]+ / { print; exit }' \
    | sed -E 's/^<[-*~]+ +//'
}

# retry_rcpt NS SERVER RCPT SECONDS: repeats while the answer is "verification in progress"
retry_rcpt() {
  local ns=$1 server=$2 rcpt=$3 secs=$4 deadline reply tries=0
  deadline=$(( $(date +%s) + secs ))
  while :; do
    tries=$((tries + 1))
    reply=$(swaks_rcpt_reply "$ns" "$server" "$rcpt")
    case $reply in
      *"in progress"*|"") [ "$(date +%s)" -lt "$deadline" ] || break; sleep 1 ;;
      *) break ;;
    esac
  done
  echo "$tries|$reply"
}

# send_mail NS SERVER FROM TO MESSAGE-ID [extra swaks args]: 0 when the message was accepted
send_mail() {
  local ns=$1 server=$2 from=$3 to=$4 mid=$5; shift 5
  ip netns exec "$ns" timeout 40 swaks --server "$server" --helo client.example.net --from "$from" --to "$to" \
    --header "Message-Id: $mid" --header "Subject: mailtun e2e $mid" --body "mailtun e2e test message $mid" \
    --timeout 30 "$@" >"$T/swaks.last" 2>&1
}

maildir_has() {  # maildir_has USER MESSAGE-ID
  grep -rlixF -- "Message-Id: $2" "$T/office/mail/$1/Maildir/new" "$T/office/mail/$1/Maildir/cur" 2>/dev/null | grep -q .
}

qid_deferrals() {  # how often Postfix deferred this queue id
  local n=0
  [ -n "$1" ] && n=$(grep -c "postfix/.*: $1: .*status=deferred" "$(maillog)")
  echo "${n:-0}"
}

# prime_verify RCPT [MX:PORT]: until the address verification cache of that MX (default the
# primary) knows RCPT (so load is not refused with "verification in progress")
prime_verify() {
  local r
  r=$(retry_rcpt "$ns_attacker" "${2:-$vps_ip:25}" "$1" 60)
  [[ ${r#*|} =~ ^250 ]] || say "  warning: RCPT $1 not accepted: ${r#*|}"
}

queue_empty() { pq -p 2>/dev/null | grep -q 'Mail queue is empty'; }

# mail_settle SENDER USER SECONDS: flush until the queue is empty and every accepted message of
# SENDER is delivered, or the deadline passes
mail_settle() {
  local sender=$1 user=$2 secs=$3 offset=$4 deadline last_flush=0 stats
  deadline=$(( $(date +%s) + secs ))
  while :; do
    if queue_empty; then
      stats=$(tool "$ns_vps" mailstats --maillog "$(maillog)" --offset "$offset" --sender "$sender" \
                --maildir "$T/office/mail/$user/Maildir")
      [ "$(jq_get "$stats" lost)" = 0 ] && return 0
    fi
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    if [ $(( $(date +%s) - last_flush )) -ge 8 ]; then pq -f >/dev/null 2>&1; last_flush=$(date +%s); fi
    sleep 1
  done
}

jq_get() { "$PY" -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(v if v is not None else "")' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------------
# Scenarios

scenario_1_delivery() {
  echo; say "Scenario 1: inbound mail, Internet -> vps:25 -> LMTP through the tunnel -> Dovecot"
  local t0 mid tries=0 deadline
  t0=$(ms)
  mid="<e2e-1.$$.$(date +%s)@example.net>"
  deadline=$(( $(date +%s) + 60 ))
  until send_mail "$ns_attacker" "$vps_ip:25" bob@example.net alice@example.test "$mid"; do
    tries=$((tries + 1))
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 2
  done
  if ! grep -q '^<-  250 .*queued as' "$T/swaks.last"; then
    fail "1 delivery: vps:25 accepts mail for alice" "$(grep -E '^<\*\*' "$T/swaks.last" | tail -1)"
    row "1 delivery" 0 1 0 "$tries" "$(secs_since "$t0")"
    return
  fi
  local deferred
  if wait_until 60 maildir_has alice "$mid"; then
    local file
    file=$(grep -rlixF -- "Message-Id: $mid" "$T/office/mail/alice/Maildir/" | head -1)
    pass "1 delivery: message in alice's maildir, Message-ID intact" "$mid in Maildir/$(basename "$(dirname "$file")")/ after $(secs_since "$t0") s"
    deferred=$(qid_deferrals "$(grep -o 'queued as [0-9A-Za-z]*' "$T/swaks.last" | cut -d' ' -f3)")
    row "1 delivery" 1 0 0 "$deferred" "$(secs_since "$t0")"
  else
    fail "1 delivery: message in alice's maildir, Message-ID intact" "not delivered within 60 s"
    row "1 delivery" 0 1 0 - "$(secs_since "$t0")"
  fi
}

scenario_2_sasl() {
  echo; say "Scenario 2: SASL AUTH PLAIN after STARTTLS on vps:587 against Dovecot's auth service in the office"
  local t0 out
  t0=$(ms)
  out=$(tool "$ns_attacker" submission "$vps_ip" 587 --user alice@example.test --password alice-secret-pw)
  if [ "$(jq_get "$out" auth_before_tls)" = False ] && [[ $(jq_get "$out" tls) == 220* ]]; then
    pass "2 SASL: AUTH offered only after STARTTLS" "STARTTLS: $(jq_get "$out" tls)"
  else
    fail "2 SASL: AUTH offered only after STARTTLS" "$out"
  fi
  if [[ $(jq_get "$out" auth) == 235* ]]; then
    pass "2 SASL: right password" "$(jq_get "$out" auth)"
  else
    fail "2 SASL: right password" "$out"
  fi
  out=$(tool "$ns_attacker" submission "$vps_ip" 587 --user alice@example.test --password wrong-password)
  if [[ $(jq_get "$out" auth) == 535* ]]; then
    pass "2 SASL: wrong password gets 535" "$(jq_get "$out" auth)"
  else
    fail "2 SASL: wrong password gets 535" "$out"
  fi
  # Without a session, submission must refuse to relay.
  out=$(tool "$ns_attacker" submission "$vps_ip" 587 --rcpt someone@example.net)
  case $(jq_get "$out" rcpt) in
    5*) pass "2 SASL: unauthenticated submission refused" "$(jq_get "$out" rcpt)" ;;
    *) fail "2 SASL: unauthenticated submission refused" "$out" ;;
  esac
  row "2 SASL" - - - - "$(secs_since "$t0")"
}

scenario_3_verify() {
  echo; say "Scenario 3: reject_unverified_recipient, probes over LMTP through the tunnel"
  local t0 r tries reply
  t0=$(ms)
  r=$(retry_rcpt "$ns_attacker" "$vps_ip:25" "nobody-$$@example.test" 60)
  tries=${r%%|*}; reply=${r#*|}
  if [[ $reply =~ ^(450|550) ]] && [[ $reply == *"User doesn't exist"* ]]; then
    pass "3 verify: unknown user refused at RCPT (Dovecot's answer)" "after $tries tries: ${reply:0:150}"
  else
    fail "3 verify: unknown user refused at RCPT (Dovecot's answer)" "after $tries tries: ${reply:-no reply}"
  fi
  r=$(retry_rcpt "$ns_attacker" "$vps_ip:25" "bob@example.test" 60)
  tries=${r%%|*}; reply=${r#*|}
  if [[ $reply =~ ^250 ]]; then
    pass "3 verify: known user accepted at RCPT" "after $tries tries: $reply"
  else
    fail "3 verify: known user accepted at RCPT" "after $tries tries: ${reply:-no reply}"
  fi
  row "3 verify" - - - - "$(secs_since "$t0")"
}

scenario_4_relay() {
  echo; say "Scenario 4: smart relay, office 127.0.0.1:2525 -> tunnel -> vps 127.0.0.1:10025 -> sink"
  local t0 mid out delivered=0 lost=1 relayhost
  t0=$(ms)
  mid="<e2e-4.$$.$(date +%s)@example.test>"
  # The office MTA here is swaks, sent where init's office main.cf line sends a Postfix: relayhost = [HOST]:PORT
  relayhost=$(init_snippet office "postfix main.cf (office)" | sed -n 's/^relayhost = \[\(.*\)\]:\([0-9]*\)$/\1:\2/p')
  if send_mail "$ns_office" "${relayhost:-no-relayhost-line}" alice@example.test someone@example.net "$mid" \
      && grep -q '^<-  250 .*queued as' "$T/swaks.last"; then
    pass "4 relay: office submits through the tunnel" "$(grep '^<-  250 .*queued as' "$T/swaks.last" | sed 's/^<-  //')"
    if wait_until 30 eval "grep -rqixF -- 'Message-Id: $mid' '$T/vps/sink/'"; then
      pass "4 relay: accepted for relay and delivered to the sink" \
        "$(grep -m1 'postfix/relay-in/smtpd.*client=' "$(maillog)" | sed 's/.*: client=/client=/'), sink has $mid"
      delivered=1; lost=0
    else
      fail "4 relay: accepted for relay and delivered to the sink" "not in the sink within 30 s"
    fi
  else
    fail "4 relay: office submits through the tunnel" "$(grep -E '^(<\*\*|\*\*\*)' "$T/swaks.last" | tail -1)"
  fi
  # The same message from the attacker, straight to the relay port: it is loopback-only.
  out=$(in_attacker timeout 20 swaks --server "$vps_ip:10025" --from alice@example.test --to someone@example.net \
          --header "Message-Id: $mid" --timeout 10 2>&1)
  if printf '%s\n' "$out" | grep -qi 'connection refused'; then
    pass "4 relay: attacker -> vps:10025 impossible" "connection refused (listener on 127.0.0.1 only)"
  else
    fail "4 relay: attacker -> vps:10025 impossible" "$(printf '%s\n' "$out" | tail -2 | tr '\n' ' ')"
  fi
  out=$(swaks_rcpt_reply "$ns_attacker" "$vps_ip:25" someone@example.net)
  case $out in
    [45]*"Relay access denied"*) pass "4 relay: attacker -> vps:25 refused as relay" "$out" ;;
    *) fail "4 relay: attacker -> vps:25 refused as relay" "${out:-no reply}" ;;
  esac
  local sunk
  sunk=$(find "$T/vps/sink" -type f | wc -l)
  if [ "$sunk" -eq "$delivered" ]; then
    pass "4 relay: nothing else reached the sink" "$sunk message(s) in the sink"
  else
    fail "4 relay: nothing else reached the sink" "$sunk message(s) in the sink, expected $delivered"
  fi
  row "4 relay" "$delivered" "$lost" 0 "$(qid_deferrals "$(grep -o 'queued as [0-9A-Za-z]*' "$T/swaks.last" | cut -d' ' -f3)")" "$(secs_since "$t0")"
}

scenario_5_isolation() {
  echo; say "Scenario 5: isolation — what the attacker and the vps can reach"
  local t0 out bad
  t0=$(ms)
  for from in attacker vps; do
    out=$(tool "$prefix-$from" probe "$office_ip" 24 3659 2525 --timeout 2 | tr '\n' ' ')
    if ! grep -q open <<<"$out"; then
      pass "5 isolation: $from -> office:24,3659,2525 unreachable" "$out"
    else
      fail "5 isolation: $from -> office:24,3659,2525 unreachable" "$out"
    fi
  done
  out=$(tool "$ns_attacker" scan "$office_ip" --deadline 60)
  if [ "$(jq_get "$out" open)" = "[]" ]; then
    pass "5 isolation: attacker port scan of the office" "0 open of $(jq_get "$out" scanned) TCP ports"
  else
    fail "5 isolation: attacker port scan of the office" "$out"
  fi
  bad=$(in_office ss -ltnuH | awk '{ print $5 }' | grep -vE '^(127\.[0-9.]+|\[::1\]|::1):[0-9]+$' || true)
  if [ -z "$bad" ]; then
    pass "5 isolation: office listens on loopback only" "$(in_office ss -ltnH | awk '{ print $4 }' | sort -u | tr '\n' ' ')"
  else
    fail "5 isolation: office listens on loopback only" "non-loopback: $(tr '\n' ' ' <<<"$bad")"
  fi
  local mode r
  for mode in random badmac idle; do
    r=$(tool "$ns_attacker" hostile "$vps_ip" "$tun_port" --mode "$mode" --wait 8)
    if [ "$(jq_get "$r" received)" = 0 ] && [ "$(jq_get "$r" closed)" != timeout ]; then
      pass "5 isolation: vps:$tun_port says nothing to $mode bytes" \
        "sent $(jq_get "$r" sent) B, got 0 B, closed ($(jq_get "$r" closed)) after $(jq_get "$r" seconds) s"
    else
      fail "5 isolation: vps:$tun_port says nothing to $mode bytes" "$r"
    fi
  done
  # A real mailtun with a key the vps does not know, dialing through a recording proxy.
  tool "$ns_attacker" record-proxy --listen "127.0.0.1:$tun_port" --target "$vps_ip:$tun_port" \
    --out "$T/attacker/record.json" --duration 9 &
  local proxy=$!
  bg_pids+=("$proxy")
  wait_until 5 listening "$ns_attacker" "127.0.0.1:$tun_port"
  start_mailtun rogue "$ns_attacker" "$T/attacker/rogue.toml"
  sleep 6
  local rogue_banner
  rogue_banner=$(tool "$ns_attacker" banner 127.0.0.1 24 --timeout 3)
  stop_pid "${mt_pid[rogue]}" 5; unset 'mt_pid[rogue]'
  wait "$proxy" 2>/dev/null
  r=$("$PY" - "$T/attacker/record.json" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1]))
msg1 = [r for r in recs if r["c2s"] == 130 and r["c2s_head"].startswith("0080010000")]
print(json.dumps({"connections": len(recs), "well_formed_msg1": len(msg1),
                  "bytes_back": sum(r["s2c"] for r in recs)}))
EOF
)
  if [ "$(jq_get "$r" connections)" -ge 1 ] && [ "$(jq_get "$r" connections)" = "$(jq_get "$r" well_formed_msg1)" ] \
      && [ "$(jq_get "$r" bytes_back)" = 0 ]; then
    pass "5 isolation: wrong key gets nothing" "$(jq_get "$r" connections) message-1 attempts of 130 B from a rogue mailtun, 0 B back; its forward said: ${rogue_banner:0:60}"
  else
    fail "5 isolation: wrong key gets nothing" "$r"
  fi
  if wait_until 10 lmtp_through_tunnel; then
    pass "5 isolation: the real office's tunnel is unaffected" "LMTP greeting through the forward"
  else
    fail "5 isolation: the real office's tunnel is unaffected" "no LMTP greeting through the forward"
  fi
  row "5 isolation" - - - - "$(secs_since "$t0")"
}

# load_stats NAME SENDER OFFSET T0 SETTLE-SECONDS [need_421]
report_load() {
  local name=$1 sender=$2 offset=$3 t0=$4 settled=$5 expect=$6 stats
  stats=$(tool "$ns_vps" mailstats --maillog "$(maillog)" --offset "$offset" --sender "$sender" \
            --maildir "$T/office/mail/alice/Maildir")
  echo "$stats" >"$T/stats-$sender.json"
  local acc del lost dup defr d421 bounced
  acc=$(jq_get "$stats" accepted); del=$(jq_get "$stats" delivered); lost=$(jq_get "$stats" lost)
  dup=$(jq_get "$stats" duplicated); defr=$(jq_get "$stats" deferred); d421=$(jq_get "$stats" deferred_421)
  bounced=$(jq_get "$stats" bounced)
  local detail="accepted $acc/$expect, delivered $del, lost $lost, duplicated $dup, deferred $defr ($d421 with 421 4.4.1 mailtun), bounced $bounced"
  if [ "$acc" = "$expect" ] && [ "$del" = "$expect" ] && [ "$lost" = 0 ] && [ "$settled" = yes ]; then
    pass "$name: all delivered, zero lost" "$detail"
  else
    fail "$name: all delivered, zero lost" "$detail; queue settled: $settled"
  fi
  row "$name" "$del" "$(( expect - del ))" "$dup" "$defr" "$(secs_since "$t0")"
  LAST_STATS=$stats
}

scenario_6_load() {
  echo; say "Scenario 6: load — $n_load messages with smtp-source at concurrency 20"
  local t0 offset out rc settled=no
  prime_verify alice@example.test
  t0=$(ms); offset=$(log_offset)
  out=$(in_attacker timeout 180 smtp-source -c -l "$msg_size" -m "$n_load" -s 20 -f load6@example.net \
          -t alice@example.test "$vps_ip:25" 2>&1); rc=$?
  say "smtp-source finished (exit $rc) after $(secs_since "$t0") s; waiting for the queue to flush"
  [ $rc -eq 0 ] || echo "$out" | tail -3
  mail_settle load6@example.net alice 180 "$offset" && settled=yes
  report_load "6 load" load6@example.net "$offset" "$t0" "$settled" "$n_load"
  if [ "$(jq_get "$LAST_STATS" duplicated)" = 0 ]; then
    pass "6 load: no duplicates" "0 messages delivered twice"
  else
    fail "6 load: no duplicates" "$(jq_get "$LAST_STATS" duplicated) duplicates without any outage"
  fi
}

# kill9_restart SIDE: kill -9 that endpoint (or E2E_SIGNAL), leave it dead for 4 s, start it again
kill9_restart() {
  local side=$1 old ns config i
  old=${mt_pid[$side]}
  ns=$prefix-$side; config=$T/$side/$side.toml
  if [ "$kill_signal" = KILL ]; then
    { kill -KILL "$old"; wait "$old"; } 2>/dev/null  # (in one group: no "Killed" job notice)
  else
    kill -"$kill_signal" "$old"
    for ((i = 0; i < 200; i++)); do pid_alive "$old" || break; sleep 0.1; done  # a TERM drains first
    { pid_alive "$old" && kill -KILL "$old"; wait "$old"; } 2>/dev/null
  fi
  say "  kill -$kill_signal $side mailtun (pid $old)"
  sleep 4
  start_mailtun "$side" "$ns" "$config"
  say "  restarted $side mailtun (pid ${mt_pid[$side]})"
}


scenario_7_outage() {
  echo; say "Scenario 7: outage — $n_outage messages while the $kill_side endpoint is killed twice and the office link drops for 10 s"
  local t0 offset settled=no batches=10 per sender_pid
  per=$(( (n_outage + batches - 1) / batches ))
  prime_verify alice@example.test
  t0=$(ms); offset=$(log_offset)
  # The sender: $batches batches of smtp-source at concurrency 20, spread over ~30 s.
  (
    sent=0
    for ((b = 0; b < batches && sent < n_outage; b++)); do
      n=$(( n_outage - sent < per ? n_outage - sent : per ))
      ip netns exec "$ns_attacker" timeout 120 smtp-source -l "$msg_size" -m "$n" -s 20 -f load7@example.net \
        -t alice@example.test "$vps_ip:25" >>"$T/outage-sender.log" 2>&1 || echo "batch $b: exit $?" >>"$T/outage-sender.log"
      sent=$((sent + n))
      sleep 2.5
    done
  ) &
  sender_pid=$!
  bg_pids+=("$sender_pid")
  sleep 3
  kill9_restart "$kill_side"
  sleep 5
  kill9_restart "$kill_side"
  sleep 5
  in_office ip link set eth0 down
  say "  office link down"
  sleep 10
  in_office ip link set eth0 up
  say "  office link up"
  local deadline=$(( $(date +%s) + 180 ))
  while pid_alive "$sender_pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.5; done
  stop_pid "$sender_pid" 1
  say "sender done after $(secs_since "$t0") s; flushing the queue until every message is delivered"
  if wait_until 60 lmtp_through_tunnel; then :; else say "  (tunnel not back within 60 s after the link came up)"; fi
  mail_settle load7@example.net alice 180 "$offset" && settled=yes
  report_load "7 outage" load7@example.net "$offset" "$t0" "$settled" "$n_outage"
  local d421 bounced
  d421=$(jq_get "$LAST_STATS" deferred_421)
  if [ "${d421:-0}" -gt 0 ]; then
    pass "7 outage: deferrals carry mailtun's 421" "$d421 x: $(jq_get "$LAST_STATS" sample_421 | grep -o 'status=deferred.*' | cut -c1-120)"
  else
    fail "7 outage: deferrals carry mailtun's 421" "no status=deferred with '421 4.4.1 mailtun' in the log"
  fi
  bounced=$(grep -c 'status=bounced' "$(maillog)")
  if [ "$bounced" = 0 ]; then
    pass "7 outage: never a bounce" "status=bounced: 0 in the whole maillog"
  else
    fail "7 outage: never a bounce" "status=bounced: $bounced — $(grep -m1 'status=bounced' "$(maillog)" | cut -c1-200)"
  fi
}

# doveadm_penalty: Dovecot's auth penalties in the office ("IP penalty last_penalty last_update")
doveadm_penalty() { in_office timeout 10 doveadm -c "$T/office/dovecot.conf" penalty -a "$T/office/run/anvil"; }
penalty_of() { doveadm_penalty | awk -v ip="$1" '$1 == ip { print $2 }'; }

scenario_8_imap() {
  echo; say "Scenario 8: IMAP from the road, Internet -> vps:143 -> tunnel -> PROXY v2 -> Dovecot imap-login"
  local t0 offset out line rip
  t0=$(ms)
  offset=$(stat -c %s "$T/office/dovecot.log")
  out=$(tool "$ns_attacker" imap "$vps_ip" 143 --user alice@example.test --password alice-secret-pw)
  if [[ $(jq_get "$out" tls) == OK* ]] && [[ $(jq_get "$out" login) == OK* ]]; then
    pass "8 IMAP: STARTTLS and LOGIN through the vps" "$(jq_get "$out" greeting | cut -c1-40) / LOGIN $(jq_get "$out" login | cut -c1-50)"
  else
    fail "8 IMAP: STARTTLS and LOGIN through the vps" "$out"
  fi
  # Dovecot's log line for that login names the client the PROXY header carried.
  local login_line='imap-login: (Info: )?Login: user=<alice@example\.test>'
  wait_until 10 eval "tail -c +$((offset + 1)) '$T/office/dovecot.log' | grep -qE '$login_line'"
  line=$(tail -c +$((offset + 1)) "$T/office/dovecot.log" | grep -m1 -E "$login_line")
  rip=$(grep -o 'rip=[0-9.:a-f]*' <<<"$line" | cut -d= -f2)
  if [ "$rip" = "$attacker_ip" ]; then
    pass "8 IMAP: Dovecot logs the client's address (rip=)" "$(sed 's/.*imap-login: \(Info: \)\{0,1\}//' <<<"$line" | cut -c1-110)"
  else
    fail "8 IMAP: Dovecot logs the client's address (rip=)" "expected rip=$attacker_ip: ${line:-no Login line}"
  fi
  # Wrong passwords: Dovecot's auth penalty must fall on the client, not on mailtun's 127.0.0.1.
  local i refused=0 penalty local_penalty
  for i in 1 2; do
    out=$(tool "$ns_attacker" imap "$vps_ip" 143 --user alice@example.test --password wrong-password)
    [[ $(jq_get "$out" login) == NO* ]] && refused=$((refused + 1))
  done
  if [ "$refused" = 2 ]; then
    pass "8 IMAP: wrong password refused" "2 of 2 LOGINs: $(jq_get "$out" login | cut -c1-60)"
  else
    fail "8 IMAP: wrong password refused" "$refused of 2 refused; last: $out"
  fi
  wait_until 10 eval '[ -n "$(penalty_of "$attacker_ip")" ]'
  penalty=$(penalty_of "$attacker_ip"); local_penalty=$(penalty_of 127.0.0.1)
  if [ "${penalty:-0}" -ge 1 ] && [ -z "$local_penalty" ]; then
    pass "8 IMAP: auth penalty on the client, not on 127.0.0.1" "doveadm penalty: $attacker_ip $penalty, 127.0.0.1 none"
  else
    fail "8 IMAP: auth penalty on the client, not on 127.0.0.1" "doveadm penalty: $(doveadm_penalty 2>&1 | tr '\n' ';')"
  fi
  row "8 IMAP" - - - - "$(secs_since "$t0")"
}

scenario_9_submission() {
  echo; say "Scenario 9: submission, Internet -> vps:1587 -> tunnel -> PROXY v1 -> the office's Postfix"
  local t0 offset out banner line
  t0=$(ms)
  offset=$(stat -c %s "$T/office/maillog")
  out=$(in_attacker timeout 30 swaks --server "$vps_ip:1587" --helo client.example.net --quit-after EHLO --timeout 20 2>&1)
  banner=$(printf '%s\n' "$out" | grep -m1 '^<-  220 ' | sed 's/^<-  //')
  if [[ $banner == "220 office.example.test"* ]]; then
    pass "9 submission: the office's Postfix answers through the vps" "$banner"
  else
    fail "9 submission: the office's Postfix answers through the vps" "$(printf '%s\n' "$out" | grep -E '^(<|\*\*\*)' | head -2 | tr '\n' ' ')"
  fi
  # Postfix logs the session's client from the PROXY header (smtpd_upstream_proxy_protocol).
  wait_until 10 eval "tail -c +$((offset + 1)) '$T/office/maillog' | grep -q 'submission-proxy/smtpd.*disconnect from'"
  line=$(tail -c +$((offset + 1)) "$T/office/maillog" | grep -m1 'submission-proxy/smtpd.*: connect from ')
  if [[ $line == *"connect from "*"[$attacker_ip]"* ]] \
      && ! tail -c +$((offset + 1)) "$T/office/maillog" | grep -q 'connect from [^ ]*\[127\.0\.0\.1\]'; then
    pass "9 submission: Postfix logs the client's address" "$(sed 's|.*postfix/|postfix/|' <<<"$line" | cut -c1-110)"
  else
    fail "9 submission: Postfix logs the client's address" "expected [$attacker_ip]: $(tail -c +$((offset + 1)) "$T/office/maillog" | grep 'connect from' | head -2 | tr '\n' ' ')"
  fi
  row "9 submission" - - - - "$(secs_since "$t0")"
}

# office_status KIND NAME KEY: from `mailtun status --json` of the office, one value: "peer NAME KEY" or
# "service NAME KEY" (e.g. peer vps state, service relay unavailable)
office_status() {
  timeout 10 "$MAILTUN" status --config "$T/office/office.toml" --json 2>/dev/null | "$PY" -c '
import json, sys
r = json.load(sys.stdin); kind, name, key = sys.argv[1:4]
items = r["peers"] if kind == "peer" else r["services"]
print(next((i[key] for i in items if i.get("name", i.get("service")) == name), ""))' "$@"
}
primary_down() { [ "$(office_status peer "$primary_peer" state)" != up ]; }

pq_of() { postqueue -c "$T/$1/postfix" "${@:2}"; }
queues_empty() { local s; for s in "$@"; do pq_of "$s" -p 2>/dev/null | grep -q 'Mail queue is empty' || return 1; done; }

# Scenario 10's senders. Inbound mail is sent as "in10-MX-PHASE@example.net" (MX: vps or vps2,
# PHASE: before or after the office saw the primary go), outbound as "out10-PHASE@example.test", so
# each group is counted on its own in the maillogs (mailstats).
s10_in() { echo "in10-$1-$2@example.net"; }
s10_out() { echo "out10-$1@example.test"; }

# stats10 KEY MAILLOG SENDER DIR...: mailstats of one group into S10[KEY] (whole logs: the senders
# are this scenario's own)
declare -A S10=()
stats10() {
  local key=$1 log=$2 sender=$3 args=() d; shift 3
  for d in "$@"; do args+=(--maildir "$d"); done
  S10[$key]=$(tool "$ns_office" mailstats --maillog "$log" --offset 0 --sender "$sender" "${args[@]}")
}
s10() { local v; v=$(grep -o "\"$2\": [0-9]*" <<<"${S10[$1]:-}"); echo "${v##* }"; }  # numbers only, no python
s10_sum() { local key=$1 n=0 k v; shift; for k in "$@"; do v=$(s10 "$k" "$key"); n=$(( n + ${v:-0} )); done; echo "$n"; }

# stats10_groups GROUP...: those groups' numbers (GROUP: MX-PHASE inbound, out-PHASE outbound in
# either sink, out-after-vps2 in vps2's sink); returns 0 when none of them has lost a message
stats10_groups() {
  local maildir=$T/office/mail/alice/Maildir k
  for k in "$@"; do
    case $k in
      out-after-vps2) stats10 "$k" "$T/office/maillog" "$(s10_out after)" "$T/vps2/sink" ;;
      out-*) stats10 "$k" "$T/office/maillog" "$(s10_out "${k#out-}")" "$T/vps/sink" "$T/vps2/sink" ;;
      *) stats10 "$k" "$T/${k%-*}/maillog" "$(s10_in "${k%-*}" "${k##*-}")" "$maildir" ;;
    esac
  done
  for k in "$@"; do [ "$(s10 "$k" lost)" = 0 ] || return 1; done
}

# settle10 SECONDS POSTFIX... -- GROUP...: flushes those Postfix instances every 5 s until their
# queues are empty and no message of the groups is lost, or the time is up
settle10() {
  local deadline=$(( $(date +%s) + $1 )) last_flush=0 sides=() s; shift
  while [ "$1" != -- ]; do sides+=("$1"); shift; done; shift
  while :; do
    queues_empty "${sides[@]}" && stats10_groups "$@" && return 0
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    if [ $(( $(date +%s) - last_flush )) -ge 5 ]; then
      for s in "${sides[@]}"; do pq_of "$s" -f >/dev/null 2>&1; done; last_flush=$(date +%s)
    fi
    sleep 0.5
  done
}

scenario_10_backup_mx() {
  echo; say "Scenario 10: backup MX — $n_failover messages in and $n_failover out; the primary VPS's mailtun is killed (SIGKILL) mid-run"
  local t0 rounds=10 per sender_pid old killed_at unavail0 unavail1 s
  per=$(( (n_failover + rounds - 1) / rounds ))
  # Both tunnels up (scenario 7 took the office's link down a while ago)
  wait_until 60 lmtp_through_tunnel "$ns_vps" || say "  (the primary's tunnel is not up)"
  wait_until 60 lmtp_through_tunnel "$ns_vps2" || say "  (vps2's tunnel is not up)"
  wait_until 10 eval '[ "$(office_status peer "$primary_peer" state)" = up ] && [ "$(office_status peer vps2 state)" = up ]' \
    || say "  (the office does not show both peers up: $primary_peer $(office_status peer "$primary_peer" state), vps2 $(office_status peer vps2 state))"
  prime_verify alice@example.test "$vps_ip:25"
  prime_verify alice@example.test "$vps2_ip:25"
  unavail0=$(office_status service relay unavailable)
  t0=$(ms)
  rm -f "$T/s10.after"
  # $rounds rounds, one every second or so. Inbound: half of each round to the primary MX, half to the
  # backup MX, as senders spread mail over MX hosts of equal preference, or turn to the backup when
  # the primary does not answer in time. Outbound: office clients -> the office's Postfix, which
  # relays through mailtun's forward "relay". The phase turns "after" once the office saw the
  # primary go.
  (
    sent=0
    for ((b = 0; b < rounds && sent < n_failover; b++)); do
      n=$(( n_failover - sent < per ? n_failover - sent : per ))
      phase=before; [ -e "$T/s10.after" ] && phase=after
      for mx in vps vps2; do
        if [ $mx = vps ]; then m=$(( n / 2 )) addr=$vps_ip; else m=$(( n - n / 2 )) addr=$vps2_ip; fi
        [ "$m" -gt 0 ] || continue
        ip netns exec "$ns_attacker" timeout 60 smtp-source -l "$msg_size" -m "$m" -s 2 -f "$(s10_in $mx $phase)" \
          -t alice@example.test "$addr:25" >>"$T/s10-in.log" 2>&1 || echo "round $b $mx: exit $?" >>"$T/s10-in.log" &
      done
      ip netns exec "$ns_office" timeout 60 smtp-source -l "$msg_size" -m "$n" -s 2 -f "$(s10_out $phase)" \
        -t someone@example.net 127.0.0.1:25 >>"$T/s10-out.log" 2>&1 || echo "round $b out: exit $?" >>"$T/s10-out.log" &
      wait
      sent=$((sent + n))
      sleep 0.8
    done
  ) &
  sender_pid=$!
  bg_pids+=("$sender_pid")
  # The kill: SIGKILL to the primary's mailtun (the one this script started) once the office's
  # Postfix has taken about half of the outbound mail, with the senders still going.
  local half=$(( n_failover / 2 - 1 )) taken='qmgr.*: from=<out10-before@example.test>, size='
  wait_until 30 eval '[ "$(grep -c "$taken" "$T/office/maillog")" -ge $half ]'
  old=${mt_pid[vps]}
  { kill -KILL "$old"; wait "$old"; } 2>/dev/null
  killed_at=$(ms)
  say "  kill -KILL the primary's mailtun (pid $old) after $(secs_since "$t0") s, $(grep -c "$taken" "$T/office/maillog") outbound messages taken"
  if wait_until 20 primary_down; then
    say "  the office saw the primary go after $(secs_since "$killed_at") s (peer $primary_peer: $(office_status peer "$primary_peer" state))"
  else
    say "  (the office still calls peer $primary_peer up 20 s after the kill)"
  fi
  touch "$T/s10.after"
  local deadline=$(( $(date +%s) + 60 ))
  while pid_alive "$sender_pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.3; done
  stop_pid "$sender_pid" 1
  say "  senders done after $(secs_since "$t0") s; waiting for the backup MX and the office's Postfix, the primary still down"

  # 1. With the primary's mailtun still dead: the backup MX has delivered all of its share and every
  #    outbound relay is in a sink (after the kill: vps2's).
  local backup_ok=no on_primary
  local g1=(vps2-before vps2-after out-before out-after out-after-vps2)
  settle10 60 vps2 office -- "${g1[@]}" && backup_ok=yes
  [ "$backup_ok" = yes ] || stats10_groups "${g1[@]}"
  on_primary=$(pq_of vps -p 2>/dev/null | grep -c '^[0-9A-Za-z]\{6,\}[*!]\{0,1\} ')
  local detail="inbound through vps2 after the kill: $(s10 vps2-after delivered) of $(s10 vps2-after accepted) in alice's maildir; outbound after the kill: $(s10 out-after-vps2 delivered) of $(s10 out-after accepted) in vps2's sink, before it: $(s10 out-before delivered) of $(s10 out-before accepted) in a sink; the primary's queue holds $on_primary"
  if [ "$backup_ok" = yes ] && [ "$(s10 vps2-after accepted)" -gt 0 ] && [ "$(s10 out-after accepted)" -gt 0 ]; then
    pass "10 backup MX: primary down, mail flows through vps2" "$detail"
  else
    fail "10 backup MX: primary down, mail flows through vps2" "$detail"
  fi
  # Relays after the kill never heard "unavailable": the forward chose vps2 for every new stream.
  unavail1=$(office_status service relay unavailable)
  local relay_in2
  relay_in2=$(grep -c 'postfix/relay-in/smtpd\[[0-9]*\]: [0-9A-Za-z]*: client=' "$T/vps2/maillog")
  if [ -n "$unavail0" ] && [ "$unavail1" = "$unavail0" ] && [ "$(s10 out-after deferred_421)" = 0 ]; then
    pass "10 backup MX: relay forward failed over, never unavailable" \
      "forward relay: $((unavail1 - unavail0)) unavailable replies; vps2's relay-in took $relay_in2 message(s); office peer vps2: $(office_status peer vps2 streams_total) streams"
  else
    fail "10 backup MX: relay forward failed over, never unavailable" \
      "unavailable before $unavail0, after $unavail1; deferred with 421 4.4.1: $(s10 out-after deferred_421)"
  fi

  # 2. The primary's mailtun back: what its Postfix queued meanwhile is delivered now, not bounced.
  start_mailtun vps "$ns_vps" "$T/vps/vps.toml"
  wait_until 30 lmtp_through_tunnel "$ns_vps" || say "  (the primary's tunnel not back within 30 s)"
  say "  restarted the primary's mailtun (pid ${mt_pid[vps]}) after $(secs_since "$killed_at") s down; flushing its queue"
  local settled=no
  local g2=(vps-before vps-after vps2-before vps2-after out-before out-after)
  settle10 60 vps vps2 office -- "${g2[@]}" && settled=yes
  [ "$settled" = yes ] || stats10_groups "${g2[@]}"
  local groups_in=(vps-before vps-after vps2-before vps2-after) groups_out=(out-before out-after)
  # A duplicate is a failure unless Postfix itself logged, for as many of that group's messages, the
  # end-of-data race the kill may hit ("lost connection … while sending end of data -- message may
  # be sent more than once", RFC 1047): then SMTP, not mailtun, delivered twice.
  local acc_in del_in dup_in twice_in acc_out del_out dup_out twice_out defer_vps
  acc_in=$(s10_sum accepted "${groups_in[@]}"); del_in=$(s10_sum delivered "${groups_in[@]}")
  dup_in=$(s10_sum duplicated "${groups_in[@]}"); twice_in=$(s10_sum deferred_maybe_twice "${groups_in[@]}")
  acc_out=$(s10_sum accepted "${groups_out[@]}"); del_out=$(s10_sum delivered "${groups_out[@]}")
  dup_out=$(s10_sum duplicated "${groups_out[@]}"); twice_out=$(s10_sum deferred_maybe_twice "${groups_out[@]}")
  defer_vps=$(s10_sum deferred vps-before vps-after)
  detail="accepted $acc_in/$n_failover (primary $(s10_sum accepted vps-before vps-after), of them $(s10 vps-after accepted) during its outage; backup MX $(s10_sum accepted vps2-before vps2-after)), in alice's maildir $del_in, duplicated $dup_in (end-of-data races logged: $twice_in); the primary deferred $defer_vps time(s) and held $on_primary until its mailtun returned"
  if [ "$acc_in" = "$n_failover" ] && [ "$del_in" = "$n_failover" ] && [ "$dup_in" -le "$twice_in" ] && [ "$settled" = yes ]; then
    pass "10 backup MX: inbound all delivered, no stray duplicate" "$detail"
  else
    fail "10 backup MX: inbound all delivered, no stray duplicate" "$detail; settled: $settled"
  fi
  detail="accepted $acc_out/$n_failover by the office's Postfix, in a VPS sink $del_out, duplicated $dup_out (end-of-data races logged: $twice_out), deferred $(s10_sum deferred "${groups_out[@]}") time(s)"
  if [ "$acc_out" = "$n_failover" ] && [ "$del_out" = "$n_failover" ] && [ "$dup_out" -le "$twice_out" ] && [ "$settled" = yes ]; then
    pass "10 backup MX: outbound all in a sink, no stray duplicate" "$detail"
  else
    fail "10 backup MX: outbound all in a sink, no stray duplicate" "$detail; settled: $settled"
  fi
  local bounced=0 b where=""
  for s in vps vps2 office; do
    b=$(grep -c 'status=bounced' "$T/$s/maillog"); bounced=$((bounced + b)); where+="$s $b, "
  done
  if [ "$bounced" = 0 ]; then
    pass "10 backup MX: never a bounce" "status=bounced: ${where%, } (whole maillogs)"
  else
    fail "10 backup MX: never a bounce" "status=bounced: ${where%, }: $(grep -hm1 'status=bounced' "$T"/{vps,vps2,office}/maillog | head -1 | cut -c1-200)"
  fi
  row "10 backup MX" "$((del_in + del_out))" "$(( 2 * n_failover - del_in - del_out ))" "$((dup_in + dup_out))" \
    "$(s10_sum deferred "${groups_in[@]}" "${groups_out[@]}")" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------------------
# Summary

print_summary() {
  local line
  {
    printf '| %-12s | %9s | %4s | %10s | %8s | %7s |\n' scenario delivered lost duplicated deferred seconds
    printf '|%s|%s|%s|%s|%s|%s|\n' -------------- ----------- ------ ------------ ---------- ---------
    for line in "${summary[@]}"; do
      IFS=$'\t' read -r s d l u f t <<<"$line"
      printf '| %-12s | %9s | %4s | %10s | %8s | %7s |\n' "$s" "$d" "$l" "$u" "$f" "$t"
    done
  } >"$T/summary.md"
  echo
  echo "Summary"
  cat "$T/summary.md"
}

update_docs() {
  local doc=$root/docs/e2e.md total=$1 result=$2
  [ "${E2E_DOCS:-1}" = 1 ] && [ -f "$doc" ] && grep -q '<!-- e2e-last-run:begin -->' "$doc" || return 0
  [ "$only" = " $all_scenarios " ] || return 0
  local block
  block=$(
    echo "<!-- e2e-last-run:begin -->"
    echo "Last full run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(postconf -d mail_version 2>/dev/null | sed 's/ = / /;s/mail_version/Postfix/'),"
    echo "$(dovecot --version 2>/dev/null | sed 's/^/Dovecot /' | cut -d' ' -f1-2), $(nproc) CPUs, ${total} s in all, result: $result."
    echo
    cat "$T/summary.md"
    echo "<!-- e2e-last-run:end -->"
  )
  BLOCK="$block" "$PY" - "$doc" <<'EOF'
import os, re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"<!-- e2e-last-run:begin -->.*?<!-- e2e-last-run:end -->", lambda m: os.environ["BLOCK"], s, flags=re.S)
open(p, "w").write(s)
EOF
}

# ---------------------------------------------------------------------------------------------------
# Main

T=$(mktemp -d /tmp/mt-e2e.XXXXXX)
chmod 755 "$T"
# Watchdog: whatever happens, the run ends (and cleans up) after E2E_DEADLINE seconds.
"$PY" -c 'import os, signal, sys, time
time.sleep(int(sys.argv[1])); print("WATCHDOG: the run exceeded %s s" % sys.argv[1], flush=True)
os.kill(int(sys.argv[2]), signal.SIGTERM)' "${E2E_DEADLINE:-840}" $$ &
bg_pids+=($!)
say "mailtun e2e: $MAILTUN, namespaces $prefix-{vps,office,attacker,sw}, $net.0/24, temp dir $T"

setup_network || { echo "FAIL: network setup"; exit 1; }
say "network: vps $vps_ip, office $office_ip, attacker $attacker_ip on a bridge"
setup_mailtun || { echo "FAIL: mailtun keys/config"; exit 1; }
setup_dovecot || { echo "FAIL: Dovecot did not start"; exit 1; }
say "office: Dovecot $(dovecot --version | cut -d' ' -f1) LMTP 127.0.0.1:24, auth 127.0.0.1:3659"
setup_vps_postfix vps "$ns_vps" mx.example.test postfix || { echo "FAIL: Postfix did not start"; exit 1; }
say "vps: Postfix $(postconf -h -d mail_version) on :25, :587, 127.0.0.1:10025"
if selected 10; then
  setup_vps_postfix vps2 "$ns_vps2" mx2.example.test postfix-vps2 || { echo "FAIL: vps2's Postfix did not start"; exit 1; }
  say "vps2 (backup MX): Postfix on $vps2_ip:25, :587, 127.0.0.1:10025"
fi
if selected 9 || selected 10; then
  setup_office_postfix || { echo "FAIL: the office's Postfix did not start"; exit 1; }
  say "office: Postfix 127.0.0.1:587 with smtpd_upstream_proxy_protocol = haproxy, 127.0.0.1:25 relaying via 127.0.0.1:2525"
fi
start_mailtun vps "$ns_vps" "$T/vps/vps.toml"
selected 10 && start_mailtun vps2 "$ns_vps2" "$T/vps2/vps2.toml"
start_mailtun office "$ns_office" "$T/office/office.toml"
if wait_until 30 lmtp_through_tunnel; then
  say "tunnel up: $(tool "$ns_vps" banner 127.0.0.1 24)"
else
  echo "FAIL: the tunnel did not come up within 30 s"
  exit 1
fi
if selected 10; then
  if wait_until 30 lmtp_through_tunnel "$ns_vps2"; then
    say "tunnel vps2 up: $(tool "$ns_vps2" banner 127.0.0.1 24)"
  else
    echo "FAIL: the tunnel between the office and vps2 did not come up within 30 s"
    exit 1
  fi
fi

for s in $all_scenarios; do
  selected "$s" || continue
  case $s in
    1) scenario_1_delivery ;;
    2) scenario_2_sasl ;;
    3) scenario_3_verify ;;
    4) scenario_4_relay ;;
    5) scenario_5_isolation ;;
    6) scenario_6_load ;;
    7) scenario_7_outage ;;
    8) scenario_8_imap ;;
    9) scenario_9_submission ;;
    10) scenario_10_backup_mx ;;
  esac
done

total=$(( $(date +%s) - run_start ))
print_summary
echo
passed=0
for c in "${checks[@]}"; do [[ $c == PASS* ]] && passed=$((passed + 1)); done
if [ "$failures" -eq 0 ]; then
  result="all ${#checks[@]} checks passed"
  echo "RESULT: PASS — $result in $total s"
else
  result="$failures of ${#checks[@]} checks FAILED"
  echo "RESULT: FAIL — $result ($total s):"
  for c in "${checks[@]}"; do [[ $c == FAIL* ]] && printf '  %s\n' "$(tr '\t' ' ' <<<"$c")"; done
fi
update_docs "$total" "$result"
[ "$failures" -eq 0 ]
