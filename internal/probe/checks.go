package probe

import (
	"fmt"
	"strings"
)

// Severity orders findings: ok < info < low < medium < high < critical.
type Severity int

// The severities, least severe first.
const (
	SevOK Severity = iota
	SevInfo
	SevLow
	SevMedium
	SevHigh
	SevCritical
)

var sevNames = [...]string{"ok", "info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(sevNames) {
		return "unknown"
	}
	return sevNames[s]
}

// MarshalText makes a Severity its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range sevNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want ok, info, low, medium, high or critical)", s)
}

// Check is one finding. IDs are stable: scripts may match on them.
type Check struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Text     string   `json:"text"`
}

// The check ids.
const (
	IDConnect        = "connect"         // the server could not be reached or spoke no SMTP
	IDNoSTARTTLS     = "no-starttls"     // STARTTLS not offered
	IDSTARTTLSFailed = "starttls-failed" // STARTTLS offered, but it or the handshake failed
	IDAuthBeforeTLS  = "auth-before-tls" // AUTH offered on the plaintext connection
	IDOldTLS         = "tls-version-old" // a TLS version below 1.2 is accepted (or negotiated)
	IDWeakCipher     = "weak-cipher"     // export, NULL, RC4, DES or 3DES suites are accepted
	IDAnonCipher     = "anon-cipher"     // anonymous (unauthenticated) suites are accepted
	IDNoPFS          = "no-forward-secrecy"
	IDCertExpired    = "cert-expired"
	IDCertExpiring   = "cert-expiring"
	IDNameMismatch   = "name-mismatch"
	IDSelfSigned     = "self-signed"
	IDUntrusted      = "untrusted-chain"
	IDDANE           = "dane-mismatch"
	IDMTASTS         = "mta-sts-mismatch"
	IDInjection      = "starttls-injection" // CVE-2011-0411
	IDVRFY           = "vrfy-enabled"
	IDEXPN           = "expn-enabled"
	IDOpenRelay      = "open-relay"
	IDTLSOK          = "tls-ok" // info: what was negotiated, when nothing is wrong
)

// add appends a check to r and keeps r.Worst up to date.
func (r *Report) add(id string, sev Severity, format string, args ...any) {
	r.Checks = append(r.Checks, Check{ID: id, Severity: sev, Text: fmt.Sprintf(format, args...)})
	if w, _ := ParseSeverity(r.Worst); sev > w || r.Worst == "" {
		r.Worst = sev.String()
	}
}

// WorstSeverity is the most severe check of r (SevOK when there is none).
func (r *Report) WorstSeverity() Severity {
	w := SevOK
	for _, c := range r.Checks {
		w = max(w, c.Severity)
	}
	return w
}

// Reached returns the checks at or above min.
func (r *Report) Reached(min Severity) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Severity >= min && c.Severity > SevOK {
			out = append(out, c)
		}
	}
	return out
}
