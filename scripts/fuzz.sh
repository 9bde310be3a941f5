#!/usr/bin/env bash
# scripts/fuzz.sh [DURATION] [PATTERN]: run every fuzz target of the module,
# one after the other, each for DURATION (default 10m; anything -fuzztime
# takes: 30s, 10m, 5000x), and print a summary table. PATTERN (an extended
# regexp, default: all) picks targets by name, e.g. 'Session|BDAT|DataReader'.
#
#   scripts/fuzz.sh                  # every target, 10 minutes each
#   scripts/fuzz.sh 10s              # CI: a brief run of each
#   scripts/fuzz.sh 30m 'Session'    # a long run of the session targets
#   FUZZ_PARALLEL=2 scripts/fuzz.sh  # fuzzing workers per target (default 1)
#   FUZZ_LOG_DIR=/tmp/f scripts/fuzz.sh   # keep each target's output there
#   FUZZ_SKIP='Session' scripts/fuzz.sh   # leave out the targets matching it
#
# Targets are found with `go test -list '^Fuzz'` in every package whose
# _test.go files declare one; they run one at a time, never in parallel.
# A target fails when the fuzzer finds a crasher (or does not build): Go
# writes the input to <package>/testdata/fuzz/<Target>/<hash>, the table
# names the file, and the script exits 1. Commit that file with the fix:
# it then runs as a regression case in every plain `go test`.
#
# Seed corpora: the f.Add calls in each target, plus the files in
# <package>/testdata/fuzz/<Target>/ (Go's corpus format, read by `go test`
# and the fuzzer; Go looks only there, not in the top-level testdata/).
# The hostile seeds live there: SMTP smuggling end-of-data variants
# (internal/smtp/testdata/fuzz/FuzzDataReader, FuzzServerSession,
# FuzzBDATChunks), STARTTLS command injection (FuzzServerSession
# starttls-*) and response injection (FuzzClientSession starttls-*).
# The inputs the fuzzer generates on its own stay in $(go env GOCACHE)/fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10m}
pattern=${2:-.}
skip=${FUZZ_SKIP:-}
parallel=${FUZZ_PARALLEL:-1}
logdir=${FUZZ_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/smtpkit-fuzz.XXXXXX")}
mkdir -p "$logdir"

# go test's -timeout must outlast the fuzzing (its default, 10m, does not).
seconds() { # a Go duration of h, m, s (and ms) units, in whole seconds
  local d=$1 n=0
  [[ $d =~ ^([0-9]+(h|ms|m|s))+$ ]] || return 1
  while [[ $d =~ ^([0-9]+)(h|ms|m|s)(.*)$ ]]; do
    case ${BASH_REMATCH[2]} in
      h) n=$((n + BASH_REMATCH[1] * 3600)) ;;
      m) n=$((n + BASH_REMATCH[1] * 60)) ;;
      s) n=$((n + BASH_REMATCH[1])) ;;
    esac
    d=${BASH_REMATCH[3]}
  done
  echo "$n"
}
case $duration in
  *[0-9]x) timeout=60m ;;
  *) secs=$(seconds "$duration") ||
       { echo "fuzz.sh: bad duration $duration (want e.g. 30s, 10m, 1h or 5000x)" >&2; exit 64; }
     timeout="$((secs + 600))s" ;;
esac

# Discover: packages whose tests declare a fuzz target, then ask go test
# for the exact list (build tags and all).
targets=()
for dir in $(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | xargs -n1 dirname | sort -u); do
  pkg=./${dir#./}
  while read -r name; do
    case $name in Fuzz*) ;; *) continue ;; esac
    if printf '%s\n' "$name" | grep -qE -- "$pattern" &&
      { [ -z "$skip" ] || ! printf '%s\n' "$name" | grep -qE -- "$skip"; }; then
      targets+=("$pkg $name")
    fi
  done < <(go test -list '^Fuzz' "$pkg" 2>/dev/null)
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz target matches $pattern" >&2
  exit 64
fi

# FUZZ_MINIMIZE_TIME (go test -fuzzminimizetime, default 60s): 0 turns
# minimization off, which .ci/run does for its brief runs: the engine's
# "context deadline exceeded" comes from minimizing a new input as
# -fuzztime runs out, and a crasher found is kept unminimized all the same.
minimize=${FUZZ_MINIMIZE_TIME:-60s}
echo "fuzz.sh: ${#targets[@]} targets, $duration each, $parallel worker(s); logs in $logdir"
rows=()
failed=0
for t in "${targets[@]}"; do
  pkg=${t% *}
  name=${t#* }
  log="$logdir/$name.log"
  printf '== %s (%s) ' "$name" "$pkg"
  start=$(date +%s)
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -parallel "$parallel" \
    -fuzzminimizetime "$minimize" -timeout "$timeout" "$pkg" >"$log" 2>&1
  rc=$?
  retried=""
  # Go's fuzzing engine sometimes ends a run that found nothing with
  # "context deadline exceeded" when -fuzztime runs out while a worker is
  # busy (seen on a loaded machine): no input failed, nothing was written
  # to testdata/fuzz. Such a run is tried once more; a real crasher always
  # names its file.
  if [ $rc -ne 0 ] && grep -q 'context deadline exceeded' "$log" && ! grep -qE 'testdata/fuzz/|Failing input|panic:' "$log"; then
    mv "$log" "$log.first"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -parallel "$parallel" \
      -fuzzminimizetime "$minimize" -timeout "$timeout" "$pkg" >"$log" 2>&1
    rc=$?
    retried=" (run again: the first ended in the engine's context deadline, no failing input; $log.first)"
  fi
  took=$(($(date +%s) - start))
  # The time spent fuzzing, as the fuzzer last reported it (the rest of
  # the wall time is building and the seed corpus).
  fuzzed=$(grep -oE '^fuzz: elapsed: [0-9hms]+' "$log" | tail -n1 | awk '{print $3}')
  if [ $rc -eq 0 ]; then
    result="ok$retried"
  else
    failed=1
    crasher=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | tail -n1)
    if [ -n "$crasher" ]; then
      result="FAIL: ${pkg#./}/$crasher"
    else
      result="FAIL (rc $rc): see $log"
    fi
  fi
  echo "fuzzed ${fuzzed:-0s} (wall ${took}s): $result"
  rows+=("$(printf '%-28s %-26s %8s %7ss  %s' "$name" "${pkg#./}" "${fuzzed:-0s}" "$took" "$result")")
done

echo
printf '%-28s %-26s %8s %8s  %s\n' target package fuzzed wall result
for r in "${rows[@]}"; do echo "$r"; done
if [ $failed -ne 0 ]; then
  echo
  echo "fuzz.sh: failures above; each crasher is in its package's testdata/fuzz" >&2
  for t in "${targets[@]}"; do
    log="$logdir/${t#* }.log"
    if grep -q -- '--- FAIL' "$log" 2>/dev/null; then
      echo "--- ${t#* }:" >&2
      grep -A20 -- '--- FAIL' "$log" | head -n 30 >&2
    fi
  done
  exit 1
fi
