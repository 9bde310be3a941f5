package smtp

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func TestGreetingEhloQuit(t *testing.T) {
	var tr Transcript
	c, run := scripted(t, joinSteps(
		greetStep,
		smtptest.Expect("EHLO client.example"),
		ehloReply("PIPELINING", "SIZE 10240000", "STARTTLS", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME"),
		quitSteps,
	), ClientOptions{Trace: tr.Add})
	g, err := c.Greeting()
	if err != nil {
		t.Fatal(err)
	}
	if g.Code != 220 || g.Text() != "mx.example.org ESMTP ready" {
		t.Errorf("greeting = %v", g)
	}
	r, err := c.Hello("client.example")
	if err != nil {
		t.Fatal(err)
	}
	if r.Lines[0] != "mx.example.org greets client.example" || !c.ESMTP() {
		t.Errorf("EHLO reply = %v, ESMTP %v", r, c.ESMTP())
	}
	ext := c.Extensions()
	if !ext.Has("PIPELINING") || !ext.Has("starttls") || ext.Size() != 10240000 ||
		!reflect.DeepEqual(ext.AuthMechanisms(), []string{"PLAIN", "LOGIN"}) {
		t.Errorf("extensions = %q", ext.Lines())
	}
	clientQuit(t, c)
	run.Wait()
	if got, want := string(run.Received()), "EHLO client.example\r\nQUIT\r\n"; got != want {
		t.Errorf("client wrote %q, want %q", got, want)
	}
	smtptest.CompareGolden(t, "client/ehlo-quit.txt", run.Transcript())

	var kinds []string
	for _, ev := range tr.Events {
		kinds = append(kinds, string(ev.Kind))
		if ev.Time.IsZero() {
			t.Errorf("event %v has no time", ev)
		}
	}
	want := "recv send recv recv recv recv recv recv recv send recv closed"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("trace kinds:\n got %s\nwant %s", got, want)
	}
	if c.Close() != nil || tr.Events[len(tr.Events)-1].Kind != EventClosed || len(tr.Events) != 12 {
		t.Errorf("a second Close changed the trace: %d events", len(tr.Events))
	}
}

