#!/usr/bin/env bash
# scripts/bench/probe.sh: probing one STARTTLS server on loopback, in one run.
# A throwaway Postfix smtpd (RSA certificate, opportunistic STARTTLS) is
# probed by `smtpkit probe` and by posttls-finger (median of N runs each),
# then audited by `smtpkit probe --audit` and by `testssl -t smtp` (one run
# each: testssl takes minutes). Prints wall times and ratios.
# Usage: scripts/bench/probe.sh [N=20]   (root: Postfix must own its queue)
#        AUDIT=0 skips the audit comparison (testssl takes minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib/postfix.sh
. scripts/bench/lib/postfix.sh  # and lib/net.sh: freeport, waitport
N=${1:-20}
for t in postfix posttls-finger testssl openssl python3; do
  command -v "$t" >/dev/null || { echo "bench: $t is not installed (apt-get install postfix testssl.sh openssl)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root (a throwaway Postfix needs it)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/smtpkit-probe-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  postfix_stop
  rm -rf "$work"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/smtpkit" ./cmd/smtpkit

port=$(freeport)
pf=$work/pf
postfix_init "$pf"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$pf/conf/key.pem" -out "$pf/conf/cert.pem" >/dev/null 2>&1
# The services smtpd talks to, tlsmgr for STARTTLS; the probes send no
# mail, so no delivery agents.
printf '%s\n' "cleanup unix n - n - 0 cleanup" "qmgr unix n - n 300 1 qmgr" "tlsmgr unix - - n 1000? 1 tlsmgr" \
  "rewrite unix - - n - - trivial-rewrite" "bounce unix - - n - 0 bounce" "defer unix - - n - 0 bounce" \
  "trace unix - - n - 0 bounce" "verify unix - - n - 1 verify" "proxymap unix - - n - - proxymap" \
  "error unix - - n - - error" "anvil unix - - n - 1 anvil" "scache unix - - n - 1 scache" \
  "postlog unix-dgram n - n - 1 postlogd" |
  postfix_master_cf "$port" -o smtpd_tls_security_level=may -o smtpd_tls_cert_file="$pf/conf/cert.pem" -o smtpd_tls_key_file="$pf/conf/key.pem"
postfix_start "$port"

# posttls-finger reads main.cf: point it at the throwaway instance's.
export MAIL_CONFIG=$pf/conf
python3 - "$N" "$work" "$port" <<'PY'
import statistics, subprocess, sys, time
n, work, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kit = f"{work}/smtpkit"
def wall(argv, ok=(0, 1)):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode not in ok:
        sys.exit(f"bench: {argv[0]} exited {p.returncode}: {p.stderr.decode()[:300]}")
    return dt, p.stdout.decode()
def median(argv, k):
    wall(argv)  # warm up
    return statistics.median(wall(argv)[0] for _ in range(k))
target = f"127.0.0.1:{port}"
def median0(argv, k):
    wall(argv, ok=(0,))
    return statistics.median(wall(argv, ok=(0,))[0] for _ in range(k))
ptf = median0(["posttls-finger", "-c", "-l", "may", f"[127.0.0.1]:{port}"], n)
kitp = median([kit, "probe", target, "-q"], n)
kitq = median([kit, "probe", target, "--quick", "-q"], n)
print(f"plain probe, median of {n}:")
print(f"  posttls-finger           {ptf*1000:8.1f} ms")
print(f"  smtpkit probe            {kitp*1000:8.1f} ms   ratio smtpkit/posttls-finger = {kitp/ptf:.2f}x (target <= 1.5x)")
print(f"  smtpkit probe --quick    {kitq*1000:8.1f} ms   ratio = {kitq/ptf:.2f}x")
import os
if os.environ.get("AUDIT") == "0":
    sys.exit(0)
audit = statistics.median(wall([kit, "probe", target, "--audit", "-q"])[0] for _ in range(3))
print(f"audit:")
print(f"  smtpkit probe --audit    {audit:8.2f} s (median of 3)")
t, _ = wall(["testssl", "--quiet", "--color", "0", "-t", "smtp", target], ok=tuple(range(0, 256)))
print(f"  testssl -t smtp          {t:8.2f} s")
print(f"  ratio testssl/smtpkit = {t/audit:.0f}x (target >= 50x)")
PY
