package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// batchRun runs one smtpkit command line in dir with stdout and stderr in
// buffers that claim to be terminals or not.
func batchRun(t *testing.T, dir string, outTTY, errTTY bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	vars := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": dir, "USER": "tester", "TERM": "xterm"}
	var out, errb bytes.Buffer
	env := &Env{
		Stdin:     strings.NewReader(""),
		Stdout:    &out,
		Stderr:    &errb,
		StdoutTTY: outTTY,
		StderrTTY: errTTY,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Dialer:    &net.Dialer{},
		Now:       time.Now,
		Hostname:  func() (string, error) { return "client.test", nil },
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A bound on a hung peer, not a speed requirement.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = Run(ctx, env, append([]string{"--config", cfg}, args...))
	return out.String(), errb.String(), code
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// jsonlOnly fails t unless out is JSON objects, one per line: no progress
// line, no escape sequence, ever reaches stdout.
func jsonlOnly(t *testing.T, out string, rows int) {
	t.Helper()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("stdout holds a CR or an escape: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != rows {
		t.Fatalf("stdout has %d lines, want %d: %q", len(lines), rows, out)
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["row"] == nil {
			t.Errorf("stdout line %q: %v", l, err)
		}
	}
}

func TestSendBatchProgressLine(t *testing.T) {
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("to,name\n")
	for i := 0; i < 20; i++ {
		rows.WriteString("r" + string(rune('a'+i)) + "@example.com,R\n")
	}
	writeFiles(t, dir, map[string]string{
		"msg.tmpl": "From: s@example.net\nTo: {{.to}}\nSubject: hi {{.name}}\n\nhello\n",
		"rows.csv": rows.String(),
	})
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	base := []string{"send", "--batch", filepath.Join(dir, "rows.csv"), "--template", filepath.Join(dir, "msg.tmpl"),
		"--server", srv.Addr(), "--tls", "none", "--from", "s@example.net"}

	const bar = "\x1b[2K\r" // the line erased, by Done at least
	for _, tt := range []struct {
		name           string
		outTTY, errTTY bool
		args           []string
		wantBar        bool
		summary        string // a regexp-free prefix of stderr's last line
	}{
		{"terminal", false, true, nil, true, "batch: 20 sent, 0 deferred, 0 failed"},
		{"both terminals", true, true, nil, true, "batch: 20 sent, 0 deferred, 0 failed"},
		{"pipe", true, false, nil, false, "batch: 20 sent, 0 deferred, 0 failed"},
		{"quiet", false, true, []string{"-q"}, false, ""},
		{"json", false, true, []string{"--format", "json"}, false, `{"sent":20,"skipped":0,"checked":0,"deferred":0,"unconfirmed":0,"failed":0,"rate":`},
		{"jsonl", false, true, []string{"--format", "jsonl"}, false, `{"sent":20,`},
		{"json -q", false, true, []string{"--json", "-q"}, false, ""},
		{"verbose", false, true, []string{"-v"}, false, ""},
		{"check", false, true, []string{"--check"}, true, "batch: 0 sent, 0 deferred, 0 failed, 20 checked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, base...), tt.args...)
			stdout, stderr, code := batchRun(t, dir, tt.outTTY, tt.errTTY, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstderr: %q", code, stderr)
			}
			jsonlOnly(t, stdout, 20)
			if got := strings.Contains(stderr, bar); got != tt.wantBar {
				t.Errorf("progress line %v, want %v:\n%q", got, tt.wantBar, stderr)
			}
			if tt.wantBar && !strings.Contains(stderr, "batch: 0 sent, 0 deferred, 0 failed\x1b[0K") {
				t.Errorf("no first progress line:\n%q", stderr)
			}
			last := stderr
			if i := strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n"); i >= 0 {
				last = stderr[i+1:]
			}
			if i := strings.LastIndex(last, bar); i >= 0 {
				last = last[i+len(bar):]
			}
			switch {
			case tt.name == "verbose":
				if !strings.Contains(stderr, "EHLO") || strings.Contains(stderr, "\x1b[0K") || strings.Contains(stderr, "\r") {
					t.Errorf("-v: want the transcript, no progress line:\n%q", stderr)
				}
			case tt.summary == "":
				if stderr != "" {
					t.Errorf("stderr %q, want nothing", stderr)
				}
			case !strings.HasPrefix(last, tt.summary) || strings.Count(last, "\n") != 1:
				t.Errorf("summary %q, want one line starting %q\nstderr: %q", last, tt.summary, stderr)
			}
			if strings.HasPrefix(tt.summary, "{") {
				var v map[string]any
				if err := json.Unmarshal([]byte(stderr), &v); err != nil || v["elapsed"] == nil {
					t.Errorf("stderr is not one JSON object with elapsed: %q (%v)", stderr, err)
				}
			}
		})
	}
}

