package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// injectedCommand is sent in the same write as STARTTLS. It is a command no
// server knows, so its reply (5xx) cannot be mistaken for NOOP's 250.
const injectedCommand = "XSMTPKITINJECT"

// second runs the second connection: the STARTTLS command-injection test
// (CVE-2011-0411) and, with the session cache the first connection filled,
// whether the server resumes TLS sessions.
//
// Injection: "STARTTLS\r\nXSMTPKITINJECT\r\n" goes out in one write. A
// server that keeps the plaintext bytes buffered behind STARTTLS answers
// XSMTPKITINJECT inside TLS; after the handshake this client sends NOOP,
// so the first reply inside TLS tells: 250 for NOOP means the injected
// command was discarded, anything else means the server executed it.
func (o *Options) second(ctx context.Context, cache tls.ClientSessionCache) (resumption, injection string) {
	conn, err := o.dial(ctx)
	if err != nil {
		return "not tested: " + oneLine(err.Error()), "not tested: " + oneLine(err.Error())
	}
	defer conn.Close()
	deadline := time.Now().Add(o.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	cfg := o.tlsConfig(cache)
	if o.Implicit {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return "not tested: " + oneLine(err.Error()), ""
		}
		return yesNo(tc.ConnectionState().DidResume), ""
	}
	c := smtp.NewClient(conn, smtp.ClientOptions{Timeouts: smtp.Uniform(o.Timeout), Now: o.Now})
	if _, err := c.Greeting(); err != nil {
		return "not tested: " + oneLine(err.Error()), "not tested: " + oneLine(err.Error())
	}
	if _, err := c.Hello(o.EHLO); err != nil {
		return "not tested: " + oneLine(err.Error()), "not tested: " + oneLine(err.Error())
	}
	if !c.Extensions().Has("STARTTLS") {
		return "not tested: no STARTTLS", "not tested: no STARTTLS"
	}
	// From here on the client is bypassed: the raw connection is used.
	br := newLineReader(conn)
	if _, err := conn.Write([]byte("STARTTLS\r\n" + injectedCommand + "\r\n")); err != nil {
		return "not tested: " + oneLine(err.Error()), "not tested: " + oneLine(err.Error())
	}
	code, err := br.reply()
	if err != nil || code != 220 {
		why := fmt.Sprintf("STARTTLS answered %d", code)
		if err != nil {
			why = oneLine(err.Error())
		}
		return "not tested: " + why, "not tested: " + why
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		// The server read the injected bytes as the start of the
		// handshake: it does not keep plaintext behind STARTTLS.
		return "not tested: " + oneLine(err.Error()), "not vulnerable (the handshake failed on the injected bytes)"
	}
	resumption = yesNo(tc.ConnectionState().DidResume)
	if _, err := tc.Write([]byte("NOOP\r\n")); err != nil {
		return resumption, "not tested: " + oneLine(err.Error())
	}
	tr := newLineReader(tc)
	code, err = tr.reply()
	switch {
	case err != nil:
		injection = "not tested: " + oneLine(err.Error())
	case code == 250:
		injection = "not vulnerable"
	default:
		injection = fmt.Sprintf("vulnerable (the injected command got %d inside TLS)", code)
	}
	_, _ = tc.Write([]byte("QUIT\r\n"))
	return resumption, injection
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// lineReader reads SMTP replies from a connection byte-bounded, without
// the client's injection guard (which this test must get around).
type lineReader struct {
	c   interface{ Read([]byte) (int, error) }
	buf []byte
}

func newLineReader(c interface{ Read([]byte) (int, error) }) *lineReader {
	return &lineReader{c: c}
}

// line returns the next line without its CRLF; lines are capped at 4 KiB.
func (l *lineReader) line() (string, error) {
	for {
		if i := strings.IndexByte(string(l.buf), '\n'); i >= 0 {
			s := strings.TrimRight(string(l.buf[:i]), "\r")
			l.buf = l.buf[i+1:]
			return s, nil
		}
		if len(l.buf) > 4096 {
			return "", fmt.Errorf("reply line longer than 4096 bytes")
		}
		// One byte at a time: nothing behind the reply may be consumed,
		// since the TLS handshake follows on the same connection.
		var b [1]byte
		n, err := l.c.Read(b[:])
		if n > 0 {
			l.buf = append(l.buf, b[0])
		}
		if err != nil {
			return "", err
		}
	}
}

// reply reads one (possibly multi-line) reply and returns its code.
func (l *lineReader) reply() (int, error) {
	for range 100 {
		s, err := l.line()
		if err != nil {
			return 0, err
		}
		if len(s) < 3 {
			return 0, fmt.Errorf("malformed reply %q", s)
		}
		var code int
		if _, err := fmt.Sscanf(s[:3], "%d", &code); err != nil {
			return 0, fmt.Errorf("malformed reply %q", s)
		}
		if len(s) == 3 || s[3] != '-' {
			return code, nil
		}
	}
	return 0, fmt.Errorf("reply longer than 100 lines")
}
