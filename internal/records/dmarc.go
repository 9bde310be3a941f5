package records

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// DMARCPolicy is a requested handling of mail that fails DMARC (RFC 7489 6.3, p and sp).
type DMARCPolicy string

// The DMARC policies.
const (
	DMARCNone       DMARCPolicy = "none"
	DMARCQuarantine DMARCPolicy = "quarantine"
	DMARCReject     DMARCPolicy = "reject"
)

// Alignment is an identifier alignment mode (RFC 7489 3.1, adkim and aspf).
type Alignment string

// The alignment modes, spelled out.
const (
	AlignRelaxed Alignment = "relaxed" // "r", the default
	AlignStrict  Alignment = "strict"  // "s"
)

// ReportURI is one destination for reports: a DMARC rua/ruf entry (RFC 7489 6.2, 6.4) or a
// TLS-RPT rua entry (RFC 8460 3).
type ReportURI struct {
	// URI is the URI as written, without a DMARC size limit.
	URI string `json:"uri"`
	// Scheme is the URI scheme in lower case ("mailto", "https").
	Scheme string `json:"scheme"`
	// Address is the mail address of a mailto: URI, percent-decoded.
	Address string `json:"address,omitempty"`
	// MaxSize is the DMARC size limit ("!10m") in bytes; 0 when none was given.
	MaxSize uint64 `json:"max_size,omitempty"`
}

// DMARC is a parsed DMARC record (RFC 7489 6.3). Tags the record leaves out hold their
// defaults, so each field is the value in force.
type DMARC struct {
	// Record is the text that was parsed.
	Record string `json:"record"`
	// Policy is p; "" when p is missing or invalid.
	Policy DMARCPolicy `json:"policy"`
	// SubdomainPolicy is sp, or Policy when sp is absent.
	SubdomainPolicy DMARCPolicy `json:"subdomain_policy"`
	// Percent is pct: the share of failing mail the policy applies to (default 100).
	Percent int `json:"percent"`
	// DKIMAlignment is adkim (default relaxed).
	DKIMAlignment Alignment `json:"dkim_alignment"`
	// SPFAlignment is aspf (default relaxed).
	SPFAlignment Alignment `json:"spf_alignment"`
	// AggregateReports are the rua destinations.
	AggregateReports []ReportURI `json:"aggregate_reports,omitempty"`
	// FailureReports are the ruf destinations.
	FailureReports []ReportURI `json:"failure_reports,omitempty"`
	// FailureOptions is fo, split at colons (default ["0"]).
	FailureOptions []string `json:"failure_options"`
	// ReportFormats is rf, split at colons (default ["afrf"]).
	ReportFormats []string `json:"report_formats"`
	// ReportInterval is ri in seconds (default 86400).
	ReportInterval uint32 `json:"report_interval"`
}

// knownDMARCTags are tags that draw no "unknown tag" warning: RFC 7489's, and np from RFC
// 9091.
var knownDMARCTags = map[string]bool{
	"v": true, "p": true, "sp": true, "pct": true, "adkim": true, "aspf": true,
	"rua": true, "ruf": true, "fo": true, "rf": true, "ri": true, "np": true,
}

// IsDMARC reports whether txt starts with the tag v=DMARC1 (RFC 7489 6.6.3 step 5). The
// value is compared exactly (RFC 7489 6.3: "MUST match precisely").
func IsDMARC(txt string) bool {
	name, value, ok := firstTag(txt)
	return ok && strings.EqualFold(name, "v") && value == "DMARC1"
}

