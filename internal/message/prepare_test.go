package message

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// content opens p, reads it all, and checks it against Size.
func content(t *testing.T, p *Prepared) string {
	t.Helper()
	r, err := p.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if int64(len(b)) != p.Size {
		t.Errorf("Open returned %d octets, Size is %d", len(b), p.Size)
	}
	return string(b)
}

func writeFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFromFileLineEndings(t *testing.T) {
	const want = "From: a@example.com\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n"
	tests := []struct {
		name, in, want string
		eight, utf8hdr bool
	}{
		{"crlf", "From: a@example.com\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n", want, false, false},
		{"lf", "From: a@example.com\nSubject: hi\n\nline 1\nline 2\n", want, false, false},
		{"bare cr", "From: a@example.com\rSubject: hi\r\rline 1\rline 2\r", want, false, false},
		{"mixed", "From: a@example.com\r\nSubject: hi\n\rline 1\r\nline 2\n", want, false, false},
		{"no final newline", "From: a@example.com\nSubject: hi\n\nline 1\nline 2", want, false, false},
		{"cr then crlf", "From: a@example.com\n\nx\r\r\ny", "From: a@example.com\r\n\r\nx\r\n\r\ny\r\n", false, false},
		{"folded", "Subject: a\n b\n\nx\n", "Subject: a\r\n b\r\n\r\nx\r\n", false, false},
		{"8bit body", "Subject: hi\n\nGrüße\n", "Subject: hi\r\n\r\nGrüße\r\n", true, false},
		{"8bit header", "Subject: Grüße\n\nhi\n", "Subject: Grüße\r\n\r\nhi\r\n", true, true},
		{"header only", "Subject: hi\nFrom: a@example.com", "Subject: hi\r\nFrom: a@example.com\r\n\r\n", false, false},
		{"empty header", "\nbody\n", "\r\nbody\r\n", false, false},
		{"non-field line ends header", "Subject: hi\nnot a field\nbody\n", "Subject: hi\r\nnot a field\r\nbody\r\n", false, false},
		{"obsolete space before colon", "Subject : hi\n\nx\n", "Subject : hi\r\n\r\nx\r\n", false, false},
		{"dots and NUL pass through", "Subject: hi\n\n.\n..x\na\x00b\n", "Subject: hi\r\n\r\n.\r\n..x\r\na\x00b\r\n", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"file", "reader"} {
				var p *Prepared
				var err error
				if mode == "file" {
					p, err = FromFile(writeFile(t, tt.in), DataOptions{})
				} else {
					p, err = FromReader(strings.NewReader(tt.in), DataOptions{TempDir: t.TempDir()})
				}
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if got := content(t, p); got != tt.want {
					t.Errorf("%s: content = %q, want %q", mode, got, tt.want)
				}
				if p.Size != int64(len(tt.want)) {
					t.Errorf("%s: Size = %d, want %d", mode, p.Size, len(tt.want))
				}
				if p.EightBit != tt.eight || p.UTF8Headers != tt.utf8hdr {
					t.Errorf("%s: EightBit, UTF8Headers = %v, %v; want %v, %v", mode, p.EightBit, p.UTF8Headers, tt.eight, tt.utf8hdr)
				}
				// A second Open gives the same content again.
				if got := content(t, p); got != tt.want {
					t.Errorf("%s: second Open = %q", mode, got)
				}
				if err := p.Close(); err != nil {
					t.Errorf("%s: Close: %v", mode, err)
				}
			}
		})
	}
}

func TestFromFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := FromFile(filepath.Join(dir, "missing.eml"), DataOptions{})
	var pe *os.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want a wrapped *os.PathError", err)
	}

	tests := []struct{ name, in, reason string }{
		{"empty", "", "empty message"},
		{"no header", "hello world\nmore\n", "no header section (line 1 is not a header field)"},
		{"mbox", "From a@example.com Mon Jan  1 00:00:00 2024\nSubject: x\n\n", `no header section (line 1 is an mbox "From " line, not a header field)`},
		{"continuation first", " folded\nSubject: x\n\n", "no header section (line 1 is not a header field)"},
		{"huge header", "X-Big: " + strings.Repeat("a", 1<<20) + "\n\nbody\n", "header section larger than 1 MiB"},
		{"huge header no newline", "X-Big: " + strings.Repeat("a", 3<<20), "header section larger than 1 MiB"},
		{"many fields", strings.Repeat("X-A: 0123456789012345678901234567890123456789\n", 30000) + "\nx\n", "header section larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.in)
			for _, mode := range []string{"file", "reader"} {
				var err error
				if mode == "file" {
					_, err = FromFile(path, DataOptions{})
				} else {
					_, err = FromReader(strings.NewReader(tt.in), DataOptions{})
				}
				var me *MessageError
				if !errors.As(err, &me) {
					t.Fatalf("%s: err = %v, want *MessageError", mode, err)
				}
				if me.Reason != tt.reason {
					t.Errorf("%s: reason = %q, want %q", mode, me.Reason, tt.reason)
				}
			}
		})
	}

	if _, err := FromFile(dir, DataOptions{}); !errors.As(err, &pe) {
		t.Errorf("directory: %v, want a wrapped *os.PathError", err)
	}
}

