package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// TLSMode says how a client session uses TLS.
type TLSMode string

// TLS modes of a submission session.
const (
	TLSAuto          TLSMode = "auto"          // resolved by ResolveTLSMode
	TLSStartTLS      TLSMode = "starttls"      // STARTTLS required (RFC 3207)
	TLSImplicit      TLSMode = "implicit"      // TLS from the first byte (RFC 8314)
	TLSOpportunistic TLSMode = "opportunistic" // STARTTLS when offered
	TLSNone          TLSMode = "none"          // never
)

// ResolveTLSMode turns auto into a concrete mode: implicit TLS on port 465,
// required STARTTLS on 587 and whenever AUTH is wanted, opportunistic
// STARTTLS otherwise.
func ResolveTLSMode(m TLSMode, port string, auth bool) TLSMode {
	if m != TLSAuto && m != "" {
		return m
	}
	switch {
	case port == "465":
		return TLSImplicit
	case port == "587" || auth:
		return TLSStartTLS
	}
	return TLSOpportunistic
}

// Stop points for SubmitOptions.QuitAfter (swaks' --quit-after).
var QuitAfterPoints = []string{"connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data"}

// Message is content ready to send: re-openable, with what the envelope
// must declare about it.
type Message struct {
	Open     func() (io.ReadCloser, error)
	Size     int64 // octets with CRLF line endings
	EightBit bool  // needs BODY=8BITMIME
	UTF8     bool  // needs SMTPUTF8 (non-ASCII headers)
}

// SubmitOptions describe one submission session.
type SubmitOptions struct {
	Addr      string // host:port or unix:/path
	Host      string // the server's name: SNI and certificate check
	Network   string // tcp, tcp4, tcp6
	LocalAddr string
	Dialer    Dialer

	TLS       TLSMode     // concrete (see ResolveTLSMode)
	TLSConfig *tls.Config // ServerName, RootCAs, MinVersion, client certificates
	Insecure  bool        // report verification failures instead of failing

	Helo     string
	Protocol string // esmtp (default), smtp (HELO only) or lmtp

	AuthMech           string // "" no AUTH, "auto", or a mechanism name
	Credentials        Credentials
	AllowPlaintextAuth bool

	From     string
	MailOpts MailOptions // Ret, EnvID, RequireTLS, Extra; SIZE/BODY/SMTPUTF8 are set here
	Rcpts    []Recipient
	Message  *Message
	// Pipelining and Chunking: "auto" (when offered), "on", "off".
	Pipelining string
	Chunking   string
	QuitAfter  string
	Commands   []string // raw commands sent after EHLO (and AUTH)

	Client ClientOptions
	Now    func() time.Time
}

// Timings are the durations of a session's phases.
type Timings struct {
	Connect  time.Duration `json:"connect"`
	Banner   time.Duration `json:"banner"`
	Hello    time.Duration `json:"ehlo"`
	StartTLS time.Duration `json:"starttls,omitempty"`
	Auth     time.Duration `json:"auth,omitempty"`
	Envelope time.Duration `json:"envelope,omitempty"`
	Data     time.Duration `json:"data,omitempty"`
	Total    time.Duration `json:"total"`
}

// CommandResult is a raw command and its reply.
type CommandResult struct {
	Command string `json:"command"`
	Reply   Reply  `json:"reply"`
}

// AuthInfo says how the session authenticated.
type AuthInfo struct {
	Mechanism string `json:"mechanism"`
	User      string `json:"user,omitempty"`
	OK        bool   `json:"ok"`
}

// SubmitResult is everything a submission session learnt. It is filled as
// far as the session got, also when Submit returns an error.
type SubmitResult struct {
	Server       string          `json:"server"`
	Remote       string          `json:"remote,omitempty"`
	Banner       *Reply          `json:"banner,omitempty"`
	Hello        *Reply          `json:"ehlo,omitempty"`
	Extensions   []string        `json:"extensions"`
	TLS          *TLSInfo        `json:"tls,omitempty"`
	Auth         *AuthInfo       `json:"auth,omitempty"`
	Commands     []CommandResult `json:"commands,omitempty"`
	Mail         *Reply          `json:"mail,omitempty"`
	Recipients   []RcptResult    `json:"recipients"`
	Data         *Reply          `json:"data,omitempty"`
	QueueID      string          `json:"queue_id,omitempty"`
	Octets       int64           `json:"octets,omitempty"`
	Pipelined    bool            `json:"pipelined"`
	Chunked      bool            `json:"chunked"`
	StoppedAfter string          `json:"stopped_after,omitempty"`
	Timings      Timings         `json:"timings"`
	Error        string          `json:"error,omitempty"`
}

