package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Timeouts bound each stage of a client session. The defaults are RFC 5321
// 4.5.3.2's minimums.
type Timeouts struct {
	Connect   time.Duration `json:"connect"`
	Greeting  time.Duration `json:"greeting"`   // 4.5.3.2.1: 5 minutes
	Mail      time.Duration `json:"mail"`       // 4.5.3.2.2: 5 minutes
	Rcpt      time.Duration `json:"rcpt"`       // 4.5.3.2.3: 5 minutes
	DataInit  time.Duration `json:"data_init"`  // 4.5.3.2.4: 2 minutes
	DataBlock time.Duration `json:"data_block"` // 4.5.3.2.5: 3 minutes
	DataEnd   time.Duration `json:"data_end"`   // 4.5.3.2.6: 10 minutes
	Command   time.Duration `json:"command"`    // EHLO, STARTTLS, AUTH, RSET, NOOP, VRFY, QUIT, raw
}

// DefaultTimeouts returns RFC 5321 4.5.3.2's values and 30 s to connect.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Connect:   30 * time.Second,
		Greeting:  5 * time.Minute,
		Mail:      5 * time.Minute,
		Rcpt:      5 * time.Minute,
		DataInit:  2 * time.Minute,
		DataBlock: 3 * time.Minute,
		DataEnd:   10 * time.Minute,
		Command:   5 * time.Minute,
	}
}

// Uniform returns timeouts that are all d (the --timeout flag).
func Uniform(d time.Duration) Timeouts {
	return Timeouts{d, d, d, d, d, d, d, d}
}

// ClientOptions configure a Client.
type ClientOptions struct {
	Trace       Trace    // nil: no trace
	ShowSecrets bool     // put AUTH payloads in the trace unredacted
	TraceBody   bool     // put every body line in the trace, not a summary
	Timeouts    Timeouts // zero fields take DefaultTimeouts
	LMTP        bool     // speak LMTP (RFC 2033): LHLO, one reply per recipient after DATA
	Now         func() time.Time
}

// Client is one SMTP (or LMTP) session over a connection. Its methods are
// not safe for concurrent use. Every method that sends a command returns an
// *Error when the server answers 4xx or 5xx, a *ProtocolError when the
// answer is malformed, and a *NetError when the connection fails.
type Client struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	opts     ClientOptions
	ext      Extensions
	hello    bool // EHLO/LHLO succeeded (extensions valid)
	esmtp    bool
	tlsState *tls.ConnectionState
	lastSent time.Time
	stage    string
	closed   bool
	// writeTimeout applies to every write on the connection; set per stage.
	writeTimeout time.Duration
}

// NetError is a failed read or write on the connection, with the stage it
// happened in ("DATA", "greeting", ...). The CLI maps it to exit 75.
type NetError struct {
	Stage string
	Err   error
}

func (e *NetError) Error() string {
	cause := e.Err.Error()
	if errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF) {
		cause = "connection closed by server"
	} else if ne := net.Error(nil); errors.As(e.Err, &ne) && ne.Timeout() {
		cause = "timed out"
	}
	return fmt.Sprintf("%s: %s", e.Stage, cause)
}

func (e *NetError) Unwrap() error { return e.Err }

// NewClient starts a session on conn. The caller reads the greeting next.
func NewClient(conn net.Conn, opts ClientOptions) *Client {
	def := DefaultTimeouts()
	t := &opts.Timeouts
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{
		{&t.Connect, def.Connect}, {&t.Greeting, def.Greeting}, {&t.Mail, def.Mail}, {&t.Rcpt, def.Rcpt},
		{&t.DataInit, def.DataInit}, {&t.DataBlock, def.DataBlock}, {&t.DataEnd, def.DataEnd}, {&t.Command, def.Command},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Client{conn: conn, opts: opts}
	if tc, ok := conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.setConn(conn)
	return c
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, 4096)
	c.bw = bufio.NewWriterSize(deadlineWriter{c}, 32*1024)
}

// deadlineWriter arms the write deadline before each write, so a peer that
// stops reading cannot hold the client forever.
type deadlineWriter struct{ c *Client }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.c.writeTimeout > 0 {
		_ = d.c.conn.SetWriteDeadline(deadline(d.c.writeTimeout))
	}
	return d.c.conn.Write(p)
}

// deadline is d from now on the wall clock. Socket deadlines are absolute
// times the runtime compares with the real clock, so they never come from
// ClientOptions.Now (a test's fixed clock would expire them at once).
func deadline(d time.Duration) time.Time { return time.Now().Add(d) }

// Conn returns the underlying connection (a *tls.Conn after StartTLS).
func (c *Client) Conn() net.Conn { return c.conn }

