"""Driver for scripts/bench/send.sh: runs each client N times, one process per
message, and reports median wall time, peak RSS (from wait4) and ratios."""
import os, statistics, subprocess, sys, time

n, port, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server = f"127.0.0.1:{port}"
msg = os.path.join(work, "msg.eml")
clients = {
    "smtpkit": ([os.path.join(work, "smtpkit"), "send", "--server", server, "--tls", "none",
                 "--from", "a@example.com", "--to", "b@example.com", "-q"], None),
    "swaks": (["swaks", "--server", server, "--from", "a@example.com", "--to", "b@example.com",
               "--silent", "2", "--data", msg], None),
    "msmtp": (["msmtp", "--host=127.0.0.1", f"--port={port}", "--from=a@example.com",
               "--auth=off", "--tls=off", "b@example.com"], msg),
}

def run(argv, stdin_path, rss=False):
    """Runs argv once; returns wall seconds and, with rss, the peak RSS in
    MiB measured by GNU time (wait4's ru_maxrss would include the forked
    Python before exec)."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    if rss:
        argv = ["/usr/bin/time", "-f", "RSS %M"] + argv
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if stdin_path:
        stdin.close()
    if p.returncode != 0:
        sys.exit(f"bench: {argv[0]} exited {p.returncode}: {p.stderr.decode()[:300]}")
    peak = 0.0
    if rss:
        for line in p.stderr.decode().splitlines():
            if line.startswith("RSS "):
                peak = int(line[4:]) / 1024.0
    return dt, peak

results = {}
for name, (argv, stdin_path) in clients.items():
    run(argv, stdin_path)  # warm the page cache
    times = [run(argv, stdin_path)[0] for _ in range(n)]
    rss = max(run(argv, stdin_path, rss=True)[1] for _ in range(5))
    results[name] = (statistics.median(times), rss)

print(f"send: {n} messages, one process each, to smtp-sink on loopback")
print(f"{'client':8} {'median ms/msg':>14} {'peak RSS MiB':>13}")
for name, (med, rss) in results.items():
    print(f"{name:8} {med*1000:14.1f} {rss:13.1f}")
k = results["smtpkit"][0]
print(f"ratio: swaks/smtpkit = {results['swaks'][0]/k:.1f}x, msmtp/smtpkit = {results['msmtp'][0]/k:.1f}x")

big = os.path.join(work, "big.eml")
dt, rss = run([os.path.join(work, "smtpkit"), "send", "--server", server, "--tls", "none",
               "--from", "a@example.com", "--to", "b@example.com", "--data", "@" + big, "-q"], None, rss=True)
print(f"smtpkit --data 100 MiB: {dt:.2f} s, peak RSS {rss:.1f} MiB")
