#!/usr/bin/env bash
# scripts/interop/matrix.sh: every real peer against the smtpkit commands it
# is exercised with, and how each pairing went, as a table.
#
#   scripts/interop/matrix.sh [--from FILE] [--no-load]
#
# The interop tests are ordinary tests (testscript files under
# testdata/script and Go tests); the table below names them per peer and
# command. With --from FILE the results come from go test -json events
# already written there (scripts/check.sh writes them when SMTPKIT_TEST_JSON
# is set, as .ci/run does), so nothing runs twice. Without it, the listed
# tests run here (go test -json -run ...).
#
# The load row runs scripts/load/run.sh in its short form (LOAD_SECONDS=12,
# LOAD_SESSIONS=200, 50 slow clients, timeouts 2s/3s; the same checks as the
# full run: probe under 1 s, RSS bound, no fd or goroutine left), unless
# --no-load.
#
# A row passes when every test it names passed; it fails when one failed or
# never ran (renamed, not found: the table must not lie); it is skipped when
# one skipped, which counts as a failure under SMTPKIT_REQUIRE_PEERS=1 (a
# missing peer). Exit status 1 when a row failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

from=""
load=1
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    --no-load) load=0; shift ;;
    *) echo "usage: $0 [--from FILE] [--no-load]" >&2; exit 64 ;;
  esac
done

# peer | smtpkit command | what is exercised | tests (space-separated; "load" is the load run)
rows='
Postfix smtpd|send|STARTTLS verified, maildir delivery, BDAT, unknown recipient|TestScripts/interop_postfix
Postfix smtpd|send (MX)|MX found via DNS, STARTTLS under auto, refusal|TestScripts/interop_postfix_mx
Postfix smtpd|send --batch|two sessions, every row once, --state rerun|TestScripts/interop_postfix_batch
Postfix smtpd|relay|--tls-policy verify, bounce back as RFC 3464|TestScripts/relay_postfix
Postfix smtp/lmtp|serve|Postfix relays into serve over STARTTLS and LMTP|TestScripts/serve_postfix_relay
smtp-sink|send|PIPELINING, injected faults, 1 MiB exact, 8BITMIME, LMTP, AUTH|TestScripts/interop_sink
smtp-source|serve|500 messages / 10 sessions, LMTP, kill -9 under load|TestScripts/serve_smtp_source TestServeCrash
smtp-source|serve (load)|200 sessions + slow clients: probe < 1 s, no leak|load
posttls-finger|serve, probe|STARTTLS name check; version, cipher, fingerprints = probe|TestPosttlsFingerServe
swaks|serve|plain, STARTTLS, implicit TLS, AUTH, PIPELINING, LMTP|TestScripts/serve_swaks
msmtp|serve|STARTTLS + AUTH PLAIN/LOGIN, wrong password|TestScripts/serve_msmtp
aiosmtpd|send|STARTTLS required, AUTH PLAIN/LOGIN, no password leaks|TestScripts/interop_aiosmtpd TestSendNeverPrintsPassword
dnsmasq (+dig)|mx|text/json/jsonl; records equal to dig|TestScripts/mx_dnsmasq TestDnsmasqMatchesDig
unbound + nsd|probe --dane|signed TLSA match/mismatch, unsigned ignored|TestProbeDomainDANE TestDANEValidatingResolver
testssl.sh|probe --audit|same versions and suites, modern and weak Postfix|TestProbeAuditMatchesTestssl
'

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$from" ]; then
  scripts=() gotests=()
  while IFS='|' read -r _ _ _ tests; do
    for t in $tests; do
      case "$t" in
        load) ;;
        TestScripts/*) scripts+=("${t#TestScripts/}") ;;
        *) gotests+=("$t") ;;
      esac
    done
  done <<<"$rows"
  join() { local IFS='|'; echo "$*"; }
  echo "== interop tests (go test -json)"
  # Failures show in the table; the events go to a file.
  go test -json -run "^TestScripts\$/^($(join "${scripts[@]}"))\$" ./cmd/smtpkit >"$work/scripts.json" || true
  go test -json -run "^($(join "${gotests[@]}"))\$" ./cmd/smtpkit ./internal/tlspolicy >"$work/go.json" || true
  from="$work/scripts.json $work/go.json"
fi
# shellcheck disable=SC2086 # several files
scripts/interop/gotestjson.py results $from >"$work/results"

load_result=off
if [ "$load" = 1 ]; then
  echo "== scripts/load/run.sh (short)"
  if ! command -v smtp-source >/dev/null && ! [ -x /usr/sbin/smtp-source ]; then
    load_result=skip
    echo "smtp-source is not installed: load run skipped"
  else
    PATH=$PATH:/usr/sbin
    if CMD_TIMEOUT=2s DATA_TIMEOUT=3s SLOW="20 5 5 5 5 5 5" \
      scripts/load/run.sh "${LOAD_SECONDS:-12}" "${LOAD_SESSIONS:-200}" >"$work/load.log" 2>&1; then
      load_result=pass
    else
      load_result=fail
    fi
    # The figures, whatever the outcome; the whole log on failure.
    if [ "$load_result" = fail ]; then cat "$work/load.log"; else sed -n '/^slow /,$p' "$work/load.log"; fi
  fi
fi

echo
echo "== interop matrix"
python3 - "$work/results" "$load_result" "${SMTPKIT_REQUIRE_PEERS:-}" "$rows" <<'PY'
import sys
results_file, load_result, require, rows = sys.argv[1:5]
status = {}
for line in open(results_file):
    st, name = line.split(None, 1)
    status[name.strip()] = st
table = []
failed = 0
counts = {}
for row in rows.strip().splitlines():
    peer, cmd, what, tests = row.split("|")
    got = []
    for t in tests.split():
        got.append(load_result if t == "load" else status.get(t, "not run"))
    if got == ["off"]:
        res = "not run (--no-load)"
    elif any(g in ("fail", "not run") for g in got):
        res = "FAIL"
    elif any(g == "skip" for g in got):
        res = "FAIL (skipped; peers required)" if require == "1" else "skip"
    else:
        res = "pass"
    if res.startswith("FAIL"):
        failed += 1
    counts[res.split()[0]] = counts.get(res.split()[0], 0) + 1
    detail = ", ".join(f"{t.removeprefix('TestScripts/')}: {g}" for t, g in zip(tests.split(), got))
    table.append((peer, cmd, what, res, detail))
heads = ("peer", "smtpkit command", "exercised", "result", "tests")
widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(heads)]
line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
print(line(heads))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in table:
    print(line(r))
print(f"\ninterop matrix: {len(table)} rows: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
sys.exit(1 if failed else 0)
PY
