package probe

import (
	"crypto/tls"
	"strings"
)

// judge turns what the probe saw into checks.
func (o *Options) judge(r *Report, st *tls.ConnectionState) {
	if r.Stage == "connect" || r.Stage == "banner" {
		return // nothing else was seen
	}
	if !o.Implicit {
		switch r.STARTTLS {
		case "not offered":
			r.add(IDNoSTARTTLS, SevHigh, "STARTTLS is not offered: mail to this server travels in plaintext")
		case "failed":
			r.add(IDSTARTTLSFailed, SevHigh, "STARTTLS failed: %s", oneLine(r.Error))
		}
		for _, l := range r.EHLO {
			f := strings.Fields(strings.ToUpper(l))
			if len(f) > 0 && (f[0] == "AUTH" || strings.HasPrefix(f[0], "AUTH=")) {
				sev := SevLow
				for _, m := range f[1:] {
					if m == "PLAIN" || m == "LOGIN" {
						sev = SevMedium
					}
				}
				r.add(IDAuthBeforeTLS, sev, "AUTH is offered before TLS: %s", l)
				break
			}
		}
	}
	if st != nil && r.TLS != nil {
		o.judgeTLS(r, st)
	}
	if strings.HasPrefix(r.Injection, "vulnerable") {
		r.add(IDInjection, SevHigh, "STARTTLS command injection (CVE-2011-0411): %s", r.Injection)
	}
	if r.VRFY != nil && (r.VRFY.Code == 250 || r.VRFY.Code == 251) {
		r.add(IDVRFY, SevLow, "VRFY confirms addresses (%d): it helps harvesters", r.VRFY.Code)
	}
	if r.EXPN != nil && r.EXPN.Code/100 == 2 {
		r.add(IDEXPN, SevLow, "EXPN expands lists (%d)", r.EXPN.Code)
	}
	if r.Relay != nil && r.Relay.Accepted {
		r.add(IDOpenRelay, SevCritical, "open relay: RCPT TO:<%s> accepted from an unauthenticated client", r.Relay.To)
	}
}

func (o *Options) judgeTLS(r *Report, st *tls.ConnectionState) {
	t := r.TLS
	if st.Version < tls.VersionTLS12 {
		r.add(IDOldTLS, SevMedium, "negotiated %s: below TLS 1.2", t.Version)
	}
	if len(t.Chain) == 0 {
		r.add(IDUntrusted, SevHigh, "the server presented no certificate")
		return
	}
	leaf := t.Chain[0]
	switch {
	case leaf.DaysLeft < 0:
		r.add(IDCertExpired, SevCritical, "the certificate expired on %s", leaf.NotAfter)
	case leaf.DaysLeft < o.CertCritDays:
		r.add(IDCertExpiring, SevHigh, "the certificate expires in %d days (%s)", leaf.DaysLeft, leaf.NotAfter)
	case leaf.DaysLeft < o.CertWarnDays:
		r.add(IDCertExpiring, SevMedium, "the certificate expires in %d days (%s)", leaf.DaysLeft, leaf.NotAfter)
	}
	if !t.NameMatch {
		r.add(IDNameMismatch, SevMedium, "the certificate does not name %s (names: %s)", o.Host, strings.Join(leaf.SANs, ", "))
	}
	switch {
	case t.SelfSigned && !t.Verified: // trusted on purpose (--ca-file) is fine
		r.add(IDSelfSigned, SevMedium, "the certificate is self-signed")
	case !t.Verified && t.NameMatch && leaf.DaysLeft >= 0:
		r.add(IDUntrusted, SevMedium, "the chain does not verify: %s", oneLine(t.VerifyError))
	}
	if t.Verified && len(r.Checks) == 0 {
		r.add(IDTLSOK, SevOK, "%s %s, certificate valid for %d more days", t.Version, t.Cipher, leaf.DaysLeft)
	}
}
