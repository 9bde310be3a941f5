package smtptest

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rawClient speaks SMTP by hand to a Server.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, s *Server) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send writes the lines, each with CRLF, in one write.
func (c *rawClient) send(lines ...string) {
	c.t.Helper()
	writeAll(c.t, c.conn, strings.Join(lines, "\r\n")+"\r\n")
}

// reply reads one (multi-line) reply and returns its lines joined by "|".
func (c *rawClient) reply() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (so far %q)", err, lines)
		}
		if !strings.HasSuffix(l, "\r\n") {
			c.t.Fatalf("reply line %q without CRLF", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "|")
		}
	}
}

// expect reads a reply that must start with prefix.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	if !strings.HasPrefix(r, prefix) {
		c.t.Fatalf("reply %q, want prefix %q", r, prefix)
	}
	return r
}

func (c *rawClient) eof() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c.br); len(b) > 0 || (err != nil && !isClosed(err)) {
		c.t.Fatalf("want the server to close, got %q, %v", b, err)
	}
}

func (c *rawClient) startTLS(s *Server) {
	c.t.Helper()
	c.send("STARTTLS")
	c.expect("220 2.0.0")
	tc := tls.Client(c.conn, s.ClientTLS())
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.br = tc, bufio.NewReader(tc)
}

func TestServerSession(t *testing.T) {
	s := NewServer(t, ServerOptions{Size: 1 << 20})
	c := dial(t, s)
	c.expect("220 mx.smtptest.test ESMTP")
	c.send("EHLO client.example")
	want := "250-mx.smtptest.test greets client.example|250-PIPELINING|250-SIZE 1048576|250-STARTTLS|250-AUTH PLAIN LOGIN CRAM-MD5|" +
		"250-ENHANCEDSTATUSCODES|250-8BITMIME|250-DSN|250-SMTPUTF8|250 CHUNKING"
	if got := c.reply(); got != want {
		t.Fatalf("EHLO reply\n%s\nwant\n%s", got, want)
	}
	// A pipelined group is answered in one go.
	c.send("MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=100 RET=HDRS ENVID=x+2By", "RCPT TO:<b@example.org> NOTIFY=NEVER",
		"RCPT TO:<c@example.org> ORCPT=rfc822;c@example.org", "DATA")
	for _, w := range []string{"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data"} {
		c.expect(w)
	}
	c.send("Subject: one", "", "..leading dot", "bare\nLF stays", ".")
	c.expect("250 2.0.0 Ok: queued as Q1")
	c.send("MAIL FROM:<>", "RCPT TO:<d@example.org>")
	c.expect("250")
	c.expect("250")
	writeAll(t, c.conn, "BDAT 5\r\nab\r\nc")
	c.expect("250 2.0.0 5 octets received")
	writeAll(t, c.conn, "BDAT 3 LAST\r\n.\r\n")
	c.expect("250 2.0.0 Ok: queued as Q2")
	for _, x := range []struct{ cmd, reply string }{
		{"RSET", "250 2.0.0 Ok"}, {"NOOP", "250 2.0.0 Ok"}, {"VRFY postmaster", "252 2.5.2"}, {"HELP", "214"},
		{"XYZZY", "500 5.5.2"}, {"RCPT TO:<x@example.org>", "503 5.5.1"}, {"DATA", "503 5.5.1"},
		{"MAIL FROM:<a@example.org> X-UNKNOWN=1", "555 5.5.4"}, {"MAIL FROM:a@example.org", "501 5.5.4"},
		{"MAIL FROM:<a@example.org> SIZE=2000000", "552 5.3.4"}, {"MAIL FROM:<a@example.org>", "250"},
		{"MAIL FROM:<a@example.org>", "503 5.5.1 Error: nested"}, {"DATA", "554 5.5.1 Error: no valid recipients"},
		{strings.Repeat("X", 3000), "500 5.5.2 line too long"}, {"EHLO", "501"},
	} {
		c.send(x.cmd)
		c.expect(x.reply)
	}
	c.send("QUIT")
	c.expect("221 2.0.0 Bye")
	c.eof()

	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	wantMsg := Message{
		Helo: "client.example", From: "a@example.org", MailParams: []string{"BODY=8BITMIME", "SIZE=100", "RET=HDRS", "ENVID=x+2By"},
		Rcpts: []string{"b@example.org", "c@example.org"}, RcptParams: [][]string{{"NOTIFY=NEVER"}, {"ORCPT=rfc822;c@example.org"}},
		Data: []byte("Subject: one\r\n\r\n.leading dot\r\nbare\nLF stays\r\n"),
	}
	if !reflect.DeepEqual(m, wantMsg) {
		t.Errorf("message\n%+v\nwant\n%+v", m, wantMsg)
	}
	if m := msgs[1]; m.From != "" || string(m.Data) != "ab\r\nc.\r\n" || !m.Chunked {
		t.Errorf("BDAT message %+v", m)
	}
	if s.Sessions() != 1 {
		t.Errorf("Sessions = %d", s.Sessions())
	}
}

