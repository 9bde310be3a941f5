#!/usr/bin/env bash
# scripts/check.sh: everything CI checks, in one place. README's test command.
#   gofmt, go vet, the release platforms' builds, staticcheck, the import rules of the layout, man pages
#   and completions up to date (scripts/gen-docs.sh --check), go test -race.
# SMTPKIT_CHECK_FAST=1 skips -race (quicker local runs). SMTPKIT_TEST_JSON=FILE
# also writes go test's -json events to FILE (for scripts/interop/matrix.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

# The release builds these (.goreleaser.yaml); the tests are Linux's only.
step "go build for darwin, freebsd, windows"
for os in darwin freebsd windows; do GOOS=$os go build ./...; done

step "staticcheck"
STATICCHECK_VERSION=v0.8.2
if ! command -v staticcheck >/dev/null 2>&1; then
  GOBIN="${GOBIN:-$(go env GOPATH)/bin}"
  go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
  PATH="$GOBIN:$PATH"
fi
staticcheck ./...

step "import rules"
scripts/importrules.sh

step "generated docs (man/, completions/)"
scripts/gen-docs.sh --check

step "go test"
# cmd/smtpkit runs the real binary against every peer (testssl.sh alone takes
# minutes): past go test's default 10-minute limit on a loaded 2-core machine.
timeout="-timeout=40m"
race=-race
if [ "${SMTPKIT_CHECK_FAST:-}" = 1 ]; then race=""; fi
if [ -n "${SMTPKIT_TEST_JSON:-}" ]; then
  # The events also go to SMTPKIT_TEST_JSON, for scripts/interop/matrix.sh
  # --from (CI prints the interop table without running the tests twice);
  # the terminal gets go test's usual text.
  go test $timeout $race -json ./... | tee "$SMTPKIT_TEST_JSON" | scripts/interop/gotestjson.py text
else
  go test $timeout $race ./...
fi
echo
echo "check: all passed"