func TestMessageErrorText(t *testing.T) {
	path := writeFile(t, "")
	_, err := FromFile(path, DataOptions{})
	if got, want := err.Error(), "message "+path+": empty message"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestHeaderEditsOnData(t *testing.T) {
	const in = "Received: from x\nSubject: old\nX-Tag: one\nx-tag: two\n\tcontinued\nFrom: a@example.com\n\nbody\n"
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, "Received: from x\r\nSubject: old\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\n\r\nbody\r\n"},
		{"replace", []string{"subject: new one"},
			"Received: from x\r\nsubject: new one\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\n\r\nbody\r\n"},
		{"replace all occurrences", []string{"X-TAG: three"},
			"Received: from x\r\nSubject: old\r\nX-TAG: three\r\nFrom: a@example.com\r\n\r\nbody\r\n"},
		{"add", []string{"X-New: yes", "Reply-To: r@example.com"},
			"Received: from x\r\nSubject: old\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\nX-New: yes\r\nReply-To: r@example.com\r\n\r\nbody\r\n"},
		{"later edit wins", []string{"X-New: 1", "X-New: 2"},
			"Received: from x\r\nSubject: old\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\nX-New: 2\r\n\r\nbody\r\n"},
		{"empty value", []string{"Subject:"},
			"Received: from x\r\nSubject:\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\n\r\nbody\r\n"},
		{"utf-8 value", []string{"Subject: Grüße"},
			"Received: from x\r\nSubject: Grüße\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\n\r\nbody\r\n"},
		{"folded", []string{"X-Long: " + strings.Repeat("word ", 30)},
			"Received: from x\r\nSubject: old\r\nX-Tag: one\r\nx-tag: two\r\n\tcontinued\r\nFrom: a@example.com\r\n" +
				"X-Long: word word word word word word word word word word word word word word\r\n" +
				" word word word word word word word word word word word word word word word\r\n" +
				" word\r\n\r\nbody\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"file", "reader"} {
				opts := DataOptions{Headers: tt.headers, TempDir: t.TempDir()}
				var p *Prepared
				var err error
				if mode == "file" {
					p, err = FromFile(writeFile(t, in), opts)
				} else {
					p, err = FromReader(strings.NewReader(in), opts)
				}
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if got := content(t, p); got != tt.want {
					t.Errorf("%s: content =\n%q\nwant\n%q", mode, got, tt.want)
				}
				if p.UTF8Headers != (tt.name == "utf-8 value") {
					t.Errorf("%s: UTF8Headers = %v", mode, p.UTF8Headers)
				}
				p.Close()
			}
		})
	}
}

func TestHeaderEditErrors(t *testing.T) {
	path := writeFile(t, "Subject: x\n\nbody\n")
	tests := []struct{ header, reason string }{
		{"NoColon", `missing ":" (want "Name: value")`},
		{": value", "empty field name"},
		{"Bad Name: v", "field name must be printable ascii without spaces"},
		{"X-Inject: a\r\nBcc: evil@example.com", "value contains a line break"},
		{"X-Inject: a\nb", "value contains a line break"},
		{"X-Nul: a\x00b", "value contains a control character"},
		{"X-Long: " + strings.Repeat("a", 1000), "a word longer than 998 octets cannot be folded (RFC 5322 2.1.1)"},
	}
	for _, tt := range tests {
		_, err := FromFile(path, DataOptions{Headers: []string{tt.header}})
		var me *MessageError
		if !errors.As(err, &me) || me.Reason != tt.reason {
			t.Errorf("header %q: err = %v, want reason %q", tt.header, err, tt.reason)
		}
		if verr := ValidateHeader(tt.header); verr == nil || verr.Error() != err.Error() {
			t.Errorf("ValidateHeader(%q) = %v, want %v", tt.header, verr, err)
		}
	}
	if err := ValidateHeader("X-Ok: fine\tvalue"); err != nil {
		t.Errorf("ValidateHeader: %v", err)
	}
}

func TestFormatFieldLimits(t *testing.T) {
	// A long word is kept whole on its own line when it fits in 998.
	word := strings.Repeat("b", 900)
	raw, err := formatField("X-Word", "a "+word+" c")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), "X-Word: a\r\n "+word+"\r\n c\r\n"; got != want {
		t.Errorf("formatField = %q, want %q", got, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
		if len(line) > hardLineLen {
			t.Errorf("line of %d octets", len(line))
		}
	}
}

