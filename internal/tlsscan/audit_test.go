package tlsscan

import (
	"crypto/tls"
	"encoding/json"
	"slices"
	"testing"
)

func TestAuditGoTLS12Only(t *testing.T) {
	cert := newRSACert(t)
	suites := []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	}
	dial := serveTLS(t, &tls.Config{
		Certificates:     []tls.Certificate{cert.tls},
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS12,
		CipherSuites:     suites,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP384},
	})
	res := audit(t, dial, Options{})
	if got := res.Accepted(); !slices.Equal(got, []Version{TLS12}) {
		t.Fatalf("accepted versions %v, want [TLS 1.2]", got)
	}
	for _, v := range []Version{SSL30, TLS10, TLS11, TLS13} {
		if r := res.Version(v).Refusal; r == "" {
			t.Errorf("%s: no refusal recorded", v)
		}
	}
	v12 := res.Version(TLS12)
	if got, want := suiteSet(v12), sorted(suites...); !slices.Equal(got, want) {
		t.Errorf("TLS 1.2 suites %v, want %v", hexList(got), hexList(want))
	}
	if got, want := groupIDs(v12.Groups), []uint16{GroupX25519, GroupSecp384r1}; !slices.Equal(got, want) {
		t.Errorf("TLS 1.2 groups %v, want %v", got, want)
	}
	if !v12.SecureRenegotiation {
		t.Error("secure renegotiation not seen")
	}
	for _, s := range v12.Suites {
		if s.Kx == KxECDHE && (s.Group == nil || (s.Group.ID != GroupX25519 && s.Group.ID != GroupSecp384r1)) {
			t.Errorf("%s: group %v", s.Name, s.Group)
		}
		if s.ForwardSecrecy != (s.Kx == KxECDHE) {
			t.Errorf("%s: forward secrecy %v", s.Name, s.ForwardSecrecy)
		}
	}
	if res.FallbackSCSV != nil {
		t.Errorf("fallback scsv %v with one version", *res.FallbackSCSV)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", b)
}

func TestAuditGoAllVersions(t *testing.T) {
	cert := newRSACert(t)
	cbc := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}
	aead := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}
	dial := serveTLS(t, &tls.Config{
		Certificates:     []tls.Certificate{cert.tls},
		MinVersion:       tls.VersionTLS10,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     append(slices.Clone(aead), cbc...),
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	})
	res := audit(t, dial, Options{Concurrency: 3})
	if got := res.Accepted(); !slices.Equal(got, []Version{TLS10, TLS11, TLS12, TLS13}) {
		t.Fatalf("accepted versions %v", got)
	}
	for _, v := range []Version{TLS10, TLS11} {
		if got := suiteSet(res.Version(v)); !slices.Equal(got, sorted(cbc...)) {
			t.Errorf("%s suites %v", v, hexList(got))
		}
	}
	if got := suiteSet(res.Version(TLS12)); !slices.Equal(got, sorted(append(aead, cbc...)...)) {
		t.Errorf("TLS 1.2 suites %v", hexList(got))
	}
	v13 := res.Version(TLS13)
	if got := suiteSet(v13); !slices.Equal(got, []uint16{0x1301, 0x1302, 0x1303}) {
		t.Errorf("TLS 1.3 suites %v", hexList(got))
	}
	if got, want := groupIDs(v13.Groups), []uint16{GroupX25519, GroupSecp256r1}; !slices.Equal(got, want) {
		t.Errorf("TLS 1.3 groups %v, want %v", got, want)
	}
	if got, want := groupIDs(res.Version(TLS12).Groups), []uint16{GroupX25519, GroupSecp256r1}; !slices.Equal(got, want) {
		t.Errorf("TLS 1.2 groups %v, want %v", got, want)
	}
	if res.Version(TLS10).Groups != nil {
		t.Errorf("TLS 1.0 groups probed too: %v", res.Version(TLS10).Groups)
	}
	for _, s := range v13.Suites {
		if !s.TLS13 || !s.ForwardSecrecy || s.Group == nil || s.Group.ID != GroupX25519 {
			t.Errorf("TLS 1.3 suite %+v", s)
		}
	}
	if res.FallbackSCSV == nil || !*res.FallbackSCSV {
		t.Errorf("fallback scsv %v, want true", res.FallbackSCSV)
	}
}