func TestServerHELOAndLMTP(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	c := dial(t, s)
	c.reply()
	c.send("HELO client.example")
	if got := c.reply(); got != "250 mx.smtptest.test" {
		t.Fatalf("HELO reply %q", got)
	}
	c.send("MAIL FROM:<a@example.org> BODY=8BITMIME")
	c.expect("555")
	c.send("LHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "RCPT TO:<c@example.org>", "DATA")
	for _, w := range []string{"250-", "250", "250", "250", "354"} {
		c.expect(w)
	}
	c.send("hi", ".")
	c.expect("250 2.0.0 Ok: queued as Q1")
	c.expect("250 2.0.0 Ok: queued as Q1")
}

func TestServerAuth(t *testing.T) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00user\x00secret"))
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		run  func(c *rawClient)
	}{
		{"PLAIN", func(c *rawClient) { c.send("AUTH PLAIN " + plain); c.expect("235 2.7.0") }},
		{"PLAIN without initial response", func(c *rawClient) {
			c.send("AUTH PLAIN")
			if r := c.reply(); r != "334 " {
				c.t.Fatalf("challenge %q", r)
			}
			c.send(plain)
			c.expect("235")
		}},
		{"PLAIN wrong password", func(c *rawClient) { c.send("AUTH PLAIN " + b64("\x00user\x00nope")); c.expect("535 5.7.8") }},
		{"PLAIN bad base64", func(c *rawClient) { c.send("AUTH PLAIN !!!"); c.expect("501 5.5.2") }},
		{"LOGIN", func(c *rawClient) {
			c.send("AUTH LOGIN")
			c.expect("334 " + b64("Username:"))
			c.send(b64("user"))
			c.expect("334 " + b64("Password:"))
			c.send(b64("secret"))
			c.expect("235")
		}},
		{"LOGIN initial response", func(c *rawClient) {
			c.send("AUTH LOGIN " + b64("user"))
			c.expect("334 " + b64("Password:"))
			c.send(b64("secret"))
			c.expect("235")
		}},
		{"LOGIN cancelled", func(c *rawClient) { c.send("AUTH LOGIN"); c.expect("334"); c.send("*"); c.expect("501 5.7.0") }},
		{"CRAM-MD5", func(c *rawClient) {
			c.send("AUTH CRAM-MD5")
			r := c.expect("334 ")
			ch, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r, "334 "))
			if err != nil || !strings.HasSuffix(string(ch), "@mx.smtptest.test>") {
				c.t.Fatalf("challenge %q, %v", ch, err)
			}
			h := hmac.New(md5.New, []byte("secret"))
			h.Write(ch)
			c.send(b64("user " + hex.EncodeToString(h.Sum(nil))))
			c.expect("235")
		}},
		{"CRAM-MD5 wrong digest", func(c *rawClient) {
			c.send("AUTH CRAM-MD5")
			c.expect("334 ")
			c.send(b64("user 00000000000000000000000000000000"))
			c.expect("535")
		}},
		{"unknown mechanism", func(c *rawClient) { c.send("AUTH GSSAPI"); c.expect("504 5.5.4") }},
		{"twice", func(c *rawClient) {
			c.send("AUTH PLAIN " + plain)
			c.expect("235")
			c.send("AUTH PLAIN " + plain)
			c.expect("503 5.5.1")
		}},
	}
	xoauth2 := func(user, token string) string { return b64("user=" + user + "\x01auth=Bearer " + token + "\x01\x01") }
	tests = append(tests, []struct {
		name string
		run  func(c *rawClient)
	}{
		{"XOAUTH2", func(c *rawClient) { c.send("AUTH XOAUTH2 " + xoauth2("user", "secret")); c.expect("235 2.7.0") }},
		{"XOAUTH2 wrong token", func(c *rawClient) {
			c.send("AUTH XOAUTH2 " + xoauth2("user", "nope"))
			r := c.expect("334 ")
			if js, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r, "334 ")); !strings.Contains(string(js), `"status":"401"`) {
				c.t.Fatalf("error challenge %q", js)
			}
			c.send("")
			c.expect("535 5.7.8")
		}},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, ServerOptions{AuthMechs: []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}})
			c := dial(t, s)
			c.reply()
			c.send("EHLO c")
			c.reply()
			tt.run(c)
		})
	}
	t.Run("needs TLS", func(t *testing.T) {
		s := NewServer(t, ServerOptions{AuthNeedsTLS: true, RequireAuth: true})
		c := dial(t, s)
		c.reply()
		c.send("EHLO c")
		if strings.Contains(c.reply(), "AUTH") {
			t.Error("AUTH offered before TLS")
		}
		c.send("AUTH PLAIN " + plain)
		c.expect("538 5.7.11")
		c.send("MAIL FROM:<a@example.org>")
		c.expect("530 5.7.0 Authentication required")
		c.startTLS(s)
		c.send("EHLO c")
		if r := c.reply(); !strings.Contains(r, "AUTH PLAIN") || strings.Contains(r, "STARTTLS") || !strings.Contains(r, "REQUIRETLS") {
			t.Errorf("EHLO inside TLS: %q", r)
		}
		c.send("AUTH PLAIN "+plain, "MAIL FROM:<a@example.org> REQUIRETLS", "RCPT TO:<b@example.org>", "DATA")
		for _, w := range []string{"235", "250", "250", "354"} {
			c.expect(w)
		}
		c.send("x", ".")
		c.expect("250")
		if m := s.Messages()[0]; m.AuthUser != "user" || !m.TLS {
			t.Errorf("message %+v", m)
		}
	})
}

