// Package mxcheck builds the report of `smtpkit mx` for one domain: its
// route (internal/route), the deliverability records asked for (SPF,
// DMARC, MTA-STS, TLS-RPT, TLSA, reverse DNS, DKIM keys, parsed by
// internal/records and internal/tlspolicy) and, on request, whether each
// MX address answers SMTP with STARTTLS and a certificate naming the host.
//
// A Report is data: every field is tagged for JSON with the names
// `smtpkit mx --format json` documents (internal/cli/render, mxjson.go),
// and render draws the text output from the same struct.
package mxcheck

import (
	"github.com/smtpkit/smtpkit/internal/records"
)

// Status is a domain's routing outcome.
type Status string

// Statuses, from best to worst.
const (
	StatusOK           Status = "ok"             // at least one MX host (or the implicit MX) has an address
	StatusInvalid      Status = "invalid"        // the input is not a valid domain name
	StatusNoSuchDomain Status = "no-such-domain" // NXDOMAIN
	StatusNullMX       Status = "null-mx"        // RFC 7505: the domain accepts no mail
	StatusNoRoute      Status = "no-route"       // no MX and no address, or no MX host with an address
	StatusTemporary    Status = "temporary"      // SERVFAIL, timeout, unreachable resolver
	StatusBadAnswer    Status = "bad-answer"     // garbage, an answer for another question, a CNAME loop
)

// Report is everything found about one domain.
type Report struct {
	// Input is the line or argument as given.
	Input string `json:"input"`
	// Domain is the normalised name (A-labels, lower case); "" when invalid.
	Domain string `json:"domain"`
	// Unicode is Domain with U-labels, when it differs.
	Unicode string `json:"unicode,omitempty"`
	Status  Status `json:"status"`
	// Error says why Status is not ok, in one line.
	Error string `json:"error,omitempty"`
	// Canonical and CNAMEs: the domain is an alias.
	Canonical string   `json:"canonical,omitempty"`
	CNAMEs    []string `json:"cnames,omitempty"`
	// ImplicitMX: no MX records, the domain's own addresses are the hop.
	ImplicitMX bool `json:"implicit_mx"`
	// NullMX: RFC 7505 null MX.
	NullMX bool `json:"null_mx"`
	// MX are the hops in delivery order.
	MX     []Host   `json:"mx"`
	DNSSEC *DNSSEC  `json:"dnssec,omitempty"`
	Notes  []string `json:"notes,omitempty"`

	SPF    *SPF    `json:"spf,omitempty"`
	DMARC  *DMARC  `json:"dmarc,omitempty"`
	MTASTS *MTASTS `json:"mta_sts,omitempty"`
	TLSRPT *TLSRPT `json:"tls_rpt,omitempty"`
	DKIM   []DKIM  `json:"dkim,omitempty"`

	// Findings are the --fail-on conditions that hold, in the order
	// given to the checker.
	Findings []string `json:"findings"`
	// ElapsedMS is how long the domain took, in milliseconds.
	ElapsedMS float64 `json:"elapsed_ms"`
}

// DNSSEC is what the resolver said about authentication.
type DNSSEC struct {
	// MXAD is the AD bit of the MX answer (of the address answers for an
	// implicit MX).
	MXAD bool `json:"mx_ad"`
	// HostsAD: every address answer of every host had AD.
	HostsAD bool `json:"hosts_ad"`
	// TrustedResolver: every resolver asked is on loopback, the one path
	// on which AD means something without a secure channel (RFC 6840 5.8).
	TrustedResolver bool `json:"trusted_resolver"`
}

// Host is one MX host (or the domain itself for an implicit MX).
type Host struct {
	Host       string    `json:"host"`
	Preference uint16    `json:"preference"`
	TTL        uint32    `json:"ttl"`
	CNAMEs     []string  `json:"cnames,omitempty"`
	Addresses  []Address `json:"addresses"`
	AD         bool      `json:"ad"`
	// Error is why the addresses could not all be looked up.
	Error string `json:"error,omitempty"`
	TLSA  *TLSA  `json:"tlsa,omitempty"`
}

// Address is one address of a host.
type Address struct {
	IP  string `json:"ip"`
	TTL uint32 `json:"ttl"`
	PTR *PTR   `json:"ptr,omitempty"`
	// Check is the SMTP check of this address (--check).
	Check *Check `json:"check,omitempty"`
}

