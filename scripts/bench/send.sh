#!/usr/bin/env bash
# scripts/bench/send.sh: one message per process to Postfix's smtp-sink on
# loopback, with smtpkit, swaks and msmtp in the same run. Prints the median
# wall time per message, peak RSS and the ratios, then the RSS of sending a
# 100 MiB --data file. Usage: scripts/bench/send.sh [N=50]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-50}
for t in smtp-sink swaks msmtp; do
  command -v "$t" >/dev/null || { echo "bench: $t is not installed (apt-get install postfix swaks msmtp)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill $sink 2>/dev/null || true; rm -rf "$work"' EXIT
# Built as releases are: static, CGO off (see .goreleaser.yaml).
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)
sinkuser=()
[ "$(id -u)" = 0 ] && sinkuser=(-u nobody)
smtp-sink "${sinkuser[@]}" 127.0.0.1:"$port" 256 &
sink=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

printf 'From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\n\r\nhello\r\n' > "$work/msg.eml"
python3 - "$work/big.eml" <<'PY'
import os, sys
line = (os.urandom(57).hex()[:76] + "\r\n").encode()
with open(sys.argv[1], "wb") as f:
    f.write(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n")
    for _ in range(100 * 1024 * 1024 // len(line)):
        f.write(line)
PY

python3 scripts/bench/run.py "$N" "$port" "$work"
