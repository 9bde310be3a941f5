package smtptest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// captureTB records Errorf calls instead of failing the test.
type captureTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (c *captureTB) Helper() {}

func (c *captureTB) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *captureTB) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

func writeAll(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, out)
		}
		out = append(out, l)
	}
	return out
}

func TestScriptPipe(t *testing.T) {
	conn, run := Script{
		Send("220 hi"),
		Expect("EHLO x"),
		Send("250-hi", "250 PIPELINING"),
		ExpectPrefix("MAIL FROM:"),
		ExpectMatch(`^RCPT TO:<[a-z]+@example\.org>$`),
		Expect("DATA"),
		Send("250 ok", "250 ok", "354 go"),
		ExpectData(),
		Send("250 queued"),
		ExpectBDAT(),
		Send("250 more"),
		ExpectBDAT(),
		Send("250 done"),
		Expect("QUIT"),
		Send("221 bye"),
		ExpectClose(),
	}.Pipe(t)
	br := bufio.NewReader(conn)
	readLines(t, br, 1)
	writeAll(t, conn, "EHLO x\r\n")
	if got := readLines(t, br, 2); !reflect.DeepEqual(got, []string{"250-hi\r\n", "250 PIPELINING\r\n"}) {
		t.Fatalf("EHLO reply %q", got)
	}
	group := "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
	writeAll(t, conn, group)
	readLines(t, br, 3)
	writeAll(t, conn, "Subject: x\r\n\r\n..dot\r\nlast\r\n.\r\n")
	readLines(t, br, 1)
	writeAll(t, conn, "BDAT 5\r\nab\r\nc")
	readLines(t, br, 1)
	writeAll(t, conn, "BDAT 3 LAST\r\nd\r\n")
	readLines(t, br, 1)
	writeAll(t, conn, "QUIT\r\n")
	readLines(t, br, 1)
	conn.Close()
	run.Wait()
	if run.Failed() {
		t.Fatal("script failed")
	}
	want := "EHLO x\r\n" + group + "Subject: x\r\n\r\n..dot\r\nlast\r\n.\r\nBDAT 5\r\nab\r\ncBDAT 3 LAST\r\nd\r\nQUIT\r\n"
	if got := string(run.Received()); got != want {
		t.Errorf("Received %q\nwant %q", got, want)
	}
	found := false
	for _, r := range run.Reads() {
		found = found || string(r) == group
	}
	if !found {
		t.Errorf("the pipelined group is not one read: %q", run.Reads())
	}
	if got := run.Bodies(); len(got) != 2 || string(got[0]) != "Subject: x\r\n\r\n.dot\r\nlast\r\n" || string(got[1]) != "ab\r\ncd\r\n" {
		t.Errorf("Bodies = %q", got)
	}
	CompareGolden(t, "smtptest/script.txt", run.Transcript())
}

