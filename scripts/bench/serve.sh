#!/usr/bin/env bash
# scripts/bench/serve.sh: receiving throughput on loopback, in one run.
# smtp-source (20 sessions, N messages of 2 KB) into: smtpkit serve (durable
# maildir), a throwaway Postfix delivering to maildir, smtp-sink, and
# `smtpkit serve --sink`; plus the raw durable-write limit of the disk
# (write + fsync + link + directory fsync, 20 writers). Then memory: RSS of
# serve receiving a 100 MiB message, and holding 1,000 idle connections.
# Usage: scripts/bench/serve.sh [N=10000]   (run as root for Postfix)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib/postfix.sh
. scripts/bench/lib/postfix.sh  # and lib/net.sh: freeport, waitport
N=${1:-10000}
S=20
for t in smtp-source smtp-sink postfix python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is not installed (apt-get install postfix)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/smtpkit-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  postfix_stop
  rm -rf "$work"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit
go build -o "$work/durable" ./scripts/bench/durable

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$N/($2-$1):.0f}')"; }
source_run() { smtp-source -s $S -m "$N" -l 2048 -f a@example.com -t b@example.com 127.0.0.1:"$1"; }
count_new() { find "$1" -path '*/new/*' -type f | wc -l; }

declare -A R
# The disk and the two cores are noisy: every receiver but Postfix runs
# ROUNDS times, interleaved, and the median counts.
ROUNDS=${ROUNDS:-3}
median() { python3 -c "import statistics,sys; print(round(statistics.median(map(float, sys.argv[1:]))))" "$@"; }

p_sink=$(freeport); sinkuser=(); [ "$(id -u)" = 0 ] && sinkuser=(-u nobody)
smtp-sink "${sinkuser[@]}" 127.0.0.1:"$p_sink" 256 & pids+=($!)
p_kitsink=$(freeport)
"$work/smtpkit" serve --sink --listen 127.0.0.1:"$p_kitsink" -q & pids+=($!)
p_kit=$(freeport)
"$work/smtpkit" serve --listen 127.0.0.1:"$p_kit" --maildir "$work/kit" -q & pids+=($!)
for p in $p_sink $p_kitsink $p_kit; do waitport "$p"; done

raw=(); sink=(); kitsink=(); kit=()
for r in $(seq "$ROUNDS"); do
  # -keep: deleting thousands of files frees inodes that ext4's allocator
  # then has to step around (recently_deleted), which would slow whichever
  # receiver runs next; everything is removed at the end instead.
  raw+=("$("$work/durable" -dir "$work/raw$r" -writers $S -n "$N" -size 2048 -keep | sed -n 's/.* \([0-9.]*\) files\/s.*/\1/p')")
  t0=$(now); source_run "$p_sink"; t1=$(now); sink+=("$(rate "$t0" "$t1")")
  t0=$(now); source_run "$p_kitsink"; t1=$(now); kitsink+=("$(rate "$t0" "$t1")")
  t0=$(now); source_run "$p_kit"; t1=$(now); kit+=("$(rate "$t0" "$t1")")
  got=$(count_new "$work/kit")
  [ "$got" = "$((N*r))" ] || { echo "bench: serve stored $got of $((N*r)) messages" >&2; exit 1; }
done
echo "rounds: raw ${raw[*]} | smtp-sink ${sink[*]} | serve --sink ${kitsink[*]} | serve ${kit[*]}"
R[raw]=$(median "${raw[@]}"); R[sink]=$(median "${sink[@]}"); R[kitsink]=$(median "${kitsink[@]}"); R[kit]=$(median "${kit[@]}")

# 5. a throwaway Postfix delivering to maildir (timed until all N are in new/)
if [ "$(id -u)" = 0 ]; then
  pf=$work/pf
  postfix_init "$pf"
  mkdir -p "$pf/mail"; chown nobody:nogroup "$pf/mail"
  p=$(freeport)
  nuid=$(id -u nobody); ngid=$(getent group nogroup | cut -d: -f3)
  cat >> "$pf/conf/main.cf" <<CF
maillog_file_prefixes = $pf
virtual_mailbox_domains = example.com
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = texthash:$pf/conf/vmailbox
virtual_uid_maps = static:$nuid
virtual_gid_maps = static:$ngid
default_transport = error:no relaying
CF
  echo "b@example.com b/" > "$pf/conf/vmailbox"
  postfix_services | postfix_master_cf "$p"
  postfix_start "$p"
  t0=$(now); source_run "$p"
  for _ in $(seq 6000); do [ "$(count_new "$pf/mail")" -ge "$N" ] && break; sleep 0.05; done
  t1=$(now)
  got=$(count_new "$pf/mail")
  [ "$got" -ge "$N" ] || { echo "bench: Postfix delivered $got of $N" >&2; tail -5 "$pf/maillog" >&2; exit 1; }
  R[postfix]=$(rate "$t0" "$t1")
  postfix_stop
else
  R[postfix]=0
fi

echo "serve: smtp-source, $S sessions, $N messages of 2 KB, loopback"
printf '%-28s %12s\n' "receiver" "messages/s"
printf '%-28s %12s\n' "smtpkit serve (maildir)" "${R[kit]}" "Postfix (maildir)" "${R[postfix]}" \
  "raw durable writes" "${R[raw]}" "smtp-sink" "${R[sink]}" "smtpkit serve --sink" "${R[kitsink]}"
python3 - "${R[kit]}" "${R[postfix]}" "${R[raw]}" "${R[kitsink]}" "${R[sink]}" <<'PY'
import sys
kit, pf, raw, ksink, sink = map(float, sys.argv[1:])
print(f"ratio: serve/Postfix = {kit/pf:.1f}x" if pf else "ratio: serve/Postfix = n/a (needs root)")
print(f"ratio: serve/raw durable = {kit/raw:.2f}x")
print(f"ratio: serve --sink/smtp-sink = {ksink/sink:.2f}x")
PY

# Memory: a 100 MiB message, then 1,000 idle connections.
p=$(freeport)
"$work/smtpkit" serve --listen 127.0.0.1:"$p" --maildir "$work/big" --max-size 200M \
  --max-connections 2000 --max-per-ip 2000 -q & spid=$!; pids+=($spid); waitport "$p"
python3 - "$work/big.eml" <<'PY'
import os, sys
line = (os.urandom(57).hex()[:76] + "\r\n").encode()
with open(sys.argv[1], "wb") as f:
    f.write(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n")
    for _ in range(100 * 1024 * 1024 // len(line)):
        f.write(line)
PY
"$work/smtpkit" send --server 127.0.0.1:"$p" --tls none --from a@example.com --to b@example.com --data @"$work/big.eml" -q
big=$(awk '/VmHWM/{print $2}' /proc/$spid/status)
python3 - "$p" "$spid" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
for s in socks:
    s.recv(512)  # the greeting: every session is up
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"serve RSS with 1,000 idle connections: {int(rss)/1024:.1f} MiB")
for s in socks:
    s.close()
PY
echo "serve peak RSS receiving a 100 MiB message: $((big/1024)) MiB"
