package smtp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"
)

// Auth runs an AUTH exchange (RFC 4954) with mech. The initial response
// travels on the AUTH line ("=" when empty, RFC 4954 4); each 334
// challenge is answered until the server says 235. Payloads are redacted in
// the trace unless ShowSecrets. A refusal is an *Error (535, 534, 530, 454…);
// a mechanism that fails mid-exchange cancels with "*" and returns its error.
func (c *Client) Auth(mech sasl.Client) error {
	name, ir, err := mech.Start()
	if err != nil {
		return fmt.Errorf("auth %s: %w", name, err)
	}
	line, shown := "AUTH "+name, "AUTH "+name
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		line += " " + enc
		shown += " " + redacted
	}
	if !c.opts.ShowSecrets {
		// Keep the command name short in errors; never echo a secret.
		shown = strings.TrimSpace(shown)
	} else {
		shown = ""
	}
	cmdName := "AUTH " + name
	c.stage = cmdName
	if err := c.writeLine(line, shown, c.opts.Timeouts.Command); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	for {
		r, err := c.readReply(cmdName, c.opts.Timeouts.Command)
		if err != nil {
			return err
		}
		switch {
		case r.Code == CodeAuthOK:
			return nil
		case r.Code == CodeAuthContinue:
		default:
			return replyError(cmdName, r)
		}
		challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text()))
		if err != nil {
			challenge = nil
			_ = c.writeLine("*", "", c.opts.Timeouts.Command)
			_ = c.flush()
			_, _ = c.readReply(cmdName, c.opts.Timeouts.Command)
			return &ProtocolError{Command: cmdName, Reason: "challenge is not base64"}
		}
		resp, merr := mech.Next(challenge)
		if merr != nil {
			// RFC 4954 4: "*" cancels the exchange.
			_ = c.writeLine("*", "", c.opts.Timeouts.Command)
			_ = c.flush()
			r, _ := c.readReply(cmdName, c.opts.Timeouts.Command)
			if r.Code >= 400 {
				return fmt.Errorf("auth %s: %w (server: %s)", name, merr, r)
			}
			return fmt.Errorf("auth %s: %w", name, merr)
		}
		if err := c.writeLine(base64.StdEncoding.EncodeToString(resp), redacted, c.opts.Timeouts.Command); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
}

// Mechanisms smtpkit can use, in the order "auto" prefers them (strongest
// first among those that need a password).
var PasswordMechanisms = []string{"SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"}

// Credentials are what a mechanism may need.
type Credentials struct {
	Identity string // authorization identity, usually empty
	User     string
	Password string // or the OAuth token for XOAUTH2 / OAUTHBEARER
	Host     string // for OAUTHBEARER
	Port     int
}

// NewMechanism returns a go-sasl client for the named mechanism.
func NewMechanism(name string, cr Credentials) (sasl.Client, error) {
	switch strings.ToUpper(name) {
	case "PLAIN":
		return sasl.NewPlainClient(cr.Identity, cr.User, cr.Password), nil
	case "LOGIN":
		return &login{user: cr.User, password: cr.Password}, nil
	case "CRAM-MD5":
		return &cramMD5{user: cr.User, secret: cr.Password}, nil
	case "SCRAM-SHA-256":
		return newSCRAM(scram.SHA256, "SCRAM-SHA-256", cr)
	case "XOAUTH2":
		return &xoauth2{user: cr.User, token: cr.Password}, nil
	case "OAUTHBEARER":
		return &oauthBearer{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: cr.User, Token: cr.Password, Host: cr.Host, Port: cr.Port})}, nil
	case "EXTERNAL":
		return sasl.NewExternalClient(cr.Identity), nil
	}
	return nil, fmt.Errorf("unsupported auth mechanism %q (have PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, EXTERNAL)", name)
}

// ChooseMechanism picks the first of PasswordMechanisms the server offers.
func ChooseMechanism(offered []string) (string, bool) {
	for _, want := range PasswordMechanisms {
		for _, o := range offered {
			if strings.EqualFold(o, want) {
				return want, true
			}
		}
	}
	return "", false
}

// login is the obsolete LOGIN mechanism (draft-murchison-sasl-login): the
// user name as the initial response, then the password. Servers word their
// prompts differently ("Password:", "password:", or a second "Username:"
// when they ignore the initial response), so the prompt only decides
// whether the user name is asked again.
type login struct {
	user, password string
	sentPassword   bool
}

func (l *login) Start() (string, []byte, error) { return "LOGIN", []byte(l.user), nil }

func (l *login) Next(challenge []byte) ([]byte, error) {
	if strings.HasPrefix(strings.ToLower(string(challenge)), "user") {
		return []byte(l.user), nil
	}
	if l.sentPassword {
		return nil, fmt.Errorf("unexpected LOGIN challenge %q", challenge)
	}
	l.sentPassword = true
	return []byte(l.password), nil
}

// oauthBearer answers the server's error challenge with the dummy %x01
// response RFC 7628 3.2.3 requires, so that the server ends the exchange
// with its own failure reply (an *Error) rather than a cancelled exchange.
type oauthBearer struct{ sasl.Client }

func (o *oauthBearer) Next(challenge []byte) ([]byte, error) {
	if _, err := o.Client.Next(challenge); err != nil {
		var oe *sasl.OAuthBearerError
		if errors.As(err, &oe) {
			return []byte{0x01}, nil
		}
		return nil, err
	}
	return []byte{}, nil
}

// cramMD5 is RFC 2195: the response is "user HEX(HMAC-MD5(secret, challenge))".
type cramMD5 struct{ user, secret string }

func (c *cramMD5) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (c *cramMD5) Next(challenge []byte) ([]byte, error) {
	h := hmac.New(md5.New, []byte(c.secret))
	h.Write(challenge)
	return []byte(c.user + " " + hex.EncodeToString(h.Sum(nil))), nil
}

// xoauth2 is Google's and Microsoft's XOAUTH2: one initial response
// "user=U^Aauth=Bearer T^A^A". On failure the server sends a 334 with a JSON
// error; the client answers with an empty line and gets the final 5xx.
type xoauth2 struct{ user, token string }

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }

// scramClient adapts xdg-go/scram's conversation to sasl.Client (RFC 5802,
// RFC 7677).
type scramClient struct {
	name string
	conv *scram.ClientConversation
}

func newSCRAM(h scram.HashGeneratorFcn, name string, cr Credentials) (sasl.Client, error) {
	cl, err := h.NewClient(cr.User, cr.Password, cr.Identity)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &scramClient{name: name, conv: cl.NewConversation()}, nil
}

func (s *scramClient) Start() (string, []byte, error) {
	first, err := s.conv.Step("")
	if err != nil {
		return s.name, nil, err
	}
	return s.name, []byte(first), nil
}

func (s *scramClient) Next(challenge []byte) ([]byte, error) {
	if s.conv.Done() {
		if s.conv.Valid() {
			return []byte{}, nil
		}
		return nil, errors.New("server signature did not verify")
	}
	resp, err := s.conv.Step(string(challenge))
	if err != nil {
		return nil, err
	}
	return []byte(resp), nil
}
