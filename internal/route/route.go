// Package route finds the next hops for a mail domain as RFC 5321
// section 5.1 says: the MX records sorted by preference, equal preferences
// in random order, the domain itself when it has no MX (the implicit MX),
// and each host's addresses. A null MX (RFC 7505) ends the search with a
// permanent error. `smtpkit mx` reports routes; the relay delivers along
// them.
package route

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// MaxHops bounds how many MX hosts are looked up; the rest are reported
// as ignored. A domain with more is misconfigured or hostile.
const MaxHops = 32

// Family selects which addresses to look up.
type Family string

// Address families.
const (
	FamilyAny Family = ""    // A and AAAA
	Family4   Family = "ip4" // A only (-4)
	Family6   Family = "ip6" // AAAA only (-6)
)

// Options tune Lookup.
type Options struct {
	Family Family
	// Intn picks a random number in [0,n) to shuffle equal preferences;
	// nil uses math/rand/v2. Tests make it deterministic.
	Intn func(n int) int
}

// Route is where mail for a domain goes.
type Route struct {
	// Domain is the domain asked, normalised (A-labels, lower case).
	Domain string
	// Canonical is the name the MX records (or, for an implicit MX, the
	// addresses) were found at, after CNAMEs; CNAMEs is that chain.
	Canonical string
	CNAMEs    []string
	// Implicit is set when the domain has no MX records and its own
	// addresses are the one hop (RFC 5321 5.1).
	Implicit bool
	// Hops in the order to try them.
	Hops []Hop
	// AD is the DNSSEC AD bit of the MX answer (of the address answers,
	// for an implicit MX).
	AD bool
	// Notes are oddities worth reporting that do not stop delivery: a
	// null MX next to others, MX records beyond MaxHops.
	Notes []string
}

// Hop is one MX host (or the domain itself, for an implicit MX).
type Hop struct {
	Host string
	Pref uint16
	TTL  uint32 // the MX record's; 0 for an implicit MX
	// CNAMEs is set when Host is an alias, which RFC 5321 5.1 forbids
	// (RFC 2181 10.3) but which is followed anyway.
	CNAMEs []string
	Addrs  []Addr
	// AD is set when every address answer of the host carried AD.
	AD bool
	// Err is why an address lookup failed (NXDOMAIN, SERVFAIL,
	// timeout); nil when both answered, even with no records.
	Err error
}

// Addr is one address of a hop with its record's TTL.
type Addr struct {
	IP  netip.Addr
	TTL uint32
}

// Lookup finds the route for domain (normalised with dnsx.Normalize
// first). It returns a *Error for an invalid name, NXDOMAIN, a null MX, a
// temporary DNS failure, and for a domain whose hops have no address at
// all; in that last case the Route is returned too, so that the hosts can
// be reported.
func Lookup(ctx context.Context, r dnsx.Resolver, domain string, o Options) (*Route, error) {
	name, err := dnsx.Normalize(domain)
	if err != nil {
		return nil, &Error{Domain: domain, Kind: KindInvalidName, Err: err}
	}
	rt := &Route{Domain: name, Canonical: name}
	ans, err := r.Lookup(ctx, dnsx.Question{Name: name, Type: dnsx.TypeMX})
	if err != nil {
		return nil, dnsError(name, err)
	}
	rt.Canonical, rt.CNAMEs, rt.AD = ans.Canonical, ans.CNAMEs, ans.AD
	if len(ans.Records) == 0 {
		return implicit(ctx, r, rt, o)
	}
	// RFC 7505 3: a single MX with the root as exchange says the domain
	// accepts no mail. A "." among other MX records is a mistake
	// (RFC 7505 4.3 forbids it); it is no host to deliver to, so it is
	// dropped with a note.
	mxs := ans.Records
	if len(mxs) == 1 && mxs[0].Host == "." {
		return nil, &Error{Domain: name, Kind: KindNullMX}
	}
	hops := make([]Hop, 0, len(mxs))
	for _, mx := range mxs {
		if mx.Host == "." {
			rt.Notes = append(rt.Notes, "null MX (\".\") next to other MX records: ignored (RFC 7505 4.3)")
			continue
		}
		hops = append(hops, Hop{Host: mx.Host, Pref: mx.Pref, TTL: mx.TTL})
	}
	sortHops(hops, o.Intn)
	if len(hops) > MaxHops {
		rt.Notes = append(rt.Notes, fmt.Sprintf("%d MX records: only the first %d looked up", len(hops), MaxHops))
		hops = hops[:MaxHops]
	}
	rt.Hops = hops
	var wg sync.WaitGroup
	for i := range rt.Hops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lookupAddrs(ctx, r, &rt.Hops[i], o.Family)
		}()
	}
	wg.Wait()
	return rt, usable(rt)
}

