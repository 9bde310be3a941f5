package mxcheck

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/records"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func first(int) int { return 0 }

// zone is a mock with the cases of the unit tests.
func zone() *dnstest.Mock {
	return dnstest.NewMock().
		MX("good.test", 10, "mx1.good.test").MX("good.test", 20, "mx2.good.test").
		IP("mx1.good.test", "192.0.2.1", "2001:db8::1").IP("mx2.good.test", "192.0.2.2").
		PTR("192.0.2.1", "mx1.good.test").PTR("192.0.2.2", "elsewhere.test").
		TXT("good.test", "v=spf1 include:_spf.good.test -all", "other").
		TXT("_spf.good.test", "v=spf1 a mx -all").
		TXT("_dmarc.good.test", "v=DMARC1; p=quarantine; rua=mailto:d@good.test").
		TXT("_smtp._tls.good.test", "v=TLSRPTv1; rua=mailto:t@good.test").
		TXT("s1._domainkey.good.test", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").
		Add(dnsx.Record{Name: "_25._tcp.mx1.good.test", Type: dnsx.TypeTLSA, TLSA: &dnsx.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{0xab, 0xcd}}}).
		AD("good.test").AD("mx1.good.test").AD("mx2.good.test").
		// sub.good.test inherits DMARC from good.test, has p=none there? no:
		// it has no _dmarc and no SPF.
		MX("sub.good.test", 10, "mx1.good.test").
		IP("bare.test", "192.0.2.30").
		TXT("_dmarc.bare.test", "v=DMARC1; p=none").
		MX("null.test", 0, ".").
		Fail("sf.test", dnsx.TypeMX, dnsx.KindServFail).
		MX("half.test", 10, "gone.half.test").MX("half.test", 20, "mx2.good.test")
}

func newChecker(r dnsx.Resolver) *Checker {
	return &Checker{Resolver: r, TrustedResolver: true, Intn: first, Records: map[Record]bool{}}
}

func TestRoute(t *testing.T) {
	c := newChecker(zone())
	ctx := context.Background()
	r := c.Domain(ctx, "Good.TEST.")
	if r.Status != StatusOK || r.Domain != "good.test" || r.Input != "Good.TEST." || len(r.MX) != 2 {
		t.Fatalf("good.test: %+v", r)
	}
	if h := r.MX[0]; h.Host != "mx1.good.test" || h.Preference != 10 || h.TTL != 300 || len(h.Addresses) != 2 || !h.AD {
		t.Errorf("first hop: %+v", h)
	}
	if r.DNSSEC == nil || !r.DNSSEC.MXAD || !r.DNSSEC.HostsAD || !r.DNSSEC.TrustedResolver {
		t.Errorf("dnssec: %+v", r.DNSSEC)
	}
	r = c.Domain(ctx, "bare.test")
	if r.Status != StatusOK || !r.ImplicitMX || r.MX[0].Host != "bare.test" || r.DNSSEC.MXAD {
		t.Errorf("bare.test: %+v", r)
	}
	r = c.Domain(ctx, "half.test")
	if r.Status != StatusOK || r.MX[0].Error == "" || len(r.MX[0].Addresses) != 0 {
		t.Errorf("half.test: the host without address must be reported: %+v", r)
	}
	for in, want := range map[string]Status{
		"null.test": StatusNullMX, "nx.test": StatusNoSuchDomain, "sf.test": StatusTemporary,
		"a b.test": StatusInvalid, "": StatusInvalid,
	} {
		r := c.Domain(ctx, in)
		if r.Status != want || r.Error == "" || strings.HasPrefix(r.Error, in+":") && in != "" {
			t.Errorf("%q: status %s error %q, want %s", in, r.Status, r.Error, want)
		}
		if r.MX == nil || r.Findings == nil {
			t.Errorf("%q: nil lists", in)
		}
	}
	if r := c.Domain(ctx, "null.test"); !r.NullMX {
		t.Error("null.test: NullMX not set")
	}
}

func TestRecords(t *testing.T) {
	c := newChecker(zone())
	for _, r := range AllRecords {
		c.Records[r] = r != RecordMTASTS
	}
	c.DKIMSelectors = []string{"s1", "nope"}
	ctx := context.Background()
	r := c.Domain(ctx, "good.test")
	if r.SPF == nil || r.SPF.Record != "v=spf1 include:_spf.good.test -all" || r.SPF.Lookups != 3 || r.SPF.Error != "" {
		t.Errorf("spf: %+v", r.SPF)
	}
	if r.DMARC == nil || r.DMARC.DMARC == nil || r.DMARC.Policy != records.DMARCQuarantine || r.DMARC.OrganizationalDomain != "" || r.DMARC.Name != "_dmarc.good.test" {
		t.Errorf("dmarc: %+v", r.DMARC)
	}
	if r.TLSRPT == nil || r.TLSRPT.TLSRPT == nil {
		t.Errorf("tls-rpt: %+v", r.TLSRPT)
	}
	if t1 := r.MX[0].TLSA; t1 == nil || len(t1.Records) != 1 || t1.Records[0].Data != "abcd" || t1.Name != "_25._tcp.mx1.good.test" {
		t.Errorf("tlsa mx1: %+v", t1)
	}
	if t2 := r.MX[1].TLSA; t2 == nil || len(t2.Records) != 0 || t2.Error != "" {
		t.Errorf("tlsa mx2: %+v", t2)
	}
	ptr := func(i, j int) *PTR { return r.MX[i].Addresses[j].PTR }
	if p := ptr(0, 0); p == nil || !p.FCrDNS || !slices.Equal(p.Names, []string{"mx1.good.test"}) {
		t.Errorf("ptr 192.0.2.1: %+v", p)
	}
	if p := ptr(1, 0); p == nil || p.FCrDNS || len(p.Names) != 1 {
		t.Errorf("ptr 192.0.2.2: %+v", p)
	}
	if p := ptr(0, 1); p == nil || p.FCrDNS || len(p.Names) != 0 {
		t.Errorf("ptr 2001:db8::1: %+v", p)
	}
	if len(r.DKIM) != 2 || r.DKIM[0].DKIMKey == nil || r.DKIM[0].KeyType != "ed25519" || r.DKIM[1].Error == "" {
		t.Errorf("dkim: %+v", r.DKIM)
	}

	// sub.good.test: no SPF; DMARC from the organizational domain.
	r = c.Domain(ctx, "sub.good.test")
	if r.SPF.Record != "" || len(r.SPF.Problems) == 0 {
		t.Errorf("sub spf: %+v", r.SPF)
	}
	if d := r.DMARC; d.DMARC == nil || d.OrganizationalDomain != "good.test" || d.Name != "_dmarc.good.test" {
		t.Errorf("sub dmarc: %+v", d)
	}
}

