// Package dnsx is smtpkit's DNS client: a Resolver interface that the
// routing and record checks use, and Client, its implementation over
// miekg/dns. It is the only package that imports miekg/dns.
//
// Client sends queries over UDP with EDNS0 (RFC 6891), retries over TCP
// when an answer is truncated (RFC 7766 5), checks every answer against
// its question, follows CNAME chains (RFC 1034 3.6.2) with a loop limit and
// reports the DNSSEC AD bit per answer. Names are normalised (lower case,
// IDN U-labels to A-labels) by Normalize before they go on the wire.
//
// Errors are a *Error whose Kind tells NXDOMAIN (permanent) from SERVFAIL,
// REFUSED and timeouts (temporary) and from answers that make no sense
// (protocol).
package dnsx

import (
	"context"
	"net/netip"
	"strconv"
)

// Type is a resource record type, numbered as on the wire (RFC 1035 3.2.2,
// RFC 3596, RFC 6698).
type Type uint16

// The record types smtpkit asks for.
const (
	TypeA     Type = 1
	TypeCNAME Type = 5
	TypePTR   Type = 12
	TypeMX    Type = 15
	TypeTXT   Type = 16
	TypeAAAA  Type = 28
	TypeTLSA  Type = 52
)

var typeNames = map[Type]string{
	TypeA: "A", TypeCNAME: "CNAME", TypePTR: "PTR", TypeMX: "MX",
	TypeTXT: "TXT", TypeAAAA: "AAAA", TypeTLSA: "TLSA",
}

// String is the type's mnemonic ("MX"), or "TYPE<n>" (RFC 3597 5).
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// Question is one lookup: a normalised name (see Normalize) and a type.
type Question struct {
	Name string
	Type Type
}

func (q Question) String() string { return q.Name + " " + q.Type.String() }

// Record is one resource record of an answer. Which fields are set
// depends on Type:
//
//	MX    Pref, Host ("." for a null MX, RFC 7505)
//	A     IP (IPv4)
//	AAAA  IP (IPv6)
//	TXT   Text: the character-strings joined without separator (RFC 7208 3.3)
//	PTR   Host
//	TLSA  TLSA
//	CNAME Host (the target)
//
// Names are lower case without the trailing dot.
type Record struct {
	Name string
	Type Type
	TTL  uint32
	Pref uint16
	Host string
	IP   netip.Addr
	Text string
	TLSA *TLSA
}

// TLSA is the data of a TLSA record (RFC 6698 2.1).
type TLSA struct {
	Usage        uint8  // certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
	Selector     uint8  // 0 full certificate, 1 SubjectPublicKeyInfo
	MatchingType uint8  // 0 exact, 1 SHA-256, 2 SHA-512
	Data         []byte // certificate association data
}

// Answer is the outcome of one successful lookup. An answer with no
// Records is NODATA: the name exists but has no records of the type.
type Answer struct {
	Question Question
	// Canonical is the name the records belong to: the end of the CNAME
	// chain, or Question.Name when there was none.
	Canonical string
	// CNAMEs is the chain followed from Question.Name, in order (each
	// element an alias's target).
	CNAMEs []string
	// Records are the records of Question.Type at Canonical.
	Records []Record
	// AD is the DNSSEC Authenticated Data bit (RFC 4035 3.2.3) of the
	// response that held the records: every answer in the chain had it.
	// It is only as trustworthy as the path to the resolver (RFC 6840
	// 5.8); see Client.Trusted.
	AD bool
	// Server is the resolver that answered, host:port.
	Server string
	// Truncated says the UDP answer was truncated and the records came
	// over TCP.
	Truncated bool
}

// Resolver looks up one question. Implementations follow CNAME chains
// and return every record of the asked type at the end of the chain. A
// name with no record of the type is an Answer without Records, not an
// error. Errors are a *Error.
type Resolver interface {
	Lookup(ctx context.Context, q Question) (*Answer, error)
}
