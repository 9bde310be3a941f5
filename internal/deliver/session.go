package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// attemptResult is what one session to one address decided.
type attemptResult struct {
	decided map[int]Outcome // by index into Request.To
	pending []int           // recipients still undecided: try the next address
	err     error           // why they are undecided
	at      remote
	open    bool // the transaction ended cleanly: the session may go on
}

// session is one SMTP connection to one address of a destination.
type session struct {
	d  *deliverer
	ds *dest
	t  target
	c  *smtp.Client
	at remote
}

// attempt runs one session to ip (or t.host by name when ip is "") for the
// pending recipients. A failure before the transaction (connect, greeting,
// EHLO, STARTTLS, TLS policy, AUTH, a 421 anywhere) leaves every recipient
// pending, so the caller moves on to the next address (RFC 5321 5.1: "the
// SMTP client SHOULD try at least two addresses"). Replies to MAIL, RCPT and
// the content decide the recipients they concern.
func (d *deliverer) attempt(ctx context.Context, ds *dest, t target, ip string, in tlspolicy.Input, pending []int) attemptResult {
	at := remote{host: t.host, addr: ip}
	host := ip
	if host == "" {
		host = t.host
	}
	res := attemptResult{pending: pending, at: at}
	to := d.o.Timeouts
	if to.Connect == 0 {
		to.Connect = smtp.DefaultTimeouts().Connect
	}
	var implicit *tls.Config
	if ds.smarthost && ds.port == 465 {
		implicit = d.tlsConfig(t.host) // RFC 8314 3.3: submission over implicit TLS
	}
	conn, err := smtp.Dial(ctx, smtp.DialOptions{Addr: net.JoinHostPort(host, strconv.Itoa(ds.port)), Network: d.o.Network,
		Timeout: to.Connect, TLS: implicit, Dialer: d.o.Dialer, Trace: d.o.Trace, Now: d.o.Now})
	if err != nil {
		res.err = err
		return res
	}
	if at.addr == "" {
		if h, _, e := net.SplitHostPort(conn.RemoteAddr().String()); e == nil {
			at.addr = h
		}
		res.at = at
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := smtp.NewClient(conn, smtp.ClientOptions{Trace: d.o.Trace, Timeouts: d.o.Timeouts, Now: d.o.Now})
	defer c.Close()
	s := &session{d: d, ds: ds, t: t, c: c, at: at}
	if err := s.open(in, implicit != nil); err != nil {
		s.quit(err)
		res.err = err
		return res
	}
	return s.transactions(pending)
}

// transactions sends the message in as many transactions as the server
// needs: RFC 5321 4.5.3.1.10 lets a server answer "452 too many
// recipients" and asks the client to send the rest in another transaction
// (Postfix does the same). Each round delivers at least one recipient, so
// the loop ends.
func (s *session) transactions(pending []int) attemptResult {
	total := attemptResult{decided: map[int]Outcome{}, at: s.at}
	for {
		r := s.transaction(pending)
		more := tooMany(r, pending)
		for i, o := range r.decided {
			if !slices.Contains(more, i) {
				total.decided[i] = o
			}
		}
		if !r.open || len(more) == 0 {
			if r.open {
				_, _ = s.c.Quit()
			}
			total.pending, total.err = r.pending, r.err
			return total
		}
		pending = more
	}
}

// tooMany returns the recipients refused with "452 too many recipients"
// in a transaction that delivered to someone else.
func tooMany(r attemptResult, pending []int) []int {
	delivered := false
	for _, o := range r.decided {
		delivered = delivered || o.Status == Delivered
	}
	if !delivered {
		return nil
	}
	var more []int
	for _, i := range pending {
		o, ok := r.decided[i]
		if !ok || o.Reply == nil || o.Reply.Code != 452 || !strings.HasPrefix(o.Diagnostic, "RCPT TO:") {
			continue
		}
		if e := o.Reply.Enhanced; e == "" || e == "4.5.3" || strings.Contains(strings.ToLower(o.Reply.Text()), "too many") {
			more = append(more, i)
		}
	}
	return more
}

// tlsConfig accepts any certificate in the handshake: tlspolicy.Evaluate
// judges the connection afterwards under the level, and the session ends
// before MAIL when the verdict fails, so nothing is sent over a connection
// the policy rejects.
func (d *deliverer) tlsConfig(host string) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, //nolint:gosec // judged by tlspolicy.Evaluate before any mail is sent
		MinVersion:         tls.VersionTLS12,
	}
}

