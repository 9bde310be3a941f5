package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/certgen"
	"github.com/smtpkit/smtpkit/internal/smtptest"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
	"github.com/smtpkit/smtpkit/internal/tlsscan"
)

func run(t *testing.T, o Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), o)
	if r == nil {
		t.Fatalf("Run returned no report (err %v)", err)
	}
	return r
}

func ids(r *Report) map[string]Severity {
	m := map[string]Severity{}
	for _, c := range r.Checks {
		m[c.ID] = c.Severity
	}
	return m
}

func TestProbeGoodServer(t *testing.T) {
	certs := smtptest.CertValidFor(t, 90*24*time.Hour, "mx.test", "127.0.0.1")
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: certs, AuthNeedsTLS: true})
	r := run(t, Options{Addr: srv.Addr(), Host: "mx.test", RootCAs: certs.Pool})
	if r.Error != "" {
		t.Fatalf("error: %s", r.Error)
	}
	if r.STARTTLS != "ok" || r.TLS == nil {
		t.Fatalf("STARTTLS %q, TLS %+v", r.STARTTLS, r.TLS)
	}
	if !r.TLS.Verified || !r.TLS.NameMatch || r.TLS.SelfSigned {
		t.Errorf("verification: %+v", r.TLS)
	}
	if r.Banner == nil || r.Banner.Code != 220 {
		t.Errorf("banner %+v", r.Banner)
	}
	if len(r.EHLO) == 0 || len(r.EHLOTLS) == 0 {
		t.Errorf("EHLO before %q after %q", r.EHLO, r.EHLOTLS)
	}
	// AUTH appears only inside TLS, STARTTLS only outside.
	if !hasPrefix(r.Added, "AUTH ") || !hasPrefix(r.Removed, "STARTTLS") {
		t.Errorf("added %q removed %q", r.Added, r.Removed)
	}
	if r.TLS.Version != "TLS 1.3" || r.TLS.Group == "" {
		t.Errorf("negotiated %s group %q", r.TLS.Version, r.TLS.Group)
	}
	if len(r.TLS.Chain) == 0 || r.TLS.Chain[0].Key != "ECDSA" || r.TLS.Chain[0].KeyBits != 256 {
		t.Errorf("chain %+v", r.TLS.Chain)
	}
	if want := TLSARecord(certs.Leaf); r.TLS.TLSA != want {
		t.Errorf("TLSA %q, want %q", r.TLS.TLSA, want)
	}
	if r.Injection != "not vulnerable" {
		t.Errorf("injection %q", r.Injection)
	}
	if r.WorstSeverity() > SevLow {
		t.Errorf("a good server got %v", r.Checks)
	}
}

func hasPrefix(list []string, s string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, s) {
			return true
		}
	}
	return false
}

func TestProbeChecksFire(t *testing.T) {
	good := smtptest.Cert(t, "mx.test", "127.0.0.1")
	cases := []struct {
		name   string
		srv    smtptest.ServerOptions
		o      Options
		want   string
		atLeas Severity
	}{
		{"no starttls", smtptest.ServerOptions{NoStartTLS: true}, Options{}, IDNoSTARTTLS, SevHigh},
		{"auth before tls", smtptest.ServerOptions{Certs: good}, Options{Host: "mx.test"}, IDAuthBeforeTLS, SevMedium},
		{"expired", smtptest.ServerOptions{Certs: smtptest.ExpiredCert(t, "mx.test")}, Options{Host: "mx.test"}, IDCertExpired, SevCritical},
		{"wrong name", smtptest.ServerOptions{Certs: smtptest.WrongNameCert(t)}, Options{Host: "mx.test"}, IDNameMismatch, SevMedium},
		{"untrusted", smtptest.ServerOptions{Certs: good}, Options{Host: "mx.test", RootCAs: nil}, IDUntrusted, SevMedium},
		{"garbage after 220", smtptest.ServerOptions{Inject: "250 injected\r\n"}, Options{}, IDSTARTTLSFailed, SevHigh},
		{"open relay", smtptest.ServerOptions{Certs: good}, Options{Host: "mx.test", RelayTest: true}, IDOpenRelay, SevCritical},
		{"expiring", smtptest.ServerOptions{Certs: good}, Options{Host: "mx.test", RootCAs: good.Pool}, IDCertExpiring, SevHigh},
		{"expiring soon", smtptest.ServerOptions{Certs: smtptest.CertValidFor(t, 20*24*time.Hour, "mx.test")}, Options{Host: "mx.test"}, IDCertExpiring, SevMedium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, tc.srv)
			o := tc.o
			o.Addr = srv.Addr()
			r := run(t, o)
			got, ok := ids(r)[tc.want]
			if !ok || got < tc.atLeas {
				t.Fatalf("check %s: got %v (severity %v), want at least %v; report error %q", tc.want, r.Checks, got, tc.atLeas, r.Error)
			}
			if r.WorstSeverity() < tc.atLeas || r.Worst != r.WorstSeverity().String() {
				t.Errorf("worst %q / %v", r.Worst, r.WorstSeverity())
			}
		})
	}
}

