// Package certgen makes throwaway X.509 certificates for loopback TLS: a
// certificate authority and a server certificate it signs (serve in
// `smtpkit demo`, the test helpers in internal/smtptest), or one
// self-signed server certificate (`serve --tls-self-signed`). Keys are
// ECDSA P-256 unless a request asks for RSA (for tests of RSA key
// exchange); nothing here is meant for a certificate the world trusts.
package certgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Request says what a server certificate covers and when it is valid.
type Request struct {
	// Hosts are the DNS names and IP addresses the certificate covers;
	// the first is its common name. At least one is required.
	Hosts []string
	// NotBefore and NotAfter bound the server certificate.
	NotBefore, NotAfter time.Time
	// CAName is the CA's common name (Issue only; default "smtpkit
	// throwaway CA"). Organization, if set, goes into both subjects.
	CAName       string
	Organization string
	// CANotBefore and CANotAfter bound the CA (Issue only); zero values
	// take the server certificate's bounds.
	CANotBefore, CANotAfter time.Time
	// RSABits, if not zero, makes the server certificate's key RSA of
	// that size (the CA's stays ECDSA), and lets it encipher keys (TLS
	// 1.2's RSA key exchange).
	RSABits int
}

// Chain is a server certificate, its key, and the CA that signed it (nil
// when the certificate is self-signed).
type Chain struct {
	Leaf *x509.Certificate
	Key  crypto.Signer // *ecdsa.PrivateKey, or *rsa.PrivateKey when asked for
	CA   *x509.Certificate
}

// Issue makes a CA and a server certificate it signs, as r says.
func Issue(r Request) (*Chain, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA key: %w", err)
	}
	name := r.CAName
	if name == "" {
		name = "smtpkit throwaway CA"
	}
	caTmpl := &x509.Certificate{
		Subject:               r.subject(name),
		NotBefore:             orElse(r.CANotBefore, r.NotBefore),
		NotAfter:              orElse(r.CANotAfter, r.NotAfter),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	ca, err := create(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA: %w", err)
	}
	key, err := r.newKey()
	if err != nil {
		return nil, err
	}
	leaf, err := create(r.leafTemplate(), ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate: %w", err)
	}
	return &Chain{Leaf: leaf, Key: key, CA: ca}, nil
}

// SelfSigned makes one server certificate that signs itself.
func SelfSigned(r Request) (*Chain, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	key, err := r.newKey()
	if err != nil {
		return nil, err
	}
	tmpl := r.leafTemplate()
	leaf, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate: %w", err)
	}
	return &Chain{Leaf: leaf, Key: key}, nil
}

// TLSCertificate is the chain as a server presents it: the certificate,
// then the CA if there is one.
func (c *Chain) TLSCertificate() tls.Certificate {
	chain := [][]byte{c.Leaf.Raw}
	if c.CA != nil {
		chain = append(chain, c.CA.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: c.Key, Leaf: c.Leaf}
}

// CertPEM is the certificate, then the CA if there is one, in PEM: the
// file a server's --tls-cert reads.
func (c *Chain) CertPEM() []byte {
	out := pemCert(c.Leaf)
	if c.CA != nil {
		out = append(out, pemCert(c.CA)...)
	}
	return out
}

// CAPEM is the CA certificate in PEM (nil for a self-signed chain): the
// file a client's --ca-file reads.
func (c *Chain) CAPEM() []byte {
	if c.CA == nil {
		return nil
	}
	return pemCert(c.CA)
}

// KeyPEM is the certificate's private key, PKCS #8 in PEM.
func (c *Chain) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, fmt.Errorf("certgen: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Pool is a certificate pool holding the CA (or, self-signed, the
// certificate itself): a client's RootCAs.
func (c *Chain) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	if c.CA != nil {
		p.AddCert(c.CA)
	} else {
		p.AddCert(c.Leaf)
	}
	return p
}

func (r Request) check() error {
	if len(r.Hosts) == 0 || r.Hosts[0] == "" {
		return errors.New("certgen: no host name")
	}
	if !r.NotAfter.After(r.NotBefore) {
		return errors.New("certgen: the certificate would end before it starts")
	}
	return nil
}

func (r Request) newKey() (crypto.Signer, error) {
	var key crypto.Signer
	var err error
	if r.RSABits != 0 {
		key, err = rsa.GenerateKey(rand.Reader, r.RSABits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("certgen: key: %w", err)
	}
	return key, nil
}

func (r Request) subject(cn string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	if r.Organization != "" {
		n.Organization = []string{r.Organization}
	}
	return n
}

// leafTemplate is a server certificate for r.Hosts (each once; an IP
// address goes into the IP SANs, anything else into the DNS SANs).
func (r Request) leafTemplate() *x509.Certificate {
	t := &x509.Certificate{
		Subject:     r.subject(r.Hosts[0]),
		NotBefore:   r.NotBefore,
		NotAfter:    r.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if r.RSABits != 0 {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	seen := map[string]bool{}
	for _, h := range r.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				t.IPAddresses = append(t.IPAddresses, ip)
			}
		} else if !seen[h] {
			seen[h] = true
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return t
}

// create signs tmpl (with a fresh random serial) and parses the result.
func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func orElse(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
