package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// packetConn is a client connection to a server that has already sent
// everything it will: each Read returns at most the rest of one packet,
// as TCP delivers a segment, then io.EOF after the last. Writes are kept.
type packetConn struct {
	mu      sync.Mutex
	packets [][]byte
	out     bytes.Buffer
	closed  bool
}

func (c *packetConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	for len(c.packets) > 0 && len(c.packets[0]) == 0 {
		c.packets = c.packets[1:]
	}
	if len(c.packets) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.packets[0])
	c.packets[0] = c.packets[0][n:]
	return n, nil
}

func (c *packetConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *packetConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *packetConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.out.Bytes()...)
}

func (*packetConn) LocalAddr() net.Addr              { return smtptest.PipeAddr{} }
func (*packetConn) RemoteAddr() net.Addr             { return smtptest.PipeAddr{} }
func (*packetConn) SetDeadline(time.Time) error      { return nil }
func (*packetConn) SetReadDeadline(time.Time) error  { return nil }
func (*packetConn) SetWriteDeadline(time.Time) error { return nil }

type connDialer struct{ c net.Conn }

func (d connDialer) DialContext(context.Context, string, string) (net.Conn, error) { return d.c, nil }

// onlyTLSRecords reports whether b is a sequence of whole TLS records
// (RFC 8446 5.1: type 20-23, version, 16-bit length, fragment).
func onlyTLSRecords(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 || b[0] < 20 || b[0] > 23 || b[1] != 3 {
			return false
		}
		n := 5 + (int(b[3])<<8 | int(b[4]))
		if len(b) < n {
			return false
		}
		b = b[n:]
	}
	return true
}

