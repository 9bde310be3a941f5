package spool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/message"
)

// fuzzID names the entry whose files FuzzSpoolEntry writes.
const fuzzID = "18F3A2B4C5D6E7F801020304"

// bareLineEnding reports a CR not before LF or an LF not after CR.
func bareLineEnding(b []byte) bool {
	return bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\r")) ||
		bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n"))
}

// treeOf lists every path under dir with its content.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzSpoolEntry reads an entry back from arbitrary state and message
// files and flushes it, as `relay flush` would after a crash, a disk error
// or a hand edit. Get gives the entry or an *Error; the entry is the one
// its file names; a flush attempts only its pending recipients, touches
// nothing outside queue/ and tmp/ (whatever the state says its ID is),
// leaves tmp/ empty, and the reports it queues are well-formed messages:
// CRLF only (when the original message was), one each of From, To,
// Subject, Date and Message-ID, no field broken by a line break taken
// from the state.
func FuzzSpoolEntry(f *testing.F) {
	good := `{"id":"` + fuzzID + `","created":"2026-03-01T12:00:00Z","sender":"a@example.net","size":10,` +
		`"recipients":[{"addr":"b@example.com","status":"queued","attempts":0,"next_attempt":"2026-03-01T12:00:00Z"}]}`
	msg := "From: <a@example.net>\r\nSubject: hi\r\n\r\nbody\r\n"
	for _, s := range []struct{ state, msg string }{
		{good, msg},
		{strings.Replace(good, `"queued"`, `"failed"`, 1), msg},
		{strings.Replace(good, `"id":"`+fuzzID, `"id":"../../escape`, 1), msg},
		{strings.Replace(good, `a@example.net`, `a@x\r\nBcc: victim@example.org`, 1), msg},
		{strings.Replace(good, `"queued"`, `"failed","remote_mta":"mx\r\nX-Injected: 1","enhanced":"5.1.1\r\nX: y","addr":"c@x\r\nAction: delivered"`, 1), msg},
		{strings.Replace(good, `"size":10`, `"size":10,"ret":"FULL","envid":"e\r\nX: 1"`, 1), msg},
		{strings.Replace(good, `"recipients":[`, `"recipients":[{"addr":"","status":"bogus"},`, 1), "no header\n\x00\r"},
		{`{"id":"` + fuzzID + `","recipients":null}`, ""},
		{`{}`, msg}, {`[]`, msg}, {`null`, msg}, {``, msg}, {`{"id":1}`, msg},
	} {
		f.Add([]byte(s.state), []byte(s.msg), true)
		f.Add([]byte(s.state), []byte(s.msg), false)
	}
	now := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, state, msg []byte, fail bool) {
		root := t.TempDir()
		dir := filepath.Join(root, "spool")
		s, err := Open(dir, Options{Now: func() time.Time { return now }, Hostname: "relay.test", NotifyDelay: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{fuzzID + ".json": state, fuzzID + ".msg": msg} {
			if err := os.WriteFile(filepath.Join(dir, "queue", name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Bait outside the queue, where a state naming "../x" would point.
		for _, p := range []string{"escape.json", "escape.msg", "spool/escape.json", "spool/escape.msg"} {
			if err := os.WriteFile(filepath.Join(root, p), []byte("bait"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		e, err := s.Get(fuzzID)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Get: %v, want an *Error", err)
			}
			return
		}
		if e.ID != fuzzID {
			t.Fatalf("Get(%q) returned entry %q", fuzzID, e.ID)
		}
		pending := map[string]bool{}
		for _, r := range e.Pending() {
			pending[r.Addr] = true
		}
		var reports [][]byte
		attempt := func(_ context.Context, from string, rcpts []string, m *message.Prepared, _ DSNParams) []Outcome {
			rc, err := m.Open()
			if err != nil {
				t.Errorf("open message: %v", err)
				return nil
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			var out []Outcome
			for _, r := range rcpts {
				st := Deferred
				if fail {
					st = Failed
				}
				out = append(out, Outcome{Recipient: r, Status: st, Code: 550, Enhanced: "5.1.1", Reason: "550 5.1.1 no", RemoteMTA: "mx.test"})
			}
			if from == "" && bytes.Contains(body, []byte("X-Smtpkit-Queue-ID: "+fuzzID)) {
				reports = append(reports, body)
				return nil // the report stays queued
			}
			for _, r := range rcpts {
				if !pending[r] {
					t.Errorf("attempted %q, not a pending recipient of %+v", r, e)
				}
			}
			return out
		}
		if _, err := s.Flush(context.Background(), attempt, FlushOptions{All: true, Concurrency: 1}); err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Flush: %v", err)
			}
		}
		for p, content := range treeOf(t, root) {
			rel, _ := filepath.Rel(root, p)
			switch {
			case strings.HasSuffix(rel, "escape.json"), strings.HasSuffix(rel, "escape.msg"):
				if content != "bait" {
					t.Fatalf("%s was written: %q", rel, content)
				}
			case strings.HasPrefix(rel, "spool/queue/"):
			default:
				t.Fatalf("flush left %s", rel)
			}
		}
		for _, p := range []string{"escape.json", "escape.msg", "spool/escape.json", "spool/escape.msg"} {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Fatalf("%s removed: %v", p, err)
			}
		}
		for _, b := range reports {
			checkReport(t, b, !bareLineEnding(msg) && !bytes.Contains(msg, []byte{0}))
		}
	})
}

// checkReport checks a delivery status notification the spool generated.
func checkReport(t *testing.T, b []byte, cleanOriginal bool) {
	t.Helper()
	if cleanOriginal && (bareLineEnding(b) || bytes.Contains(b, []byte{0})) {
		t.Fatalf("report with a bare CR or LF, or NUL:\n%s", b)
	}
	head, _, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("report without a header section:\n%s", b)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(string(head), "\r\n") {
		name, _, ok := strings.Cut(line, ":")
		if !ok || line[0] == ' ' || line[0] == '\t' {
			t.Fatalf("report header line %q is not a field", line)
		}
		seen[strings.ToLower(name)]++
	}
	for _, name := range []string{"received", "from", "to", "subject", "date", "message-id", "content-type", "mime-version"} {
		if seen[name] != 1 {
			t.Fatalf("report has %d %s fields:\n%s", seen[name], name, head)
		}
	}
	if len(seen) != 9 { // and Auto-Submitted
		t.Fatalf("report header fields %v:\n%s", seen, head)
	}
	// The delivery-status part: field lines only, in groups.
	_, rest, _ := bytes.Cut(b, []byte("Content-Type: message/delivery-status\r\n"))
	part, _, _ := bytes.Cut(rest, []byte("\r\n--=_smtpkit_"))
	for _, line := range strings.Split(string(part), "\r\n") {
		if line == "" {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || strings.ContainsAny(name, " \t") && !strings.HasPrefix(name, "Content-") {
			t.Fatalf("delivery-status line %q is not a field:\n%s", line, part)
		}
		switch strings.ToLower(name) {
		case "content-description", "original-envelope-id", "reporting-mta", "x-smtpkit-queue-id", "arrival-date",
			"original-recipient", "final-recipient", "action", "status", "remote-mta", "diagnostic-code",
			"last-attempt-date", "will-retry-until":
		default:
			t.Fatalf("delivery-status field %q (from a line break in the state?):\n%s", name, part)
		}
	}
}

// refBreakLines is lineBreaker done the plain way, a line at a time.
func refBreakLines(in []byte) ([]byte, int) {
	var out []byte
	breaks := 0
	for len(in) > 0 {
		seg := in
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			seg, in = in[:i+1], in[i+1:]
		} else {
			in = nil
		}
		core, tail := seg, []byte(nil)
		if bytes.HasSuffix(core, []byte("\n")) {
			core, tail = core[:len(core)-1], []byte("\n")
		}
		if bytes.HasSuffix(core, []byte("\r")) {
			core, tail = core[:len(core)-1], append([]byte("\r"), tail...)
		}
		for len(core) > MaxLineOctets {
			k := MaxLineOctets
			for k > MaxLineOctets-3 && core[k]&0xC0 == 0x80 {
				k--
			}
			out = append(append(out, core[:k]...), "\r\n"...)
			core = append([]byte{' '}, core[k:]...)
			breaks++
		}
		out = append(append(out, core...), tail...)
	}
	return out, breaks
}

// FuzzLineBreaker: the spool's line breaker gives what breaking each line
// on its own gives, however the message is cut into writes, so no stored
// line exceeds 998 octets and nothing but the breaks is added.
func FuzzLineBreaker(f *testing.F) {
	long := strings.Repeat("x", 997)
	for _, s := range []string{"", "a\r\nb\r\n", long + "yz\r\n", long + "y\r\r\n", long + "y\rz\n", long + "é\r\n",
		long + "\xf0\x9f\x98\x80\r\n", strings.Repeat("é", 1200), long + "yy\r", strings.Repeat("a\r", 800) + "\n"} {
		f.Add([]byte(s), []byte{1, 7, 200})
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		want, breaks := refBreakLines(in)
		var out bytes.Buffer
		lb := newLineBreaker(&out)
		rest := in
		for _, c := range cuts {
			n := min(int(c)*16, len(rest))
			if _, err := lb.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if _, err := lb.Write(rest); err != nil {
			t.Fatal(err)
		}
		if err := lb.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) || lb.Broken != breaks || lb.out != int64(out.Len()) {
			t.Fatalf("broke %d times into %d octets (counted %d), want %d times, %d octets", lb.Broken, out.Len(), lb.out, breaks, len(want))
		}
		for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
			if len(bytes.TrimSuffix(line, []byte("\r"))) > MaxLineOctets {
				t.Fatalf("a line of %d octets", len(line))
			}
		}
	})
}