// sortHops orders hops by preference (RFC 5321 5.1: lowest first) and
// shuffles each run of equal preference ("randomize them to spread the
// load").
func sortHops(hops []Hop, intn func(int) int) {
	if intn == nil {
		intn = rand.IntN
	}
	slices.SortStableFunc(hops, func(a, b Hop) int { return cmp.Compare(a.Pref, b.Pref) })
	for i := 0; i < len(hops); {
		j := i + 1
		for j < len(hops) && hops[j].Pref == hops[i].Pref {
			j++
		}
		run := hops[i:j]
		for k := len(run) - 1; k > 0; k-- {
			l := intn(k + 1)
			run[k], run[l] = run[l], run[k]
		}
		i = j
	}
}

// implicit handles a domain without MX records: RFC 5321 5.1, "the
// domain name itself" is the one host, with preference 0.
func implicit(ctx context.Context, r dnsx.Resolver, rt *Route, o Options) (*Route, error) {
	rt.Implicit = true
	h := Hop{Host: rt.Canonical}
	lookupAddrs(ctx, r, &h, o.Family)
	rt.AD = rt.AD && h.AD
	rt.Hops = []Hop{h}
	if len(h.Addrs) == 0 && !dnsx.IsTemporary(h.Err) {
		return rt, &Error{Domain: rt.Domain, Kind: KindNoRoute, Detail: "no MX and no address records"}
	}
	return rt, usable(rt)
}

// lookupAddrs fills h's addresses: A and AAAA asked at once.
func lookupAddrs(ctx context.Context, r dnsx.Resolver, h *Hop, fam Family) {
	var types []dnsx.Type
	switch fam {
	case Family4:
		types = []dnsx.Type{dnsx.TypeA}
	case Family6:
		types = []dnsx.Type{dnsx.TypeAAAA}
	default:
		types = []dnsx.Type{dnsx.TypeA, dnsx.TypeAAAA}
	}
	answers := make([]*dnsx.Answer, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		if i == len(types)-1 {
			answers[i], errs[i] = r.Lookup(ctx, dnsx.Question{Name: h.Host, Type: t})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = r.Lookup(ctx, dnsx.Question{Name: h.Host, Type: t})
		}()
	}
	wg.Wait()
	h.AD = true
	for i, a := range answers {
		if errs[i] != nil {
			// A temporary failure says more than NXDOMAIN for the other
			// family; keep the first otherwise.
			if h.Err == nil || dnsx.IsTemporary(errs[i]) && !dnsx.IsTemporary(h.Err) {
				h.Err = errs[i]
			}
			h.AD = false
			continue
		}
		h.AD = h.AD && a.AD
		if len(a.CNAMEs) > 0 && h.CNAMEs == nil {
			h.CNAMEs = a.CNAMEs
		}
		for _, rec := range a.Records {
			h.Addrs = append(h.Addrs, Addr{IP: rec.IP, TTL: rec.TTL})
		}
	}
}

// usable fails when no hop has an address (RFC 5321 5.1: "MUST be
// reported as an error"): temporary when some lookup failed temporarily,
// permanent otherwise.
func usable(rt *Route) error {
	var temp error
	for _, h := range rt.Hops {
		if len(h.Addrs) > 0 {
			return nil
		}
		if h.Err != nil && dnsx.IsTemporary(h.Err) && temp == nil {
			temp = h.Err
		}
	}
	if temp != nil {
		return &Error{Domain: rt.Domain, Kind: KindTemporary, Detail: "no MX host address could be looked up", Err: temp}
	}
	return &Error{Domain: rt.Domain, Kind: KindNoRoute, Detail: "no MX host has an address"}
}
