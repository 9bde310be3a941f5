package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Backend receives what a server session accepts. NewSession is called once
// per connection, after the connection limits are checked; returning an
// *Error refuses the connection with that reply.
type Backend interface {
	NewSession(c *ConnState) (Session, error)
}

// Session is one connection's transactions. Methods run on the
// connection's goroutine. Returning an *Error answers with that reply; any
// other error answers 451 4.3.0 and is logged. A panic answers 421 and
// closes this connection only.
type Session interface {
	// Mail starts a transaction (MAIL FROM). from is "" for the null path.
	Mail(from string, p *PathArg) error
	// Rcpt adds a recipient (RCPT TO).
	Rcpt(to string, p *PathArg) error
	// Data receives the content, un-dot-stuffed, with CRLF line endings. It
	// must read r to EOF or return an error; the reply is sent after it
	// returns. r fails with ErrBareLineEnding, ErrLineTooLong, ErrTooBig or
	// an I/O error: Data must then return that error and store nothing.
	Data(r io.Reader) error
	// Reset abandons the current transaction (RSET, a new MAIL, an error).
	Reset()
	// Logout ends the session.
	Logout()
}

// LMTPSession is a Session that answers each recipient on its own after
// DATA (RFC 2033 4.2). status must be called once per accepted recipient,
// in order; a nil error means delivered.
type LMTPSession interface {
	Session
	LMTPData(r io.Reader, status func(rcpt string, err error)) error
}

// ConnState is what the server knows about a connection; the backend
// session may keep the pointer: the server updates it as the session goes
// (HELO name, TLS, AUTH user).
type ConnState struct {
	ID       string
	Remote   net.Addr
	Local    net.Addr
	Helo     string
	ESMTP    bool
	LMTP     bool
	TLS      *tls.ConnectionState
	AuthUser string
	Started  time.Time
	// TxID names the current transaction (the queue id in "250 Ok: queued
	// as"); set at MAIL.
	TxID string
}

// RemoteIP returns the client's IP address as a string.
func (c *ConnState) RemoteIP() string {
	if ta, ok := c.Remote.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return ""
}

// Limits bound what one client can make the server do. Zero fields take
// DefaultLimits' values; use a negative value to lift a limit.
type Limits struct {
	CommandLine    int           // RFC 5321 4.5.3.1.4: 512 octets with CRLF
	AuthLine       int           // RFC 4954 4: 12288 octets for AUTH lines
	TextLine       int           // RFC 5321 4.5.3.1.6: 1000 octets with CRLF
	Recipients     int           // RFC 5321 4.5.3.1.8: at least 100
	MessageSize    int64         // announced with SIZE (RFC 1870)
	Errors         int           // bad commands before 421 (an accepted message forgives them)
	NoProgress     int           // commands without progress (NOOP, RSET, VRFY, HELP, RCPT over the limit or refused for now) before 421; only an accepted message resets it
	AuthFailures   int           // failed AUTH attempts before 421
	AuthDelay      time.Duration // delay after a failed AUTH, doubling with each failure of the client address
	CommandTimeout time.Duration // RFC 5321 4.5.3.2.7: 5 minutes to send a command
	DataTimeout    time.Duration // the whole DATA or BDAT content
	Connections    int           // in total
	PerIP          int           // per client IP

	// AuthFailuresPerIP failed AUTH attempts from one client address (an
	// IPv6 /64) within AuthWindow, over any number of connections, and
	// AUTH from it is answered 421 until AuthWindow has passed since its
	// last failure (like Postfix's anvil and smtpd_client_auth_rate_limit).
	// The address's failures also drive the AuthDelay doubling, so that
	// reconnecting does not reset it.
	AuthFailuresPerIP int
	AuthWindow        time.Duration
	AuthMaxDelay      time.Duration // the longest the AuthDelay grows
}

