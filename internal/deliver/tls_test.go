package deliver

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/smtptest"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

func mxMock() *dnstest.Mock {
	return dnstest.NewMock().MX("example.test", 10, "mx.example.test").IP("mx.example.test", "192.0.2.1")
}

// verify: a certificate from a CA in RootCAs for the MX name passes; the
// same server under another CA is deferred (4.7.5) and gets no MAIL.
func TestTLSVerify(t *testing.T) {
	certs := smtptest.Cert(t, "mx.example.test")
	srv := server(t, smtptest.ServerOptions{Certs: certs})
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	o := testOptions(mxMock(), d)
	o.TLSPolicy, o.RootCAs = tlspolicy.LevelVerify, certs.Pool
	out := deliver(t, o, "a@example.test")
	want(t, out[0], Delivered, "2.0.0")
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("messages %+v", m)
	}

	o.RootCAs = smtptest.Cert(t, "mx.example.test").Pool // another CA
	out = deliver(t, o, "a@example.test")
	want(t, out[0], Deferred, "4.7.5")
	if !strings.Contains(out[0].Diagnostic, "untrusted") && !strings.Contains(out[0].Diagnostic, "chain") {
		t.Errorf("diagnostic %q", out[0].Diagnostic)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages: mail went over a rejected connection", n)
	}
}

// required without STARTTLS: deferred (4.7.4), never sent in plaintext;
// opportunistic (and auto) send in plaintext.
func TestRequiredWithoutSTARTTLS(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{NoStartTLS: true})
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	o := testOptions(mxMock(), d)
	var tr smtp.Transcript
	o.Trace = tr.Add
	o.TLSPolicy = tlspolicy.LevelRequired
	out := deliver(t, o, "a@example.test")
	want(t, out[0], Deferred, "4.7.4")
	for _, ev := range tr.Events {
		if ev.Kind == smtp.EventSend && strings.HasPrefix(ev.Line, "MAIL") {
			t.Errorf("sent %q under required without TLS", ev.Line)
		}
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("message delivered in plaintext")
	}
	for _, lvl := range []tlspolicy.Level{"", tlspolicy.LevelOpportunistic} {
		o.TLSPolicy = lvl
		out = deliver(t, o, "a@example.test")
		want(t, out[0], Delivered, "2.0.0")
	}
	if m := srv.Messages(); len(m) != 2 || m[0].TLS {
		t.Errorf("messages %+v", m)
	}
}

// Auto and opportunistic use STARTTLS when offered, whatever the
// certificate.
func TestOpportunisticUsesTLS(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{Certs: smtptest.WrongNameCert(t)})
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	out := deliver(t, testOptions(mxMock(), d), "a@example.test")
	want(t, out[0], Delivered, "2.0.0")
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
		t.Errorf("messages %+v", m)
	}
}

// Auto with DNSSEC-validated TLSA records is DANE (RFC 7672): a matching
// "3 1 1" record authenticates a certificate no CA vouches for; a record
// that does not match defers; records without AD are ignored.
func TestAutoDANE(t *testing.T) {
	certs := smtptest.Cert(t, "mx.example.test")
	other := smtptest.Cert(t, "mx.example.test")
	srv := server(t, smtptest.ServerOptions{Certs: certs})
	tlsa := func(rec tlspolicy.TLSA) dnsx.Record {
		return dnsx.Record{Name: "_25._tcp.mx.example.test", Type: dnsx.TypeTLSA,
			TLSA: &dnsx.TLSA{Usage: rec.Usage, Selector: rec.Selector, MatchingType: rec.MatchingType, Data: rec.Data}}
	}
	secure := func(r *dnstest.Mock) *dnstest.Mock {
		return r.AD("example.test").AD("mx.example.test").AD("_25._tcp.mx.example.test")
	}
	for _, tc := range []struct {
		name     string
		mock     *dnstest.Mock
		trust    bool
		st       Status
		enhanced string
	}{
		{"match", secure(mxMock().Add(tlsa(tlspolicy.TLSAFor(certs.Leaf)))), true, Delivered, "2.0.0"},
		{"mismatch", secure(mxMock().Add(tlsa(tlspolicy.TLSAFor(other.Leaf)))), true, Deferred, "4.7.5"},
		{"untrusted resolver", secure(mxMock().Add(tlsa(tlspolicy.TLSAFor(other.Leaf)))), false, Delivered, "2.0.0"},
		{"insecure mx", mxMock().AD("mx.example.test").AD("_25._tcp.mx.example.test").Add(tlsa(tlspolicy.TLSAFor(other.Leaf))), true, Delivered, "2.0.0"},
		{"tlsa servfail", secure(mxMock()).Fail("_25._tcp.mx.example.test", dnsx.TypeTLSA, dnsx.KindServFail), true, Deferred, "4.4.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDialer().route("192.0.2.1:25", srv.Addr())
			o := testOptions(tc.mock, d)
			o.TrustAD = tc.trust
			out := deliver(t, o, "a@example.test")
			want(t, out[0], tc.st, tc.enhanced)
		})
	}
}

