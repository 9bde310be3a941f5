#!/usr/bin/env python3
"""go test -json events, for scripts/check.sh and scripts/interop/matrix.sh.

  gotestjson.py text < events
      Print what plain `go test` would: each package's result line, and
      the output of the tests that failed (all of it, subtests included).
      Lines that are not JSON (a build failure) pass through.

  gotestjson.py results FILE...
      Print one "STATUS TEST" line per test that finished (STATUS pass, fail
      or skip), TEST as go test names it (TestScripts/interop_postfix).
      A test that ran in several packages or files counts its worst status.
"""
import json
import sys


def events(lines):
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            yield None, line
            continue
        if isinstance(ev, dict):
            yield ev, line
        else:
            yield None, line


def text(stream):
    buffered = {}
    for ev, raw in events(stream):
        if ev is None:
            sys.stdout.write(raw)
            continue
        test = ev.get("Test")
        action = ev.get("Action")
        key = (ev.get("Package", ""), test)
        if action == "build-output":
            sys.stdout.write(ev.get("Output", ""))
        elif action == "output":
            out = ev.get("Output", "")
            if test:
                buffered.setdefault(key, []).append(out)
            elif out.strip() not in ("PASS", "FAIL") and not out.startswith("=== "):
                sys.stdout.write(out)
        elif action in ("pass", "skip") and test:
            buffered.pop(key, None)
        elif action == "fail" and test:
            sys.stdout.write("".join(buffered.pop(key, [])))
        sys.stdout.flush()


RANK = {"pass": 0, "skip": 1, "fail": 2}


def results(paths):
    worst = {}
    for path in paths:
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except OSError:
            continue
        with f:
            for ev, _ in events(f):
                if not ev or not ev.get("Test") or ev.get("Action") not in RANK:
                    continue
                name, action = ev["Test"], ev["Action"]
                if RANK[action] >= RANK.get(worst.get(name), -1):
                    worst[name] = action
    for name in sorted(worst):
        print(worst[name], name)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "text":
        text(sys.stdin)
    elif len(sys.argv) >= 2 and sys.argv[1] == "results":
        results(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
