package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli"
)

// TestSendNeverPrintsPassword runs `smtpkit send` with AUTH against
// aiosmtpd, in every output format and verbosity, and checks that the
// password appears nowhere on stdout or stderr, in clear or in base64,
// unless --show-secrets asks for the AUTH payloads.
func TestSendNeverPrintsPassword(t *testing.T) {
	needPeer(t, "aiosmtpd")
	dir := t.TempDir()
	if err := openForPeers(dir); err != nil {
		t.Fatal(err)
	}
	srv, err := startAiosmtpd(harness{dir: dir, cleanup: t.Cleanup, logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	const password = "s3cret"
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong.pw")
	if err := os.WriteFile(wrongFile, []byte("hunter2x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	plainPayload := b64([]byte("\x00alice\x00" + password)) // AGFsaWNlAHMzY3JldA==
	loginPayload := b64([]byte(password))                   // czNjcmV0
	// The password in clear and in every base64 form a transcript could
	// carry it in (PLAIN's payload, LOGIN's, and the same at the other
	// alignments).
	secrets := []string{
		password, plainPayload, loginPayload,
		b64([]byte("\x00" + password)), b64([]byte("alice\x00" + password)),
		"hunter2x", b64([]byte("\x00alice\x00hunter2x")), b64([]byte("hunter2x")),
	}

	base := []string{"send", "--server", srv.addr, "--tls", "starttls", "--ca-file", srv.caFile,
		"--tls-sni", "localhost", "--user", "alice", "--from", "alice@example.com", "--to", "bob@example.net",
		"--timeout", "30s"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // must appear (with --show-secrets)
	}{
		{name: "plain-v", args: []string{"--auth", "PLAIN", "--password-file", pwFile, "-v"}},
		{name: "plain-vv", args: []string{"--auth", "PLAIN", "--password-file", pwFile, "-vv"}},
		{name: "plain-json", args: []string{"--auth", "PLAIN", "--password-file", pwFile, "-v", "--format", "json"}},
		{name: "plain-jsonl", args: []string{"--auth", "PLAIN", "--password-file", pwFile, "-v", "--format", "jsonl"}},
		{name: "login-v", args: []string{"--auth", "LOGIN", "--password-file", pwFile, "-vv"}},
		{name: "login-json", args: []string{"--auth", "LOGIN", "--password-file", pwFile, "--format", "json"}},
		{name: "auto-env", args: []string{"--password-env", "SMTPKIT_TEST_PW", "-v"}},
		{name: "wrong-plain", args: []string{"--auth", "PLAIN", "--password-file", wrongFile, "-vv"}, wantCode: 77},
		{name: "wrong-login-json", args: []string{"--auth", "LOGIN", "--password-file", wrongFile, "-v", "--format", "json"}, wantCode: 77},
		{
			name: "plain-show-secrets",
			args: []string{"--auth", "PLAIN", "--password-file", pwFile, "-v", "--show-secrets"},
			want: []string{plainPayload},
		},
		{
			name: "login-show-secrets",
			args: []string{"--auth", "LOGIN", "--password-file", pwFile, "-v", "--show-secrets"},
			want: []string{b64([]byte("alice")), loginPayload},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runInProcess(t, dir, append(append([]string(nil), base...), tt.args...))
			all := stdout + "\n" + stderr
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if tt.want == nil {
				for _, s := range secrets {
					if strings.Contains(all, s) {
						t.Errorf("output shows the secret %q\nstdout:\n%s\nstderr:\n%s", s, stdout, stderr)
					}
				}
				// The transcript (on stderr, or in the JSON) shows the AUTH
				// command with its payload redacted: the check above
				// looked at a real exchange.
				if !strings.Contains(all, "AUTH PLAIN [redacted]") && !strings.Contains(all, "AUTH LOGIN [redacted]") {
					t.Errorf("output has no redacted AUTH command; the test checks nothing\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
				}
				return
			}
			for _, s := range tt.want {
				if !strings.Contains(stderr, s) {
					t.Errorf("--show-secrets: stderr lacks %q\nstderr:\n%s", s, stderr)
				}
			}
			// Even then the password itself is not spelled out.
			if strings.Contains(all, password) {
				t.Errorf("--show-secrets printed the password in clear\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}
}

// runInProcess runs one smtpkit command line through cli.Run with
// buffers for stdout and stderr (a pipe, not a terminal) and a private
// environment: no user config, no SMTPKIT_* variables from outside.
func runInProcess(t *testing.T, home string, args []string) (stdout, stderr string, code int) {
	t.Helper()
	vars := map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": home,
		"USER":            "tester",
		"SMTPKIT_TEST_PW": "s3cret",
	}
	var out, errb bytes.Buffer
	env := cli.DefaultEnv()
	env.Stdin = strings.NewReader("")
	env.Stdout, env.Stderr = &out, &errb
	env.StdinTTY, env.StdoutTTY, env.StderrTTY = false, false, false
	env.Prompt = nil
	env.LookupEnv = func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	// A bound on a hung peer, not a speed requirement.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = cli.Run(ctx, env, args)
	return out.String(), errb.String(), code
}
