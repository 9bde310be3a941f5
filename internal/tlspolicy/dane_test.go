package tlspolicy

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
)

// tlsaFor makes a validated record of the given kind for c.
func tlsaFor(usage, sel, mt uint8, c *x509.Certificate) TLSA {
	content := c.Raw
	if sel == SelectorSPKI {
		content = c.RawSubjectPublicKeyInfo
	}
	data := content
	switch mt {
	case MatchSHA256:
		s := sha256.Sum256(content)
		data = s[:]
	case MatchSHA512:
		s := sha512.Sum512(content)
		data = s[:]
	}
	return TLSA{Usage: usage, Selector: sel, MatchingType: mt, Data: data, AD: true}
}

// TestDANEMatrix checks every usable usage, selector and matching type against the chain
// it was made for, and against another one.
func TestDANEMatrix(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	host := "mx.example.com"
	leaf := p.leaf(t, leafOpts{names: []string{host}})
	otherLeaf := other.leaf(t, leafOpts{names: []string{host}})
	for _, usage := range []uint8{UsageDANETA, UsageDANEEE} {
		for _, sel := range []uint8{SelectorCert, SelectorSPKI} {
			for _, mt := range []uint8{MatchFull, MatchSHA256, MatchSHA512} {
				target, otherTarget := leaf, otherLeaf
				if usage == UsageDANETA {
					target, otherTarget = p.inter, other.inter
				}
				rec := tlsaFor(usage, sel, mt, target)
				t.Run(fmt.Sprintf("%d %d %d", usage, sel, mt), func(t *testing.T) {
					if ok, why := rec.Usable(); !ok {
						t.Fatalf("unusable: %s", why)
					}
					in := Input{Level: LevelDANE, Host: host, Now: testNow, TLSA: []TLSA{rec}}
					v := Evaluate(connState(leaf, p.inter), in)
					checkVerdict(t, v, true, want{ReasonDANEMatch: StatusPass, ReasonUntrusted: StatusInfo})
					if !v.Authenticated || v.DANEMatch == nil || v.DANEMatch.String() != rec.String() {
						t.Errorf("authenticated %v by %v", v.Authenticated, v.DANEMatch)
					}
					in.TLSA = []TLSA{tlsaFor(usage, sel, mt, otherTarget)}
					v = Evaluate(connState(leaf, p.inter), in)
					checkVerdict(t, v, false, want{ReasonDANEMismatch: StatusFail})
					if v.Authenticated || v.DANEMatch != nil {
						t.Errorf("authenticated by %v", v.DANEMatch)
					}
				})
			}
		}
	}
}