func TestProbeRelayRefused(t *testing.T) {
	certs := smtptest.Cert(t, "mx.test")
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: certs, RejectRcpt: map[string]string{
		"relay-test@smtpkit-relay-test.invalid": "554 5.7.1 Relay access denied",
	}})
	r := run(t, Options{Addr: srv.Addr(), Host: "mx.test", RootCAs: certs.Pool, RelayTest: true})
	if r.Relay == nil || r.Relay.Accepted || r.Relay.Rcpt == nil || r.Relay.Rcpt.Code != 554 {
		t.Fatalf("relay %+v", r.Relay)
	}
	if _, ok := ids(r)[IDOpenRelay]; ok {
		t.Errorf("open relay reported for a refusing server: %v", r.Checks)
	}
}

func TestProbeImplicitTLS(t *testing.T) {
	certs := smtptest.Cert(t, "mx.test", "127.0.0.1")
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: certs, ImplicitTLS: true})
	r := run(t, Options{Addr: srv.Addr(), Host: "mx.test", RootCAs: certs.Pool, Implicit: true})
	if r.Error != "" || r.STARTTLS != "implicit" || r.TLS == nil || !r.TLS.Verified {
		t.Fatalf("report %+v", r)
	}
	if _, ok := ids(r)[IDNoSTARTTLS]; ok {
		t.Errorf("no-starttls on an implicit TLS port: %v", r.Checks)
	}
}

func TestProbeConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := Run(context.Background(), Options{Addr: addr})
	if err == nil || r.Stage != "connect" || r.Error == "" {
		t.Fatalf("err %v, stage %q, error %q", err, r.Stage, r.Error)
	}
	if ids(r)[IDConnect] != SevCritical {
		t.Errorf("checks %v", r.Checks)
	}
}

// TestProbeInjectionVulnerable runs a hand-written server that keeps the
// plaintext read behind STARTTLS and executes it inside TLS, as the servers
// of CVE-2011-0411 did.
func TestProbeInjectionVulnerable(t *testing.T) {
	certs := smtptest.Cert(t, "mx.test", "127.0.0.1")
	addr := smtptest.Listen(t, func(c net.Conn) { vulnerableServer(c, certs.Server) })
	r := run(t, Options{Addr: addr, Host: "mx.test", RootCAs: certs.Pool})
	if !strings.HasPrefix(r.Injection, "vulnerable") {
		t.Fatalf("injection %q", r.Injection)
	}
	if ids(r)[IDInjection] != SevHigh {
		t.Errorf("checks %v", r.Checks)
	}
}

func vulnerableServer(c net.Conn, cfg *tls.Config) {
	br := bufio.NewReader(c)
	w := func(s string) { _, _ = c.Write([]byte(s)) }
	w("220 vuln.test ESMTP\r\n")
	var tc *tls.Conn
	for range 50 {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if tc == nil {
				w("250-vuln.test\r\n250 STARTTLS\r\n")
			} else {
				w("250 vuln.test\r\n")
			}
		case cmd == "STARTTLS":
			w("220 go ahead\r\n")
			// The bug: the buffered reader survives the switch to TLS, so
			// bytes the client sent in plaintext are read as commands
			// inside TLS before the real ones.
			pending := make([]byte, br.Buffered())
			_, _ = br.Read(pending)
			tc = tls.Server(c, cfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			br = bufio.NewReader(tc)
			w = func(s string) { _, _ = tc.Write([]byte(s)) }
			for _, l := range strings.SplitAfter(string(pending), "\n") {
				if strings.TrimSpace(l) != "" {
					w("502 5.5.2 unknown command\r\n")
				}
			}
		case cmd == "QUIT":
			w("221 bye\r\n")
			return
		case cmd == "NOOP":
			w("250 ok\r\n")
		default:
			w("502 5.5.2 unknown command\r\n")
		}
	}
}

