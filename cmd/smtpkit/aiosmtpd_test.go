package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
)

// aiosmtpd: start scripts/interop/aiosmtpd_server.py (STARTTLS required,
// AUTH PLAIN and LOGIN for alice / s3cret only after TLS) and set
// $AIOSMTPD (host:port), $AIOCA (its certificate, for --ca-file; it
// covers localhost and 127.0.0.1) and $AIOSPOOL (where it saves msg-N.env
// and msg-N.eml for each message).
func cmdAiosmtpd(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "aiosmtpd")
	if len(args) != 0 {
		ts.Fatalf("usage: aiosmtpd")
	}
	srv, err := startAiosmtpd(scriptHarness(ts))
	if err != nil {
		ts.Fatalf("aiosmtpd: %v", err)
	}
	ts.Setenv("AIOSMTPD", srv.addr)
	ts.Setenv("AIOCA", srv.caFile)
	ts.Setenv("AIOSPOOL", srv.spool)
}

type aiosmtpdServer struct {
	addr, caFile, spool string
}

func startAiosmtpd(h harness) (*aiosmtpdServer, error) {
	python, err := findPeer("aiosmtpd")
	if err != nil {
		return nil, err
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "interop", "aiosmtpd_server.py")
	if _, err := os.Stat(script); err != nil {
		return nil, err
	}
	base := filepath.Join(h.dir, "aiosmtpd")
	spool := filepath.Join(base, "spool")
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return nil, err
	}
	certFile, keyFile, err := writeCert(base, "localhost", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	var pipeR *os.File
	addr, _, err := startPeer(h, "aiosmtpd",
		func(port int) (*exec.Cmd, error) {
			cmd := exec.Command(python, script,
				"--port", fmt.Sprint(port), "--cert", certFile, "--key", keyFile, "--spool", spool)
			cmd.Dir = base
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
			// The server exits when its stdin reaches end of file: give
			// it a pipe only this process holds, so it cannot outlive
			// the test binary even if cleanup never runs.
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			cmd.Stdin, pipeR = r, r
			h.cleanup(func() { w.Close() })
			return cmd, nil
		},
		func(p *proc, addr string) error {
			pipeR.Close() // the child has its own copy
			// The server prints READY once the controller listens.
			if err := poll(func() (bool, error) {
				if p.exited() {
					return false, fmt.Errorf("exited (%v): %s", p.err, p.logTail())
				}
				b, _ := os.ReadFile(p.log)
				return bytes.Contains(b, []byte("READY ")), nil
			}); err != nil {
				return err
			}
			return waitListening(p, addr)
		}, nil, "")
	if err != nil {
		return nil, err
	}
	return &aiosmtpdServer{addr: addr, caFile: certFile, spool: spool}, nil
}