func TestFindings(t *testing.T) {
	fails, err := ParseFindings(strings.Join(func() []string {
		var s []string
		for _, f := range AllFindings {
			s = append(s, string(f))
		}
		return s
	}(), ","))
	if err != nil || len(fails) != len(AllFindings) {
		t.Fatal(fails, err)
	}
	if _, err := ParseFindings("no-spf,bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("bogus: %v", err)
	}
	c := newChecker(zone())
	c.FailOn = []Finding{FindNoMX, FindNullMX, FindNoSPF, FindNoDMARC, FindDMARCNone, FindNoTLSA, FindNoFCrDNS}
	for _, f := range c.FailOn {
		if rec, _ := f.Needs(); rec != "" {
			c.Records[rec] = true
		}
	}
	ctx := context.Background()
	for domain, want := range map[string][]string{
		"good.test": {"no-tlsa", "no-fcrdns"},
		"bare.test": {"no-mx", "no-spf", "dmarc-none", "no-tlsa", "no-fcrdns"},
		"null.test": {"null-mx", "no-spf", "no-dmarc"},
		"nx.test":   {"no-mx"},
		"sf.test":   {},
		"a..b":      {},
	} {
		r := c.Domain(ctx, domain)
		if !slices.Equal(r.Findings, want) {
			t.Errorf("%s: findings %v, want %v", domain, r.Findings, want)
		}
	}
}

// TestCheck runs --check against a loopback SMTP server with STARTTLS, one
// without, and an address where nothing listens.
func TestCheck(t *testing.T) {
	certs := smtptest.Cert(t, "mx.check.test")
	tlsSrv := smtptest.NewServer(t, smtptest.ServerOptions{Hostname: "mx.check.test", Certs: certs})
	port, _ := strconv.Atoi(tlsSrv.Port())
	m := dnstest.NewMock().
		MX("check.test", 10, "mx.check.test").IP("mx.check.test", "127.0.0.1", "::1").
		MX("other.test", 10, "mx.other.test").IP("mx.other.test", "127.0.0.1")
	c := newChecker(m)
	c.Check, c.Port, c.Roots, c.EHLO = true, port, certs.Pool, "client.test"
	c.FailOn = []Finding{FindUnreachable, FindNoSTARTTLS}
	ctx := context.Background()
	r := c.Domain(ctx, "check.test")
	if len(r.MX) != 1 || len(r.MX[0].Addresses) != 2 {
		t.Fatalf("check.test: %+v", r)
	}
	ck := r.MX[0].Addresses[0].Check
	if ck == nil || !ck.Reachable || !ck.EHLO || !ck.STARTTLS || !ck.TLS || !ck.CertNamesHost || !ck.CertVerified ||
		!strings.HasPrefix(ck.Banner, "220 mx.check.test") || !strings.HasPrefix(ck.TLSVersion, "TLS 1.") || ck.Error != "" {
		t.Errorf("127.0.0.1: %+v", ck)
	}
	// ::1 may or may not have the port free; it is not this server unless
	// the server listens there, which it does not.
	if ck6 := r.MX[0].Addresses[1].Check; ck6 == nil || ck6.Reachable || !strings.HasPrefix(ck6.Error, "connect:") {
		t.Errorf("::1: %+v", ck6)
	}
	if !slices.Equal(r.Findings, []string{"unreachable"}) {
		t.Errorf("findings %v", r.Findings)
	}
	// The same server seen as mx.other.test: the certificate names
	// another host.
	r = c.Domain(ctx, "other.test")
	if ck := r.MX[0].Addresses[0].Check; ck == nil || !ck.TLS || ck.CertNamesHost || ck.CertVerified || ck.CertError == "" {
		t.Errorf("other.test: %+v", ck)
	}

	plain := smtptest.NewServer(t, smtptest.ServerOptions{Hostname: "mx.check.test", NoStartTLS: true})
	c.Port, _ = strconv.Atoi(plain.Port())
	c.Family = "ip4"
	r = c.Domain(ctx, "check.test")
	if ck := r.MX[0].Addresses[0].Check; ck == nil || !ck.Reachable || ck.STARTTLS || ck.TLS {
		t.Errorf("no STARTTLS: %+v", ck)
	}
	if !slices.Equal(r.Findings, []string{"no-starttls"}) {
		t.Errorf("findings %v", r.Findings)
	}
}
