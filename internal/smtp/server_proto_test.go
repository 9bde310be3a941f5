package smtp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipeSession serves o on net.Pipe and returns a client that has read
// nothing yet.
func pipeSession(t *testing.T, o ServerOptions, lo ListenerOptions) *rawClient {
	t.Helper()
	_, ln := startPipeServer(t, o, lo)
	return dialPipe(t, ln)
}

// TestServerEHLOExtensions: the EHLO reply lists exactly the extensions
// the configuration supports (RFC 5321 4.1.1.1), in a stable order.
func TestServerEHLOExtensions(t *testing.T) {
	tlsConf := &tls.Config{} // never used: the sessions stay in clear
	base := []string{"PIPELINING", "SIZE 67108864", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"}
	for _, tc := range []struct {
		name string
		o    ServerOptions
		lo   ListenerOptions
		want []string
	}{
		{"plain", ServerOptions{}, ListenerOptions{}, append(base, "HELP")},
		{"STARTTLS", ServerOptions{TLS: tlsConf}, ListenerOptions{}, append(base, "STARTTLS", "HELP")},
		{"no AUTH before TLS", ServerOptions{TLS: tlsConf, Auth: aliceAuth}, ListenerOptions{}, append(base, "STARTTLS", "HELP")},
		{"AUTH in clear when allowed", ServerOptions{Auth: aliceAuth, AllowPlaintextAuth: true}, ListenerOptions{}, append(base, "AUTH PLAIN LOGIN", "HELP")},
		{"no pipelining, no chunking", ServerOptions{NoPipelining: true, NoChunking: true}, ListenerOptions{},
			[]string{"SIZE 67108864", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "HELP"}},
		{"unlimited size", ServerOptions{Limits: Limits{MessageSize: -1}}, ListenerOptions{},
			[]string{"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "HELP"}},
		{"LMTP has no CHUNKING", ServerOptions{}, ListenerOptions{LMTP: true},
			[]string{"PIPELINING", "SIZE 67108864", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "HELP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pipeSession(t, tc.o, tc.lo)
			g := c.want(220, "")
			verb := "EHLO"
			if tc.lo.LMTP {
				verb = "LHLO"
				if !strings.Contains(g.Text(), "LMTP") {
					t.Fatalf("LMTP greeting %q", g.Text())
				}
			}
			r := c.cmd(verb+" client.test", 250, "")
			if r.Lines[0] != "mx.test greets client.test" {
				t.Fatalf("first line %q", r.Lines[0])
			}
			if got := r.Lines[1:]; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("extensions\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestServerHELO: HELO gives a one-line reply without extensions (RFC
// 5321 4.1.1.1); the session works in plain SMTP.
func TestServerHELO(t *testing.T) {
	be := &recBackend{}
	c := pipeSession(t, ServerOptions{Backend: be}, ListenerOptions{})
	c.want(220, "")
	c.cmd("HELO", 501, "5.5.4")
	c.cmd("HELO bad\x01name", 501, "5.5.4")
	r := c.cmd("HELO client.test", 250, "")
	if len(r.Lines) != 1 || r.Lines[0] != "mx.test" {
		t.Fatalf("HELO reply %q", r.Lines)
	}
	c.cmd("LHLO client.test", 500, "5.5.1")
	c.cmd("EHLO [192.0.2.1]", 250, "")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("hi\r\n.\r\n")
	c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	if n := len(be.messages()); n != 1 {
		t.Fatalf("delivered %d", n)
	}
}

// TestServerLMTP: an LMTP listener wants LHLO (RFC 2033 4.1) and answers
// once per accepted recipient after the content (4.2), in RCPT order.
func TestServerLMTP(t *testing.T) {
	be := &recBackend{lmtp: true, lmtpFail: "full@x"}
	c := pipeSession(t, ServerOptions{Backend: be}, ListenerOptions{LMTP: true})
	c.want(220, "")
	c.cmd("EHLO client.test", 500, "5.5.1")
	c.cmd("HELO client.test", 500, "5.5.1")
	c.cmd("MAIL FROM:<a@x>", 503, "5.5.1")
	c.cmd("LHLO client.test", 250, "")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<one@x>", 250, "2.1.5")
	c.cmd("RCPT TO:<bad@x>", 550, "5.1.1")
	c.cmd("RCPT TO:<full@x>", 250, "2.1.5")
	c.cmd("RCPT TO:<three@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("hello\r\n.\r\n")
	if r := c.want(250, "2.1.5"); !strings.Contains(r.Text(), "<one@x>") {
		t.Fatalf("first recipient reply %q", r.String())
	}
	c.want(552, "5.2.2")
	if r := c.want(250, "2.1.5"); !strings.Contains(r.Text(), "<three@x>") {
		t.Fatalf("third recipient reply %q", r.String())
	}
	// Refused content: one refusal per recipient.
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<one@x>", 250, "2.1.5")
	c.cmd("RCPT TO:<two@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("bare\nLF\r\n.\r\n")
	c.want(550, "5.6.0")
	c.want(550, "5.6.0")
	// No CHUNKING on LMTP: BDAT is read and refused.
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<one@x>", 250, "2.1.5")
	c.send("BDAT 4 LAST\r\nhi\r\n")
	c.want(502, "5.5.1")
	c.cmd("QUIT", 221, "2.0.0")
	msgs := be.messages()
	if len(msgs) != 1 || !reflect.DeepEqual(msgs[0].Rcpts, []string{"one@x", "full@x", "three@x"}) {
		t.Fatalf("delivered %+v", msgs)
	}

	// A backend without LMTPData: its one answer goes to every recipient.
	c = pipeSession(t, ServerOptions{Backend: &recBackend{}}, ListenerOptions{LMTP: true})
	c.want(220, "")
	c.cmd("LHLO client.test", 250, "")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<one@x>", 250, "2.1.5")
	c.cmd("RCPT TO:<two@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("hello\r\n.\r\n")
	c.want(250, "2.1.5")
	c.want(250, "2.1.5")

	// An SMTP listener does not take LHLO.
	c = pipeSession(t, ServerOptions{}, ListenerOptions{})
	c.want(220, "")
	c.cmd("LHLO client.test", 500, "5.5.1")
}

// TestServerMailParams validates MAIL FROM parameters: SIZE (RFC 1870),
// BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID (RFC 3461), AUTH
// (RFC 4954 5); anything else is 555 (RFC 5321 4.1.1.11).
func TestServerMailParams(t *testing.T) {
	c := pipeSession(t, ServerOptions{Limits: Limits{Errors: 100}}, ListenerOptions{})
	c.greet()
	for _, tc := range []struct {
		arg  string
		code int
		enh  string
	}{
		{"FROM:<a@x>", 250, "2.1.0"},
		{"FROM:<>", 250, "2.1.0"},
		{"from:<a@x>", 250, "2.1.0"},
		{"FROM: <a@x>", 250, "2.1.0"},
		{"FROM:<@relay.x:a@x>", 250, "2.1.0"},
		{"FROM:<\"a b\"@x>", 250, "2.1.0"},
		{"FROM:<a@x> SIZE=100", 250, "2.1.0"},
		{"FROM:<a@x> SIZE=abc", 501, "5.5.4"},
		{"FROM:<a@x> SIZE=-1", 501, "5.5.4"},
		{"FROM:<a@x> SIZE=99999999999999999999", 501, "5.5.4"},
		{"FROM:<a@x> SIZE=67108865", 552, "5.3.4"},
		{"FROM:<a@x> BODY=8BITMIME", 250, "2.1.0"},
		{"FROM:<a@x> body=7bit", 250, "2.1.0"},
		{"FROM:<a@x> BODY=BINARYMIME", 555, "5.5.4"},
		{"FROM:<a@x> BODY=9BIT", 501, "5.5.4"},
		{"FROM:<ü@x> SMTPUTF8", 250, "2.1.0"},
		{"FROM:<a@x> SMTPUTF8=yes", 501, "5.5.4"},
		{"FROM:<a@x> RET=HDRS", 250, "2.1.0"},
		{"FROM:<a@x> RET=full", 250, "2.1.0"},
		{"FROM:<a@x> RET=SOME", 501, "5.5.4"},
		{"FROM:<a@x> ENVID=QQ+2B+3Dab", 250, "2.1.0"},
		{"FROM:<a@x> ENVID=a+zz", 501, "5.5.4"},
		{"FROM:<a@x> ENVID=a=b", 501, "5.5.4"},
		{"FROM:<a@x> ENVID=" + strings.Repeat("e", 101), 501, "5.5.4"},
		{"FROM:<a@x> AUTH=<>", 250, "2.1.0"},
		{"FROM:<a@x> XFOO=bar", 555, "5.5.4"},
		{"FROM:<a@x> SIZE=1 SIZE=2", 501, "5.5.4"},
		{"FROM:a@x", 501, "5.5.4"},
		{"FROM:<a@x", 501, "5.5.4"},
		{"FROM:<a@x>junk", 501, "5.5.4"},
		{"TO:<a@x>", 501, "5.5.4"},
		{"FROM:<a\x01@x>", 501, "5.5.4"},
	} {
		r := c.cmd("MAIL "+tc.arg, tc.code, tc.enh)
		if r.Code == 250 {
			c.cmd("RSET", 250, "2.0.0")
		}
	}
}

// TestServerRcptParams validates RCPT TO parameters: NOTIFY and ORCPT (RFC
// 3461 4.1, 4.2); anything else is 555.
func TestServerRcptParams(t *testing.T) {
	c := pipeSession(t, ServerOptions{Limits: Limits{Errors: 100}}, ListenerOptions{})
	c.greet()
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	for _, tc := range []struct {
		arg  string
		code int
		enh  string
	}{
		{"TO:<b@x>", 250, "2.1.5"},
		{"to:<b@x>", 250, "2.1.5"},
		{"TO:<b@x> NOTIFY=SUCCESS,FAILURE,DELAY", 250, "2.1.5"},
		{"TO:<b@x> NOTIFY=never", 250, "2.1.5"},
		{"TO:<b@x> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"},
		{"TO:<b@x> NOTIFY=", 501, "5.5.4"},
		{"TO:<b@x> NOTIFY=SOMETIMES", 501, "5.5.4"},
		{"TO:<b@x> ORCPT=rfc822;b+40x", 250, "2.1.5"},
		{"TO:<b@x> ORCPT=b@x", 501, "5.5.4"},
		{"TO:<b@x> ORCPT=rfc822;b+4", 501, "5.5.4"},
		{"TO:<b@x> ORCPT=;b", 501, "5.5.4"},
		{"TO:<b@x> SIZE=10", 555, "5.5.4"},
		{"TO:<>", 501, "5.5.4"},
		{"FROM:<b@x>", 501, "5.5.4"},
		{"TO:<b@x> NOTIFY=DELAY NOTIFY=DELAY", 501, "5.5.4"},
	} {
		c.cmd("RCPT "+tc.arg, tc.code, tc.enh)
	}
}

// TestServerSequence: commands out of order get 503 (RFC 5321 4.1.4) and
// the session goes on.
func TestServerSequence(t *testing.T) {
	c := pipeSession(t, ServerOptions{Limits: Limits{Errors: 100}}, ListenerOptions{})
	c.want(220, "")
	c.cmd("MAIL FROM:<a@x>", 503, "5.5.1")
	c.cmd("RCPT TO:<b@x>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.cmd("AUTH PLAIN", 503, "5.5.1")
	c.cmd("EHLO client.test", 250, "")
	c.cmd("RCPT TO:<b@x>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.send("BDAT 3\r\nabc")
	c.want(503, "5.5.1") // the chunk was read: the next command is in step
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("MAIL FROM:<a@x>", 503, "5.5.1")
	c.cmd("DATA", 554, "5.5.1") // no valid recipients
	c.cmd("RCPT TO:<bad@x>", 550, "5.1.1")
	c.cmd("DATA", 554, "5.5.1")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA extra", 501, "5.5.4")
	c.cmd("STARTTLS", 502, "5.5.1") // not configured
	c.send("BDAT 3\r\nabc")
	c.want(250, "2.0.0")
	c.cmd("DATA", 503, "5.5.1") // in the middle of BDAT
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	c.wantClosed()
}

// TestServerRSET: RSET in the middle of a transaction forgets it (RFC
// 5321 4.1.1.5), as does a new EHLO.
func TestServerRSET(t *testing.T) {
	be := &recBackend{}
	c := pipeSession(t, ServerOptions{Backend: be}, ListenerOptions{})
	c.greet()
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("RSET", 250, "2.0.0")
	c.cmd("RCPT TO:<b@x>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.cmd("RSET now", 501, "5.5.4")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("EHLO client.test", 250, "")
	c.cmd("RCPT TO:<b@x>", 503, "5.5.1")
	c.cmd("MAIL FROM:<c@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<d@x>", 250, "2.1.5")
	c.send("BDAT 3\r\nab\r")
	c.want(250, "2.0.0")
	c.cmd("RSET", 250, "2.0.0") // abandons BDAT too
	c.cmd("MAIL FROM:<e@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<f@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("kept\r\n.\r\n")
	c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	msgs := be.messages()
	if len(msgs) != 1 || msgs[0].From != "e@x" || !reflect.DeepEqual(msgs[0].Rcpts, []string{"f@x"}) {
		t.Fatalf("delivered %+v", msgs)
	}
	if be.resets.Load() < 3 {
		t.Fatalf("backend Reset called %d times", be.resets.Load())
	}
}

// TestServerSimpleCommands: VRFY answers 252 unless told (RFC 5321 3.5.3),
// EXPN 502, HELP 214, NOOP 250, unknown 500, QUIT 221 and close.
func TestServerSimpleCommands(t *testing.T) {
	c := pipeSession(t, ServerOptions{}, ListenerOptions{})
	c.greet()
	c.cmd("VRFY postmaster", 252, "2.5.0")
	c.cmd("VRFY", 501, "5.5.4")
	c.cmd("EXPN staff", 502, "5.5.1")
	c.cmd("HELP", 214, "2.0.0")
	c.cmd("HELP MAIL", 214, "2.0.0")
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("noop anything", 250, "2.0.0")
	c.cmd("TURN", 500, "5.5.2")
	c.cmd("", 500, "5.5.2")
	c.cmd("QUIT", 221, "2.0.0")
	c.wantClosed()

	verify := func(addr string) *Reply {
		if addr == "alice" {
			return &Reply{Code: 250, Enhanced: "2.1.5", Lines: []string{"Alice <alice@x>"}}
		}
		return nil
	}
	c = pipeSession(t, ServerOptions{Verify: verify}, ListenerOptions{})
	c.greet()
	c.cmd("VRFY alice", 250, "2.1.5")
	c.cmd("VRFY bob", 252, "2.5.0")
}

// TestServerRequireTLS: with RequireTLS, MAIL before STARTTLS is refused
// with 530 5.7.0 (RFC 3207 4); after STARTTLS it is accepted.
func TestServerRequireTLS(t *testing.T) {
	certs := serverCerts(t)
	_, addr := startServer(t, ServerOptions{TLS: certs.Server, RequireTLS: true}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	c.cmd("MAIL FROM:<a@x>", 530, "5.7.0")
	c.cmd("STARTTLS now", 501, "5.5.4")
	c.startTLS(trustCerts(certs))
	c.cmd("MAIL FROM:<a@x>", 503, "5.5.1") // RFC 3207 4.2: EHLO again first
	c.cmd("EHLO client.test", 250, "")
	c.cmd("STARTTLS", 502, "5.5.1")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("STARTTLS", 502, "5.5.1")
	c.cmd("QUIT", 221, "2.0.0")
}

// TestServerImplicitTLS: on an implicit TLS listener (RFC 8314 3.3) the
// handshake comes first; EHLO offers AUTH and no STARTTLS.
func TestServerImplicitTLS(t *testing.T) {
	certs := serverCerts(t)
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, TLS: certs.Server, Auth: aliceAuth, RequireAuth: true}, ListenerOptions{Implicit: true})
	tc, err := tls.Dial("tcp", addr, trustCerts(certs))
	if err != nil {
		t.Fatal(err)
	}
	c := newRawClient(t, tc, tc)
	ehlo := c.greet()
	if !replyHasLine(ehlo, "AUTH PLAIN LOGIN") || replyHasLine(ehlo, "STARTTLS") {
		t.Fatalf("EHLO on implicit TLS: %q", ehlo.Lines)
	}
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 235, "2.7.0")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("over TLS\r\n.\r\n")
	c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	if msgs := be.messages(); len(msgs) != 1 || string(msgs[0].Body) != "over TLS\r\n" {
		t.Fatalf("delivered %q", msgs)
	}

	// A client that does not speak TLS gets nothing and is closed.
	p := dialRaw(t, addr)
	p.send("EHLO plain.test\r\n")
	if b, _ := p.br.ReadString('\n'); strings.HasPrefix(b, "220") {
		t.Fatalf("plaintext greeting on an implicit TLS port: %q", b)
	}

	if err := NewServer(ServerOptions{Backend: be}).Serve(nil, ListenerOptions{Implicit: true}); err == nil {
		t.Fatal("Serve accepted an implicit TLS listener without a certificate")
	}
}

// hookRecorder is a Hook that answers from a table and records the
// stages it saw.
type hookRecorder struct {
	mu      sync.Mutex
	replies map[string]*Reply
	delays  map[string]time.Duration
	seen    []string
}

func (h *hookRecorder) hook(stage string) (time.Duration, *Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, stage)
	return h.delays[stage], h.replies[stage]
}

// TestServerHook injects replies and delays at each stage.
func TestServerHook(t *testing.T) {
	fail := func(code int, enh string) *Reply {
		return &Reply{Code: code, Enhanced: enh, Lines: []string{"injected"}}
	}
	t.Run("stages in order, with delays", func(t *testing.T) {
		h := &hookRecorder{delays: map[string]time.Duration{"connect": time.Millisecond, "ehlo": time.Millisecond, "dot": time.Millisecond}}
		be := &recBackend{}
		c := pipeSession(t, ServerOptions{Backend: be, Hook: h.hook}, ListenerOptions{})
		openTx(c)
		c.cmd("DATA", 354, "")
		c.send("x\r\n.\r\n")
		c.want(250, "2.0.0")
		c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
		c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
		c.send("BDAT 3 LAST\r\ny\r\n")
		c.want(250, "2.0.0")
		c.cmd("QUIT", 221, "2.0.0")
		c.wantClosed()
		h.mu.Lock()
		defer h.mu.Unlock()
		want := []string{"connect", "ehlo", "mail", "rcpt", "data", "dot", "mail", "rcpt", "data", "dot"}
		if !reflect.DeepEqual(h.seen, want) {
			t.Fatalf("stages %q, want %q", h.seen, want)
		}
		if n := len(be.messages()); n != 2 {
			t.Fatalf("delivered %d", n)
		}
	})
	t.Run("connect", func(t *testing.T) {
		h := &hookRecorder{replies: map[string]*Reply{"connect": fail(554, "5.7.1")}}
		be := &recBackend{}
		c := pipeSession(t, ServerOptions{Backend: be, Hook: h.hook}, ListenerOptions{})
		c.want(554, "5.7.1")
		c.wantClosed()
		if be.sessions.Load() != 0 {
			t.Fatal("a session was opened")
		}
	})
	for _, stage := range []string{"ehlo", "mail", "rcpt", "data", "dot"} {
		for _, bdat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s BDAT %v", stage, bdat), func(t *testing.T) {
				h := &hookRecorder{replies: map[string]*Reply{stage: fail(451, "4.3.0")}}
				be := &recBackend{}
				c := pipeSession(t, ServerOptions{Backend: be, Hook: h.hook}, ListenerOptions{})
				c.want(220, "")
				step := func(line string, code int, enh string, at string) bool {
					if stage == at {
						c.cmd(line, 451, "4.3.0")
						return true
					}
					c.cmd(line, code, enh)
					return false
				}
				switch {
				case step("EHLO client.test", 250, "", "ehlo"):
					c.cmd("MAIL FROM:<a@x>", 503, "5.5.1")
				case step("MAIL FROM:<a@x>", 250, "2.1.0", "mail"):
					c.cmd("RCPT TO:<b@x>", 503, "5.5.1")
				case step("RCPT TO:<b@x>", 250, "2.1.5", "rcpt"):
					c.cmd("DATA", 554, "5.5.1")
				case bdat:
					c.send("BDAT 3 LAST\r\nz\r\n")
					c.want(451, "4.3.0")
				case step("DATA", 354, "", "data"):
				default:
					c.send("z\r\n.\r\n")
					c.want(451, "4.3.0")
				}
				c.cmd("NOOP", 250, "2.0.0")
				if stage == "data" || stage == "dot" {
					c.cmd("RCPT TO:<b@x>", 503, "5.5.1") // the transaction is gone
				}
				if n := len(be.messages()); n != 0 {
					t.Fatalf("the backend stored %d messages behind an injected %s reply", n, stage)
				}
			})
		}
	}
}

// TestServerBDAT: RFC 3030 chunks: several chunks and LAST, BDAT 0 LAST,
// BDAT without MAIL (503 after reading the chunk), a bad size (501, close:
// the chunk cannot be skipped), and BDAT when CHUNKING is off (502).
func TestServerBDAT(t *testing.T) {
	be := &recBackend{}
	c := pipeSession(t, ServerOptions{Backend: be}, ListenerOptions{})
	openTx(c)
	c.send("BDAT 7\r\nSubject")
	c.want(250, "2.0.0")
	c.send("BDAT 5\r\n: x\r\n")
	c.want(250, "2.0.0")
	c.send("bdat 0\r\n")
	c.want(250, "2.0.0")
	c.send("BDAT 8 last\r\n\r\nbody\r\n")
	c.want(250, "2.0.0")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.send("BDAT 0 LAST\r\n")
	c.want(250, "2.0.0")
	// Pipelined: MAIL, RCPT and chunks in one write.
	c.send("MAIL FROM:<p@x>\r\nRCPT TO:<q@x>\r\nBDAT 3\r\none" + "BDAT 6 LAST\r\n two\r\n")
	c.want(250, "2.1.0")
	c.want(250, "2.1.5")
	c.want(250, "2.0.0")
	c.want(250, "2.0.0")
	c.send("BDAT 4 LAST\r\nMAIL")
	c.want(503, "5.5.1")
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	want := []string{"Subject: x\r\n\r\nbody\r\n", "", "one two\r\n"}
	msgs := be.messages()
	if len(msgs) != len(want) {
		t.Fatalf("delivered %d messages", len(msgs))
	}
	for i, m := range msgs {
		if string(m.Body) != want[i] {
			t.Fatalf("message %d: %q, want %q", i, m.Body, want[i])
		}
	}

	for _, bad := range []string{"BDAT", "BDAT x", "BDAT -1", "BDAT 5 FIRST", "BDAT 1 LAST more", "BDAT 1234567890123456789", "BDAT +5"} {
		c := pipeSession(t, ServerOptions{}, ListenerOptions{})
		openTx(c)
		c.send(bad + "\r\nhello")
		c.want(501, "5.5.4")
		c.wantClosed()
	}

	c = pipeSession(t, ServerOptions{NoChunking: true}, ListenerOptions{})
	openTx(c)
	c.send("BDAT 4 LAST\r\nQUIT")
	c.want(502, "5.5.1")
	c.cmd("NOOP", 250, "2.0.0")
}

// TestServerBackendRefusesSession: NewSession's *Error is the greeting;
// any other error is 421.
func TestServerBackendRefusesSession(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		enh  string
	}{
		{&Error{Reply: Reply{Code: 554, Enhanced: "5.7.1", Lines: []string{"go away"}}}, 554, "5.7.1"},
		{errors.New("database down"), 421, "4.3.0"},
	} {
		c := pipeSession(t, ServerOptions{Backend: refusingBackend{tc.err}}, ListenerOptions{})
		c.want(tc.code, tc.enh)
		c.wantClosed()
	}
}

type refusingBackend struct{ err error }

func (b refusingBackend) NewSession(*ConnState) (Session, error) { return nil, b.err }

// TestServerConnState: the backend sees the HELO name, TLS and the AUTH
// user as the session learns them, and a queue id per transaction.
func TestServerConnState(t *testing.T) {
	certs := serverCerts(t)
	var st *ConnState
	var mu sync.Mutex
	be := backendFunc(func(c *ConnState) (Session, error) {
		mu.Lock()
		st = c
		mu.Unlock()
		return &recSess{b: &recBackend{}, st: c}, nil
	})
	_, addr := startServer(t, ServerOptions{Backend: be, TLS: certs.Server, Auth: aliceAuth}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	c.startTLS(trustCerts(certs))
	c.cmd("EHLO again.test", 250, "")
	c.cmd("AUTH PLAIN "+encB64("\x00alice\x00secret"), 235, "2.7.0")
	r := c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	_ = r
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send("x\r\n.\r\n")
	ok := c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	c.wantClosed()
	mu.Lock()
	defer mu.Unlock()
	if st.Helo != "again.test" || !st.ESMTP || st.TLS == nil || st.AuthUser != "alice" || st.RemoteIP() != "127.0.0.1" || st.TxID == "" || st.ID == "" {
		t.Fatalf("ConnState %+v", st)
	}
	if !strings.Contains(ok.Text(), st.TxID) {
		t.Fatalf("250 %q does not name the queue id %s", ok.Text(), st.TxID)
	}
}

type backendFunc func(*ConnState) (Session, error)

func (f backendFunc) NewSession(c *ConnState) (Session, error) { return f(c) }