func TestFileChangedAfterScan(t *testing.T) {
	path := writeFile(t, "Subject: x\n\nbody\n")
	p, err := FromFile(path, DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := os.WriteFile(path, []byte("Subject: x\n\nlonger body\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now(), time.Now().Add(time.Hour))
	_, err = p.Open()
	var me *MessageError
	if !errors.As(err, &me) || me.Reason != "file changed since it was read" {
		t.Errorf("Open after change: %v", err)
	}
	// The user's file is never removed by Close.
	p.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("user's file gone after Close: %v", err)
	}
}

func TestTempFileLifecycle(t *testing.T) {
	dir := t.TempDir()
	big := "Subject: big\n\n" + strings.Repeat("0123456789abcdef\n", 40000) // > memLimit
	p, err := FromReader(strings.NewReader(big), DataOptions{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp dir holds %d files, want 1", len(entries))
	}
	st, err := os.Stat(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("temp file mode %v, want 0600", st.Mode().Perm())
	}
	want := strings.ReplaceAll(big, "\n", "\r\n")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Open()
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			if string(b) != want {
				t.Error("concurrent Open returned different content")
			}
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temp file left after Close: %v", entries)
	}
	if _, err := p.Open(); err == nil {
		t.Error("Open after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A failed FromReader leaves nothing behind either.
	_, err = FromReader(io.MultiReader(strings.NewReader(big), errReaderAfter{}), DataOptions{TempDir: dir})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("read error = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temp file left after a failed read: %v", entries)
	}

	// A temp dir that does not exist gives an *IOError, not a *PathError.
	_, err = FromReader(strings.NewReader(big), DataOptions{TempDir: filepath.Join(dir, "nope")})
	var ie *IOError
	var pe *os.PathError
	if !errors.As(err, &ie) || errors.As(err, &pe) {
		t.Errorf("missing temp dir: %v (%T), want *IOError only", err, err)
	}
}

type errReaderAfter struct{}

func (errReaderAfter) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestSummary(t *testing.T) {
	in := "From: =?utf-8?q?J=C3=B6rg?= <j@example.com>\nTo: a@example.com,\n b@example.com\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= all\nDate: Mon, 02 Jan 2006 15:04:05 -0700\nMessage-ID: <1@x>\nSubject: second\n\nbody\n"
	p, err := FromReader(strings.NewReader(in), DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		From:      "Jörg <j@example.com>",
		To:        "a@example.com, b@example.com",
		Subject:   "Grüße all",
		Date:      "Mon, 02 Jan 2006 15:04:05 -0700",
		MessageID: "<1@x>",
	}
	if got := p.Summary(); got != want {
		t.Errorf("Summary() = %+v, want %+v", got, want)
	}
}

func TestNormalizedSize(t *testing.T) {
	tests := []struct {
		in    string
		size  int64
		eight bool
	}{
		{"", 0, false},
		{"a", 3, false},
		{"a\n", 3, false},
		{"a\r\n", 3, false},
		{"a\r", 3, false},
		{"a\n\n", 5, false},
		{"\r\r\n\n", 6, false},
		{"é\n", 4, true},
	}
	for _, tt := range tests {
		size, eight, err := NormalizedSize(strings.NewReader(tt.in))
		if err != nil || size != tt.size || eight != tt.eight {
			t.Errorf("NormalizedSize(%q) = %d, %v, %v; want %d, %v", tt.in, size, eight, err, tt.size, tt.eight)
		}
	}
}

// TestCRLFChunking feeds the converter one octet at a time and in odd
// chunks, so a CR at the end of a chunk is handled across reads.
func TestCRLFChunking(t *testing.T) {
	in := "a\rb\r\nc\nd\r\r\ne\n\rf\r"
	want := "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf\r\n"
	for _, size := range []int{1, 2, 3, 5, 64} {
		var out bytes.Buffer
		w := newCRLFWriter(&out)
		for s := in; s != ""; {
			n := min(size, len(s))
			w.Write([]byte(s[:n]))
			s = s[n:]
		}
		w.Close()
		if out.String() != want {
			t.Errorf("writer chunk %d: %q, want %q", size, out.String(), want)
		}
		got, _ := io.ReadAll(newCRLFReader(&oneByteReader{s: in}))
		if string(got) != want {
			t.Errorf("reader: %q, want %q", got, want)
		}
	}
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

// FuzzFromReader checks that any input either fails with a *MessageError or
// gives content of exactly Size octets with CRLF line endings only.
func FuzzFromReader(f *testing.F) {
	for _, s := range []string{
		"Subject: x\n\nbody\n", "\r\n", "From x\n", "A: b\r c\rd", " x", "X: y\n z\nnot\n\n",
		"Subject: é\r\n\r\n\x00\r\r\n.", "",
	} {
		f.Add(s, "X-Edit: v")
	}
	f.Fuzz(func(t *testing.T, in, header string) {
		opts := DataOptions{TempDir: t.TempDir()}
		if ValidateHeader(header) == nil {
			opts.Headers = []string{header}
		}
		p, err := FromReader(strings.NewReader(in), opts)
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("err %T %v, want *MessageError", err, err)
			}
			return
		}
		defer p.Close()
		got := content(t, p)
		if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\r") || strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
			t.Fatalf("bare CR or LF in %q", got)
		}
		if got != "" && !strings.HasSuffix(got, "\r\n") {
			t.Fatalf("content does not end with CRLF: %q", got)
		}
	})
}
