package smtp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// testTimeouts keep a broken exchange from hanging a test; they are far
// above anything a passing test needs.
var testTimeouts = Uniform(5 * time.Second)

// scripted starts script on the server end of a net.Pipe and returns a
// client on the other end.
func scripted(t *testing.T, script smtptest.Script, opts ClientOptions) (*Client, *smtptest.Run) {
	t.Helper()
	conn, run := script.Pipe(t)
	if opts.Timeouts == (Timeouts{}) {
		opts.Timeouts = testTimeouts
	}
	return NewClient(conn, opts), run
}

// greet is the usual opening of a scripted server.
var greetStep = smtptest.Send("220 mx.example.org ESMTP ready")

// ehloReply answers EHLO with the given extension lines.
func ehloReply(ext ...string) smtptest.Step {
	lines := []string{"250-mx.example.org greets client.example"}
	for _, e := range ext {
		lines = append(lines, "250-"+e)
	}
	lines[len(lines)-1] = "250 " + lines[len(lines)-1][4:]
	return smtptest.Send(lines...)
}

// bye is a scripted QUIT exchange and the client closing.
var quitSteps = []smtptest.Step{smtptest.Expect("QUIT"), smtptest.Send("221 2.0.0 Bye"), smtptest.ExpectClose()}

func joinSteps(groups ...any) smtptest.Script {
	var s smtptest.Script
	for _, g := range groups {
		switch v := g.(type) {
		case smtptest.Step:
			s = append(s, v)
		case []smtptest.Step:
			s = append(s, v...)
		case smtptest.Script:
			s = append(s, v...)
		default:
			panic("steps: unexpected type")
		}
	}
	return s
}

// hello reads the greeting and says EHLO; it fails the test on error.
func clientHello(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Greeting(); err != nil {
		t.Fatalf("Greeting: %v", err)
	}
	if _, err := c.Hello("client.example"); err != nil {
		t.Fatalf("Hello: %v", err)
	}
}

func clientQuit(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

// crlf turns "\n" into "\r\n" for readable expected bytes.
func withCRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// wantErr checks that err is (or wraps) a value of type T and returns it.
func wantErr[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	return target
}

// undot reverses dot-stuffing of a DATA payload (without the final ".").
func undotStuff(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}

// normalize is the reference for what the body writer must produce before
// dot-stuffing: every CRLF, CR or LF becomes CRLF and a last line without
// an ending gets one.
func normalizeCRLF(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, in[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}
