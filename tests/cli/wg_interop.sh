#!/usr/bin/env bash
# mailtun's key commands against WireGuard's own `wg` (DESIGN §3: the same private key gives the same
# public key, in the same format), and the exit codes of DESIGN §8.
#
# usage: wg_interop.sh PATH/TO/mailtun [EXPECTED_VERSION]
# Exits 0 if every check passes, 1 if any fails, 77 (skipped) if `wg` is not installed.

set -euo pipefail

mailtun=${1:?usage: wg_interop.sh PATH/TO/mailtun [EXPECTED_VERSION]}
expected_version=${2:-}

if ! command -v wg >/dev/null 2>&1; then
  echo "************************************************************" >&2
  echo "SKIPPED: wg not found (install wireguard-tools to run this test)" >&2
  echo "************************************************************" >&2
  exit 77
fi
mailtun=$(realpath "$mailtun")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
umask 077  # the key files below are secrets, even if throwaway ones

failures=0
checks=0
pass() { checks=$((checks + 1)); }
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL: $*" >&2
}

key_pattern='^[A-Za-z0-9+/]{43}=$'

# A key's text: 44 characters, one '=', decoding to 32 bytes.
check_format() { # what text
  local what=$1 text=$2
  if [[ $text =~ $key_pattern ]] && [[ $(printf '%s' "$text" | base64 -d | wc -c) -eq 32 ]]; then
    pass
  else
    fail "$what: not a 44-character base64 key of 32 bytes"
  fi
}

# X25519 clamping (RFC 7748 §5): bits 0-2 of byte 0 clear, bit 7 of byte 31 clear, bit 6 set.
check_clamped() { # what text
  local bytes
  read -r -a bytes <<<"$(printf '%s' "$2" | base64 -d | od -An -v -tu1 | tr -s ' \n' '  ')"
  if (( (bytes[0] & 7) != 0 || (bytes[31] & 0xc0) != 0x40 )); then
    fail "$1: not clamped (byte 0 = ${bytes[0]}, byte 31 = ${bytes[31]})"
  else
    pass
  fi
}

# 32 copies of one byte (given in octal, as tr takes it), in base64.
key_of_byte() { head -c32 /dev/zero | tr '\0' "\\$1" | base64 -w0; }

# --- 1. mailtun genkey | mailtun pubkey agrees with wg pubkey, and wg genkey with mailtun pubkey ---
for i in $(seq 1 20); do
  if ! ours=$("$mailtun" genkey | tee key | "$mailtun" pubkey); then
    fail "key $i: mailtun genkey | mailtun pubkey failed"
    continue
  fi
  theirs=$(wg pubkey <key)
  if [[ $ours == "$theirs" ]]; then pass; else fail "key $i: mailtun pubkey '$ours' != wg pubkey '$theirs'"; fi
  check_format "mailtun genkey (key $i)" "$(cat key)"
  check_clamped "mailtun genkey (key $i)" "$(cat key)"
  check_format "mailtun pubkey (key $i)" "$ours"

  wg genkey >wgkey
  ours=$("$mailtun" pubkey <wgkey)
  theirs=$(wg pubkey <wgkey)
  if [[ $ours == "$theirs" ]]; then pass; else fail "wg genkey key $i: mailtun pubkey differs from wg pubkey"; fi
done

# --- 2. fixed private keys, most of them unclamped: both tools clamp the same way ---
fixed_keys=(
  "$(key_of_byte 377)"  # 0xff: every clamped bit wrong
  "$(key_of_byte 000)"
  "$(key_of_byte 200)"  # 0x80
  "$(key_of_byte 007)"
  "$({ printf '\001'; head -c31 /dev/zero; } | base64 -w0)"
  # RFC 7748 §6.1 Alice: its low three bits are set, and its public key is published there.
  "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
)
for key in "${fixed_keys[@]}"; do
  check_format "fixed key $key" "$key"
  ours=$(printf '%s\n' "$key" | "$mailtun" pubkey)
  theirs=$(printf '%s\n' "$key" | wg pubkey)
  if [[ $ours == "$theirs" ]]; then pass; else fail "fixed key $key: mailtun '$ours' != wg '$theirs'"; fi
done
alice_public=$(printf '%s\n' "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=" | "$mailtun" pubkey)
alice_hex=$(printf '%s' "$alice_public" | base64 -d | od -An -v -tx1 | tr -d ' \n')
if [[ $alice_hex == 8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a ]]; then
  pass