func TestHelloFallsBackToHELO(t *testing.T) {
	tests := []struct {
		reply    string
		fallback bool
	}{
		{"500 5.5.2 Error: command not recognized", true},
		{"502 5.5.1 Command not implemented", true},
		{"504 5.5.1 not supported", true},
		{"550 not here", true},
		{"421 4.3.2 going away", false},
		{"554 5.7.1 go away", false},
	}
	for _, tt := range tests {
		t.Run(tt.reply[:3], func(t *testing.T) {
			script := joinSteps(greetStep, smtptest.Expect("EHLO client.example"), smtptest.Send(tt.reply))
			if tt.fallback {
				script = joinSteps(script, smtptest.Expect("HELO client.example"), smtptest.Send("250 mx.example.org"), quitSteps)
			} else {
				script = joinSteps(script, smtptest.ExpectClose())
			}
			c, run := scripted(t, script, ClientOptions{})
			if _, err := c.Greeting(); err != nil {
				t.Fatal(err)
			}
			r, err := c.Hello("client.example")
			if !tt.fallback {
				se := wantErr[*Error](t, err)
				if se.Command != "EHLO client.example" || se.Reply.Code/100 != int(tt.reply[0]-'0') {
					t.Fatalf("error = %#v", se)
				}
				c.Close()
				run.Wait()
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != 250 || c.ESMTP() || len(c.Extensions().Lines()) != 0 || c.Extensions().Has("PIPELINING") {
				t.Fatalf("after HELO: reply %v, ESMTP %v, extensions %q", r, c.ESMTP(), c.Extensions().Lines())
			}
			clientQuit(t, c)
			run.Wait()
			if tt.reply[:3] == "502" {
				smtptest.CompareGolden(t, "client/helo-fallback.txt", run.Transcript())
			}
		})
	}
}

func TestHelloPlain(t *testing.T) {
	c, run := scripted(t, joinSteps(greetStep, smtptest.Expect("HELO client.example"), smtptest.Send("250 mx.example.org"), quitSteps), ClientOptions{})
	if _, err := c.Greeting(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HelloPlain("client.example"); err != nil || c.ESMTP() {
		t.Fatalf("HelloPlain: %v, ESMTP %v", err, c.ESMTP())
	}
	clientQuit(t, c)
	run.Wait()
}

func TestGreetingRefused(t *testing.T) {
	c, run := scripted(t, joinSteps(smtptest.Send("554 5.3.2 mx.example.org no service for you"), smtptest.ExpectClose()), ClientOptions{})
	_, err := c.Greeting()
	se := wantErr[*Error](t, err)
	if !se.Permanent() || se.Command != "greeting" || se.Reply.Enhanced != "5.3.2" {
		t.Errorf("error = %#v", se)
	}
	c.Close()
	run.Wait()
}

func TestLMTPPerRecipientReplies(t *testing.T) {
	body := "Subject: lmtp\r\n\r\nhello\r\n"
	script := joinSteps(
		smtptest.Send("220 lmtp.example.org LMTP ready"),
		smtptest.Expect("LHLO client.example"),
		smtptest.Send("250-lmtp.example.org", "250-PIPELINING", "250 ENHANCEDSTATUSCODES"),
		smtptest.Expect("MAIL FROM:<alice@example.org>"), smtptest.Send("250 2.1.0 Ok"),
		smtptest.Expect("RCPT TO:<bob@example.org>"), smtptest.Send("250 2.1.5 Ok"),
		smtptest.Expect("RCPT TO:<nobody@example.org>"), smtptest.Send("550 5.1.1 <nobody@example.org> User doesn't exist"),
		smtptest.Expect("RCPT TO:<carol@example.org>"), smtptest.Send("250 2.1.5 Ok"),
		smtptest.Expect("DATA"), smtptest.Send("354 OK"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 <bob@example.org> Saved as 17", "452 4.2.2 <carol@example.org> Mailbox is full"),
		quitSteps,
	)
	c, run := scripted(t, script, ClientOptions{LMTP: true})
	clientHello(t, c)
	res, err := c.Send(&Transaction{
		From:  "alice@example.org",
		Rcpts: []Recipient{{Addr: "bob@example.org"}, {Addr: "nobody@example.org"}, {Addr: "carol@example.org"}},
		Body:  strings.NewReader(body),
	})
	if err != nil {
		t.Fatalf("Send: %v (one recipient was delivered, so no error)", err)
	}
	if res.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", res.Accepted())
	}
	r := res.Rcpts
	if len(r) != 3 || !r[0].Accepted || r[1].Accepted || !r[2].Accepted {
		t.Fatalf("recipients = %+v", r)
	}
	if r[0].Data == nil || r[0].Data.Code != 250 || r[1].Data != nil || r[2].Data == nil || r[2].Data.Code != 452 {
		t.Fatalf("per-recipient data replies = %v, %v, %v", r[0].Data, r[1].Data, r[2].Data)
	}
	if res.Data == nil || res.Data.Code != 250 {
		t.Errorf("Data = %v, want the first recipient's reply", res.Data)
	}
	clientQuit(t, c)
	run.Wait()
	if got := string(run.Bodies()[0]); got != body {
		t.Errorf("body = %q", got)
	}
	smtptest.CompareGolden(t, "client/lmtp.txt", run.Transcript())
}

func TestLMTPEveryDeliveryFails(t *testing.T) {
	c, run := scripted(t, joinSteps(
		smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 Ok"),
		smtptest.Expect("RCPT TO:<b@example.org>"), smtptest.Send("250 Ok"),
		smtptest.Expect("RCPT TO:<c@example.org>"), smtptest.Send("250 Ok"),
		smtptest.Expect("DATA"), smtptest.Send("354 OK"),
		smtptest.ExpectData(),
		smtptest.Send("452 4.2.2 b full", "550 5.2.1 c disabled"),
	), ClientOptions{LMTP: true})
	res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}, {Addr: "c@example.org"}},
		Body: strings.NewReader("x\n")})
	se := wantErr[*Error](t, err)
	if se.Reply.Code != 452 || !strings.Contains(se.Command, "b@example.org") || res.Accepted() != 0 {
		t.Errorf("error = %v, accepted %d", se, res.Accepted())
	}
	run.Wait()
}

