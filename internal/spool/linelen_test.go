package spool

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// breakLines runs in through a lineBreaker, written in chunks of size.
func breakLines(t *testing.T, in string, size int) (string, int) {
	t.Helper()
	var out bytes.Buffer
	lb := newLineBreaker(&out)
	for p := []byte(in); len(p) > 0; {
		n := min(size, len(p))
		if w, err := lb.Write(p[:n]); err != nil || w != n {
			t.Fatalf("write: %d, %v", w, err)
		}
		p = p[n:]
	}
	if err := lb.Flush(); err != nil {
		t.Fatal(err)
	}
	if lb.out != int64(out.Len()) {
		t.Errorf("out %d, wrote %d", lb.out, out.Len())
	}
	return out.String(), lb.Broken
}

// checkLines fails t when a line of s (CRLF separated) is over 998 octets.
func checkLines(t *testing.T, s string) {
	t.Helper()
	for i, l := range strings.Split(s, "\r\n") {
		if len(l) > MaxLineOctets {
			t.Errorf("line %d: %d octets", i+1, len(l))
		}
		if strings.ContainsAny(l, "\n") {
			t.Errorf("line %d holds a bare LF", i+1)
		}
	}
}

// TestLineBreaker: lines up to 998 octets pass unchanged; longer ones are
// broken after 998 octets with CRLF SPACE (again every 997 octets of the
// rest); the same whatever the chunking of the input.
func TestLineBreaker(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name, in, want string
		broken         int
	}{
		{"short", "a: b\r\n\r\nbody\r\n", "a: b\r\n\r\nbody\r\n", 0},
		{"998", x(998) + "\r\n", x(998) + "\r\n", 0},
		{"999", x(999) + "\r\n", x(998) + "\r\n x\r\n", 1},
		{"1500 body", "S: a\r\n\r\n" + x(1500) + "\r\nend\r\n", "S: a\r\n\r\n" + x(998) + "\r\n " + x(502) + "\r\nend\r\n", 1},
		{"3000", x(3000) + "\r\n", x(998) + "\r\n " + x(997) + "\r\n " + x(997) + "\r\n " + x(8) + "\r\n", 3},
		{"header folded", "Subject: " + x(1200) + "\r\n\r\nb\r\n", ("Subject: " + x(1200))[:998] + "\r\n " + ("Subject: " + x(1200))[998:] + "\r\n\r\nb\r\n", 1},
		{"no final CRLF", x(1000), x(998) + "\r\n xx", 1},
		// A 3-octet UTF-8 sequence at 997..999 moves the break back to 997.
		{"utf8", x(997) + "€" + "y\r\n", x(997) + "\r\n €y\r\n", 1},
	}
	for _, c := range cases {
		for _, size := range []int{1, 7, 999, 32 << 10} {
			got, broken := breakLines(t, c.in, size)
			if got != c.want || broken != c.broken {
				t.Errorf("%s (chunks of %d): got %q (%d breaks), want %q (%d)", c.name, size, got, broken, c.want, c.broken)
				continue
			}
			checkLines(t, got)
		}
	}
}

// TestEnqueueBreaksLongLines: Enqueue stores a 1500-octet line broken in
// two, streaming (one octet at a time works), and Size is what it stored.
func TestEnqueueBreaksLongLines(t *testing.T) {
	s := openSpool(t, t.TempDir(), newClock(), Options{})
	long := strings.Repeat("0123456789", 150)
	msg := "From: <a@example.net>\r\nSubject: long\r\n\r\n" + long + "\r\nbye\r\n"
	e, err := s.Enqueue(context.Background(), iotest.OneByteReader(strings.NewReader(msg)), "a@example.net", []string{"b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.MessagePath(e.ID))
	if err != nil {
		t.Fatal(err)
	}
	want := stored(s, e, "From: <a@example.net>\r\nSubject: long\r\n\r\n"+long[:998]+"\r\n "+long[998:]+"\r\nbye\r\n")
	if string(b) != want {
		t.Errorf("stored %q", b)
	}
	if e.Size != int64(len(want)) {
		t.Errorf("Size %d, want %d", e.Size, len(want))
	}
	checkLines(t, string(b))
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// TestLineBreakerWriteError: a failing writer's error comes back.
func TestLineBreakerWriteError(t *testing.T) {
	lb := newLineBreaker(errWriter{})
	if _, err := lb.Write([]byte("short\r\n")); err != io.ErrShortWrite {
		t.Errorf("fast path: %v", err)
	}
	lb = newLineBreaker(errWriter{})
	if _, err := lb.Write([]byte(strings.Repeat("x", 1200))); err != io.ErrShortWrite {
		t.Errorf("break: %v", err)
	}
}
