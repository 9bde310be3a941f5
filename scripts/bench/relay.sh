#!/usr/bin/env bash
# scripts/bench/relay.sh: store-and-forward throughput on loopback, in one run.
# N messages (default 1,000) for 10 domains are spooled while their
# destination is down, then `smtpkit relay flush` delivers them all to
# `smtpkit serve` (durable maildir) through --route, in one run; against a
# shell loop of msmtp sending the same N messages to the same serve, one
# process per message. Prints messages/s and the ratio.
# Usage: scripts/bench/relay.sh [N=1000]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
for t in msmtp python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is not installed (apt-get install msmtp)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/smtpkit-relay-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit
kit=$work/smtpkit
# shellcheck source=scripts/bench/lib/net.sh
. scripts/bench/lib/net.sh
now() { date +%s.%N; }

port=$(freeport)
routes=()
for d in $(seq 0 9); do routes+=(--route "d$d.example=127.0.0.1:$port"); done
# The sender's domain too: nothing here may look up a real MX.
routes+=(--route "example.com=127.0.0.1:$port")
# A body of 2 KB in 76-octet lines.
body=$(python3 -c 'print("\r\n".join(["x" * 76] * 26), end="")')
export SMTPKIT_SPOOL=$work/spool

# Spool N messages while nothing listens on $port: each is deferred at once
# (connection refused) and stays in the spool.
for i in $(seq 1 "$N"); do
  d=$((i % 10))
  printf 'From: a@example.com\r\nTo: u%d@d%d.example\r\nSubject: bench %d\r\n\r\n%s\r\n' "$i" "$d" "$i" "$body" |
    "$kit" relay "${routes[@]}" --from a@example.com --to "u$i@d$d.example" -q >/dev/null 2>&1 || [ $? = 75 ]
done
queued=$("$kit" relay queue --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$queued" = "$N" ] || { echo "bench: $queued of $N messages spooled" >&2; exit 1; }

"$kit" serve --listen 127.0.0.1:"$port" --maildir "$work/md" -q & pids+=($!)
waitport "$port"
"$kit" relay retry --all >/dev/null
t0=$(now)
"$kit" relay flush "${routes[@]}" -q || { echo "bench: relay flush failed" >&2; "$kit" relay queue | tail -3 >&2; exit 1; }
t1=$(now)
got=$(find "$work/md/new" -type f | wc -l)
[ "$got" = "$N" ] || { echo "bench: relay delivered $got of $N" >&2; exit 1; }
relay=$(python3 -c "print(f'{$N/($t1-$t0):.0f}')")

# msmtp, one process per message, into the same serve.
printf 'From: a@example.com\r\nTo: u@d0.example\r\nSubject: bench\r\n\r\n%s\r\n' "$body" > "$work/msg.eml"
t0=$(now)
for i in $(seq 1 "$N"); do
  msmtp --host=127.0.0.1 --port="$port" --from=a@example.com --auth=off --tls=off "u$i@d$((i % 10)).example" < "$work/msg.eml"
done
t1=$(now)
got=$(find "$work/md/new" -type f | wc -l)
[ "$got" = "$((2 * N))" ] || { echo "bench: msmtp delivered $((got - N)) of $N" >&2; exit 1; }
msmtp=$(python3 -c "print(f'{$N/($t1-$t0):.1f}')")

echo "relay: $N messages for 10 domains to smtpkit serve (durable maildir) on loopback"
printf '%-36s %12s\n' "sender" "messages/s" "smtpkit relay flush (one run)" "$relay" "msmtp loop (one process each)" "$msmtp"
python3 -c "print(f'ratio: relay flush / msmtp loop = {$relay/$msmtp:.1f}x (target >= 10x)')"