// FuzzClientSession plays a server that sends its greeting, the EHLO reply
// ehlo and the STARTTLS reply resp, each in its own packet (resp split in
// two at cut), against Open with required (or opportunistic) STARTTLS. A
// fuzzer cannot finish a TLS handshake, so it checks what the client does
// in clear: it never sends MAIL, RCPT, DATA or AUTH in clear when TLS is
// required; it starts the handshake only when its 2xx reply to STARTTLS
// was the last octet received (RFC 3207 5; anything behind it is
// response injection, *InjectionError with the count, and nothing more is
// written); after a handshake starts nothing but TLS records goes out; and
// a refused STARTTLS is followed by QUIT at most, or by the session in
// clear when TLS is opportunistic.
func FuzzClientSession(f *testing.F) {
	ehlo := "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
	for _, s := range []struct{ ehlo, resp string }{
		{ehlo, "220 2.0.0 Ready to start TLS\r\n"},
		{ehlo, "220 2.0.0 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n"},
		{ehlo, "220 go\r\n\x16\x03\x01\x00\x05hello"},
		{ehlo, "220-a\r\n220 b\r\n"},
		{ehlo, "220 ready\n"},
		{ehlo, "454 4.7.0 TLS not available\r\n"},
		{ehlo, "421 4.3.2 shutting down\r\n"},
		{ehlo, "250 ok, go ahead\r\n"},
		{ehlo + "220 2.0.0 early\r\n", ""},
		{"250-mx.test\r\n250 SIZE 100\r\n", "250 ok\r\n250 ok\r\n"},
		{"502 no EHLO\r\n", "250 hi\r\n"},
	} {
		f.Add([]byte(s.ehlo), []byte(s.resp), uint16(0xffff), false)
		f.Add([]byte(s.ehlo), []byte(s.resp), uint16(10), true)
	}
	f.Fuzz(func(t *testing.T, ehlo, resp []byte, cut uint16, opportunistic bool) {
		k := min(int(cut), len(resp))
		packets := func() [][]byte {
			return [][]byte{[]byte("220 mx.test ESMTP\r\n"), bytes.Clone(ehlo), bytes.Clone(resp[:k]), bytes.Clone(resp[k:])}
		}
		conn := &packetConn{packets: packets()}
		mode := TLSStartTLS
		if opportunistic {
			mode = TLSOpportunistic
		}
		c, err := Open(context.Background(), SubmitOptions{
			Addr: "mx.test:25", Dialer: connDialer{conn}, TLS: mode, Helo: "client.test",
			TLSConfig: &tls.Config{ServerName: "mx.test"}, Client: ClientOptions{Timeouts: testTimeouts},
		})
		if err == nil && c != nil {
			// A session in clear (opportunistic, or no STARTTLS offered):
			// the transaction must not panic whatever comes back.
			_, _ = c.Send(&Transaction{From: "a@x", Rcpts: []Recipient{{Addr: "b@x"}, {Addr: "c@x"}},
				Body: strings.NewReader("hello\n.\n"), Pipelining: c.Extensions().Has("PIPELINING")})
			c.Close()
		}
		out := conn.written()
		if clear, _, _ := bytes.Cut(out, []byte{22}); hasBareLineEnding(clear) {
			t.Fatalf("bare CR or LF in what the client sent: %q", clear)
		}
		// Replay the client's reads with the same packets and parser.
		replay := bufio.NewReaderSize(&packetConn{packets: packets()}, 4096)
		before, after, sent := bytes.Cut(out, []byte("STARTTLS\r\n"))
		clearCmds := [][]byte{[]byte("MAIL "), []byte("RCPT "), []byte("DATA"), []byte("AUTH "), []byte("BDAT ")}
		if !sent {
			if err == nil && !opportunistic {
				t.Fatalf("TLS required, no STARTTLS sent, and no error; client wrote %q", out)
			}
			if !opportunistic {
				for _, cmd := range clearCmds {
					if bytes.Contains(out, cmd) {
						t.Fatalf("TLS required but %q sent in clear: %q", cmd, out)
					}
				}
			}
			return
		}
		for _, cmd := range clearCmds {
			if bytes.Contains(before, cmd) {
				t.Fatalf("%q sent before STARTTLS: %q", cmd, out)
			}
		}
		if _, rerr := readReply(replay, nil); rerr != nil {
			t.Fatalf("replay: greeting: %v", rerr)
		}
		if _, rerr := readReply(replay, nil); rerr != nil {
			t.Fatalf("replay: EHLO reply: %v", rerr)
		}
		r, rerr := readReply(replay, nil)
		var ie *InjectionError
		switch {
		case rerr == nil && r.Code/100 == 2 && replay.Buffered() > 0:
			if !errors.As(err, &ie) || ie.Buffered != replay.Buffered() {
				t.Fatalf("%d octets behind the STARTTLS reply %q; error %v, want *InjectionError", replay.Buffered(), r.String(), err)
			}
			if len(after) > 0 {
				t.Fatalf("wrote %q after a response injection", after)
			}
		case rerr == nil && r.Code/100 == 2:
			if err == nil || errors.As(err, &ie) {
				t.Fatalf("STARTTLS reply %q then a handshake against a fuzzer: error %v", r.String(), err)
			}
			if len(after) == 0 || after[0] != 22 || !onlyTLSRecords(after) {
				t.Fatalf("after STARTTLS %q, the client wrote %q, not a TLS handshake", r.String(), clip(string(after)))
			}
		default:
			if bytes.HasPrefix(after, []byte{22}) || errors.As(err, &ie) {
				t.Fatalf("TLS after a STARTTLS reply %q (%v): %q, %v", r.String(), rerr, clip(string(after)), err)
			}
			if !opportunistic && !bytes.Equal(after, []byte("QUIT\r\n")) && len(after) > 0 {
				t.Fatalf("after a refused STARTTLS %q, TLS required, the client wrote %q", r.String(), after)
			}
			if !opportunistic && err == nil {
				t.Fatalf("STARTTLS refused with %q but Open succeeded with TLS required", r.String())
			}
		}
	})
}