func TestDANE(t *testing.T) {
	p := newPKI(t)
	host := "mx.example.com"
	leaf := p.leaf(t, leafOpts{names: []string{host}})
	expired := p.leaf(t, leafOpts{names: []string{host}, notBefore: testNow.AddDate(-1, 0, 0), notAfter: testNow.AddDate(0, 0, -3)})
	wrong := p.leaf(t, leafOpts{names: []string{"other.example.org"}})
	// A self-signed, expired certificate for another name: DANE-EE does not care.
	junk := selfSignedLeaf(t, leafOpts{names: []string{"localhost"}, notBefore: testNow.AddDate(-2, 0, 0), notAfter: testNow.AddDate(-1, 0, 0)})
	chain := connState(leaf, p.inter)
	ee := tlsaFor(UsageDANEEE, SelectorSPKI, MatchSHA256, leaf)
	ta := tlsaFor(UsageDANETA, SelectorSPKI, MatchSHA256, p.inter)
	rootTA := tlsaFor(UsageDANETA, SelectorCert, MatchSHA256, p.root)
	rootKey := tlsaFor(UsageDANETA, SelectorSPKI, MatchFull, p.root)
	notAD := func(r TLSA) TLSA { r.AD = false; return r }
	usage := func(r TLSA, u uint8) TLSA { r.Usage = u; return r }
	in := func(level Level, recs ...TLSA) Input {
		return Input{Level: level, Host: host, Now: testNow, TLSA: recs}
	}

	tests := []struct {
		name   string
		state  tls.ConnectionState
		in     Input
		ok     bool
		want   want
		authed bool
	}{
		{"EE ignores name, dates and trust", connState(junk), in(LevelDANE, tlsaFor(UsageDANEEE, SelectorCert, MatchSHA256, junk)), true,
			want{ReasonDANEMatch: StatusPass, ReasonSelfSigned: StatusInfo, ReasonNameMismatch: StatusInfo, ReasonExpired: StatusInfo}, true},
		{"EE with no host", connState(junk), Input{Level: LevelDANEOnly, Now: testNow, TLSA: []TLSA{tlsaFor(UsageDANEEE, SelectorSPKI, MatchSHA512, junk)}}, true, want{ReasonDANEMatch: StatusPass}, true},
		{"EE matches only the leaf", chain, in(LevelDANE, tlsaFor(UsageDANEEE, SelectorSPKI, MatchSHA256, p.inter)), false, want{ReasonDANEMismatch: StatusFail}, false},
		{"TA with the name", chain, in(LevelDANE, ta), true, want{ReasonDANEMatch: StatusPass, ReasonNameMatch: StatusInfo}, true},
		{"TA checks the name", connState(wrong, p.inter), in(LevelDANE, ta), false, want{ReasonDANETANameMismatch: StatusFail, ReasonNameMismatch: StatusInfo}, false},
		{"TA accepts an alt name", connState(wrong, p.inter), func() Input { i := in(LevelDANE, ta); i.AltNames = []string{"other.example.org"}; return i }(), true, want{ReasonDANEMatch: StatusPass}, true},
		{"TA without a host", chain, func() Input { i := in(LevelDANE, ta); i.Host = ""; return i }(), false, want{ReasonDANETANameMismatch: StatusFail}, false},
		{"TA checks dates", connState(expired, p.inter), in(LevelDANE, ta), false, want{ReasonDANEMismatch: StatusFail, ReasonExpired: StatusInfo}, false},
		{"TA root sent in the chain", connState(leaf, p.inter, p.root), in(LevelDANE, rootTA), true, want{ReasonDANEMatch: StatusPass}, true},
		{"TA root not sent", chain, in(LevelDANE, rootTA), false, want{ReasonDANEMismatch: StatusFail}, false},
		{"TA root public key not sent (2 1 0)", chain, in(LevelDANE, rootKey), true, want{ReasonDANEMatch: StatusPass}, true},
		{"TA another root's public key (2 1 0)", chain, in(LevelDANE, tlsaFor(UsageDANETA, SelectorSPKI, MatchFull, newPKI(t).root)), false, want{ReasonDANEMismatch: StatusFail}, false},
		{"TA root public key, missing intermediate", connState(leaf), in(LevelDANE, rootKey), false, want{ReasonDANEMismatch: StatusFail}, false},
		{"TA on a chain without that CA", connState(leaf, p.inter), in(LevelDANE, tlsaFor(UsageDANETA, SelectorSPKI, MatchSHA256, newPKI(t).inter)), false, want{ReasonDANEMismatch: StatusFail}, false},
		{"one of several matches", chain, in(LevelDANE, tlsaFor(UsageDANEEE, SelectorSPKI, MatchSHA256, junk), ta), true, want{ReasonDANEMatch: StatusPass}, true},

		{"not AD: ignored, opportunistic", chain, in(LevelDANE, notAD(ee)), true, want{ReasonDANEInsecure: StatusInfo, ReasonDANENoRecords: StatusInfo}, false},
		{"not AD: ignored, cleartext allowed", tls.ConnectionState{}, in(LevelDANE, notAD(ee)), true, want{ReasonDANEInsecure: StatusInfo, ReasonNoTLS: StatusWarn}, false},
		{"not AD: dane-only fails", chain, in(LevelDANEOnly, notAD(ee)), false, want{ReasonDANEInsecure: StatusInfo, ReasonDANENoRecords: StatusFail}, false},
		{"not AD match does not count", chain, in(LevelDANE, notAD(ee), tlsaFor(UsageDANEEE, SelectorSPKI, MatchSHA256, junk)), false, want{ReasonDANEInsecure: StatusInfo, ReasonDANEMismatch: StatusFail}, false},
		{"no records", chain, in(LevelDANE), true, want{ReasonDANENoRecords: StatusInfo}, false},
		{"no records, dane-only", chain, in(LevelDANEOnly), false, want{ReasonDANENoRecords: StatusFail}, false},
		{"usage 0 ignored", chain, in(LevelDANE, usage(rootTA, UsagePKIXTA)), true, want{ReasonTLSAIgnored: StatusInfo, ReasonDANEUnusable: StatusWarn}, false},
		{"usage 1 ignored", chain, in(LevelDANE, usage(ee, UsagePKIXEE)), true, want{ReasonTLSAIgnored: StatusInfo, ReasonDANEUnusable: StatusWarn}, false},
		{"usage 1 ignored, dane-only", chain, in(LevelDANEOnly, usage(ee, UsagePKIXEE)), false, want{ReasonDANEUnusable: StatusFail}, false},
		{"unusable records make TLS mandatory", tls.ConnectionState{}, in(LevelDANE, usage(ee, UsagePKIXEE)), false, want{ReasonTLSAIgnored: StatusInfo, ReasonNoTLS: StatusFail}, false},
		{"usable records make TLS mandatory", tls.ConnectionState{}, in(LevelDANE, ee), false, want{ReasonNoTLS: StatusFail}, false},
		{"usage 1 beside a matching 3", chain, in(LevelDANE, usage(ee, UsagePKIXEE), ee), true, want{ReasonTLSAIgnored: StatusInfo, ReasonDANEMatch: StatusPass}, true},
		{"no certificate", connState(), in(LevelDANE, ee), false, want{ReasonNoCertificate: StatusFail}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.state, tt.in)
			checkVerdict(t, v, tt.ok, tt.want)
			if v.Authenticated != tt.authed {
				t.Errorf("Authenticated = %v, want %v", v.Authenticated, tt.authed)
			}
		})
	}
}

