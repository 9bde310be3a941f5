package route

import (
	"errors"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// Kind classifies a routing failure.
type Kind int

// Kinds of routing failure.
const (
	KindInvalidName  Kind = iota + 1 // the domain is not a valid name (permanent)
	KindNoSuchDomain                 // NXDOMAIN (permanent)
	KindNullMX                       // RFC 7505 null MX (permanent)
	KindNoRoute                      // no MX and no address, or no MX host with an address (permanent)
	KindTemporary                    // SERVFAIL, timeout, unreachable resolver (temporary)
	KindBadAnswer                    // the resolver's answers made no sense (temporary)
)

// Error is a failed route lookup. Err is the DNS error behind it, if any.
type Error struct {
	Domain string
	Kind   Kind
	Detail string
	Err    error
}

func (e *Error) Error() string {
	var msg string
	switch e.Kind {
	case KindInvalidName:
		if e.Err != nil {
			return e.Err.Error()
		}
		msg = "invalid domain name"
	case KindNoSuchDomain:
		msg = "no such domain (NXDOMAIN)"
	case KindNullMX:
		msg = "domain accepts no mail (null MX, RFC 7505)"
	case KindNoRoute:
		msg = "no route"
	case KindTemporary:
		msg = "temporary DNS failure"
	case KindBadAnswer:
		msg = "bad DNS answer"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil && e.Kind != KindNoSuchDomain {
		msg += ": " + e.Err.Error()
	}
	return e.Domain + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports that trying again later may succeed.
func (e *Error) Temporary() bool { return e.Kind == KindTemporary || e.Kind == KindBadAnswer }

// Permanent reports that the domain cannot receive mail as things are.
func (e *Error) Permanent() bool { return !e.Temporary() }

// KindOf returns the Kind of a *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var re *Error
	if errors.As(err, &re) {
		return re.Kind
	}
	return 0
}

// dnsError turns a failed MX lookup into a routing error.
func dnsError(domain string, err error) error {
	switch dnsx.KindOf(err) {
	case dnsx.KindNXDomain:
		return &Error{Domain: domain, Kind: KindNoSuchDomain, Err: err}
	case dnsx.KindInvalidName:
		return &Error{Domain: domain, Kind: KindInvalidName, Err: err}
	case dnsx.KindProtocol:
		return &Error{Domain: domain, Kind: KindBadAnswer, Err: err}
	}
	return &Error{Domain: domain, Kind: KindTemporary, Err: err}
}
