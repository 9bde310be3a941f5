package dnssectest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestPeerVerdict(t *testing.T) {
	missing := errors.New("not installed here: nsd (Debian package nsd)")
	if fatal, skip := peerVerdict(nil, true); fatal != "" || skip != "" {
		t.Errorf("found: %q, %q", fatal, skip)
	}
	if fatal, skip := peerVerdict(missing, false); fatal != "" || !strings.Contains(skip, "nsd (Debian package nsd)") {
		t.Errorf("missing: %q, %q", fatal, skip)
	}
	if fatal, skip := peerVerdict(missing, true); skip != "" || !strings.Contains(fatal, "SMTPKIT_REQUIRE_PEERS=1") || !strings.Contains(fatal, "not installed here") {
		t.Errorf("required: %q, %q", fatal, skip)
	}
}

// TestStart checks the resolver itself: AD for a signed zone, none for an unsigned one,
// SERVFAIL for a record whose signature was broken.
func TestStart(t *testing.T) {
	r := Start(t,
		Zone{Name: "signed.test.", Signed: true, Records: "www IN A 192.0.2.1\nbroken IN A 192.0.2.2", Tamper: func(z string) string {
			return strings.Replace(z, "192.0.2.2", "192.0.2.3", 1)
		}},
		Zone{Name: "Unsigned.Test", Records: "www IN A 192.0.2.4"},
	)
	if err := ready(r.Addr, "signed.test", true); err != nil {
		t.Error(err)
	}
	if err := ready(r.Addr, "unsigned.test", true); err == nil || !strings.Contains(err.Error(), "no AD bit") {
		t.Errorf("unsigned: %v", err)
	}
	if err := ready(r.AuthAddr, "signed.test", true); err == nil {
		t.Error("nsd itself set AD")
	}
	if err := lookupA(r.Addr, "www.signed.test", "192.0.2.1", true); err != nil {
		t.Error(err)
	}
	if err := lookupA(r.Addr, "broken.signed.test", "", false); err == nil || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Errorf("bogus: %v", err)
	}
	if !strings.Contains(r.Logs(), "unbound") {
		t.Errorf("logs: %s", r.Logs())
	}
}

// lookupA asks addr for name's A record and wants ip with (or without) AD.
func lookupA(addr, name, ip string, ad bool) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		return err
	}
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("A %s: %s", name, dns.RcodeToString[resp.Rcode])
	}
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok && a.A.String() == ip {
			if resp.AuthenticatedData != ad {
				return fmt.Errorf("A %s: AD %v", name, resp.AuthenticatedData)
			}
			return nil
		}
	}
	return fmt.Errorf("A %s: %v, want %s", name, resp.Answer, ip)
}
