package deliver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func server(t *testing.T, opts smtptest.ServerOptions) *smtptest.Server {
	t.Helper()
	return smtptest.NewServer(t, opts)
}

// A dead first MX (connection refused) moves on to the second, which
// takes the message (RFC 5321 5.1).
func TestSecondMXAfterDeadFirst(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().
		MX("example.test", 10, "mx1.example.test").MX("example.test", 20, "mx2.example.test").
		IP("mx1.example.test", "192.0.2.1").IP("mx2.example.test", "192.0.2.2")
	d := newDialer().route("192.0.2.1:25", deadAddr(t)).route("192.0.2.2:25", srv.Addr())
	out := deliver(t, testOptions(r, d), "alice@example.test")
	want(t, out[0], Delivered, "2.0.0")
	if out[0].RemoteMTA != "mx2.example.test[192.0.2.2]" || out[0].RemoteHost != "mx2.example.test" {
		t.Errorf("remote %q %q", out[0].RemoteMTA, out[0].RemoteHost)
	}
	if out[0].Reply == nil || out[0].Reply.Code != 250 {
		t.Errorf("reply %+v", out[0].Reply)
	}
	if got := d.dialled(); !slices.Equal(got, []string{"192.0.2.1:25", "192.0.2.2:25"}) {
		t.Errorf("dialled %v", got)
	}
	if m := srv.Messages(); len(m) != 1 || m[0].From != "a@sender.test" || !slices.Equal(m[0].Rcpts, []string{"alice@example.test"}) {
		t.Errorf("messages %+v", m)
	}
}

// Equal preferences: either host may come first, and exactly one gets the
// message.
func TestEqualPreferences(t *testing.T) {
	a, b := server(t, smtptest.ServerOptions{}), server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().
		MX("example.test", 10, "mxa.example.test").MX("example.test", 10, "mxb.example.test").
		IP("mxa.example.test", "192.0.2.1").IP("mxb.example.test", "192.0.2.2")
	d := newDialer().route("192.0.2.1:25", a.Addr()).route("192.0.2.2:25", b.Addr())
	out := deliver(t, testOptions(r, d), "alice@example.test")
	want(t, out[0], Delivered, "2.0.0")
	if n := len(a.Messages()) + len(b.Messages()); n != 1 {
		t.Errorf("%d copies delivered", n)
	}
	if n := len(d.dialled()); n != 1 {
		t.Errorf("%d dials", n)
	}
}

// No MX: the domain's own address is the implicit MX (RFC 5321 5.1).
func TestImplicitMX(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().IP("implicit.test", "192.0.2.7")
	d := newDialer().route("192.0.2.7:25", srv.Addr())
	out := deliver(t, testOptions(r, d), "bob@implicit.test")
	want(t, out[0], Delivered, "2.0.0")
	if out[0].RemoteMTA != "implicit.test[192.0.2.7]" {
		t.Errorf("remote %q", out[0].RemoteMTA)
	}
}

// Routing failures decide without connecting: null MX and NXDOMAIN fail,
// SERVFAIL defers.
func TestRoutingFailures(t *testing.T) {
	r := dnstest.NewMock().
		MX("nullmx.test", 0, ".").
		MX("noaddr.test", 10, "mx.noaddr.test").TXT("mx.noaddr.test", "no address here").
		Fail("servfail.test", dnsx.TypeMX, dnsx.KindServFail)
	d := newDialer()
	out := deliver(t, testOptions(r, d), "a@nullmx.test", "b@nxdomain.test", "c@servfail.test", "d@noaddr.test", "no-domain", "e@bad..name")
	want(t, out[0], Failed, "5.1.10")
	want(t, out[1], Failed, "5.1.2")
	want(t, out[2], Deferred, "4.4.3")
	want(t, out[3], Failed, "5.4.4")
	want(t, out[4], Failed, "5.1.3")
	want(t, out[5], Failed, "5.1.2")
	if !strings.Contains(out[0].Diagnostic, "null MX") || !strings.Contains(out[1].Diagnostic, "NXDOMAIN") {
		t.Errorf("diagnostics %q, %q", out[0].Diagnostic, out[1].Diagnostic)
	}
	if n := len(d.dialled()); n != 0 {
		t.Errorf("dialled %v", d.dialled())
	}
}

