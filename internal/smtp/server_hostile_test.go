package smtp

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// openTx greets and opens a transaction from a@x to b@x.
func openTx(c *rawClient) {
	c.t.Helper()
	c.greet()
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
}

// TestServerDataSmuggling sends SMTP smuggling payloads: content whose end
// of data is anything but CRLF "." CRLF, followed by a second transaction.
// RFC 5321 2.3.8 and 4.1.1.4: only CRLF.CRLF ends the data, and a bare CR
// or LF is refused, so the server answers one 5xx for the whole stream and
// never delivers the smuggled message.
func TestServerDataSmuggling(t *testing.T) {
	ends := []string{
		"\n.\n",
		"\r\n.\n",
		"\n.\r\n",
		"\r.\r",
		"\r.\r\n",
		"\r\n.\r",
		"\r\n.\r\r\n",
		"\r\n.\n\r\n",
		"\r\n\n.\r\n",
		"\rX\n.\r\n",
		"\r\n.\rX\n",
		"\r\n.\r.\r\n",
		"\r\n\r.\r\n",
	}
	const smuggled = "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\n"
	for _, end := range ends {
		t.Run(fmt.Sprintf("%q", end), func(t *testing.T) {
			be := &recBackend{}
			_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
			c := dialRaw(t, addr)
			openTx(c)
			c.cmd("DATA", 354, "")
			c.send("hello" + end + smuggled)
			c.send("QUIT\r\n")
			// One 5xx for everything up to the first real CRLF.CRLF, then
			// QUIT: nothing answered the smuggled commands.
			if r := c.read(); r.Code != 550 || r.Enhanced != "5.6.0" {
				t.Fatalf("end of data %q: reply %q, want 550 5.6.0", end, r.String())
			}
			c.want(221, "2.0.0")
			c.wantClosed()
			pollUntil(t, "logout", func() bool { return be.sessions.Load() == 0 })
			if msgs := be.messages(); len(msgs) != 0 {
				t.Fatalf("delivered %d messages: %q", len(msgs), msgs[0].Body)
			}
			if m := be.mailsSeen(); len(m) != 1 || m[0] != "a@x" {
				t.Fatalf("MAIL FROM seen by the backend: %q", m)
			}
		})
	}
}

// TestServerDataNearEnds: lines that start with a dot but are not the end
// of data are content (RFC 5321 4.5.2), so the "smuggled" commands after
// them are part of one message.
func TestServerDataNearEnds(t *testing.T) {
	for _, tc := range []struct{ sent, got string }{
		{"\r\n..\r\n", "\r\n.\r\n"},
		{"\r\n.\x00\r\n", "\r\n\x00\r\n"},
		{"\r\n. \r\n", "\r\n \r\n"},
		{"\r\n...\r\n", "\r\n..\r\n"},
	} {
		be := &recBackend{}
		_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
		c := dialRaw(t, addr)
		openTx(c)
		c.cmd("DATA", 354, "")
		c.send("hello" + tc.sent + "MAIL FROM:<evil@x>\r\n.\r\n")
		c.want(250, "2.0.0")
		c.cmd("QUIT", 221, "2.0.0")
		want := "hello" + tc.got + "MAIL FROM:<evil@x>\r\n"
		if msgs := be.messages(); len(msgs) != 1 || string(msgs[0].Body) != want {
			t.Fatalf("sent %q: delivered %q, want %q", tc.sent, msgs, want)
		}
	}
}

// TestServerDataBareLineEnding puts a bare CR or LF inside otherwise good
// content: 550 5.6.0 after the real end, nothing delivered, and the
// session goes on in step.
func TestServerDataBareLineEnding(t *testing.T) {
	bodies := []string{
		"a\nb\r\n",
		"a\rb\r\n",
		"\n\r\n",
		"\r\r\n",
		"x\r\n\n",
		"x\r\n.\n\r\n",
		"..\r\r\n",
		"Subject: x\r\n\r\nline\n\r\n",
		"a\r\n\r",
		strings.Repeat("y", 500) + "\r" + strings.Repeat("z", 800) + "\r\n",
	}
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	for _, body := range bodies {
		c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
		c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
		c.cmd("DATA", 354, "")
		c.send(body + "\r\n.\r\n")
		if r := c.read(); r.Code != 550 || r.Enhanced != "5.6.0" {
			t.Fatalf("body %q: reply %q, want 550 5.6.0", body, r.String())
		}
		c.cmd("NOOP", 250, "2.0.0")
	}
	c.cmd("QUIT", 221, "2.0.0")
	if n := len(be.messages()); n != 0 {
		t.Fatalf("delivered %d messages", n)
	}
}