func TestTLSAUsable(t *testing.T) {
	d32, d64 := make([]byte, 32), make([]byte, 64)
	tests := []struct {
		rec TLSA
		why string
	}{
		{TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d32}, ""},
		{TLSA{Usage: 2, Selector: 0, MatchingType: 2, Data: d64}, ""},
		{TLSA{Usage: 3, Selector: 0, MatchingType: 0, Data: []byte{1}}, ""},
		{TLSA{Usage: 0, Selector: 1, MatchingType: 1, Data: d32}, "usage 0 (PKIX) is unusable for SMTP (RFC 7672 3.1.3)"},
		{TLSA{Usage: 1, Selector: 1, MatchingType: 1, Data: d32}, "usage 1 (PKIX) is unusable"},
		{TLSA{Usage: 4, Selector: 1, MatchingType: 1, Data: d32}, "usage 4 is unknown"},
		{TLSA{Usage: 3, Selector: 2, MatchingType: 1, Data: d32}, "selector 2 is unknown"},
		{TLSA{Usage: 3, Selector: 1, MatchingType: 3, Data: d32}, "matching type 3 is unknown"},
		{TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d64}, "SHA-256 digest of 64 bytes"},
		{TLSA{Usage: 3, Selector: 1, MatchingType: 2, Data: d32}, "SHA-512 digest of 32 bytes"},
	}
	for _, tt := range tests {
		ok, why := tt.rec.Usable()
		if ok != (tt.why == "") || !strings.Contains(why, tt.why) {
			t.Errorf("%s: Usable = %v, %q; want %q", tt.rec, ok, why, tt.why)
		}
	}
	p := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}})
	// An unknown selector or matching type matches nothing, even with the right data.
	for _, r := range []TLSA{{Selector: 2, MatchingType: 0, Data: leaf.Raw}, {Selector: 0, MatchingType: 9, Data: leaf.Raw}} {
		if r.Matches(leaf) {
			t.Errorf("%s matches", r)
		}
	}
}

