#!/usr/bin/env bash
# The README's Quick start: on a fresh Debian 12 machine, as root, shows mailtun carrying a real LMTP
# delivery into a real Dovecot maildir, and what Postfix would see when the tunnel is down.
#
# Everything runs on this machine and talks to 127.0.0.1 only: a "vps" endpoint and an "office"
# endpoint, and a private Dovecot instance (its own config, sockets and log in a temporary directory;
# the system's /etc/dovecot and dovecot service are never touched). On exit, also on Ctrl-C, it stops
# exactly the processes it started and removes the temporary directory.
#
# Exit status: 0 if the message was delivered and the outage was answered with 421, non-zero otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILTUN_BUILD_DIR:-$root/build}
mailtun=$build/cli/mailtun

user=alice@demo.example        # the one Dovecot user, and the recipient
sender=postmaster@vps.demo.example
mail_owner=nobody              # owner of the maildir: Dovecot refuses mail uids below first_valid_uid (500)

tmp=""                         # the temporary directory, once made
vps_pid="" office_pid="" dovecot_pid=""
tunnel_port="" forward_port="" lmtp_port=""   # chosen by free_port

# ---------------------------------------------------------------------------------------------
# Output helpers

# Bold headings and red errors on a terminal; plain text when the output goes to a file.
if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[1;31m' plain=$'\033[0m'; else bold="" red="" plain=""; fi
heading() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '    %s\n' "$@"; }
# Shows a file or command output indented under a heading, so it stands apart from the narration.
show() { sed 's/^/    | /'; }
die() { printf '\n%sdemo: %s%s\n' "$red" "$*" "$plain" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Cleanup: runs on every exit path. Only PIDs this script started are signalled.

# Sends SIGTERM to a PID and waits up to 5 s for it to go, then SIGKILL. Our processes are children
# of this shell, so `wait` reaps them and a stale PID can never be reused under us.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  stop_pid "$vps_pid"
  stop_pid "$office_pid"
  # SIGTERM to Dovecot's master stops all its children (lmtp, auth, log, …) before it exits.
  stop_pid "$dovecot_pid"
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then rm -rf -- "$tmp"; fi
  if [ "$status" -eq 0 ]; then
    printf '\nCleaned up: endpoints and Dovecot stopped, temporary directory removed.\n'
  else
    printf '\nCleaned up after failure (exit status %d): endpoints and Dovecot stopped, temporary directory removed.\n' \
      "$status" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
# An interrupt ends the script with the conventional status; the EXIT trap then cleans up.
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Waiting: always polls against a deadline rather than sleeping a fixed time.

# wait_for_log FILE REGEX SECONDS PID: until FILE has a line matching REGEX; fails early if PID dies.
wait_for_log() {
  local file=$1 regex=$2 seconds=$3 pid=$4 i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -Eq -- "$regex" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_for_listener PORT SECONDS PID: until something listens on 127.0.0.1:PORT (checked with ss, so
# no test connection shows up in anyone's log).
wait_for_listener() {
  local port=$1 seconds=$2 pid=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    [ -n "$(ss -Hltn "sport = :$port")" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# free_port VAR: sets VAR to a random TCP port with no listener, below Linux's ephemeral range
# (32768+) so that outgoing connections cannot take it before it is bound, and not one already
# handed out (so no command substitution here: $taken_ports must survive the call).
taken_ports=" "
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    case $taken_ports in *" $port "*) continue ;; esac
    [ -z "$(ss -Hltn "sport = :$port")" ] && break
  done
  taken_ports+="$port "
  printf -v "$1" '%s' "$port"
}

# ---------------------------------------------------------------------------------------------
# Steps

step_build() {
  heading "1. Installing packages and building mailtun"
  say "scripts/build.sh installs any missing Debian packages (the compiler and libraries, plus dovecot-core," \
      "dovecot-lmtpd and swaks for this demo), then builds into ${build#"$root"/}/."
  [ "$(id -u)" -eq 0 ] || die "run this as root: it installs Debian packages and runs Dovecot"
  bash "$root/scripts/build.sh" 2>&1 | show
  [ -x "$mailtun" ] || die "the build did not produce $mailtun"
  local tool
  for tool in dovecot swaks ss; do
    command -v "$tool" >/dev/null || die "$tool is not installed; scripts/install-deps.sh should have installed it"
  done
}

step_keys_and_configs() {
  heading "2. Generating keys and writing both endpoints' configurations"
  tmp=$(mktemp -d /tmp/mailtun-demo.XXXXXX)
  # Dovecot's auth process (user dovecot) and its delivery process (user $mail_owner) must get through
  # this directory to reach their own subdirectories; nothing can list it.
  chmod 711 "$tmp"
  mkdir -m 700 "$tmp/keys"
  say "Working in $tmp (removed again at the end)."

  free_port tunnel_port    # the VPS accepts the office's tunnel connection here
  free_port forward_port   # "Postfix" (swaks, here) delivers LMTP to the VPS's forward here
  free_port lmtp_port      # the office's Dovecot LMTP listener

  # Key files must be mode 600 (mailtun refuses keys others can read), hence umask 077.
  (
    umask 077
    "$mailtun" genkey > "$tmp/keys/vps.key"
    "$mailtun" genkey > "$tmp/keys/office.key"
    "$mailtun" genpsk > "$tmp/keys/vps-office.psk"
  )
  local vps_pub office_pub
  vps_pub=$("$mailtun" pubkey < "$tmp/keys/vps.key")
  office_pub=$("$mailtun" pubkey < "$tmp/keys/office.key")
  say "mailtun genkey  -> keys/vps.key, keys/office.key   (private, mode 600)" \
      "mailtun genpsk  -> keys/vps-office.psk            (preshared key, the same file for both sides)" \
      "mailtun pubkey  -> vps    public key $vps_pub" \
      "                   office public key $office_pub"

  cat > "$tmp/vps.toml" <<EOF
# The VPS: accepts the office's tunnel connection; Postfix delivers LMTP to the forward below.
[interface]
name = "vps"
private_key_file = "$tmp/keys/vps.key"
listen = "127.0.0.1:$tunnel_port"
control_socket = "$tmp/vps.sock"

[[peer]]
name = "office"
public_key = "$office_pub"
preshared_key_file = "$tmp/keys/vps-office.psk"

[[forward]]
service = "lmtp"
listen = "127.0.0.1:$forward_port"
peer = "office"
EOF

  cat > "$tmp/office.toml" <<EOF
# The office: dials out to the VPS (no inbound port at all) and lets it open "lmtp" to Dovecot.
[interface]
name = "office"
private_key_file = "$tmp/keys/office.key"
control_socket = "$tmp/office.sock"

[[peer]]
name = "vps"
public_key = "$vps_pub"
preshared_key_file = "$tmp/keys/vps-office.psk"
endpoint = "127.0.0.1:$tunnel_port"

[[expose]]
service = "lmtp"
target = "127.0.0.1:$lmtp_port"
peers = ["vps"]
# Only because this demo's Dovecot listens on a high port rather than LMTP's port 24.
allow_any_port = true
EOF

  say "" "vps.toml:"
  show < "$tmp/vps.toml"
  say "" "office.toml:"
  show < "$tmp/office.toml"

  say "" "mailtun check validates both files:"
  { "$mailtun" check --config "$tmp/vps.toml" && "$mailtun" check --config "$tmp/office.toml"; } 2>&1 | show \
    || die "mailtun check rejected a configuration"
}

step_dovecot() {
  heading "3. Starting a private Dovecot (the office's mail store) with LMTP on 127.0.0.1:$lmtp_port"
  local dir=$tmp/dovecot uid gid
  mkdir -p "$dir" "$tmp/mail"
  uid=$(id -u "$mail_owner")
  gid=$(id -g "$mail_owner")
  # Mail is stored as an unprivileged user: Dovecot refuses uids below first_valid_uid (500), root included.
  chown "$uid:$gid" "$tmp/mail"
  # passwd-file: user:password:uid:gid:gecos:home. No password: LMTP delivery needs only the userdb.
  echo "$user::$uid:$gid::$tmp/mail/alice" > "$dir/users"

  cat > "$dir/dovecot.conf" <<EOF
# A self-contained Dovecot 2.3 that shares nothing with the system's (/etc/dovecot, /run/dovecot,
# /var/lib/dovecot): its own sockets (base_dir), state, log and process names.
instance_name = mailtun-demo
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log

protocols = lmtp          # no imap or pop3 listeners
listen = 127.0.0.1
ssl = no
postmaster_address = postmaster@demo.example

passdb {
  driver = passwd-file
  args = $dir/users
}
userdb {
  driver = passwd-file
  args = $dir/users
}
mail_location = maildir:~/Maildir

service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp_port
  }
}
EOF
  say "dovecot -F -c $dir/dovecot.conf   (user $user, maildir owned by $mail_owner)"
  # -F keeps the master in the foreground as our child, so its PID is known and it is ours to stop.
  dovecot -F -c "$dir/dovecot.conf" > "$dir/dovecot.stdout" 2>&1 &
  dovecot_pid=$!
  if ! wait_for_listener "$lmtp_port" 10 "$dovecot_pid"; then
    cat "$dir/dovecot.stdout" "$dir/dovecot.log" 2>/dev/null | show
    die "Dovecot did not start listening on 127.0.0.1:$lmtp_port"
  fi
  show < "$dir/dovecot.log"
}

step_endpoints() {
  heading "4. Starting both mailtun endpoints"
  "$mailtun" up --config "$tmp/vps.toml" 2> "$tmp/vps.log" &
  vps_pid=$!
  say "vps    (PID $vps_pid): mailtun up --config vps.toml     listens on 127.0.0.1:$tunnel_port," \
      "                    forwards LMTP from 127.0.0.1:$forward_port to the office"
  # Not strictly needed (the office retries with backoff, as it would after a VPS reboot), but
  # starting it once the VPS listens keeps the logs free of a first "connection refused".
  wait_for_listener "$tunnel_port" 10 "$vps_pid" \
    || { show < "$tmp/vps.log"; die "the VPS endpoint did not start listening on 127.0.0.1:$tunnel_port"; }
  "$mailtun" up --config "$tmp/office.toml" 2> "$tmp/office.log" &
  office_pid=$!
  say "office (PID $office_pid): mailtun up --config office.toml  dials the VPS, exposes lmtp -> Dovecot"
  say "Waiting for the Noise handshake (\"peer office up\" on the VPS, \"peer vps up\" at the office)…"
  wait_for_log "$tmp/vps.log" 'peer office up' 10 "$vps_pid" \
    || { show < "$tmp/vps.log"; die "the VPS endpoint did not see the office come up"; }
  wait_for_log "$tmp/office.log" 'peer vps up' 10 "$office_pid" \
    || { show < "$tmp/office.log"; die "the office endpoint did not see the VPS come up"; }
  wait_for_listener "$forward_port" 5 "$vps_pid" || die "the VPS's LMTP forward is not listening"
  say "Tunnel up: one encrypted TCP connection, opened by the office."
}

# swaks_lmtp SUBJECT MESSAGE-ID: one LMTP delivery to the VPS's forward, as Postfix would make it.
swaks_lmtp() {
  swaks --protocol LMTP --server "127.0.0.1:$forward_port" --timeout 15 \
    --helo vps.demo.example --from "$sender" --to "$user" \
    --header "Subject: $1" --header "Message-Id: $2" \
    --body "Delivered by swaks over LMTP to the VPS's mailtun forward, through the tunnel, to Dovecot."
}

step_deliver() {
  heading "5. Delivering a message with swaks over LMTP through the tunnel"
  local subject message_id rc=0 i
  subject="mailtun demo: hello alice, through the tunnel"
  message_id="<mailtun-demo-$(date +%s)-$$@vps.demo.example>"
  say "swaks talks LMTP to 127.0.0.1:$forward_port (the VPS's forward, where Postfix would deliver);" \
      "the VPS endpoint carries the connection as a stream to the office, which connects it to Dovecot." \
      "Message-ID $message_id" ""
  swaks_lmtp "$subject" "$message_id" > "$tmp/swaks-ok.txt" 2>&1 || rc=$?
  show < "$tmp/swaks-ok.txt"
  [ "$rc" -eq 0 ] || die "swaks failed (exit status $rc): the message was not delivered"

  heading "6. The delivered message in alice's maildir"
  local new=$tmp/mail/alice/Maildir/new file=""
  for ((i = 0; i < 100; i++)); do
    file=$(grep -lF -- "Message-Id: $message_id" "$new"/* 2>/dev/null | head -n 1 || true)
    [ -n "$file" ] && break
    sleep 0.1
  done
  [ -n "$file" ] || die "no file with Message-Id $message_id appeared in $new"
  say "${file#"$tmp"/}  (owner $(stat -c %U "$file"))" ""
  show < "$file"
  say "" "Dovecot's log:"
  grep -F 'lmtp(' "$tmp/dovecot/dovecot.log" | show
}

step_logs() {
  heading "7. What the VPS endpoint reports, and the endpoints' logs so far"
  say "mailtun status --socket $tmp/vps.sock  (as an admin would run \`mailtun status\`):"
  "$mailtun" status --socket "$tmp/vps.sock" | show
  say "" "vps.log:"
  show < "$tmp/vps.log"
  say "" "office.log:"
  show < "$tmp/office.log"
}

step_outage() {
  heading "8. When the tunnel is down: LMTP is answered with 421, so Postfix defers (never bounces)"
  say "Stopping the office endpoint (SIGTERM to PID $office_pid), as if the office's line went down…"
  stop_pid "$office_pid"
  office_pid=""
  wait_for_log "$tmp/vps.log" 'peer office down' 10 "$vps_pid" \
    || { show < "$tmp/vps.log"; die "the VPS endpoint did not notice the office going away"; }
  say "The VPS noticed: $(grep -F 'peer office down' "$tmp/vps.log" | tail -n 1 | cut -d' ' -f4-)" ""
  say "swaks again, to the same forward:" ""
  local rc=0
  swaks_lmtp "mailtun demo: this one must be deferred" "<mailtun-demo-outage-$$@vps.demo.example>" \
    > "$tmp/swaks-down.txt" 2>&1 || rc=$?
  show < "$tmp/swaks-down.txt"
  grep -q '421 4\.4\.1' "$tmp/swaks-down.txt" || die "expected a 421 4.4.1 reply while the office was down"
  say "" "swaks exited with status $rc: the VPS endpoint answered 421 4.4.1 in place of Dovecot's greeting" \
      "and closed the connection. That is a temporary failure: Postfix keeps the message in its queue" \
      "(\"deferred\", with this reason in its log) and retries once the tunnel is back."
  say "" "office.log, from the stop signal on:"
  sed -n '/signal /,$p' "$tmp/office.log" | show
  say "" "vps.log, from the office going away on:"
  sed -n '/peer office down/,$p' "$tmp/vps.log" | show
}

main() {
  step_build
  step_keys_and_configs
  step_dovecot
  step_endpoints
  step_deliver
  step_logs
  step_outage
  heading "Done: delivered through the tunnel, and deferred with 421 while it was down."
}

main "$@"