// open runs the greeting, EHLO, STARTTLS, the TLS verdict and AUTH.
func (s *session) open(in tlspolicy.Input, implicit bool) error {
	c, o := s.c, s.d.o
	if _, err := c.Greeting(); err != nil {
		return err
	}
	if _, err := c.Hello(o.EHLO); err != nil {
		return err
	}
	// STARTTLS whenever offered, unless the level is none (RFC 3207 4.1;
	// RFC 7435: opportunistic encryption beats none).
	if !implicit && in.Level != tlspolicy.LevelNone && c.Extensions().Has("STARTTLS") {
		if err := c.StartTLS(s.d.tlsConfig(s.t.host)); err != nil {
			var se *smtp.Error
			if !errors.As(err, &se) || se.Reply.Code == smtp.CodeUnavailable {
				return err
			}
			// STARTTLS refused: the session goes on in clear only if the
			// verdict below allows it.
		} else if _, err := c.Hello(o.EHLO); err != nil {
			return err // RFC 3207 4.2: EHLO again inside TLS
		}
	}
	st, _ := c.TLS()
	in.Now = o.Now()
	v := tlspolicy.Evaluate(st, in)
	if err := v.Err(); err != nil {
		return err
	}
	if s.ds.smarthost && o.Auth != nil {
		return s.auth()
	}
	return nil
}

// auth authenticates to the smarthost. A refusal defers the mail, as
// Postfix does: the credentials may be fixed before the next attempt.
func (s *session) auth() error {
	c, o := s.c, s.d.o
	if _, on := c.TLS(); !on && !o.AllowPlaintextAuth {
		return &statusError{status: Deferred, enhanced: "4.7.4", msg: "refusing to send AUTH over a connection without TLS"}
	}
	mech := strings.ToUpper(o.AuthMech)
	if mech == "" || mech == "AUTO" {
		m, ok := smtp.ChooseMechanism(c.Extensions().AuthMechanisms())
		if !ok {
			return &statusError{status: Deferred, enhanced: "4.7.4", msg: "smarthost offers no AUTH mechanism smtpkit can use"}
		}
		mech = m
	}
	cr := *o.Auth
	if cr.Host == "" {
		cr.Host = s.t.host
	}
	if cr.Port == 0 {
		cr.Port = s.ds.port
	}
	sc, err := smtp.NewMechanism(mech, cr)
	if err != nil {
		return &statusError{status: Deferred, enhanced: "4.3.5", msg: err.Error()}
	}
	if err := c.Auth(sc); err != nil {
		var se *smtp.Error
		if errors.As(err, &se) && se.Reply.Code != smtp.CodeUnavailable {
			return &statusError{status: Deferred, enhanced: "4" + replyEnhanced(se.Reply)[1:],
				msg: "authentication failed: " + se.Reply.String()}
		}
		return err
	}
	return nil
}

// transaction sends the message to the pending recipients and reads what
// the server decided for each.
func (s *session) transaction(pending []int) attemptResult {
	c, req, at := s.c, s.d.req, s.at
	res := attemptResult{decided: map[int]Outcome{}, at: at}
	decideAll := func(err error) attemptResult {
		for _, i := range pending {
			res.decided[i] = fromErr(req.To[i], err, at)
		}
		return res
	}
	if err := s.check(pending); err != nil {
		s.quit(err)
		res.pending, res.err = pending, err
		return res
	}
	ext := c.Extensions()
	mo := req.MailOpts
	mo.Size, mo.Body, mo.SMTPUTF8 = 0, "", false
	if ext.Has("SIZE") {
		mo.Size = req.Msg.Size // RFC 1870 6
	}
	if req.Msg.EightBit {
		mo.Body = "8BITMIME" // RFC 6152 3
	}
	mo.SMTPUTF8 = s.needUTF8(pending) // RFC 6531 3.4
	dsn := ext.Has("DSN")
	if !dsn {
		// RFC 3461 4: the DSN parameters go only to a server that offers
		// DSN; without it the relay itself answers for notifications.
		mo.Ret, mo.EnvID = "", ""
	}
	rcpts := make([]smtp.Recipient, len(pending))
	for k, i := range pending {
		rcpts[k] = smtp.Recipient{Addr: req.To[i]}
		if i < len(req.RcptOpts) && req.RcptOpts[i] != nil {
			ro := *req.RcptOpts[i]
			if !dsn {
				ro.Notify, ro.ORcpt = nil, ""
			}
			rcpts[k].Opts = &ro
		}
	}
	body, err := req.Msg.Open()
	if err != nil {
		s.quit(&statusError{})
		return decideAll(&smtp.BodyReadError{Err: err})
	}
	defer body.Close()
	tr, err := c.Send(&smtp.Transaction{From: req.From, MailOpts: &mo, Rcpts: rcpts, Body: body,
		Pipelining: ext.Has("PIPELINING"), Chunking: ext.Has("CHUNKING")})
	var be *smtp.BodyReadError
	if errors.As(err, &be) {
		return decideAll(err)
	}
	if tr != nil && tr.Mail.Code/100 >= 4 && tr.Mail.Code != smtp.CodeUnavailable {
		// RFC 5321 4.1.1.2: a refused MAIL ends the transaction for every
		// recipient; another MX would be asked the same.
		s.quit(err)
		for _, i := range pending {
			o := fromReply(req.To[i], tr.Mail, at)
			o.Diagnostic = oneLine(fmt.Sprintf("%s: %s", smtp.MailCommand(req.From, nil), tr.Mail.String()))
			res.decided[i] = o
		}
		return res
	}
	for k, i := range pending {
		if tr == nil || k >= len(tr.Rcpts) {
			res.pending = append(res.pending, i)
			continue
		}
		r := tr.Rcpts[k]
		switch {
		case !r.Accepted && (r.Reply.Code == smtp.CodeUnavailable || r.Reply.Code == 0):
			res.pending = append(res.pending, i)
		case !r.Accepted:
			// RFC 5321 4.2.5 / 3.3: each RCPT reply decides its recipient.
			o := fromReply(req.To[i], r.Reply, at)
			o.Diagnostic = oneLine(fmt.Sprintf("RCPT TO:<%s>: %s", req.To[i], r.Reply.String()))
			res.decided[i] = o
		case tr.Data != nil && tr.Data.Code != smtp.CodeUnavailable && (err == nil || tr.Data.Code/100 >= 4):
			// RFC 5321 4.2.5: the reply to the end of the content decides
			// for every accepted recipient.
			res.decided[i] = fromReply(req.To[i], *tr.Data, at)
		default:
			res.pending = append(res.pending, i)
		}
	}
	var se *smtp.Error
	decidedErr := errors.Is(err, smtp.ErrNoRecipients) || errors.As(err, &se) && se.Reply.Code != smtp.CodeUnavailable
	switch {
	case err == nil || decidedErr:
		res.open = true
	default:
		res.err = err
	}
	if len(res.pending) > 0 && res.err == nil {
		res.err = &statusError{status: Deferred, enhanced: "4.4.2", msg: "session ended before the server answered for every recipient"}
		if err != nil {
			res.err = err
		}
	}
	return res
}

