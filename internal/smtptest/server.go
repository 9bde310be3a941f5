package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Stage names a point of an SMTP session where a Server can misbehave.
type Stage string

// Stages of a session, in order.
const (
	AtGreeting Stage = "greeting" // instead of the 220 greeting
	AtHello    Stage = "hello"    // EHLO, HELO or LHLO
	AtStartTLS Stage = "starttls" // the STARTTLS command
	AtAuth     Stage = "auth"     // the AUTH command
	AtMail     Stage = "mail"     // MAIL FROM
	AtRcpt     Stage = "rcpt"     // the first RCPT TO
	AtData     Stage = "data"     // the DATA command, or the first BDAT
	AtBody     Stage = "body"     // after the first line (or octets) of content
	AtDot      Stage = "dot"      // the reply to the end of the content
	AtQuit     Stage = "quit"     // QUIT
)

// FaultAction is what a Server does at its fault stage.
type FaultAction string

// Fault actions.
const (
	Reply421 FaultAction = "421"     // answer "421 4.3.2 ..." and close the connection
	Drop     FaultAction = "drop"    // close the connection without a word
	NoAnswer FaultAction = "hang"    // stay silent until the client gives up
	Garbage  FaultAction = "garbage" // answer Fault.Text instead of a reply, then carry on
)

// Fault makes a Server misbehave once per session at a stage.
type Fault struct {
	At     Stage
	Action FaultAction
	Text   string // the line Garbage sends; default "this is not an SMTP reply"
}

// ServerOptions configure a Server. The zero value is a permissive ESMTP
// server with STARTTLS, AUTH PLAIN LOGIN CRAM-MD5 (user "user", password
// "secret"), PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, DSN and
// ENHANCEDSTATUSCODES.
type ServerOptions struct {
	Hostname string // in the greeting and EHLO reply; default "mx.smtptest.test"
	Certs    *Certs // nil: Cert(t) for 127.0.0.1, ::1 and localhost

	ImplicitTLS bool   // TLS from the first byte (RFC 8314)
	NoStartTLS  bool   // do not offer STARTTLS
	Inject      string // bytes sent in the same write right after the STARTTLS 220

	User, Password string   // the only credentials AUTH accepts; default "user", "secret"
	AuthMechs      []string // default PLAIN, LOGIN, CRAM-MD5; XOAUTH2 is known too
	NoAuth         bool     // do not offer AUTH
	AuthNeedsTLS   bool     // offer and accept AUTH only inside TLS (538 before)
	RequireTLS     bool     // MAIL before STARTTLS is refused with 530
	RequireAuth    bool     // MAIL before AUTH is refused with 530

	Size    int64    // SIZE limit announced and enforced; 0 announces "SIZE" with no limit
	Without []string // extension keywords not to announce: PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, DSN, ENHANCEDSTATUSCODES, SIZE, REQUIRETLS

	RejectMail string            // reply line to every MAIL FROM, e.g. "550 5.7.1 sender refused"
	RejectRcpt map[string]string // recipient address -> reply line, e.g. "550 5.1.1 no such user"
	DataReply  string            // reply line to the end of content; default "250 2.0.0 Ok: queued as QN"
	Fault      Fault
	// FaultAfter holds the Fault back until the server has accepted this
	// many messages (over all sessions); from then on each session meets
	// it once, which makes a server that fails in the middle of a session
	// and keeps failing.
	FaultAfter int

	Timeout time.Duration // bound on each read and write; default StepTimeout
}

// Message is a message the Server accepted.
type Message struct {
	Helo       string     // the EHLO/HELO/LHLO argument
	From       string     // reverse path, without brackets
	MailParams []string   // MAIL FROM parameters as sent
	Rcpts      []string   // accepted recipients, without brackets
	RcptParams [][]string // each accepted recipient's parameters as sent
	Data       []byte     // content: DATA un-dot-stuffed, or the BDAT chunks joined
	Chunked    bool       // sent with BDAT
	TLS        bool       // the session was inside TLS
	AuthUser   string     // the authenticated user, "" if none
}

// Server is a small SMTP/LMTP server on loopback for end-to-end tests. It is
// not a real server: it keeps messages in memory and knows one user.
type Server struct {
	t     testing.TB
	opts  ServerOptions
	certs *Certs
	addr  string

	mu       sync.Mutex
	messages []Message
	sessions int
	queued   int
}

// maxMessage bounds the content a Server keeps for one message.
const maxMessage = 64 << 20

// NewServer starts a Server on 127.0.0.1 with an ephemeral port. t.Cleanup
// stops it and closes every connection.
func NewServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "mx.smtptest.test"
	}
	if opts.User == "" && opts.Password == "" {
		opts.User, opts.Password = "user", "secret"
	}
	if opts.AuthMechs == nil {
		opts.AuthMechs = []string{"PLAIN", "LOGIN", "CRAM-MD5"}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = StepTimeout
	}
	s := &Server{t: t, opts: opts, certs: opts.Certs}
	if s.certs == nil {
		s.certs = Cert(t)
	}
	s.addr = Listen(t, s.serve)
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Port returns the server's port.
func (s *Server) Port() string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