func TestMailRcptCommands(t *testing.T) {
	tests := []struct{ got, want string }{
		{MailCommand("", nil), "MAIL FROM:<>"},
		{MailCommand("a@example.org", &MailOptions{}), "MAIL FROM:<a@example.org>"},
		{MailCommand("a@example.org", &MailOptions{Size: 1234, Body: "8BITMIME", SMTPUTF8: true, RequireTLS: true,
			Ret: "hdrs", EnvID: "id+1=x y\u00e9", Extra: []string{"MT-PRIORITY=3", "HOLDFOR=60"}}),
			"MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS ENVID=id+2B1+3Dx+20y+C3+A9 MT-PRIORITY=3 HOLDFOR=60"},
		{MailCommand("a@example.org", &MailOptions{Body: "BINARYMIME", Ret: "FULL"}), "MAIL FROM:<a@example.org> BODY=BINARYMIME RET=FULL"},
		{RcptCommand("b@example.org", nil), "RCPT TO:<b@example.org>"},
		{RcptCommand("b@example.org", &RcptOptions{Notify: []string{"success", "Failure", "DELAY"}, ORcpt: "b+x@example.org"}),
			"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b+2Bx@example.org"},
		{RcptCommand("b@example.org", &RcptOptions{Notify: []string{"NEVER"}, Extra: []string{"RRVS=2030-01-01T00:00:00Z"}}),
			"RCPT TO:<b@example.org> NOTIFY=NEVER RRVS=2030-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %q\nwant %q", tt.got, tt.want)
		}
	}
}

