package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// FuzzParseCommand: ParseCommand and ParsePath never panic, and what they
// accept reads back from the line.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@x> SIZE=10 BODY=8BITMIME", "RCPT TO:<b@x> NOTIFY=SUCCESS ORCPT=rfc822;b+40x",
		"mail from:<\"a>b\"@x>", "RCPT TO:<@r1,@r2:u@x>", "EHLO [::1]", "BDAT 10 LAST", "", " ", "X\x00Y",
		"MAIL FROM:<a\\>@x> ENVID=+2", "RCPT TO:<>", "MAIL FROM:<a@x>junk", "DATA", "AUTH PLAIN =",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseCommand(line)
		if err != nil {
			return
		}
		if cmd.Verb == "" || len(cmd.Verb) > 16 || strings.Trim(cmd.Verb, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Fatalf("verb %q from %q", cmd.Verb, line)
		}
		if !strings.EqualFold(line[:len(cmd.Verb)], cmd.Verb) {
			t.Fatalf("verb %q is not the start of %q", cmd.Verb, line)
		}
		if rest := line[len(cmd.Verb):]; rest != "" && rest != " "+cmd.Arg || rest == "" && cmd.Arg != "" {
			t.Fatalf("arg %q does not follow the verb in %q", cmd.Arg, line)
		}
		for _, prefix := range []string{"FROM", "TO"} {
			p, err := ParsePath(cmd.Arg, prefix)
			if err != nil {
				continue
			}
			if hasControl(p.Addr) || strings.ContainsAny(p.Addr, "\r\n") || !strings.Contains(cmd.Arg, p.Addr) {
				t.Fatalf("address %q from %q", p.Addr, cmd.Arg)
			}
			if len(p.Order) != len(p.Params) {
				t.Fatalf("params %q, order %q", p.Params, p.Order)
			}
			for _, k := range p.Order {
				if k == "" || k != strings.ToUpper(k) || strings.ContainsAny(k, " =") {
					t.Fatalf("parameter name %q from %q", k, cmd.Arg)
				}
				_, _ = DecodeXText(p.Params[k])
			}
		}
	})
}

// dotStuff encodes content for DATA (RFC 5321 4.5.2) with the end of data.
func dotStuff(content []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(content, []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, line...)
	}
	return append(out, ".\r\n"...)
}

// firstEnd is the offset just past the first CRLF "." CRLF of data, the
// CRLF that ended the DATA command counting, or -1.
func firstEnd(data []byte) int {
	i := bytes.Index(append([]byte("\r\n"), data...), []byte("\r\n.\r\n"))
	if i < 0 {
		return -1
	}
	return i + 3
}

// FuzzDataReader feeds arbitrary octets after DATA. The reader never
// panics, never reads past the first CRLF.CRLF, and ends there or reports
// why not; what it delivers has no bare CR or LF and dot-stuffs back into
// a stream that reads the same (one message per DATA, whatever the input).
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{
		"hello\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "a\n.\nb\r\n.\r\n", "a\r\n.\n\r\nMAIL FROM:<e@x>\r\n.\r\n",
		"a\r\n\n.\r\nx\r\n.\r\n", "a\rX\n.\r\nb\r\n.\r\n", "a\r\n.\rX\nc\r\n.\r\n", "\r.\r\n.\r\n",
		strings.Repeat("x", 999) + "\r\n.\r\n", strings.Repeat("x", 1000) + "\r\n.\r\n", "no end",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		maxLine, maxSize := 1000, int64(1<<16)
		if small {
			maxLine, maxSize = 12, 40
		}
		src := bytes.NewReader(data)
		br := bufio.NewReaderSize(src, 16)
		consumed := func() int { return len(data) - src.Len() - br.Buffered() }
		end := firstEnd(data)
		dr := newDataReader(br, maxLine, maxSize)
		got, err := io.ReadAll(dr)
		if end >= 0 && consumed() > end {
			t.Fatalf("read %d octets, past the end of data at %d", consumed(), end)
		}
		switch {
		case err == nil:
			if consumed() != end {
				t.Fatalf("ended at %d, the first CRLF.CRLF ends at %d", consumed(), end)
			}
			if hasBareLineEnding(got) || len(got) > 0 && !bytes.HasSuffix(got, []byte("\r\n")) {
				t.Fatalf("delivered %q", got)
			}
			if int64(len(got)) > maxSize {
				t.Fatalf("delivered %d octets over the %d limit", len(got), maxSize)
			}
			enc := dotStuff(got)
			again, err := io.ReadAll(newDataReader(bufio.NewReader(bytes.NewReader(enc)), 0, 0))
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("re-stuffed %q reads back as %q, %v", enc, again, err)
			}
		case isContentErr(err):
			derr := dr.drain()
			if end < 0 {
				if derr == nil {
					t.Fatalf("drain found an end in %q", data)
				}
				return
			}
			if derr != nil || consumed() != end {
				t.Fatalf("drain: %v, stopped at %d, the first CRLF.CRLF ends at %d", derr, consumed(), end)
			}
		default:
			if !errors.Is(err, io.ErrUnexpectedEOF) || end >= 0 {
				t.Fatalf("error %v with the end at %d", err, end)
			}
		}
	})
}

