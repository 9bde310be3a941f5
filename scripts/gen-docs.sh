#!/usr/bin/env bash
# scripts/gen-docs.sh: regenerate man/ (one page per command, from the
# cobra command tree) and completions/ (bash, zsh, fish, PowerShell) with
# the hidden `smtpkit gen man|completions DIR`. The output depends on the
# code alone (a fixed date, no environment), so commit what it writes.
#   scripts/gen-docs.sh           rewrite man/ and completions/
#   scripts/gen-docs.sh --check   regenerate into a temporary directory and
#                                 fail when the committed files differ
#                                 (scripts/check.sh runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/gen-docs.sh [--check]" >&2; exit 64 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/smtpkit" ./cmd/smtpkit
"$tmp/smtpkit" gen man "$tmp/man"
"$tmp/smtpkit" gen completions "$tmp/completions"

if [ "$check" = 1 ]; then
  if ! diff -ru man "$tmp/man" || ! diff -ru completions "$tmp/completions"; then
    echo "man/ or completions/ are stale: run scripts/gen-docs.sh and commit the result" >&2
    exit 1
  fi
  echo "generated docs: up to date"
  exit 0
fi

rm -rf man completions
cp -R "$tmp/man" man
cp -R "$tmp/completions" completions
echo "wrote $(ls man | wc -l) man pages to man/ and $(ls completions | wc -l) completion scripts to completions/"
