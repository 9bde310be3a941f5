package dnsx

import (
	"errors"
	"fmt"
)

// Kind classifies a lookup failure.
type Kind int

// Kinds of failure. NXDomain is permanent; ServFail, Refused and Timeout
// are temporary (RFC 2308 7.1: a server failure says nothing about the
// name); Protocol covers answers that make no sense (malformed, for
// another question, a CNAME loop); InvalidName is a name that cannot be
// asked at all.
const (
	KindNXDomain Kind = iota + 1
	KindServFail
	KindRefused
	KindTimeout
	KindNetwork
	KindProtocol
	KindInvalidName
)

var kindText = map[Kind]string{
	KindNXDomain:    "no such domain (NXDOMAIN)",
	KindServFail:    "server failure (SERVFAIL)",
	KindRefused:     "query refused (REFUSED)",
	KindTimeout:     "timed out",
	KindNetwork:     "network error",
	KindProtocol:    "bad answer",
	KindInvalidName: "invalid domain name",
}

func (k Kind) String() string {
	if s, ok := kindText[k]; ok {
		return s
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is a failed lookup. Name and Type are the question (Name may be a
// CNAME target the lookup reached); Server the last resolver tried;
// Detail says more in a few words; Err is the underlying error, if any.
type Error struct {
	Name   string
	Type   Type
	Kind   Kind
	Server string
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	switch {
	case e.Detail != "" && e.Kind == KindProtocol:
		msg = e.Detail
	case e.Detail != "":
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Name == "" {
		return msg
	}
	q := e.Name
	if e.Type != 0 {
		q += " " + e.Type.String()
	}
	return q + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// NotFound reports NXDOMAIN: the name does not exist (RFC 8020).
func (e *Error) NotFound() bool { return e.Kind == KindNXDomain }

// Temporary reports that asking again later may succeed: SERVFAIL,
// REFUSED, timeouts, network errors and nonsense answers (a spoofed or
// broken answer now says nothing about the next one).
func (e *Error) Temporary() bool {
	switch e.Kind {
	case KindServFail, KindRefused, KindTimeout, KindNetwork, KindProtocol:
		return true
	}
	return false
}

// KindOf returns the Kind of a *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return 0
}

// IsNotFound reports whether err is an NXDOMAIN *Error.
func IsNotFound(err error) bool { return KindOf(err) == KindNXDomain }

// IsTemporary reports whether err is a temporary *Error.
func IsTemporary(err error) bool {
	var de *Error
	return errors.As(err, &de) && de.Temporary()
}
