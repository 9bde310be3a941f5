// Package smtptest holds helpers for testing SMTP code: a scripted peer
// (Script) that runs over net.Pipe or a loopback listener and records every
// byte it receives, a loopback listener (Listen), throwaway certificates
// (Cert), golden transcript files (CompareGolden), a tiny in-process SMTP
// server (NewServer) for end-to-end tests, and an in-process listener
// (PipeListener) with a driver that feeds a server one session of fixed
// client input over net.Pipe (PipeSession, for fuzz targets).
//
// The package never imports the engine (internal/smtp), so that the engine's
// own tests can use it.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StepTimeout bounds every read, write and handshake of a scripted peer, so
// that a client that stops talking fails the test instead of hanging it.
const StepTimeout = 10 * time.Second

// maxScriptLine bounds one line read by a scripted peer.
const maxScriptLine = 1 << 20

// Script is a list of steps a scripted SMTP peer performs in order: expect
// a line, send lines, read a message body, switch to TLS, close. A step that
// fails reports the step number and what arrived with t.Errorf and ends the
// script (the connection is closed, so the client fails too).
type Script []Step

// Step is one action of a Script. Build steps with Expect, ExpectPrefix,
// ExpectMatch, Send, SendRaw, ExpectData, ExpectBDAT, StartTLS, Do, Hang,
// ExpectClose and Close.
type Step struct {
	desc string
	run  func(p *Peer) error
}

// String describes the step for failure messages.
func (s Step) String() string { return s.desc }

// Expect reads one CRLF-terminated line from the client that must equal
// line (given without CRLF).
func Expect(line string) Step {
	return Step{desc: fmt.Sprintf("expect %q", line), run: func(p *Peer) error {
		got, err := p.ReadLine()
		if err != nil {
			return err
		}
		if got != line {
			return fmt.Errorf("want line %q", line)
		}
		return nil
	}}
}

// ExpectPrefix reads one line that must start with prefix.
func ExpectPrefix(prefix string) Step {
	return Step{desc: fmt.Sprintf("expect prefix %q", prefix), run: func(p *Peer) error {
		got, err := p.ReadLine()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(got, prefix) {
			return fmt.Errorf("want a line starting with %q", prefix)
		}
		return nil
	}}
}

// ExpectMatch reads one line that must match the regular expression
// pattern (anchor it yourself with ^ and $).
func ExpectMatch(pattern string) Step {
	re := regexp.MustCompile(pattern)
	return Step{desc: fmt.Sprintf("expect match %q", pattern), run: func(p *Peer) error {
		got, err := p.ReadLine()
		if err != nil {
			return err
		}
		if !re.MatchString(got) {
			return fmt.Errorf("want a line matching %q", pattern)
		}
		return nil
	}}
}

// Send writes each line followed by CRLF, all in one write: a multi-line
// reply, or a reply and injected bytes behind it, reach the client together.
func Send(lines ...string) Step {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	data := b.String()
	return Step{desc: fmt.Sprintf("send %q", strings.Join(lines, "|")), run: func(p *Peer) error {
		return p.Write([]byte(data))
	}}
}

// SendRaw writes data exactly as given, in one write.
func SendRaw(data string) Step {
	return Step{desc: fmt.Sprintf("send raw %q", clip(data)), run: func(p *Peer) error {
		return p.Write([]byte(data))
	}}
}

// ExpectData reads a DATA body (RFC 5321 4.5.2): lines up to and including
// the "." line. Every line must end in CRLF. The un-dot-stuffed body is
// kept (Run.Bodies).
func ExpectData() Step {
	return Step{desc: "expect DATA body", run: func(p *Peer) error {
		var body []byte
		for {
			raw, err := p.readRaw()
			if err != nil {
				return err
			}
			if !bytes.HasSuffix(raw, []byte("\r\n")) {
				return fmt.Errorf("body line not terminated by CRLF")
			}
			if string(raw) == ".\r\n" {
				break
			}
			if raw[0] == '.' {
				raw = raw[1:]
			}
			body = append(body, raw...)
		}
		p.run.addBody(body)
		return nil
	}}
}

var bdatLine = regexp.MustCompile(`^BDAT ([0-9]+)( LAST)?$`)

