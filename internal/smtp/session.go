package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// conn is one server session.
type conn struct {
	s    *Server
	nc   net.Conn // the connection, TLS once started; the session's own
	raw  net.Conn // the accepted connection: Close and Shutdown use it
	br   *bufio.Reader
	bw   *bufio.Writer
	st   ConnState
	sess Session

	mu   sync.Mutex
	idle bool // blocked reading a command: Shutdown may interrupt

	helo       bool
	inTx       bool
	rcpts      []string
	errs       int
	noProgress int
	authFails  int
	bdat       *bdatState
	quit       bool
}

// errClose ends the session after the reply already sent.
var errClose = errors.New("close session")

func (s *Server) handle(nc net.Conn, lo ListenerOptions) {
	defer s.wg.Done()
	defer nc.Close()
	c := &conn{s: s, nc: nc, raw: nc}
	c.st = ConnState{ID: s.newID(), Remote: nc.RemoteAddr(), Local: nc.LocalAddr(), LMTP: lo.LMTP, Started: s.o.Now()}
	c.br = bufio.NewReaderSize(nc, 4096)
	c.bw = bufio.NewWriterSize(nc, 4096)
	log := s.o.Logger.With("id", c.st.ID)
	if refuse := s.admit(c); refuse != nil {
		log.Info("refused", "remote", c.st.Remote.String(), "reply", refuse.String())
		c.writeReply(*refuse)
		c.flush()
		return
	}
	defer s.release(c)
	log.Info("connect", "remote", c.st.Remote.String(), "lmtp", lo.LMTP)
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in session; connection closed", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.reply(421, "4.3.0", s.o.Hostname+" Internal error, closing connection")
			c.flush()
		}
		// A client that leaves in the middle of BDAT must not leave the
		// backend's Data waiting for the rest.
		c.endBDAT(log)
		if c.sess != nil {
			c.safeLogout()
		}
		log.Info("disconnect", "remote", c.st.Remote.String())
	}()
	if lo.Implicit {
		tc := tls.Server(nc, s.o.TLS)
		_ = nc.SetDeadline(s.o.Now().Add(s.lim.CommandTimeout))
		if err := tc.Handshake(); err != nil {
			log.Info("tls handshake failed", "err", err)
			return
		}
		_ = nc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		c.st.TLS = &st
		c.nc = tc
		c.br.Reset(tc)
		c.bw.Reset(tc)
		log.Info("tls", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	}
	if c.hook("connect") {
		return
	}
	if c.pregreet() {
		log.Info("refused: client talked before the greeting")
		c.reply(554, "5.5.0", s.o.Hostname+" Protocol error: you talked before my greeting")
		c.flush()
		return
	}
	sess, err := s.o.Backend.NewSession(&c.st)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			c.writeReply(se.Reply)
		} else {
			log.Error("backend refused session", "err", err)
			c.reply(421, "4.3.0", s.o.Hostname+" Service not available")
		}
		c.flush()
		return
	}
	c.sess = sess
	proto := "ESMTP"
	if lo.LMTP {
		proto = "LMTP"
	}
	c.reply(220, "", s.o.Hostname+" "+proto+" smtpkit")
	for !c.quit {
		if err := c.serveOne(); err != nil {
			c.ended(err, log)
			return
		}
	}
}

// ended answers what ends the session when the client can still be told:
// 421 on shutdown (RFC 5321 3.8) or on a timeout (4.5.3.2), wherever the
// session was waiting (a command, DATA, BDAT, an AUTH response).
func (c *conn) ended(err error, log *slog.Logger) {
	var ne net.Error
	switch {
	case errors.Is(err, errClose):
	case errors.Is(err, errShutdown):
		c.reply(421, "4.3.2", c.s.o.Hostname+" Service shutting down, closing connection")
	case errors.As(err, &ne) && ne.Timeout():
		c.reply(421, "4.4.2", c.s.o.Hostname+" Timeout, closing connection")
	}
	// Replies still queued behind pipelined input (the client may have
	// closed only its sending half) go out before the close.
	c.flush()
	if err != errClose {
		log.Info("session ended", "err", err)
	}
}

// endBDAT aborts a BDAT transaction the session leaves behind and waits
// for the backend to return. The session is over: a backend panic can
// only be logged.
func (c *conn) endBDAT(log *slog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in session; connection closed", "panic", fmt.Sprint(r))
		}
	}()
	c.abortBDAT(errors.New("session ended"))
}