// CapabilityError is a session smtpkit ends itself because the server
// lacks what the message or the options need (STARTTLS, AUTH, 8BITMIME,
// SMTPUTF8, SIZE) or because AUTH would travel in clear. The CLI maps it to
// exit 69.
type CapabilityError struct{ Reason string }

func (e *CapabilityError) Error() string { return e.Reason }

// Submit runs one session: connect, greeting, EHLO, STARTTLS, AUTH, raw
// commands, MAIL/RCPT/DATA (or BDAT), QUIT; or stops at QuitAfter. The
// result is filled as far as the session got. Errors: *ConnectError,
// *TLSError, *NetError, *ProtocolError, *InjectionError, *CapabilityError,
// *Error (a refusal), ErrNoRecipients; a session where some recipients were
// refused returns nil and lists them in the result.
func Submit(ctx context.Context, o SubmitOptions) (*SubmitResult, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.Client.Now == nil {
		o.Client.Now = now
	}
	if o.Protocol == "lmtp" {
		o.Client.LMTP = true // LHLO, and one reply per recipient after the content
	}
	res := &SubmitResult{Server: o.Addr, Recipients: []RcptResult{}}
	start := now()
	defer func() { res.Timings.Total = now().Sub(start) }()
	s := &session{o: o, res: res, now: now}
	err := s.run(ctx)
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

// quitAfterRefusal ends the session with QUIT when it stopped between
// commands, because the server refused something or smtpkit lacks a
// capability, and the server is still listening (RFC 5321 4.1.1.10: the
// client sends QUIT to close), so that the server does not log a lost
// connection. After a 421 the server is already closing (RFC 5321 3.8);
// after any other failure the connection is not in a state to talk.
func (s *session) quitAfterRefusal(err error) {
	var (
		se *Error
		ce *CapabilityError
	)
	switch {
	case errors.As(err, &se) && se.Reply.Code != CodeUnavailable:
	case errors.As(err, &ce), errors.Is(err, ErrNoRecipients):
	default:
		return
	}
	if s.c.closed {
		return
	}
	_, _ = s.c.Quit()
}

type session struct {
	o         SubmitOptions
	res       *SubmitResult
	c         *Client
	now       func() time.Time
	verifyErr error
}

func (s *session) phase(d *time.Duration, f func() error) error {
	t := s.now()
	err := f()
	*d = s.now().Sub(t)
	return err
}

func (s *session) run(ctx context.Context) (err error) {
	o, res := s.o, s.res
	var conn net.Conn
	var implicit *tls.Config
	if o.TLS == TLSImplicit {
		implicit = s.tlsConfig()
	}
	err = s.phase(&res.Timings.Connect, func() error {
		var err error
		conn, err = Dial(ctx, DialOptions{Addr: o.Addr, Network: o.Network, LocalAddr: o.LocalAddr,
			Timeout: o.Client.Timeouts.Connect, TLS: implicit, Dialer: o.Dialer, Trace: o.Client.Trace, Now: s.now})
		return err
	})
	if err != nil {
		return err
	}
	res.Remote = conn.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := NewClient(conn, o.Client)
	s.c = c
	defer func() {
		if err != nil {
			c.emit(Event{Kind: EventError, Line: err.Error()})
			s.quitAfterRefusal(err)
		}
		c.Close()
	}()
	if implicit != nil {
		st, _ := c.TLS()
		res.TLS = NewTLSInfo("implicit", st, s.verifyErr)
	}
	if o.QuitAfter == "connect" {
		res.StoppedAfter = "connect"
		return nil
	}
	if err := s.phase(&res.Timings.Banner, func() error {
		r, err := c.Greeting()
		res.Banner = &r
		return err
	}); err != nil {
		return err
	}
	if o.QuitAfter == "banner" {
		return s.quit("banner")
	}
	if err := s.phase(&res.Timings.Hello, s.hello); err != nil {
		return err
	}
	if o.QuitAfter == "ehlo" {
		return s.quit("ehlo")
	}
	var tlsTime time.Duration
	if err := s.phase(&tlsTime, s.startTLS); err != nil {
		return err
	}
	if res.TLS != nil && res.TLS.Mode == "starttls" {
		res.Timings.StartTLS = tlsTime
	}
	if o.QuitAfter == "starttls" {
		return s.quit("starttls")
	}
	var authTime time.Duration
	if err := s.phase(&authTime, s.auth); err != nil {
		return err
	}
	if res.Auth != nil {
		res.Timings.Auth = authTime
	}
	if o.QuitAfter == "auth" {
		return s.quit("auth")
	}
	for _, line := range o.Commands {
		r, err := c.Raw(line)
		if err != nil {
			return err
		}
		res.Commands = append(res.Commands, CommandResult{Command: line, Reply: r})
	}
	if o.Message == nil {
		return s.quit("commands")
	}
	if err := s.transaction(); err != nil {
		return err
	}
	if res.StoppedAfter != "" {
		return nil
	}
	_, _ = c.Quit()
	return nil
}

// quit ends the session politely at a stop point.
func (s *session) quit(point string) error {
	s.res.StoppedAfter = point
	_, err := s.c.Quit()
	var se *Error
	if errors.As(err, &se) {
		return nil // a server that dislikes QUIT is not our failure
	}
	return err
}

func (s *session) hello() error {
	var (
		r   Reply
		err error
	)
	if s.o.Protocol == "smtp" {
		r, err = s.c.HelloPlain(s.o.Helo)
	} else {
		r, err = s.c.Hello(s.o.Helo)
	}
	s.res.Hello = &r
	s.res.Extensions = s.c.Extensions().Lines()
	return err
}

// tlsConfig returns the caller's config with verification moved into
// VerifyConnection, so that --insecure can still report why a certificate
// would have failed.
func (s *session) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.o.TLSConfig != nil {
		cfg = s.o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.o.Host
	}
	if cfg.ServerName == "" && !strings.HasPrefix(s.o.Addr, "unix:") {
		// Without a name x509 would check the chain but not whom it is
		// for; the address's host is what the user asked to talk to.
		if h, _, err := net.SplitHostPort(s.o.Addr); err == nil {
			cfg.ServerName = h
		}
	}
	roots, name := cfg.RootCAs, cfg.ServerName
	// Opportunistic STARTTLS encrypts without requiring a valid
	// certificate (like Postfix's "may" level, RFC 7435): the result says
	// whether it verified.
	skip := cfg.InsecureSkipVerify || s.o.Insecure || s.o.TLS == TLSOpportunistic
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(st tls.ConnectionState) error {
		err := VerifyChain(st, roots, name, s.now())
		s.verifyErr = err
		if skip {
			return nil
		}
		return err
	}
	return cfg
}

