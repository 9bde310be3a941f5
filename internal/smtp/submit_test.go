package smtp

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

const submitBody = "From: alice@example.org\nTo: bob@example.org\nSubject: test\n\nHello.\n.leading dot\n"

func testMessage(body string) *Message {
	size, _ := NormalizedSize(strings.NewReader(body))
	return &Message{
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil },
		Size:     size,
		EightBit: !isASCII(body),
	}
}

func recipientsOf(addrs ...string) []Recipient {
	var out []Recipient
	for _, a := range addrs {
		out = append(out, Recipient{Addr: a})
	}
	return out
}

// submitOpts is a STARTTLS session with verified TLS to srv, sending
// testBody from alice to bob.
func submitOpts(srv *smtptest.Server) SubmitOptions {
	return SubmitOptions{
		Addr: srv.Addr(), Host: "localhost", TLS: TLSStartTLS, TLSConfig: srv.ClientTLS(), Helo: "client.example",
		From: "alice@example.org", Rcpts: recipientsOf("bob@example.org"), Message: testMessage(submitBody),
		Client: ClientOptions{Timeouts: testTimeouts},
	}
}

// sentLines returns the command lines the trace shows the client sending.
func sentLines(tr *Transcript) []string {
	var out []string
	for _, ev := range tr.Events {
		if ev.Kind == EventSend {
			out = append(out, ev.Line)
		}
	}
	return out
}