func TestXText(t *testing.T) {
	tests := map[string]string{
		"":                 "",
		"plain-ID.123":     "plain-ID.123",
		"a+b=c":            "a+2Bb+3Dc",
		"sp ace\ttab":      "sp+20ace+09tab",
		"\x00\x7f~!":       "+00+7F~!",
		"caf\u00e9":        "caf+C3+A9",
		"<id@example.org>": "<id@example.org>",
	}
	for in, want := range tests {
		if got := XText(in); got != want {
			t.Errorf("XText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMailRcptParameters sends every ESMTP parameter the client knows and
// compares the exchange with its golden transcript.
func TestMailRcptParameters(t *testing.T) {
	script := joinSteps(
		smtptest.Expect("MAIL FROM:<j\u00f6rg@example.org> SIZE=20 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS ENVID=QQ+2B314"),
		smtptest.Send("250 2.1.0 Ok"),
		smtptest.Expect("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org"),
		smtptest.Send("250 2.1.5 Ok"),
		smtptest.Expect("RCPT TO:<c@example.org> NOTIFY=NEVER"),
		smtptest.Send("250 2.1.5 Ok"),
		smtptest.Expect("DATA"), smtptest.Send("354 go ahead"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 Ok: queued as 3F1B"),
	)
	c, run := scripted(t, script, ClientOptions{})
	body := "Subject: caf\u00e9\n\nbody\n"
	res, err := c.Send(&Transaction{
		From:     "j\u00f6rg@example.org",
		MailOpts: &MailOptions{Size: 20, Body: "8BITMIME", SMTPUTF8: true, RequireTLS: true, Ret: "HDRS", EnvID: "QQ+314"},
		Rcpts: []Recipient{
			{Addr: "b@example.org", Opts: &RcptOptions{Notify: []string{"SUCCESS", "FAILURE"}, ORcpt: "b@example.org"}},
			{Addr: "c@example.org", Opts: &RcptOptions{Notify: []string{"NEVER"}}},
		},
		Body: strings.NewReader(body),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueID != "3F1B" || res.Octets != int64(len(normalizeCRLF([]byte(body)))) || res.Accepted() != 2 {
		t.Errorf("result = %+v", res)
	}
	run.Wait()
	smtptest.CompareGolden(t, "client/parameters.txt", run.Transcript())
}

// pipelinedSession is the script for TestPipelining: one recipient of
// three is refused.
func pipelinedSession() smtptest.Script {
	return joinSteps(
		greetStep,
		smtptest.Expect("EHLO client.example"),
		ehloReply("PIPELINING", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"),
		smtptest.Expect("MAIL FROM:<alice@example.org> BODY=8BITMIME"),
		smtptest.Expect("RCPT TO:<bob@example.org>"),
		smtptest.Expect("RCPT TO:<nobody@example.org>"),
		smtptest.Expect("RCPT TO:<carol@example.org> NOTIFY=FAILURE"),
		smtptest.Expect("DATA"),
		smtptest.Send("250 2.1.0 Ok", "250 2.1.5 Ok",
			"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
			"250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 Ok: queued as 4XyZ12"),
		quitSteps,
	)
}

func TestPipelining(t *testing.T) {
	c, run := scripted(t, pipelinedSession(), ClientOptions{})
	clientHello(t, c)
	body := "From: alice@example.org\nSubject: pipelined\n\n.dot\nend"
	res, err := c.Send(&Transaction{
		From:     "alice@example.org",
		MailOpts: &MailOptions{Body: "8BITMIME"},
		Rcpts: []Recipient{{Addr: "bob@example.org"}, {Addr: "nobody@example.org"},
			{Addr: "carol@example.org", Opts: &RcptOptions{Notify: []string{"FAILURE"}}}},
		Body:       strings.NewReader(body),
		Pipelining: true,
	})
	if err != nil {
		t.Fatalf("Send: %v (a refused recipient among accepted ones is not an error)", err)
	}
	clientQuit(t, c)
	run.Wait()

	group := "MAIL FROM:<alice@example.org> BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\n" +
		"RCPT TO:<nobody@example.org>\r\nRCPT TO:<carol@example.org> NOTIFY=FAILURE\r\nDATA\r\n"
	found := false
	for _, rd := range run.Reads() {
		if strings.Contains(string(rd), "MAIL FROM") {
			found = true
			if string(rd) != group {
				t.Errorf("MAIL, RCPT and DATA did not arrive in one write; the write holding MAIL was %q", rd)
			}
		}
	}
	if !found {
		t.Error("no MAIL FROM received")
	}
	if res.Accepted() != 2 || len(res.Rcpts) != 3 {
		t.Fatalf("recipients = %+v", res.Rcpts)
	}
	refused := res.Rcpts[1]
	if refused.Accepted || refused.Reply.Code != 550 || refused.Reply.Enhanced != "5.1.1" || refused.Data != nil {
		t.Errorf("refused recipient = %+v", refused)
	}
	if res.Mail.Code != 250 || res.Data == nil || res.Data.Code != 250 || res.QueueID != "4XyZ12" {
		t.Errorf("mail %v, data %v, queue id %q", res.Mail, res.Data, res.QueueID)
	}
	if res.Rcpts[0].Data != res.Data || res.Rcpts[2].Data != res.Data {
		t.Error("accepted recipients do not carry the DATA reply")
	}
	if got, want := string(run.Bodies()[0]), withCRLF("From: alice@example.org\nSubject: pipelined\n\n.dot\nend\n"); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	smtptest.CompareGolden(t, "client/pipelining.txt", run.Transcript())
}

func TestPipeliningNoRecipientAccepted(t *testing.T) {
	t.Run("354 after DATA", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"),
			smtptest.Expect("RCPT TO:<x@example.org>"),
			smtptest.Expect("RCPT TO:<y@example.org>"),
			smtptest.Expect("DATA"),
			smtptest.Send("250 2.1.0 Ok", "550 5.1.1 unknown x", "450 4.2.0 try y later", "354 go ahead"),
			smtptest.Expect("."),
			smtptest.Send("554 5.5.1 Error: no valid recipients"),
			quitSteps,
		), ClientOptions{})
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}, {Addr: "y@example.org"}},
			Body: strings.NewReader("never sent\n"), Pipelining: true})
		if !errors.Is(err, ErrNoRecipients) {
			t.Fatalf("error = %v, want ErrNoRecipients", err)
		}
		if len(res.Rcpts) != 2 || res.Rcpts[0].Reply.Code != 550 || res.Rcpts[1].Reply.Code != 450 || res.Accepted() != 0 {
			t.Errorf("recipients = %+v", res.Rcpts)
		}
		clientQuit(t, c)
		run.Wait()
		if got := string(run.Received()); !strings.HasSuffix(got, "DATA\r\n.\r\nQUIT\r\n") || strings.Contains(got, "never sent") {
			t.Errorf("client wrote %q; after the 354 it must send only the terminator", got)
		}
		smtptest.CompareGolden(t, "client/pipelining-no-recipient.txt", run.Transcript())
	})
	t.Run("DATA refused", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Expect("DATA"),
			smtptest.Send("250 2.1.0 Ok", "550 5.1.1 unknown x", "554 5.5.1 Error: no valid recipients"),
		), ClientOptions{})
		_, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Pipelining: true})
		if !errors.Is(err, ErrNoRecipients) {
			t.Fatalf("error = %v, want ErrNoRecipients", err)
		}
		run.Wait()
	})
	t.Run("MAIL refused", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Expect("DATA"),
			smtptest.Send("550 5.7.1 sender refused", "503 5.5.1 need MAIL", "503 5.5.1 need MAIL"),
		), ClientOptions{})
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Pipelining: true})
		se := wantErr[*Error](t, err)
		if se.Reply.Code != 550 || !strings.HasPrefix(se.Command, "MAIL FROM") || res.Mail.Code != 550 {
			t.Errorf("error = %v", se)
		}
		run.Wait()
	})
	t.Run("421 at MAIL", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Expect("DATA"),
			smtptest.Send("421 4.3.2 shutting down"), smtptest.Close(),
		), ClientOptions{})
		_, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Pipelining: true})
		if se := wantErr[*Error](t, err); !se.Temporary() || se.Reply.Code != 421 {
			t.Errorf("error = %v, want the 421", se)
		}
		run.Wait()
	})
}

