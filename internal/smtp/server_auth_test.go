package smtp

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// aliceAuth accepts alice/secret; every failure is the same error whether
// the user exists or not.
func aliceAuth(_ *ConnState, user, pass string) error {
	if user == "alice" && pass == "secret" {
		return nil
	}
	return errors.New("bad credentials")
}

func encB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// authServer serves with AUTH allowed in clear (there is no TLS on these
// test connections) and returns a greeted client.
func authServer(t *testing.T, o ServerOptions) *rawClient {
	t.Helper()
	o.Auth = aliceAuth
	o.AllowPlaintextAuth = true
	_, addr := startServer(t, o, ListenerOptions{})
	c := dialRaw(t, addr)
	ehlo := c.greet()
	if !replyHasLine(ehlo, "AUTH PLAIN LOGIN") {
		t.Fatalf("EHLO does not offer AUTH: %q", ehlo.Lines)
	}
	return c
}

// TestServerAuthSuccess runs RFC 4954 exchanges that succeed: PLAIN with
// and without an initial response, LOGIN with and without one.
func TestServerAuthSuccess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps [][2]string // what the client sends, the reply code and challenge it expects
	}{
		{"PLAIN initial response", [][2]string{{"AUTH PLAIN " + encB64("\x00alice\x00secret"), "235"}}},
		{"PLAIN with authzid", [][2]string{{"AUTH PLAIN " + encB64("alice\x00alice\x00secret"), "235"}}},
		{"PLAIN challenge", [][2]string{{"AUTH PLAIN", "334"}, {encB64("\x00alice\x00secret"), "235"}}},
		{"plain lower case", [][2]string{{"auth plain", "334"}, {encB64("\x00alice\x00secret"), "235"}}},
		{"LOGIN", [][2]string{{"AUTH LOGIN", "334 " + encB64("Username:")}, {encB64("alice"), "334 " + encB64("Password:")}, {encB64("secret"), "235"}}},
		{"LOGIN initial response", [][2]string{{"AUTH LOGIN " + encB64("alice"), "334 " + encB64("Password:")}, {encB64("secret"), "235"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := authServer(t, ServerOptions{RequireAuth: true})
			c.cmd("MAIL FROM:<a@x>", 530, "5.7.0")
			for _, st := range tc.steps {
				c.send(st[0] + "\r\n")
				r := c.read()
				if got := r.String(); !strings.HasPrefix(got, st[1]) {
					t.Fatalf("after %q: %q, want %q", st[0], got, st[1])
				}
				if r.Code == 235 && r.Enhanced != "2.7.0" {
					t.Fatalf("235 without 2.7.0: %q", r.String())
				}
			}
			ehlo := c.cmd("EHLO client.test", 250, "")
			if replyHasLine(ehlo, "AUTH PLAIN LOGIN") {
				t.Fatalf("AUTH still offered after authenticating: %q", ehlo.Lines)
			}
			c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 503, "5.5.1")
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.cmd("QUIT", 221, "2.0.0")
		})
	}
}

// TestServerAuthFailures: a wrong password and an unknown user get the
// same 535 5.7.8 (RFC 4954 6); the third failure ends the session with
// 421 (Limits.AuthFailures).
func TestServerAuthFailures(t *testing.T) {
	c := authServer(t, ServerOptions{})
	wrong := c.cmd("AUTH PLAIN "+encB64("\x00alice\x00guess"), 535, "5.7.8")
	unknown := c.cmd("AUTH PLAIN "+encB64("\x00mallory\x00secret"), 535, "5.7.8")
	if wrong.String() != unknown.String() {
		t.Fatalf("replies differ: wrong password %q, unknown user %q", wrong.String(), unknown.String())
	}
	c.send("AUTH LOGIN\r\n")
	c.want(334, "")
	c.send(encB64("alice") + "\r\n")
	c.want(334, "")
	c.send(encB64("nope") + "\r\n")
	c.want(421, "4.7.0")
	c.wantClosed()
}

// TestServerAuthExchangeErrors covers cancelling, bad base64, a bad PLAIN
// message, an unknown mechanism, AUTH out of place and an overlong
// response.
func TestServerAuthExchangeErrors(t *testing.T) {
	c := authServer(t, ServerOptions{})
	c.send("AUTH PLAIN\r\n")
	c.want(334, "")
	c.cmd("*", 501, "")
	c.send("AUTH LOGIN\r\n")
	c.want(334, "")
	c.cmd("*", 501, "")
	c.cmd("AUTH PLAIN !!!notbase64", 501, "5.5.2")
	c.send("AUTH LOGIN\r\n")
	c.want(334, "")
	c.cmd("%%%", 501, "5.5.2")
	c.cmd("AUTH CRAM-MD5", 504, "5.5.4")
	c.cmd("AUTH PLAIN "+encB64("no nulls here"), 535, "5.7.8")
	c.cmd("AUTH PLAIN "+encB64("bob\x00alice\x00secret"), 535, "5.7.8") // authzid differs
	c.send("AUTH PLAIN\r\n")
	c.want(334, "")
	c.cmd(strings.Repeat("A", 13000), 500, "5.5.6")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 503, "5.5.1") // inside a transaction
	c.cmd("QUIT", 221, "2.0.0")

	// Before EHLO, and with no Authenticator at all.
	_, addr := startServer(t, ServerOptions{Auth: aliceAuth, AllowPlaintextAuth: true}, ListenerOptions{})
	c = dialRaw(t, addr)
	c.want(220, "")
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 503, "5.5.1")
	_, addr = startServer(t, ServerOptions{}, ListenerOptions{})
	c = dialRaw(t, addr)
	ehlo := c.greet()
	if strings.Contains(strings.Join(ehlo.Lines, "\n"), "AUTH") {
		t.Fatalf("AUTH offered without an Authenticator: %q", ehlo.Lines)
	}
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 502, "5.5.1")
}

// TestServerAuthNeedsTLS: without TLS and without AllowPlaintextAuth, AUTH
// is neither offered nor accepted: 538 5.7.11 (RFC 4954 6); after STARTTLS
// it is offered and works.
func TestServerAuthNeedsTLS(t *testing.T) {
	certs := serverCerts(t)
	_, addr := startServer(t, ServerOptions{TLS: certs.Server, Auth: aliceAuth}, ListenerOptions{})
	c := dialRaw(t, addr)
	ehlo := c.greet()
	if strings.Contains(strings.Join(ehlo.Lines, "\n"), "AUTH") {
		t.Fatalf("AUTH offered in clear: %q", ehlo.Lines)
	}
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 538, "5.7.11")
	c.startTLS(trustCerts(certs))
	ehlo = c.cmd("EHLO client.test", 250, "")
	if !replyHasLine(ehlo, "AUTH PLAIN LOGIN") || replyHasLine(ehlo, "STARTTLS") {
		t.Fatalf("EHLO inside TLS: %q", ehlo.Lines)
	}
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 235, "2.7.0")
	c.cmd("QUIT", 221, "2.0.0")
}
