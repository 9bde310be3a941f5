package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"
)

// Commands for the scripts that test `smtpkit serve` (testdata/script/serve_*.txtar):
//
//	serve [FLAGS]             start `smtpkit serve FLAGS` in the background
//	                          (the smtpkit on the script's PATH, which is this
//	                          test binary), on 127.0.0.1:0 unless FLAGS name a
//	                          --listen, --listen-tls or --lmtp, and wait for
//	                          its --ready-file. Sets $SERVE (the first SMTP
//	                          listener), $SERVE_TLS (implicit TLS), $SERVE_LMTP
//	                          (the first TCP LMTP listener), $SERVE_LMTP_UNIX
//	                          (the first unix one, as unix:/path), the ports
//	                          alone in $SERVE_PORT, $SERVE_TLS_PORT and
//	                          $SERVE_LMTP_PORT, $SERVE_PID
//	                          and, with --tls-self-signed, $SERVE_FP (the
//	                          certificate's SHA-256, lower-case hex, as send's
//	                          JSON shows it). Its stderr goes to serve.log in
//	                          the current directory, from the start (a file
//	                          wait-grep can watch). One serve runs at a time;
//	                          it is stopped (SIGTERM, then SIGKILL) when the
//	                          script ends.
//	serve-stop                SIGTERM, wait (bounded) for the exit, and fail
//	                          unless the status is 0. serve.log stays.
//	serve-wait                wait (bounded) for serve to exit by itself
//	                          (--max-messages), status 0.
//	htpasswd FILE USER PASS   append USER:bcrypt(PASS) to FILE
//	cert DIR NAME...          a self-signed certificate for the names
//	                          (DNS names or IP addresses): DIR/cert.pem,
//	                          which is also the CA file, and DIR/key.pem
//	maildir-message SRC OUT   the one message in SRC (a file, or a folder
//	                          such as md/new holding exactly one) checked to
//	                          start with serve's Return-Path, Delivered-To
//	                          and Received headers and to use CRLF line ends
//	                          only; written to OUT without those headers,
//	                          with LF line ends (so `cmp OUT sent.eml`)
//	maildir-check MAILDIR N   MAILDIR/new holds exactly N messages now (no
//	                          waiting: serve answers 250 only after the file
//	                          is there), each parseable by net/mail with the
//	                          three trace headers, CRLF line ends only, and a
//	                          ,S= size in its name equal to its size; and
//	                          MAILDIR/tmp is empty.
//
// Stdout-based checks see serve's log with `exec cat serve.log` then
// `stdout`.

// serveState is the serve a script runs (at most one at a time).
type serveState struct {
	p *proc
}

type serveStateKey struct{}

// envNamesKey holds the names of the variables a script starts with, so a
// background process can get the script's environment (testscript keeps
// it to itself).
type envNamesKey struct{}

func scriptServe(ts *testscript.TestScript) *serveState {
	st, ok := ts.Value(serveStateKey{}).(*serveState)
	if !ok {
		ts.Fatalf("serve: no state (setupScript did not run)")
	}
	return st
}

// scriptEnv is the script's environment for a process started by a
// command: the variables it started with, as they are now, plus PWD.
func scriptEnv(ts *testscript.TestScript) []string {
	names, _ := ts.Value(envNamesKey{}).([]string)
	env := make([]string, 0, len(names)+1)
	for _, n := range names {
		if n == "PWD" {
			continue
		}
		env = append(env, n+"="+ts.Getenv(n))
	}
	return append(env, "PWD="+ts.MkAbs("."))
}

