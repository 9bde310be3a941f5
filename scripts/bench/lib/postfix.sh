# scripts/bench/lib/postfix.sh: a throwaway Postfix instance on loopback for
# the bench scripts (it sources net.sh too). Source it, then:
#
#   postfix_init DIR            lay out DIR (conf/ queue/ data/), write main.cf
#   cat >> DIR/conf/main.cf     add the caller's own settings
#   postfix_services | postfix_master_cf PORT [SMTPD_ARG...]
#                               master.cf: smtpd on 127.0.0.1:PORT, then the
#                               services read from stdin
#   postfix_start PORT          start it; return once PORT takes connections
#   postfix_stop                stop it (safe to call from an EXIT trap, twice,
#                               or before postfix_init)
#
# Postfix must own its queue and data directories: run as root. The log is
# DIR/maillog.

# shellcheck source=scripts/bench/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

postfix_dir=

# postfix_init DIR: the directories of an instance in DIR and its main.cf:
# listening on 127.0.0.1 only, delivering nothing locally, relaying for
# nobody (127.0.0.0/8 is mynetworks), logging to DIR/maillog.
postfix_init() {
  postfix_dir=$1
  mkdir -p "$postfix_dir/conf" "$postfix_dir/queue" "$postfix_dir/data"
  chown postfix "$postfix_dir/data"
  cat > "$postfix_dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $postfix_dir/queue
data_directory = $postfix_dir/data
meta_directory = /etc/postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = $postfix_dir/maillog
smtpd_relay_restrictions = reject_unauth_destination
CF
}

# postfix_services prints Postfix's own services, as master.cf lines: those
# of the distribution's master.cf.dist from pickup on, or a built-in list
# where it ships none.
postfix_services() {
  local dist
  dist=$(sed -n '/^pickup/,$p' /usr/share/postfix/master.cf.dist 2>/dev/null) || true
  if [ -n "$dist" ]; then
    printf '%s\n' "$dist"
    return
  fi
  printf '%s\n' "pickup unix n - n 60 1 pickup" "cleanup unix n - n - 0 cleanup" "qmgr unix n - n 300 1 qmgr" \
    "rewrite unix - - n - - trivial-rewrite" "bounce unix - - n - 0 bounce" "defer unix - - n - 0 bounce" \
    "trace unix - - n - 0 bounce" "verify unix - - n - 1 verify" "flush unix n - n 1000? 0 flush" \
    "proxymap unix - - n - - proxymap" "smtp unix - - n - - smtp" "relay unix - - n - - smtp" \
    "showq unix n - n - - showq" "error unix - - n - - error" "retry unix - - n - - error" \
    "discard unix - - n - - discard" "local unix - n n - - local" "virtual unix - n n - - virtual" \
    "lmtp unix - - n - - lmtp" "anvil unix - - n - 1 anvil" "scache unix - - n - 1 scache" \
    "postlog unix-dgram n - n - 1 postlogd"
}

# postfix_master_cf PORT [SMTPD_ARG...]: write master.cf: smtpd listening
# on 127.0.0.1:PORT, with SMTPD_ARGs (-o name=value) after it, then the
# service lines read from stdin.
postfix_master_cf() {
  local port=$1; shift
  {
    printf '%s' "127.0.0.1:$port inet n - n - - smtpd"
    [ $# -eq 0 ] || printf ' %s' "$@"
    echo
    cat
  } > "$postfix_dir/conf/master.cf"
}

# postfix_start PORT: start the instance and wait (10 s at most) until PORT
# takes connections. A `postfix start` that fails is tried once more under
# script(1), with a terminal.
postfix_start() {
  postfix -c "$postfix_dir/conf" start >/dev/null 2>&1 ||
    script -qec "postfix -c $postfix_dir/conf start" /dev/null >/dev/null
  waitport "$1" && return 0
  echo "bench: Postfix never listened on port $1 (log: $postfix_dir/maillog)" >&2
  return 1
}

# postfix_stop: stop the instance, if one was set up; never fails.
postfix_stop() {
  if [ -n "$postfix_dir" ] && [ -f "$postfix_dir/conf/main.cf" ]; then
    postfix -c "$postfix_dir/conf" stop >/dev/null 2>&1 || true
  fi
}
