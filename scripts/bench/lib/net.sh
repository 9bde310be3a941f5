# scripts/bench/lib/net.sh: loopback ports for the bench scripts. Source it.
#
#   freeport        print a TCP port free on 127.0.0.1 now
#   waitport PORT   return once 127.0.0.1:PORT takes connections (at most
#                   10 s; fails with a message otherwise)

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

waitport() {
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: port $1 never opened" >&2
  return 1
}
