#!/usr/bin/python3
"""A throwaway aiosmtpd server for smtpkit's interop tests.

It listens on 127.0.0.1:PORT with STARTTLS required before anything else
(require_starttls) and before AUTH (auth_require_tls), accepts the user
alice with the password s3cret over PLAIN and LOGIN, and saves every
message it accepts into --spool as two files written atomically:

  msg-N.env  the envelope, one "key: value" line each (mail_from, rcpt_to,
             auth_user, auth_mechanism, tls)
  msg-N.eml  the content exactly as received (CRLF line ends, dots
             unstuffed)

When it is listening it prints "READY PORT" on stdout. It stops on SIGTERM
or SIGINT, when its standard input reaches end of file (the test that
started it has gone), or after --max-seconds as a last resort, so it can
never outlive the test run.

Run it with Debian's /usr/bin/python3, which has python3-aiosmtpd.
"""

import argparse
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = b"alice"
PASSWORD = b"s3cret"


class Saver:
    """Handler that writes each message into the spool directory."""

    def __init__(self, spool):
        self.spool = spool
        self.count = 0
        self.lock = threading.Lock()

    def _write(self, name, data):
        tmp = os.path.join(self.spool, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.spool, name))

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        user = getattr(session, "smtpkit_user", b"") or b""
        mech = getattr(session, "smtpkit_mechanism", "") or ""
        lines = ["mail_from: %s" % envelope.mail_from]
        lines += ["rcpt_to: %s" % r for r in envelope.rcpt_tos]
        lines.append("auth_user: %s" % user.decode("utf-8", "replace"))
        lines.append("auth_mechanism: %s" % mech)
        lines.append("tls: %s" % ("yes" if session.ssl is not None else "no"))
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        # The content first, so a reader that sees msg-N.env sees both.
        self._write("msg-%d.eml" % n, content)
        self._write("msg-%d.env" % n, ("\n".join(lines) + "\n").encode("utf-8"))
        return "250 2.0.0 Ok: queued as AIO%d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    if auth_data.login == USER and auth_data.password == PASSWORD:
        session.smtpkit_user = auth_data.login
        session.smtpkit_mechanism = mechanism
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--max-seconds", type=float, default=900)
    args = ap.parse_args()

    os.makedirs(args.spool, exist_ok=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)

    controller = Controller(
        Saver(args.spool),
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="localhost",
        tls_context=ctx,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=authenticator,
        ready_timeout=30,
    )
    controller.start()

    done = threading.Event()

    def stop(*_):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    print("READY %d" % args.port, flush=True)
    done.wait(args.max_seconds)
    controller.stop()


if __name__ == "__main__":
    main()