// DefaultLimits returns the limits a server has unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		CommandLine:    512,
		AuthLine:       12288,
		TextLine:       1000,
		Recipients:     100,
		MessageSize:    64 << 20,
		Errors:         10,
		NoProgress:     20,
		AuthFailures:   3,
		AuthDelay:      time.Second,
		CommandTimeout: 5 * time.Minute,
		DataTimeout:    10 * time.Minute,
		Connections:    200,
		PerIP:          50,

		AuthFailuresPerIP: 10,
		AuthWindow:        15 * time.Minute,
		AuthMaxDelay:      30 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.CommandLine == 0 {
		l.CommandLine = d.CommandLine
	}
	if l.AuthLine == 0 {
		l.AuthLine = d.AuthLine
	}
	if l.TextLine == 0 {
		l.TextLine = d.TextLine
	}
	if l.Recipients == 0 {
		l.Recipients = d.Recipients
	}
	if l.MessageSize == 0 {
		l.MessageSize = d.MessageSize
	}
	if l.Errors == 0 {
		l.Errors = d.Errors
	}
	if l.NoProgress == 0 {
		l.NoProgress = d.NoProgress
	}
	if l.AuthFailures == 0 {
		l.AuthFailures = d.AuthFailures
	}
	if l.AuthDelay == 0 {
		l.AuthDelay = d.AuthDelay
	}
	if l.AuthMaxDelay == 0 {
		l.AuthMaxDelay = d.AuthMaxDelay
	}
	if l.AuthFailuresPerIP == 0 {
		l.AuthFailuresPerIP = d.AuthFailuresPerIP
	}
	if l.AuthWindow == 0 {
		l.AuthWindow = d.AuthWindow
	}
	if l.CommandTimeout == 0 {
		l.CommandTimeout = d.CommandTimeout
	}
	if l.DataTimeout == 0 {
		l.DataTimeout = d.DataTimeout
	}
	if l.Connections == 0 {
		l.Connections = d.Connections
	}
	if l.PerIP == 0 {
		l.PerIP = d.PerIP
	}
	return l
}

// Authenticator checks a user name and password. It must take the same
// time and give the same error whether or not the user exists.
type Authenticator func(c *ConnState, user, password string) error

// Hook lets a caller inject faults at a stage (connect, ehlo, mail, rcpt,
// data, dot): wait for delay, then answer reply instead of the normal
// handling when reply is non-nil.
type Hook func(stage string) (delay time.Duration, reply *Reply)

// ServerOptions configure a Server.
type ServerOptions struct {
	Hostname   string
	Backend    Backend
	TLS        *tls.Config // nil: no STARTTLS
	RequireTLS bool        // 530 5.7.0 to MAIL before STARTTLS
	Auth       Authenticator
	// RequireAuth refuses MAIL before AUTH (a submission port).
	RequireAuth bool
	// AllowPlaintextAuth offers AUTH before TLS.
	AllowPlaintextAuth bool
	// VRFY answers VRFY through this function; nil answers 252 (RFC 5321
	// 3.5.3: do not disclose).
	Verify       func(addr string) *Reply
	NoPipelining bool
	NoChunking   bool
	// GreetDelay waits this long before the greeting and refuses a client
	// that talks in the meantime (like Postfix's postscreen_greet_wait).
	// Bytes already waiting before the greeting are refused even when zero.
	GreetDelay time.Duration
	Limits     Limits
	Hook       Hook
	Logger     *slog.Logger
	Now        func() time.Time
	// Sleep waits out the delay after a failed AUTH and the Hook's delays;
	// nil waits on a timer that Shutdown and Close cut short. Tests pass
	// a recorder.
	Sleep func(time.Duration)
}

// Server runs SMTP (or LMTP) sessions for a Backend.
type Server struct {
	o       ServerOptions
	lim     Limits
	mu      sync.Mutex
	lns     map[net.Listener]bool
	conns   map[*conn]struct{}
	perIP   map[string]int
	closing atomic.Bool
	// draining is set by Drain: no new sessions, and a session's next
	// command other than QUIT is answered 421.
	draining atomic.Bool
	wg       sync.WaitGroup
	seq      atomic.Uint64
	auth     *authThrottle
	// stop is closed by Shutdown and Close: it ends the delays of pause.
	stop     chan struct{}
	stopOnce sync.Once
}

// NewServer returns a server; Serve runs it on listeners.
func NewServer(o ServerOptions) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	lim := o.Limits.withDefaults()
	return &Server{o: o, lim: lim, lns: map[net.Listener]bool{}, conns: map[*conn]struct{}{}, perIP: map[string]int{},
		auth: newAuthThrottle(o.Now, lim.AuthWindow), stop: make(chan struct{})}
}

