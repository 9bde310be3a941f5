package message

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-message/mail"
)

func writeAttachments(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMixed(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + strings.Repeat("\x00\xff", 300))
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("0123456789", 200))
	dir := writeAttachments(t, map[string][]byte{"logo.png": png, "report.pdf": pdf})
	as, err := LoadAttachments([]Attachment{
		{Path: filepath.Join(dir, "report.pdf")},
		{Path: filepath.Join(dir, "logo.png"), Inline: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The files are read once: the messages are built after they are gone.
	os.RemoveAll(dir)
	if as.Len() != 2 {
		t.Fatalf("Len %d, want 2", as.Len())
	}

	tests := []struct {
		name, msg     string
		ct, enc, body string
		// partHeader must be in the text part's header, topLacks not in
		// the message's.
		partHeader, topLacks string
	}{
		{"plain", "From: a@example.com\nTo: b@example.net\nSubject: Hi Ann\n\nDear Ann,\nhello.\n",
			"text/plain", "7bit", "Dear Ann,\r\nhello.\r\n", "", "Content-Transfer-Encoding"},
		{"utf-8", "From: a@example.com\r\nSubject: x\r\n\r\nGrüße\r\n",
			"text/plain", "8bit", "Grüße\r\n", "", ""},
		{"long line", "From: a@example.com\n\n" + strings.Repeat("x", 1200) + "\n",
			"text/plain", "quoted-printable", strings.Repeat("x", 1200) + "\r\n", "", ""},
		{"own content type", "From: a@example.com\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\nX-Row: 1\n\n<p>hi</p>\n",
			"text/html", "7bit", "<p>hi</p>\r\n", "Content-Transfer-Encoding", "Content-Transfer-Encoding"},
		{"no body", "From: a@example.com\nSubject: empty",
			"text/plain", "7bit", "", "", ""},
		{"disposition stays with the part", "From: a@example.com\nContent-Disposition: inline\n\nhi\n",
			"text/plain", "7bit", "hi\r\n", "Content-Disposition", "Content-Disposition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := as.Mixed([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			msg := string(out)
			checkLines(t, msg)
			top, parts := parseParts(t, msg)
			if ct, _, _ := top.ContentType(); ct != "multipart/mixed" {
				t.Errorf("top Content-Type %q", ct)
			}
			if got := top.Values("Mime-Version"); len(got) != 1 || got[0] != "1.0" {
				t.Errorf("MIME-Version fields %q, want one 1.0", got)
			}
			if v := top.Get("From"); v != "a@example.com" {
				t.Errorf("From %q: the template's fields must stay at the top", v)
			}
			if strings.Contains(tt.msg, "X-Row") && top.Get("X-Row") != "1" {
				t.Error("X-Row lost")
			}
			if tt.topLacks != "" && top.Get(tt.topLacks) != "" {
				t.Errorf("%s left at the top", tt.topLacks)
			}
			if len(parts) != 4 {
				t.Fatalf("%d parts, want 4: %+v", len(parts), parts)
			}
			text := parts[1]
			if text.contentType != tt.ct || text.header.Get("Content-Transfer-Encoding") != tt.enc || text.body != tt.body {
				t.Errorf("text part %s %s %q; want %s %s %q", text.contentType, text.header.Get("Content-Transfer-Encoding"), text.body, tt.ct, tt.enc, tt.body)
			}
			if tt.partHeader != "" && text.header.Get(tt.partHeader) == "" {
				t.Errorf("text part lacks %s", tt.partHeader)
			}
			if parts[2].contentType != "application/pdf" || parts[2].body != string(pdf) {
				t.Errorf("part 2: %s, %d octets", parts[2].contentType, len(parts[2].body))
			}
			ah := mail.AttachmentHeader{Header: parts[3].header}
			if name, _ := ah.Filename(); name != "logo.png" || parts[3].body != string(png) || parts[3].header.Get("Content-ID") != "<logo.png@smtpkit>" {
				t.Errorf("part 3: %q %q, %d octets", name, parts[3].header.Get("Content-ID"), len(parts[3].body))
			}
		})
	}

	// Each message gets its own boundary.
	a, _ := as.Mixed([]byte("From: a@example.com\n\nx\n"))
	b, _ := as.Mixed([]byte("From: a@example.com\n\nx\n"))
	if string(a) == string(b) {
		t.Error("two messages share a boundary")
	}

	var me *MessageError
	if _, err := as.Mixed([]byte("not a header\n\nbody\n")); !errors.As(err, &me) {
		t.Errorf("no header section: %v, want a *MessageError", err)
	}
}

func TestLoadAttachmentsErrors(t *testing.T) {
	var pe *os.PathError
	if _, err := LoadAttachments([]Attachment{{Path: filepath.Join(t.TempDir(), "none")}}); !errors.As(err, &pe) {
		t.Errorf("missing file: %v, want *os.PathError", err)
	}
	dir := writeAttachments(t, map[string][]byte{"a.txt": []byte("x")})
	var me *MessageError
	if _, err := LoadAttachments([]Attachment{{Path: filepath.Join(dir, "a.txt"), ContentType: "bad type;"}}); !errors.As(err, &me) {
		t.Errorf("bad content type: %v, want *MessageError", err)
	}
}

func TestDKIMSigner(t *testing.T) {
	dir := writeAttachments(t, map[string][]byte{"a.bin": []byte(strings.Repeat("\x00\x01binary", 500))})
	as, err := LoadAttachments([]Attachment{{Path: filepath.Join(dir, "a.bin")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range testKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			s, err := NewDKIMSigner(DKIMOptions{Domain: "example.com", Selector: "sel", KeyPath: k.path})
			if err != nil {
				t.Fatal(err)
			}
			// Concurrent rows share the signer; each message verifies.
			var wg sync.WaitGroup
			outs := make([][]byte, 4)
			for i := range outs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := []byte("From: a@example.com\nTo: b@example.net\nSubject: row " + strings.Repeat("x", i) + "\nX-Unsigned: 1\n\nbody  line \n\n")
					if i%2 == 1 {
						var err error
						if in, err = as.Mixed(in); err != nil {
							t.Error(err)
							return
						}
					}
					keep := string(in)
					out, err := s.Sign(in)
					if err != nil {
						t.Error(err)
						return
					}
					if string(in) != keep {
						t.Error("Sign modified its input")
					}
					outs[i] = out
				}()
			}
			wg.Wait()
			for i, out := range outs {
				msg := string(out)
				if !strings.HasPrefix(msg, "DKIM-Signature: ") {
					t.Fatalf("no signature in front:\n%s", msg)
				}
				checkLines(t, msg)
				v := verify(t, msg, "sel", k.txt)[0]
				keys := strings.ToLower(strings.Join(v.HeaderKeys, ":"))
				if strings.Contains(keys, "x-unsigned") || !strings.HasSuffix(keys, ":from") {
					t.Errorf("h= %q", keys)
				}
				if i%2 == 1 && !strings.Contains(keys, "content-type") {
					t.Errorf("h= %q does not sign the multipart Content-Type", keys)
				}
			}
		})
	}

	// A header-only message gets its blank line, and still verifies.
	k := testKeys(t)[2]
	s, err := NewDKIMSigner(DKIMOptions{Domain: "example.com", Selector: "sel", KeyPath: k.path})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign([]byte("From: a@example.com\nSubject: x"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), "Subject: x\r\n\r\n") {
		t.Errorf("header-only message not ended by a blank line: %q", out)
	}
	verify(t, string(out), "sel", k.txt)

	var me *MessageError
	if _, err := s.Sign([]byte("no header here\n")); !errors.As(err, &me) {
		t.Errorf("no header: %v, want *MessageError", err)
	}
	var ce *ConfigError
	if _, err := NewDKIMSigner(DKIMOptions{Domain: "example.com", KeyPath: k.path}); !errors.As(err, &ce) {
		t.Errorf("no selector: %v, want *ConfigError", err)
	}
	var pe *os.PathError
	if _, err := NewDKIMSigner(DKIMOptions{Domain: "example.com", Selector: "s", KeyPath: filepath.Join(t.TempDir(), "none")}); !errors.As(err, &pe) {
		t.Errorf("missing key: %v, want *os.PathError", err)
	}
}