// Per-recipient RCPT replies decide per recipient, in one session: 451
// defers that recipient only, 550 fails it, the others are delivered.
func TestPerRecipientReplies(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{RejectRcpt: map[string]string{
		"later@example.test":      "451 4.2.1 mailbox busy, try later",
		"nobody@example.test":     "550 5.1.1 no such user",
		"noenhanced@example.test": "553 mailbox name not allowed",
	}})
	r := dnstest.NewMock().MX("example.test", 10, "mx.example.test").IP("mx.example.test", "192.0.2.1")
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	out := deliver(t, testOptions(r, d), "alice@example.test", "later@example.test", "nobody@example.test", "bob@example.test", "noenhanced@example.test")
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Deferred, "4.2.1")
	want(t, out[2], Failed, "5.1.1")
	want(t, out[3], Delivered, "2.0.0")
	want(t, out[4], Failed, "5.0.0")
	if out[2].Reply == nil || out[2].Reply.Code != 550 || !strings.Contains(out[2].Diagnostic, "RCPT TO:<nobody@example.test>") {
		t.Errorf("nobody: %+v", out[2])
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	if m := srv.Messages(); len(m) != 1 || !slices.Equal(m[0].Rcpts, []string{"alice@example.test", "bob@example.test"}) {
		t.Errorf("messages %+v", m)
	}
}

// Several domains in one request: each has its own destination; outcomes
// come back in request order; recipients of one domain share one session.
func TestMixedDomains(t *testing.T) {
	a, b := server(t, smtptest.ServerOptions{}), server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().
		MX("a.test", 10, "mx.a.test").IP("mx.a.test", "192.0.2.1").
		MX("b.test", 10, "mx.b.test").IP("mx.b.test", "192.0.2.2").
		MX("null.test", 0, ".")
	d := newDialer().route("192.0.2.1:25", a.Addr()).route("192.0.2.2:25", b.Addr())
	out := deliver(t, testOptions(r, d), "x@a.test", "y@b.test", "z@null.test", "w@A.TEST", "v@a.test")
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Delivered, "2.0.0")
	want(t, out[2], Failed, "5.1.10")
	want(t, out[3], Delivered, "2.0.0")
	want(t, out[4], Delivered, "2.0.0")
	if a.Sessions() != 1 || b.Sessions() != 1 {
		t.Errorf("sessions a=%d b=%d, want 1 each", a.Sessions(), b.Sessions())
	}
	if m := a.Messages(); len(m) != 1 || len(m[0].Rcpts) != 3 {
		t.Errorf("a got %+v", m)
	}
}

// A 5xx to MAIL fails the whole destination without trying the next MX; a
// 421 greeting moves on to it.
func TestMailRefusalAnd421(t *testing.T) {
	refuse := server(t, smtptest.ServerOptions{RejectMail: "550 5.7.1 sender refused"})
	spare := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock().
		MX("example.test", 10, "mx1.example.test").MX("example.test", 20, "mx2.example.test").
		IP("mx1.example.test", "192.0.2.1").IP("mx2.example.test", "192.0.2.2")
	d := newDialer().route("192.0.2.1:25", refuse.Addr()).route("192.0.2.2:25", spare.Addr())
	out := deliver(t, testOptions(r, d), "a@example.test", "b@example.test")
	want(t, out[0], Failed, "5.7.1")
	want(t, out[1], Failed, "5.7.1")
	if spare.Sessions() != 0 {
		t.Errorf("the second MX was tried after a 5xx to MAIL")
	}

	busy := server(t, smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtGreeting, Action: smtptest.Reply421}})
	d = newDialer().route("192.0.2.1:25", busy.Addr()).route("192.0.2.2:25", spare.Addr())
	out = deliver(t, testOptions(r, d), "a@example.test")
	want(t, out[0], Delivered, "2.0.0")
	if spare.Sessions() != 1 {
		t.Errorf("spare sessions %d", spare.Sessions())
	}
}

// When every address fails, a temporary failure anywhere defers; the
// addresses tried are bounded by MaxAddrs.
func TestAllAddressesFail(t *testing.T) {
	r := dnstest.NewMock().MX("example.test", 10, "mx.example.test").
		IP("mx.example.test", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	d := newDialer()
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		d.route(ip+":25", deadAddr(t))
	}
	o := testOptions(r, d)
	o.MaxAddrs = 3
	out := deliver(t, o, "a@example.test")
	want(t, out[0], Deferred, "4.4.1")
	if n := len(d.dialled()); n != 3 {
		t.Errorf("%d dials, want 3 (MaxAddrs)", n)
	}
	if !strings.Contains(out[0].Diagnostic, "connect") {
		t.Errorf("diagnostic %q", out[0].Diagnostic)
	}
}

