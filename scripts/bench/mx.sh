#!/usr/bin/env bash
# scripts/bench/mx.sh: bulk `smtpkit mx` against dnsmasq on loopback, with
# dig and a miekg/dns ceiling in the same run. N synthetic domains (each
# with an MX whose host has A and AAAA) are served by one dnsmasq; three
# interleaved rounds of
#   smtpkit mx --file (MX + A + AAAA per domain, TSV to /dev/null),
#   dig -f over the same 3N queries,
#   scripts/bench/dnsceiling: 50 workers, one UDP socket each, tight loop;
# then a shell loop of one dig per query (SAMPLE queries, extrapolated),
# and BIG domains from stdin (implicit MX from a wildcard: MX, A and AAAA
# each) with peak RSS from GNU time. Prints domains/s, queries/s and the
# ratios (medians of the rounds).
# Usage: scripts/bench/mx.sh [N=10000] [BIG=1000000] [SAMPLE=200]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
BIG=${2:-1000000}
SAMPLE=${3:-200}
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
for t in "$DNSMASQ" dig /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing (apt-get install dnsmasq-base bind9-dnsutils time)" >&2; exit 1; }
done
work=$(mktemp -d)
dm=""
trap '[ -n "$dm" ] && kill "$dm" 2>/dev/null; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit
CGO_ENABLED=0 go build -trimpath -o "$work/dnsceiling" ./scripts/bench/dnsceiling

# The zone: dN.bench.test MX 10 mx.dN.bench.test, with A and AAAA; a
# wildcard big.test for the million (every name has A and AAAA, no MX).
python3 - "$N" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/dnsmasq.conf", "w") as c, open(f"{work}/hosts", "w") as h, open(f"{work}/domains.txt", "w") as d, open(f"{work}/queries.txt", "w") as q:
    c.write("local=/bench.test/\nlocal=/big.test/\nlocal-ttl=300\naddress=/big.test/192.0.2.1\naddress=/big.test/2001:db8::1\n")
    c.write(f"addn-hosts={work}/hosts\n")
    for i in range(1, n + 1):
        dom = f"d{i}.bench.test"
        # MX records are a list in dnsmasq; addresses from a hosts file
        # are hashed, as in its cache.
        c.write(f"mx-host={dom},mx.{dom},10\n")
        h.write(f"10.{i>>16 & 255}.{i>>8 & 255}.{i & 255} mx.{dom}\nfd00::{i:x} mx.{dom}\n")
        d.write(dom + "\n")
        q.write(f"{dom} MX\nmx.{dom} A\nmx.{dom} AAAA\n")
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DNSMASQ" --keep-in-foreground --port="$port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
  --no-hosts --no-poll --pid-file= --user="$(id -un)" --log-facility="$work/dnsmasq.log" \
  --dns-forward-max=1000 --conf-file="$work/dnsmasq.conf" &
dm=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

run_smtpkit() {
  local t0 t1 lines
  t0=$(now)
  "$work/smtpkit" --resolver 127.0.0.1:"$port" mx --file "$work/domains.txt" > "$work/smtpkit.out"
  t1=$(now)
  lines=$(grep -c $'\tmx\t10\tmx\.' "$work/smtpkit.out" || true)
  [ "$lines" = "$N" ] || { echo "bench: smtpkit answered $lines of $N domains" >&2; exit 1; }
  secs "$t0" "$t1"
}
run_digf() {
  local t0 t1 lines
  t0=$(now)
  dig @127.0.0.1 -p "$port" +short +tries=2 -f "$work/queries.txt" > "$work/dig.out"
  t1=$(now)
  lines=$(wc -l < "$work/dig.out")
  [ "$lines" = $((3 * N)) ] || { echo "bench: dig -f answered $lines of $((3 * N)) queries" >&2; exit 1; }
  secs "$t0" "$t1"
}
run_ceiling() {
  "$work/dnsceiling" -server 127.0.0.1:"$port" -workers 50 "$work/domains.txt" > "$work/ceiling.out"
  grep -q ' failed 0 ' "$work/ceiling.out" || { echo "bench: ceiling: $(cat "$work/ceiling.out")" >&2; exit 1; }
  awk '{ print $10 }' "$work/ceiling.out"
}

run_smtpkit >/dev/null # warm up dnsmasq and the page cache
sk=(); df=(); ce=()
for r in 1 2 3; do
  sk+=("$(run_smtpkit)")
  df+=("$(run_digf)")
  ce+=("$(run_ceiling)")
done

# One dig process per query, SAMPLE queries.
head -n "$SAMPLE" "$work/queries.txt" > "$work/sample.txt"
t0=$(now)
while read -r name type; do dig @127.0.0.1 -p "$port" +short "$name" "$type" > /dev/null; done < "$work/sample.txt"
t1=$(now)
loop=$(secs "$t0" "$t1")

# BIG domains from stdin, streamed; peak RSS from GNU time.
t0=$(now)
python3 -c "
import sys
w = sys.stdout.write
for i in range(1, $BIG + 1): w(f'x{i}.big.test\n')
" | /usr/bin/time -v "$work/smtpkit" --resolver 127.0.0.1:"$port" mx --file - 2> "$work/big.time" > "$work/big.out" || true
t1=$(now)
big=$(secs "$t0" "$t1")
bigrss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/big.time")
bigok=$(grep -c $'\timplicit-mx\t' "$work/big.out" || true)

sks=$(median "${sk[@]}"); dfs=$(median "${df[@]}"); ces=$(median "${ce[@]}")
awk -v n="$N" -v sk="$sks" -v df="$dfs" -v ce="$ces" -v loop="$loop" -v sample="$SAMPLE" \
    -v big="$BIG" -v bigs="$big" -v rss="$bigrss" -v bigok="$bigok" \
    -v skr="${sk[*]}" -v dfr="${df[*]}" -v cer="${ce[*]}" 'BEGIN {
  skd = n / sk; dfd = n / df; loopq = sample / loop; cq = ce
  printf "mx: %d domains (MX + A + AAAA each, %d queries) from dnsmasq on loopback, median of 3 rounds\n", n, 3 * n
  printf "%-34s %12s %12s\n", "tool", "domains/s", "queries/s"
  printf "%-34s %12.0f %12.0f   (rounds: %s s)\n", "smtpkit mx --file (concurrency 50)", skd, 3 * skd, skr
  printf "%-34s %12.0f %12.0f   (rounds: %s s)\n", "dig -f", dfd, 3 * dfd, dfr
  printf "%-34s %12.1f %12.1f   (%d queries in %.1f s, extrapolated)\n", "dig, one process per query", loopq / 3, loopq, sample, loop
  printf "%-34s %12.0f %12.0f   (rounds: %s q/s)\n", "miekg/dns ceiling, 50 workers", cq / 3, cq, cer
  printf "ratios: smtpkit / dig -f = %.1fx (target >= 3x); smtpkit / ceiling = %.2fx queries/s (target >= 0.7x); smtpkit / dig loop = %.0fx\n", skd / dfd, 3 * skd / cq, skd / (loopq / 3)
  printf "%d domains from stdin: %.1f s (%.0f domains/s), %d implicit MX answers, peak RSS %s MiB (target < 100)\n", big, bigs, big / bigs, bigok, rss
}'