// ExpectBDAT reads one "BDAT n" or "BDAT n LAST" line and the n octets
// after it (RFC 3030 2). Chunks are joined into one body, kept once the LAST
// chunk arrives (Run.Bodies). The script still has to answer each chunk.
func ExpectBDAT() Step {
	return Step{desc: "expect BDAT chunk", run: func(p *Peer) error {
		line, err := p.ReadLine()
		if err != nil {
			return err
		}
		m := bdatLine.FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("want a BDAT line")
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > maxScriptLine*64 {
			return fmt.Errorf("BDAT size %q out of range", m[1])
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(p.br, chunk); err != nil {
			return fmt.Errorf("reading %d octets of BDAT chunk: %w", n, err)
		}
		p.run.log(dirClient, chunk)
		p.chunks = append(p.chunks, chunk...)
		if m[2] != "" {
			p.run.addBody(p.chunks)
			p.chunks = nil
		}
		return nil
	}}
}

// StartTLS runs the server side of a TLS handshake with cfg (see Cert).
// Bytes the client sent before the handshake are a failure.
func StartTLS(cfg *tls.Config) Step {
	return Step{desc: "start TLS", run: func(p *Peer) error {
		if n := p.br.Buffered(); n > 0 {
			b, _ := p.br.Peek(n)
			return fmt.Errorf("client sent %d bytes before the TLS handshake: %q", n, clip(string(b)))
		}
		tc := tls.Server(p.raw, cfg)
		_ = tc.SetDeadline(time.Now().Add(p.run.timeout))
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		p.setConn(tc)
		p.run.log(dirMark, []byte("TLS started"))
		return nil
	}}
}

// ExpectTLSRejected runs the server side of a TLS handshake that the
// client must abandon (it refuses the certificate); a handshake that
// succeeds fails the step. The connection is of no further use.
func ExpectTLSRejected(cfg *tls.Config) Step {
	return Step{desc: "expect the client to reject TLS", run: func(p *Peer) error {
		tc := tls.Server(p.raw, cfg)
		_ = tc.SetDeadline(time.Now().Add(p.run.timeout))
		if err := tc.Handshake(); err == nil {
			tc.Close()
			return fmt.Errorf("the client completed the TLS handshake")
		}
		p.run.log(dirMark, []byte("TLS handshake failed"))
		return nil
	}}
}

// Do runs fn as a step; name describes it in failure messages. fn uses the
// Peer to read and write (for SASL exchanges, computed replies...).
func Do(name string, fn func(p *Peer) error) Step {
	return Step{desc: name, run: fn}
}

// Hang stops answering: it reads and records whatever arrives until the
// client closes the connection. A client that does not close within
// StepTimeout fails the step.
func Hang() Step {
	return Step{desc: "hang until the client closes", run: func(p *Peer) error {
		buf := make([]byte, 4096)
		for {
			n, err := p.br.Read(buf)
			if n > 0 {
				p.run.log(dirClient, buf[:n])
			}
			if err != nil {
				if isClosed(err) {
					return nil
				}
				return err
			}
		}
	}}
}

// ExpectClose waits for the client to close the connection; any byte that
// arrives first is a failure.
func ExpectClose() Step {
	return Step{desc: "expect the client to close", run: func(p *Peer) error {
		buf := make([]byte, 4096)
		n, err := p.br.Read(buf)
		if n > 0 {
			p.run.log(dirClient, buf[:n])
			return fmt.Errorf("want the connection closed, got %q", clip(string(buf[:n])))
		}
		if err != nil && !isClosed(err) {
			return err
		}
		return nil
	}}
}

// Close closes the connection from the server side.
func Close() Step {
	return Step{desc: "close", run: func(p *Peer) error {
		p.run.log(dirMark, []byte("server closed"))
		return p.conn.Close()
	}}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset")
}

// Peer is the server end of a running Script, handed to Do steps.
type Peer struct {
	run    *Run
	raw    net.Conn // the connection before TLS
	conn   net.Conn // raw, or the TLS connection
	br     *bufio.Reader
	chunks []byte // BDAT chunks of the message in progress
}

func (p *Peer) setConn(c net.Conn) {
	p.conn = c
	p.br = bufio.NewReaderSize(&recorder{Conn: c, run: p.run}, 64*1024)
}

// Conn returns the current connection (a *tls.Conn after StartTLS).
func (p *Peer) Conn() net.Conn { return p.conn }

// readRaw reads one line including its terminator ("\n" or EOF ends it).
func (p *Peer) readRaw() ([]byte, error) {
	var line []byte
	for {
		chunk, err := p.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxScriptLine {
			p.run.log(dirClient, line)
			return nil, fmt.Errorf("line longer than %d octets", maxScriptLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if len(line) > 0 {
			p.run.log(dirClient, line)
		}
		if err != nil {
			if len(line) > 0 {
				return line, fmt.Errorf("line not terminated (%w)", err)
			}
			return nil, err
		}
		return line, nil
	}
}

// ReadLine reads one line from the client and returns it without its CRLF.
// A line ending in a bare LF, or cut by the end of the connection, is an
// error (the line is still recorded).
func (p *Peer) ReadLine() (string, error) {
	raw, err := p.readRaw()
	if err != nil {
		return "", err
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		return "", fmt.Errorf("line %q not terminated by CRLF", clip(string(raw)))
	}
	return string(raw[:len(raw)-2]), nil
}

// Write sends data in one write and records it.
func (p *Peer) Write(data []byte) error {
	p.run.log(dirServer, data)
	_, err := p.conn.Write(data)
	return err
}

// WriteLines sends each line followed by CRLF, in one write.
func (p *Peer) WriteLines(lines ...string) error {
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return p.Write(b)
}

// recorder keeps every byte read, and each Read call's bytes separately:
// over net.Pipe one Read never spans two of the client's writes, so Reads
// shows how the client grouped its writes.
type recorder struct {
	net.Conn
	run *Run
}

func (r *recorder) Read(b []byte) (int, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.run.timeout))
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.run.addRead(b[:n])
	}
	return n, err
}

