#!/usr/bin/env bash
# Regenerates docs/benchmarks.md and its charts from a fresh clone: installs the contestants from
# Debian packages, builds mailtun (scripts/build.sh), then runs bench/compare.py with its defaults
# (5 runs, 1 GiB bulk, ...). Needs root, or sudo, for apt-get and for wireguard-go's network
# namespaces. Run it on a machine doing nothing else: other load shows in the report, and skews it.
#
#   bash bench/run.sh                        # the published report
#   bash bench/run.sh --runs 1 --bulk-mib 64 --out /tmp/bench.md   # anything else goes to compare.py
#
# Where a service manager runs, installing openssh-server also starts the system's sshd on port 22;
# the benchmark itself starts its own sshd on a free high port and stops it at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MAILTUN_BUILD_DIR:-$root/build}

packages=(socat stunnel4 spiped openssh-server openssh-client wireguard-go wireguard-tools iproute2 openssl postfix
          libsodium-dev g++ python3 python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

MAILTUN_BUILD_DIR=$build bash "$root/scripts/build.sh"

# Debian's python3: python3-matplotlib is installed for it, whatever python3 comes first on PATH.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
exec "$python" "$root/bench/compare.py" --mailtun "$build/cli/mailtun" --runs 5 --out "$root/docs/benchmarks.md" "$@"