func TestProbePolicies(t *testing.T) {
	certs := smtptest.CertValidFor(t, 90*24*time.Hour, "mx.test")
	other := smtptest.Cert(t, "mx.test")
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: certs, AuthNeedsTLS: true})
	match := tlspolicy.TLSAFor(certs.Leaf)
	match.AD = true
	miss := tlspolicy.TLSAFor(other.Leaf)
	miss.AD = true
	unsigned := miss
	unsigned.AD = false
	cases := []struct {
		name string
		o    Options
		want string // a check id, or "" for none of dane-mismatch/mta-sts-mismatch
		sev  Severity
	}{
		{"dane match", Options{TLSA: []tlspolicy.TLSA{match}, TLSALookedUp: true}, "", 0},
		{"dane mismatch", Options{TLSA: []tlspolicy.TLSA{miss}, TLSALookedUp: true}, IDDANE, SevCritical},
		{"dane without AD is ignored", Options{TLSA: []tlspolicy.TLSA{unsigned}, TLSALookedUp: true}, "", 0},
		{"mta-sts match", Options{STS: &tlspolicy.Policy{Version: "STSv1", Mode: tlspolicy.ModeEnforce, MX: []string{"*.test"}, MaxAge: 86400}}, "", 0},
		{"mta-sts enforce mismatch", Options{STS: &tlspolicy.Policy{Version: "STSv1", Mode: tlspolicy.ModeEnforce, MX: []string{"mx.example.org"}, MaxAge: 86400}}, IDMTASTS, SevHigh},
		{"mta-sts testing mismatch", Options{STS: &tlspolicy.Policy{Version: "STSv1", Mode: tlspolicy.ModeTesting, MX: []string{"mx.example.org"}, MaxAge: 86400}}, IDMTASTS, SevMedium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Addr, o.Host, o.RootCAs = srv.Addr(), "mx.test", certs.Pool
			r := run(t, o)
			got := ids(r)
			if tc.want == "" {
				for _, id := range []string{IDDANE, IDMTASTS} {
					if _, ok := got[id]; ok {
						t.Errorf("%s fired: %v (policy %q)", id, r.Checks, r.TLS.Policy)
					}
				}
				return
			}
			if sev, ok := got[tc.want]; !ok || sev != tc.sev {
				t.Errorf("want %s at %v, got %v (policy %q)", tc.want, tc.sev, r.Checks, r.TLS.Policy)
			}
		})
	}
}

// TestProbeVRFYandEXPN runs a plaintext server that confirms addresses
// and expands lists: both checks fire, next to no-starttls.
func TestProbeVRFYandEXPN(t *testing.T) {
	addr := smtptest.Listen(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		w := func(s string) { _, _ = c.Write([]byte(s)) }
		w("220 old.test ESMTP\r\n")
		for range 20 {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"):
				w("250-old.test\r\n250 VRFY\r\n")
			case strings.HasPrefix(cmd, "VRFY"):
				w("250 2.1.5 Postmaster <postmaster@old.test>\r\n")
			case strings.HasPrefix(cmd, "EXPN"):
				w("250-2.1.5 <alice@old.test>\r\n250 2.1.5 <bob@old.test>\r\n")
			case cmd == "QUIT":
				w("221 bye\r\n")
				return
			default:
				w("502 5.5.2 unknown command\r\n")
			}
		}
	})
	r := run(t, Options{Addr: addr})
	got := ids(r)
	if got[IDVRFY] != SevLow || got[IDEXPN] != SevLow || got[IDNoSTARTTLS] != SevHigh {
		t.Fatalf("checks %v", r.Checks)
	}
	if r.Injection != "not tested: no STARTTLS" {
		t.Errorf("injection %q", r.Injection)
	}
}