func (s *session) startTLS() error {
	o, c := s.o, s.c
	if o.TLS == TLSImplicit || o.TLS == TLSNone {
		return nil
	}
	if !c.Extensions().Has("STARTTLS") {
		if o.TLS == TLSStartTLS {
			return &CapabilityError{Reason: "server does not offer STARTTLS, and TLS is required (use --tls opportunistic or none to send in clear)"}
		}
		return nil
	}
	if err := c.StartTLS(s.tlsConfig()); err != nil {
		var se *Error
		if o.TLS == TLSOpportunistic && errors.As(err, &se) && se.Reply.Code != CodeUnavailable {
			// The server refused STARTTLS but the session goes on: in
			// opportunistic mode that means continuing in clear.
			return nil
		}
		return err
	}
	st, _ := c.TLS()
	s.res.TLS = NewTLSInfo("starttls", st, s.verifyErr)
	if err := s.hello(); err != nil {
		return err
	}
	return nil
}

func (s *session) auth() error {
	o, c := s.o, s.c
	if o.AuthMech == "" {
		return nil
	}
	if _, tlsOn := c.TLS(); !tlsOn && !o.AllowPlaintextAuth && !strings.HasPrefix(o.Addr, "unix:") {
		return &CapabilityError{Reason: "refusing to send AUTH over a connection without TLS (use --allow-plaintext-auth to override)"}
	}
	offered := c.Extensions().AuthMechanisms()
	mech := strings.ToUpper(o.AuthMech)
	if mech == "AUTO" {
		if len(offered) == 0 {
			return &CapabilityError{Reason: "server does not offer AUTH"}
		}
		m, ok := ChooseMechanism(offered)
		if !ok {
			return &CapabilityError{Reason: fmt.Sprintf("server offers AUTH %s, none of which smtpkit can use with a password", strings.Join(offered, " "))}
		}
		mech = m
	}
	cr := o.Credentials
	if cr.Host == "" {
		cr.Host = o.Host
	}
	sc, err := NewMechanism(mech, cr)
	if err != nil {
		return err
	}
	s.res.Auth = &AuthInfo{Mechanism: mech, User: cr.User}
	if err := c.Auth(sc); err != nil {
		return err
	}
	s.res.Auth.OK = true
	return nil
}

