package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// update is smtptest's -update flag (a package that imports smtptest may not
// define its own): golden rewrites testdata/ with it.
var update = smtptest.Update

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// env fakes the environment.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// newTest returns a Printer over buffers.
func newTest(outTTY, errTTY bool, o Options) (*Printer, *bytes.Buffer, *bytes.Buffer) {
	if o.Env == nil {
		o.Env = env()
	}
	var out, errOut bytes.Buffer
	return New(&out, &errOut, outTTY, errTTY, o), &out, &errOut
}

const secret = "AHVzZXJAZXhhbXBsZS5jb20AaHVudGVyMg==" // "\0user@example.com\0hunter2"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func reply(code int, enh string, lines ...string) smtp.Reply {
	return smtp.Reply{Code: code, Enhanced: enh, Lines: lines}
}

func rp(r smtp.Reply) *smtp.Reply { return &r }

// sampleResult is a STARTTLS + AUTH session where one recipient of two is
// refused.
func sampleResult() *smtp.SubmitResult {
	queued := reply(250, "2.0.0", "Ok: queued as 4F1A2B3C")
	return &smtp.SubmitResult{
		Server:     "smtp.example.com:587",
		Remote:     "198.51.100.25:587",
		Banner:     rp(reply(220, "", "smtp.example.com ESMTP Postfix")),
		Hello:      rp(reply(250, "", "smtp.example.com", "PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME")),
		Extensions: []string{"PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"},
		TLS: &smtp.TLSInfo{Mode: "starttls", Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256",
			ServerName: "smtp.example.com", Verified: true,
			Chain: []smtp.CertInfo{{Subject: "CN=smtp.example.com", Issuer: "CN=Example CA",
				DNSNames: []string{"smtp.example.com"}, NotBefore: t0.AddDate(0, -1, 0), NotAfter: t0.AddDate(0, 2, 0),
				Key: "ECDSA P-256", SHA256: "00ff"}}},
		Auth:     &smtp.AuthInfo{Mechanism: "PLAIN", User: "user@example.com", OK: true},
		Commands: []smtp.CommandResult{{Command: "NOOP", Reply: reply(250, "2.0.0", "Ok")}},
		Mail:     rp(reply(250, "2.1.0", "Ok")),
		Recipients: []smtp.RcptResult{
			{Addr: "alice@example.com", Reply: reply(250, "2.1.5", "Ok"), Accepted: true, Data: &queued},
			{Addr: "bob@example.com", Reply: reply(550, "5.1.1", "<bob@example.com>: Recipient address rejected")},
		},
		Data:    &queued,
		QueueID: "4F1A2B3C",
		Octets:  1234,
		Timings: smtp.Timings{Connect: 2500 * time.Microsecond, Banner: 10 * time.Millisecond,
			Hello: time.Millisecond, StartTLS: 30 * time.Millisecond, Auth: 8100 * time.Microsecond,
			Envelope: 40 * time.Millisecond, Total: 1234500 * time.Microsecond},
	}
}