func TestServerStartTLS(t *testing.T) {
	t.Run("plaintext behind STARTTLS is discarded", func(t *testing.T) {
		s := NewServer(t, ServerOptions{RequireTLS: true})
		c := dial(t, s)
		c.reply()
		c.send("EHLO c")
		c.reply()
		c.send("MAIL FROM:<a@example.org>")
		c.expect("530 5.7.0 Must issue a STARTTLS")
		c.send("STARTTLS", "RSET")
		c.expect("220 2.0.0 Ready")
		tc := tls.Client(c.conn, s.ClientTLS())
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake after pipelined plaintext: %v", err)
		}
		c.conn, c.br = tc, bufio.NewReader(tc)
		c.send("MAIL FROM:<a@example.org>")
		c.expect("503 5.5.1 Error: send HELO/EHLO first")
		c.send("STARTTLS")
		c.expect("502")
	})
	t.Run("injection", func(t *testing.T) {
		s := NewServer(t, ServerOptions{Inject: "250 injected\r\n"})
		c := dial(t, s)
		c.reply()
		c.send("EHLO c")
		c.reply()
		c.send("STARTTLS")
		c.expect("220")
		if n := c.br.Buffered(); n != len("250 injected\r\n") {
			t.Errorf("%d bytes buffered behind the 220, want the injection", n)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		s := NewServer(t, ServerOptions{ImplicitTLS: true})
		conn, err := tls.Dial("tcp", s.Addr(), s.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
		c.expect("220")
		c.send("EHLO c")
		if r := c.reply(); strings.Contains(r, "STARTTLS") {
			t.Errorf("STARTTLS offered inside TLS: %q", r)
		}
	})
}

func TestServerOptions(t *testing.T) {
	s := NewServer(t, ServerOptions{
		Without:    []string{"8BITMIME", "DSN", "enhancedstatuscodes", "PIPELINING", "SMTPUTF8", "CHUNKING", "SIZE"},
		NoStartTLS: true, NoAuth: true, Hostname: "relay.test",
		RejectRcpt: map[string]string{"no@example.org": "550 5.1.1 no such user", "later@example.org": "450 4.2.0 try later"},
		DataReply:  "250 accepted, thanks",
	})
	c := dial(t, s)
	c.expect("220 relay.test")
	c.send("EHLO c")
	if r := c.reply(); r != "250 relay.test greets c" {
		t.Errorf("EHLO %q", r)
	}
	for _, x := range []struct{ cmd, reply string }{
		{"STARTTLS", "502 Error"}, {"AUTH PLAIN AA==", "502 Error"},
		{"MAIL FROM:<a@example.org> BODY=8BITMIME", "555 unsupported parameter BODY"},
		{"MAIL FROM:<a@example.org> SMTPUTF8", "555"}, {"MAIL FROM:<a@example.org> RET=FULL", "555"},
		{"MAIL FROM:<a@example.org>", "250 Ok"}, {"RCPT TO:<b@example.org> NOTIFY=NEVER", "555"},
		{"RCPT TO:<no@example.org>", "550 5.1.1 no such user"}, {"RCPT TO:<later@example.org>", "450 4.2.0 try later"},
		{"RCPT TO:<b@example.org>", "250 Ok"}, {"DATA", "354"}, {".", "250 accepted, thanks"},
		{"BDAT 0 LAST", "502"},
	} {
		c.send(x.cmd)
		if r := c.reply(); r != x.reply && !strings.HasPrefix(r, x.reply) {
			t.Errorf("%s: %q, want %q", x.cmd, r, x.reply)
		}
	}

	s = NewServer(t, ServerOptions{RejectMail: "550 5.7.1 sender refused", Size: 10})
	c = dial(t, s)
	c.reply()
	c.send("EHLO c", "MAIL FROM:<a@example.org>", "MAIL FROM:<a@example.org> SIZE=11")
	c.reply()
	c.expect("550 5.7.1 sender refused")
	c.expect("552 5.3.4")

	s = NewServer(t, ServerOptions{Size: 10})
	c = dial(t, s)
	c.reply()
	c.send("EHLO c", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA")
	for range 4 {
		c.reply()
	}
	c.send("0123456789", ".")
	c.expect("552 5.3.4")
	if len(s.Messages()) != 0 {
		t.Error("an oversized message was kept")
	}
}

func TestServerFaults(t *testing.T) {
	session := func(c *rawClient, upTo Stage) {
		steps := []struct {
			at   Stage
			cmd  string
			want string
		}{
			{AtHello, "EHLO c", "250-"}, {AtAuth, "AUTH PLAIN AHVzZXIAc2VjcmV0", "235"}, {AtMail, "MAIL FROM:<a@example.org>", "250"},
			{AtRcpt, "RCPT TO:<b@example.org>", "250"}, {AtData, "DATA", "354"}, {AtBody, "line one\r\nline two", ""},
			{AtDot, ".", "250"}, {AtQuit, "QUIT", "221"},
		}
		for _, st := range steps {
			c.send(st.cmd)
			if st.at == upTo {
				return
			}
			if st.want != "" {
				c.expect(st.want)
			}
		}
	}
	stages := []Stage{AtHello, AtAuth, AtMail, AtRcpt, AtData, AtBody, AtDot, AtQuit}
	for _, at := range append([]Stage{AtGreeting}, stages...) {
		for _, action := range []FaultAction{Reply421, Drop, NoAnswer, Garbage} {
			t.Run(string(at)+"/"+string(action), func(t *testing.T) {
				s := NewServer(t, ServerOptions{Fault: Fault{At: at, Action: action}, Timeout: 2 * time.Second})
				c := dial(t, s)
				if at != AtGreeting {
					c.expect("220")
					session(c, at)
				}
				switch action {
				case Reply421:
					c.expect("421 4.3.2")
					c.eof()
				case Drop:
					c.eof()
				case NoAnswer:
					_ = c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					_, err := c.br.ReadByte()
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("read = %v, want silence", err)
					}
				case Garbage:
					_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					if l, err := c.br.ReadString('\n'); l != "this is not an SMTP reply\r\n" {
						t.Fatalf("got %q, %v", l, err)
					}
				}
				if n := len(s.Messages()); n != 0 && at != AtQuit {
					t.Errorf("%d messages after a fault at %s", n, at)
				}
			})
		}
	}
}

// TestServerFaultAfter: with FaultAfter the fault waits until the server
// has accepted that many messages, then strikes mid-session, and again
// once in every later session.
func TestServerFaultAfter(t *testing.T) {
	s := NewServer(t, ServerOptions{Fault: Fault{At: AtMail, Action: Reply421}, FaultAfter: 2})
	c := dial(t, s)
	c.expect("220")
	c.send("EHLO c")
	c.expect("250-")
	for i := 0; i < 2; i++ {
		c.send("MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA")
		for _, w := range []string{"250", "250", "354"} {
			c.expect(w)
		}
		c.send("x", ".")
		c.expect("250 2.0.0")
	}
	c.send("MAIL FROM:<a@example.org>")
	c.expect("421 4.3.2")
	c.eof()
	for i := 0; i < 2; i++ {
		c = dial(t, s)
		c.expect("220")
		c.send("EHLO c")
		c.expect("250-")
		c.send("MAIL FROM:<a@example.org>")
		c.expect("421 4.3.2")
		c.eof()
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}