var (
	fuzzCertsOnce sync.Once
	fuzzCerts     *smtptest.Certs
)

// tlsReady is the server's reply to STARTTLS: after it only TLS may follow.
const tlsReady = "220 2.0.0 Ready to start TLS"

// fuzzSession runs one full session on net.Pipe with the client's bytes
// data (smtptest.PipeSession: the session must end once the input has,
// and write no more than its bound), and checks what came out: every reply
// is well formed, no message holds a bare CR or LF, every stored message
// was answered 250, nothing is left running in the backend, and nothing
// sent in clear after STARTTLS reaches the backend (a fuzzer cannot
// complete a TLS handshake, so after the 220 the backend must hear no
// more MAIL: CVE-2011-0411). mode bits: 1 LMTP, 2 NoPipelining, 4
// NoChunking. It returns the replies and the backend.
func fuzzSession(t *testing.T, mode uint8, data []byte) ([]byte, *recBackend) {
	fuzzCertsOnce.Do(func() { fuzzCerts = smtptest.Cert(t) })
	lmtp := mode&1 != 0
	be := &recBackend{lmtp: lmtp, lmtpFail: "full@x"}
	sess := &smtptest.PipeSession{}
	var afterTLS atomic.Bool
	be.onMail = func() {
		if sess.Wrote(tlsReady) {
			afterTLS.Store(true)
		}
	}
	srv := NewServer(ServerOptions{
		Hostname: "mx.test", Backend: be, TLS: fuzzCerts.Server, Auth: aliceAuth, AllowPlaintextAuth: true,
		NoPipelining: mode&2 != 0, NoChunking: mode&4 != 0,
		Limits: Limits{MessageSize: 4096, Recipients: 5, Errors: 50, NoProgress: 50, AuthDelay: time.Nanosecond,
			CommandTimeout: hangGuard, DataTimeout: hangGuard},
	})
	replies := sess.Run(t, func(ln net.Listener) error { return srv.Serve(ln, ListenerOptions{LMTP: lmtp}) }, srv.Close, data)

	queued := 0
	for rest := replies; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("unterminated reply line %q", rest)
		}
		line := string(rest[:i])
		rest = rest[i+2:]
		if len(line) < 3 || strings.Trim(line[:3], "0123456789") != "" || line[0] < '2' || line[0] > '5' ||
			len(line) > 3 && line[3] != ' ' && line[3] != '-' || strings.ContainsAny(line, "\r\n") {
			t.Fatalf("malformed reply line %q", line)
		}
		if strings.HasPrefix(line, "250 2.0.0 Ok: queued as") {
			queued++
		}
		if strings.HasPrefix(line, tlsReady) {
			if len(rest) > 0 && (rest[0] < 0x14 || rest[0] > 0x17) {
				t.Fatalf("%q after %q is not a TLS record", rest, line)
			}
			break // the rest is TLS
		}
	}
	if afterTLS.Load() {
		t.Fatalf("the backend saw MAIL after %q: plaintext sent behind STARTTLS was executed", tlsReady)
	}
	if n := be.active.Load(); n != 0 {
		t.Fatalf("%d Data calls still running after the session ended", n)
	}
	if n := be.sessions.Load(); n != 0 {
		t.Fatalf("%d sessions not logged out", n)
	}
	msgs := be.messages()
	for _, m := range msgs {
		if hasBareLineEnding(m.Body) || len(m.Body) > 4096 {
			t.Fatalf("delivered %q", m.Body)
		}
	}
	if !lmtp && !bytes.Contains(replies, []byte(tlsReady)) && queued != len(msgs) {
		t.Fatalf("%d messages stored, %d answered 250", len(msgs), queued)
	}
	return replies, be
}

// FuzzServerSession feeds arbitrary client bytes to a full session.
func FuzzServerSession(f *testing.F) {
	open := "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
	for _, s := range []string{
		open + "DATA\r\nhello\r\n.\r\nQUIT\r\n",
		open + "DATA\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\n\r\n.\r\n",
		open + "BDAT 6\r\nhello\rBDAT 1 LAST\r\n\n",
		open + "BDAT 5\r\nhelloQUIT\r\n",
		"EHLO c\r\nSTARTTLS\r\nEHLO evil\r\n",
		"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@x>\r\n",
		"EHLO c\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(1), []byte("LHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<full@x>\r\nDATA\r\nx\r\n.\r\n"))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		_, _ = fuzzSession(t, mode, data)
	})
}