func TestTLSARecord(t *testing.T) {
	p := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}})
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	cert := sha256.Sum256(leaf.Raw)
	if got := SPKISHA256(leaf); got != fmt.Sprintf("%x", spki) {
		t.Errorf("SPKISHA256 = %s", got)
	}
	if got := CertSHA256(leaf); got != fmt.Sprintf("%x", cert) {
		t.Errorf("CertSHA256 = %s", got)
	}
	if got, want := TLSARecord(leaf, "", 25), fmt.Sprintf("3 1 1 %x", spki); got != want {
		t.Errorf("TLSARecord = %q, want %q", got, want)
	}
	if got, want := TLSARecord(leaf, "MX.example.com.", 25), fmt.Sprintf("_25._tcp.MX.example.com. IN TLSA 3 1 1 %x", spki); got != want {
		t.Errorf("TLSARecord = %q, want %q", got, want)
	}
	rec := TLSAFor(leaf)
	rec.AD = true
	if !rec.Matches(leaf) || rec.Usage != 3 || rec.Selector != 1 || rec.MatchingType != 1 {
		t.Errorf("TLSAFor = %+v", rec)
	}
	parsed, err := ParseTLSA(TLSARecord(leaf, "", 25))
	if err != nil || parsed.String() != TLSAFor(leaf).String() || parsed.AD {
		t.Errorf("ParseTLSA = %+v, %v", parsed, err)
	}
	// Presentation form may split the hex.
	if r, err := ParseTLSA("2 0 1 0a0b\n 0C0d"); err != nil || r.String() != "2 0 1 0a0b0c0d" {
		t.Errorf("ParseTLSA split = %v, %v", r, err)
	}
	for _, bad := range []string{"", "3 1 1", "3 1 x 00", "256 1 1 00", "3 1 1 0g", "-1 1 1 00"} {
		if _, err := ParseTLSA(bad); err == nil {
			t.Errorf("ParseTLSA(%q): no error", bad)
		}
	}
}

func TestLookupTLSA(t *testing.T) {
	data := make([]byte, 32)
	data[0] = 0xab
	m := dnstest.NewMock()
	m.Add(dnsx.Record{Name: "_25._tcp.secure.example", Type: dnsx.TypeTLSA, TLSA: &dnsx.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: data}},
		dnsx.Record{Name: "_25._tcp.secure.example", Type: dnsx.TypeTLSA, TLSA: &dnsx.TLSA{Usage: 2, Selector: 0, MatchingType: 2, Data: make([]byte, 64)}}).AD("_25._tcp.secure.example")
	m.Add(dnsx.Record{Name: "_465._tcp.plain.example", Type: dnsx.TypeTLSA, TLSA: &dnsx.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: data}})
	m.Add(dnsx.Record{Name: "_25._tcp.nodata.example", Type: dnsx.TypeTXT, Text: "x"})
	m.Fail("_25._tcp.broken.example", dnsx.TypeTLSA, dnsx.KindServFail)
	ctx := context.Background()

	recs, err := LookupTLSA(ctx, m, "Secure.Example.", 25)
	if err != nil || len(recs) != 2 || !recs[0].AD || !recs[1].AD || recs[0].String() != "3 1 1 ab"+strings.Repeat("00", 31) {
		t.Errorf("secure: %v, %v", recs, err)
	}
	recs, err = LookupTLSA(ctx, m, "plain.example", 465)
	if err != nil || len(recs) != 1 || recs[0].AD {
		t.Errorf("plain: %v, %v", recs, err)
	}
	for _, h := range []string{"nodata.example", "missing.example"} {
		if recs, err := LookupTLSA(ctx, m, h, 25); err != nil || len(recs) != 0 {
			t.Errorf("%s: %v, %v", h, recs, err)
		}
	}
	if _, err := LookupTLSA(ctx, m, "broken.example", 25); dnsx.KindOf(err) != dnsx.KindServFail {
		t.Errorf("broken: %v", err)
	}
	if q := m.Queries()[0]; q.Name != "_25._tcp.secure.example" || q.Type != dnsx.TypeTLSA {
		t.Errorf("asked %v", q)
	}
}
