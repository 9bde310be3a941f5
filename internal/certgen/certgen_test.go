package certgen

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"
)

func request(hosts ...string) Request {
	now := time.Now()
	return Request{Hosts: hosts, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
}

func verify(t *testing.T, c *Chain, name string) error {
	t.Helper()
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), DNSName: name})
	return err
}

func TestIssueCoversHosts(t *testing.T) {
	r := request("mx.example.test", "127.0.0.1", "::1", "mx.example.test", "127.0.0.1")
	r.CAName, r.Organization = "test CA", "smtpkit tests"
	c, err := Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	if c.CA == nil || !c.CA.IsCA || c.CA.Subject.CommonName != "test CA" {
		t.Fatalf("CA = %+v", c.CA)
	}
	if c.Leaf.IsCA || c.Leaf.Subject.CommonName != "mx.example.test" || c.Leaf.Subject.Organization[0] != "smtpkit tests" {
		t.Fatalf("leaf subject %v", c.Leaf.Subject)
	}
	if len(c.Leaf.DNSNames) != 1 || len(c.Leaf.IPAddresses) != 2 {
		t.Fatalf("SANs: DNS %v IP %v (want each host once)", c.Leaf.DNSNames, c.Leaf.IPAddresses)
	}
	for _, name := range []string{"mx.example.test", "127.0.0.1", "::1"} {
		if err := verify(t, c, name); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if err := verify(t, c, "other.example.test"); err == nil {
		t.Error("the certificate verified for a name it does not cover")
	}
	if err := c.Leaf.CheckSignatureFrom(c.CA); err != nil {
		t.Errorf("leaf not signed by the CA: %v", err)
	}
}

func TestIssueValidity(t *testing.T) {
	now := time.Now()
	r := Request{Hosts: []string{"localhost"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour),
		CANotBefore: now.Add(-72 * time.Hour), CANotAfter: now.Add(72 * time.Hour)}
	c, err := Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Leaf.NotAfter.Before(now) || !c.CA.NotAfter.After(now) {
		t.Fatalf("leaf until %v, CA until %v", c.Leaf.NotAfter, c.CA.NotAfter)
	}
	err = verify(t, c, "localhost")
	var inv x509.CertificateInvalidError
	if !asInvalid(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("an expired certificate verified or failed otherwise: %v", err)
	}
	// The CA takes the leaf's bounds when none are given.
	c, err = Issue(request("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CA.NotBefore.Equal(c.Leaf.NotBefore) || !c.CA.NotAfter.Equal(c.Leaf.NotAfter) {
		t.Errorf("CA %v..%v, leaf %v..%v", c.CA.NotBefore, c.CA.NotAfter, c.Leaf.NotBefore, c.Leaf.NotAfter)
	}
}

func asInvalid(err error, inv *x509.CertificateInvalidError) bool {
	e, ok := err.(x509.CertificateInvalidError)
	if ok {
		*inv = e
	}
	return ok
}

func TestSelfSigned(t *testing.T) {
	c, err := SelfSigned(request("localhost", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CA != nil || c.CAPEM() != nil {
		t.Fatal("a self-signed chain has a CA")
	}
	if !bytes.Equal(c.Leaf.RawIssuer, c.Leaf.RawSubject) ||
		c.Leaf.CheckSignature(c.Leaf.SignatureAlgorithm, c.Leaf.RawTBSCertificate, c.Leaf.Signature) != nil {
		t.Fatal("the certificate does not sign itself")
	}
	if err := verify(t, c, "127.0.0.1"); err != nil {
		t.Fatalf("trusted on its own, it does not verify: %v", err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "localhost"}); err == nil {
		t.Fatal("verified without being trusted")
	}
	if got := len(c.TLSCertificate().Certificate); got != 1 {
		t.Fatalf("chain of %d, want 1", got)
	}
}

func TestRSA(t *testing.T) {
	r := request("localhost")
	r.RSABits = 2048
	for _, make := range []func(Request) (*Chain, error){Issue, SelfSigned} {
		c, err := make(r)
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.PublicKeyAlgorithm != x509.RSA || c.Leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			t.Fatalf("leaf key %v usage %b", c.Leaf.PublicKeyAlgorithm, c.Leaf.KeyUsage)
		}
		if _, err := tls.X509KeyPair(c.CertPEM(), must(c.KeyPEM())); err != nil {
			t.Fatalf("RSA pair does not load: %v", err)
		}
		if err := verify(t, c, "localhost"); err != nil {
			t.Fatal(err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRequestErrors(t *testing.T) {
	now := time.Now()
	for _, r := range []Request{
		{NotBefore: now, NotAfter: now.Add(time.Hour)},
		{Hosts: []string{""}, NotBefore: now, NotAfter: now.Add(time.Hour)},
		{Hosts: []string{"x"}, NotBefore: now, NotAfter: now},
	} {
		if _, err := Issue(r); err == nil || !strings.HasPrefix(err.Error(), "certgen: ") {
			t.Errorf("Issue(%+v) = %v", r, err)
		}
		if _, err := SelfSigned(r); err == nil {
			t.Errorf("SelfSigned(%+v) accepted", r)
		}
	}
}

// TestPEMHandshake writes the chain as files would hold it, loads it the way
// serve and send do, and completes a TLS handshake over a pipe.
func TestPEMHandshake(t *testing.T) {
	c, err := Issue(request("mx.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := c.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("key PEM: %q", keyPEM)
	}
	cert, err := tls.X509KeyPair(c.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 {
		t.Fatalf("cert file holds %d certificates, want the leaf and the CA", len(cert.Certificate))
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.CAPEM()) {
		t.Fatal("CA PEM does not load")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	cli := tls.Client(b, &tls.Config{RootCAs: roots, ServerName: "mx.example.test", MinVersion: tls.VersionTLS12})
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := cli.ConnectionState().PeerCertificates[0]; !got.Equal(c.Leaf) {
		t.Fatal("the client saw another certificate")
	}
}
