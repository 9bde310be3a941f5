package records

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var spfSeeds = []string{
	"v=spf1 -all",
	"V=SPF1 MX -ALL",
	"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/28//64 include:_spf.example.net exists:%{i}._spf.%{d} ~all exp=explain.%{d}",
	"v=spf1 ?include:example.com +a -mx ~all redirect=_spf.example.com",
	"v=spf1 a:%{d}/24//64 ptr:%{ir}.%{v}._spf.%{d2} exists:%{l1r+-}.%{d} foo=%{c}",
	"v=spf1 ip6:::ffff:192.0.2.1/128 ip4:0.0.0.0/0 -all",
	"v=spf1 include:50% a:192.0.2.1 ip4:1.2.3.4/33 -redirect=x redirect=",
	"v=spf1 exists:%{d.example.com %{} %a %",
	"v=spf1 a//129 mx:x.com/ a/024 ip6:fe80::1%eth0 include=x.com",
}

// FuzzParseSPF checks that ParseSPF never panics, accepts exactly what IsSPF accepts,
// produces JSON, and that a record without errors survives String: the canonical form
// parses without errors to the same mechanisms and modifiers.
func FuzzParseSPF(f *testing.F) {
	for _, s := range spfSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		spf, ps := ParseSPF(txt)
		if (spf != nil) != IsSPF(txt) {
			t.Fatalf("ParseSPF(%q) = %v but IsSPF = %v", txt, spf, IsSPF(txt))
		}
		if spf == nil {
			if !HasErrors(ps) {
				t.Fatalf("ParseSPF(%q) = nil without an error", txt)
			}
			return
		}
		if _, err := json.Marshal(spf); err != nil {
			t.Fatalf("json: %v", err)
		}
		for _, p := range ps {
			if p.Text == "" || (p.Severity != SeverityError && p.Severity != SeverityWarning) {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if HasErrors(ps) {
			return
		}
		canon := spf.String()
		again, ps2 := ParseSPF(canon)
		if again == nil || HasErrors(ps2) {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, txt, ps2)
		}
		if !sameSPF(spf, again) {
			t.Fatalf("round trip of %q through %q:\n got %+v\nwant %+v", txt, canon, again, spf)
		}
		if canon2 := again.String(); canon2 != canon {
			t.Fatalf("String not stable: %q then %q", canon, canon2)
		}
	})
}

// sameSPF compares two parses, ignoring Record and each mechanism's Term.
func sameSPF(a, b *SPF) bool {
	strip := func(s *SPF) SPF {
		c := *s
		c.Record = ""
		c.Mechanisms = nil
		for _, m := range s.Mechanisms {
			m.Term = ""
			c.Mechanisms = append(c.Mechanisms, m)
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// FuzzParseDMARC checks that ParseDMARC never panics, accepts exactly what IsDMARC
// accepts, and that what it returns keeps its documented ranges.
func FuzzParseDMARC(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=none",
		"v=DMARC1;p=reject;",
		"v=DMARC1; p=quarantine; sp=reject; pct=50; adkim=s; aspf=r; rua=mailto:agg@example.com,mailto:agg@example.net!10m; ruf=mailto:fail@example.com; fo=1:d; rf=afrf; ri=3600",
		"v=DMARC1; P=Reject; pct=101; rua=dmarc@example.com!1x; fo=2; ri=-1",
		"v=DMARC1;; p=none; p=reject; 1x=y; rua=mailto:a%zz@b,,https://x/; np=none",
		"v=DMARC1; rua=mailto:a@example.com!99999999999999t; ruf=ftp://x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		d, ps := ParseDMARC(txt)
		if (d != nil) != IsDMARC(txt) {
			t.Fatalf("ParseDMARC(%q) = %v but IsDMARC = %v", txt, d, IsDMARC(txt))
		}
		if d == nil {
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("json: %v", err)
		}
		if d.Percent < 0 || d.Percent > 100 {
			t.Fatalf("percent %d", d.Percent)
		}
		for _, p := range []DMARCPolicy{d.Policy, d.SubdomainPolicy} {
			switch p {
			case "", DMARCNone, DMARCQuarantine, DMARCReject:
			default:
				t.Fatalf("policy %q", p)
			}
		}
		if d.Policy == "" && !HasErrors(ps) {
			t.Fatalf("no policy and no error for %q", txt)
		}
		for _, a := range []Alignment{d.DKIMAlignment, d.SPFAlignment} {
			if a != AlignRelaxed && a != AlignStrict {
				t.Fatalf("alignment %q", a)
			}
		}
		for _, u := range append(d.AggregateReports, d.FailureReports...) {
			if u.Scheme == "" || (u.Scheme == "mailto" && !strings.Contains(u.Address, "@")) {
				t.Fatalf("report URI %+v", u)
			}
		}
	})
}

// FuzzParseTLSRPT checks that ParseTLSRPT never panics and that an error-free record has
// report URIs, all mailto: or https:.
func FuzzParseTLSRPT(f *testing.F) {
	for _, s := range []string{
		"v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
		"v=TLSRPTv1 ;rua=mailto:a@example.com , https://reports.example.com/tlsrpt;ext_1=x;",
		"v=TLSRPTv1;; rua = x; rua=ftp://x; _x=1; y=a=b; z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, ps := ParseTLSRPT(txt)
		if (r != nil) != IsTLSRPT(txt) {
			t.Fatalf("ParseTLSRPT(%q) = %v but IsTLSRPT = %v", txt, r, IsTLSRPT(txt))
		}
		if r == nil || HasErrors(ps) {
			return
		}
		if len(r.ReportURIs) == 0 {
			t.Fatalf("no URIs and no error for %q", txt)
		}
		for _, u := range r.ReportURIs {
			if u.Scheme != "mailto" && u.Scheme != "https" {
				t.Fatalf("scheme %q accepted in %q", u.Scheme, txt)
			}
		}
	})
}

// FuzzParseDKIMKey checks that ParseDKIMKey never panics and reports sizes consistently.
func FuzzParseDKIMKey(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; p=",
		"k=rsa; v=DKIM1; h=sha1; s=foo; t=y:s; p=abc$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		k, _ := ParseDKIMKey(txt)
		if k == nil {
			return
		}
		if k.Revoked && k.KeyBits != 0 {
			t.Fatalf("revoked key with %d bits", k.KeyBits)
		}
		if k.KeyType == DKIMKeyEd25519 && k.KeyBits != 0 && k.KeyBits != 256 {
			t.Fatalf("ed25519 key with %d bits", k.KeyBits)
		}
	})
}