// TestServerDataLongLineResync makes the line-length error fall on the CR
// or the LF of a line ending: the server must still find the CRLF.CRLF
// that follows and answer at once (RFC 5321 4.5.3.1.6).
func TestServerDataLongLineResync(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, Limits: Limits{DataTimeout: 3 * time.Second}}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	for _, tc := range []struct {
		line string
		code int
	}{
		{strings.Repeat("x", 998), 250},       // 1000 octets with CRLF
		{strings.Repeat("x", 999), 550},       // the LF is octet 1001
		{strings.Repeat("x", 1000), 550},      // the CR is octet 1001
		{"." + strings.Repeat("x", 998), 250}, // the transparency dot does not count
		{".." + strings.Repeat("x", 997), 250},
		{".." + strings.Repeat("x", 998), 550},
		{strings.Repeat("x", 5000), 550},
	} {
		c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
		c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
		c.cmd("DATA", 354, "")
		c.send(tc.line + "\r\n.\r\n")
		if r := c.read(); r.Code != tc.code {
			t.Fatalf("line of %d octets: reply %q, want %d", len(tc.line), r.String(), tc.code)
		}
		c.cmd("NOOP", 250, "2.0.0")
	}
	if n := len(be.messages()); n != 3 {
		t.Fatalf("delivered %d messages, want 3", n)
	}
}

// TestServerBDATLineEndings checks RFC 3030 content against the same rules
// as DATA: a CR ending one chunk and the LF starting the next make a
// CRLF; a CR ending the last chunk is bare.
func TestServerBDATLineEndings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		code   int // reply to the LAST chunk
		enh    string
		body   string
	}{
		{"split CRLF", []string{"hello\r", "\nworld\r\n"}, 250, "2.0.0", "hello\r\nworld\r\n"},
		{"CR at the end of LAST", []string{"hello\r"}, 550, "5.6.0", ""},
		{"CR at the end of LAST after a chunk", []string{"hello\r\n", "x\r"}, 550, "5.6.0", ""},
		{"CR then a non-LF chunk", []string{"hello\r", "world\r\n"}, 550, "5.6.0", ""},
		{"bare LF in LAST", []string{"hel\nlo\r\n"}, 550, "5.6.0", ""},
		{"LF starting LAST", []string{"hello", "\n"}, 550, "5.6.0", ""},
		{"empty", []string{""}, 250, "2.0.0", ""},
		{"no final CRLF", []string{"no newline"}, 250, "2.0.0", "no newline"},
		{"dot lines are content", []string{"a\r\n.\r\n", "..\r\n"}, 250, "2.0.0", "a\r\n.\r\n..\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &recBackend{}
			_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
			c := dialRaw(t, addr)
			openTx(c)
			for i, ch := range tc.chunks {
				if i < len(tc.chunks)-1 {
					c.send(fmt.Sprintf("BDAT %d\r\n%s", len(ch), ch))
					c.want(250, "2.0.0")
					continue
				}
				c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(ch), ch))
				c.want(tc.code, tc.enh)
			}
			c.cmd("NOOP", 250, "2.0.0")
			c.cmd("QUIT", 221, "2.0.0")
			msgs := be.messages()
			if tc.code != 250 {
				if len(msgs) != 0 {
					t.Fatalf("delivered %q", msgs[0].Body)
				}
				return
			}
			if len(msgs) != 1 || string(msgs[0].Body) != tc.body {
				t.Fatalf("delivered %q, want %q", msgs, tc.body)
			}
		})
	}
}

// TestServerBDATFailedChunk: a bare LF in a chunk that is not the last
// fails the transaction at that chunk (RFC 3030 2); the chunks the client
// pipelined after it are read and refused with 503, in step.
func TestServerBDATFailedChunk(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	c := dialRaw(t, addr)
	openTx(c)
	c.send("BDAT 6\r\nbad\nx\r" + "BDAT 3 LAST\r\n\nok")
	c.want(550, "5.6.0")
	c.want(503, "5.5.1")
	c.cmd("NOOP", 250, "2.0.0")
	if n := len(be.messages()); n != 0 {
		t.Fatalf("delivered %d messages", n)
	}
}

// TestServerBDATSmugglingIsContent: BDAT counts octets, so a CRLF.CRLF
// followed by commands inside a chunk is just content of one message.
func TestServerBDATSmugglingIsContent(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	c := dialRaw(t, addr)
	openTx(c)
	body := "hi\r\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\n"
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
	c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	msgs := be.messages()
	if len(msgs) != 1 || string(msgs[0].Body) != body {
		t.Fatalf("delivered %q", msgs)
	}
	if m := be.mailsSeen(); len(m) != 1 {
		t.Fatalf("MAIL FROM seen: %q", m)
	}
}

