package smtp

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// errAuthSyntax is a malformed AUTH exchange (bad base64, bad PLAIN
// message): 501, not a failed login.
var errAuthSyntax = errors.New("malformed authentication exchange")

// errAuthLocked: the client's address reached Limits.AuthFailuresPerIP
// while this exchange was under way; its credentials were not checked.
var errAuthLocked = errors.New("too many failed authentications from the client address")

// handleAuth runs RFC 4954: AUTH mechanism [initial-response], 334
// challenges, "*" to cancel. Failures are answered 535 5.7.8 whether the
// user exists or not, after a delay that doubles with each failure; past
// the limit the session ends with 421.
func (c *conn) handleAuth(cmd Command) error {
	if !c.needHelo() {
		return c.countError()
	}
	switch {
	case c.s.o.Auth == nil:
		c.reply(502, "5.5.1", "AUTH not available")
		return c.countError()
	case c.st.AuthUser != "":
		c.reply(503, "5.5.1", "Error: already authenticated")
		return c.countError()
	case c.inTx:
		c.reply(503, "5.5.1", "Error: AUTH not permitted during a mail transaction")
		return c.countError()
	case c.st.TLS == nil && !c.s.o.AllowPlaintextAuth:
		c.reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
		return c.countError()
	}
	if lim := c.s.lim.AuthFailuresPerIP; lim > 0 && c.s.auth.count(authKey(c.st.RemoteIP())) >= lim {
		// Even the right password is refused now: a guesser must not
		// learn that it found it.
		c.s.o.Logger.Warn("auth refused: too many failures from the client address", "id", c.st.ID, "remote", c.st.Remote.String())
		return c.tooManyAuthFailures()
	}
	mech, ir, hasIR := strings.Cut(cmd.Arg, " ")
	var user string
	counted := 0 // the address's failures with this attempt, once counted
	check := func(identity, username, password string) error {
		user = username
		// The attempt counts as a failure of the address before the
		// password is checked, and is taken back if it succeeds: however
		// many connections guess at once, no more than the limit get
		// their guess checked.
		key := authKey(c.st.RemoteIP())
		counted = c.s.auth.fail(key)
		if lim := c.s.lim.AuthFailuresPerIP; lim > 0 && counted > lim {
			return errAuthLocked
		}
		if identity != "" && identity != username {
			return errors.New("authorization identity differs from user")
		}
		err := c.s.o.Auth(&c.st, username, password)
		if err == nil {
			c.s.auth.forgive(key)
		}
		return err
	}
	var srv sasl.Server
	switch strings.ToUpper(mech) {
	case "PLAIN":
		srv = sasl.NewPlainServer(check)
	case "LOGIN":
		srv = &loginServer{check: func(u, p string) error { return check("", u, p) }}
	default:
		c.reply(504, "5.5.4", "Unrecognized authentication type")
		return c.countError()
	}
	var resp []byte
	if hasIR {
		// RFC 4954 4: "=" is an empty initial response.
		if ir != "=" {
			var err error
			if resp, err = base64.StdEncoding.DecodeString(ir); err != nil {
				c.reply(501, "5.5.2", "Cannot decode response")
				return c.countError()
			}
		} else {
			resp = []byte{}
		}
	}
	for {
		chal, done, err := srv.Next(resp)
		if errors.Is(err, errAuthLocked) {
			c.s.o.Logger.Warn("auth refused: too many failures from the client address", "id", c.st.ID, "remote", c.st.Remote.String())
			return c.tooManyAuthFailures()
		}
		if err != nil {
			return c.authFailed(user, counted, err)
		}
		if done {
			c.st.AuthUser = user
			c.s.o.Logger.Info("auth", "id", c.st.ID, "mechanism", strings.ToUpper(mech), "user", user)
			c.reply(235, "2.7.0", "Authentication successful")
			return nil
		}
		c.writeReply(Reply{Code: 334, Lines: []string{base64.StdEncoding.EncodeToString(chal)}})
		line, err := c.readCommand(c.s.lim.AuthLine)
		if errors.Is(err, errLineTooLong) {
			c.reply(500, "5.5.6", "Authentication exchange line is too long")
			return c.countError()
		}
		if err != nil {
			return err
		}
		if line == "*" {
			c.reply(501, "5.0.0", "Authentication cancelled")
			return c.countError()
		}
		if resp, err = base64.StdEncoding.DecodeString(line); err != nil {
			c.reply(501, "5.5.2", "Cannot decode response")
			return c.countError()
		}
	}
}

// authFailed answers a failed exchange: 535 5.7.8 after a delay that
// doubles with each failure of the client address (this connection's or,
// across connections, the address's within Limits.AuthWindow, whichever is
// more) up to Limits.AuthMaxDelay; 421 and the end of the session once
// the connection or the address reaches its limit.
//
// perIP is the address's failures counting this one, or 0 when the
// exchange failed before the credentials were checked (a malformed PLAIN
// message): it is counted here then.
func (c *conn) authFailed(user string, perIP int, err error) error {
	c.authFails++
	if perIP == 0 {
		perIP = c.s.auth.fail(authKey(c.st.RemoteIP()))
	}
	c.s.o.Logger.Info("auth failed", "id", c.st.ID, "user", user, "remote", c.st.Remote.String(), "failures", c.authFails, "address_failures", perIP)
	c.flush()
	c.s.pause(authDelay(c.s.lim, max(c.authFails, perIP)))
	if c.s.lim.AuthFailures > 0 && c.authFails >= c.s.lim.AuthFailures {
		c.reply(421, "4.7.0", c.s.o.Hostname+" Too many failed authentications, closing connection")
		c.flush()
		return errClose
	}
	if lim := c.s.lim.AuthFailuresPerIP; lim > 0 && perIP >= lim {
		return c.tooManyAuthFailures()
	}
	c.reply(535, "5.7.8", "Authentication credentials invalid")
	return nil
}

// tooManyAuthFailures ends the session of a client address that failed
// AUTH Limits.AuthFailuresPerIP times within Limits.AuthWindow.
func (c *conn) tooManyAuthFailures() error {
	c.reply(421, "4.7.0", c.s.o.Hostname+" Too many failed authentications from your address, try again later")
	c.flush()
	return errClose
}

// authDelay is the wait before answering the n-th failure: AuthDelay,
// doubled for each earlier failure, at most AuthMaxDelay; none when
// AuthDelay is negative (lifted).
func authDelay(l Limits, n int) time.Duration {
	if l.AuthDelay <= 0 || n < 1 {
		return 0
	}
	d := l.AuthDelay
	for i := 1; i < n && (l.AuthMaxDelay <= 0 || d < l.AuthMaxDelay); i++ {
		if d > math.MaxInt64/2 {
			break
		}
		d *= 2
	}
	if l.AuthMaxDelay > 0 && d > l.AuthMaxDelay {
		d = l.AuthMaxDelay
	}
	return d
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login): the
// server asks "Username:" then "Password:".
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) > 0 {
			// An initial response carries the user name.
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errAuthSyntax
}
