#!/usr/bin/env bash
# mailtun(8) documents the command line the binary has: every subcommand that `mailtun --help` lists
# has its "## NAME" section in docs/mailtun.8.md, and every option that `mailtun NAME --help` lists
# is named there as **--option**. A subcommand or option added without its manual entry fails here.
#
# Usage: manpage_covers_cli.sh MAILTUN MANPAGE_MD
set -euo pipefail
mailtun=$1 manpage=$2
status=0

options_of() {  # the long options in a --help text, but --help itself
  grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' | sed 's/^[ ,]*//' | grep -vx -- '--help' | sort -u
}

for option in $("$mailtun" --help | sed -n '/^Options:/,/^$/p' | options_of); do
  grep -qF "**$option**" "$manpage" || { echo "FAIL: mailtun $option is not in $manpage"; status=1; }
done

subcommands=$("$mailtun" --help | sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ -n "$subcommands" ] || { echo "FAIL: no subcommands in mailtun --help"; exit 1; }
for subcommand in $subcommands; do
  if ! grep -qx "## $subcommand" "$manpage"; then
    echo "FAIL: subcommand $subcommand has no section \"## $subcommand\" in $manpage"
    status=1
    continue
  fi
  for option in $("$mailtun" "$subcommand" --help | sed -n '/^Options:/,$p' | options_of); do
    grep -qF "**$option**" "$manpage" ||
      { echo "FAIL: mailtun $subcommand $option is not in $manpage"; status=1; }
  done
  echo "ok: $subcommand"
done
exit $status
