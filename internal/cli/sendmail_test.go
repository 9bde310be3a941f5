package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/sendmail"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		argv []string
		want []string
	}{
		{[]string{"/usr/local/bin/smtpkit", "send", "-v"}, []string{"send", "-v"}},
		{[]string{"/usr/sbin/sendmail", "-t", "-i"}, []string{"sendmail", "-t", "-i"}},
		{[]string{"sendmail"}, []string{"sendmail"}},
		{[]string{"/usr/bin/mailq"}, []string{"sendmail", "-bp"}},
		{[]string{"mailq", "-v"}, []string{"sendmail", "-bp", "-v"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := commandLine(tt.argv); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("commandLine(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

// sendmailEnv is an Env for sendmail tests: stdin holds in, the host is
// "host.example", $USER is "cron", the clock is fixed.
func sendmailEnv(t *testing.T, in string, vars map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	if vars == nil {
		vars = map[string]string{}
	}
	if _, ok := vars["USER"]; !ok {
		vars["USER"] = "cron"
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("defaults: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars["SMTPKIT_CONFIG"] = cfg
	return &Env{
		Stdin:     strings.NewReader(in),
		Stdout:    &out,
		Stderr:    &errOut,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Now:       func() time.Time { return time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC) },
		Hostname:  func() (string, error) { return "host.example", nil },
	}, &out, &errOut
}

// captured is what sendmail handed to the relay.
type captured struct {
	from string
	to   []string
	msg  string
}

func runSendmailTest(t *testing.T, env *Env, mode sendmail.Mode, args ...string) (*captured, error) {
	t.Helper()
	var c *captured
	g := &globals{env: env, format: "text", color: "never"}
	err := runSendmail(context.Background(), g, &SendmailOptions{Args: args, Mode: mode,
		relay: func(_ context.Context, _ *globals, o *RelayOptions, msg io.Reader) (*render.RelayResult, error) {
			b, err := io.ReadAll(msg)
			c = &captured{from: o.From, to: o.To, msg: string(b)}
			return &render.RelayResult{ID: "X", ExitCode: ExitTempFail}, err
		}})
	return c, err
}

const cronInput = "From: root (Cron Daemon)\n" +
	"To: alice@example.com\n" +
	"Bcc: audit@example.org\n" +
	"Subject: Cron <root@host> backup\n" +
	"\n" +
	"done\n" +
	".\n" +
	"after the dot\n"

func TestSendmailEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		args     []string
		from     string
		to       []string
		has, not []string
	}{
		{"cron -t", cronInput, strings.Fields("-FCronDaemon -i -odi -oem -oi -t -f root"),
			"root@host.example", []string{"alice@example.com", "audit@example.org"},
			[]string{"To: alice@example.com\n", "Date: Wed, 02 Dec 2026 11:00:00 +0000\n", "Message-ID: <", "\n.\nafter the dot\n"},
			[]string{"Bcc:", "CronDaemon"}},
		{"cron without -t", "Subject: x\n\nline\n.\nafter\n", strings.Fields("-FCronDaemon -B8BITMIME -oem user"),
			"cron@host.example", []string{"user@host.example"},
			[]string{"From: CronDaemon <cron@host.example>\n", "\nline\n"},
			[]string{"after"}},
		{"-t adds to arguments, duplicates once", "To: A <a@x.example>, b@x.example\n\nhi\n", []string{"-ti", "--", "a@x.example,c@x.example"},
			"cron@host.example", []string{"a@x.example", "c@x.example", "b@x.example"}, nil, nil},
		{"null sender", "To: a@x.example\n\nhi\n", []string{"-f", "<>", "-t"},
			"<>", []string{"a@x.example"}, nil, []string{"From:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := sendmailEnv(t, tt.in, nil)
			c, err := runSendmailTest(t, env, sendmail.ModeDeliver, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.from != tt.from || !reflect.DeepEqual(c.to, tt.to) {
				t.Errorf("envelope %s -> %q, want %s -> %q", c.from, c.to, tt.from, tt.to)
			}
			for _, s := range tt.has {
				if !strings.Contains(c.msg, s) {
					t.Errorf("message lacks %q:\n%s", s, c.msg)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(c.msg, s) {
					t.Errorf("message has %q:\n%s", s, c.msg)
				}
			}
		})
	}
}

func TestSendmailErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		args []string
		code int
		want string
		vars map[string]string
	}{
		{"-bs", "", []string{"-bs"}, ExitUsage, "sendmail: -bs (SMTP on standard input) is not supported", nil},
		{"no recipients", "", []string{"-i"}, ExitUsage, "no recipients", nil},
		{"-t finds none", "Subject: x\n\nbody\n", []string{"-t"}, ExitUsage, "no recipient addresses found", nil},
		{"bad recipient", "Subject: x\n\nbody\n", []string{"a@@b"}, ExitData, `invalid address "a@@b"`, nil},
		{"bad sender", "Subject: x\n\nbody\n", []string{"-f", "a b@c", "x@y"}, ExitData, "invalid address", nil},
		{"bad SMTPKIT_MX_PORT", "Subject: x\n\nbody\n", []string{"x@y"}, ExitConfig, `SMTPKIT_MX_PORT "25x"`, map[string]string{"SMTPKIT_MX_PORT": "25x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := sendmailEnv(t, tt.in, tt.vars)
			_, err := runSendmailTest(t, env, sendmail.ModeDeliver, tt.args...)
			if code := ExitCode(err); code != tt.code || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (exit %d), want exit %d saying %q", err, code, tt.code, tt.want)
			}
		})
	}
}

// Through Run, a usage error is one line on stderr, without smtpkit's
// --help hint, and a bad -N is a warning only.
func TestSendmailRun(t *testing.T) {
	env, out, errOut := sendmailEnv(t, "", nil)
	if code := Run(context.Background(), env, commandLine([]string{"/usr/sbin/sendmail", "-bd"})); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if got := errOut.String(); got != "smtpkit: sendmail: -bd (daemon mode) is not supported: use smtpkit serve\n" {
		t.Errorf("stderr %q", got)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out)
	}
	// smtpkit flags before "sendmail" would reach it as its arguments
	// ("never" a recipient): refused.
	env, _, errOut = sendmailEnv(t, "", nil)
	if code := Run(context.Background(), env, []string{"--color", "never", "sendmail", "-bp"}); code != ExitUsage {
		t.Fatalf("flags before sendmail: exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut.String(), "no smtpkit flags before sendmail") {
		t.Errorf("stderr %q", errOut)
	}
	env, _, errOut = sendmailEnv(t, "", nil)
	if code := Run(context.Background(), env, []string{"sendmail", "-N", "sometimes", "-q30m"}); code != ExitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(errOut.String(), `warning: sendmail: bad -N value "sometimes" ignored`) {
		t.Errorf("stderr %q", errOut)
	}
}

// Spooled means exit 0, even when the relay's attempt was deferred; the
// report is printed only with -v, with the ignored options on stderr.
func TestSendmailQuietUnlessVerbose(t *testing.T) {
	env, out, errOut := sendmailEnv(t, "Subject: x\n\nbody\n", nil)
	if _, err := runSendmailTest(t, env, sendmail.ModeDeliver, "-oem", "a@x.example"); err != nil {
		t.Fatal(err)
	}
	if out.Len()+errOut.Len() != 0 {
		t.Errorf("without -v: stdout %q, stderr %q", out, errOut)
	}
	env, out, errOut = sendmailEnv(t, "Subject: x\n\nbody\n", nil)
	if _, err := runSendmailTest(t, env, sendmail.ModeDeliver, "-v", "-oem", "a@x.example"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ID") || !strings.Contains(errOut.String(), "ignored: -oem") {
		t.Errorf("with -v: stdout %q, stderr %q", out, errOut)
	}
}