func TestBDATChunks(t *testing.T) {
	content := "Subject: chunks\r\n\r\nHello, chunked world.\r\n.dot stays single\r\n"
	var script smtptest.Script
	script = append(script,
		smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 2.1.0 Ok"),
		smtptest.Expect("RCPT TO:<b@example.org>"), smtptest.Send("250 2.1.5 Ok"))
	var want strings.Builder
	want.WriteString("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n")
	const chunk = 16
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content))
		line := "BDAT " + strconv.Itoa(end-off)
		if end == len(content) {
			line += " LAST"
			script = append(script, smtptest.ExpectBDAT(), smtptest.Send("250 2.0.0 Ok: queued as B7"))
		} else {
			script = append(script, smtptest.ExpectBDAT(), smtptest.Send("250 2.0.0 "+strconv.Itoa(chunk)+" octets received"))
		}
		want.WriteString(line + "\r\n" + content[off:end])
	}
	script = append(script, quitSteps...)
	want.WriteString("QUIT\r\n")

	c, run := scripted(t, script, ClientOptions{})
	res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}},
		Body: strings.NewReader(strings.ReplaceAll(content, "\r\n", "\n")), Chunking: true, ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	clientQuit(t, c)
	run.Wait()
	if got := string(run.Received()); got != want.String() {
		t.Errorf("client wrote\n%q\nwant\n%q", got, want.String())
	}
	if res.Octets != int64(len(content)) || res.QueueID != "B7" || string(run.Bodies()[0]) != content {
		t.Errorf("octets %d, queue id %q, body %q", res.Octets, res.QueueID, run.Bodies())
	}
	smtptest.CompareGolden(t, "client/bdat.txt", run.Transcript())
}

