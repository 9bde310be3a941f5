package mda

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// TestMailboxAsWritten: a --mailbox reaches its maildir spelt as written,
// folded like Route folds (ASCII only), and a look-alike does not catch
// the ASCII name; a domain with a control character is bad syntax; a PTR
// name cannot add a header field (found by FuzzRoute, FuzzTraceHeaders).
func TestMailboxAsWritten(t *testing.T) {
	p := &Policy{Mailboxes: map[string]string{}, Default: "/m/default"}
	for _, v := range []string{"ÄNN@example.com=/m/ann", "\u212aim@example.com=/m/kelvin", "dot@Example.COM.=/m/dot"} {
		addr, dir, err := ParseMailbox(v)
		if err != nil {
			t.Fatal(err)
		}
		p.Mailboxes[addr] = dir
	}
	for addr, want := range map[string]string{
		"ÄNN@example.com": "/m/ann", "änn@example.com": "/m/default", "\u212aim@EXAMPLE.com": "/m/kelvin",
		"kim@example.com": "/m/default", "DOT@example.com": "/m/dot",
	} {
		if got, ref := p.Route(addr); got != want {
			t.Errorf("Route(%q) = %q, %v; want %q", addr, got, ref, want)
		}
	}
	if _, ref := p.Route("a@exa\r\nmple.com"); ref == nil || ref.Code != 501 {
		t.Errorf("a CR LF in the domain: %v, want 501", ref)
	}
	b := New(Options{Hostname: "mx.test", Policy: p, Sink: true,
		ReverseDNS: func(context.Context, string) (string, error) { return "evil\r\nX-Bad: 1.", nil }})
	s, _ := b.NewSession(&smtp.ConnState{Remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}})
	if h := string(s.(*session).traceHeaders("a@b", true)); strings.Contains(h, "\r\nX-Bad") {
		t.Errorf("PTR name injected a field:\n%s", h)
	}
}