// serve [FLAGS]
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "serve (use expect-exit N smtpkit serve ... for a serve that must not start)")
	st := scriptServe(ts)
	if st.p != nil {
		ts.Fatalf("serve: one is running already (serve-stop it first)")
	}
	smtpkit, err := exec.LookPath("smtpkit")
	if err != nil {
		ts.Fatalf("serve: %v", err)
	}
	hasListener := false
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--listen", "--listen-tls", "--lmtp":
			hasListener = true
		case "--ready-file":
			ts.Fatalf("serve: --ready-file is set by the command")
		}
	}
	ready := ts.MkAbs(".serve-ready")
	logPath := ts.MkAbs("serve.log")
	for _, f := range []string{ready, logPath} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			ts.Fatalf("serve: %v", err)
		}
	}
	argv := []string{"serve", "--ready-file", ready}
	if !hasListener {
		argv = append(argv, "--listen", "127.0.0.1:0")
	}
	argv = append(argv, args...)
	cmd := exec.Command(smtpkit, argv...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	p, err := startProc("serve", logPath, cmd, "")
	if err != nil {
		ts.Fatalf("serve: %v", err)
	}
	st.p = p
	ts.Defer(p.stop)
	var lines []string
	err = poll(func() (bool, error) {
		b, err := os.ReadFile(ready)
		if err == nil && len(b) > 0 {
			lines = strings.Split(strings.TrimSpace(string(b)), "\n")
			return true, nil
		}
		if p.exited() {
			return false, fmt.Errorf("serve exited before it was ready (%v)", p.err)
		}
		return false, nil
	})
	if err != nil {
		ts.Logf("[serve.log]\n%s", p.logTail())
		ts.Fatalf("serve: %v", err)
	}
	vars := map[string]string{"SERVE": "", "SERVE_TLS": "", "SERVE_LMTP": "", "SERVE_LMTP_UNIX": "", "SERVE_FP": ""}
	for _, l := range lines {
		kind, addr, ok := strings.Cut(l, " ")
		if !ok {
			ts.Fatalf("serve: bad ready line %q", l)
		}
		var v string
		switch {
		case kind == "smtp":
			v = "SERVE"
		case kind == "smtps":
			v = "SERVE_TLS"
		case kind == "lmtp" && strings.HasPrefix(addr, "unix:"):
			v = "SERVE_LMTP_UNIX"
		case kind == "lmtp":
			v = "SERVE_LMTP"
		default:
			ts.Fatalf("serve: unknown listener kind in %q", l)
		}
		if vars[v] == "" {
			vars[v] = addr
		}
	}
	if m := regexp.MustCompile(`sha256=([0-9A-F:]+)`).FindStringSubmatch(p.logTail()); m != nil {
		fp, err := hex.DecodeString(strings.ReplaceAll(m[1], ":", ""))
		ts.Check(err)
		vars["SERVE_FP"] = hex.EncodeToString(fp)
	}
	for k, v := range vars {
		ts.Setenv(k, v)
		// The port alone, for clients that take it apart (msmtp --port).
		port := ""
		if _, p, err := net.SplitHostPort(v); err == nil && !strings.HasPrefix(v, "unix:") {
			port = p
		}
		if k != "SERVE_FP" && k != "SERVE_LMTP_UNIX" {
			ts.Setenv(k+"_PORT", port)
		}
	}
	ts.Setenv("SERVE_PID", strconv.Itoa(p.cmd.Process.Pid))
}

// serve-stop
func cmdServeStop(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "serve-stop")
	if len(args) != 0 {
		ts.Fatalf("usage: serve-stop")
	}
	waitServe(ts, true)
}

// serve-wait
func cmdServeWait(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "serve-wait")
	if len(args) != 0 {
		ts.Fatalf("usage: serve-wait")
	}
	waitServe(ts, false)
}

func waitServe(ts *testscript.TestScript, signal bool) {
	st := scriptServe(ts)
	p := st.p
	if p == nil {
		ts.Fatalf("no serve is running")
	}
	st.p = nil
	if signal && !p.exited() {
		ts.Check(syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM))
	}
	err := poll(func() (bool, error) { return p.exited(), nil })
	p.stop() // kills it if it is still running; disarms its guard
	if err != nil {
		ts.Logf("[serve.log]\n%s", p.logTail())
		ts.Fatalf("serve did not exit: %v", err)
	}
	if p.err != nil {
		ts.Logf("[serve.log]\n%s", p.logTail())
		ts.Fatalf("serve exited with %v, want status 0", p.err)
	}
}

// htpasswd FILE USER PASS
func cmdHtpasswd(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "htpasswd")
	if len(args) != 3 {
		ts.Fatalf("usage: htpasswd file user password")
	}
	// The lowest cost: the file is a fixture, not a secret.
	hash, err := bcrypt.GenerateFromPassword([]byte(args[2]), bcrypt.MinCost)
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	ts.Check(err)
	_, err = fmt.Fprintf(f, "%s:%s\n", args[1], hash)
	ts.Check(errors.Join(err, f.Close()))
}