// SelectDMARC picks the DMARC record among the TXT records of one _dmarc name (RFC 7489
// 6.6.3). Each element of txts is one TXT record with its strings joined. It returns the
// record and no problem when exactly one starts with v=DMARC1; "" and a warning when none
// does; "" and an error when several do, for then receivers apply no DMARC policy.
func SelectDMARC(txts []string) (string, []Problem) {
	var found []string
	for _, t := range txts {
		if IsDMARC(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", []Problem{warnf("no DMARC record")}
	case 1:
		return found[0], nil
	}
	return "", []Problem{errorf("multiple DMARC records (%d): receivers apply no DMARC policy (RFC 7489 6.6.3)", len(found))}
}

// ParseDMARC parses one DMARC record. It returns nil and an error problem when txt does
// not start with v=DMARC1. Otherwise it returns the record with defaults filled in and the
// problems found: a missing or invalid p is an error, as is any malformed value; a
// malformed value leaves the tag's default in place. Unknown tags are ignored (RFC 7489
// 6.3) with a warning, as they are often typos.
func ParseDMARC(txt string) (*DMARC, []Problem) {
	if !IsDMARC(txt) {
		return nil, []Problem{errorf("not a DMARC record: it must start with v=DMARC1 (RFC 7489 6.3)")}
	}
	d := &DMARC{
		Record:         txt,
		Percent:        100,
		DKIMAlignment:  AlignRelaxed,
		SPFAlignment:   AlignRelaxed,
		FailureOptions: []string{"0"},
		ReportFormats:  []string{"afrf"},
		ReportInterval: 86400,
	}
	tags, ps := parseTagList(txt, true)
	hasSP, hasFO := false, false
	for _, t := range tags {
		if t.bad {
			continue
		}
		switch t.name {
		case "v":
		case "p":
			p, ok := parseDMARCPolicy(t.value)
			if !ok {
				ps = append(ps, errorf("p=%s: the policy must be none, quarantine or reject (RFC 7489 6.3)", t.value))
				continue
			}
			d.Policy = p
		case "sp":
			p, ok := parseDMARCPolicy(t.value)
			if !ok {
				ps = append(ps, errorf("sp=%s: the policy must be none, quarantine or reject (RFC 7489 6.3)", t.value))
				continue
			}
			d.SubdomainPolicy, hasSP = p, true
		case "pct":
			// RFC 7489 6.3: pct is an integer from 0 to 100.
			if t.value == "" || len(t.value) > 3 || !allDigits(t.value) {
				ps = append(ps, errorf("pct=%s: must be a whole number from 0 to 100 (RFC 7489 6.3)", t.value))
				continue
			}
			n, _ := strconv.Atoi(t.value)
			if n > 100 {
				ps = append(ps, errorf("pct=%s: must be a whole number from 0 to 100 (RFC 7489 6.3)", t.value))
				continue
			}
			d.Percent = n
		case "adkim", "aspf":
			var a Alignment
			switch strings.ToLower(t.value) {
			case "r":
				a = AlignRelaxed
			case "s":
				a = AlignStrict
			default:
				ps = append(ps, errorf("%s=%s: must be r or s (RFC 7489 6.3)", t.name, t.value))
				continue
			}
			if t.name == "adkim" {
				d.DKIMAlignment = a
			} else {
				d.SPFAlignment = a
			}
		case "rua", "ruf":
			uris, ups := parseReportURIs(t.name, t.value, true)
			ps = append(ps, ups...)
			if t.name == "rua" {
				d.AggregateReports = uris
			} else {
				d.FailureReports = uris
			}
		case "fo":
			opts, ok := splitColonList(t.value, "01ds")
			if !ok {
				ps = append(ps, errorf("fo=%s: must be a colon-separated list of 0, 1, d and s (RFC 7489 6.3)", t.value))
				continue
			}
			d.FailureOptions, hasFO = opts, true
		case "rf":
			formats, ok := splitColonList(t.value, "")
			if !ok {
				ps = append(ps, errorf("rf=%s: must be a colon-separated list of report formats (RFC 7489 6.3)", t.value))
				continue
			}
			for _, f := range formats {
				if !strings.EqualFold(f, "afrf") {
					ps = append(ps, errorf("rf=%s: unknown report format %q; the only registered one is afrf (RFC 7489 6.3)", t.value, f))
				}
			}
			d.ReportFormats = formats
		case "ri":
			n, err := strconv.ParseUint(t.value, 10, 32)
			if err != nil || !allDigits(t.value) {
				ps = append(ps, errorf("ri=%s: must be a number of seconds (RFC 7489 6.3)", t.value))
				continue
			}
			d.ReportInterval = uint32(n)
		default:
			if !knownDMARCTags[t.name] {
				ps = append(ps, warnf("unknown tag %s is ignored (RFC 7489 6.3)", t.name))
			}
		}
	}
	if d.Policy == "" && !hasTag(tags, "p") {
		msg := "p= is missing; it is required (RFC 7489 6.3)"
		if len(d.AggregateReports) > 0 {
			// RFC 7489 6.6.3 step 6.
			msg += "; receivers act as if p=none because rua is valid (RFC 7489 6.6.3)"
		}
		ps = append(ps, errorf("%s", msg))
	}
	if !hasSP {
		d.SubdomainPolicy = d.Policy
	}
	if hasFO && len(d.FailureReports) == 0 {
		ps = append(ps, warnf("fo= has no effect without ruf= (RFC 7489 6.3)"))
	}
	if d.Percent < 100 && d.Policy == DMARCNone && d.SubdomainPolicy == DMARCNone {
		ps = append(ps, warnf("pct=%d has no effect with p=none", d.Percent))
	}
	return d, ps
}

func hasTag(tags []tag, name string) bool {
	for _, t := range tags {
		if t.name == name {
			return true
		}
	}
	return false
}

func parseDMARCPolicy(v string) (DMARCPolicy, bool) {
	switch p := DMARCPolicy(strings.ToLower(v)); p {
	case DMARCNone, DMARCQuarantine, DMARCReject:
		return p, true
	}
	return "", false
}

// splitColonList splits a colon-separated list, trimming white space around items. With
// a non-empty allowed, each item must be one character of it.
func splitColonList(v, allowed string) ([]string, bool) {
	var out []string
	for _, item := range strings.Split(v, ":") {
		item = trimWSP(item)
		if item == "" {
			return nil, false
		}
		if allowed != "" && (len(item) != 1 || strings.IndexByte(allowed, item[0]) < 0) {
			return nil, false
		}
		out = append(out, item)
	}
	return out, true
}

// OrganizationalDomain returns the organizational domain of domain (RFC 7489 3.2): the
// public suffix plus one label, per the public suffix list built into
// golang.org/x/net/publicsuffix. When _dmarc.<domain> has no DMARC record, receivers look
// at _dmarc.<organizational domain> (RFC 7489 6.6.3). The result is in lower case without a
// trailing dot; it equals domain when domain is itself organizational. It returns an error
// when domain is empty, malformed or a public suffix itself.
func OrganizationalDomain(domain string) (string, error) {
	d := normalizeName(domain)
	if d == "" {
		return "", fmt.Errorf("organizational domain: empty domain")
	}
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return "", fmt.Errorf("organizational domain of %s: %w", d, err)
	}
	return org, nil
}
