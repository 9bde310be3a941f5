package mxcheck

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx"
	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Record is a kind of record a Checker can look up besides the route.
type Record string

// The records of --records.
const (
	RecordSPF    Record = "spf"
	RecordDMARC  Record = "dmarc"
	RecordMTASTS Record = "mta-sts"
	RecordTLSRPT Record = "tls-rpt"
	RecordTLSA   Record = "tlsa"
	RecordPTR    Record = "ptr"
	RecordDKIM   Record = "dkim"
)

// AllRecords lists every Record, in output order.
var AllRecords = []Record{RecordSPF, RecordDMARC, RecordMTASTS, RecordTLSRPT, RecordTLSA, RecordPTR, RecordDKIM}

// Checker produces Reports. Its fields are set once; Domain may then be
// called from many goroutines.
type Checker struct {
	Resolver dnsx.Resolver
	// TrustedResolver says AD from Resolver can be believed.
	TrustedResolver bool
	// Family restricts addresses to IPv4 or IPv6 (-4, -6).
	Family route.Family
	// Intn shuffles equal MX preferences; nil is random.
	Intn func(int) int
	// Records to look up.
	Records map[Record]bool
	// DKIMSelectors to look up with RecordDKIM.
	DKIMSelectors []string
	// Check connects to every MX address.
	Check bool
	// Port is the SMTP port for Check and for TLSA names (default 25).
	Port int
	// EHLO is the name to greet with in Check.
	EHLO string
	// Dialer opens Check's connections; nil is a net.Dialer.
	Dialer smtp.Dialer
	// Timeout bounds each stage of a Check (connect, banner, EHLO,
	// STARTTLS); 0 is 30 s.
	Timeout time.Duration
	// Roots verify certificates (Check, MTA-STS); nil is the system pool.
	Roots *x509.CertPool
	// HTTP fetches MTA-STS policies; nil builds one from Resolver, Dialer,
	// Roots and MTASTSPort.
	HTTP *http.Client
	// MTASTSPort, when set, replaces 443 for MTA-STS policy fetches
	// (tests serve the policy on a loopback port).
	MTASTSPort int
	// FailOn are the --fail-on conditions to evaluate (see Findings).
	FailOn []Finding
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	once sync.Once
}

func (c *Checker) init() {
	c.once.Do(func() {
		if c.Now == nil {
			c.Now = time.Now
		}
		if c.Port == 0 {
			c.Port = 25
		}
		if c.Timeout == 0 {
			c.Timeout = 30 * time.Second
		}
		if c.EHLO == "" {
			c.EHLO = "localhost"
		}
		if c.HTTP == nil && c.Records[RecordMTASTS] {
			c.newHTTPClient()
		}
	})
}

// Domain reports on one input line or argument. It never fails: every
// problem, including an invalid name, is in the Report.
func (c *Checker) Domain(ctx context.Context, input string) *Report {
	c.init()
	start := c.Now()
	r := &Report{Input: input, MX: []Host{}, Findings: []string{}}
	defer func() { r.ElapsedMS = ms(c.Now().Sub(start)) }()
	name, err := dnsx.Normalize(input)
	if err != nil {
		// The error names the input, which the Report holds already.
		r.Status, r.Error = StatusInvalid, strings.TrimPrefix(err.Error(), input+": ")
		c.findings(r)
		return r
	}
	r.Domain = name
	if u := dnsx.ToUnicode(name); u != name {
		r.Unicode = u
	}
	rt, err := route.Lookup(ctx, c.Resolver, name, route.Options{Family: c.Family, Intn: c.Intn})
	r.Status = statusOf(err)
	if err != nil {
		// The report names the domain already.
		r.Error = strings.TrimPrefix(err.Error(), name+": ")
	}
	r.NullMX = r.Status == StatusNullMX
	if rt != nil {
		c.fillRoute(r, rt)
	}
	if r.Status == StatusOK || r.Status == StatusNoRoute || r.Status == StatusNullMX {
		c.lookupRecords(ctx, r)
	}
	c.findings(r)
	return r
}

// statusOf maps a routing error to a Status.
func statusOf(err error) Status {
	switch route.KindOf(err) {
	case 0:
		return StatusOK
	case route.KindInvalidName:
		return StatusInvalid
	case route.KindNoSuchDomain:
		return StatusNoSuchDomain
	case route.KindNullMX:
		return StatusNullMX
	case route.KindNoRoute:
		return StatusNoRoute
	case route.KindBadAnswer:
		return StatusBadAnswer
	}
	return StatusTemporary
}

