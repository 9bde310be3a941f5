package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// The server tests talk to a real Server through scripted raw peers: every
// byte the client sends is spelled out, and every reply is checked by code
// and enhanced code. Timeouts below are hang guards, never assertions.

// hangGuard bounds how long a raw peer waits for the server.
const hangGuard = 20 * time.Second

// recMsg is one message a recording backend accepted.
type recMsg struct {
	From  string
	Rcpts []string
	Body  []byte
}

// recBackend records every transaction. Addresses steer it:
// "panic-mail…" panics in Mail, "panic-rcpt…" in Rcpt, a recipient
// "panic-data…" panics in Data after reading the content and
// "panic-early…" before reading it; "bad…" recipients are refused with 550.
type recBackend struct {
	mu    sync.Mutex
	msgs  []recMsg
	mails []string

	lmtp     bool   // sessions implement LMTPSession
	lmtpFail string // LMTPData fails this recipient
	onMail   func() // called on every MAIL the backend sees, if set

	active   atomic.Int32 // Data calls in progress
	sessions atomic.Int32 // sessions not yet logged out
	resets   atomic.Int32
}

func (b *recBackend) NewSession(c *ConnState) (Session, error) {
	b.sessions.Add(1)
	s := &recSess{b: b, st: c}
	if b.lmtp {
		return &recLMTPSess{s}, nil
	}
	return s, nil
}

func (b *recBackend) messages() []recMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recMsg(nil), b.msgs...)
}

func (b *recBackend) mailsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.mails...)
}

type recSess struct {
	b     *recBackend
	st    *ConnState
	from  string
	rcpts []string
}

func (s *recSess) Mail(from string, _ *PathArg) error {
	if strings.HasPrefix(from, "panic-mail") {
		panic("backend panic in Mail")
	}
	if s.b.onMail != nil {
		s.b.onMail()
	}
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, from)
	s.b.mu.Unlock()
	s.from, s.rcpts = from, nil
	return nil
}

func (s *recSess) Rcpt(to string, _ *PathArg) error {
	if strings.HasPrefix(to, "panic-rcpt") {
		panic("backend panic in Rcpt")
	}
	if strings.HasPrefix(to, "bad") {
		return &Error{Reply: Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"<" + to + "> No such user"}}}
	}
	if strings.HasPrefix(to, "busy") {
		return &Error{Reply: Reply{Code: 450, Enhanced: "4.2.1", Lines: []string{"<" + to + "> Mailbox busy, try later"}}}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *recSess) has(prefix string) bool {
	for _, r := range s.rcpts {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func (s *recSess) read(r io.Reader) ([]byte, error) {
	if s.has("panic-early") {
		panic("backend panic in Data before reading")
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if s.has("panic-data") {
		panic("backend panic in Data")
	}
	return body, nil
}

func (s *recSess) Data(r io.Reader) error {
	s.b.active.Add(1)
	defer s.b.active.Add(-1)
	body, err := s.read(r)
	if err != nil {
		return err
	}
	s.store(body)
	return nil
}

func (s *recSess) store(body []byte) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, recMsg{From: s.from, Rcpts: append([]string(nil), s.rcpts...), Body: body})
}

func (s *recSess) Reset() {
	s.b.resets.Add(1)
	s.from, s.rcpts = "", nil
}

func (s *recSess) Logout() { s.b.sessions.Add(-1) }

// recLMTPSess answers each recipient on its own and fails lmtpFail.
type recLMTPSess struct{ *recSess }

func (s *recLMTPSess) LMTPData(r io.Reader, status func(string, error)) error {
	s.b.active.Add(1)
	defer s.b.active.Add(-1)
	body, err := s.read(r)
	if err != nil {
		return err
	}
	s.store(body)
	for _, rc := range s.rcpts {
		if rc == s.b.lmtpFail {
			status(rc, &Error{Reply: Reply{Code: 552, Enhanced: "5.2.2", Lines: []string{"<" + rc + "> Mailbox full"}}})
			continue
		}
		status(rc, nil)
	}
	return nil
}

// testLimits are generous except where a test says otherwise; the command
// timeout only keeps a broken test from hanging.
func serverTestLimits(l Limits) Limits {
	if l.CommandTimeout == 0 {
		l.CommandTimeout = hangGuard
	}
	if l.DataTimeout == 0 {
		l.DataTimeout = hangGuard
	}
	if l.AuthDelay == 0 {
		l.AuthDelay = time.Millisecond
	}
	return l
}

// startServer serves o on a loopback listener and returns the server and
// its address. Cleanup closes every session and waits for Serve to return.
func startServer(t testing.TB, o ServerOptions, lo ListenerOptions) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, o, ln, lo), ln.Addr().String()
}

// startServerOn serves o on ln.
func startServerOn(t testing.TB, o ServerOptions, ln net.Listener, lo ListenerOptions) *Server {
	t.Helper()
	if o.Backend == nil {
		o.Backend = &recBackend{}
	}
	if o.Hostname == "" {
		o.Hostname = "mx.test"
	}
	o.Limits = serverTestLimits(o.Limits)
	srv := NewServer(o)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln, lo) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: close whatever is left, then wait for it
		_ = srv.Shutdown(ctx)
		ln.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(hangGuard):
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	return srv
}

// rawClient is a scripted client: it writes exactly what the test says
// and reads replies with the engine's reply parser.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newRawClient(t, nc, nc)
}

