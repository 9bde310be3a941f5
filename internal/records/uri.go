package records

import (
	"math/bits"
	"net/url"
	"strconv"
	"strings"
)

// dmarcMaxURIs is the number of report URIs receivers must at least support (RFC 7489 6.2).
const dmarcMaxURIs = 2

// parseReportURIs parses a comma-separated URI list: DMARC rua/ruf (RFC 7489 6.4:
// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]) when dmarc is true, TLS-RPT
// rua (RFC 8460 3: mailto and https URIs) otherwise. It returns the URIs that parsed.
func parseReportURIs(tagName, value string, dmarc bool) ([]ReportURI, []Problem) {
	var uris []ReportURI
	var ps []Problem
	if trimWSP(value) == "" {
		return nil, []Problem{errorf("%s= is empty; it needs at least one URI", tagName)}
	}
	for _, raw := range strings.Split(value, ",") {
		raw = trimWSP(raw)
		if raw == "" {
			ps = append(ps, errorf("%s=%s: empty URI in the list", tagName, value))
			continue
		}
		u := ReportURI{URI: raw}
		if dmarc {
			// RFC 7489 6.2: a "!" in the URI itself must be percent-encoded, so the last
			// one starts the size limit.
			if i := strings.LastIndexByte(raw, '!'); i >= 0 {
				size, ok := parseSizeLimit(raw[i+1:])
				if !ok {
					ps = append(ps, errorf("%s: bad size limit %q; write digits and an optional k, m, g or t (RFC 7489 6.4)", raw, raw[i:]))
					continue
				}
				u.URI, u.MaxSize = raw[:i], size
			}
		}
		parsed, err := url.Parse(u.URI)
		if err != nil {
			ps = append(ps, errorf("%s: not a URI", raw))
			continue
		}
		u.Scheme = strings.ToLower(parsed.Scheme)
		switch u.Scheme {
		case "":
			ps = append(ps, errorf("%s: the URI has no scheme; write mailto:%s", raw, u.URI))
			continue
		case "mailto":
			addr, err := url.PathUnescape(parsed.Opaque)
			if err != nil {
				ps = append(ps, errorf("%s: bad percent-encoding", raw))
				continue
			}
			local, domain, ok := strings.Cut(addr, "@")
			if !ok || local == "" || domain == "" || strings.ContainsAny(addr, ",; \t") {
				ps = append(ps, errorf("%s: not a mail address after mailto:", raw))
				continue
			}
			u.Address = addr
		case "https":
			if parsed.Host == "" {
				ps = append(ps, errorf("%s: an https URI needs a host", raw))
				continue
			}
			if dmarc {
				// RFC 7489 6.2: receivers must support mailto and may support others.
				ps = append(ps, warnf("%s: receivers need only support mailto: report URIs (RFC 7489 6.2)", raw))
			}
		default:
			if dmarc {
				ps = append(ps, warnf("%s: receivers need only support mailto: report URIs (RFC 7489 6.2)", raw))
			} else {
				ps = append(ps, errorf("%s: TLS-RPT report URIs are mailto: or https: (RFC 8460 3)", raw))
				continue
			}
		}
		uris = append(uris, u)
	}
	if dmarc && len(uris) > dmarcMaxURIs {
		ps = append(ps, warnf("%s lists %d URIs; receivers need only report to the first %d (RFC 7489 6.2)", tagName, len(uris), dmarcMaxURIs))
	}
	return uris, ps
}

// parseSizeLimit parses 1*DIGIT [ "k" / "m" / "g" / "t" ] into bytes; the units are powers
// of two (RFC 7489 6.2).
func parseSizeLimit(s string) (uint64, bool) {
	shift := 0
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift > 0 {
			s = s[:len(s)-1]
		}
	}
	if s == "" || !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || bits.LeadingZeros64(n) < shift {
		return 0, false
	}
	return n << shift, true
}