else
  fail "RFC 7748 Alice: got public key $alice_hex"
fi

# A key without its newline, or with CRLF, reads the same in both.
key=$("$mailtun" genkey)
for ending in '' '\r\n' '\n\n'; do
  ours=$(printf "%s$ending" "$key" | "$mailtun" pubkey)
  theirs=$(printf "%s$ending" "$key" | wg pubkey)
  if [[ $ours == "$theirs" ]]; then pass; else fail "line ending '$ending': outputs differ"; fi
done

# --- 3. genkey and genpsk output ---
for cmd in genkey genpsk; do
  a=$("$mailtun" "$cmd")
  b=$("$mailtun" "$cmd")
  check_format "mailtun $cmd" "$a"
  if [[ $a != "$b" ]]; then pass; else fail "mailtun $cmd printed the same key twice"; fi
  if [[ $("$mailtun" "$cmd" | wc -l) -eq 1 ]]; then pass; else fail "mailtun $cmd: not exactly one line"; fi
done

# A key redirected into a file that others could read is still written, with a warning.
rc=0
(umask 022 && "$mailtun" genkey >shared.key 2>warning) || rc=$?
if ((rc == 0)) && grep -q 'warning' warning && [[ $(cat shared.key) =~ $key_pattern ]]; then
  pass
else
  fail "genkey into a 0644 file: rc=$rc, stderr '$(cat warning)'"
fi
rc=0
"$mailtun" genkey >private.key 2>warning || rc=$?
if ((rc == 0)) && [[ ! -s warning ]]; then pass; else fail "genkey into a 0600 file warned: '$(cat warning)'"; fi

# --- 4. malformed private keys: exit 2, a message on stderr, nothing on stdout; wg refuses them too ---
good=$("$mailtun" genkey)
malformed=(
  "garbage"
  ""
  "${good:0:43}"                            # 43 characters
  "A${good}"                                # 45 characters
  "${good:0:20} ${good:20}"                 # whitespace inside
  "${good}junk"                             # trailing garbage
  "${good}"$'\n'"${good}"                   # two lines
  "$(printf '%s' "$good" | tr '+/' '-_')-"  # base64url (the '-' makes sure one is there)
  "${good:0:43}A"                           # no padding
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="  # non-canonical: bits set after the last byte
)
for input in "${malformed[@]}"; do
  rc=0
  printf '%s\n' "$input" | "$mailtun" pubkey >out 2>err || rc=$?
  if ((rc == 2)) && [[ ! -s out ]] && grep -q '^mailtun pubkey: stdin: expected a base64 private key of 44 characters' err; then
    pass
  else
    fail "pubkey on malformed input (${#input} chars): rc=$rc, stdout '$(cat out)', stderr '$(cat err)'"
  fi
  if printf '%s\n' "$input" | wg pubkey >/dev/null 2>&1; then
    fail "wg accepted input that mailtun refuses (${#input} chars)"
  else
    pass
  fi
  # The message must not repeat the key material it was given.
  if [[ ${#input} -ge 20 ]] && grep -qF -- "${input:0:12}" err; then
    fail "pubkey echoed its input in the error message"
  fi
done

# --- 5. command line: usage errors exit 2, --version ---
expect_rc() { # expected-code description command...
  local expected=$1 what=$2 rc=0
  shift 2
  "$@" </dev/null >out 2>err || rc=$?
  if ((rc == expected)); then pass; else fail "$what: exit $rc, expected $expected (stderr: $(cat err))"; fi
}
expect_rc 2 "unknown subcommand" "$mailtun" frobnicate
expect_rc 2 "no subcommand" "$mailtun"
if grep -q 'genkey' err; then pass; else fail "no subcommand: help not printed on stderr"; fi
expect_rc 2 "unknown option" "$mailtun" --frobnicate
expect_rc 2 "extra argument" "$mailtun" genkey extra
expect_rc 0 "--help" "$mailtun" --help
expect_rc 0 "--version" "$mailtun" --version
version_line=$(cat out)
if [[ -n $expected_version ]]; then
  if [[ $version_line == "mailtun $expected_version" ]]; then pass; else fail "--version printed '$version_line', expected 'mailtun $expected_version'"; fi
else
  if [[ $version_line =~ ^mailtun\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then pass; else fail "--version printed '$version_line'"; fi
fi

echo "wg_interop: $((checks - failures))/$checks checks passed ($(wg --version 2>/dev/null | head -n1))"
((failures == 0))