func TestSubmitStartTLSAuthPipelined(t *testing.T) {
	for _, mech := range []string{"auto", "PLAIN", "LOGIN", "CRAM-MD5"} {
		for _, chunking := range []string{"off", "on"} {
			t.Run(mech+"/chunking-"+chunking, func(t *testing.T) {
				srv := smtptest.NewServer(t, smtptest.ServerOptions{AuthNeedsTLS: true, RequireAuth: true})
				var tr Transcript
				o := submitOpts(srv)
				o.AuthMech, o.Credentials = mech, Credentials{User: "user", Password: "secret"}
				o.Rcpts = recipientsOf("bob@example.org", "carol@example.org")
				o.MailOpts = MailOptions{Ret: "HDRS", EnvID: "env-1"}
				o.Rcpts[1].Opts = &RcptOptions{Notify: []string{"FAILURE", "DELAY"}}
				o.Chunking = chunking
				o.Client.Trace = tr.Add
				res, err := Submit(context.Background(), o)
				if err != nil {
					t.Fatalf("Submit: %v\nresult: %+v", err, res)
				}
				wantMech := mech
				if mech == "auto" {
					wantMech = "CRAM-MD5"
				}
				if res.TLS == nil || !res.TLS.Verified || res.TLS.Mode != "starttls" {
					t.Errorf("TLS = %+v", res.TLS)
				}
				if res.Auth == nil || !res.Auth.OK || res.Auth.Mechanism != wantMech || res.Auth.User != "user" {
					t.Errorf("Auth = %+v", res.Auth)
				}
				if !res.Pipelined || res.Chunked != (chunking == "on") || res.QueueID != "Q1" || len(res.Recipients) != 2 {
					t.Errorf("pipelined %v, chunked %v, queue id %q, recipients %+v", res.Pipelined, res.Chunked, res.QueueID, res.Recipients)
				}
				if res.Octets != o.Message.Size || res.StoppedAfter != "" || res.Error != "" {
					t.Errorf("octets %d (size %d), stopped %q, error %q", res.Octets, o.Message.Size, res.StoppedAfter, res.Error)
				}
				if !reflect.DeepEqual(res.Extensions[len(res.Extensions)-1], "REQUIRETLS") || !strings.Contains(strings.Join(res.Extensions, " "), "AUTH PLAIN") {
					t.Errorf("extensions after STARTTLS = %q", res.Extensions)
				}
				msgs := srv.Messages()
				if len(msgs) != 1 {
					t.Fatalf("server has %d messages", len(msgs))
				}
				m := msgs[0]
				if string(m.Data) != string(normalizeCRLF([]byte(submitBody))) || !m.TLS || m.AuthUser != "user" || m.Chunked != (chunking == "on") {
					t.Errorf("message = %+v", m)
				}
				if !reflect.DeepEqual(m.Rcpts, []string{"bob@example.org", "carol@example.org"}) ||
					!reflect.DeepEqual(m.MailParams, []string{"SIZE=" + formatInt(o.Message.Size), "RET=HDRS", "ENVID=env-1"}) ||
					!reflect.DeepEqual(m.RcptParams[1], []string{"NOTIFY=FAILURE,DELAY"}) {
					t.Errorf("envelope = %q %q %q", m.Rcpts, m.MailParams, m.RcptParams)
				}
				for _, ev := range tr.Events {
					if strings.Contains(ev.Line, "secret") || strings.Contains(ev.Line, base64Of("\x00user\x00secret")) || strings.Contains(ev.Line, base64Of("secret")) {
						t.Errorf("the password leaked into the trace: %+v", ev)
					}
				}
				if sent := sentLines(&tr); sent[len(sent)-1] != "QUIT" {
					t.Errorf("last line sent %q", sent[len(sent)-1])
				}
			})
		}
	}
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestSubmitRecipientOutcomes(t *testing.T) {
	reject := map[string]string{
		"nobody@example.org": "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
		"later@example.org":  "450 4.2.0 <later@example.org>: try later",
	}
	for _, pipe := range []string{"on", "off"} {
		t.Run("some refused/pipelining-"+pipe, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.ServerOptions{RejectRcpt: reject})
			o := submitOpts(srv)
			o.Pipelining = pipe
			o.Rcpts = recipientsOf("bob@example.org", "nobody@example.org", "later@example.org", "carol@example.org")
			res, err := Submit(context.Background(), o)
			if err != nil {
				t.Fatalf("Submit: %v (refused recipients among accepted ones are not an error)", err)
			}
			var got []string
			for _, r := range res.Recipients {
				got = append(got, r.Addr+" "+r.Reply.String()+" "+map[bool]string{true: "accepted", false: "refused"}[r.Accepted])
			}
			want := []string{
				"bob@example.org 250 2.1.5 Ok accepted",
				"nobody@example.org 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown refused",
				"later@example.org 450 4.2.0 <later@example.org>: try later refused",
				"carol@example.org 250 2.1.5 Ok accepted",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("recipients:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if msgs := srv.Messages(); len(msgs) != 1 || !reflect.DeepEqual(msgs[0].Rcpts, []string{"bob@example.org", "carol@example.org"}) {
				t.Errorf("messages = %+v", msgs)
			}
		})
		t.Run("all refused/pipelining-"+pipe, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.ServerOptions{RejectRcpt: reject})
			var tr Transcript
			o := submitOpts(srv)
			o.Pipelining = pipe
			o.Rcpts = recipientsOf("nobody@example.org", "later@example.org")
			o.Client.Trace = tr.Add
			res, err := Submit(context.Background(), o)
			if !errors.Is(err, ErrNoRecipients) {
				t.Fatalf("error = %v, want ErrNoRecipients", err)
			}
			if len(res.Recipients) != 2 || res.Recipients[0].Accepted || res.Recipients[1].Accepted || res.Error == "" {
				t.Errorf("result = %+v", res)
			}
			if len(srv.Messages()) != 0 {
				t.Error("a message was delivered")
			}
			if sent := sentLines(&tr); sent[len(sent)-1] != "QUIT" {
				t.Errorf("the session ended with %q, want a polite QUIT", sent[len(sent)-1])
			}
		})
	}
}