func TestBDATChunkRefused(t *testing.T) {
	c, run := scripted(t, joinSteps(
		smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<b@example.org>"),
		smtptest.Send("250 2.1.0 Ok", "250 2.1.5 Ok"),
		smtptest.ExpectBDAT(), smtptest.Send("552 5.3.4 message too big"),
		quitSteps,
	), ClientOptions{})
	res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}},
		Body: strings.NewReader(strings.Repeat("x", 100)), Chunking: true, Pipelining: true, ChunkSize: 10})
	se := wantErr[*Error](t, err)
	if se.Reply.Code != 552 || se.Command != "BDAT 10" || res.Data == nil {
		t.Errorf("error = %#v, data %v", se, res.Data)
	}
	clientQuit(t, c)
	run.Wait()
}

func TestRsetNoopVrfyRaw(t *testing.T) {
	c, run := scripted(t, joinSteps(
		smtptest.Expect("RSET"), smtptest.Send("250 2.0.0 Ok"),
		smtptest.Expect("NOOP"), smtptest.Send("250 2.0.0 Ok"),
		smtptest.Expect("VRFY postmaster"), smtptest.Send("252 2.0.0 postmaster"),
		smtptest.Expect("VRFY nobody"), smtptest.Send("550 5.1.1 <nobody>: Recipient address rejected"),
		smtptest.Expect("XCLIENT NAME=spike"), smtptest.Send("550 5.7.0 Error: insufficient authorization"),
		smtptest.Expect("HELP"), smtptest.Send("214-2.0.0 Commands:", "214 2.0.0 HELO EHLO MAIL RCPT DATA"),
		smtptest.Expect("QUIT"), smtptest.Send("250 odd but fine"), smtptest.ExpectClose(),
	), ClientOptions{})
	if r, err := c.Reset(); err != nil || r.Code != 250 {
		t.Errorf("Reset = %v, %v", r, err)
	}
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Errorf("Noop = %v, %v", r, err)
	}
	if r, err := c.Verify("postmaster"); err != nil || r.Code != 252 {
		t.Errorf("Verify = %v, %v", r, err)
	}
	_, err := c.Verify("nobody")
	if se := wantErr[*Error](t, err); !se.UnknownUser() || se.Command != "VRFY nobody" {
		t.Errorf("Verify(nobody) = %v", se)
	}
	if r, err := c.Raw("XCLIENT NAME=spike"); err != nil || r.Code != 550 {
		t.Errorf("Raw = %v, %v (a refusal is a reply, not an error)", r, err)
	}
	if _, err := c.Raw("NOOP\r\nRSET"); err == nil {
		t.Error("Raw accepted a line with CRLF")
	}
	if r, err := c.Raw("HELP"); err != nil || len(r.Lines) != 2 || r.Enhanced != "2.0.0" {
		t.Errorf("Raw(HELP) = %#v, %v", r, err)
	}
	clientQuit(t, c)
	run.Wait()
	smtptest.CompareGolden(t, "client/commands.txt", run.Transcript())
}

