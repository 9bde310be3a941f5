package smtptest

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HangGuard bounds how long PipeSession.Run waits for a session to end
// after its input did. It keeps a broken server from hanging the test; it
// measures nothing.
const HangGuard = 20 * time.Second

// PipeAddr is the address of either end of an in-process pipe.
type PipeAddr struct{}

// Network returns "pipe".
func (PipeAddr) Network() string { return "pipe" }

// String returns "pipe".
func (PipeAddr) String() string { return "pipe" }

// PipeListener is a net.Listener whose connections are handed to it in
// the process (the server ends of net.Pipe): Accept returns each
// connection given to Connect, and net.ErrClosed once the listener is
// closed.
type PipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for a connection from Connect or for Close.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Connect return; it never fails.
func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns PipeAddr.
func (l *PipeListener) Addr() net.Addr { return PipeAddr{} }

// Connect hands c to the next Accept. It returns false, without handing
// c over, once the listener is closed.
func (l *PipeListener) Connect(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// Dial makes a net.Pipe, hands its server end to the next Accept and
// returns the client end; it returns net.ErrClosed once the listener is
// closed.
func (l *PipeListener) Dial() (net.Conn, error) {
	client, server := net.Pipe()
	if !l.Connect(server) {
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	}
	return client, nil
}

// PipeSession runs one server session over net.Pipe on a fixed client
// input, the way a fuzz target drives a server: the client writes all of
// the input at once, then half-closes (the server's reads see io.EOF while
// its replies still flow), and the session is over when the server closes
// its end. Set the fields before Run; use a PipeSession for one Run.
type PipeSession struct {
	// Remote, if set, is what the server's end reports as RemoteAddr
	// instead of net.Pipe's "pipe" (a TCP address, say, for code that
	// names the client's IP).
	Remote net.Addr
	// MaxOutput bounds what the server may write in the session; a
	// session that writes more fails the test (and what is kept of its
	// output stays within the bound). 0 means 64 KiB plus 64 octets per
	// octet of input, about three times the costliest command: the EHLO
	// reply, some 22 octets per octet of "EHLO c\r\n".
	MaxOutput int

	mu      sync.Mutex
	written []byte // what the server has begun to write, up to the bound
	bound   int
}

// Wrote reports whether the server has written sub in this session so far,
// counting a write from the moment the server starts it. It is safe to
// call from the server's goroutines while Run runs (from a backend, say,
// to check what the client had been told when a command reached it).
func (s *PipeSession) Wrote(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.written, []byte(sub))
}

func (s *PipeSession) record(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, p[:min(len(p), max(0, s.bound-len(s.written)))]...)
}

// Run serves one session of input: it starts serve on a PipeListener in a
// new goroutine, hands it the server end of a net.Pipe, writes input from
// the client end and half-closes, and waits for the server to close the
// connection. It returns what the client received: everything the server
// wrote. It fails the test when serve returns before accepting the
// connection, when the session has not ended HangGuard after the input
// did, or when the server wrote more than MaxOutput octets. The server is
// still up when Run returns, so that the caller checks the state the end
// of the session left; t.Cleanup closes the listener, calls stop and
// waits for serve to return. Run's own goroutines are over when it
// returns.
func (s *PipeSession) Run(t testing.TB, serve func(net.Listener) error, stop func() error, input []byte) []byte {
	t.Helper()
	bound := s.MaxOutput
	if bound <= 0 {
		bound = 64<<10 + 64*len(input)
	}
	s.mu.Lock()
	s.bound = bound
	s.mu.Unlock()

	ln := NewPipeListener()
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		_ = stop()
		<-served
	})

	client, server := net.Pipe()
	sc := &fedConn{Conn: server, sess: s, closed: make(chan struct{})}
	defer client.Close()
	select {
	case ln.ch <- sc:
	case err := <-served:
		served <- err // for the cleanup's wait
		sc.Conn.Close()
		t.Fatalf("smtptest: Serve returned %v before accepting the connection", err)
	}

	// The client: one goroutine writes the input and then half-closes,
	// one reads whatever the server writes, keeping at most bound octets
	// (it goes on reading past the bound so that the server never blocks
	// on a reply, and counts the rest).
	var (
		out      []byte
		overflow int
	)
	readDone, writeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			keep := min(n, bound-len(out))
			out = append(out, buf[:keep]...)
			overflow += n - keep
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(writeDone)
		_, _ = client.Write(input)
		sc.inputDone()
	}()
	defer func() {
		client.Close() // ends a write the server never read, and the reader
		<-writeDone
		<-readDone
	}()

	select {
	case <-sc.closed:
	case <-time.After(HangGuard):
		t.Fatalf("smtptest: the session did not end after its input did")
	}
	client.Close()
	<-readDone
	if overflow > 0 {
		t.Fatalf("smtptest: the server wrote %d octets for %d octets of input, over the bound of %d", len(out)+overflow, len(input), bound)
	}
	return out
}

// fedConn is the server end of a PipeSession's pipe: once the client's
// input is all written, reads see io.EOF while writes still reach the
// client; it records what the server writes and notices Close.
type fedConn struct {
	net.Conn
	sess   *PipeSession
	eof    atomic.Bool
	once   sync.Once
	closed chan struct{}
}

func (c *fedConn) Read(p []byte) (int, error) {
	if c.eof.Load() {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.eof.Load() {
		return n, io.EOF
	}
	return n, err
}

func (c *fedConn) Write(p []byte) (int, error) {
	c.sess.record(p)
	return c.Conn.Write(p)
}

// inputDone makes reads return io.EOF, also a read already waiting (the
// deadline in the past wakes it; Read turns its timeout into io.EOF).
func (c *fedConn) inputDone() {
	c.eof.Store(true)
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (c *fedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *fedConn) RemoteAddr() net.Addr {
	if c.sess.Remote != nil {
		return c.sess.Remote
	}
	return c.Conn.RemoteAddr()
}
