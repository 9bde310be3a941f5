package mda

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpkit/smtpkit/internal/maildir"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Options configure the backend.
type Options struct {
	Hostname string
	Policy   *Policy
	Store    *maildir.Store // nil with Sink
	Sink     bool           // accept and discard, touch no disk
	// ReverseDNS looks up the client's name for the Received header; nil
	// skips the lookup.
	ReverseDNS func(ctx context.Context, ip string) (string, error)
	Logger     *slog.Logger
	Now        func() time.Time
	// Delivered is called after each accepted message (for --max-messages).
	Delivered func()
	// CommitsPerClient bounds how many messages from one client address
	// are made durable at once (0: DefaultCommitsPerClient; negative: no
	// bound). The transfer itself is never held back.
	CommitsPerClient int
}

// Backend is the serve backend: it implements smtp.Backend.
type Backend struct {
	o     Options
	count atomic.Int64
	gate  *clientGate // nil: no bound
}

// New returns a backend.
func New(o Options) *Backend {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Backend{o: o}
	switch {
	case o.CommitsPerClient == 0:
		b.gate = newClientGate(DefaultCommitsPerClient)
	case o.CommitsPerClient > 0:
		b.gate = newClientGate(o.CommitsPerClient)
	}
	return b
}

// Messages returns how many messages were accepted.
func (b *Backend) Messages() int64 { return b.count.Load() }

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(c *smtp.ConnState) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

type session struct {
	b     *Backend
	c     *smtp.ConnState
	from  string
	rcpts []rcpt
	rdns  *string
}

type rcpt struct {
	addr, dir string
}

func (s *session) Mail(from string, _ *smtp.PathArg) error {
	s.from, s.rcpts = from, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.PathArg) error {
	dir, ref := s.b.o.Policy.Route(to)
	if ref != nil {
		s.b.o.Logger.Info("recipient refused", "id", s.c.ID, "rcpt", to, "reply", ref.Error())
		return &smtp.Error{Reply: smtp.Reply{Code: ref.Code, Enhanced: ref.Enhanced, Lines: []string{ref.Text}}}
	}
	s.rcpts = append(s.rcpts, rcpt{addr: to, dir: dir})
	return nil
}

func (s *session) Reset()  { s.from, s.rcpts = "", nil }
func (s *session) Logout() {}

// Data implements smtp.Session: one durable copy per recipient, and a 250
// only when all are on disk.
func (s *session) Data(r io.Reader) error {
	ds, err := s.deliver(r)
	return s.logged(ds, err)
}

// LMTPData implements smtp.LMTPSession. The copies are written together,
// so every recipient gets the same outcome.
func (s *session) LMTPData(r io.Reader, status func(string, error)) error {
	ds, err := s.deliver(r)
	err = s.logged(ds, err)
	for _, rc := range s.rcpts {
		status(rc.addr, err)
	}
	return err
}

func (s *session) logged(ds []maildir.Delivered, err error) error {
	rcpts := make([]string, len(s.rcpts))
	for i, rc := range s.rcpts {
		rcpts[i] = rc.addr
	}
	if err != nil {
		var se *smtp.Error
		if errors.As(err, &se) {
			s.b.o.Logger.Warn("message not delivered", "id", s.c.TxID, "from", s.from, "rcpts", rcpts, "reply", se.Reply.String(), "err", err)
		}
		return err
	}
	var size int64
	paths := make([]string, 0, len(ds))
	for _, d := range ds {
		if d.Path != "" { // sink mode writes no file
			paths = append(paths, d.Path)
		}
		size = d.Size
	}
	s.b.count.Add(1)
	s.b.o.Logger.Info("message", "id", s.c.TxID, "from", s.from, "rcpts", rcpts, "size", size, "files", paths, "reply", "250 2.0.0 Ok: queued as "+s.c.TxID)
	if s.b.o.Delivered != nil {
		s.b.o.Delivered()
	}
	return nil
}

