package smtptest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fatalTB records the first Fatalf and ends the goroutine, as t.Fatalf
// does, without failing the real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) failure() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

// runCaught runs a PipeSession under a fatalTB and returns its output and
// the failure, if any.
func runCaught(t *testing.T, s *PipeSession, serve func(net.Listener) error, input []byte) ([]byte, string) {
	ft := &fatalTB{TB: t}
	var out []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		out = s.Run(ft, serve, func() error { return nil }, input)
	}()
	<-done
	return out, ft.failure()
}

// serveOne accepts connections until the listener is closed and runs
// handle on each in turn.
func serveOne(handle func(net.Conn)) func(net.Listener) error {
	return func(ln net.Listener) error {
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			handle(c)
		}
	}
}

// TestPipeSession: the server reads the whole input, then io.EOF (the
// half close), and its replies written after that still reach the client;
// Remote is the peer address it sees; Wrote sees what it wrote before.
func TestPipeSession(t *testing.T) {
	var (
		remote    string
		wroteSeen bool
		readErr   error
	)
	s := &PipeSession{Remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000}}
	serve := serveOne(func(c net.Conn) {
		defer c.Close()
		remote = c.RemoteAddr().String()
		fmt.Fprintf(c, "220 hello\r\n")
		wroteSeen = s.Wrote("220 hello")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				readErr = err
				break
			}
			fmt.Fprintf(c, "250 %s", line)
		}
		fmt.Fprintf(c, "221 bye\r\n")
	})
	input := strings.Repeat("NOOP\r\n", 3000) + "QUIT\r\n"
	out := s.Run(t, serve, func() error { return nil }, []byte(input))
	want := "220 hello\r\n" + strings.Repeat("250 NOOP\r\n", 3000) + "250 QUIT\r\n221 bye\r\n"
	if string(out) != want {
		t.Fatalf("output %d octets %q..., want %d octets", len(out), clip(string(out)), len(want))
	}
	if readErr != io.EOF {
		t.Errorf("the server's read ended in %v, want io.EOF", readErr)
	}
	if remote != "192.0.2.7:40000" {
		t.Errorf("RemoteAddr %q", remote)
	}
	if !wroteSeen {
		t.Errorf("Wrote missed what the server had written")
	}
	if s.Wrote("500") {
		t.Errorf("Wrote found what the server never wrote")
	}
}

// TestPipeSessionServerClosesFirst: a server that stops reading and closes
// ends the session, though the client had more to write.
func TestPipeSessionServerClosesFirst(t *testing.T) {
	s := &PipeSession{}
	serve := serveOne(func(c net.Conn) {
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "421 no %s", line)
	})
	out := s.Run(t, serve, func() error { return nil }, bytes.Repeat([]byte("HELO x\r\n"), 10000))
	if string(out) != "421 no HELO x\r\n" {
		t.Fatalf("output %q", out)
	}
}

// TestPipeSessionOverflow: a server that writes more than the bound fails
// the test, and still gets everything read (it never blocks on a write).
func TestPipeSessionOverflow(t *testing.T) {
	for _, tc := range []struct {
		max, input, wrote int
		fail              bool
	}{
		{max: 100, input: 1, wrote: 100},
		{max: 100, input: 1, wrote: 101, fail: true},
		{input: 10, wrote: 64<<10 + 640},
		{input: 10, wrote: 64<<10 + 641, fail: true},
		{max: 10, input: 1, wrote: 1 << 20, fail: true},
	} {
		s := &PipeSession{MaxOutput: tc.max}
		wrote := 0
		serve := serveOne(func(c net.Conn) {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
			n, _ := c.Write(bytes.Repeat([]byte("x"), tc.wrote))
			wrote = n
		})
		out, failure := runCaught(t, s, serve, bytes.Repeat([]byte("y"), tc.input))
		if wrote != tc.wrote {
			t.Errorf("%+v: the server wrote %d octets", tc, wrote)
		}
		switch {
		case tc.fail && !strings.Contains(failure, fmt.Sprintf("wrote %d octets for %d octets of input", tc.wrote, tc.input)):
			t.Errorf("%+v: failure %q, want one for the output", tc, failure)
		case !tc.fail && (failure != "" || len(out) != tc.wrote):
			t.Errorf("%+v: failure %q, %d octets", tc, failure, len(out))
		}
		if got := len(s.written); got > max(tc.max, 64<<10+64*tc.input) {
			t.Errorf("%+v: kept %d octets of what the server wrote", tc, got)
		}
	}
}

// TestPipeSessionServeFails: Serve returning before it accepts fails the
// test instead of hanging it.
func TestPipeSessionServeFails(t *testing.T) {
	_, failure := runCaught(t, &PipeSession{}, func(net.Listener) error { return errors.New("no listener") }, []byte("EHLO x\r\n"))
	if !strings.Contains(failure, "Serve returned no listener before accepting") {
		t.Fatalf("failure %q", failure)
	}
}

// TestPipeListener: Dial reaches Accept; after Close both say
// net.ErrClosed.
func TestPipeListener(t *testing.T) {
	ln := NewPipeListener()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		accepted <- c
	}()
	client, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	go func() { _, _ = client.Write([]byte("hi")) }()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	client.Close()
	server.Close()
	if ln.Addr().Network() != "pipe" {
		t.Errorf("Addr %v", ln.Addr())
	}
	ln.Close()
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, err := ln.Dial(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
}