func (c *Checker) fillRoute(r *Report, rt *route.Route) {
	if len(rt.CNAMEs) > 0 {
		r.Canonical, r.CNAMEs = rt.Canonical, rt.CNAMEs
	}
	r.ImplicitMX = rt.Implicit
	r.Notes = append(r.Notes, rt.Notes...)
	sec := &DNSSEC{MXAD: rt.AD, HostsAD: len(rt.Hops) > 0, TrustedResolver: c.TrustedResolver}
	for _, h := range rt.Hops {
		host := Host{Host: h.Host, Preference: h.Pref, TTL: h.TTL, CNAMEs: h.CNAMEs, AD: h.AD, Addresses: []Address{}}
		if len(h.CNAMEs) > 0 && !rt.Implicit {
			r.Notes = append(r.Notes, "MX host "+h.Host+" is an alias (CNAME), which RFC 2181 10.3 forbids")
		}
		if h.Err != nil {
			host.Error = h.Err.Error()
		} else if len(h.Addrs) == 0 {
			host.Error = "no address records"
		}
		for _, a := range h.Addrs {
			host.Addresses = append(host.Addresses, Address{IP: a.IP.String(), TTL: a.TTL})
		}
		sec.HostsAD = sec.HostsAD && h.AD
		r.MX = append(r.MX, host)
	}
	r.DNSSEC = sec
}

// parallel runs the functions at once and waits for all.
func parallel(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// lookupRecords fills what c.Records and c.Check ask for.
func (c *Checker) lookupRecords(ctx context.Context, r *Report) {
	var fs []func()
	if c.Records[RecordSPF] {
		fs = append(fs, func() { r.SPF = c.spf(ctx, r.Domain) })
	}
	if c.Records[RecordDMARC] {
		fs = append(fs, func() { r.DMARC = c.dmarc(ctx, r.Domain) })
	}
	if c.Records[RecordTLSRPT] {
		fs = append(fs, func() { r.TLSRPT = c.tlsrpt(ctx, r.Domain) })
	}
	if c.Records[RecordDKIM] {
		fs = append(fs, func() { r.DKIM = c.dkim(ctx, r.Domain) })
	}
	if c.Records[RecordMTASTS] {
		// The host names, copied: the other lookups write into r.MX meanwhile.
		hosts := make([]string, len(r.MX))
		for i, h := range r.MX {
			hosts[i] = h.Host
		}
		fs = append(fs, func() { r.MTASTS = c.mtasts(ctx, r.Domain, hosts) })
	}
	for i := range r.MX {
		h := &r.MX[i]
		if c.Records[RecordTLSA] {
			fs = append(fs, func() { h.TLSA = c.tlsa(ctx, h.Host) })
		}
		for j := range h.Addresses {
			a := &h.Addresses[j]
			if c.Records[RecordPTR] {
				fs = append(fs, func() { a.PTR = c.ptr(ctx, a.IP) })
			}
			if c.Check {
				fs = append(fs, func() { a.Check = c.check(ctx, h.Host, a.IP) })
			}
		}
	}
	parallel(fs...)
}

// txt returns the TXT records at name, each with its strings joined;
// NXDOMAIN and NODATA are no records and no error.
func txt(ctx context.Context, r dnsx.Resolver, name string) ([]string, error) {
	a, err := r.Lookup(ctx, dnsx.Question{Name: name, Type: dnsx.TypeTXT})
	if dnsx.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(a.Records))
	for _, rec := range a.Records {
		out = append(out, rec.Text)
	}
	return out, nil
}

// tlsa looks up _PORT._tcp.HOST (RFC 6698 3, RFC 7672 2.2).
func (c *Checker) tlsa(ctx context.Context, host string) *TLSA {
	t := &TLSA{Name: "_" + strconv.Itoa(c.Port) + "._tcp." + host, Records: []TLSARecord{}}
	a, err := c.Resolver.Lookup(ctx, dnsx.Question{Name: t.Name, Type: dnsx.TypeTLSA})
	if dnsx.IsNotFound(err) {
		return t
	}
	if err != nil {
		t.Error = err.Error()
		return t
	}
	t.AD = a.AD
	for _, rec := range a.Records {
		t.Records = append(t.Records, TLSARecord{Usage: rec.TLSA.Usage, Selector: rec.TLSA.Selector,
			MatchingType: rec.TLSA.MatchingType, Data: hex.EncodeToString(rec.TLSA.Data), TTL: rec.TTL})
	}
	return t
}

// ptr looks up the reverse names of ip and confirms them forwards: a
// name counts when its A (or AAAA) records hold ip (FCrDNS).
func (c *Checker) ptr(ctx context.Context, ipText string) *PTR {
	p := &PTR{Names: []string{}}
	ip, err := parseIP(ipText)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	a, err := c.Resolver.Lookup(ctx, dnsx.Question{Name: dnsx.ReverseName(ip), Type: dnsx.TypePTR})
	if dnsx.IsNotFound(err) {
		return p
	}
	if err != nil {
		p.Error = err.Error()
		return p
	}
	t := dnsx.TypeA
	if ip.Is6() {
		t = dnsx.TypeAAAA
	}
	const maxNames = 10 // a PTR RRset this large is not worth chasing
	for i, rec := range a.Records {
		p.Names = append(p.Names, rec.Host)
		if i >= maxNames || p.FCrDNS {
			continue
		}
		fwd, err := c.Resolver.Lookup(ctx, dnsx.Question{Name: rec.Host, Type: t})
		if err != nil {
			var de *dnsx.Error
			if errors.As(err, &de) && de.Temporary() && p.Error == "" {
				p.Error = err.Error()
			}
			continue
		}
		for _, f := range fwd.Records {
			if f.IP == ip {
				p.FCrDNS = true
			}
		}
	}
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