// sampleEvents is the transcript of sampleResult's session.
func sampleEvents() []smtp.Event {
	at := t0
	ev := func(k smtp.EventKind, tlsOn bool, line string, elapsed time.Duration) smtp.Event {
		at = at.Add(time.Millisecond)
		return smtp.Event{Time: at, Kind: k, Line: line, TLS: tlsOn, Elapsed: elapsed}
	}
	evs := []smtp.Event{
		ev(smtp.EventDial, false, "tcp smtp.example.com:587", 0),
		ev(smtp.EventConnected, false, "192.0.2.10:50000 -> 198.51.100.25:587", 0),
		ev(smtp.EventRecv, false, "220 smtp.example.com ESMTP Postfix", 0),
		ev(smtp.EventSend, false, "EHLO client.example.net", 0),
		ev(smtp.EventRecv, false, "250-smtp.example.com", 900*time.Microsecond),
		ev(smtp.EventRecv, false, "250-STARTTLS", 950*time.Microsecond),
		ev(smtp.EventRecv, false, "250 8BITMIME", time.Millisecond),
		ev(smtp.EventSend, false, "STARTTLS", 0),
		ev(smtp.EventRecv, false, "220 2.0.0 Ready to start TLS", 850*time.Microsecond),
		ev(smtp.EventTLS, true, `TLSv1.3 TLS_AES_128_GCM_SHA256, peer "CN=smtp.example.com" issued by "CN=Example CA"`, 0),
		ev(smtp.EventSend, true, "EHLO client.example.net", 0),
		ev(smtp.EventRecv, true, "250-smtp.example.com", 1200*time.Microsecond),
		ev(smtp.EventRecv, true, "250-PIPELINING", 1200*time.Microsecond),
		ev(smtp.EventRecv, true, "250-AUTH PLAIN LOGIN", 1200*time.Microsecond),
		ev(smtp.EventRecv, true, "250 8BITMIME", 1250*time.Microsecond),
		ev(smtp.EventSend, true, "AUTH PLAIN [redacted]", 0),
		ev(smtp.EventRecv, true, "235 2.7.0 Authentication successful", 8100*time.Microsecond),
		ev(smtp.EventSend, true, "NOOP", 0),
		ev(smtp.EventRecv, true, "250 2.0.0 Ok", 400*time.Microsecond),
		ev(smtp.EventSend, true, "MAIL FROM:<user@example.com> SIZE=1234", 0),
		ev(smtp.EventSend, true, "RCPT TO:<alice@example.com>", 0),
		ev(smtp.EventSend, true, "RCPT TO:<bob@example.com>", 0),
		ev(smtp.EventSend, true, "DATA", 0),
		ev(smtp.EventRecv, true, "250 2.1.0 Ok", 3*time.Millisecond),
		ev(smtp.EventRecv, true, "250 2.1.5 Ok", 3100*time.Microsecond),
		ev(smtp.EventRecv, true, "550 5.1.1 <bob@example.com>: Recipient address rejected", 3200*time.Microsecond),
		ev(smtp.EventRecv, true, "354 End data with <CR><LF>.<CR><LF>", 3300*time.Microsecond),
		ev(smtp.EventBody, true, "(1234 octets, 20 lines)", 0),
		ev(smtp.EventSend, true, ".", 0),
		ev(smtp.EventRecv, true, "250 2.0.0 Ok: queued as 4F1A2B3C", 12300*time.Microsecond),
		ev(smtp.EventSend, true, "QUIT", 0),
		ev(smtp.EventRecv, true, "221", 1500*time.Millisecond),
		ev(smtp.EventError, true, "read tcp: connection reset by peer", 0),
		ev(smtp.EventClosed, true, "", 0),
	}
	for i := range evs {
		evs[i].Redacted = strings.Contains(evs[i].Line, "[redacted]")
	}
	return evs
}

func hasANSI(s string) bool { return strings.Contains(s, "\x1b") }

func TestSendText(t *testing.T) {
	tests := []struct {
		name     string
		tty      bool
		color    string
		env      []string
		wantANSI bool
		golden   string
	}{
		{name: "pipe", golden: "send.txt"},
		{name: "tty", tty: true, wantANSI: true, golden: "send_tty.txt"},
		{name: "tty NO_COLOR", tty: true, env: []string{"NO_COLOR", "1"}, golden: "send.txt"},
		{name: "tty empty NO_COLOR", tty: true, env: []string{"NO_COLOR", ""}, wantANSI: true},
		{name: "tty TERM=dumb", tty: true, env: []string{"TERM", "dumb"}, golden: "send.txt"},
		{name: "tty never", tty: true, color: "never", golden: "send.txt"},
		{name: "pipe always", color: "always", wantANSI: true, golden: "send_tty.txt"},
		{name: "pipe always beats NO_COLOR", color: "always", env: []string{"NO_COLOR", "1"}, wantANSI: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, errOut := newTest(tt.tty, tt.tty, Options{Color: tt.color, Env: env(tt.env...)})
			if err := p.Send(sampleResult(), sampleEvents()); err != nil {
				t.Fatal(err)
			}
			if got := hasANSI(out.String()); got != tt.wantANSI {
				t.Errorf("ANSI in output = %v, want %v:\n%q", got, tt.wantANSI, out.String())
			}
			if p.Styled() != tt.wantANSI {
				t.Errorf("Styled() = %v, want %v", p.Styled(), tt.wantANSI)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %q", errOut.String())
			}
			if tt.golden != "" && (tt.name == "pipe" || tt.name == "tty" || !*update) {
				golden(t, tt.golden, out.String())
			}
		})
	}
}

