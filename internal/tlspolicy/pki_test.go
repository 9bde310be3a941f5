package tlspolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testNow is the moment the test certificates are judged at.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// testPKI is a root CA, an intermediate it signed, and what the tests need to make leaves.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
	pool              *x509.CertPool // the root
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serialN int64

func makeCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serialN++
	tmpl.SerialNumber = big.NewInt(serialN)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"smtpkit tests"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// newPKI makes a root valid for ten years around testNow and an intermediate valid for
// interDays around it (0 means five years).
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	return newPKIInter(t, testNow.AddDate(-1, 0, 0), testNow.AddDate(4, 0, 0))
}

func newPKIInter(t *testing.T, interFrom, interUntil time.Time) *testPKI {
	t.Helper()
	p := &testPKI{}
	rk, ik := newKey(t), newKey(t)
	p.rootKey, p.interKey = rk, ik
	p.root = makeCert(t, caTemplate("Test Root", testNow.AddDate(-5, 0, 0), testNow.AddDate(5, 0, 0)), nil, &rk.PublicKey, rk)
	p.inter = makeCert(t, caTemplate("Test Intermediate", interFrom, interUntil), p.root, &ik.PublicKey, rk)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.root)
	return p
}

// leafOpts describes a leaf; zero dates mean 90 days around testNow.
type leafOpts struct {
	names     []string
	notBefore time.Time
	notAfter  time.Time
	key       *ecdsa.PrivateKey // nil: a new key
}

func (o leafOpts) template() (*x509.Certificate, *ecdsa.PrivateKey) {
	nb, na := o.notBefore, o.notAfter
	if nb.IsZero() {
		nb = testNow.AddDate(0, 0, -30)
	}
	if na.IsZero() {
		na = testNow.AddDate(0, 0, 60)
	}
	tmpl := &x509.Certificate{
		NotBefore:   nb,
		NotAfter:    na,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(o.names) > 0 {
		tmpl.Subject = pkix.Name{CommonName: o.names[0]}
	}
	for _, n := range o.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl, o.key
}

// leaf makes a leaf signed by the intermediate.
func (p *testPKI) leaf(t *testing.T, o leafOpts) *x509.Certificate {
	t.Helper()
	tmpl, key := o.template()
	if key == nil {
		key = newKey(t)
	}
	return makeCert(t, tmpl, p.inter, &key.PublicKey, p.interKey)
}

// selfSigned makes a self-signed leaf.
func selfSignedLeaf(t *testing.T, o leafOpts) *x509.Certificate {
	t.Helper()
	tmpl, key := o.template()
	if key == nil {
		key = newKey(t)
	}
	return makeCert(t, tmpl, nil, &key.PublicKey, key)
}

// connState is a completed handshake that presented certs.
func connState(certs ...*x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{
		HandshakeComplete: true,
		Version:           tls.VersionTLS13,
		CipherSuite:       tls.TLS_AES_128_GCM_SHA256,
		PeerCertificates:  certs,
	}
}