// TestServerStartTLSInjection: plaintext sent behind STARTTLS in the same
// packet (CVE-2011-0411) is thrown away, never answered inside TLS, and
// counted as an error (RFC 3207 4.2: nothing from before TLS is kept).
func TestServerStartTLSInjection(t *testing.T) {
	certs := serverCerts(t)
	t.Run("discarded", func(t *testing.T) {
		_, addr := startServer(t, ServerOptions{TLS: certs.Server}, ListenerOptions{})
		c := dialRaw(t, addr)
		c.greet()
		c.send("STARTTLS\r\nEHLO evil\r\nMAIL FROM:<evil@x>\r\n")
		c.want(220, "2.0.0")
		c.handshake(trustCerts(certs))
		// The first reply inside TLS answers NOOP: the injected EHLO and
		// MAIL were never read as commands.
		r := c.cmd("NOOP", 250, "2.0.0")
		if len(r.Lines) != 1 || strings.Contains(r.Text(), "evil") {
			t.Fatalf("first reply inside TLS: %q", r.String())
		}
		c.cmd("MAIL FROM:<a@x>", 503, "5.5.1") // EHLO state was reset
		c.cmd("QUIT", 221, "2.0.0")
	})
	t.Run("counted as an error", func(t *testing.T) {
		_, addr := startServer(t, ServerOptions{TLS: certs.Server, Limits: Limits{Errors: 1}}, ListenerOptions{})
		c := dialRaw(t, addr)
		c.greet()
		c.send("STARTTLS\r\nEHLO evil\r\n")
		c.want(220, "2.0.0")
		c.handshake(trustCerts(certs))
		c.want(421, "4.7.0")
		c.wantClosed()
	})
	t.Run("clean STARTTLS is not an error", func(t *testing.T) {
		_, addr := startServer(t, ServerOptions{TLS: certs.Server, Limits: Limits{Errors: 1}}, ListenerOptions{})
		c := dialRaw(t, addr)
		c.greet()
		c.startTLS(trustCerts(certs))
		c.cmd("NOOP", 250, "2.0.0")
		c.cmd("EHLO client.test", 250, "")
		c.cmd("QUIT", 221, "2.0.0")
	})
}

// talkFirstListener accepts a connection only once the client's first
// bytes are already in the socket, so that a server with GreetDelay 0
// deterministically finds them there.
type talkFirstListener struct{ net.Listener }

func (l talkFirstListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for i := 0; i < 2000 && !peekNow(nc); i++ {
		time.Sleep(time.Millisecond)
	}
	return nc, nil
}

// TestServerPregreet: a client that talks before the greeting is refused
// with 554 and the connection closed (RFC 5321 4.3.1: the client waits for
// the 220), like Postfix's postscreen pregreet test.
func TestServerPregreet(t *testing.T) {
	t.Run("GreetDelay", func(t *testing.T) {
		be := &recBackend{}
		_, addr := startServer(t, ServerOptions{Backend: be, GreetDelay: 300 * time.Millisecond}, ListenerOptions{})
		c := dialRaw(t, addr)
		c.send("EHLO early.test\r\n")
		c.want(554, "5.5.0")
		c.wantClosed()
		// A patient client is served.
		p := dialRaw(t, addr)
		p.greet()
		p.cmd("QUIT", 221, "2.0.0")
		pollUntil(t, "logout", func() bool { return be.sessions.Load() == 0 })
	})
	t.Run("already in the socket", func(t *testing.T) {
		be := &recBackend{}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		startServerOn(t, ServerOptions{Backend: be}, talkFirstListener{ln}, ListenerOptions{})
		c := dialRaw(t, ln.Addr().String())
		c.send("EHLO early.test\r\n")
		c.want(554, "5.5.0")
		c.wantClosed()
		if n := be.sessions.Load(); n != 0 {
			t.Fatalf("backend sessions %d: a pregreeter got a session", n)
		}
	})
}

// TestServerNoPipelining: without PIPELINING (RFC 2920 3.1) a client must
// wait for each reply; one that sends a group is refused with 554 and
// closed. The octets of a BDAT chunk are not a pipelined command.
func TestServerNoPipelining(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, NoPipelining: true}, ListenerOptions{})
	c := dialRaw(t, addr)
	ehlo := c.greet()
	for _, l := range ehlo.Lines {
		if l == "PIPELINING" {
			t.Fatalf("PIPELINING offered: %q", ehlo.Lines)
		}
	}
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.send("BDAT 4 LAST\r\nhi\r\n")
	c.want(250, "2.0.0")
	c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n")
	c.want(554, "5.5.0")
	c.wantClosed()
	if n := len(be.messages()); n != 1 {
		t.Fatalf("delivered %d messages, want 1", n)
	}

	c = dialRaw(t, addr)
	c.want(220, "")
	c.send("EHLO client.test\r\nNOOP\r\n")
	c.want(554, "5.5.0")
	c.wantClosed()
}

