package smtp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"
)

// TLSInfo describes the TLS layer of a session for output.
type TLSInfo struct {
	Mode        string     `json:"mode"` // starttls or implicit
	Version     string     `json:"version"`
	Cipher      string     `json:"cipher"`
	ServerName  string     `json:"server_name,omitempty"`
	Verified    bool       `json:"verified"`
	VerifyError string     `json:"verify_error,omitempty"`
	Chain       []CertInfo `json:"chain"`
}

// CertInfo summarises one certificate of the peer's chain.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Key       string    `json:"key"`
	SHA256    string    `json:"sha256"`
}

// NewTLSInfo builds the summary of st; verifyErr is the verification
// result (nil: verified).
func NewTLSInfo(mode string, st tls.ConnectionState, verifyErr error) *TLSInfo {
	ti := &TLSInfo{
		Mode:       mode,
		Version:    tls.VersionName(st.Version),
		Cipher:     tls.CipherSuiteName(st.CipherSuite),
		ServerName: st.ServerName,
		Verified:   verifyErr == nil,
	}
	if verifyErr != nil {
		ti.VerifyError = verifyErr.Error()
	}
	for _, c := range st.PeerCertificates {
		sum := sha256.Sum256(c.Raw)
		ti.Chain = append(ti.Chain, CertInfo{
			Subject:   c.Subject.String(),
			Issuer:    c.Issuer.String(),
			DNSNames:  c.DNSNames,
			NotBefore: c.NotBefore.UTC(),
			NotAfter:  c.NotAfter.UTC(),
			Key:       keyDesc(c),
			SHA256:    hex.EncodeToString(sum[:]),
		})
	}
	return ti
}

func keyDesc(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

// VerifyChain checks the peer's chain against roots (nil: the system pool)
// and name at time now, like crypto/tls would. It returns a
// *tls.CertificateVerificationError so that callers classify it as a
// certificate rejection.
func VerifyChain(st tls.ConnectionState, roots *x509.CertPool, name string, now time.Time) error {
	if len(st.PeerCertificates) == 0 {
		return &tls.CertificateVerificationError{Err: fmt.Errorf("server presented no certificate")}
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := st.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now,
	})
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: st.PeerCertificates, Err: err}
	}
	return nil
}