func TestScriptFailures(t *testing.T) {
	tests := []struct {
		name   string
		script Script
		client string
		want   string
	}{
		{"wrong line", Script{Expect("EHLO x")}, "HELO x\r\n", `step 1 (expect "EHLO x") failed: want line "EHLO x"; last client line "HELO x\r\n"`},
		{"bare LF", Script{Expect("EHLO x")}, "EHLO x\n", "not terminated by CRLF"},
		{"prefix", Script{Send("220 hi"), ExpectPrefix("MAIL")}, "RCPT\r\n", `step 2 (expect prefix "MAIL")`},
		{"match", Script{ExpectMatch(`^A+$`)}, "AB\r\n", "want a line matching"},
		{"unexpected bytes at the end", Script{Expect("A")}, "A\r\nB\r\n", "3 unexpected bytes"},
		{"data without CRLF", Script{ExpectData()}, "line\n.\r\n", "body line not terminated by CRLF"},
		{"not BDAT", Script{ExpectBDAT()}, "DATA\r\n", "want a BDAT line"},
		{"closed early", Script{Expect("A"), Expect("B")}, "A\r\n", "step 2"},
		{"bytes before close", Script{ExpectClose()}, "X\r\n", "want the connection closed"},
		{"plaintext before TLS", Script{Expect("STARTTLS"), StartTLS(Cert(t).Server)}, "STARTTLS\r\nEHLO\r\n", "client sent 6 bytes before the TLS handshake"},
		{"not TLS at all", Script{StartTLS(Cert(t).Server)}, "EHLO\r\n", "TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &captureTB{TB: t}
			conn, run := tt.script.Pipe(tb)
			go io.Copy(io.Discard, conn)
			writeAll(t, conn, tt.client)
			conn.Close()
			run.Wait()
			errs := tb.errors()
			if len(errs) != 1 || !strings.Contains(errs[0], tt.want) || !run.Failed() {
				t.Fatalf("errors %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

func TestScriptTimeout(t *testing.T) {
	tb := &captureTB{TB: t}
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	run := newRun(tb)
	run.timeout = 50 * time.Millisecond
	go run.serve(Script{Expect("EHLO x")}, server)
	run.Wait()
	if errs := tb.errors(); len(errs) != 1 || !strings.Contains(errs[0], "timed out after 50ms") {
		t.Fatalf("errors %q", errs)
	}
}

func TestScriptStartTLSAndListen(t *testing.T) {
	certs := Cert(t)
	addr, run := Script{
		Send("220 hi"), Expect("STARTTLS"), Send("220 go ahead"), StartTLS(certs.Server),
		Expect("EHLO x"), Send("250 secure"), Close(),
	}.Listen(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	readLines(t, br, 1)
	writeAll(t, conn, "STARTTLS\r\n")
	readLines(t, br, 1)
	tc := tls.Client(conn, certs.Client("127.0.0.1"))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tc, "EHLO x\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, bufio.NewReader(tc), 1); got[0] != "250 secure\r\n" {
		t.Fatalf("got %q", got)
	}
	run.Wait()
	want := "S: 220 hi\nC: STARTTLS\nS: 220 go ahead\n== TLS started\nC: EHLO x\nS: 250 secure\n== server closed\n"
	if got := string(run.Transcript()); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	// A second connection to a script listener is closed at once.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("second connection read %d, %v", n, err)
	}
}

func TestExpectTLSRejected(t *testing.T) {
	certs := Cert(t)
	other := Cert(t)
	conn, run := Script{ExpectTLSRejected(certs.Server)}.Pipe(t)
	tc := tls.Client(conn, other.Client("localhost"))
	if err := tc.Handshake(); err == nil {
		t.Fatal("handshake with an unknown CA succeeded")
	}
	conn.Close()
	run.Wait()
}

func TestRender(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EHLO x\r\n", "C: EHLO x\n"},
		{"a\r\nb\r\n", "C: a\nC: b\n"},
		{"bare\n", "C: bare\\n\\\n"},
		{"cut", "C: cut\\\n"},
		{"\r\n", "C: \n"},
		{"tab\tback\\slash\x00\x7f\xc3\xa9\r\n", "C: tab\\tback\\\\slash\\x00\\x7f\xc3\xa9\n"},
		{"cr\rin\r\n", "C: cr\\rin\n"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(Render('C', []byte(tt.in))); got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestListenClosesOnCleanup(t *testing.T) {
	var addr string
	handled := make(chan struct{}, 1)
	t.Run("inner", func(t *testing.T) {
		addr = Listen(t, func(c net.Conn) {
			handled <- struct{}{}
			io.Copy(io.Discard, c) // returns once cleanup closes c
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-handled
	})
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("listener still open after cleanup")
	}
}

func TestCert(t *testing.T) {
	now := time.Now()
	verify := func(c *Certs, name string) error {
		_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: c.Pool, DNSName: name, CurrentTime: now})
		return err
	}
	good := Cert(t)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if err := verify(good, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := verify(good, "example.org"); err == nil {
		t.Error("valid for example.org")
	}
	if err := verify(ExpiredCert(t), "localhost"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	if err := verify(WrongNameCert(t), "localhost"); err == nil {
		t.Error("wrong name accepted")
	}
	custom := Cert(t, "mx.example.org", "192.0.2.1")
	if err := verify(custom, "mx.example.org"); err != nil {
		t.Error(err)
	}
	if err := verify(custom, "192.0.2.1"); err != nil {
		t.Error(err)
	}
	if good.Leaf.PublicKeyAlgorithm.String() != "ECDSA" || good.Key.Curve.Params().Name != "P-256" {
		t.Errorf("key %v %v", good.Leaf.PublicKeyAlgorithm, good.Key.Curve.Params().Name)
	}
	pair, err := tls.LoadX509KeyPair(good.CertFile, good.KeyFile)
	if err != nil || len(pair.Certificate) != 2 {
		t.Fatalf("PEM files: %v (%d certificates)", err, len(pair.Certificate))
	}
	if b, err := os.ReadFile(good.CAFile); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CA file: %v", err)
	}
	if filepath.Dir(good.CertFile) != filepath.Dir(good.CAFile) {
		t.Error("files are not together")
	}
}

func TestDiff(t *testing.T) {
	d := Diff([]byte("a\nb\nc\n"), []byte("a\nB\nc\n"))
	if !strings.Contains(d, `- "b\n"`) || !strings.Contains(d, `+ "B\n"`) || !strings.Contains(d, "line 2") {
		t.Errorf("Diff = %s", d)
	}
	if d := Diff([]byte("x"), []byte("x")); d != "(no difference)" {
		t.Errorf("Diff = %s", d)
	}
	if root := RepoRoot(t); filepath.Base(filepath.Join(root, "internal")) != "internal" {
		t.Errorf("RepoRoot = %s", root)
	} else if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Error(err)
	}
}
