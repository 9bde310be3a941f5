package tlspolicy

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// want is a reason a verdict must hold, with its status.
type want map[ReasonID]Status

// checkVerdict fails t unless v has every reason in w with its status, and OK agrees
// with the reasons.
func checkVerdict(t *testing.T, v Verdict, wantOK bool, w want) {
	t.Helper()
	if v.OK != wantOK {
		t.Errorf("OK = %v, want %v", v.OK, wantOK)
	}
	if (len(v.Failures()) == 0) != v.OK {
		t.Errorf("OK = %v with failures %v", v.OK, v.Failures())
	}
	for id, st := range w {
		r := v.Reason(id)
		if r == nil {
			t.Errorf("no reason %s", id)
			continue
		}
		if r.Status != st {
			t.Errorf("reason %s: status %s, want %s (%s)", id, r.Status, st, r.Text)
		}
		if r.Text == "" || strings.ToLower(r.Text[:1]) != r.Text[:1] && !strings.HasPrefix(r.Text, "TLS") && !strings.HasPrefix(r.Text, "MTA") {
			t.Errorf("reason %s: text %q", id, r.Text)
		}
	}
	if t.Failed() || testing.Verbose() {
		for _, r := range v.Reasons {
			t.Logf("  %s", r)
		}
	}
}