// pregreet reports a client that sent bytes before the greeting.
func (c *conn) pregreet() bool {
	if d := c.s.o.GreetDelay; d > 0 {
		_ = c.nc.SetReadDeadline(c.s.o.Now().Add(d))
		_, err := c.br.Peek(1)
		_ = c.nc.SetReadDeadline(time.Time{})
		return err == nil
	}
	return peekNow(c.nc)
}

func (c *conn) safeLogout() {
	defer func() { _ = recover() }()
	c.sess.Logout()
}

// hook runs the fault-injection hook for stage; it returns true when the
// hook answered (and the caller should stop handling the stage). At
// "connect", an injected reply ends the session.
func (c *conn) hook(stage string) bool {
	if c.s.o.Hook == nil {
		return false
	}
	d, r := c.s.o.Hook(stage)
	if d > 0 {
		c.flush()
		c.s.pause(d)
	}
	if r == nil {
		return false
	}
	c.writeReply(*r)
	if stage == "connect" {
		c.flush()
	}
	return true
}

func (c *conn) reply(code int, enh string, lines ...string) {
	c.writeReply(Reply{Code: code, Enhanced: enh, Lines: lines})
}

// writeReply queues a reply; it is flushed before the next blocking read
// (RFC 2920 3.2: replies to a pipelined group may be sent together).
func (c *conn) writeReply(r Reply) {
	if len(r.Lines) == 0 {
		r.Lines = []string{""}
	}
	_ = c.nc.SetWriteDeadline(c.s.o.Now().Add(c.s.lim.CommandTimeout))
	for i, l := range r.Lines {
		sep := " "
		if i < len(r.Lines)-1 {
			sep = "-"
		}
		c.bw.WriteString(strconv.Itoa(r.Code))
		c.bw.WriteString(sep)
		if r.Enhanced != "" {
			c.bw.WriteString(r.Enhanced)
			if l != "" {
				c.bw.WriteByte(' ')
			}
		}
		c.bw.WriteString(l)
		c.bw.WriteString("\r\n")
	}
}

func (c *conn) flush() error { return c.bw.Flush() }

// readCommand reads one command line of at most max octets. An overlong
// line is read to its end and discarded (no memory grows) and reported as
// errLineTooLong.
func (c *conn) readCommand(max int) (string, error) {
	if c.br.Buffered() == 0 {
		if err := c.flush(); err != nil {
			return "", err
		}
	}
	c.mu.Lock()
	if c.s.closing.Load() {
		c.mu.Unlock()
		return "", errShutdown
	}
	_ = c.nc.SetReadDeadline(c.s.o.Now().Add(c.s.lim.CommandTimeout))
	c.idle = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.idle = false
		c.mu.Unlock()
	}()
	var line []byte
	over := false
	for {
		chunk, err := c.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if c.s.closing.Load() {
				return "", errShutdown
			}
			return "", err
		}
		if !over {
			line = append(line, chunk...)
			if len(line) > max {
				over, line = true, nil
			}
		}
		if err == nil {
			break
		}
	}
	if over {
		return "", errLineTooLong
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	return s, nil
}

var (
	errLineTooLong = errors.New("command line too long")
	errShutdown    = errors.New("server shutting down")
)

// interruptIdle makes a session blocked on reading a command return, so it
// can answer 421 during shutdown.
func (c *conn) interruptIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		_ = c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// serveOne reads and handles one command.
func (c *conn) serveOne() error {
	line, err := c.readCommand(c.s.lim.CommandLine)
	switch {
	case errors.Is(err, errLineTooLong):
		c.reply(500, "5.5.2", "Line too long")
		return c.countError()
	case err != nil:
		return err
	}
	cmd, err := ParseCommand(line)
	// The octets after a BDAT line are its chunk, not a pipelined
	// command: handleBDAT checks what follows the chunk.
	if c.s.o.NoPipelining && c.br.Buffered() > 0 && (err != nil || cmd.Verb != "BDAT") {
		return c.improperPipelining()
	}
	if c.s.draining.Load() && (err != nil || cmd.Verb != "QUIT") {
		return errShutdown // Drain: only QUIT is still served
	}
	if err != nil {
		c.reply(500, "5.5.2", "Command not recognized")
		return c.countError()
	}
	return c.dispatch(cmd)
}

