package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// demoEnv is a pipe-like environment whose TMPDIR is tmp, so a test can
// see what the demo leaves behind.
func demoEnv(tmp string, dialer smtp.Dialer) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		LookupEnv: func(k string) (string, bool) {
			if k == "TMPDIR" {
				return tmp, true
			}
			return "", false
		},
		Dialer:   dialer,
		Now:      time.Now,
		Hostname: func() (string, error) { return "demo-test.example", nil },
	}, &out, &errOut
}

// leftIn lists what is left in dir.
func leftIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

var demoSteps = []string{"setup", "serve", "send", "probe", "mx", "relay", "maildir", "cleanup"}

func TestDemoRemovesItsDirectory(t *testing.T) {
	tmp := t.TempDir()
	env, out, errOut := demoEnv(tmp, &net.Dialer{})
	if code := Run(context.Background(), env, []string{"demo"}); code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, s := range demoSteps {
		if !strings.Contains(out.String(), "\n✓ "+s+": ") {
			t.Errorf("no ✓ line for %s in\n%s", s, out)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("styled output in a pipe")
	}
	if left := leftIn(t, tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

func TestDemoKeepJSON(t *testing.T) {
	tmp := t.TempDir()
	env, out, errOut := demoEnv(tmp, &net.Dialer{})
	if code := Run(context.Background(), env, []string{"demo", "--keep", "--format", "json"}); code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var doc struct {
		OK    bool   `json:"ok"`
		Dir   string `json:"dir"`
		Kept  bool   `json:"kept"`
		Steps []struct {
			Name     string `json:"name"`
			Status   string `json:"status"`
			Commands []struct {
				Command string          `json:"command"`
				Output  json.RawMessage `json:"output"`
			} `json:"commands"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if !doc.OK || !doc.Kept || filepath.Dir(doc.Dir) != tmp {
		t.Errorf("ok %v kept %v dir %q", doc.OK, doc.Kept, doc.Dir)
	}
	if len(doc.Steps) != len(demoSteps) {
		t.Fatalf("%d steps, want %d", len(doc.Steps), len(demoSteps))
	}
	for i, s := range doc.Steps {
		if s.Name != demoSteps[i] || s.Status != "ok" {
			t.Errorf("step %d: %s %s", i, s.Name, s.Status)
		}
		for _, c := range s.Commands {
			if s.Name != "serve" && !json.Valid(c.Output) {
				t.Errorf("%s: output of %q is not JSON", s.Name, c.Command)
			}
		}
	}
	msgs, err := os.ReadDir(filepath.Join(doc.Dir, "maildir", "new"))
	if err != nil || len(msgs) != 2 {
		t.Errorf("kept maildir: %d messages, %v", len(msgs), err)
	}
}

// refusingDialer refuses every connection, so the first step that
// connects (send) fails.
type refusingDialer struct{}

func (refusingDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
}

func TestDemoFailureStillCleansUp(t *testing.T) {
	tmp := t.TempDir()
	env, out, errOut := demoEnv(tmp, refusingDialer{})
	code := Run(context.Background(), env, []string{"demo"})
	if code == ExitOK {
		t.Fatalf("exit 0 with every connection refused\n%s", out)
	}
	for _, want := range []string{"\n✓ serve: ", "\n✗ send: ", "\n-   probe: skipped", "\n✓ cleanup: ", "\n✗ demo: send failed: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "smtpkit: demo: send failed: ") {
		t.Errorf("last stderr line %q, want the failed step", last)
	}
	if left := leftIn(t, tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

func TestDemoQuiet(t *testing.T) {
	tmp := t.TempDir()
	env, out, errOut := demoEnv(tmp, &net.Dialer{})
	if code := Run(context.Background(), env, []string{"demo", "-q"}); code != ExitOK || out.Len() > 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	env, out, _ = demoEnv(tmp, refusingDialer{})
	if code := Run(context.Background(), env, []string{"demo", "-q"}); code == ExitOK {
		t.Fatal("exit 0 with every connection refused")
	}
	if s := out.String(); !strings.HasPrefix(s, "==> 3/8 send: ") || strings.Contains(s, "✓") || !strings.Contains(s, "✗ send: ") {
		t.Errorf("-q printed\n%s", s)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"send", "--to", "a@example.test", "--subject", "it's here", ""})
	if want := `send --to a@example.test --subject 'it'\''s here' ''`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
