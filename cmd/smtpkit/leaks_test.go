package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// The secrets the leak tests use: the right password (an OAuth token for
// XOAUTH2) and a wrong one.
const (
	leakPassword = "Zq7-hunter2-Vx9"
	leakWrong    = "Wr0ng-guess-77"
)

// secretForms is every form a secret could show in: in clear, as a JSON
// string, and the part of its base64 that does not depend on its
// neighbours, at the three alignments a SASL payload can put it at
// (PLAIN's "\0user\0pass", LOGIN's "pass", XOAUTH2's "user=...auth=Bearer
// pass...").
func secretForms(secrets ...string) []string {
	var forms []string
	for _, s := range secrets {
		js, _ := json.Marshal(s)
		forms = append(forms, s, string(js[1:len(js)-1]))
		for k := 0; k < 3; k++ {
			enc := base64.StdEncoding.EncodeToString(append(bytes.Repeat([]byte{0}, k), s...))
			// Characters 0..ceil(8k/6)-1 carry pad bits; the last
			// quantum may carry the neighbour's or the padding.
			start, end := (8*k+5)/6, len(enc)-4
			if end-start >= 8 {
				forms = append(forms, enc[start:end])
			}
		}
	}
	return forms
}

// noSecret fails the test if text (named what) holds any form of the
// secrets.
func noSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, f := range secretForms(secrets...) {
		if strings.Contains(text, f) {
			t.Errorf("%s shows a secret (%q):\n%s", what, f, text)
			return
		}
	}
}