// pause waits d, through ServerOptions.Sleep when set; the default timer
// ends early once the server is shutting down, so that a session held in
// a delay does not hold up Shutdown.
func (s *Server) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	if s.o.Sleep != nil {
		s.o.Sleep(d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stop:
	}
}

func (s *Server) stopDelays() { s.stopOnce.Do(func() { close(s.stop) }) }

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smtp: server closed")

// ServeOptions say how sessions on one listener run.
type ListenerOptions struct {
	LMTP     bool // speak LMTP (RFC 2033)
	Implicit bool // TLS from the first byte (RFC 8314); needs ServerOptions.TLS
}

// Serve accepts connections on ln until Shutdown or Close and returns
// ErrServerClosed then, or the listener's error.
func (s *Server) Serve(ln net.Listener, lo ListenerOptions) error {
	if lo.Implicit && s.o.TLS == nil {
		return errors.New("smtp: implicit TLS listener without a certificate")
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[ln] = lo.LMTP
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || s.draining.Load() {
				return ErrServerClosed
			}
			if temporaryAccept(err) {
				// Temporary accept errors (EMFILE...): back off like net/http.
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				s.o.Logger.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		// Add under the lock Shutdown takes to set closing, so that no
		// session starts once Shutdown is waiting for them (WaitGroup:
		// an Add from zero must happen before Wait).
		s.mu.Lock()
		if s.closing.Load() || s.draining.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(nc, lo)
	}
}

// temporaryAccept reports accept errors worth retrying (EMFILE, ENFILE,
// ECONNABORTED), as net/http does.
func temporaryAccept(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// admit applies the connection limits; it returns a reply to refuse with.
func (s *Server) admit(c *conn) *Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() || s.draining.Load() {
		return &Reply{Code: 421, Enhanced: "4.3.2", Lines: []string{s.o.Hostname + " Service shutting down"}}
	}
	if s.lim.Connections > 0 && len(s.conns) >= s.lim.Connections {
		return &Reply{Code: 421, Enhanced: "4.7.0", Lines: []string{s.o.Hostname + " Too many connections, try again later"}}
	}
	ip := c.st.RemoteIP()
	if ip != "" && s.lim.PerIP > 0 && s.perIP[ip] >= s.lim.PerIP {
		return &Reply{Code: 421, Enhanced: "4.7.0", Lines: []string{s.o.Hostname + " Too many connections from your address, try again later"}}
	}
	s.conns[c] = struct{}{}
	if ip != "" {
		s.perIP[ip]++
	}
	return nil
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if ip := c.st.RemoteIP(); ip != "" {
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
	}
}

// Conns returns the number of open sessions.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, answers 421 to sessions waiting for a command,
// lets sessions inside DATA finish, and waits for all sessions to end or
// ctx to expire; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopDelays()
	s.mu.Lock()
	if s.closing.Swap(true) {
		s.mu.Unlock()
	} else {
		for ln := range s.lns {
			ln.Close()
		}
		for c := range s.conns {
			c.interruptIdle()
		}
		s.mu.Unlock()
	}
	if err := s.waitSessions(ctx); err != nil {
		s.Close()
		s.wg.Wait()
		return err
	}
	return nil
}

// Drain stops accepting and lets the sessions end by themselves: a client
// that has just had its last message accepted still gets 221 for its
// QUIT, where Shutdown would have answered 421 to it first. Any other
// command from here on is answered 421 4.3.2 and ends its session; a
// session inside DATA or BDAT may finish the message. Drain returns when
// every session has ended, or with ctx's error when ctx ends first: then
// call Shutdown for the sessions still open.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	return s.waitSessions(ctx)
}

// waitSessions waits for every session to end, or for ctx to end first.
func (s *Server) waitSessions(ctx context.Context) error {
	wait := make(chan struct{})
	go func() { s.wg.Wait(); close(wait) }()
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.stopDelays()
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) newID() string {
	n := s.seq.Add(1)
	return fmt.Sprintf("%X%05X", s.o.Now().Unix()&0xFFFFFF, n&0xFFFFF)
}