// check refuses a transaction the server cannot take as the message needs
// it. Each is a property of this server, so another MX may still take the
// message; when none does the recipients fail.
func (s *session) check(pending []int) error {
	c, req := s.c, s.d.req
	ext := c.Extensions()
	if req.Msg == nil {
		return &statusError{status: Deferred, enhanced: "4.3.0", msg: "no message to send"}
	}
	if limit := ext.Size(); limit > 0 && req.Msg.Size > limit {
		// RFC 1870 6, RFC 3463 3.4: X.3.4 message too big for system.
		return &statusError{status: Failed, enhanced: "5.3.4",
			msg: fmt.Sprintf("message is %d octets, %s accepts at most %d (SIZE)", req.Msg.Size, s.at.mta(), limit)}
	}
	if req.Msg.EightBit && !ext.Has("8BITMIME") {
		// RFC 6152 3: no 8-bit content to a server without 8BITMIME;
		// smtpkit does not downgrade. RFC 3463 3.7: X.6.3 conversion
		// required but not supported.
		return &statusError{status: Failed, enhanced: "5.6.3", msg: s.at.mta() + " does not offer 8BITMIME and the message has 8-bit content"}
	}
	if s.needUTF8(pending) && !ext.Has("SMTPUTF8") {
		// RFC 6531 3.2; X.6.7 (RFC 6531 3.7.4.1): non-ASCII addresses not permitted.
		return &statusError{status: Failed, enhanced: "5.6.7", msg: s.at.mta() + " does not offer SMTPUTF8, which the message or an address needs"}
	}
	if req.MailOpts.RequireTLS {
		if _, on := c.TLS(); !on || !ext.Has("REQUIRETLS") {
			// RFC 8689 5: 5.7.30 REQUIRETLS support required.
			return &statusError{status: Failed, enhanced: "5.7.30", msg: s.at.mta() + " does not offer REQUIRETLS over TLS"}
		}
	}
	return nil
}

func (s *session) needUTF8(pending []int) bool {
	req := s.d.req
	if req.Msg != nil && req.Msg.UTF8Headers || !isASCII(req.From) {
		return true
	}
	for _, i := range pending {
		if !isASCII(req.To[i]) {
			return true
		}
	}
	return false
}

// quit ends the session with QUIT when the server is still listening
// (RFC 5321 4.1.1.10) after a refusal or a decision of ours; after a 421
// or a broken connection it only closes.
func (s *session) quit(err error) {
	var (
		se  *smtp.Error
		ste *statusError
		rej *tlspolicy.RejectError
	)
	switch {
	case errors.As(err, &se) && se.Reply.Code != smtp.CodeUnavailable,
		errors.As(err, &ste), errors.As(err, &rej):
		_, _ = s.c.Quit()
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