// noSecretInFiles checks every regular file under dir.
func noSecretInFiles(t *testing.T, dir string, skip func(path string) bool, secrets ...string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() || skip != nil && skip(path) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		noSecret(t, path, string(b), secrets...)
		for _, f := range secretForms(secrets...) {
			if strings.Contains(path, f) {
				t.Errorf("a file name holds a secret: %s", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSecretsNeverShown runs the real binary over loopback and looks for
// the password, and the wrong one, in every output a user sees: send's
// transcript (-v, -vv) and JSON/JSONL with PLAIN, LOGIN, CRAM-MD5, XOAUTH2
// and auto, from --password-file, --password-env and password_command,
// accepted and refused; relay to a smarthost with AUTH (its output, the
// spool's files, the bounce of a refusal); send --batch (stdout, stderr,
// --results, --state); serve's log with --auth-users; and the goroutine
// dump of a send killed with SIGQUIT in the middle of AUTH, which also
// has core dumps turned off.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
	bin := buildSmtpkit(t)
	dir := t.TempDir()
	srv := smtptest.NewServer(t, smtptest.ServerOptions{User: "alice", Password: leakPassword, AuthNeedsTLS: true,
		AuthMechs: []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}})
	ca := srv.Certs().CAFile
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pwFile := write("pw", leakPassword+"\n")
	wrongFile := write("wrong.pw", leakWrong+"\n")
	config := write("config.yaml", "profiles:\n  cmd:\n    server: "+srv.Addr()+"\n    tls: starttls\n    user: alice\n    password_command: cat "+pwFile+"\n")
	env := binEnv(dir, "SMTPKIT_TEST_PW="+leakPassword)
	run := func(t *testing.T, want int, args ...string) binRun {
		t.Helper()
		r := runBinary(t, bin, dir, env, false, args...)
		wantExit(t, r, want)
		noSecret(t, "output of smtpkit "+strings.Join(args, " "), r.all(), leakPassword, leakWrong)
		return r
	}
	redacted := func(t *testing.T, r binRun) {
		t.Helper()
		if !strings.Contains(r.all(), "[redacted]") {
			t.Errorf("no redacted AUTH line: the check looked at no transcript\n%s", r)
		}
	}

	t.Run("send", func(t *testing.T) {
		base := []string{"send", "--server", srv.Addr(), "--tls", "starttls", "--ca-file", ca, "--user", "alice",
			"--from", "alice@example.com", "--to", "bob@example.net"}
		authed := 0
		for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "auto"} {
			for _, out := range [][]string{{"-v"}, {"-vv"}, {"--format", "json", "-v"}, {"--format", "jsonl", "-v"}} {
				args := append(append(append([]string{}, base...), "--auth", mech, "--password-file", pwFile), out...)
				redacted(t, run(t, 0, args...))
				authed++
			}
			redacted(t, run(t, 77, append(append([]string{}, base...), "--auth", mech, "--password-file", wrongFile, "-vv")...))
			run(t, 77, append(append([]string{}, base...), "--auth", mech, "--password-file", wrongFile, "--format", "json", "-v")...)
		}
		redacted(t, run(t, 0, append(append([]string{}, base...), "--password-env", "SMTPKIT_TEST_PW", "-v")...))
		redacted(t, run(t, 0, "--config", config, "send", "-p", "cmd", "--ca-file", ca, "--from", "alice@example.com", "--to", "bob@example.net", "-v", "--format", "json"))
		authed += 2
		n := 0
		for _, m := range srv.Messages() {
			if m.AuthUser == "alice" {
				n++
			}
		}
		if n != authed {
			t.Errorf("the server took %d authenticated messages, want %d", n, authed)
		}
	})

	t.Run("relay", func(t *testing.T) {
		msg := write("msg.eml", "From: alice@example.com\nTo: bob@example.net\nSubject: relayed\n\nbody\n")
		sp := filepath.Join(dir, "spool")
		relay := func(t *testing.T, want int, pw string, extra ...string) binRun {
			t.Helper()
			args := append([]string{"relay", "--spool", sp, "--smarthost", srv.Addr(), "--tls-policy", "verify", "--ca-file", ca,
				"--user", "alice", "--password-file", pw, "--from", "alice@example.com", "--to", "bob@example.net"}, extra...)
			return run(t, want, append(args, msg)...)
		}
		redacted(t, relay(t, 0, pwFile, "-v"))
		relay(t, 0, pwFile, "--format", "json", "-v")
		// A refused password defers the recipient (75, as Postfix's
		// smtp_sasl_auth_soft_bounce does): the entries' state files hold
		// the reason, never the password; a flush with the right one
		// delivers them.
		redacted(t, relay(t, 75, wrongFile, "-vv"))
		relay(t, 75, wrongFile, "--format", "json", "-v")
		if n := noSecretInFiles(t, sp, nil, leakPassword, leakWrong); n != 4 {
			t.Errorf("%d files in the spool, want 2 entries of 2 files", n)
		}
		redacted(t, run(t, 0, "relay", "flush", "--all", "--spool", sp, "--smarthost", srv.Addr(), "--tls-policy", "verify", "--ca-file", ca,
			"--user", "alice", "--password-file", pwFile, "-v"))
		if n := noSecretInFiles(t, sp, nil, leakPassword, leakWrong); n != 0 {
			t.Errorf("%d files left in the spool after the flush", n)
		}
	})

	t.Run("batch", func(t *testing.T) {
		write("rows.csv", "to,name\nbob@example.net,Bob\ncarol@example.net,Carol\n")
		write("msg.tmpl", "From: alice@example.com\nSubject: hello {{.name}}\n\nHi {{.name}}\n")
		batch := func(t *testing.T, want int, pw, state, results string, extra ...string) binRun {
			t.Helper()
			args := append([]string{"send", "--batch", "rows.csv", "--template", "msg.tmpl", "--server", srv.Addr(), "--tls", "starttls",
				"--ca-file", ca, "--user", "alice", "--password-file", pw, "--from", "alice@example.com",
				"--state", state, "--results", results}, extra...)
			return run(t, want, args...)
		}
		redacted(t, batch(t, 0, pwFile, "state-ok", "results-ok.jsonl", "-v"))
		batch(t, 0, pwFile, "state-ok2", "results-ok2.jsonl", "-vv", "--format", "jsonl")
		redacted(t, batch(t, 77, wrongFile, "state-bad", "results-bad.jsonl", "-vv"))
		for _, f := range []string{"state-ok", "state-ok2", "state-bad", "results-ok.jsonl", "results-ok2.jsonl", "results-bad.jsonl"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			noSecret(t, f, string(b), leakPassword, leakWrong)
		}
	})

	t.Run("serve", func(t *testing.T) {
		sdir := filepath.Join(dir, "serve")
		if err := os.Mkdir(sdir, 0o700); err != nil {
			t.Fatal(err)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(leakPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users := filepath.Join(sdir, "users.htpasswd")
		if err := os.WriteFile(users, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		md := filepath.Join(sdir, "md")
		s := startServeBinary(t, bin, sdir, "serve", "--hostname", "mx.test", "--tls-self-signed", "--auth-users", users,
			"--maildir", md, "--auth-delay", "1ms")
		base := []string{"send", "--server", s.addr, "--insecure", "--from", "alice@example.com", "--to", "bob@example.org"}
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			run(t, 0, append(append([]string{}, base...), "--auth", mech, "--user", "alice", "--password-file", pwFile, "-v")...)
			run(t, 77, append(append([]string{}, base...), "--auth", mech, "--user", "alice", "--password-file", wrongFile, "-v")...)
			run(t, 77, append(append([]string{}, base...), "--auth", mech, "--user", "mallory", "--password-file", pwFile, "-v")...)
		}
		s.stop(t)
		logb, err := os.ReadFile(s.log)
		if err != nil {
			t.Fatal(err)
		}
		if c := bytes.Count(logb, []byte(`msg="auth failed"`)); c != 4 {
			t.Errorf("%d failed AUTH lines in serve's log, want 4:\n%s", c, logb)
		}
		noSecret(t, "serve's log", string(logb), leakPassword, leakWrong)
		noSecretInFiles(t, md, nil, leakPassword, leakWrong)
	})

	t.Run("crash", func(t *testing.T) {
		// A server that offers AUTH and never answers it: send waits in
		// the middle of AUTH with the password in memory.
		atAuth := make(chan struct{})
		addr, _ := smtptest.Script{
			smtptest.Send("220 hang.test ESMTP"),
			smtptest.ExpectPrefix("EHLO "),
			smtptest.Send("250-hang.test", "250 AUTH PLAIN LOGIN"),
			smtptest.ExpectPrefix("AUTH PLAIN "),
			smtptest.Do("at AUTH", func(*smtptest.Peer) error { close(atAuth); return nil }),
			smtptest.Hang(),
		}.Listen(t)
		cdir := filepath.Join(dir, "crash")
		if err := os.Mkdir(cdir, 0o700); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := execCommand(bin, cdir, env, "send", "--server", addr, "--tls", "none", "--allow-plaintext-auth", "--auth", "PLAIN",
			"--user", "alice", "--password-file", pwFile, "--from", "alice@example.com", "--to", "bob@example.net", "-v")
		cmd.Stderr = &stderr
		p, err := startProc("send-sigquit", filepath.Join(cdir, "send.log"), cmd, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.stop)
		if err := poll(func() (bool, error) {
			select {
			case <-atAuth:
				return true, nil
			default:
				return p.exited(), nil
			}
		}); err != nil || p.exited() {
			t.Fatalf("send never reached AUTH (%v): %s", err, stderr.String())
		}
		limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.cmd.Process.Pid))
		if err == nil {
			for _, l := range strings.Split(string(limits), "\n") {
				if strings.HasPrefix(l, "Max core file size") {
					if f := strings.Fields(strings.TrimPrefix(l, "Max core file size")); len(f) < 2 || f[0] != "0" || f[1] != "0" {
						t.Errorf("send holding a password may dump core: %q", l)
					}
				}
			}
		}
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGQUIT); err != nil {
			t.Fatal(err)
		}
		if err := poll(func() (bool, error) { return p.exited(), nil }); err != nil {
			t.Fatalf("send survived SIGQUIT: %v", err)
		}
		p.stop()
		dump := stderr.String()
		if !strings.Contains(dump, "goroutine ") {
			t.Fatalf("no goroutine dump after SIGQUIT:\n%s", dump)
		}
		noSecret(t, "the goroutine dump of SIGQUIT", dump, leakPassword)
		entries, _ := os.ReadDir(cdir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "core") {
				t.Errorf("a core file was written: %s", e.Name())
			}
		}
	})
}