// TestServerBackendPanic: a panic in the backend answers 421 on that
// connection only; another session in the middle of a transaction goes on
// and the server keeps accepting.
func TestServerBackendPanic(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(c *rawClient)
	}{
		{"Mail", func(c *rawClient) {
			c.greet()
			c.send("MAIL FROM:<panic-mail@x>\r\n")
		}},
		{"Rcpt", func(c *rawClient) {
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.send("RCPT TO:<panic-rcpt@x>\r\n")
		}},
		{"Data", func(c *rawClient) {
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.cmd("RCPT TO:<panic-data@x>", 250, "2.1.5")
			c.cmd("DATA", 354, "")
			c.send("Subject: boom\r\n\r\nbody\r\n.\r\n")
		}},
		{"Data before reading", func(c *rawClient) {
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.cmd("RCPT TO:<panic-early@x>", 250, "2.1.5")
			c.cmd("DATA", 354, "")
			c.send("Subject: boom\r\n\r\nbody\r\n.\r\n")
		}},
		{"Data during BDAT", func(c *rawClient) {
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.cmd("RCPT TO:<panic-data@x>", 250, "2.1.5")
			c.send("BDAT 6\r\nhello\r")
			c.want(250, "2.0.0")
			c.send("BDAT 1 LAST\r\n\n")
		}},
		{"Data early during BDAT", func(c *rawClient) {
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			c.cmd("RCPT TO:<panic-early@x>", 250, "2.1.5")
			c.send("BDAT 7\r\nhello\r\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &recBackend{}
			srv, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
			other := dialRaw(t, addr)
			openTx(other)

			c := dialRaw(t, addr)
			tc.run(c)
			c.want(421, "4.3.0")
			c.wantClosed()

			other.cmd("DATA", 354, "")
			other.send("fine\r\n.\r\n")
			other.want(250, "2.0.0")
			other.cmd("QUIT", 221, "2.0.0")

			again := dialRaw(t, addr)
			again.greet()
			again.cmd("QUIT", 221, "2.0.0")
			pollUntil(t, "sessions to end", func() bool { return srv.Conns() == 0 && be.sessions.Load() == 0 })
			if msgs := be.messages(); len(msgs) != 1 || !bytes.Equal(msgs[0].Body, []byte("fine\r\n")) {
				t.Fatalf("delivered %q", msgs)
			}
			if n := be.active.Load(); n != 0 {
				t.Fatalf("%d Data calls still running", n)
			}
		})
	}
}

// TestServerBDATAbandoned: a client that leaves in the middle of a BDAT
// transaction (QUIT, a dropped connection) must not leave the backend's
// Data call waiting for more content.
func TestServerBDATAbandoned(t *testing.T) {
	for _, end := range []string{"QUIT", "drop", "drop at a chunk", "drop in a chunk", "errors"} {
		t.Run(end, func(t *testing.T) {
			be := &recBackend{}
			srv, addr := startServer(t, ServerOptions{Backend: be, Limits: Limits{Errors: 1}}, ListenerOptions{})
			c := dialRaw(t, addr)
			openTx(c)
			c.send("BDAT 7\r\nhello\r\n")
			c.want(250, "2.0.0")
			pollUntil(t, "Data to start", func() bool { return be.active.Load() == 1 })
			switch end {
			case "QUIT":
				c.cmd("QUIT", 221, "2.0.0")
				c.wantClosed()
			case "drop":
				c.nc.Close()
			case "drop at a chunk":
				c.send("BDAT 10 LAST\r\n")
				c.nc.Close()
			case "drop in a chunk":
				c.send("BDAT 10 LAST\r\nworl")
				c.nc.Close()
			case "errors":
				c.send("EHLO again\r\n")
				c.want(503, "5.5.1")
				c.want(421, "4.7.0")
				c.wantClosed()
			}
			pollUntil(t, "the session to end", func() bool { return srv.Conns() == 0 })
			pollUntil(t, "Data to return", func() bool { return be.active.Load() == 0 })
			if n := len(be.messages()); n != 0 {
				t.Fatalf("delivered %d messages from an abandoned BDAT", n)
			}
		})
	}
}