func (r *recorder) Write(b []byte) (int, error) {
	_ = r.Conn.SetWriteDeadline(time.Now().Add(r.run.timeout))
	return r.Conn.Write(b)
}

// Run is one execution of a Script on one connection. Its accessors are
// safe to call while the script runs; call Wait first for the final values.
type Run struct {
	t       testing.TB
	timeout time.Duration
	started chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	conn     net.Conn
	received []byte
	reads    [][]byte
	entries  []entry
	bodies   [][]byte
	failed   bool
}

func newRun(t testing.TB) *Run {
	return &Run{t: t, timeout: StepTimeout, started: make(chan struct{}), done: make(chan struct{})}
}

// Pipe runs the script on the server end of a net.Pipe and returns the
// client end. The script stops by itself; t.Cleanup closes both ends and
// waits for it.
func (s Script) Pipe(t testing.TB) (net.Conn, *Run) {
	t.Helper()
	client, server := net.Pipe()
	run := newRun(t)
	go run.serve(s, server)
	t.Cleanup(func() {
		client.Close()
		run.stop()
	})
	return client, run
}

// Start runs the script on conn (the server side of a connection) in a new
// goroutine. t.Cleanup closes conn and waits for the script.
func (s Script) Start(t testing.TB, conn net.Conn) *Run {
	t.Helper()
	run := newRun(t)
	go run.serve(s, conn)
	t.Cleanup(run.stop)
	return run
}

// Listen serves the script on the first connection to a new loopback
// listener and returns its address; later connections are closed at once.
func (s Script) Listen(t testing.TB) (string, *Run) {
	t.Helper()
	run := newRun(t)
	var once sync.Once
	addr := Listen(t, func(c net.Conn) {
		first := false
		once.Do(func() { first = true })
		if first {
			run.serve(s, c)
		}
	})
	t.Cleanup(run.stop)
	return addr, run
}

func (r *Run) serve(s Script, conn net.Conn) {
	defer close(r.done)
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	close(r.started)
	defer conn.Close()
	p := &Peer{run: r, raw: conn}
	p.setConn(conn)
	for i, st := range s {
		if err := st.run(p); err != nil {
			r.fail(i+1, st, err)
			return
		}
	}
	if n := p.br.Buffered(); n > 0 {
		b, _ := p.br.Peek(n)
		r.log(dirClient, b)
		r.fail(len(s), Step{desc: "end of script"}, fmt.Errorf("client sent %d unexpected bytes after the last step: %q", n, clip(string(b))))
	}
}

func (r *Run) fail(n int, st Step, err error) {
	r.mu.Lock()
	r.failed = true
	var last string
	for i := len(r.entries) - 1; i >= 0; i-- {
		if r.entries[i].dir == dirClient {
			last = string(r.entries[i].data)
			break
		}
	}
	r.mu.Unlock()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", r.timeout, err)
	}
	r.t.Errorf("smtptest: script step %d (%s) failed: %v; last client line %q", n, st, err, last)
}

// stop closes the connection and waits for the script to end.
func (r *Run) stop() {
	select {
	case <-r.started:
	default:
		return
	}
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	c.Close()
	<-r.done
}

// Wait blocks until the script has ended (each step is bounded by
// StepTimeout). A script that never got a connection fails the test.
func (r *Run) Wait() {
	r.t.Helper()
	select {
	case <-r.started:
	case <-time.After(r.timeout):
		r.t.Errorf("smtptest: script never got a connection")
		return
	}
	<-r.done
}

// Failed reports whether a step failed.
func (r *Run) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Received returns every byte the client sent, in order (the plaintext
// inside TLS after StartTLS).
func (r *Run) Received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.received)
}

// Reads returns what each Read on the connection returned. Over net.Pipe
// one Read never spans two client writes, so a command group sent in one
// write (RFC 2920 pipelining) shows up as one element.
func (r *Run) Reads() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.reads))
	for i, b := range r.reads {
		out[i] = bytes.Clone(b)
	}
	return out
}

// Bodies returns the message bodies read by ExpectData (un-dot-stuffed)
// and by ExpectBDAT (chunks joined), in order.
func (r *Run) Bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// Transcript renders the exchange as the steps saw it (see Render).
func (r *Run) Transcript() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return render(r.entries)
}

func (r *Run) addRead(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, b...)
	r.reads = append(r.reads, bytes.Clone(b))
}

func (r *Run) addBody(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, bytes.Clone(b))
}

func (r *Run) log(dir byte, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entry{dir: dir, data: bytes.Clone(b)})
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
