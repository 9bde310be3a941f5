#!/usr/bin/env bash
# scripts/release-check.sh: check the release setup end to end, by hand,
# before tagging. NOT part of CI or scripts/check.sh: it builds eight
# binaries and the packages, which takes minutes (and installs GoReleaser
# the first time, which takes longer).
#
#  1. installs GoReleaser (go install, $GORELEASER_VERSION) when it is not
#     on PATH or in $(go env GOPATH)/bin;
#  2. goreleaser check (.goreleaser.yaml);
#  3. goreleaser release --snapshot --clean --skip=publish into dist/;
#  4. lists the contents of every archive and of the deb, rpm and apk, and
#     fails unless each holds the binary, README.md and LICENSE (archives),
#     every man page of man/ and every completion script of completions/;
#  5. runs the linux/amd64 binary's `version` to see the stamped version.
# dist/ is removed at the end unless KEEP_DIST=1; REUSE_DIST=1 (with
# KEEP_DIST=1 before) checks the dist/ left by an earlier run again.
#
# Needs tar, dpkg-deb, and bsdtar (or unzip, rpm2cpio and cpio) to list
# the zip and rpm files (Debian: apt-get install libarchive-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=${GORELEASER_VERSION:-v2.12.7}

fail() { echo "release-check: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

gr=$(command -v goreleaser || true)
if [ -z "$gr" ]; then
  gr="$(go env GOPATH)/bin/goreleaser"
  if [ ! -x "$gr" ]; then
    step "installing goreleaser $GORELEASER_VERSION"
    go install "github.com/goreleaser/goreleaser/v2@${GORELEASER_VERSION}"
  fi
fi
"$gr" --version | sed -n '/GitVersion/p'

listing=$(mktemp)
trap 'rm -f "$listing"; if [ "${KEEP_DIST:-}" != 1 ]; then rm -rf dist; fi' EXIT

if [ "${REUSE_DIST:-}" = 1 ] && [ -d dist ]; then
  echo "REUSE_DIST=1: checking the dist/ of an earlier run"
else
  step "goreleaser check"
  "$gr" check

  step "goreleaser release --snapshot"
  "$gr" release --snapshot --clean --skip=publish
fi

step "contents"
mapfile -t pages < <(cd man && ls *.1)
mapfile -t comps < <(cd completions && ls)
[ "${#pages[@]}" -gt 0 ] || fail "man/ is empty"
[ "${#comps[@]}" -gt 0 ] || fail "completions/ is empty"

# need FILE PATTERN...: every pattern matches a line of the listing.
need() {
  local what=$1 pat; shift
  for pat in "$@"; do
    grep -Eq -- "$pat" "$listing" || fail "$what lacks $pat"
  done
}

# list_rpm FILE: the paths in an rpm. bsdtar reads rpm itself; Debian's
# rpm2cpio exits 1 on an aarch64 rpm after writing it whole, so its status
# is not trusted (need() checks the listing instead).
list_rpm() {
  if command -v bsdtar >/dev/null; then
    bsdtar -tf "$1"
  else
    { rpm2cpio "$1" || true; } | cpio -it --quiet
  fi
}

archives=0
for a in dist/*.tar.gz dist/*.zip; do
  [ -e "$a" ] || continue
  archives=$((archives + 1))
  case "$a" in
    *.tar.gz) tar -tzf "$a" >"$listing" ;;
    *.zip) if command -v unzip >/dev/null; then unzip -Z1 "$a" >"$listing"; else bsdtar -tf "$a" >"$listing"; fi ;;
  esac
  bin='(^|/)smtpkit$'
  case "$a" in *windows*) bin='(^|/)smtpkit\.exe$' ;; esac
  need "$a" "$bin" '(^|/)README\.md$' '(^|/)LICENSE$'
  for f in "${pages[@]}"; do need "$a" "(^|/)man/${f//./\\.}\$"; done
  for f in "${comps[@]}"; do need "$a" "(^|/)completions/${f//./\\.}\$"; done
  echo "ok  $a ($(wc -l <"$listing") entries)"
done
[ "$archives" = 8 ] || fail "want 8 archives (4 systems x 2 architectures), found $archives"

pkgs=0
for p in dist/*.deb dist/*.rpm dist/*.apk; do
  [ -e "$p" ] || continue
  pkgs=$((pkgs + 1))
  case "$p" in
    *.deb) dpkg-deb -c "$p" | awk '{print $NF}' >"$listing"; zsh_dir=vendor-completions ;;
    *.rpm) list_rpm "$p" >"$listing"; zsh_dir=site-functions ;;
    *.apk) tar -tzf "$p" 2>/dev/null >"$listing" || bsdtar -tf "$p" >"$listing"; zsh_dir=site-functions ;;
  esac
  need "$p" 'usr/bin/smtpkit$' \
    'usr/share/bash-completion/completions/smtpkit$' \
    "usr/share/zsh/$zsh_dir/_smtpkit\$" \
    'usr/share/fish/vendor_completions\.d/smtpkit\.fish$'
  for f in "${pages[@]}"; do need "$p" "usr/share/man/man1/${f//./\\.}(\\.gz)?\$"; done
  echo "ok  $p ($(wc -l <"$listing") entries)"
done
[ "$pkgs" = 6 ] || fail "want 6 packages (deb, rpm, apk for amd64 and arm64), found $pkgs"

step "stamped version"
bin=$(ls dist/smtpkit_linux_amd64*/smtpkit | head -1)
"$bin" version
"$bin" version --format json | grep -q '"commit": *"[0-9a-f]\{40\}"' || fail "the binary has no commit stamped"

echo
echo "release-check: ok ($archives archives, $pkgs packages, ${#pages[@]} man pages, ${#comps[@]} completion scripts each)"