func TestSubmitFailures(t *testing.T) {
	tests := []struct {
		name  string
		srv   smtptest.ServerOptions
		opts  func(o *SubmitOptions)
		check func(t *testing.T, res *SubmitResult, err error)
	}{
		{
			name: "421 at MAIL pipelined", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtMail, Action: smtptest.Reply421}},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if se := wantErr[*Error](t, err); !se.Temporary() || se.Reply.Code != 421 || !strings.HasPrefix(se.Command, "MAIL FROM") {
					t.Errorf("error = %v", se)
				}
				if res.Mail == nil || res.Mail.Code != 421 {
					t.Errorf("mail reply = %v", res.Mail)
				}
			},
		},
		{
			name: "421 at MAIL", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtMail, Action: smtptest.Reply421}},
			opts: func(o *SubmitOptions) { o.Pipelining = "off" },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if se := wantErr[*Error](t, err); !se.Temporary() {
					t.Errorf("error = %v", se)
				}
			},
		},
		{
			name: "421 at RCPT", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtRcpt, Action: smtptest.Reply421}},
			opts: func(o *SubmitOptions) { o.Pipelining = "off"; o.Rcpts = recipientsOf("a@example.org", "b@example.org") },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if se := wantErr[*Error](t, err); !se.Temporary() || !strings.HasPrefix(se.Command, "RCPT TO:<a@") {
					t.Errorf("error = %v", se)
				}
			},
		},
		{
			name: "MAIL refused", srv: smtptest.ServerOptions{RejectMail: "553 5.7.1 <alice@example.org>: Sender address rejected"},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if se := wantErr[*Error](t, err); !se.Permanent() || !se.Policy() {
					t.Errorf("error = %v", se)
				}
			},
		},
		{
			name: "garbage greeting", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtGreeting, Action: smtptest.Garbage}},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if pe := wantErr[*ProtocolError](t, err); pe.Command != "" || !strings.Contains(pe.Error(), "this is not an SMTP reply") {
					t.Errorf("error = %v", pe)
				}
			},
		},
		{
			name: "garbage after EHLO", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtHello, Action: smtptest.Garbage, Text: "HTTP/1.1 400 Bad Request"}},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if pe := wantErr[*ProtocolError](t, err); pe.Command != "EHLO client.example" {
					t.Errorf("error = %v", pe)
				}
			},
		},
		{
			name: "greeting never comes", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtGreeting, Action: smtptest.NoAnswer}},
			opts: func(o *SubmitOptions) { o.Client.Timeouts = Uniform(100 * time.Millisecond) },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ne := wantErr[*NetError](t, err); ne.Error() != "greeting: timed out" {
					t.Errorf("error = %v", ne)
				}
			},
		},
		{
			name: "drop after the content", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtDot, Action: smtptest.Drop}},
			opts: func(o *SubmitOptions) { o.Chunking = "off" },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ne := wantErr[*NetError](t, err); ne.Error() != "DATA: connection closed by server" {
					t.Errorf("error = %q", ne)
				}
			},
		},
		{
			name: "garbage after the content", srv: smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtDot, Action: smtptest.Garbage}},
			opts: func(o *SubmitOptions) { o.Chunking = "off" },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if pe := wantErr[*ProtocolError](t, err); pe.Command != "DATA" {
					t.Errorf("error = %q", pe)
				}
			},
		},
		{
			name: "STARTTLS reply injection", srv: smtptest.ServerOptions{Inject: "250 injected\r\n"},
			check: func(t *testing.T, res *SubmitResult, err error) { wantErr[*InjectionError](t, err) },
		},
		{
			name: "SIZE exceeded", srv: smtptest.ServerOptions{Size: 50},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ce := wantErr[*CapabilityError](t, err); !strings.Contains(ce.Error(), "at most 50") {
					t.Errorf("error = %v", ce)
				}
				if res.Mail != nil {
					t.Error("MAIL was sent")
				}
			},
		},
		{
			name: "8-bit message without 8BITMIME", srv: smtptest.ServerOptions{Without: []string{"8BITMIME"}},
			opts: func(o *SubmitOptions) { o.Message = testMessage("Subject: caf\u00e9\n\n\u00e9t\u00e9\n") },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ce := wantErr[*CapabilityError](t, err); !strings.Contains(ce.Error(), "8BITMIME") || res.Mail != nil {
					t.Errorf("error = %v, mail %v", ce, res.Mail)
				}
			},
		},
		{
			name: "UTF-8 address without SMTPUTF8", srv: smtptest.ServerOptions{Without: []string{"SMTPUTF8"}},
			opts: func(o *SubmitOptions) { o.Rcpts = recipientsOf("j\u00f6rg@example.org") },
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ce := wantErr[*CapabilityError](t, err); !strings.Contains(ce.Error(), "SMTPUTF8") {
					t.Errorf("error = %v", ce)
				}
			},
		},
		{
			name: "STARTTLS required but not offered", srv: smtptest.ServerOptions{NoStartTLS: true},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ce := wantErr[*CapabilityError](t, err); !strings.Contains(ce.Error(), "STARTTLS") || res.TLS != nil {
					t.Errorf("error = %v", ce)
				}
			},
		},
		{
			name: "AUTH without TLS refused", srv: smtptest.ServerOptions{},
			opts: func(o *SubmitOptions) {
				o.TLS, o.AuthMech, o.Credentials = TLSNone, "PLAIN", Credentials{User: "user", Password: "secret"}
			},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if ce := wantErr[*CapabilityError](t, err); !strings.Contains(ce.Error(), "without TLS") || res.Auth != nil {
					t.Errorf("error = %v, auth %+v", ce, res.Auth)
				}
			},
		},
		{
			name: "wrong password", srv: smtptest.ServerOptions{},
			opts: func(o *SubmitOptions) {
				o.AuthMech, o.Credentials = "PLAIN", Credentials{User: "user", Password: "wrong"}
			},
			check: func(t *testing.T, res *SubmitResult, err error) {
				if se := wantErr[*Error](t, err); !se.Policy() || res.Auth == nil || res.Auth.OK {
					t.Errorf("error = %v, auth %+v", se, res.Auth)
				}
			},
		},
		{
			name: "AUTH not offered", srv: smtptest.ServerOptions{NoAuth: true},
			opts: func(o *SubmitOptions) {
				o.AuthMech, o.Credentials = "auto", Credentials{User: "user", Password: "secret"}
			},
			check: func(t *testing.T, res *SubmitResult, err error) { wantErr[*CapabilityError](t, err) },
		},
	}
	// The content can break off at every stage of the transfer.
	for _, pipe := range []string{"on", "off"} {
		for _, chunk := range []string{"on", "off"} {
			tests = append(tests, struct {
				name  string
				srv   smtptest.ServerOptions
				opts  func(o *SubmitOptions)
				check func(t *testing.T, res *SubmitResult, err error)
			}{
				name: "drop mid-DATA/pipelining-" + pipe + "/chunking-" + chunk,
				srv:  smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtBody, Action: smtptest.Drop}},
				opts: func(o *SubmitOptions) {
					o.Pipelining, o.Chunking = pipe, chunk
					o.Message = testMessage(strings.Repeat("a line of the body that goes on\n", 20000))
				},
				check: func(t *testing.T, res *SubmitResult, err error) {
					ne := wantErr[*NetError](t, err)
					if want := map[string]string{"on": "BDAT", "off": "DATA"}[chunk]; ne.Stage != want {
						t.Errorf("stage %q: %v", ne.Stage, ne)
					}
				},
			})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, tt.srv)
			o := submitOpts(srv)
			if tt.opts != nil {
				tt.opts(&o)
			}
			res, err := Submit(context.Background(), o)
			if err == nil {
				t.Fatalf("Submit succeeded: %+v", res)
			}
			if res.Error != err.Error() {
				t.Errorf("result error %q, returned %q", res.Error, err)
			}
			tt.check(t, res, err)
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server accepted %d messages", n)
			}
		})
	}
}