// A smarthost gets every recipient in one session, with AUTH; under auto
// an authenticated smarthost must present a verified certificate.
func TestSmarthostAuth(t *testing.T) {
	certs := smtptest.Cert(t, "smart.test")
	srv := server(t, smtptest.ServerOptions{Certs: certs, AuthNeedsTLS: true, RequireAuth: true})
	d := newDialer().route("smart.test:587", srv.Addr())
	o := testOptions(dnstest.NewMock(), d)
	o.Smarthost, o.RootCAs = "smart.test", certs.Pool
	o.Auth = &smtp.Credentials{User: "user", Password: "secret"}
	out := deliver(t, o, "a@one.test", "b@two.test")
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Delivered, "2.0.0")
	if m := srv.Messages(); len(m) != 1 || m[0].AuthUser != "user" || !m[0].TLS || len(m[0].Rcpts) != 2 {
		t.Errorf("messages %+v", m)
	}

	o.Auth = &smtp.Credentials{User: "user", Password: "wrong"}
	out = deliver(t, o, "a@one.test")
	want(t, out[0], Deferred, "4.7.8")

	o.Auth = &smtp.Credentials{User: "user", Password: "secret"}
	o.RootCAs = smtptest.Cert(t, "smart.test").Pool
	out = deliver(t, o, "a@one.test")
	want(t, out[0], Deferred, "4.7.5")
}

// With PIPELINING, MAIL, every RCPT and DATA go in one write (RFC 2920
// 3.1); the transcript is exact.
func TestPipelinedTransaction(t *testing.T) {
	conn, run := smtptest.Script{
		smtptest.Send("220 mx.example.test ESMTP"),
		smtptest.Expect("EHLO client.test"),
		smtptest.Send("250-mx.example.test", "250-PIPELINING", "250 8BITMIME"),
		smtptest.Expect("MAIL FROM:<a@sender.test>"),
		smtptest.Expect("RCPT TO:<x@example.test>"),
		smtptest.Expect("RCPT TO:<y@example.test>"),
		smtptest.Expect("DATA"),
		smtptest.Send("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 unknown", "354 go ahead"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 queued as ABC"),
		smtptest.Expect("QUIT"),
		smtptest.Send("221 bye"),
		smtptest.ExpectClose(),
	}.Pipe(t)
	d := newDialer()
	d.pipes["192.0.2.1:25"] = []net.Conn{conn}
	out := deliver(t, testOptions(mxMock(), d), "x@example.test", "y@example.test")
	run.Wait()
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Failed, "5.1.1")
	if out[0].Reply == nil || !strings.Contains(out[0].Reply.Text(), "ABC") {
		t.Errorf("reply %+v", out[0].Reply)
	}
	reads := run.Reads()
	i := slices.IndexFunc(reads, func(b []byte) bool { return strings.HasPrefix(string(b), "MAIL FROM") })
	if i < 0 || !strings.Contains(string(reads[i]), "DATA\r\n") {
		t.Errorf("MAIL, RCPT and DATA not in one write: %q", reads)
	}
}