// Certs returns the certificates the server presents.
func (s *Server) Certs() *Certs { return s.certs }

// ClientTLS returns a client configuration that trusts the server's CA and
// expects the name "localhost".
func (s *Server) ClientTLS() *tls.Config { return s.certs.Client("localhost") }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

func (s *Server) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Sessions returns how many connections the server has accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// session is one connection's state.
type session struct {
	srv      *Server
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	tls      bool
	helo     string
	esmtp    bool
	lmtp     bool
	authUser string
	faulted  bool
	errors   int

	tx *Message // the transaction in progress (after MAIL)
}

// deadlineConn arms a deadline before every read and write so that a
// session cannot outlive its test.
type deadlineConn struct {
	net.Conn
	d time.Duration
}

func (c deadlineConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(b)
}

func (c deadlineConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(b)
}

// errEnd ends a session without an error worth reporting.
var errEnd = errors.New("session ended")

func (s *Server) serve(conn net.Conn) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	ss := &session{srv: s}
	ss.setConn(conn)
	if s.opts.ImplicitTLS {
		tc := tls.Server(conn, s.certs.Server)
		_ = tc.SetDeadline(time.Now().Add(s.opts.Timeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		ss.setConn(tc)
		ss.tls = true
	}
	_ = ss.run()
	_ = ss.bw.Flush()
}

func (ss *session) setConn(c net.Conn) {
	ss.conn = c
	dc := deadlineConn{Conn: c, d: ss.srv.opts.Timeout}
	ss.br = bufio.NewReaderSize(dc, 64*1024)
	ss.bw = bufio.NewWriterSize(dc, 16*1024)
}

func (ss *session) run() error {
	o := &ss.srv.opts
	if done, err := ss.fault(AtGreeting); done {
		return err
	}
	ss.reply(220, "", o.Hostname+" ESMTP smtptest")
	for {
		if ss.br.Buffered() == 0 {
			// Answer a pipelined group together (RFC 2920 3.2).
			if err := ss.bw.Flush(); err != nil {
				return err
			}
		}
		line, err := ss.readLine(2048)
		if err != nil {
			if errors.Is(err, errTooLong) {
				ss.reply(500, "5.5.2", "line too long")
				continue
			}
			return err
		}
		if err := ss.command(line); err != nil {
			return err
		}
		if ss.errors >= 50 {
			ss.reply(421, "4.7.0", "too many errors")
			return errEnd
		}
	}
}

var errTooLong = errors.New("line too long")

// readLine reads a CRLF- or LF-terminated line of at most max octets; a
// longer line is consumed and reported as errTooLong.
func (ss *session) readLine(max int) (string, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := ss.br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			tooLong = true
		} else {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	if tooLong {
		return "", errTooLong
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// reply queues one reply line; enh is dropped when ENHANCEDSTATUSCODES is
// not announced.
func (ss *session) reply(code int, enh, text string) {
	ss.replyLines(code, enh, text)
}

func (ss *session) replyLines(code int, enh string, lines ...string) {
	if ss.without("ENHANCEDSTATUSCODES") {
		enh = ""
	}
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		if enh != "" {
			l = enh + " " + l
		}
		fmt.Fprintf(ss.bw, "%d%s%s\r\n", code, sep, l)
	}
}

func (ss *session) raw(line string) {
	ss.bw.WriteString(line)
	ss.bw.WriteString("\r\n")
}

func (ss *session) without(kw string) bool {
	for _, w := range ss.srv.opts.Without {
		if strings.EqualFold(w, kw) {
			return true
		}
	}
	return false
}

// fault runs the configured fault at stage, once per session. done means
// the caller must stop handling the command (and end the session when err
// is not nil).
func (ss *session) fault(at Stage) (done bool, err error) {
	f := ss.srv.opts.Fault
	if f.At != at || ss.faulted {
		return false, nil
	}
	if n := ss.srv.opts.FaultAfter; n > 0 && ss.srv.accepted() < n {
		return false, nil
	}
	ss.faulted = true
	switch f.Action {
	case Reply421:
		ss.reply(421, "4.3.2", ss.srv.opts.Hostname+" service shutting down")
		_ = ss.bw.Flush()
		return true, errEnd
	case Drop:
		ss.bw.Reset(io.Discard)
		ss.conn.Close()
		return true, errEnd
	case NoAnswer:
		_ = ss.bw.Flush()
		_, _ = io.Copy(io.Discard, ss.br)
		return true, errEnd
	case Garbage:
		text := f.Text
		if text == "" {
			text = "this is not an SMTP reply"
		}
		ss.raw(text)
		_ = ss.bw.Flush()
		return true, nil
	}
	return false, nil
}

func (ss *session) command(line string) error {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	switch verb {
	case "EHLO", "HELO", "LHLO":
		if done, err := ss.fault(AtHello); done {
			return err
		}
		return ss.hello(verb, strings.TrimSpace(arg))
	case "STARTTLS":
		if done, err := ss.fault(AtStartTLS); done {
			return err
		}
		return ss.startTLS(arg)
	case "AUTH":
		if done, err := ss.fault(AtAuth); done {
			return err
		}
		return ss.auth(arg)
	case "MAIL":
		if done, err := ss.fault(AtMail); done {
			return err
		}
		ss.mail(arg)
	case "RCPT":
		if ss.tx != nil && len(ss.tx.Rcpts) == 0 {
			if done, err := ss.fault(AtRcpt); done {
				return err
			}
		}
		ss.rcpt(arg)
	case "DATA":
		if done, err := ss.fault(AtData); done {
			return err
		}
		return ss.data(arg)
	case "BDAT":
		return ss.bdat(arg)
	case "RSET":
		ss.tx = nil
		ss.reply(250, "2.0.0", "Ok")
	case "NOOP":
		ss.reply(250, "2.0.0", "Ok")
	case "VRFY":
		ss.reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery")
	case "HELP":
		ss.reply(214, "2.0.0", "smtptest: see RFC 5321")
	case "QUIT":
		if done, err := ss.fault(AtQuit); done {
			return err
		}
		ss.reply(221, "2.0.0", "Bye")
		_ = ss.bw.Flush()
		return errEnd
	default:
		ss.errors++
		ss.reply(500, "5.5.2", "Error: command not recognized")
	}
	return nil
}

func (ss *session) hello(verb, name string) error {
	if name == "" {
		ss.errors++
		ss.reply(501, "5.5.4", "Syntax: "+verb+" hostname")
		return nil
	}
	ss.helo, ss.tx = name, nil
	ss.esmtp, ss.lmtp = verb != "HELO", verb == "LHLO"
	host := ss.srv.opts.Hostname
	if verb == "HELO" {
		ss.replyLines(250, "", host)
		return nil
	}
	lines := []string{host + " greets " + name}
	lines = append(lines, ss.extensions()...)
	// The EHLO reply carries no enhanced code (RFC 2034 3).
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(ss.bw, "250%s%s\r\n", sep, l)
	}
	return nil
}

func (ss *session) extensions() []string {
	o := &ss.srv.opts
	var ext []string
	add := func(kw, line string) {
		if !ss.without(kw) {
			ext = append(ext, line)
		}
	}
	add("PIPELINING", "PIPELINING")
	if o.Size > 0 {
		add("SIZE", fmt.Sprintf("SIZE %d", o.Size))
	} else {
		add("SIZE", "SIZE")
	}
	if !ss.tls && !o.NoStartTLS {
		ext = append(ext, "STARTTLS")
	}
	if ss.authOffered() {
		ext = append(ext, "AUTH "+strings.Join(o.AuthMechs, " "))
	}
	add("ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES")
	add("8BITMIME", "8BITMIME")
	add("DSN", "DSN")
	add("SMTPUTF8", "SMTPUTF8")
	add("CHUNKING", "CHUNKING")
	if ss.tls {
		add("REQUIRETLS", "REQUIRETLS")
	}
	return ext
}

func (ss *session) authOffered() bool {
	o := &ss.srv.opts
	return !o.NoAuth && len(o.AuthMechs) > 0 && (ss.tls || !o.AuthNeedsTLS)
}

func (ss *session) startTLS(arg string) error {
	o := &ss.srv.opts
	switch {
	case ss.tls || o.NoStartTLS:
		ss.errors++
		ss.reply(502, "5.5.1", "Error: command not implemented")
		return nil
	case arg != "":
		ss.reply(501, "5.5.4", "Syntax: STARTTLS")
		return nil
	}
	ss.reply(220, "2.0.0", "Ready to start TLS")
	if o.Inject != "" {
		ss.bw.WriteString(o.Inject)
	}
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	// RFC 3207 5 (and CVE-2011-0411): plaintext pipelined behind STARTTLS
	// must not be read as if it came through TLS.
	if n := ss.br.Buffered(); n > 0 {
		_, _ = ss.br.Discard(n)
	}
	tc := tls.Server(ss.conn, ss.srv.certs.Server)
	_ = tc.SetDeadline(time.Now().Add(o.Timeout))
	if err := tc.Handshake(); err != nil {
		return errEnd
	}
	ss.setConn(tc)
	ss.tls = true
	ss.helo, ss.esmtp, ss.authUser, ss.tx = "", false, "", nil
	return nil
}
