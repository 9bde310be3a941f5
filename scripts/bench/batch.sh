#!/usr/bin/env bash
# scripts/bench/batch.sh: `smtpkit send --batch` against Postfix's smtp-sink
# on loopback, with smtp-source in the same run: N messages of about SIZE
# octets over SESSIONS parallel sessions, N/SESSIONS messages per session
# (smtp-source -d keeps the connection; send --batch --per-connection).
# Prints messages per second for each and the ratio, then the peak RSS of
# `send --batch --check` over a BIG-row CSV (streaming: no row is kept).
# Usage: scripts/bench/batch.sh [N=20000] [SESSIONS=20] [SIZE=2048] [BIG=1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
SESSIONS=${2:-20}
SIZE=${3:-2048}
BIG=${4:-1000000}
for t in smtp-sink smtp-source /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing (apt-get install postfix time python3)" >&2; exit 1; }
done
work=$(mktemp -d)
sink=""
trap '[ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT
# Built as releases are: static, CGO off (see .goreleaser.yaml).
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sinkuser=()
[ "$(id -u)" = 0 ] && sinkuser=(-u nobody)
smtp-sink "${sinkuser[@]}" 127.0.0.1:"$port" 256 &
sink=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

# The rows and a template whose message is about SIZE octets.
python3 - "$N" "$SIZE" "$BIG" "$work" <<'PY'
import sys
n, size, big, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(f"{work}/rows.csv", "w") as f:
    f.write("to,n\n")
    for i in range(1, n + 1):
        f.write(f"b{i}@example.com,{i}\n")
head = "From: a@example.com\nTo: {{.to}}\nSubject: bench {{.n}}\nDate: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <{{.n}}@example.com>\n\n"
line = "x" * 75 + "\n"
with open(f"{work}/msg.tmpl", "w") as f:
    f.write(head + line * max(1, (size - len(head)) // len(line)))
with open(f"{work}/big.csv", "w") as f:
    f.write("to,n\n")
    for i in range(1, big + 1):
        f.write(f"b{i}@example.com,{i}\n")
PY

now() { date +%s.%N; }
rate() { awk -v n="$N" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / (b - a) }'; }
per=$(( (N + SESSIONS - 1) / SESSIONS ))

t0=$(now)
smtp-source -d -s "$SESSIONS" -m "$N" -l "$SIZE" -f a@example.com -t b@example.com 127.0.0.1:"$port"
t1=$(now)
source_rate=$(rate "$t0" "$t1")

t0=$(now)
"$work/smtpkit" send --batch "$work/rows.csv" --template "$work/msg.tmpl" --server 127.0.0.1:"$port" --tls none \
  --from a@example.com --concurrency "$SESSIONS" --per-connection "$per" --results "$work/results.jsonl" -q
t1=$(now)
batch_rate=$(rate "$t0" "$t1")
sent=$(grep -c '"status":"sent"' "$work/results.jsonl" || true)
[ "$sent" = "$N" ] || { echo "bench: send --batch sent $sent of $N" >&2; exit 1; }

# The same with --state: each row's journal line is synced before its end
# of data (one fsync shared by the sessions waiting at that moment).
t0=$(now)
"$work/smtpkit" send --batch "$work/rows.csv" --template "$work/msg.tmpl" --server 127.0.0.1:"$port" --tls none \
  --from a@example.com --concurrency "$SESSIONS" --per-connection "$per" --results "$work/results2.jsonl" -q --state "$work/state"
t1=$(now)
state_rate=$(rate "$t0" "$t1")
sent=$(grep -c '"status":"sent"' "$work/results2.jsonl" || true)
[ "$sent" = "$N" ] || { echo "bench: send --batch --state sent $sent of $N" >&2; exit 1; }

/usr/bin/time -f '%M' -o "$work/rss" "$work/smtpkit" send --batch "$work/big.csv" --template "$work/msg.tmpl" \
  --server 127.0.0.1:"$port" --tls none --from a@example.com --check -q > /dev/null
rss=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/rss")

echo "messages: $N of ~$SIZE octets, $SESSIONS sessions, $per per session"
echo "smtp-source:        $source_rate msg/s"
echo "smtpkit send --batch: $batch_rate msg/s"
awk -v a="$batch_rate" -v b="$source_rate" 'BEGIN { printf "ratio smtpkit/smtp-source: %.2fx\n", a / b }'
echo "smtpkit send --batch --state: $state_rate msg/s"
awk -v a="$state_rate" -v b="$source_rate" 'BEGIN { printf "ratio smtpkit --state/smtp-source: %.2fx\n", a / b }'
echo "send --batch --check over $BIG rows: peak RSS $rss MiB"