// A data reply decides for every accepted recipient.
func TestDataReply(t *testing.T) {
	for _, tc := range []struct {
		reply    string
		st       Status
		enhanced string
	}{
		{"554 5.6.0 content rejected", Failed, "5.6.0"},
		{"452 4.3.1 insufficient storage", Deferred, "4.3.1"},
	} {
		srv := server(t, smtptest.ServerOptions{DataReply: tc.reply})
		r := dnstest.NewMock().MX("example.test", 10, "mx.example.test").IP("mx.example.test", "192.0.2.1")
		d := newDialer().route("192.0.2.1:25", srv.Addr())
		out := deliver(t, testOptions(r, d), "a@example.test", "b@example.test")
		want(t, out[0], tc.st, tc.enhanced)
		want(t, out[1], tc.st, tc.enhanced)
	}
}

// Routes (transport maps) and address literals skip the MX lookup.
func TestRoutesAndLiterals(t *testing.T) {
	relay := server(t, smtptest.ServerOptions{})
	lit := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock()
	d := newDialer().route("relay.test:2525", relay.Addr()).route("192.0.2.9:25", lit.Addr())
	o := testOptions(r, d)
	o.Routes = map[string]string{"routed.test": "relay.test:2525", "other.test": "[relay.test]:2525"}
	out := deliver(t, o, "a@routed.test", "b@other.test", "c@[192.0.2.9]", "d@nx.test")
	want(t, out[0], Delivered, "2.0.0")
	want(t, out[1], Delivered, "2.0.0")
	want(t, out[2], Delivered, "2.0.0")
	want(t, out[3], Failed, "5.1.2")
	if relay.Sessions() != 1 {
		t.Errorf("relay sessions %d, want 1 (one destination)", relay.Sessions())
	}
	if out[0].RemoteHost != "relay.test" {
		t.Errorf("remote host %q", out[0].RemoteHost)
	}
	for _, q := range r.Queries() {
		if q.Name != "nx.test" && !strings.HasSuffix(q.Name, "nx.test") {
			t.Errorf("looked up %v for a routed domain", q)
		}
	}
}

// ctx bounds the whole call: a server that never greets leaves the
// recipient deferred once ctx ends, without waiting for the stage timeouts.
func TestContextEndsAttempt(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{Fault: smtptest.Fault{At: smtptest.AtGreeting, Action: smtptest.NoAnswer}})
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	o := testOptions(mxMock(), d)
	o.Timeouts = smtp.Uniform(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out := Deliver(ctx, Request{From: "a@sender.test", To: []string{"a@example.test"}, Msg: testMessage(t)}, o)
	if out[0].Status != Deferred || out[0].Diagnostic == "" {
		t.Errorf("got %+v", out[0])
	}
}

// Many destinations with Parallel 2: every one is delivered, each in its
// own session.
func TestParallelDestinations(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{})
	r := dnstest.NewMock()
	d := newDialer()
	var to []string
	for i := range 7 {
		dom := fmt.Sprintf("d%d.test", i)
		ip := fmt.Sprintf("192.0.2.%d", i+1)
		r.MX(dom, 10, "mx."+dom).IP("mx."+dom, ip)
		d.route(ip+":25", srv.Addr())
		to = append(to, "u@"+dom, "v@"+dom)
	}
	o := testOptions(r, d)
	o.Parallel = 2
	out := deliver(t, o, to...)
	for _, oc := range out {
		want(t, oc, Delivered, "2.0.0")
	}
	if n := srv.Sessions(); n != 7 {
		t.Errorf("%d sessions, want 7", n)
	}
}

// A message larger than the server's SIZE fails there (5.3.4) without
// MAIL; 8-bit content to a server without 8BITMIME fails (5.6.3).
func TestCapabilityFailures(t *testing.T) {
	srv := server(t, smtptest.ServerOptions{Size: 10})
	d := newDialer().route("192.0.2.1:25", srv.Addr())
	out := deliver(t, testOptions(mxMock(), d), "a@example.test")
	want(t, out[0], Failed, "5.3.4")

	srv = server(t, smtptest.ServerOptions{Without: []string{"8BITMIME"}})
	d = newDialer().route("192.0.2.1:25", srv.Addr())
	msg, err := message.FromReader(strings.NewReader("From: a@sender.test\r\nSubject: x\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"), message.DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Close()
	outs := Deliver(context.Background(), Request{From: "a@sender.test", To: []string{"a@example.test"}, Msg: msg}, testOptions(mxMock(), d))
	want(t, outs[0], Failed, "5.6.3")
	if len(srv.Messages()) != 0 {
		t.Error("8-bit message sent without 8BITMIME")
	}
}