// improperPipelining refuses a client that sent more than one command
// without waiting for a reply although PIPELINING is not offered (RFC 2920
// 3.1).
func (c *conn) improperPipelining() error {
	c.reply(554, "5.5.0", "Improper command pipelining: PIPELINING is not offered")
	c.flush()
	return errClose
}

// countError counts a bad command and ends the session past the limit.
func (c *conn) countError() error {
	c.errs++
	if c.s.lim.Errors > 0 && c.errs >= c.s.lim.Errors {
		c.reply(421, "4.7.0", c.s.o.Hostname+" Too many errors, closing connection")
		c.flush()
		return errClose
	}
	return nil
}

// progressed forgives the session's errors and commands without progress
// once a message has been accepted (as Postfix's smtpd does). Nothing else
// counts as progress: a MAIL, RCPT, RSET loop that never sends a message
// ends at the no-progress limit.
func (c *conn) progressed() {
	c.errs, c.noProgress = 0, 0
}

// idleCommand counts a command that makes no progress.
func (c *conn) idleCommand() error {
	c.noProgress++
	if c.s.lim.NoProgress > 0 && c.noProgress > c.s.lim.NoProgress {
		c.reply(421, "4.7.0", c.s.o.Hostname+" Too many commands without progress, closing connection")
		c.flush()
		return errClose
	}
	return nil
}

func (c *conn) dispatch(cmd Command) error {
	if c.bdat != nil && cmd.Verb != "BDAT" && cmd.Verb != "QUIT" && cmd.Verb != "RSET" && cmd.Verb != "NOOP" {
		c.abortBDAT(errors.New("BDAT transaction interrupted"))
		c.reply(503, "5.5.1", "Error: BDAT transaction in progress, send BDAT or RSET")
		return c.countError()
	}
	switch cmd.Verb {
	case "HELO", "EHLO", "LHLO":
		return c.handleHello(cmd)
	case "STARTTLS":
		return c.handleStartTLS(cmd)
	case "AUTH":
		return c.handleAuth(cmd)
	case "MAIL":
		return c.handleMail(cmd)
	case "RCPT":
		return c.handleRcpt(cmd)
	case "DATA":
		return c.handleData(cmd)
	case "BDAT":
		return c.handleBDAT(cmd)
	case "RSET":
		if cmd.Arg != "" {
			c.reply(501, "5.5.4", "Syntax: RSET")
			return c.countError()
		}
		c.resetTx()
		c.reply(250, "2.0.0", "Ok")
		return c.idleCommand()
	case "NOOP":
		c.reply(250, "2.0.0", "Ok")
		return c.idleCommand()
	case "VRFY":
		if cmd.Arg == "" {
			c.reply(501, "5.5.4", "Syntax: VRFY address")
			return c.countError()
		}
		if c.s.o.Verify != nil {
			if r := c.s.o.Verify(cmd.Arg); r != nil {
				c.writeReply(*r)
				return c.idleCommand()
			}
		}
		// RFC 5321 3.5.3: 252 says neither yes nor no.
		c.reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
		return c.idleCommand()
	case "EXPN":
		c.reply(502, "5.5.1", "EXPN not available")
		return c.idleCommand()
	case "HELP":
		c.reply(214, "2.0.0", "smtpkit: commands HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT; see RFC 5321")
		return c.idleCommand()
	case "QUIT":
		c.reply(221, "2.0.0", c.s.o.Hostname+" Bye")
		c.flush()
		c.quit = true
		return errClose
	}
	c.reply(500, "5.5.2", "Error: command not recognized")
	return c.countError()
}

func (c *conn) resetTx() {
	if c.bdat != nil {
		c.abortBDAT(errors.New("transaction reset"))
	}
	if c.inTx {
		c.safeReset()
	}
	c.inTx, c.rcpts = false, nil
}

func (c *conn) safeReset() {
	c.sess.Reset()
}

