package message

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/message")

var fixedNow = time.Date(2024, 3, 9, 14, 5, 7, 0, time.FixedZone("", 3600))

func mustAddr(t *testing.T, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "message", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestComposeDefaultGolden(t *testing.T) {
	tests := []struct {
		name string
		opts ComposeOptions
	}{
		{"compose_default.eml", ComposeOptions{
			From: mustAddr(t, "sender@example.com"),
			To:   []Address{mustAddr(t, "rcpt@example.net")},
		}},
		{"compose_names.eml", ComposeOptions{
			From:     mustAddr(t, "jörg@bücher.example"),
			FromName: "Jörg Müller",
			To:       []Address{mustAddr(t, "a@example.net"), mustAddr(t, `"john doe"@example.net`)},
			Cc:       []Address{mustAddr(t, "c@[192.0.2.1]")},
			Subject:  "Grüße aus Köln – a subject long enough that its encoded words need folding",
			Body:     "Grüße\nzweite Zeile\n",
			Headers:  []string{"X-Mailer: custom", "X-Extra: yes"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Now = fixedNow
			tt.opts.MessageID = "<fixed.1@smtpkit.test>"
			p, err := Compose(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got := content(t, p)
			golden(t, tt.name, got)
			checkLines(t, got)
		})
	}
}

// checkLines checks the RFC 5322 2.1.1 and 2.3 rules on a whole message.
func checkLines(t *testing.T, msg string) {
	t.Helper()
	if !strings.HasSuffix(msg, "\r\n") {
		t.Error("message does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(msg, "\r\n"), "\r\n") {
		if len(line) > hardLineLen {
			t.Errorf("line %d has %d octets", i+1, len(line))
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, line)
		}
	}
}

func TestComposeDefaults(t *testing.T) {
	p, err := Compose(ComposeOptions{
		From: mustAddr(t, "s@example.com"),
		To:   []Address{mustAddr(t, "r@example.net")},
		Now:  fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := content(t, p)
	mr, err := mail.CreateReader(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := mr.Header.Subject()
	if want := "test Sat, 09 Mar 2024 14:05:07 +0100"; subject != want {
		t.Errorf("Subject = %q, want %q", subject, want)
	}
	id, _ := mr.Header.MessageID()
	if !strings.HasSuffix(id, "@example.com") || len(id) < 20 {
		t.Errorf("Message-ID = %q, want random@example.com", id)
	}
	if got := mr.Header.Get("X-Mailer"); got != "smtpkit" {
		t.Errorf("X-Mailer = %q", got)
	}
	part, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(part.Body)
	if string(body) != "This is a test mailing\r\n" {
		t.Errorf("body = %q", body)
	}
	if p.EightBit || p.UTF8Headers {
		t.Errorf("EightBit, UTF8Headers = %v, %v", p.EightBit, p.UTF8Headers)
	}
	s := p.Summary()
	if s.From != "<s@example.com>" || s.To != "<r@example.net>" || s.Subject != subject || s.MessageID != "<"+id+">" {
		t.Errorf("Summary() = %+v", s)
	}

	// Two messages get different Message-IDs.
	p2, err := Compose(ComposeOptions{From: mustAddr(t, "s@example.com"), Hostname: "host.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if id2 := p2.Summary().MessageID; id2 == s.MessageID || !strings.HasSuffix(id2, "@host.example>") {
		t.Errorf("second Message-ID = %q", id2)
	}
}

func TestComposeBodyEncoding(t *testing.T) {
	longLine := strings.Repeat("x", 1200)
	tests := []struct {
		name, body, enc string
		eight           bool
	}{
		{"ascii", "hello\nworld\n", "7bit", false},
		{"utf-8", "Grüße\n", "8bit", true},
		{"long line", "short\n" + longLine + "\nend", "quoted-printable", false},
		{"long utf-8 line", strings.Repeat("ü", 600) + "\n", "quoted-printable", false},
		{"nul", "a\x00b\n", "quoted-printable", false},
		{"exactly 998", strings.Repeat("y", 998) + "\n", "7bit", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, viaReader := range []bool{false, true} {
				opts := ComposeOptions{From: mustAddr(t, "s@example.com"), Now: fixedNow, TempDir: t.TempDir()}
				if viaReader {
					opts.BodyReader = strings.NewReader(tt.body)
				} else {
					opts.Body = tt.body
				}
				p, err := Compose(opts)
				if err != nil {
					t.Fatal(err)
				}
				msg := content(t, p)
				p.Close()
				checkLines(t, msg)
				e, err := gomessage.Read(strings.NewReader(msg))
				if err != nil {
					t.Fatal(err)
				}
				if got := e.Header.Get("Content-Transfer-Encoding"); got != tt.enc {
					t.Errorf("encoding = %q, want %q", got, tt.enc)
				}
				if ct := e.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				body, _ := io.ReadAll(e.Body)
				want := strings.ReplaceAll(tt.body, "\n", "\r\n")
				if !strings.HasSuffix(want, "\r\n") {
					want += "\r\n"
				}
				if string(body) != want {
					t.Errorf("decoded body differs: got %d octets, want %d", len(body), len(want))
				}
				if p.EightBit != tt.eight {
					t.Errorf("EightBit = %v, want %v", p.EightBit, tt.eight)
				}
			}
		})
	}
}

// part is one leaf of a parsed MIME tree.
type part struct {
	path        string
	contentType string
	header      gomessage.Header
	body        string
}

func parseParts(t *testing.T, msg string) (gomessage.Header, []part) {
	t.Helper()
	e, err := gomessage.Read(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	top := e.Header
	var parts []part
	err = e.Walk(func(path []int, e *gomessage.Entity, err error) error {
		if err != nil {
			return err
		}
		ct, _, _ := e.Header.ContentType()
		if e.MultipartReader() != nil {
			parts = append(parts, part{path: fmt.Sprint(path), contentType: ct})
			return nil
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			return err
		}
		parts = append(parts, part{path: fmt.Sprint(path), contentType: ct, header: e.Header, body: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return top, parts
}

func TestComposeAlternative(t *testing.T) {
	p, err := Compose(ComposeOptions{
		From: mustAddr(t, "s@example.com"),
		To:   []Address{mustAddr(t, "r@example.net")},
		Body: "plain text\n",
		HTML: strings.NewReader("<p>Grüße</p>\n"),
		Now:  fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := content(t, p)
	checkLines(t, msg)
	_, parts := parseParts(t, msg)
	want := []struct{ path, ct, body string }{
		{"[]", "multipart/alternative", ""},
		{"[0]", "text/plain", "plain text\r\n"},
		{"[1]", "text/html", "<p>Grüße</p>\r\n"},
	}
	if len(parts) != len(want) {
		t.Fatalf("got %d parts, want %d: %+v", len(parts), len(want), parts)
	}
	for i, w := range want {
		if parts[i].path != w.path || parts[i].contentType != w.ct || parts[i].body != w.body {
			t.Errorf("part %d = %s %s %q; want %s %s %q", i, parts[i].path, parts[i].contentType, parts[i].body, w.path, w.ct, w.body)
		}
	}
	if got := parts[2].header.Get("Content-Transfer-Encoding"); got != "8bit" {
		t.Errorf("html encoding = %q, want 8bit", got)
	}
	if !p.EightBit {
		t.Error("EightBit not set for an 8bit html part")
	}
}

func TestComposeAttachments(t *testing.T) {
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + strings.Repeat("\x00\xff", 300))
	pdf := []byte("%PDF-1.4\n%âãÏÓ\n1 0 obj\n")
	text := []byte("plain notes\n")
	files := map[string][]byte{
		"logo.png":        png,
		"report.unknownx": pdf, // no known extension: sniffed
		"data.bin":        {0, 1, 2, 3, 250},
		"notes.txt":       text,
		"Überblick.txt":   text,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Compose(ComposeOptions{
		From: mustAddr(t, "s@example.com"),
		To:   []Address{mustAddr(t, "r@example.net")},
		Body: "see attached\n",
		HTML: strings.NewReader(`<img src="cid:logo.png@smtpkit">`),
		Attach: []Attachment{
			{Path: filepath.Join(dir, "logo.png"), Inline: true},
			{Path: filepath.Join(dir, "report.unknownx")},
			{Path: filepath.Join(dir, "data.bin"), ContentType: "application/x-custom"},
			{Path: filepath.Join(dir, "notes.txt")},
			{Path: filepath.Join(dir, "Überblick.txt")},
			{Path: filepath.Join(dir, "logo.png"), Inline: true},
		},
		Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := content(t, p)
	checkLines(t, msg)
	if p.UTF8Headers {
		t.Error("UTF8Headers set: the non-ASCII file name must be RFC 2231 encoded")
	}
	top, parts := parseParts(t, msg)
	if ct, _, _ := top.ContentType(); ct != "multipart/mixed" {
		t.Errorf("top Content-Type = %q", ct)
	}
	want := []struct {
		path, ct, filename, disp, cid string
		body                          []byte
	}{
		{"[]", "multipart/mixed", "", "", "", nil},
		{"[0]", "multipart/alternative", "", "", "", nil},
		{"[0 0]", "text/plain", "", "", "", []byte("see attached\r\n")},
		{"[0 1]", "text/html", "", "", "", []byte("<img src=\"cid:logo.png@smtpkit\">\r\n")},
		{"[1]", "image/png", "logo.png", "inline", "<logo.png@smtpkit>", png},
		{"[2]", "application/pdf", "report.unknownx", "attachment", "", pdf},
		{"[3]", "application/x-custom", "data.bin", "attachment", "", files["data.bin"]},
		{"[4]", "text/plain", "notes.txt", "attachment", "", text},
		{"[5]", "text/plain", "Überblick.txt", "attachment", "", text},
		{"[6]", "image/png", "logo.png", "inline", "<logo.png-2@smtpkit>", png},
	}
	if len(parts) != len(want) {
		t.Fatalf("got %d parts, want %d", len(parts), len(want))
	}
	for i, w := range want {
		got := parts[i]
		if got.path != w.path || got.contentType != w.ct {
			t.Errorf("part %d = %s %s, want %s %s", i, got.path, got.contentType, w.path, w.ct)
		}
		if w.body == nil {
			continue
		}
		if got.body != string(w.body) {
			t.Errorf("part %s body = %q, want %q", w.path, got.body, w.body)
		}
		if w.filename == "" {
			continue
		}
		ah := mail.AttachmentHeader{Header: got.header}
		if name, err := ah.Filename(); err != nil || name != w.filename {
			t.Errorf("part %s filename = %q, %v; want %q", w.path, name, err, w.filename)
		}
		if disp, _, _ := got.header.ContentDisposition(); disp != w.disp {
			t.Errorf("part %s disposition = %q, want %q", w.path, disp, w.disp)
		}
		if cid := got.header.Get("Content-ID"); cid != w.cid {
			t.Errorf("part %s Content-ID = %q, want %q", w.path, cid, w.cid)
		}
		if enc := got.header.Get("Content-Transfer-Encoding"); enc != "base64" {
			t.Errorf("part %s encoding = %q", w.path, enc)
		}
	}
}

func TestComposeAttachmentOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(path, []byte("x"), 0o600)
	p, err := Compose(ComposeOptions{From: mustAddr(t, "s@example.com"), Attach: []Attachment{{Path: path}}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, parts := parseParts(t, content(t, p))
	if len(parts) != 3 || parts[1].contentType != "text/plain" || parts[1].body != DefaultBody[:len(DefaultBody)-1]+"\r\n" || parts[2].body != "x" {
		t.Errorf("parts = %+v", parts)
	}
}

func TestComposeErrors(t *testing.T) {
	from := mustAddr(t, "s@example.com")
	missing := filepath.Join(t.TempDir(), "missing.pdf")
	tests := []struct {
		name   string
		opts   ComposeOptions
		reason string // "" means a *os.PathError
	}{
		{"missing attachment", ComposeOptions{From: from, Attach: []Attachment{{Path: missing}}}, ""},
		{"subject injection", ComposeOptions{From: from, Subject: "hi\r\nBcc: x@example.com"}, "subject contains a line break"},
		{"name injection", ComposeOptions{From: from, FromName: "a\nb"}, "display name contains a line break"},
		{"control", ComposeOptions{From: from, Subject: "a\x1bb"}, "subject contains a control character"},
		{"null from", ComposeOptions{}, "the sender is <>, so a From header is needed"},
		{"bad header", ComposeOptions{From: from, Headers: []string{"X"}}, `missing ":" (want "Name: value")`},
		{"bad content type", ComposeOptions{From: from, Attach: []Attachment{{Path: "compose_test.go", ContentType: "not a type"}}}, `invalid content type "not a type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compose(tt.opts)
			if tt.reason == "" {
				var pe *os.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *os.PathError", err)
				}
				return
			}
			var me *MessageError
			if !errors.As(err, &me) || me.Reason != tt.reason {
				t.Fatalf("err = %v, want reason %q", err, tt.reason)
			}
		})
	}
}

func TestComposeHeaderEdits(t *testing.T) {
	// A null sender with a From header given by hand is fine.
	p, err := Compose(ComposeOptions{
		To:      []Address{mustAddr(t, "r@example.net")},
		Headers: []string{"From: Postmaster <postmaster@example.com>", "subject: replaced", "X-Test: 1"},
		Now:     fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := content(t, p)
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	if strings.Count(head, "ubject:") != 1 || !strings.Contains(head, "\r\nsubject: replaced\r\n") {
		t.Errorf("Subject not replaced in place:\n%s", head)
	}
	if !strings.HasSuffix(head, "X-Mailer: smtpkit\r\nFrom: Postmaster <postmaster@example.com>\r\nX-Test: 1") {
		t.Errorf("added fields not at the end:\n%s", head)
	}
	if s := p.Summary(); s.From != "Postmaster <postmaster@example.com>" || s.Subject != "replaced" {
		t.Errorf("Summary() = %+v", s)
	}
}

func TestComposeBigBodyUsesTempFile(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("a line of text\n"), 50000)
	p, err := Compose(ComposeOptions{
		From:       mustAddr(t, "s@example.com"),
		BodyReader: bytes.NewReader(body),
		TempDir:    dir,
		Now:        fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp dir holds %d files, want the composed message only", len(entries))
	}
	msg := content(t, p)
	if !strings.HasSuffix(msg, "\r\n\r\n"+strings.ReplaceAll(string(body), "\n", "\r\n")) {
		t.Error("body not intact")
	}
	p.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temp files left: %v", entries)
	}
}
