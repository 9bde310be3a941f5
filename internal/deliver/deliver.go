// Package deliver makes one delivery attempt of one message to a list of
// recipients, the way an MTA's SMTP client does:
// it groups the recipients by destination (their domain's MX hosts, a
// transport-map route, or a smarthost), routes each destination through
// internal/route (RFC 5321 5.1), connects under internal/tlspolicy (DANE,
// MTA-STS, opportunistic STARTTLS), carries every recipient of a destination
// over one connection (PIPELINING when offered), and returns one Outcome per
// recipient: delivered, deferred or failed, with the reply that decided it and
// an RFC 3463 status for a DSN.
//
// Deliver never retries later and never stores anything: the spool
// (internal/spool) keeps deferred recipients and calls Deliver again.
//
// Loop avoidance: a destination whose MX resolves to this very host is not
// special-cased. smtpkit serve never relays (it delivers to maildir only), so
// such a loop ends at the first hop. An MTA that relays would have to drop
// itself, and every MX less preferred than itself, from the list here (RFC
// 5321 5.1).
package deliver

import (
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// Status is what happened to one recipient.
type Status string

// The statuses of an Outcome.
const (
	// Delivered: the destination answered 2xx after the content (RFC 5321
	// 4.2.5: it has taken responsibility for the message).
	Delivered Status = "delivered"
	// Deferred: a temporary failure (4xx, network, DNS temporary, TLS policy
	// not met); trying again later may succeed.
	Deferred Status = "deferred"
	// Failed: a permanent failure (5xx, null MX, NXDOMAIN); trying again will
	// not help and the sender should get a bounce.
	Failed Status = "failed"
)

// Outcome is the result for one recipient.
type Outcome struct {
	Recipient string      `json:"recipient"`
	Status    Status      `json:"status"`
	Reply     *smtp.Reply `json:"reply,omitempty"` // the remote reply that decided, if any
	// RemoteMTA is the host that gave Reply, or that the attempt failed at,
	// Postfix style: "mx.example.com[192.0.2.1]" (RemoteHost is the name
	// alone, for a DSN's "Remote-MTA: dns; NAME", RFC 3464 2.3.5).
	RemoteMTA  string `json:"remote_mta,omitempty"`
	RemoteHost string `json:"remote_host,omitempty"`
	// Enhanced is the RFC 3463 status for a DSN: the reply's own enhanced
	// code when it has one, otherwise derived from the reply code or
	// synthesised from what went wrong (4.4.1 no answer from host, 4.4.2
	// connection dropped, 4.4.3 DNS temporary failure, 5.1.2 NXDOMAIN,
	// 5.1.10 null MX, 5.4.4 no route, 4.7.4/4.7.5 TLS policy not met).
	Enhanced string `json:"enhanced"`
	// Diagnostic is one line saying why: the reply text, the network,
	// DNS or TLS error.
	Diagnostic string `json:"diagnostic"`
}

// Request is one message for some recipients.
type Request struct {
	From string            // envelope sender ("" = null sender <>)
	To   []string          // recipients
	Msg  *message.Prepared // Open() gives the body again for every attempt
	// MailOpts are extra MAIL FROM parameters (RET, ENVID, REQUIRETLS,
	// Extra); SIZE, BODY and SMTPUTF8 are set per session from the message
	// and the server's extensions.
	MailOpts smtp.MailOptions
	// RcptOpts, when not nil, holds each recipient's RCPT TO parameters
	// (NOTIFY, ORCPT), parallel to To; a nil element means none.
	RcptOpts []*smtp.RcptOptions
}

// Options say how to deliver.
type Options struct {
	Resolver dnsx.Resolver
	// Routes maps a domain (lower-case A-label) to "host[:port]", like
	// Postfix transport maps; "*" matches any domain. The host is dialled
	// directly (no MX lookup).
	Routes map[string]string
	// Smarthost sends all mail to this host[:port] (then AUTH/TLS like
	// send); empty means MX routing.
	Smarthost string
	// Auth authenticates to the smarthost; nil means no AUTH.
	Auth *smtp.Credentials
	// AuthMech is the SASL mechanism for Auth: "" or "auto" picks the
	// strongest offered (smtp.ChooseMechanism).
	AuthMech string
	// AllowPlaintextAuth lets AUTH travel without TLS.
	AllowPlaintextAuth bool
	// Port is the port of MX hosts, and of routes and a smarthost without
	// one; 0 means 25 (tests point it at a loopback server).
	Port int
	// TLSPolicy is the TLS level; "" is auto: DANE when validated TLSA
	// records exist, MTA-STS when a policy in mode enforce or testing is
	// published, opportunistic STARTTLS otherwise (for an authenticated
	// smarthost: verify). A level that requires TLS never falls back to
	// plaintext.
	TLSPolicy tlspolicy.Level
	// Pins are the fingerprints for TLSPolicy fingerprint.
	Pins []tlspolicy.Pin
	// RootCAs verifies certificates; nil means tlspolicy.SystemRoots().
	RootCAs *x509.CertPool
	// TrustAD believes the DNSSEC AD bit of Resolver's answers. Without it,
	// AD counts only when Resolver has a Trusted method that says so
	// (dnsx.Client: a resolver on loopback, RFC 6840 5.8).
	TrustAD bool
	EHLO    string // default: the host name
	Dialer  smtp.Dialer
	// Network is "tcp" (default), "tcp4" or "tcp6"; Family selects the
	// address records looked up for MX hosts (-4, -6).
	Network  string
	Family   route.Family
	Timeouts smtp.Timeouts
	// MaxAddrs bounds the addresses tried per destination in one call
	// (default 5), over all its hosts.
	MaxAddrs int
	// Parallel bounds the destinations delivered at once (default 4).
	Parallel int
	Now      func() time.Time
	// Trace receives every session's events. With several destinations it
	// is called from several goroutines, so it must be safe for that.
	Trace smtp.Trace
	// STSCache holds MTA-STS policies; nil means one in memory for this call.
	STSCache *tlspolicy.Cache
	// HTTPClient fetches MTA-STS policies; nil means
	// tlspolicy.NewHTTPClient(RootCAs, nil).
	HTTPClient *http.Client
}

// Defaults for Options' zero values.
const (
	DefaultPort     = 25
	DefaultMaxAddrs = 5
	DefaultParallel = 4
)

// Deliver makes one delivery attempt of req.Msg to every recipient of req
// and returns one Outcome per recipient, in req.To order. It never returns
// an error: whatever goes wrong is a recipient's Deferred or Failed outcome.
// Destinations are delivered concurrently (at most o.Parallel at once); each
// destination's recipients travel in one SMTP transaction. ctx bounds the
// whole call: when it ends, recipients not yet decided are deferred.
func Deliver(ctx context.Context, req Request, o Options) []Outcome {
	d := newDeliverer(req, o)
	out := make([]Outcome, len(req.To))
	dests := d.group(out)
	sem := make(chan struct{}, d.o.Parallel)
	var wg sync.WaitGroup
	for _, ds := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				d.deliverDest(ctx, ds, out)
			case <-ctx.Done():
				d.decideAll(ds, out, ctx.Err(), "")
			}
		}()
	}
	wg.Wait()
	return out
}