func TestPipelinedReset(t *testing.T) {
	t.Run("in one write with MAIL", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("RSET"), smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Expect("DATA"),
			smtptest.Send("250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead"),
			smtptest.Expect("x"), smtptest.Expect("."), smtptest.Send("250 2.0.0 Ok: queued as Q2"),
		), ClientOptions{})
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Pipelining: true, Reset: true})
		if err != nil || res.QueueID != "Q2" {
			t.Fatalf("Send: %+v %v", res, err)
		}
		run.Wait()
		want := "RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n"
		found := false
		for _, rd := range run.Reads() {
			if strings.Contains(string(rd), "RSET") {
				found = true
				if string(rd) != want {
					t.Errorf("RSET, MAIL, RCPT and DATA did not arrive in one write; the write holding RSET was %q", rd)
				}
			}
		}
		if !found {
			t.Error("no RSET received")
		}
	})
	t.Run("RSET refused", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("RSET"), smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Expect("DATA"),
			smtptest.Send("500 5.5.1 no", "503 5.5.1 need RSET", "503 5.5.1 need MAIL", "503 5.5.1 need RCPT"),
		), ClientOptions{})
		_, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Pipelining: true, Reset: true})
		if se := wantErr[*Error](t, err); se.Command != "RSET" || se.Reply.Code != 500 {
			t.Errorf("error = %v, want the RSET refusal", se)
		}
		run.Wait()
	})
	t.Run("without pipelining", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("RSET"), smtptest.Send("250 2.0.0 Ok"),
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 2.1.0 Ok"),
			smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Send("250 2.1.5 Ok"),
			smtptest.Expect("DATA"), smtptest.Send("354 go ahead"),
			smtptest.Expect("x"), smtptest.Expect("."), smtptest.Send("250 2.0.0 Ok"),
		), ClientOptions{})
		if _, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), Reset: true}); err != nil {
			t.Fatal(err)
		}
		run.Wait()
	})
}

func TestBeforeEnd(t *testing.T) {
	t.Run("called before the terminator", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 2.1.0 Ok"),
			smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Send("250 2.1.5 Ok"),
			smtptest.Expect("DATA"), smtptest.Send("354 go ahead"),
			smtptest.Expect("x"), smtptest.Expect("."), smtptest.Send("250 2.0.0 Ok"),
		), ClientOptions{})
		calls := 0
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), BeforeEnd: func() error { calls++; return nil }})
		if err != nil || calls != 1 || !res.EndSent {
			t.Fatalf("Send: %v, %d calls, EndSent %v", err, calls, res.EndSent)
		}
		run.Wait()
	})
	t.Run("an error stops before the terminator", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 2.1.0 Ok"),
			smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Send("250 2.1.5 Ok"),
			smtptest.Expect("DATA"), smtptest.Send("354 go ahead"),
		), ClientOptions{})
		boom := errors.New("disk full")
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n"), BeforeEnd: func() error { return boom }})
		if ae := wantErr[*AbortError](t, err); !errors.Is(ae, boom) || res.EndSent {
			t.Fatalf("error %v, EndSent %v", err, res.EndSent)
		}
		c.Close()
		run.Wait()
		if strings.Contains(string(run.Received()), "\r\n.\r\n") {
			t.Errorf("the terminator was sent after BeforeEnd failed: %q", run.Received())
		}
	})
	t.Run("no reply after the terminator", func(t *testing.T) {
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 2.1.0 Ok"),
			smtptest.Expect("RCPT TO:<x@example.org>"), smtptest.Send("250 2.1.5 Ok"),
			smtptest.Expect("DATA"), smtptest.Send("354 go ahead"),
			smtptest.Expect("x"), smtptest.Expect("."), smtptest.Close(),
		), ClientOptions{})
		res, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "x@example.org"}},
			Body: strings.NewReader("x\n")})
		wantErr[*NetError](t, err)
		if !res.EndSent {
			t.Error("EndSent false after the terminator went out")
		}
		run.Wait()
	})
}