func TestSubmitPlaintextAuthAllowed(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	o := submitOpts(srv)
	o.TLS, o.AuthMech, o.AllowPlaintextAuth = TLSNone, "LOGIN", true
	o.Credentials = Credentials{User: "user", Password: "secret"}
	res, err := Submit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS != nil || !res.Auth.OK || srv.Messages()[0].TLS {
		t.Errorf("TLS %+v, auth %+v", res.TLS, res.Auth)
	}
}

func TestSubmitQuitAfter(t *testing.T) {
	for _, point := range QuitAfterPoints {
		t.Run(point, func(t *testing.T) {
			srv := smtptest.NewServer(t, smtptest.ServerOptions{})
			var tr Transcript
			o := submitOpts(srv)
			o.QuitAfter = point
			o.AuthMech, o.Credentials = "PLAIN", Credentials{User: "user", Password: "secret"}
			o.Client.Trace = tr.Add
			res, err := Submit(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.StoppedAfter != point {
				t.Errorf("StoppedAfter = %q", res.StoppedAfter)
			}
			sent := sentLines(&tr)
			last := ""
			if len(sent) > 0 {
				last = sent[len(sent)-1]
			}
			want := map[string]string{
				"connect": "", "banner": "QUIT", "ehlo": "QUIT", "starttls": "QUIT", "auth": "QUIT",
				"mail": "QUIT", "rcpt": "QUIT", "data": "DATA",
			}[point]
			if last != want {
				t.Errorf("last line sent %q, want %q (all: %q)", last, want, sent)
			}
			checks := map[string]bool{
				"banner": res.Banner != nil, "ehlo": res.Hello != nil, "starttls": res.TLS != nil,
				"auth": res.Auth != nil && res.Auth.OK, "mail": res.Mail != nil, "rcpt": len(res.Recipients) == 1, "data": res.Data != nil,
			}
			for i, p := range QuitAfterPoints[1:] {
				reached := i+1 <= indexOfString(QuitAfterPoints, point)
				if checks[p] != reached {
					t.Errorf("stage %s: result filled %v, want %v", p, checks[p], reached)
				}
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server accepted %d messages", n)
			}
		})
	}
}

func indexOfString(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestSubmitLMTP(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	o := submitOpts(srv)
	o.Protocol, o.TLS = "lmtp", TLSNone
	o.Rcpts = recipientsOf("a@example.org", "b@example.org")
	var tr Transcript
	o.Client.Trace = tr.Add
	res, err := Submit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sent := sentLines(&tr); sent[0] != "LHLO client.example" {
		t.Errorf("first command %q", sent[0])
	}
	for _, r := range res.Recipients {
		if r.Data == nil || r.Data.Code != 250 {
			t.Errorf("recipient %s data reply %v", r.Addr, r.Data)
		}
	}
}

func TestSubmitCommandsAndUTF8(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	o := submitOpts(srv)
	o.Commands = []string{"NOOP", "VRFY postmaster"}
	o.From = "j\u00f6rg@example.org"
	o.Message = testMessage("Subject: \u00e9t\u00e9\n\nbody\n")
	res, err := Submit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commands) != 2 || res.Commands[0].Reply.Code != 250 || res.Commands[1].Reply.Code != 252 {
		t.Errorf("commands = %+v", res.Commands)
	}
	m := srv.Messages()[0]
	if m.From != o.From || !reflect.DeepEqual(m.MailParams, []string{"SIZE=" + formatInt(o.Message.Size), "BODY=8BITMIME", "SMTPUTF8"}) {
		t.Errorf("envelope from %q params %q", m.From, m.MailParams)
	}
}

// TestSubmitOpportunisticRefused: in opportunistic mode a refused STARTTLS
// leaves the session in clear instead of failing it.
func TestSubmitOpportunisticRefused(t *testing.T) {
	addr, run := joinSteps(
		greetStep, smtptest.Expect("EHLO client.example"), ehloReply("STARTTLS", "PIPELINING"),
		smtptest.Expect("STARTTLS"), smtptest.Send("454 4.7.0 TLS not available due to local problem"),
		quitSteps,
	).Listen(t)
	res, err := Submit(context.Background(), SubmitOptions{Addr: addr, TLS: TLSOpportunistic, Helo: "client.example",
		QuitAfter: "starttls", Client: ClientOptions{Timeouts: testTimeouts}})
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS != nil || res.StoppedAfter != "starttls" {
		t.Errorf("TLS %+v, stopped after %q", res.TLS, res.StoppedAfter)
	}
	run.Wait()
}

func TestResolveTLSMode(t *testing.T) {
	tests := []struct {
		m    TLSMode
		port string
		auth bool
		want TLSMode
	}{
		{TLSAuto, "465", false, TLSImplicit},
		{TLSAuto, "587", false, TLSStartTLS},
		{TLSAuto, "25", true, TLSStartTLS},
		{TLSAuto, "25", false, TLSOpportunistic},
		{"", "2525", false, TLSOpportunistic},
		{TLSNone, "465", true, TLSNone},
	}
	for _, tt := range tests {
		if got := ResolveTLSMode(tt.m, tt.port, tt.auth); got != tt.want {
			t.Errorf("ResolveTLSMode(%q, %q, %v) = %q, want %q", tt.m, tt.port, tt.auth, got, tt.want)
		}
	}
}

// TestSubmitFixedClock: a caller's clock stamps every event, dial included,
// and does not disturb the socket deadlines.
func TestSubmitFixedClock(t *testing.T) {
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	srv := smtptest.NewServer(t, smtptest.ServerOptions{})
	var tr Transcript
	o := submitOpts(srv)
	o.TLS, o.Now, o.Client.Trace = TLSNone, func() time.Time { return past }, tr.Add
	res, err := Submit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Timings.Total != 0 {
		t.Errorf("Total = %v with a stopped clock", res.Timings.Total)
	}
	if tr.Events[0].Kind != EventDial {
		t.Errorf("first event %+v", tr.Events[0])
	}
	for _, ev := range tr.Events {
		if !ev.Time.Equal(past) {
			t.Fatalf("event %+v not stamped with the caller's clock", ev)
		}
	}
}