func (s *session) deliver(r io.Reader) ([]maildir.Delivered, error) {
	if s.b.o.Sink {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, err
		}
		return []maildir.Delivered{{Size: n}}, nil
	}
	targets := make([]maildir.Target, len(s.rcpts))
	for i, rc := range s.rcpts {
		targets[i] = maildir.Target{Dir: rc.dir, Prefix: s.traceHeaders(rc.addr, len(s.rcpts) == 1)}
	}
	if ip := s.c.RemoteIP(); s.b.gate != nil && ip != "" {
		gb := &gatedBody{r: r, acquire: func() func() { return s.b.gate.acquire(ip) }}
		defer gb.done()
		r = gb
	}
	ds, err := s.b.o.Store.DeliverCopies(context.Background(), targets, r)
	if err == nil {
		return ds, nil
	}
	var me *maildir.Error
	switch {
	case isContentErr(err):
		return nil, err
	case errors.As(err, &me) && me.Full:
		// RFC 3463 4.3.1: mail system full.
		return nil, &smtp.Error{Reply: smtp.Reply{Code: 452, Enhanced: "4.3.1", Lines: []string{"Error: insufficient system storage"}}}
	case errors.As(err, &me):
		return nil, &smtp.Error{Reply: smtp.Reply{Code: 451, Enhanced: "4.3.0", Lines: []string{"Error: local delivery failed, try again later"}}}
	}
	return nil, err
}

func isContentErr(err error) bool {
	return errors.Is(err, smtp.ErrBareLineEnding) || errors.Is(err, smtp.ErrLineTooLong) || errors.Is(err, smtp.ErrTooBig)
}

// traceHeaders returns Return-Path, Delivered-To and Received (RFC 5321
// 4.4) for one recipient.
func (s *session) traceHeaders(to string, single bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", s.from)
	fmt.Fprintf(&b, "Delivered-To: %s\r\n", to)
	ip := s.c.RemoteIP()
	from := sanitize(s.c.Helo)
	if from == "" {
		from = "unknown"
	}
	remote := "[" + ip + "]"
	if ip == "" {
		remote = s.c.Remote.String()
	}
	if name := s.reverse(ip); name != "" {
		remote = name + " " + remote
	}
	// RFC 3848 protocol names: ESMTP, ESMTPS, ESMTPA, ESMTPSA, LMTP...
	proto := "SMTP"
	if s.c.LMTP {
		proto = "LMTP"
	} else if s.c.ESMTP {
		proto = "ESMTP"
	}
	if s.c.TLS != nil {
		proto += "S"
	}
	if s.c.AuthUser != "" {
		proto += "A"
	}
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (smtpkit) with %s", from, remote, s.b.o.Hostname, proto)
	if s.c.TLS != nil {
		fmt.Fprintf(&b, "\r\n\t(%s %s)", tls.VersionName(s.c.TLS.Version), tls.CipherSuiteName(s.c.TLS.CipherSuite))
	}
	if s.c.AuthUser != "" {
		fmt.Fprintf(&b, "\r\n\t(authenticated as %s)", sanitize(s.c.AuthUser))
	}
	fmt.Fprintf(&b, " id %s", s.c.TxID)
	if single {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", to)
	}
	fmt.Fprintf(&b, "; %s\r\n", s.b.o.Now().Format(time.RFC1123Z))
	return []byte(b.String())
}

func (s *session) reverse(ip string) string {
	if s.rdns != nil {
		return *s.rdns
	}
	name := ""
	if s.b.o.ReverseDNS != nil && ip != "" && net.ParseIP(ip) != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if n, err := s.b.o.ReverseDNS(ctx, ip); err == nil {
			// The PTR name is the client's DNS operator's choice: kept
			// to printable ASCII like the HELO (found by FuzzTraceHeaders).
			name = sanitize(strings.TrimSuffix(n, "."))
		}
		cancel()
	}
	s.rdns = &name
	return name
}

// sanitize keeps header text to printable ASCII.
func sanitize(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '(' || r == ')' {
			return '?'
		}
		return r
	}, v)
}
