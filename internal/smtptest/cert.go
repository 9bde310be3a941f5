package smtptest

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/certgen"
)

// Certs is a throwaway certificate authority and a leaf certificate it
// signed, for TLS tests on loopback.
type Certs struct {
	Server *tls.Config    // for the server: presents the leaf (and the CA)
	Pool   *x509.CertPool // holds the CA: the client's RootCAs
	CA     *x509.Certificate
	Leaf   *x509.Certificate
	Key    *ecdsa.PrivateKey // the leaf's key

	// PEM files in t.TempDir(), for CLI tests.
	CertFile string // leaf then CA
	KeyFile  string // leaf key (PKCS #8)
	CAFile   string // CA certificate
}

// Client returns a client configuration that trusts the CA and checks the
// certificate against serverName.
func (c *Certs) Client(serverName string) *tls.Config {
	return &tls.Config{RootCAs: c.Pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// DefaultHosts are the names a leaf certificate covers when Cert is given
// none.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// Cert makes an ECDSA P-256 CA and a leaf (internal/certgen) valid now for hosts (DNS names
// or IP addresses; DefaultHosts when none are given).
func Cert(t testing.TB, hosts ...string) *Certs {
	t.Helper()
	now := time.Now()
	return makeCerts(t, hosts, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// CertValidFor is Cert with a leaf valid for d from now (the CA at least
// as long), for tests that judge how long a certificate has left.
func CertValidFor(t testing.TB, d time.Duration, hosts ...string) *Certs {
	t.Helper()
	now := time.Now()
	return makeCerts(t, hosts, now.Add(-time.Hour), now.Add(d))
}

// ExpiredCert is Cert with a leaf that expired an hour ago (the CA is
// still valid), for certificate-rejection tests.
func ExpiredCert(t testing.TB, hosts ...string) *Certs {
	t.Helper()
	now := time.Now()
	return makeCerts(t, hosts, now.Add(-48*time.Hour), now.Add(-time.Hour))
}

// WrongNameCert is a valid certificate for "wrong.invalid" only: a client
// that connects to 127.0.0.1 or localhost must reject it.
func WrongNameCert(t testing.TB) *Certs {
	t.Helper()
	return Cert(t, "wrong.invalid")
}

func makeCerts(t testing.TB, hosts []string, notBefore, notAfter time.Time) *Certs {
	t.Helper()
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	now := time.Now()
	ch, err := certgen.Issue(certgen.Request{
		Hosts: hosts, NotBefore: notBefore, NotAfter: notAfter,
		CAName: "smtptest CA", Organization: "smtpkit tests",
		CANotBefore: now.Add(-72 * time.Hour), CANotAfter: later(now.Add(72*time.Hour), notAfter),
	})
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	keyPEM, err := ch.KeyPEM()
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	c := &Certs{
		Server: &tls.Config{Certificates: []tls.Certificate{ch.TLSCertificate()}, MinVersion: tls.VersionTLS12},
		Pool:   ch.Pool(), CA: ch.CA, Leaf: ch.Leaf, Key: ch.Key.(*ecdsa.PrivateKey),
	}
	dir := t.TempDir()
	c.CertFile = filepath.Join(dir, "cert.pem")
	c.KeyFile = filepath.Join(dir, "key.pem")
	c.CAFile = filepath.Join(dir, "ca.pem")
	for _, f := range []struct {
		path string
		data []byte
	}{
		{c.CertFile, ch.CertPEM()},
		{c.KeyFile, keyPEM},
		{c.CAFile, ch.CAPEM()},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatalf("smtptest: certificate: write %s: %v", f.path, err)
		}
	}
	return c
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