// PTR is the reverse DNS of an address and whether it is
// forward-confirmed: some PTR name resolves back to the address
// (FCrDNS, RFC 8601 2.7.3 "iprev").
type PTR struct {
	Names  []string `json:"names"`
	FCrDNS bool     `json:"fcrdns"`
	Error  string   `json:"error,omitempty"`
}

// TLSA are a host's DANE records at _PORT._tcp.HOST (RFC 7672 2.2).
type TLSA struct {
	Name    string       `json:"name"`
	Records []TLSARecord `json:"records"`
	AD      bool         `json:"ad"`
	Error   string       `json:"error,omitempty"`
}

// TLSARecord is one TLSA record, its data in lower-case hex.
type TLSARecord struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"`
	TTL          uint32 `json:"ttl"`
}

// SPF is the domain's SPF record (RFC 7208).
type SPF struct {
	Record string `json:"record,omitempty"`
	// Lookups is the worst-case number of DNS-querying terms (limit 10).
	Lookups  int               `json:"lookups"`
	Problems []records.Problem `json:"problems"`
	Error    string            `json:"error,omitempty"`
}

// DMARC is the DMARC policy in force (RFC 7489 6.6.3): the domain's, or
// its organizational domain's when it has none.
type DMARC struct {
	// Name is where the record was found (or looked for last).
	Name string `json:"name"`
	// OrganizationalDomain is set when the record came from there.
	OrganizationalDomain string `json:"organizational_domain,omitempty"`
	*records.DMARC
	Problems []records.Problem `json:"problems"`
	Error    string            `json:"error,omitempty"`
}

// TLSRPT is the domain's SMTP TLS reporting record (RFC 8460).
type TLSRPT struct {
	*records.TLSRPT
	Problems []records.Problem `json:"problems"`
	Error    string            `json:"error,omitempty"`
}

// DKIM is one selector's key record (RFC 6376 3.6.1).
type DKIM struct {
	Selector string `json:"selector"`
	Name     string `json:"name"`
	*records.DKIMKey
	Problems []records.Problem `json:"problems"`
	Error    string            `json:"error,omitempty"`
}

// Check is one SMTP check of an MX address (--check). Times are in
// milliseconds; a stage that did not run is absent from the text output
// and 0 in JSON.
type Check struct {
	// Reachable: a 220 banner came.
	Reachable bool    `json:"reachable"`
	ConnectMS float64 `json:"connect_ms"`
	Banner    string  `json:"banner,omitempty"`
	BannerMS  float64 `json:"banner_ms"`
	EHLO      bool    `json:"ehlo"`
	EHLOMS    float64 `json:"ehlo_ms"`
	// STARTTLS: offered in the EHLO reply.
	STARTTLS bool `json:"starttls"`
	// TLS: the STARTTLS handshake completed.
	TLS        bool    `json:"tls"`
	TLSVersion string  `json:"tls_version,omitempty"`
	TLSMS      float64 `json:"tls_ms"`
	// CertNamesHost: the certificate is valid for the MX host name.
	CertNamesHost bool `json:"cert_names_host"`
	// CertVerified: the chain verifies against the trusted roots for the
	// MX host name, now.
	CertVerified bool   `json:"cert_verified"`
	CertError    string `json:"cert_error,omitempty"`
	// Error is the failure that ended the check, with its stage.
	Error string `json:"error,omitempty"`
}

// MTASTS is the domain's MTA-STS state (RFC 8461): the _mta-sts TXT
// record, the policy fetched over HTTPS, and whether every MX host
// matches one of its patterns.
type MTASTS struct {
	Record     string   `json:"record,omitempty"`
	ID         string   `json:"id,omitempty"`
	PolicyURL  string   `json:"policy_url,omitempty"`
	Mode       string   `json:"mode,omitempty"`
	MaxAge     int64    `json:"max_age,omitempty"`
	MXPatterns []string `json:"mx_patterns,omitempty"`
	// AllMXMatch: every MX host matches a pattern (RFC 8461 4.1).
	AllMXMatch bool `json:"all_mx_match"`
	// Unmatched are the MX hosts no pattern matches.
	Unmatched []string          `json:"unmatched_mx,omitempty"`
	Problems  []records.Problem `json:"problems"`
	Error     string            `json:"error,omitempty"`
}