func (s *session) transaction() error {
	o, c, res := s.o, s.c, s.res
	ext := c.Extensions()
	msg := o.Message
	mo := o.MailOpts
	if limit := ext.Size(); limit > 0 && msg.Size > limit {
		return &CapabilityError{Reason: fmt.Sprintf("message is %d octets, server accepts at most %d (SIZE)", msg.Size, limit)}
	}
	if ext.Has("SIZE") {
		mo.Size = msg.Size
	}
	if msg.EightBit && mo.Body == "" {
		if !ext.Has("8BITMIME") {
			return &CapabilityError{Reason: "message has 8-bit content but the server does not offer 8BITMIME"}
		}
		mo.Body = "8BITMIME"
	}
	needUTF8 := msg.UTF8 || !isASCII(o.From)
	for _, r := range o.Rcpts {
		needUTF8 = needUTF8 || !isASCII(r.Addr)
	}
	if needUTF8 {
		if !ext.Has("SMTPUTF8") {
			return &CapabilityError{Reason: "message or address needs SMTPUTF8 but the server does not offer it"}
		}
		mo.SMTPUTF8 = true
	}
	if mo.RequireTLS {
		if _, ok := c.TLS(); !ok || !ext.Has("REQUIRETLS") {
			return &CapabilityError{Reason: "REQUIRETLS asked for, but the session is not TLS or the server does not offer REQUIRETLS"}
		}
	}
	// "on" requires the extension: RFC 2920 and RFC 3030 forbid using
	// one the server did not announce.
	if o.Pipelining == "on" && !ext.Has("PIPELINING") {
		return &CapabilityError{Reason: "--pipelining on: the server does not offer PIPELINING"}
	}
	if o.Chunking == "on" && !ext.Has("CHUNKING") {
		return &CapabilityError{Reason: "--chunking on: the server does not offer CHUNKING"}
	}
	pipelining := choose(o.Pipelining, ext.Has("PIPELINING"))
	chunking := choose(o.Chunking, ext.Has("CHUNKING"))
	if o.QuitAfter == "mail" || o.QuitAfter == "rcpt" || o.QuitAfter == "data" {
		return s.partialTransaction(&mo)
	}
	body, err := msg.Open()
	if err != nil {
		return &BodyReadError{Err: err}
	}
	defer body.Close()
	tx := &Transaction{From: o.From, MailOpts: &mo, Rcpts: o.Rcpts, Body: body, Pipelining: pipelining, Chunking: chunking}
	res.Pipelined, res.Chunked = pipelining, chunking
	t0 := s.now()
	tr, err := c.Send(tx)
	if tr != nil {
		if tr.Mail.Code != 0 {
			m := tr.Mail
			res.Mail = &m
		}
		res.Recipients = tr.Rcpts
		res.Data, res.QueueID, res.Octets = tr.Data, tr.QueueID, tr.Octets
		res.Timings.Data = tr.DataTime
	}
	res.Timings.Envelope = s.now().Sub(t0) - res.Timings.Data
	return err
}

// partialTransaction runs MAIL and RCPT one by one for --quit-after mail,
// rcpt or data, then stops.
func (s *session) partialTransaction(mo *MailOptions) error {
	o, c, res := s.o, s.c, s.res
	r, err := c.Mail(o.From, mo)
	res.Mail = &r
	if err != nil {
		return err
	}
	if o.QuitAfter == "mail" {
		return s.quit("mail")
	}
	ok := 0
	for _, rc := range o.Rcpts {
		r, err := c.Rcpt(rc.Addr, rc.Opts)
		var se *Error
		if err != nil && !errors.As(err, &se) {
			return err
		}
		res.Recipients = append(res.Recipients, RcptResult{Addr: rc.Addr, Reply: r, Accepted: err == nil})
		if err == nil {
			ok++
		}
		if r.Code == CodeUnavailable {
			return err
		}
	}
	if ok == 0 {
		return ErrNoRecipients
	}
	if o.QuitAfter == "rcpt" {
		return s.quit("rcpt")
	}
	r, err = c.cmd("DATA", "", 3, c.opts.Timeouts.DataInit)
	res.Data = &r
	if err != nil {
		return err
	}
	// Inside DATA a QUIT would be content: drop the connection instead, so
	// the server discards the transaction.
	res.StoppedAfter = "data"
	return nil
}

func choose(mode string, offered bool) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	return offered
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