// deliverer is one Deliver call.
type deliverer struct {
	req     Request
	o       Options
	trusted bool

	stsOnce sync.Once
	sts     *tlspolicy.Cache
	httpc   *http.Client
}

func newDeliverer(req Request, o Options) *deliverer {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.MaxAddrs <= 0 {
		o.MaxAddrs = DefaultMaxAddrs
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Network == "" {
		o.Network = "tcp"
	}
	if o.EHLO == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			o.EHLO = h
		} else {
			o.EHLO = "localhost"
		}
	}
	if o.RootCAs == nil {
		o.RootCAs = tlspolicy.SystemRoots()
	}
	d := &deliverer{req: req, o: o, trusted: o.TrustAD}
	if t, ok := o.Resolver.(interface{ Trusted() bool }); ok && t.Trusted() {
		d.trusted = true
	}
	return d
}

// stsCache returns the MTA-STS cache and HTTP client, made on first use.
func (d *deliverer) stsCache() (*tlspolicy.Cache, *http.Client) {
	d.stsOnce.Do(func() {
		d.sts, d.httpc = d.o.STSCache, d.o.HTTPClient
		if d.sts == nil {
			d.sts = tlspolicy.NewCache("", d.o.Now)
		}
		if d.httpc == nil {
			d.httpc = tlspolicy.NewHTTPClient(d.o.RootCAs, nil)
		}
	})
	return d.sts, d.httpc
}

// domainOf returns the part of addr after the last "@".
func domainOf(addr string) (string, bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return "", false
	}
	return addr[i+1:], true
}
