package mxcheck

import (
	"context"
	"strings"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/records"
)

// noProblems keeps JSON lists as [] rather than null.
func noProblems(ps []records.Problem) []records.Problem {
	if ps == nil {
		return []records.Problem{}
	}
	return ps
}

// spf finds the domain's SPF record (RFC 7208 4.5), parses it and counts
// its DNS-querying terms through includes and redirects (RFC 7208 4.6.4).
func (c *Checker) spf(ctx context.Context, domain string) *SPF {
	s := &SPF{Problems: []records.Problem{}}
	txts, err := txt(ctx, c.Resolver, domain)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	rec, ps := records.SelectSPF(txts)
	s.Record = rec
	if rec != "" {
		_, pps := records.ParseSPF(rec)
		ps = append(ps, pps...)
		n, lps, err := records.CountSPFLookups(ctx, c.lookupTXT, domain)
		s.Lookups = n
		ps = append(ps, lps...)
		if err != nil {
			s.Error = err.Error()
		}
	}
	s.Problems = noProblems(ps)
	return s
}

// lookupTXT is records.CountSPFLookups's view of DNS: NXDOMAIN comes back
// as a *dnsx.Error, whose NotFound method it understands.
func (c *Checker) lookupTXT(ctx context.Context, name string) ([]string, error) {
	a, err := c.Resolver.Lookup(ctx, dnsx.Question{Name: name, Type: dnsx.TypeTXT})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(a.Records))
	for _, r := range a.Records {
		out = append(out, r.Text)
	}
	return out, nil
}

// dmarc finds the DMARC policy for domain: _dmarc.DOMAIN, then
// _dmarc.ORGANIZATIONAL-DOMAIN when the first has none (RFC 7489 6.6.3).
func (c *Checker) dmarc(ctx context.Context, domain string) *DMARC {
	d := &DMARC{Name: "_dmarc." + domain, Problems: []records.Problem{}}
	rec, ps, err := c.dmarcAt(ctx, d.Name)
	if err == nil && rec == "" {
		if org, oerr := records.OrganizationalDomain(domain); oerr == nil && org != domain {
			name := "_dmarc." + org
			orec, ops, oerr := c.dmarcAt(ctx, name)
			if oerr != nil || orec != "" {
				d.Name, d.OrganizationalDomain = name, org
				rec, ps, err = orec, ops, oerr
			}
		}
	}
	if err != nil {
		d.Error = err.Error()
		return d
	}
	if rec != "" {
		var pps []records.Problem
		d.DMARC, pps = records.ParseDMARC(rec)
		ps = append(ps, pps...)
	}
	d.Problems = noProblems(ps)
	return d
}

func (c *Checker) dmarcAt(ctx context.Context, name string) (string, []records.Problem, error) {
	txts, err := txt(ctx, c.Resolver, name)
	if err != nil {
		return "", nil, err
	}
	if len(txts) == 0 {
		return "", nil, nil
	}
	rec, ps := records.SelectDMARC(txts)
	return rec, ps, nil
}

// tlsrpt finds _smtp._tls.DOMAIN (RFC 8460 3).
func (c *Checker) tlsrpt(ctx context.Context, domain string) *TLSRPT {
	t := &TLSRPT{Problems: []records.Problem{}}
	txts, err := txt(ctx, c.Resolver, "_smtp._tls."+domain)
	if err != nil {
		t.Error = err.Error()
		return t
	}
	rec, ps := records.SelectTLSRPT(txts)
	if rec != "" {
		var pps []records.Problem
		t.TLSRPT, pps = records.ParseTLSRPT(rec)
		ps = append(ps, pps...)
	}
	t.Problems = noProblems(ps)
	return t
}

// dkim looks up SELECTOR._domainkey.DOMAIN for each selector (RFC 6376
// 3.6.2.1).
func (c *Checker) dkim(ctx context.Context, domain string) []DKIM {
	out := make([]DKIM, len(c.DKIMSelectors))
	fs := make([]func(), len(c.DKIMSelectors))
	for i, sel := range c.DKIMSelectors {
		fs[i] = func() {
			d := DKIM{Selector: sel, Name: strings.ToLower(sel) + "._domainkey." + domain, Problems: []records.Problem{}}
			txts, err := txt(ctx, c.Resolver, d.Name)
			switch {
			case err != nil:
				d.Error = err.Error()
			case len(txts) == 0:
				d.Error = "no key record"
			default:
				// RFC 6376 3.6.2.2: several records make the result
				// undefined; the first is parsed and the rest noted.
				var ps []records.Problem
				d.DKIMKey, ps = records.ParseDKIMKey(txts[0])
				if len(txts) > 1 {
					ps = append(ps, records.Problem{Severity: records.SeverityWarning, Text: "more than one TXT record at the selector (RFC 6376 3.6.2.2)"})
				}
				d.Problems = noProblems(ps)
			}
			out[i] = d
		}
	}
	parallel(fs...)
	return out
}
