package mxcheck

import (
	"context"
	"errors"
	"net"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// dialResolved resolves addr's host with r and dials its addresses in
// turn, IPv4 first, with d (nil: a net.Dialer).
func dialResolved(ctx context.Context, r dnsx.Resolver, d smtp.Dialer, addr string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
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
