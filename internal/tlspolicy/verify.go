package tlspolicy

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// LoadCAFile reads the PEM certificates in path (a --ca-file) into a new pool. It returns
// an error when the file cannot be read, holds a PEM block that is not a parsable
// certificate, or holds no certificate at all. Other PEM blocks (keys, parameters) are
// skipped.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca file %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// finding is a check's outcome before the level gives it a Status.
type finding struct {
	ok   bool
	id   ReasonID
	text string
}

// pkixFacts are the certificate checks every level reports: the chain to a trusted root
// (RFC 5280 6), the reference name (RFC 6125 6) and the leaf's dates (RFC 5280 4.1.2.5).
type pkixFacts struct {
	chain    finding
	name     *finding // nil when no reference name was given
	dates    finding
	expiring *finding
}

// checkPKIX judges the chain the server sent (leaf first) against roots (the system roots
// when nil) at now, the leaf against names, and the leaf's dates. The leaf's own dates
// never decide the chain finding: an expired leaf under a trusted CA is "chain-verified"
// and "cert-expired", so that each reason says one thing.
func checkPKIX(certs []*x509.Certificate, roots *x509.CertPool, names []string, now time.Time, warnDays int) pkixFacts {
	leaf := certs[0]
	var f pkixFacts
	f.chain = checkChain(certs, roots, now)
	if len(names) > 0 {
		n := checkName(leaf, names)
		f.name = &n
	}
	f.dates = checkDates(leaf, now)
	if left := daysLeft(leaf, now); f.dates.ok && warnDays > 0 && left < warnDays {
		f.expiring = &finding{id: ReasonExpiring, text: fmt.Sprintf("the certificate expires in %d days (%s), fewer than %d", left, leaf.NotAfter.UTC().Format(time.RFC3339), warnDays)}
	}
	return f
}

func verifyOptions(certs []*x509.Certificate, roots *x509.CertPool, at time.Time) x509.VerifyOptions {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	// SMTP servers' certificates often lack serverAuth or carry odd extended key usages;
	// like Postfix, do not judge them by it.
	return x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
}

func checkChain(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) finding {
	leaf := certs[0]
	_, err := leaf.Verify(verifyOptions(certs, roots, now))
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil && inv.Cert.Equal(leaf) {
		// The leaf's dates are reported on their own; judge the chain at a moment
		// inside the leaf's validity.
		at := leaf.NotAfter.Add(-time.Second)
		if now.Before(leaf.NotBefore) {
			at = leaf.NotBefore.Add(time.Second)
		}
		_, err = leaf.Verify(verifyOptions(certs, roots, at))
	}
	if err == nil {
		return finding{ok: true, id: ReasonChainVerified, text: fmt.Sprintf("the chain from %s leads to a trusted root", subject(leaf))}
	}
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &unknown):
		if selfSigned(leaf) {
			return finding{id: ReasonSelfSigned, text: fmt.Sprintf("the certificate %s is self-signed and not trusted", subject(leaf))}
		}
		top := certs[len(certs)-1]
		return finding{id: ReasonUntrusted, text: fmt.Sprintf("the chain ends at %s, whose issuer %s is not a trusted root", subject(top), top.Issuer.String())}
	case errors.As(err, &inv) && inv.Cert != nil:
		return finding{id: ReasonChainInvalid, text: fmt.Sprintf("the chain does not verify at %s: %v", subject(inv.Cert), err)}
	}
	return finding{id: ReasonChainInvalid, text: "the chain does not verify: " + err.Error()}
}

// selfSigned reports a certificate that names itself as issuer and carries its own
// signature.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// checkName reports whether leaf is valid for one of names (RFC 6125 6.4: DNS-IDs with a
// leftmost wildcard, or an IP address against the IP SANs; Go ignores the subject CN).
func checkName(leaf *x509.Certificate, names []string) finding {
	for _, n := range names {
		h := strings.TrimSuffix(n, ".")
		if leaf.VerifyHostname(h) == nil {
			return finding{ok: true, id: ReasonNameMatch, text: fmt.Sprintf("the certificate is valid for %s", h)}
		}
	}
	return finding{id: ReasonNameMismatch, text: fmt.Sprintf("the certificate is for %s, not %s", certNames(leaf), strings.Join(names, " or "))}
}

// certNames lists a certificate's SANs (or its CN when it has none), at most eight.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName == "" {
			return "no name"
		}
		return "CN=" + c.Subject.CommonName + " (no SANs)"
	}
	if len(names) > 8 {
		names = append(names[:8], fmt.Sprintf("and %d more", len(names)-8))
	}
	return strings.Join(names, ", ")
}

func checkDates(leaf *x509.Certificate, now time.Time) finding {
	switch {
	case now.Before(leaf.NotBefore):
		return finding{id: ReasonNotYetValid, text: fmt.Sprintf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))}
	case now.After(leaf.NotAfter):
		return finding{id: ReasonExpired, text: fmt.Sprintf("the certificate expired %s (%d days ago)", leaf.NotAfter.UTC().Format(time.RFC3339), -daysLeft(leaf, now))}
	}
	return finding{ok: true, id: ReasonDatesOK, text: fmt.Sprintf("the certificate is valid until %s (%d days left)", leaf.NotAfter.UTC().Format(time.RFC3339), daysLeft(leaf, now))}
}

// daysLeft is the number of whole days from now to the leaf's NotAfter, rounded down, so
// negative once it has passed.
func daysLeft(leaf *x509.Certificate, now time.Time) int {
	return int(math.Floor(leaf.NotAfter.Sub(now).Hours() / 24))
}

func subject(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + c.Subject.CommonName
	}
	return c.Subject.String()
}
