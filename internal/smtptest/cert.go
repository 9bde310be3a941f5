package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// Cert makes an ECDSA P-256 CA and a leaf valid now for hosts (DNS names
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
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("smtptest: certificate: %s: %v", what, err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("CA key", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "smtptest CA", Organization: []string{"smtpkit tests"}},
		NotBefore:             now.Add(-72 * time.Hour),
		NotAfter:              later(now.Add(72*time.Hour), notAfter),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		fail("CA", err)
	}
	ca, _ := x509.ParseCertificate(caDER)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("leaf key", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"smtpkit tests"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		fail("leaf", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		fail("marshal key", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := &Certs{
		Server: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der, caDER}, PrivateKey: key, Leaf: leaf}},
			MinVersion:   tls.VersionTLS12,
		},
		Pool: pool, CA: ca, Leaf: leaf, Key: key,
	}
	dir := t.TempDir()
	c.CertFile = filepath.Join(dir, "cert.pem")
	c.KeyFile = filepath.Join(dir, "key.pem")
	c.CAFile = filepath.Join(dir, "ca.pem")
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	for _, f := range []struct {
		path string
		data []byte
	}{
		{c.CertFile, certPEM},
		{c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})},
		{c.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			fail("write "+f.path, err)
		}
	}
	return c
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("smtptest: serial: %v", err)
	}
	return n
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