// cert DIR NAME...
func cmdCert(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "cert")
	if len(args) < 2 {
		ts.Fatalf("usage: cert dir name...")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	_, _, err := writeCert(dir, args[1:]...)
	ts.Check(err)
}

// maildir-message SRC OUT
func cmdMaildirMessage(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "maildir-message")
	if len(args) != 2 {
		ts.Fatalf("usage: maildir-message file|dir out")
	}
	src := ts.MkAbs(args[0])
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		names, err := maildirFiles(src)
		ts.Check(err)
		if len(names) != 1 {
			ts.Fatalf("maildir-message: %s holds %d files, want 1: %v", args[0], len(names), names)
		}
		src = filepath.Join(src, names[0])
	}
	b, err := os.ReadFile(src)
	ts.Check(err)
	_, body, err := splitTrace(b)
	if err != nil {
		ts.Fatalf("maildir-message %s: %v", args[0], err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), 0o644))
}

// maildir-check MAILDIR N
func cmdMaildirCheck(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "maildir-check")
	if len(args) != 2 {
		ts.Fatalf("usage: maildir-check maildir n")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	n, err := checkMaildir(dir, nil)
	if err != nil {
		ts.Fatalf("maildir-check %s: %v", args[0], err)
	}
	if n != want {
		ts.Fatalf("maildir-check: %s/new holds %d messages, want %d", args[0], n, want)
	}
	tmp, err := maildirFiles(filepath.Join(dir, "tmp"))
	ts.Check(err)
	if len(tmp) != 0 {
		ts.Fatalf("maildir-check: %s/tmp is not empty: %v", args[0], tmp)
	}
}

// maildirFiles lists the regular files in dir, sorted (none when dir does
// not exist).
func maildirFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// checkMaildir checks every message in dir/new (see maildir-check) and
// calls each, when not nil, with the file's name and parsed message. It
// returns how many there are.
func checkMaildir(dir string, each func(name string, m *mail.Message, body []byte) error) (int, error) {
	names, err := maildirFiles(filepath.Join(dir, "new"))
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		path := filepath.Join(dir, "new", name)
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		if err := checkMaildirFile(name, b, each); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	return len(names), nil
}

var maildirSize = regexp.MustCompile(`,S=(\d+)(:|$)`)

func checkMaildirFile(name string, b []byte, each func(name string, m *mail.Message, body []byte) error) error {
	m := maildirSize.FindStringSubmatch(name)
	if m == nil {
		return errors.New("no ,S=size in the name")
	}
	if size, _ := strconv.Atoi(m[1]); size != len(b) {
		return fmt.Errorf("the name says %d octets, the file has %d", size, len(b))
	}
	if _, _, err := splitTrace(b); err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("net/mail: %w", err)
	}
	for _, h := range []string{"Return-Path", "Delivered-To", "Received"} {
		if msg.Header.Get(h) == "" {
			return fmt.Errorf("no %s header", h)
		}
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return err
	}
	if each != nil {
		return each(name, msg, body)
	}
	return nil
}

// traceRE matches the header lines serve puts before each copy:
// Return-Path, Delivered-To and a Received header with its continuation
// lines.
var traceRE = regexp.MustCompile(`\AReturn-Path: <[^\r\n]*>\r\nDelivered-To: [^\r\n]+\r\nReceived: from [^\r\n]+\r\n(?:\t[^\r\n]*\r\n)*`)

// splitTrace checks that b is serve's trace headers followed by the
// message, with CRLF line ends only, and splits it there.
func splitTrace(b []byte) (trace, rest []byte, err error) {
	if i := bareLineEnd(b); i >= 0 {
		return nil, nil, fmt.Errorf("a line does not end with CRLF, at offset %d", i)
	}
	loc := traceRE.FindIndex(b)
	if loc == nil {
		first, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		return nil, nil, fmt.Errorf("does not start with Return-Path, Delivered-To and Received:\n%s", first)
	}
	return b[:loc[1]], b[loc[1]:], nil
}

// bareLineEnd returns the offset of the first CR or LF that is not part
// of a CRLF pair, or of a last line without its CRLF; -1 when none.
func bareLineEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return i
			}
			i++
		case '\n':
			return i
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return len(b)
	}
	return -1
}
