package deliver

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// statusError is a failure smtpkit decides itself, with the status and
// RFC 3463 code it gives the recipients.
type statusError struct {
	status   Status
	enhanced string
	msg      string
}

func (e *statusError) Error() string { return e.msg }

func fail(rcpt, enhanced, diag string) Outcome {
	return Outcome{Recipient: rcpt, Status: Failed, Enhanced: enhanced, Diagnostic: diag}
}

func deferLocal(rcpt, enhanced, diag string) Outcome {
	return Outcome{Recipient: rcpt, Status: Deferred, Enhanced: enhanced, Diagnostic: diag}
}

// replyEnhanced is the RFC 3463 status of a reply: its own enhanced code
// (with the class made to agree with the reply code, RFC 3463 2: the class
// of the status code must match the reply's), or X.0.0 from the code.
func replyEnhanced(r smtp.Reply) string {
	class := strconv.Itoa(r.Code / 100)
	if e := r.Enhanced; e != "" {
		if _, rest, ok := strings.Cut(e, "."); ok {
			return class + "." + rest
		}
	}
	return class + ".0.0"
}

// fromReply is the outcome a reply decides: 2xx delivered, 4xx deferred,
// 5xx failed (RFC 5321 4.2.1).
func fromReply(rcpt string, r smtp.Reply, h remote) Outcome {
	st := Failed
	switch r.Code / 100 {
	case 2:
		st = Delivered
	case 4:
		st = Deferred
	}
	rc := r
	return Outcome{Recipient: rcpt, Status: st, Reply: &rc, RemoteMTA: h.mta(), RemoteHost: h.host,
		Enhanced: replyEnhanced(r), Diagnostic: oneLine(r.String())}
}

// fromErr is the outcome a failure decides, for a recipient the
// destination did not answer for itself.
func fromErr(rcpt string, err error, h remote) Outcome {
	o := Outcome{Recipient: rcpt, Status: Deferred, RemoteMTA: h.mta(), RemoteHost: h.host, Diagnostic: oneLine(err.Error())}
	var (
		se   *statusError
		re   *smtp.Error
		rte  *route.Error
		rej  *tlspolicy.RejectError
		tlse *smtp.TLSError
		ce   *smtp.ConnectError
		ne   *smtp.NetError
		pe   *smtp.ProtocolError
		ie   *smtp.InjectionError
		be   *smtp.BodyReadError
	)
	switch {
	case errors.As(err, &se):
		o.Status, o.Enhanced = se.status, se.enhanced
	case errors.As(err, &re):
		out := fromReply(rcpt, re.Reply, h)
		out.Diagnostic = oneLine(re.Error())
		return out
	case errors.As(err, &rte):
		o.Status, o.Enhanced = routeStatus(rte.Kind)
	case errors.As(err, &rej):
		// RFC 3463 3.8: X.7.4 security features not supported (no TLS),
		// X.7.5 cryptographic failure (the certificate or TLSA did not
		// match). Deferred: the policy may be met later, and the message
		// is never sent in plaintext instead (RFC 7672 2.2, RFC 8461 5).
		o.Enhanced = "4.7.5"
		if !rej.Verdict.TLS {
			o.Enhanced = "4.7.4"
		}
	case errors.As(err, &tlse):
		o.Enhanced = "4.7.5"
	case errors.As(err, &ce):
		o.Enhanced = "4.4.1" // RFC 3463 3.5: no answer from host
	case errors.As(err, &ne):
		o.Enhanced = "4.4.2" // RFC 3463 3.5: bad connection
	case errors.As(err, &pe), errors.As(err, &ie):
		o.Enhanced = "4.5.0" // RFC 3463 3.6: other or undefined protocol status
	case errors.As(err, &be):
		o.Enhanced = "4.3.0" // RFC 3463 3.4: other mail system problem (ours)
	case dnsx.KindOf(err) != 0:
		o.Enhanced = "4.4.3" // RFC 3463 3.5: directory server failure
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		o.Enhanced = "4.4.1"
	default:
		o.Enhanced = "4.0.0"
	}
	return o
}

// routeStatus maps a routing failure to a status (RFC 3463 3.3, 3.5).
func routeStatus(k route.Kind) (Status, string) {
	switch k {
	case route.KindNullMX:
		return Failed, "5.1.10" // RFC 7505 4.2: "Recipient address has null MX"
	case route.KindNoSuchDomain, route.KindInvalidName:
		return Failed, "5.1.2" // bad destination system address
	case route.KindNoRoute:
		return Failed, "5.4.4" // unable to route
	}
	return Deferred, "4.4.3" // directory server failure: SERVFAIL, timeout, nonsense
}

// temporary reports whether err leaves the recipient deferred.
func temporary(err error) bool {
	return fromErr("", err, remote{}).Status != Failed
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// remote names the host an attempt talked to.
type remote struct {
	host string // the name (MX host, smarthost) or the address literal
	addr string // the IP address, when known
}

// mta is "host[addr]" as Postfix writes it, or the host alone.
func (h remote) mta() string {
	switch {
	case h.host == "":
		return ""
	case h.addr == "" || h.addr == h.host:
		return h.host
	}
	return h.host + "[" + h.addr + "]"
}
