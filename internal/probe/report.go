package probe

import (
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlsscan"
)

// Report is everything one probe of one address found. Durations are
// milliseconds in JSON (fields ending in _ms).
type Report struct {
	Target string `json:"target"`           // what was asked: host[:port]
	Host   string `json:"host"`             // the name certificates must match
	Addr   string `json:"addr"`             // the address connected to (ip:port)
	Mode   string `json:"mode"`             // "starttls" or "implicit"
	Error  string `json:"error,omitempty"`  // why the probe stopped early
	Stage  string `json:"stage,omitempty"`  // where it stopped: connect, banner, ehlo, starttls, tls
	Banner *Reply `json:"banner,omitempty"` // the greeting

	ConnectMS float64 `json:"connect_ms"`
	BannerMS  float64 `json:"banner_ms"`
	EHLOMS    float64 `json:"ehlo_ms"`
	TLSMS     float64 `json:"tls_ms"` // STARTTLS command plus handshake, or the implicit handshake
	TotalMS   float64 `json:"total_ms"`

	EHLO      []string `json:"ehlo"`                 // capability lines before TLS (implicit TLS: inside it)
	EHLOTLS   []string `json:"ehlo_tls,omitempty"`   // capability lines after STARTTLS
	Added     []string `json:"ehlo_added,omitempty"` // keywords only offered after STARTTLS
	Removed   []string `json:"ehlo_removed,omitempty"`
	STARTTLS  string   `json:"starttls"` // "ok", "not offered", "failed", "implicit"
	TLS       *TLS     `json:"tls,omitempty"`
	VRFY      *Reply   `json:"vrfy,omitempty"`
	EXPN      *Reply   `json:"expn,omitempty"`
	Injection string   `json:"starttls_injection,omitempty"` // "not vulnerable", "vulnerable", "not tested: ..."
	Relay     *Relay   `json:"relay_test,omitempty"`

	Audit      *tlsscan.Result `json:"audit,omitempty"` // with --audit
	AuditError string          `json:"audit_error,omitempty"`

	Checks []Check `json:"checks"`
	Worst  string  `json:"worst"` // the most severe check: ok, info, low, medium, high or critical
}

// Reply is an SMTP reply as the report shows it.
type Reply struct {
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced,omitempty"`
	Lines    []string `json:"lines"`
}

func newReply(r smtp.Reply) *Reply {
	return &Reply{Code: r.Code, Enhanced: r.Enhanced, Lines: r.Lines}
}

// TLS describes the TLS session and the certificate chain.
type TLS struct {
	Version     string   `json:"version"`
	Cipher      string   `json:"cipher"`
	Group       string   `json:"group,omitempty"` // key exchange group (X25519, P-256, X25519MLKEM768...)
	ServerName  string   `json:"server_name"`     // SNI sent
	Verified    bool     `json:"verified"`        // chain and name verified against the roots
	VerifyError string   `json:"verify_error,omitempty"`
	SelfSigned  bool     `json:"self_signed"`
	NameMatch   bool     `json:"name_match"` // the leaf names Host
	OCSPStapled bool     `json:"ocsp_stapled"`
	OCSPStatus  string   `json:"ocsp_status,omitempty"` // good, revoked, unknown, or unparsable
	Resumption  string   `json:"resumption"`            // "yes", "no", or "not tested: ..."
	TLSA        string   `json:"tlsa"`                  // a DANE-EE record for the leaf: "3 1 1 <sha256 of SPKI>"
	Chain       []Cert   `json:"chain"`
	Policy      []string `json:"policy,omitempty"` // verdict reasons from the TLS policy (DANE, MTA-STS)
}

// Cert is one certificate of the presented chain.
type Cert struct {
	Subject    string   `json:"subject"`
	SANs       []string `json:"sans,omitempty"`
	Issuer     string   `json:"issuer"`
	NotBefore  string   `json:"not_before"` // RFC 3339, UTC
	NotAfter   string   `json:"not_after"`
	DaysLeft   int      `json:"days_left"` // negative once expired
	Key        string   `json:"key"`       // "RSA", "ECDSA", "Ed25519"
	KeyBits    int      `json:"key_bits"`
	SigAlg     string   `json:"signature_algorithm"`
	SHA256     string   `json:"sha256"`      // of the DER certificate, hex
	SPKISHA256 string   `json:"spki_sha256"` // of the SubjectPublicKeyInfo, hex
}

// Relay is the optional open-relay test: MAIL and RCPT to a foreign
// domain, then RSET; never DATA.
type Relay struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Mail     *Reply `json:"mail,omitempty"`
	Rcpt     *Reply `json:"rcpt,omitempty"`
	Accepted bool   `json:"accepted"` // RCPT got 2xx: the server relays
}