func TestSendQuiet(t *testing.T) {
	ok := sampleResult()
	ok.Recipients = ok.Recipients[:1]
	p, out, _ := newTest(false, false, Options{Quiet: true})
	if err := p.Send(ok, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("quiet success printed %q", out.String())
	}
	if err := p.Send(sampleResult(), nil); err != nil {
		t.Fatal(err)
	}
	want := "rejected  bob@example.com  550 5.1.1 <bob@example.com>: Recipient address rejected\n"
	if out.String() != want {
		t.Errorf("quiet failure:\n got %q\nwant %q", out.String(), want)
	}
}

// TestSendCases covers the lines that the sample does not: LMTP per
// recipient failures, a refused DATA, a failed AUTH, --quit-after, an
// unverified certificate and a hostile reply.
func TestSendCases(t *testing.T) {
	lmtpOK := reply(250, "2.0.0", "<alice@example.com> Ok")
	lmtpFull := reply(452, "4.2.2", "<carol@example.com> Mailbox full")
	lmtpBad := reply(550, "5.7.1", "<dave@example.com> Rejected by sieve")
	tests := []struct {
		name string
		res  smtp.SubmitResult
		want string
	}{
		{
			name: "lmtp",
			res: smtp.SubmitResult{
				Recipients: []smtp.RcptResult{
					{Addr: "alice@example.com", Reply: reply(250, "2.1.5", "OK"), Accepted: true, Data: &lmtpOK},
					{Addr: "carol@example.com", Reply: reply(250, "2.1.5", "OK"), Accepted: true, Data: &lmtpFull},
					{Addr: "dave@example.com", Reply: reply(250, "2.1.5", "OK"), Accepted: true, Data: &lmtpBad},
				},
				Data: &lmtpOK,
			},
			want: "" +
				"accepted  alice@example.com  250 2.1.5 OK\n" +
				"deferred  carol@example.com  452 4.2.2 <carol@example.com> Mailbox full\n" +
				"rejected  dave@example.com   550 5.7.1 <dave@example.com> Rejected by sieve\n" +
				"queued    250 2.0.0 <alice@example.com> Ok\n",
		},
		{
			name: "data refused",
			res: smtp.SubmitResult{
				Mail:       rp(reply(250, "", "Ok")),
				Recipients: []smtp.RcptResult{{Addr: "a@example.com", Reply: reply(250, "", "Ok"), Accepted: true}},
				Data:       rp(reply(554, "5.5.1", "Error: no valid recipients")),
				Error:      "DATA: 554 5.5.1 Error: no valid recipients",
			},
			want: "" +
				"accepted  a@example.com  250 Ok\n" +
				"data      554 5.5.1 Error: no valid recipients\n",
		},
		{
			name: "mail refused",
			res:  smtp.SubmitResult{Mail: rp(reply(553, "5.7.1", "Sender address rejected"))},
			want: "mail      553 5.7.1 Sender address rejected\n",
		},
		{
			name: "auth failed",
			res:  smtp.SubmitResult{Auth: &smtp.AuthInfo{Mechanism: "LOGIN", User: "me"}},
			want: "auth      LOGIN as me failed\n",
		},
		{
			name: "stopped",
			res: smtp.SubmitResult{
				TLS:          &smtp.TLSInfo{Version: "TLSv1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", VerifyError: "x509: certificate signed by unknown authority"},
				Auth:         &smtp.AuthInfo{Mechanism: "XOAUTH2", OK: true},
				Recipients:   []smtp.RcptResult{{Addr: "postmaster", Reply: reply(250, "", "Ok"), Accepted: true}},
				StoppedAfter: "rcpt",
			},
			want: "" +
				"tls       TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, certificate NOT verified: x509: certificate signed by unknown authority\n" +
				"auth      XOAUTH2\n" +
				"accepted  postmaster  250 Ok\n" +
				"stopped   after rcpt\n",
		},
		{
			name: "hostile reply",
			res: smtp.SubmitResult{Recipients: []smtp.RcptResult{
				{Addr: "a@example.com", Reply: reply(550, "", "no \x1b[2J\u009b\x9b\xffway")},
			}},
			want: `rejected  a@example.com  550 no \x1b[2J\xc2\x9b\x9b\xffway` + "\n",
		},
		{
			name: "nothing",
			res:  smtp.SubmitResult{Error: "dial tcp: connection refused"},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, _ := newTest(false, false, Options{})
			if err := p.Send(&tt.res, nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestSendOK(t *testing.T) {
	if SendOK(sampleResult()) {
		t.Error("sample with a refused recipient is ok")
	}
	res := sampleResult()
	res.Recipients = res.Recipients[:1]
	if !SendOK(res) {
		t.Error("all accepted is not ok")
	}
	res.Error = "boom"
	if SendOK(res) {
		t.Error("session error is ok")
	}
	if !SendOK(&smtp.SubmitResult{StoppedAfter: "ehlo"}) {
		t.Error("quit after ehlo is not ok")
	}
}

func TestSendJSON(t *testing.T) {
	p, out, errOut := newTest(true, true, Options{Format: FormatJSON, Color: "always", Verbose: 1})
	if p.Trace() != nil {
		t.Error("Trace() is not nil in json format")
	}
	if p.Styled() {
		t.Error("json output is styled")
	}
	if err := p.Send(sampleResult(), sampleEvents()); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if hasANSI(s) || errOut.Len() != 0 {
		t.Errorf("ANSI or stderr output: %q %q", s, errOut.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, s)
	}
	for _, k := range []string{"ok", "server", "remote", "banner", "ehlo", "extensions", "tls", "auth", "commands",
		"mail", "recipients", "data", "queue_id", "octets", "pipelined", "chunked", "counts", "timings", "transcript"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}
	if doc["ok"] != false {
		t.Errorf("ok = %v, want false", doc["ok"])
	}
	tm := doc["timings"].(map[string]any)
	if tm["total_ms"] != 1234.5 || tm["connect_ms"] != 2.5 {
		t.Errorf("timings = %v", tm)
	}
	rc := doc["recipients"].([]any)
	if len(rc) != 2 || rc[1].(map[string]any)["status"] != "rejected" {
		t.Errorf("recipients = %v", rc)
	}
	tr := doc["transcript"].([]any)
	if len(tr) != len(sampleEvents()) {
		t.Errorf("transcript has %d events, want %d", len(tr), len(sampleEvents()))
	}
	for _, k := range []string{"time", "kind", "line", "tls", "redacted"} {
		if _, ok := tr[0].(map[string]any)[k]; !ok {
			t.Errorf("transcript field %q missing", k)
		}
	}
	if !strings.Contains(s, `"elapsed_ms": 12.3`) || !strings.Contains(s, `"redacted": true`) {
		t.Error("transcript lacks elapsed_ms or redacted")
	}
	if strings.Contains(s, secret) || strings.Contains(s, "hunter2") {
		t.Error("secret leaked")
	}
	if strings.Contains(s, `\u003c`) {
		t.Error("HTML escaping in JSON")
	}
	golden(t, "send.json", s)
}

func TestSendJSONEmpty(t *testing.T) {
	p, out, _ := newTest(false, false, Options{Format: FormatJSON})
	if err := p.Send(&smtp.SubmitResult{Server: "x:25", Error: "dial: refused"}, nil); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"extensions", "recipients", "transcript"} {
		if _, ok := doc[k].([]any); !ok {
			t.Errorf("%s = %v, want []", k, doc[k])
		}
	}
	if doc["error"] != "dial: refused" || doc["ok"] != false {
		t.Errorf("error/ok = %v/%v", doc["error"], doc["ok"])
	}
}

func TestSendJSONL(t *testing.T) {
	for _, verbose := range []int{0, 1} {
		p, out, _ := newTest(false, false, Options{Format: FormatJSONL, Verbose: verbose})
		if err := p.Send(sampleResult(), sampleEvents()); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("got %d lines, want 3:\n%s", len(lines), out.String())
		}
		var types []string
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("invalid JSON line %q: %v", l, err)
			}
			types = append(types, m["type"].(string))
			if m["type"] == "result" {
				_, has := m["transcript"]
				if has != (verbose > 0) {
					t.Errorf("verbose %d: transcript present = %v", verbose, has)
				}
				if m["queue_id"] != "4F1A2B3C" {
					t.Errorf("queue_id = %v", m["queue_id"])
				}
			}
		}
		if strings.Join(types, ",") != "recipient,recipient,result" {
			t.Errorf("types = %v", types)
		}
		if verbose == 0 {
			golden(t, "send.jsonl", out.String())
		}
	}
}

