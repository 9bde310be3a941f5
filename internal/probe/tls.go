package probe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// tlsDetails fills r.TLS from the session state: what was negotiated, the
// chain, verification against the roots and the name, OCSP stapling.
func (o *Options) tlsDetails(r *Report, st tls.ConnectionState) {
	t := &TLS{
		Version:    tls.VersionName(st.Version),
		Cipher:     tls.CipherSuiteName(st.CipherSuite),
		ServerName: o.Host,
		Chain:      []Cert{},
	}
	if st.CurveID != 0 {
		t.Group = st.CurveID.String()
	}
	now := o.Now()
	for _, c := range st.PeerCertificates {
		t.Chain = append(t.Chain, certOf(c, now))
	}
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		t.TLSA = TLSARecord(leaf)
		t.NameMatch = leaf.VerifyHostname(o.Host) == nil
		t.SelfSigned = bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
			leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
		if err := smtp.VerifyChain(st, o.roots(), o.Host, now); err != nil {
			t.VerifyError = err.Error()
		} else {
			t.Verified = true
		}
		if len(st.OCSPResponse) > 0 {
			t.OCSPStapled = true
			t.OCSPStatus = ocspStatus(st)
		}
	}
	r.TLS = t
	o.policy(r, st)
}

// policy judges the session under DANE (when the TLSA records were looked
// up) and MTA-STS (when a policy was given) with internal/tlspolicy, and
// turns a mismatch into a check.
func (o *Options) policy(r *Report, st tls.ConnectionState) {
	judge := func(level tlspolicy.Level) tlspolicy.Verdict {
		v := tlspolicy.Evaluate(st, tlspolicy.Input{
			Level: level, Host: o.Host, Roots: o.roots(), Now: o.Now(), TLSA: o.TLSA, STS: o.STS,
		})
		for _, why := range v.Reasons {
			switch why.ID {
			case tlspolicy.ReasonTLS, tlspolicy.ReasonChainVerified, tlspolicy.ReasonNameMatch, tlspolicy.ReasonDatesOK:
				continue // said elsewhere in the report
			}
			r.TLS.Policy = append(r.TLS.Policy, string(level)+": "+string(why.Status)+" "+string(why.ID)+": "+why.Text)
		}
		return v
	}
	if o.TLSALookedUp {
		v := judge(tlspolicy.LevelDANE)
		switch {
		case v.Has(tlspolicy.ReasonDANEMismatch):
			r.add(IDDANE, SevCritical, "no TLSA record of %s matches the certificate", tlspolicy.TLSAName(o.Host, 25))
		case v.Has(tlspolicy.ReasonDANETANameMismatch):
			r.add(IDDANE, SevCritical, "a DANE-TA record matches the chain, but the certificate does not name %s", o.Host)
		}
	}
	if o.STS != nil {
		v := judge(tlspolicy.LevelMTASTS)
		if v.Has(tlspolicy.ReasonSTSMismatch) || v.Has(tlspolicy.ReasonSTSMXMismatch) {
			sev := SevHigh
			if o.STS.Mode != tlspolicy.ModeEnforce {
				sev = SevMedium
			}
			why := "the connection does not satisfy the domain's MTA-STS policy"
			if f := v.Failures(); len(f) > 0 {
				why += ": " + f[0].Text
			} else if rs := v.Reason(tlspolicy.ReasonSTSMismatch); rs != nil {
				why += ": " + rs.Text
			}
			r.add(IDMTASTS, sev, "%s (mode %s)", why, o.STS.Mode)
		}
	}
}

func ocspStatus(st tls.ConnectionState) string {
	var issuer *x509.Certificate
	if len(st.PeerCertificates) > 1 {
		issuer = st.PeerCertificates[1]
	}
	resp, err := ocsp.ParseResponse(st.OCSPResponse, issuer)
	if err != nil {
		return "unparsable"
	}
	switch resp.Status {
	case ocsp.Good:
		return "good"
	case ocsp.Revoked:
		return "revoked"
	}
	return "unknown"
}

func certOf(c *x509.Certificate, now time.Time) Cert {
	sum := sha256.Sum256(c.Raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	kind, bits := keyInfo(c)
	return Cert{
		Subject:    c.Subject.String(),
		SANs:       sans(c),
		Issuer:     c.Issuer.String(),
		NotBefore:  c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:   c.NotAfter.UTC().Format(time.RFC3339),
		DaysLeft:   daysLeft(c.NotAfter, now),
		Key:        kind,
		KeyBits:    bits,
		SigAlg:     c.SignatureAlgorithm.String(),
		SHA256:     hex.EncodeToString(sum[:]),
		SPKISHA256: hex.EncodeToString(spki[:]),
	}
}

// daysLeft counts whole days until notAfter; negative once it has passed.
func daysLeft(notAfter, now time.Time) int {
	d := notAfter.Sub(now)
	if d < 0 {
		return -int((-d).Hours()/24) - 1
	}
	return int(d.Hours() / 24)
}

func sans(c *x509.Certificate) []string {
	out := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// TLSARecord is the DANE-EE record (RFC 7671 5.1: usage 3, selector 1
// SPKI, matching type 1 SHA-256) that pins c's public key: ready to
// publish at _25._tcp.HOST.
func TLSARecord(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "3 1 1 " + hex.EncodeToString(sum[:])
}