// newRawClient wraps nc; replies are read from r (nc itself, or an
// asynchronous reader for net.Pipe).
func newRawClient(t testing.TB, nc net.Conn, r io.Reader) *rawClient {
	_ = nc.SetDeadline(time.Now().Add(hangGuard))
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(r)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write %q: %v", clip(s), err)
	}
}

// trySend writes s and reports whether the server still took it.
func (c *rawClient) trySend(s string) error {
	_, err := io.WriteString(c.nc, s)
	return err
}

func (c *rawClient) read() Reply {
	c.t.Helper()
	r, err := readReply(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading reply: %v", err)
	}
	return r
}

// want reads one reply and checks its code and, unless enh is "", its
// enhanced code.
func (c *rawClient) want(code int, enh string) Reply {
	c.t.Helper()
	r := c.read()
	if r.Code != code || (enh != "" && r.Enhanced != enh) {
		c.t.Fatalf("reply %q, want %d %s", r.String(), code, enh)
	}
	return r
}

// cmd sends one command line and checks the reply.
func (c *rawClient) cmd(line string, code int, enh string) Reply {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.want(code, enh)
}

// wantClosed reads to the end of the connection and fails on any reply.
func (c *rawClient) wantClosed() {
	c.t.Helper()
	rest, err := io.ReadAll(c.br)
	if len(rest) > 0 {
		c.t.Fatalf("more after the last reply: %q", clip(string(rest)))
	}
	if err != nil && !isConnReset(err) {
		c.t.Fatalf("waiting for the server to close: %v", err)
	}
}

// wantClosedAfterClose is wantClosed after Server.Close: a session that
// noticed the shutdown just before its socket was closed may still have got
// its 421 4.3.2 out, which is allowed; anything else is not.
func (c *rawClient) wantClosedAfterClose() {
	c.t.Helper()
	rest, err := io.ReadAll(c.br)
	if r := string(rest); r != "" && !strings.HasPrefix(r, "421 4.3.2 ") {
		c.t.Fatalf("more after the last reply: %q", clip(r))
	}
	if err != nil && !isConnReset(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		c.t.Fatalf("waiting for the server to close: %v", err)
	}
}

// isConnReset is a close that came as a reset: the server closed with
// unread input in its socket, which is fine after its final reply.
func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(err.Error(), "reset")
}

// greet reads the greeting and says EHLO; it returns the EHLO reply.
func (c *rawClient) greet() Reply {
	c.t.Helper()
	c.want(220, "")
	return c.cmd("EHLO client.test", 250, "")
}

// startTLS runs STARTTLS and the handshake; replies are then read inside TLS.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.cmd("STARTTLS", 220, "2.0.0")
	c.handshake(cfg)
}

func (c *rawClient) handshake(cfg *tls.Config) {
	c.t.Helper()
	if c.br.Buffered() > 0 {
		c.t.Fatalf("server sent %d octets in clear after its 220", c.br.Buffered())
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc = tc
	c.br = bufio.NewReader(tc)
}

// dialPipe connects a raw client to ln over net.Pipe. Replies are read by
// a goroutine into an unbounded queue, so that the server never blocks
// writing while the client writes (net.Pipe has no buffer).
func dialPipe(t testing.TB, ln *smtptest.PipeListener) *rawClient {
	t.Helper()
	client, err := ln.Dial()
	if err != nil {
		t.Fatalf("pipe listener: %v", err)
	}
	return newRawClient(t, client, newAsyncReader(client))
}

// asyncReader reads src on its own goroutine until an error; Read never
// makes src wait for the reader.
type asyncReader struct {
	ch  chan []byte
	cur []byte
}

func newAsyncReader(src io.Reader) *asyncReader {
	a := &asyncReader{ch: make(chan []byte, 4096)}
	go func() {
		defer close(a.ch)
		for {
			buf := make([]byte, 4096)
			n, err := src.Read(buf)
			if n > 0 {
				a.ch <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return a
}

func (a *asyncReader) Read(p []byte) (int, error) {
	if len(a.cur) == 0 {
		b, ok := <-a.ch
		if !ok {
			return 0, io.EOF
		}
		a.cur = b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// startPipeServer serves o on a smtptest.PipeListener.
func startPipeServer(t testing.TB, o ServerOptions, lo ListenerOptions) (*Server, *smtptest.PipeListener) {
	t.Helper()
	ln := smtptest.NewPipeListener()
	return startServerOn(t, o, ln, lo), ln
}

// waitFor polls cond for up to hangGuard; it fails the test when cond
// never holds. It bounds a wait, it does not measure one.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < int(hangGuard/(5*time.Millisecond)); i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// checkNoGoroutineLeak compares the goroutine count with before, allowing
// goroutines that are still winding down some time to finish.
func checkNoGoroutineLeak(t testing.TB, before int) {
	t.Helper()
	n := 0
	for i := 0; i < 400; i++ {
		if n = runtime.NumGoroutine(); n <= before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("goroutines: %d before, %d after\n%s", before, n, buf)
}

// testCerts is a throwaway CA and a certificate for 127.0.0.1.
func serverCerts(t testing.TB) *smtptest.Certs { return smtptest.Cert(t) }

// clientTLS trusts certs and checks the name 127.0.0.1.
func trustCerts(certs *smtptest.Certs) *tls.Config { return certs.Client("127.0.0.1") }

// hasBareLineEnding reports a CR not followed by LF or an LF not preceded
// by CR.
func hasBareLineEnding(b []byte) bool {
	for i, c := range b {
		switch c {
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return true
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return true
			}
		}
	}
	return false
}
