#!/usr/bin/env bash
# Installs every Debian 12 package that building, the demo and the tests need.
# Idempotent: packages already present are left alone and apt is not touched at all.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libsodium-dev libssl-dev
  libboost1.81-dev
  libspdlog-dev libcli11-dev libtomlplusplus-dev libexpected-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsystemd-dev
  wireguard-tools
  dovecot-core dovecot-lmtpd dovecot-imapd swaks postfix
  iproute2 python3
  clang-14 libclang-rt-14-dev llvm-14
  debootstrap lintian go-md2man systemd systemd-container procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run this script as root (or install them with apt-get)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Dovecot's and Postfix's packaging would start system services; the demo and tests run their own
# instances, so keep the packaged ones from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