func TestTrace(t *testing.T) {
	tests := []struct {
		name    string
		verbose int
		tty     bool
		golden  string
	}{
		{"v", 1, false, "trace.txt"},
		{"vv", 2, false, "trace_vv.txt"},
		{"tty", 1, true, "trace_tty.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, errOut := newTest(false, tt.tty, Options{Verbose: tt.verbose})
			tr := p.Trace()
			if tr == nil {
				t.Fatal("Trace() is nil")
			}
			for _, ev := range sampleEvents() {
				tr(ev)
			}
			if out.Len() != 0 {
				t.Errorf("transcript on stdout: %q", out.String())
			}
			if hasANSI(errOut.String()) != tt.tty {
				t.Errorf("ANSI = %v, want %v", !tt.tty, tt.tty)
			}
			golden(t, tt.golden, errOut.String())
		})
	}
}

func TestTraceNil(t *testing.T) {
	for _, o := range []Options{{}, {Format: FormatJSON, Verbose: 2}, {Format: FormatJSONL, Verbose: 1}} {
		if p, _, _ := newTest(false, false, o); p.Trace() != nil {
			t.Errorf("%+v: Trace() is not nil", o)
		}
	}
}

// TestTraceConcurrent checks that transcript lines and warnings from
// different goroutines do not interleave (run with -race).
func TestTraceConcurrent(t *testing.T) {
	p, _, errOut := newTest(false, false, Options{Verbose: 1})
	tr := p.Trace()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				tr(smtp.Event{Kind: smtp.EventSend, Line: "NOOP"})
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				p.Warn("careful")
			}
		}()
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n") {
		if l != " -> NOOP" && l != "smtpkit: warning: careful" {
			t.Fatalf("mixed line %q", l)
		}
	}
}

