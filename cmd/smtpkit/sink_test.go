package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// sink [SMTP-SINK OPTIONS]: start Postfix's smtp-sink on a free loopback
// port with the given options (see smtp-sink(1): -r/-f reject commands
// with 4xx/5xx, -b/-B set those replies, -q/-Q disconnect, -d/-D dump
// messages) and set $SINK to its address. The directories of -d and -D
// templates are created, writable by the unprivileged user smtp-sink runs
// as (-u nobody is added when running as root).
func cmdSink(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "sink")
	path, err := findPeer("smtp-sink")
	if err != nil {
		ts.Fatalf("sink: smtp-sink cannot run: %v", err)
	}
	h := scriptHarness(ts)
	opts := append([]string(nil), args...)
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case "-u", "-R":
			ts.Fatalf("sink: %s is set by the sink command", opts[i])
		case "-d", "-D":
			if i+1 >= len(opts) {
				ts.Fatalf("sink: %s needs a dump template", opts[i])
			}
			tmpl := ts.MkAbs(opts[i+1])
			dir := filepath.Dir(tmpl)
			ts.Check(os.MkdirAll(dir, 0o777))
			ts.Check(os.Chmod(dir, 0o777))
			ts.Check(checkTraversable(dir))
			opts[i+1] = tmpl
			i++
		}
	}
	if os.Geteuid() == 0 {
		opts = append([]string{"-u", "nobody"}, opts...)
	}
	addr, _, err := startPeer(h, "smtp-sink",
		func(port int) (*exec.Cmd, error) {
			argv := append(append([]string(nil), opts...), fmt.Sprintf("127.0.0.1:%d", port), "64")
			cmd := exec.Command(path, argv...)
			cmd.Dir = h.dir
			return cmd, nil
		},
		waitListening, nil, "")
	if err != nil {
		ts.Fatalf("sink: %v", err)
	}
	ts.Setenv("SINK", addr)
}

// sink-message DUMP OUT: the message in an smtp-sink dump file (or in the
// one file of a dump directory), without the X-Client-*, X-Helo-Args,
// X-Mail-Args, X-Rcpt-Args and Received: lines smtp-sink puts first and
// the empty line it adds last.
func cmdSinkMessage(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "sink-message")
	if len(args) != 2 {
		ts.Fatalf("usage: sink-message dumpfile|dumpdir out")
	}
	src := ts.MkAbs(args[0])
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		ents, err := os.ReadDir(src)
		ts.Check(err)
		var files []string
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, e.Name())
			}
		}
		if len(files) != 1 {
			ts.Fatalf("sink-message: %s holds %d files, want 1: %v", args[0], len(files), files)
		}
		src = filepath.Join(src, files[0])
	}
	b, err := os.ReadFile(src)
	ts.Check(err)
	msg, err := stripSinkHeaders(b)
	if err != nil {
		ts.Fatalf("sink-message %s: %v", args[0], err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), msg, 0o644))
}

func stripSinkHeaders(b []byte) ([]byte, error) {
	// The three-line Received: header ends smtp-sink's own lines.
	i := bytes.Index(b, []byte("\nReceived: from "))
	if i < 0 && !bytes.HasPrefix(b, []byte("Received: from ")) {
		return nil, errors.New("no smtp-sink Received: header")
	}
	rest := b[i+1:]
	// Skip "Received: ..." and its continuation lines.
	for first := true; ; first = false {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, errors.New("dump ends inside smtp-sink's headers")
		}
		if !first && !strings.HasPrefix(string(rest[:nl]), "\t") && !strings.HasPrefix(string(rest[:nl]), " ") {
			break
		}
		rest = rest[nl+1:]
	}
	msg, ok := bytes.CutSuffix(rest, []byte("\n"))
	if !ok {
		return nil, errors.New("dump does not end with the empty line smtp-sink adds")
	}
	return msg, nil
}
