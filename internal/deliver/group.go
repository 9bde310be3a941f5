package deliver

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

// dest is one destination: the recipients that travel over one connection.
type dest struct {
	key string
	// domain is the recipients' domain under MX routing (and the MTA-STS
	// policy domain, RFC 8461 4); "" for a smarthost or route.
	domain string
	// host is the next hop given explicitly (a smarthost, a route, an
	// address literal), dialled by name with port; "" means MX routing.
	host      string
	port      int
	smarthost bool
	idx       []int // indexes into Request.To
}

// group sorts the recipients into destinations, in order of first
// appearance, and decides at once the ones that cannot be routed (a bad
// address or domain).
func (d *deliverer) group(out []Outcome) []*dest {
	var (
		dests []*dest
		byKey = map[string]*dest{}
	)
	add := func(i int, ds dest) {
		if cur, ok := byKey[ds.key]; ok {
			cur.idx = append(cur.idx, i)
			return
		}
		ds.idx = []int{i}
		byKey[ds.key] = &ds
		dests = append(dests, &ds)
	}
	for i, rcpt := range d.req.To {
		out[i].Recipient = rcpt
		if d.o.Smarthost != "" {
			def := d.o.Port
			if d.o.Auth != nil && !strings.Contains(d.o.Smarthost, ":") {
				def = 587 // RFC 6409 3.1: submission, as send does with --user
			}
			host, port, err := splitHostPort(d.o.Smarthost, def)
			if err != nil {
				out[i] = deferLocal(rcpt, "4.3.5", "smarthost "+err.Error()) // RFC 3463 X.3.5: system incorrectly configured
				continue
			}
			add(i, dest{key: "smarthost", host: host, port: port, smarthost: true})
			continue
		}
		dom, ok := domainOf(rcpt)
		if !ok {
			// RFC 3463 X.1.3: bad destination mailbox address syntax.
			out[i] = fail(rcpt, "5.1.3", fmt.Sprintf("recipient %q has no domain", rcpt))
			continue
		}
		if strings.HasPrefix(dom, "[") {
			// RFC 5321 4.1.3: an address literal names the host itself,
			// without MX lookup.
			ip, err := parseLiteral(dom)
			if err != nil {
				out[i] = fail(rcpt, "5.1.2", err.Error())
				continue
			}
			add(i, dest{key: "literal:" + ip.String(), host: ip.String(), port: d.o.Port})
			continue
		}
		name, err := dnsx.Normalize(dom)
		if err != nil {
			// RFC 3463 X.1.2: bad destination system address.
			out[i] = fail(rcpt, "5.1.2", err.Error())
			continue
		}
		if r, ok := d.route(name); ok {
			host, port, err := splitHostPort(r, d.o.Port)
			if err != nil {
				out[i] = deferLocal(rcpt, "4.3.5", fmt.Sprintf("route for %s: %v", name, err))
				continue
			}
			add(i, dest{key: "route:" + net.JoinHostPort(host, strconv.Itoa(port)), host: host, port: port})
			continue
		}
		add(i, dest{key: "mx:" + name, domain: name, port: d.o.Port})
	}
	return dests
}

// route looks domain up in Routes: the domain itself, then "*".
func (d *deliverer) route(domain string) (string, bool) {
	if r, ok := d.o.Routes[domain]; ok {
		return r, true
	}
	r, ok := d.o.Routes["*"]
	return r, ok
}

// splitHostPort reads "host", "host:port", "[host]:port" or a bare IPv6
// address; def is the port when none is given.
func splitHostPort(s string, def int) (string, int, error) {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		host = s
	} else if strings.Contains(s, ":") {
		return "", 0, fmt.Errorf("%q: want HOST[:PORT]", s)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return "", 0, fmt.Errorf("%q: empty host", s)
	}
	// Brackets only around the host, and nothing a name or an address
	// never holds: "0[0" was taken as a host name (found by
	// FuzzSplitHostPort).
	if strings.ContainsAny(host, "[]/ \t") || strings.IndexFunc(host, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", 0, fmt.Errorf("%q: bad host", s)
	}
	if port == "" {
		return host, def, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", s)
	}
	return host, n, nil
}

// parseLiteral reads an address literal: "[192.0.2.1]" or
// "[IPv6:2001:db8::1]" (RFC 5321 4.1.3).
func parseLiteral(dom string) (netip.Addr, error) {
	in, ok := strings.CutSuffix(strings.TrimPrefix(dom, "["), "]")
	if !ok {
		return netip.Addr{}, fmt.Errorf("bad address literal %s", dom)
	}
	v6, isV6 := cutPrefixFold(in, "IPv6:")
	if isV6 {
		in = v6
	}
	ip, err := netip.ParseAddr(in)
	if err != nil || ip.Is6() != isV6 || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("bad address literal %s", dom)
	}
	return ip, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