// TLS returns the TLS state when the session runs inside TLS.
func (c *Client) TLS() (tls.ConnectionState, bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// Extensions returns what the last EHLO or LHLO announced (empty after HELO
// or before any greeting, and after StartTLS until the next Hello).
func (c *Client) Extensions() Extensions { return c.ext }

// ESMTP reports whether the last Hello was EHLO or LHLO (not HELO).
func (c *Client) ESMTP() bool { return c.esmtp }

// Close closes the connection without QUIT. Closing twice is harmless and
// traces one "closed" event.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.conn.Close()
	c.emit(Event{Kind: EventClosed})
	return err
}

func (c *Client) emit(ev Event) {
	if c.opts.Trace == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = c.opts.Now()
	}
	ev.TLS = c.tlsState != nil
	c.opts.Trace(ev)
}

// writeLine queues one command line; flush sends it. shown is what the trace
// shows (a redacted form), or "" to show line itself.
func (c *Client) writeLine(line, shown string, timeout time.Duration) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("command contains CR or LF: %q", clip(line))
	}
	c.writeTimeout = timeout
	if _, err := c.bw.WriteString(line); err != nil {
		return &NetError{Stage: c.stage, Err: err}
	}
	if _, err := c.bw.Write(crlf); err != nil {
		return &NetError{Stage: c.stage, Err: err}
	}
	ev := Event{Kind: EventSend, Line: line}
	if shown != "" && !c.opts.ShowSecrets {
		ev.Line, ev.Redacted = shown, true
	}
	c.emit(ev)
	return nil
}

func (c *Client) flush() error {
	if err := c.bw.Flush(); err != nil {
		return &NetError{Stage: c.stage, Err: err}
	}
	c.lastSent = c.opts.Now()
	return nil
}

// readReply reads one reply within timeout and traces each line with the
// time since the last flush.
func (c *Client) readReply(cmd string, timeout time.Duration) (Reply, error) {
	_ = c.conn.SetReadDeadline(deadline(timeout))
	r, err := readReply(c.br, func(line string) {
		ev := Event{Kind: EventRecv, Line: line}
		if !c.lastSent.IsZero() {
			ev.Elapsed = c.opts.Now().Sub(c.lastSent)
		}
		c.emit(ev)
	})
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Command = cmd
			return r, pe
		}
		return r, &NetError{Stage: stageName(cmd), Err: err}
	}
	return r, nil
}

func stageName(cmd string) string {
	if cmd == "" {
		return "greeting"
	}
	verb, _, _ := strings.Cut(cmd, " ")
	if strings.EqualFold(verb, "MAIL") || strings.EqualFold(verb, "RCPT") {
		return cmd
	}
	return verb
}

// cmd sends one command and reads its reply. It returns the reply and, when
// the reply is not in want's class (2 for 2xx, 3 for 3xx), an error.
func (c *Client) cmd(line, shown string, want int, timeout time.Duration) (Reply, error) {
	name := line
	if shown != "" {
		name = shown
	}
	c.stage = stageName(name)
	if err := c.writeLine(line, shown, timeout); err != nil {
		return Reply{}, err
	}
	if err := c.flush(); err != nil {
		return Reply{}, err
	}
	r, err := c.readReply(name, timeout)
	if err != nil {
		return r, err
	}
	if r.Code/100 != want {
		return r, replyError(name, r)
	}
	return r, nil
}

// Greeting reads the server's opening reply. A 554 greeting (RFC 5321
// 3.1) or any other non-220 reply is returned as an *Error.
func (c *Client) Greeting() (Reply, error) {
	c.stage = "greeting"
	c.lastSent = c.opts.Now()
	r, err := c.readReply("", c.opts.Timeouts.Greeting)
	if err != nil {
		return r, err
	}
	if r.Code != CodeReady {
		return r, replyError("greeting", r)
	}
	return r, nil
}

// Hello sends EHLO name (LHLO for LMTP) and parses the extensions. When the
// server rejects EHLO with 500, 502, 504 or 550, it falls back to HELO (RFC
// 5321 4.1.4, 3.2) and the session has no extensions.
func (c *Client) Hello(name string) (Reply, error) {
	verb := "EHLO"
	if c.opts.LMTP {
		verb = "LHLO"
	}
	r, err := c.cmd(verb+" "+name, "", 2, c.opts.Timeouts.Command)
	if err == nil {
		c.ext, c.hello, c.esmtp = ParseExtensions(r.Lines), true, true
		return r, nil
	}
	var se *Error
	if c.opts.LMTP || !errors.As(err, &se) {
		return r, err
	}
	switch se.Reply.Code {
	case 500, 502, 504, 550:
	default:
		return r, err
	}
	r, err = c.cmd("HELO "+name, "", 2, c.opts.Timeouts.Command)
	if err != nil {
		return r, err
	}
	c.ext, c.hello, c.esmtp = Extensions{raw: map[string]string{}}, true, false
	return r, nil
}