// Opportunistic TLS: a handshake that breaks is retried once on the same
// address without STARTTLS; under required it is not.
func TestOpportunisticHandshakeFallback(t *testing.T) {
	broken := func() smtptest.Script {
		return smtptest.Script{
			smtptest.Send("220 mx.example.test ESMTP"),
			smtptest.Expect("EHLO client.test"),
			smtptest.Send("250-mx.example.test", "250 STARTTLS"),
			smtptest.Expect("STARTTLS"),
			smtptest.Send("220 go ahead"),
			smtptest.Do("answer the ClientHello with garbage", func(p *smtptest.Peer) error {
				buf := make([]byte, 4096)
				if _, err := p.Conn().Read(buf); err != nil {
					return err
				}
				return p.Write([]byte("this is not TLS\r\n"))
			}),
			smtptest.Close(),
		}
	}
	conn1, run1 := broken().Pipe(t)
	conn2, run2 := smtptest.Script{
		smtptest.Send("220 mx.example.test ESMTP"),
		smtptest.Expect("EHLO client.test"),
		smtptest.Send("250-mx.example.test", "250 STARTTLS"),
		smtptest.Expect("MAIL FROM:<a@sender.test>"),
		smtptest.Send("250 ok"),
		smtptest.Expect("RCPT TO:<x@example.test>"),
		smtptest.Send("250 ok"),
		smtptest.Expect("DATA"),
		smtptest.Send("354 go"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 queued"),
		smtptest.Expect("QUIT"),
		smtptest.Send("221 bye"),
		smtptest.ExpectClose(),
	}.Pipe(t)
	d := newDialer()
	d.pipes["192.0.2.1:25"] = []net.Conn{conn1, conn2}
	o := testOptions(mxMock(), d)
	out := deliver(t, o, "x@example.test")
	d.closeUnused()
	run1.Wait()
	run2.Wait()
	want(t, out[0], Delivered, "2.0.0")

	conn3, run3 := broken().Pipe(t)
	d = newDialer()
	d.pipes["192.0.2.1:25"] = []net.Conn{conn3}
	o = testOptions(mxMock(), d)
	o.TLSPolicy = tlspolicy.LevelRequired
	out = deliver(t, o, "x@example.test")
	run3.Wait()
	want(t, out[0], Deferred, "4.7.5")
	if n := len(d.dialled()); n != 1 {
		t.Errorf("%d dials under required", n)
	}
}

// "452 too many recipients" (RFC 5321 4.5.3.1.10): the rest go in another
// transaction on the same connection.
func TestTooManyRecipients(t *testing.T) {
	conn, run := smtptest.Script{
		smtptest.Send("220 mx.example.test ESMTP"),
		smtptest.Expect("EHLO client.test"),
		smtptest.Send("250-mx.example.test", "250 PIPELINING"),
		smtptest.Expect("MAIL FROM:<a@sender.test>"),
		smtptest.Expect("RCPT TO:<x@example.test>"),
		smtptest.Expect("RCPT TO:<y@example.test>"),
		smtptest.Expect("RCPT TO:<z@example.test>"),
		smtptest.Expect("DATA"),
		smtptest.Send("250 2.1.0 ok", "250 2.1.5 ok", "452 4.5.3 too many recipients", "452 4.5.3 too many recipients", "354 go ahead"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 queued as A"),
		smtptest.Expect("MAIL FROM:<a@sender.test>"),
		smtptest.Expect("RCPT TO:<y@example.test>"),
		smtptest.Expect("RCPT TO:<z@example.test>"),
		smtptest.Expect("DATA"),
		smtptest.Send("250 2.1.0 ok", "250 2.1.5 ok", "452 4.2.2 mailbox full", "354 go ahead"),
		smtptest.ExpectData(),
		smtptest.Send("250 2.0.0 queued as B"),
		smtptest.Expect("QUIT"), // a full mailbox is not "too many recipients": z waits for the next attempt
		smtptest.Send("221 bye"),
		smtptest.ExpectClose(),
	}.Pipe(t)
	d := newDialer()
	d.pipes["192.0.2.1:25"] = []net.Conn{conn}
	out := deliver(t, testOptions(mxMock(), d), "x@example.test", "y@example.test", "z@example.test")
	d.closeUnused()
	run.Wait()
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Delivered, "2.0.0")
	want(t, out[2], Deferred, "4.2.2")
	if !strings.Contains(out[1].Reply.Text(), "queued as B") {
		t.Errorf("y: %+v", out[1].Reply)
	}
}

// DSN parameters travel only to a server that offers DSN (RFC 3461 4).
func TestDSNParameters(t *testing.T) {
	for _, offer := range []bool{true, false} {
		opts := smtptest.ServerOptions{}
		if !offer {
			opts.Without = []string{"DSN"}
		}
		srv := server(t, opts)
		d := newDialer().route("192.0.2.1:25", srv.Addr())
		req := Request{From: "a@sender.test", To: []string{"x@example.test"}, Msg: testMessage(t),
			MailOpts: smtp.MailOptions{Ret: "HDRS", EnvID: "E1"},
			RcptOpts: []*smtp.RcptOptions{{Notify: []string{"FAILURE"}, ORcpt: "rfc822;x@example.test"}}}
		out := Deliver(t.Context(), req, testOptions(mxMock(), d))
		want(t, out[0], Delivered, "2.0.0")
		m := srv.Messages()
		if len(m) != 1 {
			t.Fatalf("messages %+v", m)
		}
		params := strings.Join(m[0].MailParams, " ") + " " + strings.Join(m[0].RcptParams[0], " ")
		if has := strings.Contains(params, "RET=HDRS") && strings.Contains(params, "NOTIFY=FAILURE"); has != offer {
			t.Errorf("DSN offered %v: parameters %q", offer, params)
		}
		if !offer && (strings.Contains(params, "ENVID") || strings.Contains(params, "ORCPT")) {
			t.Errorf("parameters %q sent to a server without DSN", params)
		}
	}
}