func (c *conn) handleHello(cmd Command) error {
	if (c.st.LMTP && cmd.Verb != "LHLO") || (!c.st.LMTP && cmd.Verb == "LHLO") {
		c.reply(500, "5.5.1", "Error: this service speaks "+map[bool]string{true: "LMTP: send LHLO", false: "SMTP: send EHLO or HELO"}[c.st.LMTP])
		return c.countError()
	}
	name := strings.TrimSpace(cmd.Arg)
	if name == "" || hasControl(name) || strings.ContainsAny(name, " \t") && !strings.HasPrefix(name, "[") {
		c.reply(501, "5.5.4", "Syntax: "+cmd.Verb+" hostname")
		return c.countError()
	}
	if c.hook("ehlo") {
		return nil
	}
	c.resetTx()
	c.helo, c.st.Helo, c.st.ESMTP = true, name, cmd.Verb != "HELO"
	if cmd.Verb == "HELO" {
		c.reply(250, "", c.s.o.Hostname)
		return nil
	}
	lines := []string{c.s.o.Hostname + " greets " + name}
	if !c.s.o.NoPipelining {
		lines = append(lines, "PIPELINING")
	}
	if c.s.lim.MessageSize > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(c.s.lim.MessageSize, 10))
	} else {
		lines = append(lines, "SIZE")
	}
	lines = append(lines, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES")
	if c.chunking() {
		// No BINARYMIME: BDAT content obeys the DATA line rules here.
		lines = append(lines, "CHUNKING")
	}
	lines = append(lines, "DSN")
	if c.s.o.TLS != nil && c.st.TLS == nil {
		lines = append(lines, "STARTTLS")
	}
	if c.s.o.Auth != nil && c.st.AuthUser == "" && (c.st.TLS != nil || c.s.o.AllowPlaintextAuth) {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	lines = append(lines, "HELP")
	c.writeReply(Reply{Code: 250, Lines: lines})
	return nil
}

func (c *conn) handleStartTLS(cmd Command) error {
	if c.s.o.TLS == nil || c.st.TLS != nil {
		c.reply(502, "5.5.1", "STARTTLS not available")
		return c.countError()
	}
	if cmd.Arg != "" {
		c.reply(501, "5.5.4", "Syntax: STARTTLS")
		return c.countError()
	}
	if c.inTx {
		c.reply(503, "5.5.1", "Error: STARTTLS inside a transaction")
		return c.countError()
	}
	// CVE-2011-0411: anything the client sent behind STARTTLS was sent in
	// clear and must not be read as if it came through TLS.
	injected := c.br.Buffered()
	c.reply(220, "2.0.0", "Ready to start TLS")
	if err := c.flush(); err != nil {
		return err
	}
	tc := tls.Server(c.nc, c.s.o.TLS)
	_ = c.nc.SetDeadline(c.s.o.Now().Add(c.s.lim.CommandTimeout))
	if err := tc.Handshake(); err != nil {
		// Nothing can be answered: the client is inside a handshake.
		return fmt.Errorf("tls handshake: %v: %w", err, errClose)
	}
	_ = c.nc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.nc, c.st.TLS = tc, &st
	c.br = bufio.NewReaderSize(tc, 4096)
	c.bw.Reset(tc)
	// RFC 3207 4.2: forget everything learnt before TLS.
	c.helo, c.st.Helo, c.st.AuthUser = false, "", ""
	c.s.o.Logger.Info("tls", "id", c.st.ID, "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	if injected > 0 {
		c.s.o.Logger.Warn("discarded plaintext sent behind STARTTLS", "id", c.st.ID, "octets", injected)
		return c.countError()
	}
	return nil
}

func (c *conn) needHelo() bool {
	if !c.helo {
		c.reply(503, "5.5.1", "Error: send "+map[bool]string{true: "LHLO", false: "HELO/EHLO"}[c.st.LMTP]+" first")
		return false
	}
	return true
}

// replyFor answers a backend error: its own reply for an *Error, 451
// otherwise.
func (c *conn) replyFor(err error) {
	var se *Error
	if errors.As(err, &se) {
		c.writeReply(se.Reply)
		return
	}
	c.s.o.Logger.Error("backend error", "id", c.st.ID, "err", err)
	c.reply(451, "4.3.0", "Error: internal error, try again later")
}

func (c *conn) handleMail(cmd Command) error {
	if !c.needHelo() {
		return c.countError()
	}
	if c.inTx {
		c.reply(503, "5.5.1", "Error: nested MAIL command")
		return c.countError()
	}
	if c.s.o.RequireTLS && c.st.TLS == nil {
		c.reply(530, "5.7.0", "Must issue a STARTTLS command first")
		return c.countError()
	}
	if c.s.o.RequireAuth && c.st.AuthUser == "" {
		c.reply(530, "5.7.0", "Authentication required")
		return c.countError()
	}
	p, err := ParsePath(cmd.Arg, "FROM")
	if err != nil {
		c.reply(501, "5.5.4", "Syntax: MAIL FROM:<address>: "+err.Error())
		return c.countError()
	}
	if r := c.checkMailParams(&p); r != nil {
		c.writeReply(*r)
		return c.countError()
	}
	if c.hook("mail") {
		return nil
	}
	if err := c.sess.Mail(p.Addr, &p); err != nil {
		c.replyFor(err)
		return nil
	}
	c.inTx, c.rcpts = true, nil
	c.st.TxID = c.s.newID()
	c.reply(250, "2.1.0", "Ok")
	return nil
}

func (c *conn) checkMailParams(p *PathArg) *Reply {
	bad := func(code int, enh, text string) *Reply {
		return &Reply{Code: code, Enhanced: enh, Lines: []string{text}}
	}
	for _, k := range p.Order {
		v := p.Params[k]
		switch k {
		case "SIZE":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return bad(501, "5.5.4", "Bad SIZE parameter")
			}
			if c.s.lim.MessageSize > 0 && n > c.s.lim.MessageSize {
				return bad(552, "5.3.4", "Message size exceeds fixed limit")
			}
		case "BODY":
			switch strings.ToUpper(v) {
			case "7BIT", "8BITMIME":
			case "BINARYMIME":
				// RFC 3030 3: not offered, since bare CR and LF are refused.
				return bad(555, "5.5.4", "BODY=BINARYMIME not supported")
			default:
				return bad(501, "5.5.4", "Bad BODY parameter")
			}
		case "SMTPUTF8":
			if v != "" {
				return bad(501, "5.5.4", "SMTPUTF8 takes no value")
			}
		case "RET":
			if u := strings.ToUpper(v); u != "FULL" && u != "HDRS" {
				return bad(501, "5.5.4", "Bad RET parameter")
			}
		case "ENVID":
			if _, err := DecodeXText(v); err != nil || len(v) > 100 {
				return bad(501, "5.5.4", "Bad ENVID parameter")
			}
		case "AUTH":
			// RFC 4954 5: accepted; the identity is not trusted.
		default:
			return bad(555, "5.5.4", "Unsupported parameter "+k)
		}
	}
	return nil
}