// TestProbeAuditChecks audits a crypto/tls server configured to accept TLS
// 1.0 to 1.2 with an RC4 suite among modern ones: tls-version-old and
// weak-cipher fire; the modern good server of TestProbeGoodServer raises
// neither (audit off there), and here the TLS 1.2 AEAD suites carry no
// weak flag.
func TestProbeAuditChecks(t *testing.T) {
	certs := smtptest.CertValidFor(t, 90*24*time.Hour, "mx.test")
	cfg := certs.Server.Clone()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}
	weak := *certs
	weak.Server = cfg
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: &weak, AuthNeedsTLS: true})
	r := run(t, Options{Addr: srv.Addr(), Host: "mx.test", RootCAs: certs.Pool, Audit: true, SkipExtras: true})
	if r.Audit == nil || r.AuditError != "" {
		t.Fatalf("audit %+v error %q", r.Audit, r.AuditError)
	}
	got := ids(r)
	if got[IDOldTLS] != SevMedium || got[IDWeakCipher] != SevHigh {
		t.Fatalf("checks %v\naudit %+v", r.Checks, r.Audit.Versions)
	}
	if _, ok := got[IDNoPFS]; ok {
		t.Errorf("every suite here has forward secrecy: %v", r.Checks)
	}
}

// TestProbeAuditNoForwardSecrecy: a server whose only TLS 1.2 suite uses
// RSA key exchange offers no forward secrecy.
func TestProbeAuditNoForwardSecrecy(t *testing.T) {
	ch, err := certgen.SelfSigned(certgen.Request{
		Hosts: []string{"mx.test"}, RSABits: 2048,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	certs := smtptest.Cert(t, "mx.test")
	rsaCerts := *certs
	rsaCerts.Server = &tls.Config{
		Certificates: []tls.Certificate{ch.TLSCertificate()},
		MinVersion:   tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
	}
	srv := smtptest.NewServer(t, smtptest.ServerOptions{Certs: &rsaCerts, AuthNeedsTLS: true})
	r := run(t, Options{Addr: srv.Addr(), Host: "mx.test", Audit: true, SkipExtras: true})
	if got := ids(r); got[IDNoPFS] != SevMedium {
		t.Fatalf("checks %v (audit error %q)", r.Checks, r.AuditError)
	}
}

// TestAuditChecks maps audit results to checks: SSLv3 is high, TLS 1.1
// medium; export/NULL/RC4/DES high, 3DES medium; anonymous suites medium;
// a version without forward secrecy medium, some suites without it low.
func TestAuditChecks(t *testing.T) {
	suite := func(id uint16) tlsscan.SuiteResult {
		s, ok := tlsscan.LookupSuite(id)
		if !ok {
			t.Fatalf("no suite %#04x", id)
		}
		return tlsscan.SuiteResult{Suite: s}
	}
	res := &tlsscan.Result{Versions: []tlsscan.VersionResult{
		{Version: tlsscan.SSL30, Accepted: true, Suites: []tlsscan.SuiteResult{suite(0x0005)}},                // RSA_WITH_RC4_128_SHA
		{Version: tlsscan.TLS11, Accepted: true, Suites: []tlsscan.SuiteResult{suite(0x000a)}},                // RSA_WITH_3DES_EDE_CBC_SHA
		{Version: tlsscan.TLS12, Accepted: true, Suites: []tlsscan.SuiteResult{suite(0xc02b), suite(0xc018)}}, // ECDHE_ECDSA AES128 GCM, ECDH_anon AES128 CBC
		{Version: tlsscan.TLS13, Accepted: false},
	}}
	r := &Report{}
	auditChecks(r, res)
	var sev []string
	for _, c := range r.Checks {
		sev = append(sev, c.ID+"="+c.Severity.String())
	}
	for _, w := range []string{"tls-version-old=high", "tls-version-old=medium", "weak-cipher=high", "weak-cipher=medium", "anon-cipher=medium", "no-forward-secrecy=medium", "no-forward-secrecy=low"} {
		if !slices.Contains(sev, w) {
			t.Errorf("missing %s in %v", w, sev)
		}
	}
	if r.Worst != "high" {
		t.Errorf("worst %q", r.Worst)
	}
}