func TestEvaluate(t *testing.T) {
	p := newPKI(t)
	host := "mx.example.com"
	good := p.leaf(t, leafOpts{names: []string{host}})
	expired := p.leaf(t, leafOpts{names: []string{host}, notBefore: testNow.AddDate(0, -3, 0), notAfter: testNow.AddDate(0, 0, -2)})
	future := p.leaf(t, leafOpts{names: []string{host}, notBefore: testNow.AddDate(0, 0, 2), notAfter: testNow.AddDate(0, 3, 0)})
	soon := p.leaf(t, leafOpts{names: []string{host}, notAfter: testNow.AddDate(0, 0, 10)})
	wrong := p.leaf(t, leafOpts{names: []string{"other.example.org"}})
	ipLeaf := p.leaf(t, leafOpts{names: []string{"127.0.0.1", "::1"}})
	self := selfSignedLeaf(t, leafOpts{names: []string{host}})
	wild := p.leaf(t, leafOpts{names: []string{"*.example.net"}})

	oldPKI := newPKIInter(t, testNow.AddDate(-3, 0, 0), testNow.AddDate(0, 0, -1))
	underExpiredCA := oldPKI.leaf(t, leafOpts{names: []string{host}})

	none := tls.ConnectionState{}
	chain := connState(good, p.inter)
	verifyIn := Input{Level: LevelVerify, Host: host, Roots: p.pool, Now: testNow}
	with := func(in Input, f func(*Input)) Input { f(&in); return in }
	enforce := &Policy{Version: "STSv1", Mode: ModeEnforce, MX: []string{host, "*.example.net"}, MaxAge: 86400}
	testing_ := &Policy{Version: "STSv1", Mode: ModeTesting, MX: []string{host}, MaxAge: 86400}
	stsIn := Input{Level: LevelMTASTS, Host: host, Roots: p.pool, Now: testNow, STS: enforce}
	certPin := Pin{Kind: PinCert, SHA256: mustHex(t, CertSHA256(self))}
	spkiPin := Pin{Kind: PinSPKI, SHA256: mustHex(t, SPKISHA256(self))}
	otherPin := Pin{SHA256: mustHex(t, CertSHA256(good))}
	pinIn := Input{Level: LevelFingerprint, Host: "unrelated.example", Now: testNow, Pins: []Pin{otherPin, certPin}}

	tests := []struct {
		name   string
		state  tls.ConnectionState
		in     Input
		ok     bool
		want   want
		authed bool
	}{
		{"none/cleartext", none, Input{Level: LevelNone}, true, want{ReasonNoTLS: StatusInfo}, false},
		{"none/self-signed", connState(self), Input{Level: LevelNone, Host: host, Now: testNow}, true, want{ReasonTLS: StatusInfo, ReasonSelfSigned: StatusInfo, ReasonNameMatch: StatusInfo}, false},
		{"opportunistic/cleartext", none, Input{Level: LevelOpportunistic}, true, want{ReasonNoTLS: StatusWarn}, false},
		{"opportunistic/expired", connState(expired, p.inter), Input{Level: LevelOpportunistic, Roots: p.pool, Now: testNow}, true, want{ReasonExpired: StatusWarn, ReasonChainVerified: StatusInfo}, false},
		{"required/cleartext", none, Input{Level: LevelRequired}, false, want{ReasonNoTLS: StatusFail}, false},
		{"required/self-signed", connState(self), Input{Level: LevelRequired, Host: "x.example", Now: testNow}, true, want{ReasonSelfSigned: StatusWarn, ReasonNameMismatch: StatusWarn, ReasonDatesOK: StatusInfo}, false},
		{"required/no certificate", connState(), Input{Level: LevelRequired}, false, want{ReasonNoCertificate: StatusFail}, false},

		{"verify/good", chain, verifyIn, true, want{ReasonChainVerified: StatusPass, ReasonNameMatch: StatusPass, ReasonDatesOK: StatusPass}, true},
		{"verify/trailing dot and case", chain, with(verifyIn, func(in *Input) { in.Host = "MX.Example.COM." }), true, want{ReasonNameMatch: StatusPass}, true},
		{"verify/cleartext", none, verifyIn, false, want{ReasonNoTLS: StatusFail}, false},
		{"verify/no certificate", connState(), verifyIn, false, want{ReasonNoCertificate: StatusFail}, false},
		{"verify/missing intermediate", connState(good), verifyIn, false, want{ReasonUntrusted: StatusFail, ReasonNameMatch: StatusPass}, false},
		{"verify/system roots", chain, with(verifyIn, func(in *Input) { in.Roots = nil }), false, want{ReasonUntrusted: StatusFail}, false},
		{"verify/self-signed", connState(self), verifyIn, false, want{ReasonSelfSigned: StatusFail, ReasonNameMatch: StatusPass}, false},
		{"verify/wrong name", connState(wrong, p.inter), verifyIn, false, want{ReasonNameMismatch: StatusFail, ReasonChainVerified: StatusPass}, false},
		{"verify/alt name", connState(wrong, p.inter), with(verifyIn, func(in *Input) { in.AltNames = []string{"other.example.org."} }), true, want{ReasonNameMatch: StatusPass}, true},
		{"verify/no host", chain, with(verifyIn, func(in *Input) { in.Host = "" }), false, want{ReasonNoName: StatusFail}, false},
		{"verify/ip", connState(ipLeaf, p.inter), with(verifyIn, func(in *Input) { in.Host = "::1" }), true, want{ReasonNameMatch: StatusPass}, true},
		{"verify/ip mismatch", connState(ipLeaf, p.inter), with(verifyIn, func(in *Input) { in.Host = "127.0.0.2" }), false, want{ReasonNameMismatch: StatusFail}, false},
		{"verify/wildcard", connState(wild, p.inter), with(verifyIn, func(in *Input) { in.Host = "mx1.example.net" }), true, want{ReasonNameMatch: StatusPass}, true},
		{"verify/wildcard two labels", connState(wild, p.inter), with(verifyIn, func(in *Input) { in.Host = "a.mx1.example.net" }), false, want{ReasonNameMismatch: StatusFail}, false},
		{"verify/expired", connState(expired, p.inter), verifyIn, false, want{ReasonExpired: StatusFail, ReasonChainVerified: StatusPass}, false},
		{"verify/not yet valid", connState(future, p.inter), verifyIn, false, want{ReasonNotYetValid: StatusFail, ReasonChainVerified: StatusPass}, false},
		{"verify/expiring", connState(soon, p.inter), with(verifyIn, func(in *Input) { in.WarnDays = 30 }), true, want{ReasonExpiring: StatusWarn, ReasonDatesOK: StatusPass}, true},
		{"verify/not expiring", connState(soon, p.inter), with(verifyIn, func(in *Input) { in.WarnDays = 5 }), true, want{ReasonDatesOK: StatusPass}, true},
		{"verify/expired intermediate", connState(underExpiredCA, oldPKI.inter), with(verifyIn, func(in *Input) { in.Roots = oldPKI.pool }), false, want{ReasonChainInvalid: StatusFail, ReasonDatesOK: StatusPass}, false},
		{"verify/other root", chain, with(verifyIn, func(in *Input) { in.Roots = oldPKI.pool }), false, want{ReasonUntrusted: StatusFail}, false},
		{"unknown level", chain, Input{Level: "strict"}, false, want{ReasonUnknownLevel: StatusFail}, false},

		{"mta-sts/no policy cleartext", none, with(stsIn, func(in *Input) { in.STS = nil }), true, want{ReasonSTSNone: StatusInfo, ReasonNoTLS: StatusWarn}, false},
		{"mta-sts/mode none", connState(self), with(stsIn, func(in *Input) { in.STS = &Policy{Version: "STSv1", Mode: ModeNone} }), true, want{ReasonSTSNone: StatusInfo, ReasonSelfSigned: StatusWarn}, false},
		{"mta-sts/enforce good", chain, stsIn, true, want{ReasonSTSEnforce: StatusInfo, ReasonSTSMXMatch: StatusPass, ReasonChainVerified: StatusPass, ReasonNameMatch: StatusPass, ReasonSTSMatch: StatusPass}, true},
		{"mta-sts/enforce wildcard", connState(wild, p.inter), with(stsIn, func(in *Input) { in.Host = "mx2.example.net" }), true, want{ReasonSTSMXMatch: StatusPass, ReasonSTSMatch: StatusPass}, true},
		{"mta-sts/enforce mx not in policy", connState(wrong, p.inter), with(stsIn, func(in *Input) { in.Host = "other.example.org" }), false, want{ReasonSTSMXMismatch: StatusFail, ReasonNameMatch: StatusPass, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce cert for another host", connState(wrong, p.inter), stsIn, false, want{ReasonSTSMXMatch: StatusPass, ReasonNameMismatch: StatusFail, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce ignores alt names", connState(wrong, p.inter), with(stsIn, func(in *Input) { in.AltNames = []string{"other.example.org"} }), false, want{ReasonNameMismatch: StatusFail, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce untrusted", connState(self), stsIn, false, want{ReasonSelfSigned: StatusFail, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce expired", connState(expired, p.inter), stsIn, false, want{ReasonExpired: StatusFail, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce cleartext", none, stsIn, false, want{ReasonNoTLS: StatusFail, ReasonSTSMismatch: StatusFail}, false},
		{"mta-sts/enforce no host", chain, with(stsIn, func(in *Input) { in.Host = "" }), false, want{ReasonNoName: StatusFail}, false},
		{"mta-sts/testing untrusted", connState(self), with(stsIn, func(in *Input) { in.STS = testing_ }), true, want{ReasonSTSTesting: StatusInfo, ReasonSelfSigned: StatusWarn, ReasonSTSMismatch: StatusWarn}, false},
		{"mta-sts/testing good", chain, with(stsIn, func(in *Input) { in.STS = testing_ }), true, want{ReasonSTSMatch: StatusInfo, ReasonChainVerified: StatusInfo}, false},

		{"fingerprint/cert pin", connState(selfSignedLeaf(t, leafOpts{}), self), pinIn, false, want{ReasonPinMismatch: StatusFail}, false},
		{"fingerprint/cert pin leaf", connState(self), pinIn, true, want{ReasonPinMatch: StatusPass, ReasonNameMismatch: StatusInfo}, true},
		{"fingerprint/spki pin", connState(self), with(pinIn, func(in *Input) { in.Pins = []Pin{spkiPin} }), true, want{ReasonPinMatch: StatusPass}, true},
		{"fingerprint/spki pin is not a cert pin", connState(self), with(pinIn, func(in *Input) { in.Pins = []Pin{{Kind: PinCert, SHA256: spkiPin.SHA256}} }), false, want{ReasonPinMismatch: StatusFail}, false},
		{"fingerprint/mismatch", connState(good, p.inter), with(pinIn, func(in *Input) { in.Pins = []Pin{certPin} }), false, want{ReasonPinMismatch: StatusFail}, false},
		{"fingerprint/no pins", connState(self), with(pinIn, func(in *Input) { in.Pins = nil }), false, want{ReasonPinMismatch: StatusFail}, false},
		{"fingerprint/cleartext", none, pinIn, false, want{ReasonNoTLS: StatusFail}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.state, tt.in)
			checkVerdict(t, v, tt.ok, tt.want)
			if v.Authenticated != tt.authed {
				t.Errorf("Authenticated = %v, want %v", v.Authenticated, tt.authed)
			}
			if v.Level != tt.in.Level || v.TLS != tt.state.HandshakeComplete {
				t.Errorf("level %s, tls %v", v.Level, v.TLS)
			}
			if err := v.Err(); (err == nil) != tt.ok {
				t.Errorf("Err() = %v", err)
			} else if err != nil {
				var re *RejectError
				if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "tls "+string(tt.in.Level)) {
					t.Errorf("Err() = %v", err)
				}
			}
		})
	}
}

func TestEvaluateFacts(t *testing.T) {
	p := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}, notAfter: testNow.Add(10*24*time.Hour + time.Hour)})
	v := Evaluate(connState(leaf, p.inter), Input{Level: LevelVerify, Host: "mx.example.com.", Roots: p.pool, Now: testNow})
	if v.Host != "mx.example.com" || !v.ChainVerified || !v.NameMatched || v.DaysLeft != 10 || !v.NotAfter.Equal(leaf.NotAfter) || !v.NotBefore.Equal(leaf.NotBefore) {
		t.Errorf("verdict %+v", v)
	}
	expired := p.leaf(t, leafOpts{names: []string{"mx.example.com"}, notBefore: testNow.AddDate(0, -1, 0), notAfter: testNow.Add(-36 * time.Hour)})
	v = Evaluate(connState(expired, p.inter), Input{Level: LevelVerify, Host: "mx.example.com", Roots: p.pool, Now: testNow})
	if v.DaysLeft != -2 {
		t.Errorf("DaysLeft = %d, want -2", v.DaysLeft)
	}
	if r := v.Reason(ReasonExpired); r == nil || !strings.Contains(r.Text, "2 days ago") {
		t.Errorf("expired reason %+v", r)
	}
	// Now defaults to the wall clock: the test leaf is long expired by 2030, or not yet
	// valid before it.
	v = Evaluate(connState(leaf, p.inter), Input{Level: LevelVerify, Host: "mx.example.com", Roots: p.pool})
	if v.OK {
		t.Errorf("a certificate for 2030 verified at %v", time.Now())
	}
}