func (c *conn) handleRcpt(cmd Command) error {
	if !c.inTx {
		c.reply(503, "5.5.1", "Error: need MAIL command")
		return c.countError()
	}
	p, err := ParsePath(cmd.Arg, "TO")
	if err != nil || p.Addr == "" {
		if err == nil {
			err = errors.New("empty address")
		}
		c.reply(501, "5.5.4", "Syntax: RCPT TO:<address>: "+err.Error())
		return c.countError()
	}
	if c.s.lim.Recipients > 0 && len(c.rcpts) >= c.s.lim.Recipients {
		// RFC 5321 4.5.3.1.10: 452 for too many recipients. Each one
		// beyond the limit moves nothing forward, so a client that sends
		// RCPT forever is cut off by the no-progress limit (as Postfix's
		// smtpd_recipient_overshoot_limit does).
		c.reply(452, "4.5.3", "Error: too many recipients")
		return c.idleCommand()
	}
	for _, k := range p.Order {
		v := p.Params[k]
		switch k {
		case "NOTIFY":
			if !validNotify(v) {
				c.reply(501, "5.5.4", "Bad NOTIFY parameter")
				return c.countError()
			}
		case "ORCPT":
			t, x, ok := strings.Cut(v, ";")
			if _, err := DecodeXText(x); !ok || t == "" || err != nil {
				c.reply(501, "5.5.4", "Bad ORCPT parameter")
				return c.countError()
			}
		default:
			c.reply(555, "5.5.4", "Unsupported parameter "+k)
			return c.countError()
		}
	}
	if c.hook("rcpt") {
		return nil
	}
	if err := c.sess.Rcpt(p.Addr, &p); err != nil {
		c.replyFor(err)
		var se *Error
		if errors.As(err, &se) && se.Permanent() {
			return c.countError()
		}
		// A temporary refusal is no progress either: endless retries of
		// refused recipients end at the no-progress limit.
		return c.idleCommand()
	}
	c.rcpts = append(c.rcpts, p.Addr)
	c.reply(250, "2.1.5", "Ok")
	return nil
}

func validNotify(v string) bool {
	parts := strings.Split(strings.ToUpper(v), ",")
	for _, p := range parts {
		switch p {
		case "NEVER":
			if len(parts) > 1 {
				return false
			}
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return false
		}
	}
	return true
}
