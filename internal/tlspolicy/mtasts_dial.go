package tlspolicy

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// ContextDialer opens connections (net.Dialer satisfies it).
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialResolved connects to addr ("host:port"), resolving host through r
// (A, then AAAA) rather than the system resolver, so that --resolver
// applies to policy hosts too; each address is tried in turn. d nil means
// a net.Dialer.
func DialResolved(ctx context.Context, r dnsx.Resolver, d ContextDialer, addr string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip != nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	var ips []string
	var lastErr error
	for _, t := range []dnsx.Type{dnsx.TypeA, dnsx.TypeAAAA} {
		a, err := r.Lookup(ctx, dnsx.Question{Name: host, Type: t})
		if err != nil {
			if lastErr == nil {
				lastErr = err
			}
			continue
		}
		for _, rec := range a.Records {
			ips = append(ips, rec.IP.String())
		}
	}
	if len(ips) == 0 {
		if lastErr == nil {
			lastErr = errors.New(host + ": no address records")
		}
		return nil, lastErr
	}
	for _, ip := range ips {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// NewResolvingHTTPClient is NewHTTPClient with host names resolved through
// r (DialResolved) and, when port is not 0, port 443 replaced by port (a
// testing aid: a policy server on a loopback port).
func NewResolvingHTTPClient(roots *x509.CertPool, r dnsx.Resolver, d ContextDialer, port int) *http.Client {
	return NewHTTPClient(roots, func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h, p, err := net.SplitHostPort(addr); err == nil && p == "443" && port != 0 {
			addr = net.JoinHostPort(h, strconv.Itoa(port))
		}
		return DialResolved(ctx, r, d, addr)
	})
}