// HelloPlain sends HELO without trying EHLO (--protocol smtp).
func (c *Client) HelloPlain(name string) (Reply, error) {
	r, err := c.cmd("HELO "+name, "", 2, c.opts.Timeouts.Command)
	if err != nil {
		return r, err
	}
	c.ext, c.hello, c.esmtp = Extensions{raw: map[string]string{}}, true, false
	return r, nil
}

// InjectionError reports bytes the server sent behind its reply to STARTTLS,
// before the handshake: an attacker's attempt to inject replies into the
// TLS session (CVE-2011-0411's client-side twin). The session is aborted.
type InjectionError struct{ Buffered int }

func (e *InjectionError) Error() string {
	return fmt.Sprintf("starttls: server sent %d bytes after its 220 reply before the TLS handshake (response injection); session aborted", e.Buffered)
}

// TLSError is a failed TLS handshake. Verify is true when the handshake
// failed because the certificate was rejected (the CLI maps that to 69, a
// handshake failure to 76).
type TLSError struct {
	Err    error
	Verify bool
}

func (e *TLSError) Error() string {
	if e.Verify {
		return "tls: certificate rejected: " + strings.TrimPrefix(e.Err.Error(), "tls: ")
	}
	return "tls handshake: " + strings.TrimPrefix(e.Err.Error(), "tls: ")
}

func (e *TLSError) Unwrap() error { return e.Err }

// StartTLS sends STARTTLS (RFC 3207), checks that nothing is buffered behind
// the 220 reply, and runs the TLS handshake. The extensions are forgotten:
// the caller must say Hello again (RFC 3207 4.2).
func (c *Client) StartTLS(cfg *tls.Config) error {
	if _, err := c.cmd("STARTTLS", "", 2, c.opts.Timeouts.Command); err != nil {
		return err
	}
	if n := c.br.Buffered(); n > 0 {
		c.conn.Close()
		err := &InjectionError{Buffered: n}
		c.emit(Event{Kind: EventError, Line: err.Error()})
		return err
	}
	tc := tls.Client(c.conn, cfg)
	if err := c.handshake(tc); err != nil {
		return err
	}
	c.setConn(tc)
	c.ext, c.hello = Extensions{raw: map[string]string{}}, false
	return nil
}

// handshake runs a TLS handshake under the command timeout and records
// the result in the trace.
func (c *Client) handshake(tc *tls.Conn) error {
	_ = tc.SetDeadline(deadline(c.opts.Timeouts.Command))
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return classifyTLSError(err)
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tlsState = &st
	c.emit(Event{Kind: EventTLS, Line: DescribeTLS(st)})
	return nil
}

func classifyTLSError(err error) error {
	var (
		cv  *tls.CertificateVerificationError
		ne  net.Error
		ver = errors.As(err, &cv)
	)
	if !ver && errors.As(err, &ne) && ne.Timeout() {
		return &NetError{Stage: "TLS handshake", Err: err}
	}
	return &TLSError{Err: err, Verify: ver}
}

// DescribeTLS summarises a TLS state for the trace: version, cipher and the
// leaf certificate's subject.
func DescribeTLS(st tls.ConnectionState) string {
	s := fmt.Sprintf("%s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		s += fmt.Sprintf(", peer %q issued by %q", leaf.Subject.String(), leaf.Issuer.String())
	}
	return s
}

// Noop sends NOOP.
func (c *Client) Noop() (Reply, error) { return c.cmd("NOOP", "", 2, c.opts.Timeouts.Command) }

// Reset sends RSET (RFC 5321 4.1.1.5).
func (c *Client) Reset() (Reply, error) { return c.cmd("RSET", "", 2, c.opts.Timeouts.Command) }

// Verify sends VRFY addr. 250, 251 and 252 are success; 252 means the
// server will not say (RFC 5321 3.5.3).
func (c *Client) Verify(addr string) (Reply, error) {
	return c.cmd("VRFY "+addr, "", 2, c.opts.Timeouts.Command)
}

// Raw sends any command line and returns the reply; no reply code is an
// error, only I/O and malformed replies are.
func (c *Client) Raw(line string) (Reply, error) {
	c.stage = stageName(line)
	if err := c.writeLine(line, "", c.opts.Timeouts.Command); err != nil {
		return Reply{}, err
	}
	if err := c.flush(); err != nil {
		return Reply{}, err
	}
	return c.readReply(line, c.opts.Timeouts.Command)
}

// Quit sends QUIT, reads the 221 reply and closes the connection. The
// connection is closed whatever the server answers.
func (c *Client) Quit() (Reply, error) {
	r, err := c.cmd("QUIT", "", 2, c.opts.Timeouts.Command)
	c.Close()
	return r, err
}