func TestVerdictJSON(t *testing.T) {
	p := newPKI(t)
	leaf := p.leaf(t, leafOpts{names: []string{"mx.example.com"}})
	v := Evaluate(connState(leaf, p.inter), Input{Level: LevelDANE, Host: "mx.example.com", Now: testNow, TLSA: []TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: mustHex(t, SPKISHA256(leaf)), AD: true}}})
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, key := range []string{`"ok":true`, `"level":"dane"`, `"host":"mx.example.com"`, `"tls":true`, `"authenticated":true`, `"chain_verified":false`, `"name_matched":true`, `"not_after":`, `"days_left":60`, `"dane_match":{"usage":3,"selector":1,"matching_type":1,"data":"` + SPKISHA256(leaf) + `","ad":true}`, `"reasons":[{"id":"tls","status":"info","text":"TLS 1.3 with TLS_AES_128_GCM_SHA256"}`, `"id":"dane-match","status":"pass"`} {
		if !strings.Contains(s, key) {
			t.Errorf("JSON lacks %s:\n%s", key, s)
		}
	}
	if strings.Contains(s, "mta_sts_mode") {
		t.Errorf("empty mta_sts_mode in %s", s)
	}
}

func TestRejectError(t *testing.T) {
	v := Evaluate(tls.ConnectionState{}, Input{Level: LevelVerify, Host: "mx.example.com"})
	err := v.Err()
	want := "tls verify for mx.example.com: no-tls: the connection is not encrypted; level verify requires TLS"
	if err == nil || err.Error() != want {
		t.Errorf("Err() = %v, want %q", err, want)
	}
	v = Evaluate(tls.ConnectionState{}, Input{Level: LevelOpportunistic})
	if err := v.Err(); err != nil {
		t.Errorf("opportunistic cleartext: %v", err)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{
		"none": LevelNone, "may": LevelOpportunistic, "Opportunistic": LevelOpportunistic, "encrypt": LevelRequired,
		"required": LevelRequired, "verify": LevelVerify, "secure": LevelVerify, "dane": LevelDANE, " dane-only ": LevelDANEOnly,
		"mta-sts": LevelMTASTS, "mtasts": LevelMTASTS, "fingerprint": LevelFingerprint,
	} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("strict"); err == nil || !strings.Contains(err.Error(), "none, opportunistic, required, verify, dane, dane-only, mta-sts, fingerprint") {
		t.Errorf("err = %v", err)
	}
}