// dkimTestKey writes an Ed25519 key and returns its path and the TXT
// record that would publish it.
func dkimTestKey(t *testing.T, dir string) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	path := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

func TestSendBatchAttachDKIM(t *testing.T) {
	dir := t.TempDir()
	pdf := "%PDF-1.4\n" + strings.Repeat("\x00\xffpdf", 300)
	writeFiles(t, dir, map[string]string{
		"msg.tmpl":   "From: Sender <s@example.net>\nTo: {{.to}}\nSubject: hi {{.name}}\n\nDear {{.name}},\nsee attached.\n",
		"rows.jsonl": `{"to":"a@example.com","name":"Ann"}` + "\n" + `{"to":["b@example.com","c@example.com"],"name":"Bob"}` + "\n",
		"terms.pdf":  pdf,
		"logo.png":   "\x89PNG\r\n\x1a\nlogo",
	})
	key, txt := dkimTestKey(t, dir)
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	stdout, stderr, code := batchRun(t, dir, false, false, "send", "--batch", filepath.Join(dir, "rows.jsonl"),
		"--template", filepath.Join(dir, "msg.tmpl"), "--server", srv.Addr(), "--tls", "none", "--from", "s@example.net",
		"--attach", filepath.Join(dir, "terms.pdf"), "--attach-inline", filepath.Join(dir, "logo.png"),
		"--dkim-key", key, "--dkim-selector", "s1", "--dkim-domain", "mail.example.net", "--concurrency", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	jsonlOnly(t, stdout, 2)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		data := m.Data
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) {
				if name != "s1._domainkey.mail.example.net" {
					t.Errorf("lookup of %q", name)
				}
				return []string{txt}, nil
			},
		})
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "mail.example.net" {
			t.Errorf("DKIM: %v %+v", err, vs)
		}
		e, err := gomessage.Read(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ct, _, _ := e.Header.ContentType(); ct != "multipart/mixed" || e.Header.Get("Date") == "" || e.Header.Get("Message-Id") == "" {
			t.Errorf("top: %s, Date %q, Message-Id %q", ct, e.Header.Get("Date"), e.Header.Get("Message-Id"))
		}
		var parts []string
		mr := e.MultipartReader()
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p.Body)
			ct, _, _ := p.Header.ContentType()
			parts = append(parts, ct+"|"+p.Header.Get("Content-Id")+"|"+string(b))
		}
		name := "Ann"
		if len(m.Rcpts) == 2 {
			name = "Bob"
		}
		want := []string{
			"text/plain||Dear " + name + ",\r\nsee attached.\r\n",
			"application/pdf||" + pdf,
			"image/png|<logo.png@smtpkit>|\x89PNG\r\n\x1a\nlogo",
		}
		if strings.Join(parts, "\n--\n") != strings.Join(want, "\n--\n") {
			t.Errorf("parts:\n%q\nwant:\n%q", parts, want)
		}
		if e.Header.Get("Subject") != "hi "+name {
			t.Errorf("Subject %q", e.Header.Get("Subject"))
		}
	}

	// The files are checked before any row goes.
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"--attach", filepath.Join(dir, "none.pdf")}, ExitNoInput},
		{[]string{"--dkim-key", key}, ExitUsage},
		{[]string{"--dkim-key", filepath.Join(dir, "msg.tmpl"), "--dkim-selector", "s1"}, ExitConfig},
		{[]string{"--dkim-key", filepath.Join(dir, "none.pem"), "--dkim-selector", "s1"}, ExitNoInput},
	} {
		_, stderr, code := batchRun(t, dir, false, false, append([]string{"send", "--batch", filepath.Join(dir, "rows.jsonl"),
			"--template", filepath.Join(dir, "msg.tmpl"), "--server", srv.Addr(), "--tls", "none", "--from", "s@example.net"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (%s)", tt.args, code, tt.code, stderr)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d messages after the refused runs, want still 2", n)
	}
}