func TestTranscriptLine(t *testing.T) {
	tests := []struct {
		ev   smtp.Event
		want string
	}{
		{smtp.Event{Kind: smtp.EventRecv, Line: "250-SIZE", Elapsed: time.Millisecond}, "<-  250-SIZE"},
		{smtp.Event{Kind: smtp.EventRecv, Line: "250", Elapsed: time.Millisecond}, "<-  250  (1.0ms)"},
		{smtp.Event{Kind: smtp.EventRecv, Line: "220 hi"}, "<-  220 hi"},
		{smtp.Event{Kind: smtp.EventRecv, Line: "221 bye", TLS: true, Elapsed: 2 * time.Second}, "<~  221 bye  (2.0s)"},
		{smtp.Event{Kind: smtp.EventSend, Line: "QUIT", TLS: true}, " ~> QUIT"},
		{smtp.Event{Kind: smtp.EventRecv, Line: "220 \x1b]0;pwned\x07"}, `<-  220 \x1b]0;pwned\x07`},
		{smtp.Event{Kind: smtp.EventError, Line: "timeout"}, "*** timeout"},
		{smtp.Event{Kind: "future", Line: "x"}, "=== future x"},
	}
	for _, tt := range tests {
		if got := TranscriptLine(tt.ev, false, true); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                              "0.0µs",
		850 * time.Microsecond:         "850.0µs",
		999_970 * time.Nanosecond:      "1.0ms",
		12_345 * time.Microsecond:      "12.3ms",
		999_960 * time.Microsecond:     "1.0s",
		1500 * time.Millisecond:        "1.5s",
		75 * time.Second:               "75.0s",
		-2 * time.Millisecond:          "-2.0ms",
		1234 * time.Nanosecond:         "1.2µs",
		time.Duration(999_940_000):     "999.9ms",
		time.Duration(999_940):         "999.9µs",
		time.Duration(12_300_000_000):  "12.3s",
		time.Duration(100_000_000_000): "100.0s",
	}
	for d, want := range tests {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestErrorWarn(t *testing.T) {
	p, out, errOut := newTest(false, false, Options{})
	p.Error(errors.New("dial tcp 192.0.2.1:25: connection refused"))
	p.Error(nil)
	p.Warn("certificate expires in 3 days")
	want := "smtpkit: dial tcp 192.0.2.1:25: connection refused\nsmtpkit: warning: certificate expires in 3 days\n"
	if errOut.String() != want || out.Len() != 0 {
		t.Errorf("got %q (stdout %q), want %q", errOut.String(), out.String(), want)
	}

	p, _, errOut = newTest(false, true, Options{})
	p.Error(errors.New("boom"))
	if s := errOut.String(); !hasANSI(s) || !strings.Contains(s, "error:") || !strings.HasSuffix(s, " boom\n") {
		t.Errorf("styled error = %q", s)
	}

	p, _, errOut = newTest(false, false, Options{Quiet: true, Format: FormatJSON})
	p.Warn("hidden")
	p.Error(errors.New("shown"))
	if errOut.String() != "smtpkit: shown\n" {
		t.Errorf("quiet: %q", errOut.String())
	}
}

func TestDryRun(t *testing.T) {
	msg := "From: user@example.com\r\nTo: alice@example.com\r\nSubject: test\r\n\r\nhello\r\n"
	d := func() DryRun {
		return DryRun{Server: "smtp.example.com:587", From: "user@example.com",
			Rcpts: []string{"alice@example.com", "bob@example.com"}, MailParams: "SIZE=82 BODY=8BITMIME",
			Size: int64(len(msg)), Message: strings.NewReader(msg)}
	}
	p, out, _ := newTest(false, false, Options{Quiet: true})
	if err := p.DryRun(d()); err != nil {
		t.Fatal(err)
	}
	golden(t, "dryrun.txt", out.String())

	p, out, _ = newTest(false, false, Options{Format: FormatJSON})
	if err := p.DryRun(d()); err != nil {
		t.Fatal(err)
	}
	var j DryRunJSON
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j.Message == nil || *j.Message != msg || len(j.Recipients) != 2 || j.Size != int64(len(msg)) || j.Type != "" {
		t.Errorf("json = %+v", j)
	}

	p, out, _ = newTest(false, false, Options{Format: FormatJSONL})
	if err := p.DryRun(DryRun{Server: "s:25"}); err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"dry_run","server":"s:25","from":"","recipients":[],"size":0}` + "\n"; out.String() != want {
		t.Errorf("jsonl = %q, want %q", out.String(), want)
	}
}

func TestVersion(t *testing.T) {
	v := VersionInfo{Version: "1.2.0", Commit: "4f1a2b3", Date: "2026-01-02", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	p, out, _ := newTest(false, false, Options{})
	if err := p.Version(v); err != nil {
		t.Fatal(err)
	}
	if want := "smtpkit 1.2.0 (commit 4f1a2b3, built 2026-01-02, go1.26.8 linux/amd64)\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	p, out, _ = newTest(false, false, Options{})
	_ = p.Version(VersionInfo{GoVersion: "go1.26.8", Platform: "linux/amd64"})
	if want := "smtpkit dev (go1.26.8 linux/amd64)\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	p, out, _ = newTest(false, false, Options{Format: FormatJSONL})
	_ = p.Version(v)
	if want := `{"type":"version","version":"1.2.0","commit":"4f1a2b3","date":"2026-01-02","go_version":"go1.26.8","platform":"linux/amd64"}` + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestTable(t *testing.T) {
	tb := NewTable("PREF", "HOST", "STATUS")
	tb.AddRow("10", "mx1.example.com", "ok")
	tb.AddCells(Cell{Text: "20"}, Cell{Text: "mx2.exämple.com"}, Cell{Text: "unreachable", Tone: ToneBad})
	tb.AddRow("30", "日本.example", "")
	tb.AddRow("5")
	p, out, _ := newTest(false, false, Options{})
	if err := p.Table(tb); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", out.String())
	if strings.Contains(out.String(), " \n") {
		t.Error("trailing spaces")
	}
	styled := tb.Render(true)
	if !hasANSI(styled) {
		t.Error("styled table has no ANSI")
	}
	// Styling must not move the columns.
	if stripANSI(styled) != out.String() {
		t.Errorf("styled table differs once stripped:\n%s", stripANSI(styled))
	}
}

// stripANSI removes CSI sequences.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestStyledTextStripsToPlain(t *testing.T) {
	p, out, _ := newTest(true, true, Options{})
	if err := p.Send(sampleResult(), nil); err != nil {
		t.Fatal(err)
	}
	q, plain, _ := newTest(false, false, Options{})
	if err := q.Send(sampleResult(), nil); err != nil {
		t.Fatal(err)
	}
	if stripANSI(out.String()) != plain.String() {
		t.Errorf("styled output differs from plain once stripped:\n%s", stripANSI(out.String()))
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatText, "text": FormatText, "json": FormatJSON, "jsonl": FormatJSONL} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("ParseFormat(yaml) succeeded")
	}
}
