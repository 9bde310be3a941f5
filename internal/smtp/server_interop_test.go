package smtp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// crlfBody is what the client puts on the wire before dot-stuffing: every
// line ending becomes CRLF and a last line without one gets one.
func crlfBody(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, s[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// tricky bodies: dot transparency, emptiness, no final newline, 8-bit.
var trickyBodies = []struct {
	name, body string
	eightBit   bool
}{
	{"leading dots", ".\r\n..\r\n.hidden\r\n...three\r\nend\r\n.", false},
	{"empty", "", false},
	{"no trailing newline", "Subject: x\r\n\r\nno newline at the end", false},
	{"LF only", "Subject: x\n\nline\n.\nlast\n", false},
	{"8-bit", "Subject: Gr\xc3\xbc\xc3\x9fe\r\n\r\n\xe2\x82\xac 100 \xff\xfe\r\n", true},
	{"blank lines", "\r\n\r\n\r\n", false},
	{"long line", strings.Repeat("L", 998) + "\r\n" + "." + strings.Repeat("D", 997) + "\r\n", false}, // 1001 octets on the DATA wire with the stuffing dot
}

// TestServerInteropSubmit sends tricky messages with our own client
// (Submit) over DATA and BDAT, pipelined and not, and over LMTP: the
// backend gets exactly the bytes the client meant.
func TestServerInteropSubmit(t *testing.T) {
	type mode struct {
		name               string
		lo                 ListenerOptions
		protocol           string
		chunking, pipeline string
	}
	modes := []mode{
		{"DATA", ListenerOptions{}, "", "off", "off"},
		{"DATA pipelined", ListenerOptions{}, "", "off", "on"},
		{"BDAT", ListenerOptions{}, "", "on", "off"},
		{"BDAT pipelined", ListenerOptions{}, "", "on", "on"},
		{"LMTP", ListenerOptions{LMTP: true}, "lmtp", "auto", "auto"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			be := &recBackend{lmtp: m.lo.LMTP, lmtpFail: "full@x"}
			_, addr := startServer(t, ServerOptions{Backend: be}, m.lo)
			for i, tb := range trickyBodies {
				want := crlfBody(tb.body)
				body := tb.body
				rcpts := []Recipient{{Addr: "b@x"}, {Addr: "bad@x"}}
				if m.lo.LMTP {
					rcpts = append(rcpts, Recipient{Addr: "full@x"})
				}
				res, err := Submit(context.Background(), SubmitOptions{
					Addr: addr, Host: "127.0.0.1", TLS: TLSNone, Helo: "client.test", Protocol: m.protocol,
					From: fmt.Sprintf("a%d@x", i), Rcpts: rcpts, Chunking: m.chunking, Pipelining: m.pipeline,
					Message: &Message{Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil },
						Size: int64(len(want)), EightBit: tb.eightBit},
				})
				if err != nil {
					t.Fatalf("%s: Submit: %v", tb.name, err)
				}
				if res.Data == nil || res.Data.Code/100 != 2 && !m.lo.LMTP {
					t.Fatalf("%s: data reply %+v", tb.name, res.Data)
				}
				if m.chunking == "on" && !res.Chunked || m.chunking == "off" && res.Chunked {
					t.Fatalf("%s: chunked %v", tb.name, res.Chunked)
				}
				if m.lo.LMTP {
					var codes []int
					for _, r := range res.Recipients {
						if r.Data != nil {
							codes = append(codes, r.Data.Code)
						}
					}
					if fmt.Sprint(codes) != "[250 552]" {
						t.Fatalf("%s: LMTP per-recipient replies %v (%+v)", tb.name, codes, res.Recipients)
					}
				}
				msgs := be.messages()
				if len(msgs) != i+1 {
					t.Fatalf("%s: backend has %d messages, want %d", tb.name, len(msgs), i+1)
				}
				got := msgs[i]
				if !bytes.Equal(got.Body, want) {
					t.Fatalf("%s: body\n got %q\nwant %q", tb.name, got.Body, want)
				}
				if got.From != fmt.Sprintf("a%d@x", i) || got.Rcpts[0] != "b@x" {
					t.Fatalf("%s: envelope %q %q", tb.name, got.From, got.Rcpts)
				}
			}
		})
	}
}

// TestServerInteropTLSAuth: Submit with required STARTTLS and AUTH PLAIN
// against a server that requires both.
func TestServerInteropTLSAuth(t *testing.T) {
	certs := serverCerts(t)
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, TLS: certs.Server, RequireTLS: true, RequireAuth: true, Auth: aliceAuth}, ListenerOptions{})
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		body := "Subject: tls\r\n\r\nsecret\r\n"
		res, err := Submit(context.Background(), SubmitOptions{
			Addr: addr, Host: "127.0.0.1", TLS: TLSStartTLS, TLSConfig: trustCerts(certs), Helo: "client.test",
			AuthMech: mech, Credentials: Credentials{User: "alice", Password: "secret"},
			From: "alice@x", Rcpts: []Recipient{{Addr: "b@x"}}, Chunking: "auto", Pipelining: "auto",
			Message: &Message{Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }, Size: int64(len(body))},
		})
		if err != nil {
			t.Fatalf("%s: Submit: %v", mech, err)
		}
		if res.TLS == nil || res.Auth == nil || !res.Auth.OK {
			t.Fatalf("%s: TLS %+v, AUTH %+v", mech, res.TLS, res.Auth)
		}
	}
	if msgs := be.messages(); len(msgs) != 2 || string(msgs[1].Body) != "Subject: tls\r\n\r\nsecret\r\n" {
		t.Fatalf("delivered %+v", msgs)
	}
}
