package mxcheck

import (
	"context"
	"errors"

	"github.com/smtpkit/smtpkit/internal/records"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// mtasts reads _mta-sts.DOMAIN (RFC 8461 3.1), fetches the policy over
// HTTPS without following redirects (RFC 8461 3.3) and checks every MX
// host against its patterns (RFC 8461 4.1). A missing record is a
// warning problem; a record or policy that cannot be used is Error.
func (c *Checker) mtasts(ctx context.Context, domain string, mx []string) *MTASTS {
	m := &MTASTS{Problems: []records.Problem{}}
	txts, err := txt(ctx, c.Resolver, "_mta-sts."+domain)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	rec, err := tlspolicy.SelectSTSRecord(txts)
	if errors.Is(err, tlspolicy.ErrNoSTSRecord) {
		m.Problems = append(m.Problems, records.Problem{Severity: records.SeverityWarning, Text: "no MTA-STS record"})
		return m
	}
	if err != nil {
		m.Error = err.Error()
		return m
	}
	m.Record = rec
	sts, err := tlspolicy.ParseSTSRecord(rec)
	if err != nil {
		m.Error = "record: " + err.Error()
		return m
	}
	m.ID = sts.ID
	m.PolicyURL, _ = tlspolicy.PolicyURL(domain)
	fctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	pol, _, err := tlspolicy.FetchPolicy(fctx, c.HTTP, domain)
	if err != nil {
		m.Error = "policy: " + oneLine(err)
		return m
	}
	m.Mode, m.MaxAge, m.MXPatterns = string(pol.Mode), int64(pol.MaxAge), pol.MX
	if pol.Mode == tlspolicy.ModeNone {
		return m
	}
	for _, h := range mx {
		if !pol.Matches(h) {
			m.Unmatched = append(m.Unmatched, h)
		}
	}
	m.AllMXMatch = len(mx) > 0 && len(m.Unmatched) == 0
	return m
}

// newHTTPClient is the client for policy fetches: tlspolicy's, with host
// names resolved through c.Resolver (so --resolver applies to the policy
// host too) and, for tests, 443 replaced by c.MTASTSPort.
func (c *Checker) newHTTPClient() {
	var d tlspolicy.ContextDialer
	if c.Dialer != nil {
		d = c.Dialer
	}
	c.HTTP = tlspolicy.NewResolvingHTTPClient(c.Roots, c.Resolver, d, c.MTASTSPort)
}
